import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for one test, so that "disk full" is the kernel's real ENOSPC.
public final class TinyFilesystem {
    public let path: String

    /// Whether this process may mount filesystems (root with CAP_SYS_ADMIN, outside a restricted container).
    public static let canMount: Bool = {
        guard geteuid() == 0, let probe = try? TinyFilesystem(bytes: 64 << 10) else { return false }
        probe.unmount()
        return true
    }()

    /// Mounts `bytes` of tmpfs on `path` (created, and removed again by `unmount`), or on a new temporary directory.
    public init(bytes: Int, at path: String? = nil) throws {
        if let path {
            guard mkdir(path, 0o755) == 0 else { throw SystemError(call: "mkdir", subject: path, errno: errno) }
            self.path = path
        } else {
            self.path = try AxleProcess.makeTemporaryDirectory()
        }
        guard mount("tmpfs", self.path, "tmpfs", 0, "size=\(bytes)") == 0 else {
            let code = errno
            rmdir(self.path)
            throw SystemError(call: "mount tmpfs", subject: self.path, errno: code)
        }
    }

    public func unmount() {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Writes a file until the filesystem refuses more (ENOSPC).
    public func fill(_ name: String) {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        for chunk in [65536, 4096, 512, 1] {
            let bytes = [UInt8](repeating: 0xA5, count: chunk)
            while bytes.withUnsafeBytes({ write(fd, $0.baseAddress, chunk) }) == chunk {}
        }
    }

    /// Bytes an unprivileged writer could still use.
    public func available() -> Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int64(info.f_bavail) * Int64(info.f_bsize)
    }
}
