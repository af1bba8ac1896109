import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// The vehicle's side of a configuration update, on disk: verified bundles staged into directories of their own, the
/// active one named by a `current` link switched atomically, the one before kept as `previous`, and the highest
/// version taken (docs/configuration.md, "On the vehicle"). Not wired into the agent yet.
///
/// ```
/// ROOT/high-water-mark      the highest version taken, one decimal line (written atomically, fsynced)
/// ROOT/versions/7/NAME/…    the files of version 7 in a folder named after the profile (a profile must sit in a
///                           folder of its own name), as the bundle listed them
/// ROOT/current -> versions/7
/// ROOT/previous -> versions/6
/// ROOT/staging-8/…          a version being written; removed on the next open if a crash left it
/// ```
///
/// Every step leaves the directory in a state a restart can read: a version is renamed into `versions/` only once
/// every file and directory of it is fsynced and it validated; `current` changes by `rename(2)` of a new link over
/// the old one, then the directory is fsynced (`ln -sfn` unlinks first, and a crash between leaves no `current`). So
/// after a crash at any point `current` names exactly the old version or exactly the new one, never a mix.
///
/// Blocking file I/O: call from a thread of its own. Not `Sendable`: one owner at a time.
public final class ConfigurationStore {
    public let root: String
    /// Called after each durable step (`high-water-mark`, `file:<path>`, `staged`, `previous-link`, `current-link`,
    /// `rollback-link`): the tests' crash points. nil in production.
    public var afterStep: ((String) -> Void)?

    /// Opens (creating) the store at `root`, removing staging directories a crash left behind.
    public init(root: String) throws(ConfigurationStoreError) {
        self.root = root
        try Self.makeDirectory(root)
        try Self.makeDirectory(root + "/versions")
        for name in try Self.names(in: root) where name.hasPrefix("staging-") {
            try Self.removeTree(root + "/" + name)
        }
    }

    /// The highest version taken (staged, whether or not it was applied), 0 for none: a bundle must be above it.
    public var highWaterMark: UInt64 {
        guard let bytes = try? FileInput.readAll(path: root + "/high-water-mark"),
            let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first
        else { return 0 }
        return UInt64(line) ?? 0
    }

    /// The active version (the `current` link's target), or nil before the first switch.
    public var current: UInt64? { version(linkedBy: "current") }

    /// The version active before the last switch, or nil.
    public var previous: UInt64? { version(linkedBy: "previous") }

    /// The directory of `version` (whether or not it is active).
    public func directory(of version: UInt64) -> String { root + "/versions/\(version)" }

    /// The profile directory of the active version, through the `current` link (what a profile loader reads), or nil
    /// before the first switch.
    public var currentProfileDirectory: String? {
        guard current != nil, let name = (try? Self.names(in: root + "/current"))?.first else { return nil }
        return root + "/current/" + name
    }

