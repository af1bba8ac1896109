import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// The small set of AF_UNIX stream-socket calls the server and the client share.
enum UnixSocket {
    /// Room for the path in `sockaddr_un.sun_path`, its terminating NUL included (108 on Linux).
    static let pathCapacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    /// The address for `path`, or nil when the path does not fit in `sun_path`.
    static func address(_ path: String) -> sockaddr_un? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < pathCapacity, !bytes.contains(0) else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A new AF_UNIX stream socket (`socket(2)`), close-on-exec, optionally non-blocking.
    static func make(nonBlocking: Bool, subject: String) throws(SystemError) -> Int32 {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        return try retryingOnInterrupt("socket", subject: subject) { socket(AF_UNIX, type, 0) }
    }

    /// `connect(2)` to `address`; returns errno, or 0 on success.
    static func connect(_ fd: Int32, to address: sockaddr_un) -> Int32 {
        var address = address
        while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { return 0 }
            if errno == EINTR { continue }
            return errno
        }
    }

    /// `struct ucred` from <sys/socket.h>: Glibc only declares it with _GNU_SOURCE, which the Swift Glibc module does
    /// not set, so the layout (pid_t, uid_t, gid_t; fixed by the Linux ABI) is spelled out here.
    private struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// The user id of the process at the other end of a connected socket (`SO_PEERCRED`), as the kernel recorded it
    /// at connect time: it cannot be forged by the peer.
    static func peerUID(_ fd: Int32) -> UInt32? {
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            Int(length) == MemoryLayout<PeerCredentials>.size
        else { return nil }
        return credentials.uid
    }

    /// Makes `fd` non-blocking (`fcntl(F_SETFL, O_NONBLOCK)`).
    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Sets close-on-exec (`fcntl(F_SETFD, FD_CLOEXEC)`): pipe2 and accept4, which set it atomically, are hidden
    /// behind _GNU_SOURCE in the Swift Glibc module, and the agent does not fork while serving, so setting it right
    /// after creation is as good.
    static func setCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }

    /// `pipe(2)`, both ends close-on-exec, the read end non-blocking when asked; false on failure (errno set).
    static func makePipe(_ ends: inout [Int32], nonBlockingRead: Bool) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        setCloseOnExec(ends[0])
        setCloseOnExec(ends[1])
        if nonBlockingRead { setNonBlocking(ends[0]) }
        return true
    }

    /// Waits up to `deadline` (monotonic seconds) for `events` on `fd`; false when the time ran out.
    static func wait(_ fd: Int32, for events: Int16, until deadline: Double) -> Bool {
        while true {
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { return true }  // let the next read or write report the error
        }
    }

    /// Writes all of `bytes` to a non-blocking socket before `deadline`; without SIGPIPE when the peer has gone.
    /// Returns 0 on success, or errno (ETIMEDOUT when the time ran out).
    static func send(_ fd: Int32, _ bytes: [UInt8], until deadline: Double) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written >= 0 {
                offset += written
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                guard wait(fd, for: Int16(POLLOUT), until: deadline) else { return ETIMEDOUT }
            case let code: return code
            }
        }
        return 0
    }
}
