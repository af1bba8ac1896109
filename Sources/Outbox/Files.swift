import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// The few file operations around the database: the sequence sidecar, the emergency reserve, moving damaged files.
enum Files {
    /// The file's size, or nil when it does not exist (or cannot be inspected).
    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// A number written as decimal text, or nil when the file is missing or holds something else.
    static func readNumber(_ path: String) -> UInt64? {
        guard let bytes = try? FileInput.readAll(path: path), bytes.count < 64 else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        return UInt64(text)
    }

    /// Replaces `path` with `text` so that a crash or power cut leaves the old or the new content, never a mix:
    /// written to a temporary file, fsynced, renamed over, and the directory fsynced.
    static func writeAtomically(_ path: String, _ text: String) throws(SystemError) {
        let temporary = path + ".tmp"
        let fd = try retryingOnInterrupt("open", subject: temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        do throws(SystemError) {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = try retryingOnInterrupt("write", subject: temporary) {
                    bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                }
                offset += written
            }
            try retryingOnInterrupt("fsync", subject: temporary) { fsync(fd) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        try retryingOnInterrupt("rename", subject: path) { rename(temporary, path) }
        syncDirectory(of: path)
    }

    /// Makes a rename durable: fsync of the containing directory (best effort).
    static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Writes a file of `bytes` incompressible bytes, so that the space is really taken (fallocate may be
    /// unsupported, and flash filesystems such as UBIFS compress zeros to nothing) and can be handed back later by
    /// deleting the file. On failure nothing is left behind.
    static func writeReserve(_ path: String, bytes: Int64) -> Bool {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var remaining = bytes
        var ok = true
        while ok, remaining > 0 {
            let count = Int(min(remaining, Int64(chunk.count)))
            for index in 0..<count {
                // xorshift64: cheap bytes that no compressor can shrink.
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                chunk[index] = UInt8(truncatingIfNeeded: state)
            }
            let written = (try? retryingOnInterrupt("write", subject: path) {
                chunk.withUnsafeBytes { write(fd, $0.baseAddress, count) }
            }) ?? -1
            ok = written == count
            remaining -= Int64(count)
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        if !ok { unlink(path) }
        return ok
    }

    static func remove(_ path: String) -> Bool { unlink(path) == 0 }

    /// Moves the database and its -wal and -shm files to `<path>.damaged-<unix time>` (with a counter if taken);
    /// returns the new database path.
    static func moveAside(_ path: String, unixSeconds: Int64) throws(SystemError) -> String {
        var target = "\(path).damaged-\(unixSeconds)"
        var counter = 2
        while exists(target) || exists(target + "-wal") {
            target = "\(path).damaged-\(unixSeconds)-\(counter)"
            counter += 1
        }
        try retryingOnInterrupt("rename", subject: path) { rename(path, target) }
        for suffix in ["-wal", "-shm"] where exists(path + suffix) {
            try retryingOnInterrupt("rename", subject: path + suffix) { rename(path + suffix, target + suffix) }
        }
        syncDirectory(of: path)
        return target
    }
}
