import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// Files written so that a crash leaves either the old contents or the new, never a mix: a temporary file beside
/// the target, written, fsynced, renamed over it, and the directory fsynced (rename(2) is atomic; without the
/// directory's fsync the rename itself may not survive a power cut).
public enum DurableFile {
    /// Writes `bytes` to `path` atomically and durably (mode 0644, or `mode`).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(call: "open", subject: temporary, errno: errno) }
        do {
            try writeAll(bytes, to: fd, path: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw SystemError(call: "fsync", subject: temporary, errno: code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw SystemError(call: "rename", subject: path, errno: code)
        }
        try syncDirectory(containing: path)
    }

    /// Creates `path` (it must not exist) with `bytes` and fsyncs it; the caller fsyncs the directory once for all the
    /// files it writes there (a staging directory is renamed into place only after that).
    public static func writeNew(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(call: "open", subject: path, errno: errno) }
        defer { close(fd) }
        try writeAll(bytes, to: fd, path: path)
        guard fsync(fd) == 0 else { throw SystemError(call: "fsync", subject: path, errno: errno) }
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(SystemError) {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SystemError(call: "write", subject: path, errno: code)
            }
            written += count
        }
    }

    /// fsyncs the directory that holds `path`, so that a rename or a new name in it is on disk.
    public static func syncDirectory(containing path: String) throws(SystemError) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try syncDirectory(directory.isEmpty ? "/" : directory)
    }

    /// fsyncs `directory` itself.
    public static func syncDirectory(_ directory: String) throws(SystemError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", subject: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError(call: "fsync", subject: directory, errno: errno) }
    }
}
