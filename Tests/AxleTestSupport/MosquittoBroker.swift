import AxleBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real Debian `mosquitto` broker for tests, on a free loopback port, in its own temporary directory (config,
/// persistence, log, ACL). Plain, TLS, or mutual TLS with per-vehicle access rules.
///
/// Mutual TLS: the certificate's CN becomes the username; a vehicle may only publish and subscribe under
/// `axle/v1/<its CN>/#`, the identity `backend` anywhere under `axle/#`.
/// Persistence is on: a persistent session's queued QoS 1 messages survive `stop()` + `start()` (SIGTERM saves them);
/// after `kill()` (SIGKILL) they do not.
public final class MosquittoBroker: Sendable {
    /// What the listener demands of clients.
    public enum Mode: Sendable, Hashable {
        /// Plain TCP, anonymous clients allowed.
        case plain
        /// Server authentication only; any client that trusts the test CA may connect.
        case tls
        /// The broker requires a client certificate from the test CA and applies the ACL.
        case mutualTLS
    }

    /// Debian's broker.
    public static let executable = "/usr/sbin/mosquitto"
    public let mode: Mode
    /// The broker listens on loopback only.
    public let host = "127.0.0.1"
    /// The listening port; the same across `stop()`/`start()`.
    public let port: Int
    /// The broker's private directory (configuration, log, persistence, ACL), removed on deinit.
    public let directory: String
    /// The certificates in use (TLS modes), made for this broker unless given.
    public let certificates: TestCertificates?
    /// The generated mosquitto.conf.
    public var configurationPath: String { directory + "/mosquitto.conf" }
    /// The broker's log file (connections, subscriptions, errors; every packet with `verboseLog`).
    public var logPath: String { directory + "/mosquitto.log" }
    private let process = Mutex<ChildProcess?>(nil)
    private let verboseLog: Bool
    /// Global configuration lines added after the defaults (a later line overrides an earlier one).
    private let extraConfiguration: [String]

    /// Starts a broker and waits until it accepts connections. `port` nil picks a free one (retrying on a collision
    /// with another test); `verboseLog` logs every packet (large for big drains). `extraConfiguration`: global
    /// mosquitto.conf lines that override the defaults, e.g. `max_queued_messages 0` and `max_queued_bytes 0`, with
    /// which Debian's mosquitto 2.0.11 disconnects a client whose QoS 1 publish it denies.
    public init(
        mode: Mode = .plain, certificates: TestCertificates? = nil, port: Int? = nil, verboseLog: Bool = false,
        extraConfiguration: [String] = []
    ) throws {
        self.mode = mode
        self.verboseLog = verboseLog
        self.extraConfiguration = extraConfiguration
        directory = try makeTestDirectory(prefix: "axle-mosquitto")
        self.certificates = mode == .plain ? certificates : try certificates ?? TestCertificates()
        var lastError: (any Error)?
        var chosen: Int?
        for _ in 0..<(port == nil ? 8 : 1) {
            let candidate = try port ?? LoopbackPort.free()
            do {
                try Self.launch(
                    configuration: Self.configuration(
                        port: candidate, directory: directory, mode: mode, certificates: self.certificates,
                        verboseLog: verboseLog, extraConfiguration: extraConfiguration),
                    directory: directory, port: candidate, into: process)
                chosen = candidate
                break
            } catch {
                lastError = error
            }
        }
        guard let chosen else {
            removeTree(directory)
            throw lastError ?? TestSupportError("mosquitto did not start")
        }
        self.port = chosen
    }

    deinit {
        process.withLock { $0?.terminate(timeoutSeconds: 5) }
        removeTree(directory)
    }

    /// `mqtt://127.0.0.1:port`, or `mqtts://` in the TLS modes.
    public var url: String { "\(mode == .plain ? "mqtt" : "mqtts")://\(host):\(port)" }

    /// Whether the broker process is alive.
    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// The broker's log so far.
    public var log: String { AxleProcess.readText(logPath) }

    /// Starts the broker again on the same port (after `stop()` or `kill()`) and waits until it accepts.
    public func start() throws {
        if isRunning { return }
        let configuration = Self.configuration(
            port: port, directory: directory, mode: mode, certificates: certificates, verboseLog: verboseLog,
            extraConfiguration: extraConfiguration)
        // The port was just released; retry briefly should another process hold it for a moment.
        var lastError: (any Error)?
        for _ in 0..<5 {
            do {
                try Self.launch(configuration: configuration, directory: directory, port: port, into: process)
                return
            } catch {
                lastError = error
                usleep(200_000)
            }
        }
        throw lastError!
    }

    /// SIGTERM: a clean shutdown that saves the persistent sessions and closes every client connection.
    public func stop() {
        process.withLock { $0?.terminate(timeoutSeconds: 10) }
    }

    /// SIGKILL: the broker vanishes; nothing is saved since the last autosave.
    public func kill() {
        process.withLock { process in
            process?.send(signal: SIGKILL)
            process?.wait(timeoutSeconds: 10)
        }
    }

    /// `stop()` then `start()`, on the same port.
    public func restart() throws {
        stop()
        try start()
    }

    /// Publishes with Debian's `mosquitto_pub` (an independent peer), with this broker's TLS settings and `identity`
    /// (required for mutual TLS). Returns when the broker has the message (QoS 1: acknowledged).
    public func publish(
        topic: String, message: String, qos: Int = 1, retain: Bool = false,
        identity: TestCertificates.ClientIdentity? = nil, version: MQTTClientVersion = .v5,
        extraArguments: [String] = []
    ) throws {
        var arguments = ["-h", host, "-p", String(port), "-t", topic, "-m", message, "-q", String(qos)]
        arguments += ["-V", version.argument, "-i", "axle-test-pub-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"]
        if retain { arguments.append("-r") }
        arguments += clientTLSArguments(identity: identity) + extraArguments
        let result = try ChildProcess.run("/usr/bin/mosquitto_pub", arguments, timeoutSeconds: 30)
        guard result.status == 0 else {
            throw TestSupportError("mosquitto_pub to \(topic) failed (\(result.status)): \(result.output)")
        }
    }

    /// `--cafile`/`--cert`/`--key` for Debian's clients in this broker's mode.
    public func clientTLSArguments(identity: TestCertificates.ClientIdentity?) -> [String] {
        guard let certificates, mode != .plain else { return [] }
        var arguments = ["--cafile", certificates.caFile]
        if let identity { arguments += ["--cert", identity.certificateFile, "--key", identity.keyFile] }
        return arguments
    }

    // MARK: - Launching

    static func configuration(
        port: Int, directory: String, mode: Mode, certificates: TestCertificates?, verboseLog: Bool,
        extraConfiguration: [String] = []
    ) -> String {
        var lines = [
            "# Written by AxleTestSupport.MosquittoBroker",
            "per_listener_settings false",
            "persistence true",
            "persistence_location \(directory)/",
            "persistence_file mosquitto.db",
            // Room for drains of 10,000+ records to an offline persistent session.
            "max_queued_messages 100000",
            "max_queued_bytes 0",
            "log_dest file \(directory)/mosquitto.log",
            "log_timestamp true",
            "connection_messages true",
        ]
        lines += verboseLog
            ? ["log_type all"]
            : ["log_type error", "log_type warning", "log_type notice", "log_type information", "log_type subscribe"]
        lines += extraConfiguration
        // As root, mosquitto would switch to the `mosquitto` user, which cannot write to this test's directory.
        if geteuid() == 0 { lines.append("user root") }
        lines.append("listener \(port) 127.0.0.1")
        switch mode {
        case .plain:
            lines.append("allow_anonymous true")
        case .tls, .mutualTLS:
            let certificates = certificates!
            lines += [
                "cafile \(certificates.caFile)",
                "certfile \(certificates.serverCertificateFile)",
                "keyfile \(certificates.serverKeyFile)",
                "tls_version tlsv1.2",
            ]
            if mode == .tls {
                lines.append("allow_anonymous true")
            } else {
                let acl = """
                    # The backend sees the whole fleet.
                    user backend
                    topic readwrite axle/#

                    # Every vehicle (username = its certificate's CN) only its own subtree.
                    pattern readwrite axle/v1/%u/#

                    """
                _ = try? AxleProcess.writeFile(directory + "/acl", acl)
                lines += [
                    "require_certificate true",
                    "use_identity_as_username true",
                    "allow_anonymous false",
                    "acl_file \(directory)/acl",
                ]
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func launch(configuration: String, directory: String, port: Int, into slot: borrowing Mutex<ChildProcess?>) throws {
        let configurationPath = directory + "/mosquitto.conf"
        try AxleProcess.writeFile(configurationPath, configuration)
        let child = try ChildProcess(
            executable: executable, arguments: ["-c", configurationPath],
            stdoutPath: directory + "/mosquitto.stdout", stderrPath: directory + "/mosquitto.stderr", append: true)
        let accepting = waitUntil(timeoutSeconds: 15) {
            LoopbackPort.isAccepting(port) || !child.isRunning
        }
        guard accepting, child.isRunning, LoopbackPort.isAccepting(port) else {
            child.terminate(timeoutSeconds: 2)
            let log = AxleProcess.readText(directory + "/mosquitto.log").split(separator: "\n").suffix(5)
            let stderr = AxleProcess.readText(directory + "/mosquitto.stderr")
            throw TestSupportError(
                "mosquitto did not start on port \(port): \(log.joined(separator: " | ")) \(stderr)")
        }
        slot.withLock { $0 = child }
    }
}

/// A failure in the test harness itself, said plainly.
public struct TestSupportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Loopback TCP ports for test servers.
public enum LoopbackPort {
    /// A port that was free a moment ago (bound with port 0, then released). Another process may take it before
    /// the caller binds it: callers retry on a collision.
    public static func free() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", subject: "free port", errno: errno) }
        defer { close(descriptor) }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SystemError(call: "bind", subject: "127.0.0.1:0", errno: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` now.
    public static func isAccepting(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = loopbackAddress(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// 127.0.0.1:`port` as a socket address.
    public static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// Polls `condition` until it holds or `timeoutSeconds` pass; true when it held. For waiting, not for timing.
@discardableResult
public func waitUntil(timeoutSeconds: Double, pollSeconds: Double = 0.02, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + timeoutSeconds
    while true {
        if condition() { return true }
        if monotonicSeconds() >= deadline { return false }
        usleep(UInt32(pollSeconds * 1_000_000))
    }
}

/// A new private directory under /tmp.
public func makeTestDirectory(prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let result = mkdtemp(buffer.baseAddress!) else { return nil }
        return String(cString: result)
    }
    guard let path else { throw SystemError(call: "mkdtemp", subject: "/tmp/\(prefix)-XXXXXX", errno: errno) }
    return path
}

/// Removes a directory tree made by the tests.
public func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/"), !path.contains("..") else { return }
    _ = try? ChildProcess.run("/bin/rm", ["-rf", path], timeoutSeconds: 30)
}

/// A child process started with posix_spawn: stdin from /dev/null, output to files, no inherited descriptors
/// (a test's sockets must not stay open in a broker or a subscriber it starts).
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The program's path.
    public let executable: String
    /// The exit status once reaped (128 + n for signal n).
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; output to the given files (or /dev/null), appended or truncated.
    public init(
        executable: String, arguments: [String], stdoutPath: String? = nil, stderrPath: String? = nil,
        append: Bool = false
    ) throws {
        self.executable = executable
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let outputFlags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", outputFlags, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", outputFlags, 0o644)
        Self.closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The spawning thread may block signals (the MQTT network thread blocks SIGPIPE), and ignored signals stay
        // ignored across exec: give the child a clean slate.
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SystemError(call: "posix_spawn", subject: executable, errno: result) }
        self.pid = pid
    }

    deinit {
        terminate(timeoutSeconds: 2)
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+) is not visible to Swift; look it up at run time.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(
            symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom {
            _ = addCloseFrom(&actions, 3)
        }
    }

    /// The exit status, if the process has ended (reaping it).
    public var exitStatus: Int32? {
        reaped.withLock { status in
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { status = Self.decode(raw) }
            }
            return status
        }
    }

    /// Whether the process has not ended yet.
    public var isRunning: Bool { exitStatus == nil }

    /// Sends `signal` if the process still runs.
    public func send(signal: Int32) {
        if isRunning { Glibc.kill(pid, signal) }
    }

    /// Waits for the process to end; its exit status, or nil if it still runs after `timeoutSeconds`.
    @discardableResult
    public func wait(timeoutSeconds: Double) -> Int32? {
        waitUntil(timeoutSeconds: timeoutSeconds, pollSeconds: 0.01) { !isRunning }
        return exitStatus
    }

    /// SIGTERM, then SIGKILL if it has not ended within `timeoutSeconds`.
    public func terminate(timeoutSeconds: Double) {
        guard isRunning else { return }
        send(signal: SIGTERM)
        if wait(timeoutSeconds: timeoutSeconds) == nil {
            send(signal: SIGKILL)
            wait(timeoutSeconds: 5)
        }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    }

    /// Runs a command to completion; its exit status and combined output.
    public static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Double = 60) throws -> (
        status: Int32, output: String
    ) {
        let directory = try makeTestDirectory(prefix: "axle-run")
        defer {
            unlink(directory + "/output")
            rmdir(directory)
        }
        let outputPath = directory + "/output"
        let child = try ChildProcess(
            executable: executable, arguments: arguments, stdoutPath: outputPath, stderrPath: outputPath, append: true)
        guard let status = child.wait(timeoutSeconds: timeoutSeconds) else {
            child.terminate(timeoutSeconds: 1)
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeoutSeconds) s")
        }
        return (status, AxleProcess.readText(outputPath))
    }
}
