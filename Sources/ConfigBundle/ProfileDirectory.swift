import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// A profile directory's files, as a bundle carries them: every regular file below it, by relative path. A
/// symbolic link, a device or a name a bundle cannot carry is an error naming it, so that a signed bundle is exactly
/// what the directory holds.
public enum ProfileDirectory {
    /// Every regular file below `root`, by relative `/`-separated path.
    public static func files(at root: String) throws(ProfileDirectoryError) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        try collect(root: root, relative: "", into: &files)
        guard !files.isEmpty else { throw ProfileDirectoryError("\(root): holds no files; give a profile directory") }
        return files
    }

    private static func collect(root: String, relative: String, into files: inout [String: [UInt8]]) throws(ProfileDirectoryError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let handle = opendir(directory) else {
            throw ProfileDirectoryError("\(SystemError(call: "opendir", subject: directory, errno: errno)): give a readable profile directory")
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(handle)
        for name in names.sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(root + "/" + path, &info) == 0 else {
                throw ProfileDirectoryError("\(SystemError(call: "lstat", subject: root + "/" + path, errno: errno))")
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try collect(root: root, relative: path, into: &files)
            case S_IFREG:
                if let problem = BundlePath.problem(path) {
                    throw ProfileDirectoryError("\(root)/\(path): a bundle cannot carry this name (\(problem)); rename it")
                }
                do {
                    files[path] = try FileInput.readAll(path: root + "/" + path)
                } catch {
                    throw ProfileDirectoryError("\(error)")
                }
            default:
                throw ProfileDirectoryError(
                    "\(root)/\(path): not a regular file or directory (a link or a device); a bundle carries files only")
            }
        }
    }

    /// Whether anything (even a dangling link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func remove(_ path: String) { unlink(path) }
}

/// A profile directory that cannot be read into a bundle; the text names the file and what to do.
public struct ProfileDirectoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