    /// Writes the bundle's files into `staging-<version>/<profile>`, fsyncs them, asks `validate` about that directory
    /// (nil: valid,
    /// else why not — the agent passes what `axle profile validate` checks), and on success renames it to
    /// `versions/<version>`. The high-water mark is raised to the version first, durably: a version that fails here
    /// is never taken again, and one that verified is never replayed. Returns the staged profile directory.
    @discardableResult
    public func stage(
        _ bundle: VerifiedBundle, validate: (_ directory: String) -> String?
    ) throws(ConfigurationStoreError) -> String {
        let version = bundle.manifest.version
        guard version > highWaterMark else {
            throw ConfigurationStoreError(
                .versionNotAbove, "version \(version) is not above \(highWaterMark), the highest this vehicle has taken")
        }
        try writeHighWaterMark(version)
        afterStep?("high-water-mark")
        let staging = root + "/staging-\(version)"
        try Self.removeTree(staging)
        try Self.makeDirectory(staging)
        // The profile's name was checked to be one safe path component when the manifest was read.
        let profileDirectory = staging + "/" + bundle.manifest.profile
        try Self.makeDirectory(profileDirectory)
        var directories: Set<String> = [staging, profileDirectory]
        for file in bundle.files {
            // Paths were checked against `BundlePath` when the manifest was read: relative, no `..`.
            let components = file.path.split(separator: "/")
            var directory = profileDirectory
            for component in components.dropLast() {
                directory += "/" + component
                if directories.insert(directory).inserted { try Self.makeDirectory(directory) }
            }
            do {
                try DurableFile.writeNew(Array(file.contents), to: profileDirectory + "/" + file.path)
            } catch {
                throw ConfigurationStoreError(.storage, "staging \(file.path): \(error)")
            }
            afterStep?("file:\(file.path)")
        }
        do {
            // Deepest first, so that each directory's new entries are on disk before its parent's.
            for directory in directories.sorted(by: { $0.count > $1.count }) { try DurableFile.syncDirectory(directory) }
        } catch {
            throw ConfigurationStoreError(.storage, "\(error)")
        }
        if let problem = validate(profileDirectory) {
            try Self.removeTree(staging)
            throw ConfigurationStoreError(.invalid, "version \(version) does not validate: \(problem)")
        }
        let target = directory(of: version)
        try Self.removeTree(target)
        guard rename(staging, target) == 0 else {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "rename", subject: target, errno: errno))")
        }
        do {
            try DurableFile.syncDirectory(root + "/versions")
            try DurableFile.syncDirectory(root)
        } catch {
            throw ConfigurationStoreError(.storage, "\(error)")
        }
        afterStep?("staged")
        return target + "/" + bundle.manifest.profile
    }

    /// Makes a staged `version` the active one: `previous` takes what `current` named, then `current` is switched to
    /// `versions/<version>` by renaming a new link over it, and the directory is fsynced. Versions other than these
    /// two are removed afterwards.
    public func activate(_ version: UInt64) throws(ConfigurationStoreError) {
        guard Self.isDirectory(directory(of: version)) else {
            throw ConfigurationStoreError(.notStaged, "version \(version) is not staged")
        }
        if let active = current, active != version {
            try switchLink("previous", to: active)
            afterStep?("previous-link")
        }
        try switchLink("current", to: version)
        afterStep?("current-link")
        try removeUnused()
    }

    /// Switches back to `previous` (a failed trial): `current` names it again — or, when the failed version was the
    /// first taken, `current` is removed and the profile installed on disk runs again; the failed version's
    /// directory is removed, and the high-water mark stays, so that it is never taken again.
    public func rollBack() throws(ConfigurationStoreError) {
        guard let failed = current else {
            throw ConfigurationStoreError(.notStaged, "no version is active: there is nothing to roll back")
        }
        if let earlier = previous {
            try switchLink("current", to: earlier)
            unlink(root + "/previous")
        } else if unlink(root + "/current") != 0 {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "unlink", subject: root + "/current", errno: errno))")
        }
        afterStep?("rollback-link")
        do {
            try DurableFile.syncDirectory(root)
        } catch {
            throw ConfigurationStoreError(.storage, "\(error)")
        }
        try Self.removeTree(directory(of: failed))
    }

    // MARK: Links and files

    private func version(linkedBy name: String) -> UInt64? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(root + "/" + name, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard target.hasPrefix("versions/") else { return nil }
        return UInt64(target.dropFirst("versions/".count))
    }

    /// Points `name` at `versions/<version>`: a new link beside it, renamed over it, the directory fsynced.
    private func switchLink(_ name: String, to version: UInt64) throws(ConfigurationStoreError) {
        let link = root + "/" + name
        let temporary = link + ".new"
        unlink(temporary)
        guard symlink("versions/\(version)", temporary) == 0 else {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "symlink", subject: temporary, errno: errno))")
        }
        guard rename(temporary, link) == 0 else {
            let code = errno
            unlink(temporary)
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "rename", subject: link, errno: code))")
        }
        do {
            try DurableFile.syncDirectory(root)
        } catch {
            throw ConfigurationStoreError(.storage, "\(error)")
        }
    }

    private func writeHighWaterMark(_ version: UInt64) throws(ConfigurationStoreError) {
        do {
            try DurableFile.write(Array("\(version)\n".utf8), to: root + "/high-water-mark")
        } catch {
            throw ConfigurationStoreError(.storage, "recording the high-water mark: \(error)")
        }
    }

    /// Removes every version directory other than `current`'s and `previous`'s.
    private func removeUnused() throws(ConfigurationStoreError) {
        let kept = Set([current, previous].compactMap { $0.map(String.init) })
        for name in try Self.names(in: root + "/versions") where !kept.contains(name) {
            try Self.removeTree(root + "/versions/" + name)
        }
    }

    /// Creates `path` (one level); one that exists is fine.
    public static func makeDirectory(_ path: String) throws(ConfigurationStoreError) {
        if mkdir(path, 0o755) != 0, errno != EEXIST {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "mkdir", subject: path, errno: errno))")
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    public static func names(in directory: String) throws(ConfigurationStoreError) -> [String] {
        guard let handle = opendir(directory) else {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "opendir", subject: directory, errno: errno))")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `path` and everything below it (links are removed, never followed); nothing there is fine.
    public static func removeTree(_ path: String) throws(ConfigurationStoreError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in try names(in: path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 else {
                throw ConfigurationStoreError(.storage, "\(SystemError(call: "rmdir", subject: path, errno: errno))")
            }
        } else if unlink(path) != 0 {
            throw ConfigurationStoreError(.storage, "\(SystemError(call: "unlink", subject: path, errno: errno))")
        }
    }
}

/// One owner at a time; sharing a store between threads is a compile-time error.
@available(*, unavailable)
extension ConfigurationStore: Sendable {}

/// Why the store could not stage, switch or roll back.
public struct ConfigurationStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Sendable {
        /// The version is not above the high-water mark.
        case versionNotAbove = "version_not_above_high_water_mark"
        /// The staged profile failed validation (the reason the validator gave).
        case invalid
        /// Asked to activate a version that is not staged, or to roll back with no previous version.
        case notStaged = "not_staged"
        /// A file operation failed (the text names the call, the path and errno).
        case storage
    }

    public var code: Code
    public var text: String

    public init(_ code: Code, _ text: String) {
        self.code = code
        self.text = text
    }

    public var description: String { "\(code.rawValue): \(text)" }
}
