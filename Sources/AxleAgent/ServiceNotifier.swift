import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the daemon is doing, the way sd_notify(3) does, without linking libsystemd: readiness, a status
/// line for `systemctl status`, shutdown, and watchdog keep-alives (Systemd/README.md).
///
/// Each call sends one datagram to the `AF_UNIX` socket systemd named in `$NOTIFY_SOCKET`. Failures are ignored, as
/// sd_notify's callers do: a lost notification must never take the agent down, and a lost keep-alive is what the
/// watchdog exists to notice.
public final class ServiceNotifier: Sendable {
    /// The socket as systemd named it: an absolute path, or `@name` for an abstract socket.
    public let socketName: String

    /// How often to call `watchdog()`: half of `$WATCHDOG_USEC`, so one late or lost ping does not trip it; nil when
    /// the watchdog is off or meant for another process (`$WATCHDOG_PID`).
    public let watchdogIntervalSeconds: Double?

    /// The destination in `sockaddr_un` form (`sun_path` bytes, a leading NUL for abstract names) and its length.
    private let addressPath: [UInt8]

    /// One socket for the process's lifetime (close-on-exec, so no child inherits it); -1 if it could not be made.
    private let descriptor: Int32

    /// A notifier for the socket named in the environment; nil when not started by systemd as `Type=notify`.
    public static func fromEnvironment() -> ServiceNotifier? {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return ServiceNotifier(environment: environment)
    }

    /// A notifier configured from `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` in `environment`; nil when
    /// `NOTIFY_SOCKET` is missing or is not a path or `@name` that fits in `sockaddr_un`.
    public init?(environment: [String: String]) {
        guard let name = environment["NOTIFY_SOCKET"], let path = Self.addressPath(for: name) else { return nil }
        socketName = name
        addressPath = path
        watchdogIntervalSeconds = Self.watchdogInterval(
            microseconds: environment["WATCHDOG_USEC"], pid: environment["WATCHDOG_PID"])
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// The service is up: `READY=1` plus a status line. systemd holds back units ordered after axled until this.
    public func ready(status text: String) {
        send("READY=1\nSTATUS=\(Self.singleLine(text))")
    }

    /// A free-form status line, shown by `systemctl status axled`.
    public func status(_ text: String) {
        send("STATUS=\(Self.singleLine(text))")
    }

    /// Shutdown has begun (`STOPPING=1`), so systemd reports "deactivating" rather than a crash while we drain.
    public func stopping() {
        send("STOPPING=1")
    }

    /// The keep-alive (`WATCHDOG=1`). Call it every `watchdogIntervalSeconds`, and only while the agent is healthy:
    /// a wedged agent that keeps pinging would never be restarted.
    public func watchdog() {
        send("WATCHDOG=1")
    }

    /// Sends one datagram (sendto(2)); errors are dropped on purpose (see the type's comment).
    private func send(_ message: String) {
        guard descriptor >= 0 else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathCapacity = MemoryLayout.size(ofValue: address.sun_path)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: addressPath.prefix(pathCapacity))
        }
        // Abstract names are not NUL-terminated: every byte up to the length counts, so the length must be exact.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + addressPath.count)
        var bytes = Array(message.utf8)
        _ = try? retryingOnInterrupt("sendto", subject: socketName) {
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(descriptor, &bytes, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
    }

    /// `sun_path` bytes for `name`: the path plus its NUL, or NUL plus the abstract name. nil for anything else
    /// (a relative path, an empty name, a name too long) so that we never send to an unintended socket.
    private static func addressPath(for name: String) -> [UInt8]? {
        let bytes = Array(name.utf8)
        let path: [UInt8]
        switch bytes.first {
        case UInt8(ascii: "/"): path = bytes + [0]
        case UInt8(ascii: "@") where bytes.count > 1: path = [0] + bytes.dropFirst()
        default: return nil
        }
        guard !bytes.dropFirst().contains(0), path.count <= MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            return nil
        }
        return path
    }

    /// Half of `WATCHDOG_USEC`, in seconds, when the watchdog is on and meant for this process (sd_watchdog_enabled(3)).
    private static func watchdogInterval(microseconds: String?, pid: String?) -> Double? {
        guard let microseconds, let usec = UInt64(microseconds), usec > 0 else { return nil }
        // systemd sets WATCHDOG_PID to the main process; a child that inherited the environment must not ping.
        if let pid, Int32(pid) != getpid() { return nil }
        return Double(usec) / 2 / 1_000_000
    }

    /// A status value may not span lines: each line of a notification is a separate `KEY=value` field.
    private static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
