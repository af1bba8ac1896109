#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading key files the way ssh does: a key whose file others could read (a private key) or replace (any key) is
/// refused with the command that fixes it. The mode and owner are taken with fstat on the descriptor the key is then
/// read from, so the file checked is the file read. Only the file is checked, not its directories.
public enum KeyFileAccess {
    public enum Kind: Sendable {
        /// A public key the program trusts (a command trust key): anyone may read it, only its owner may change it.
        case trusted
        /// A private key (a signing key, a TLS client key): only its owner may read it; group-readable only when
        /// root owns it (the `root:axled 0640` layout of a system service).
        case secret
    }

    /// A key file that cannot be opened or read, or whose permissions are too open.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Why a file with this mode and owner must not be used as a key of `kind`, with the fix; nil when it may be.
    /// `processUser` is the effective uid of the program that reads the key.
    public static func problem(kind: Kind, path: String, mode: mode_t, owner: uid_t, processUser: uid_t) -> String? {
        let permissions = mode & 0o7777
        let shown = octal(permissions)
        // Someone other than root or the reader owns it: that someone can replace the key, whatever the mode.
        if owner != 0 && owner != processUser {
            return "'\(path)' is owned by uid \(owner), not by this user (uid \(processUser)) or root: its owner "
                + "could replace the key. Run: chown \(processUser) \(path)"
        }
        switch kind {
        case .trusted:
            if permissions & 0o022 != 0 {
                return "Permissions \(shown) for '\(path)' are too open: a trusted key must not be writable by "
                    + "others. Run: chmod \(String(permissions & ~0o022, radix: 8)) \(path)"
            }
        case .secret:
            // Root owning it and the group reading it is a service's layout (root:axled 0640): the administrator
            // owns the key and only the service's group reads it. A key the user owns must be theirs alone.
            let allowed: mode_t = owner == 0 && owner != processUser ? 0o740 : 0o700
            if permissions & ~allowed & 0o077 != 0 {
                let what = permissions & 0o044 & ~allowed != 0 ? "readable" : "writable or executable"
                return "Permissions \(shown) for '\(path)' are too open: a private key must not be \(what) by "
                    + "others. Run: chmod \(String(permissions & allowed, radix: 8)) \(path)"
            }
        }
        return nil
    }

    /// The whole file (at most `limit` bytes: more is an error), after checking its permissions on the open file.
    public static func read(path: String, kind: Kind, limit: Int = 1 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            throw Failure("\(SystemError(call: "open", subject: path, errno: errno)): cannot read the key file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw Failure("\(SystemError(call: "fstat", subject: path, errno: errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Failure("\(path): not a regular file; give the key file itself")
        }
        if let problem = problem(kind: kind, path: path, mode: info.st_mode, owner: info.st_uid, processUser: geteuid()) {
            throw Failure(problem)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure("\(SystemError(call: "read", subject: path, errno: errno)): cannot read the key file")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { throw Failure("\(path): larger than \(limit) bytes; this is not a key file") }
        }
        return bytes
    }

    private static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
