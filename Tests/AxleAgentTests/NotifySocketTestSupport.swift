import AxleBase
import AxleTestSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Stands in for systemd's notification socket: a datagram socket that collects what a `Type=notify` service sends
/// (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`), so tests check readiness and keep-alives without a running
/// systemd.
///
/// For `axled` itself, start it through `command(_:_:watchdogSeconds:)`, then `waitFor("READY=1", timeout: 20)`.
final class NotifySocketListener: Sendable {
    /// Where the socket lives: in the file system (a fresh directory under /tmp), or in the abstract namespace.
    enum Kind: Sendable, CaseIterable, CustomStringConvertible {
        case path, abstract
        var description: String { self == .path ? "path" : "abstract" }
    }

    /// The value for `$NOTIFY_SOCKET`: an absolute path, or `@name`.
    let name: String
    private let descriptor: Int32
    /// The directory to remove at the end, for `.path` sockets made here.
    private let directory: String?
    private let received = Mutex<[String]>([])

    /// A listener on a new, unique socket.
    convenience init(_ kind: Kind = .path) throws {
        switch kind {
        case .path:
            let directory = try makeTestDirectory(prefix: "axle-notify")
            try self.init(name: directory + "/notify", ownedDirectory: directory)
        case .abstract:
            try self.init(name: "@axle-notify-\(getpid())-\(UInt32.random(in: .min ... .max))", ownedDirectory: nil)
        }
    }

    /// A listener on `name` (a path, or `@name`): e.g. to bring the socket up only after a notifier was created.
    convenience init(name: String) throws {
        try self.init(name: name, ownedDirectory: nil)
    }

    private init(name: String, ownedDirectory: String?) throws {
        self.name = name
        directory = ownedDirectory
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", subject: name, errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // The same encoding systemd uses: a leading "@" stands for the NUL that starts an abstract name.
        var path = Array(name.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 } else { path.append(0) }
        guard path.count <= MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw TestSupportError("notify socket name too long for sockaddr_un: \(name)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw SystemError(call: "bind", subject: name, errno: code)
        }
    }

    deinit {
        close(descriptor)
        if let directory { removeTree(directory) } else if !name.hasPrefix("@") { unlink(name) }
    }

    /// `NOTIFY_SOCKET` (and `WATCHDOG_USEC`, when a watchdog is wanted) as systemd would set them.
    func environment(watchdogSeconds: Double? = nil) -> [String: String] {
        var environment = ["NOTIFY_SOCKET": name]
        if let watchdogSeconds { environment["WATCHDOG_USEC"] = String(UInt64(watchdogSeconds * 1_000_000)) }
        return environment
    }

    /// `executable arguments` wrapped in `/usr/bin/env NOTIFY_SOCKET=… [WATCHDOG_USEC=…]`, for `ChildProcess`, which
    /// passes the test's own environment on. env execs the program, so the pid stays the one ChildProcess reports.
    func command(_ executable: String, _ arguments: [String], watchdogSeconds: Double? = nil) -> (
        executable: String, arguments: [String]
    ) {
        let assignments = environment(watchdogSeconds: watchdogSeconds).sorted { $0.key < $1.key }.map { "\($0)=\($1)" }
        return ("/usr/bin/env", assignments + [executable] + arguments)
    }

    /// Every datagram received so far, in order of arrival (one string per datagram).
    var messages: [String] {
        drain(waitingSeconds: 0)
        return received.withLock { $0 }
    }

    /// Waits until some datagram carries the line `field` (such as "READY=1"); true if one did within `timeout`.
    @discardableResult
    func waitFor(_ field: String, timeout: Double) -> Bool {
        waitUntilReceived(timeout: timeout) { messages in messages.contains { $0.split(separator: "\n").contains { $0 == field } } }
    }

    /// Waits until `count` datagrams have arrived (or `timeout` passed), then returns all of them.
    func waitForMessages(count: Int, timeout: Double) -> [String] {
        waitUntilReceived(timeout: timeout) { $0.count >= count }
        return received.withLock { $0 }
    }

    /// How many datagrams carried the line `field` so far (e.g. watchdog pings).
    func count(of field: String) -> Int {
        messages.filter { $0.split(separator: "\n").contains { $0 == field } }.count
    }

    @discardableResult
    private func waitUntilReceived(timeout: Double, _ condition: ([String]) -> Bool) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while true {
            if condition(received.withLock { $0 }) { return true }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return false }
            drain(waitingSeconds: min(remaining, 0.5))
        }
    }

    /// Reads every queued datagram, first waiting up to `waitingSeconds` for one to arrive.
    private func drain(waitingSeconds: Double) {
        var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&pollDescriptor, 1, Int32(waitingSeconds * 1000)) > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            received.withLock { $0.append(message) }
        }
    }
}
