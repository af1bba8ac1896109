import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// Why a request to the agent got no usable answer. `code` tells "the agent is not running" apart from every other
/// failure, so that `axle` can fall back to reading files; `description` is a sentence for the user.
public struct ControlClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case agentNotRunning, permissionDenied, timedOut, rejected, badResponse, connectionFailed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Nothing listens on the socket (no file there, or a file left by an agent that died).
        public static let agentNotRunning = Code(.agentNotRunning)
        /// The caller may not open the socket (not root, not in the socket's group).
        public static let permissionDenied = Code(.permissionDenied)
        /// The agent did not answer in time.
        public static let timedOut = Code(.timedOut)
        /// The agent answered with an error response (`failure` holds it).
        public static let rejected = Code(.rejected)
        /// The answer was not a response of the documented shape.
        public static let badResponse = Code(.badResponse)
        /// Another failure while connecting, sending or receiving.
        public static let connectionFailed = Code(.connectionFailed)

        public var description: String {
            switch base {
            case .agentNotRunning: "agentNotRunning"
            case .permissionDenied: "permissionDenied"
            case .timedOut: "timedOut"
            case .rejected: "rejected"
            case .badResponse: "badResponse"
            case .connectionFailed: "connectionFailed"
            }
        }
    }

    public let code: Code
    /// The socket path.
    public let path: String
    /// The whole explanation: what failed and what to do.
    public let message: String
    /// The agent's error response, when `code` is `.rejected`.
    public let failure: ControlFailure?

    /// An error with its explanation.
    public init(_ code: Code, path: String, message: String, failure: ControlFailure? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.failure = failure
    }

    /// Whether the agent is simply not running (as opposed to running and failing).
    public var isAgentNotRunning: Bool { code == .agentNotRunning }

    /// The message with control characters escaped: part of it may be the agent's answer, and `axle` prints it.
    public var description: String { UntrustedText.printable(message) }
}

/// The technician's side of the control socket: connects, sends one request line, reads the response line.
public struct ControlClient: Sendable {
    /// Where `axled` serves the control socket unless configured otherwise.
    public static let defaultPath = "/run/axle/axled.sock"
    /// The largest response read; more means something other than axled is talking.
    public static let maximumResponseBytes = 64 << 20

    /// The socket path.
    public let path: String

    /// A client for the socket at `path`.
    public init(path: String = ControlClient.defaultPath) {
        self.path = path
    }

    /// Sends `request` and returns the response's result; an error response throws `.rejected` with the agent's
    /// message.
    public func request(_ request: ControlRequest, timeoutSeconds: Double = 5) throws(ControlClientError) -> JSONValue {
        switch try send(request, timeoutSeconds: timeoutSeconds) {
        case .success(let result): return result
        case .failure(let failure): throw ControlClientError(.rejected, path: path, message: failure.message, failure: failure)
        }
    }

    /// Sends `request` and returns the response, success or error.
    public func send(_ request: ControlRequest, timeoutSeconds: Double = 5) throws(ControlClientError) -> ControlResponse {
        let line = try exchange(line: request.toJSON().rendered(), timeoutSeconds: timeoutSeconds)
        do {
            return try ControlResponse(json: try JSONValue.parse(line))
        } catch let error as JSONParseError {
            throw badResponse("the answer is not JSON (\(error))")
        } catch {
            throw badResponse("\(error)")
        }
    }

    /// The agent's health.
    public func status(timeoutSeconds: Double = 5) throws(ControlClientError) -> StatusReport {
        try decode(try request(.status, timeoutSeconds: timeoutSeconds), as: StatusReport.init(json:))
    }

    /// The latest signal values, only those `filter` matches (see `SignalFilter`).
    public func signals(filter: String? = nil, timeoutSeconds: Double = 5) throws(ControlClientError) -> SignalsReport {
        try decode(try request(.signals(filter: filter), timeoutSeconds: timeoutSeconds), as: SignalsReport.init(json:))
    }

    /// The outbox's statistics.
    public func outbox(timeoutSeconds: Double = 5) throws(ControlClientError) -> OutboxReport {
        try decode(try request(.outbox, timeoutSeconds: timeoutSeconds), as: OutboxReport.init(json:))
    }

    /// The `limit` most recent events, newest first.
    public func events(limit: Int, timeoutSeconds: Double = 5) throws(ControlClientError) -> EventsReport {
        try decode(try request(.events(limit: limit), timeoutSeconds: timeoutSeconds), as: EventsReport.init(json:))
    }

    /// The collection rules.
    public func rules(timeoutSeconds: Double = 5) throws(ControlClientError) -> RulesReport {
        try decode(try request(.rules, timeoutSeconds: timeoutSeconds), as: RulesReport.init(json:))
    }

    /// Switches a rule on or off; returns the rule as it now is.
    public func setRule(name: String, enabled: Bool, timeoutSeconds: Double = 5) throws(ControlClientError) -> RuleSummary {
        try decode(
            try request(.setRule(name: name, enabled: enabled), timeoutSeconds: timeoutSeconds),
            as: RuleSummary.init(json:))
    }

    /// The feature entitlements.
    public func features(timeoutSeconds: Double = 5) throws(ControlClientError) -> FeaturesReport {
        try decode(try request(.features, timeoutSeconds: timeoutSeconds), as: FeaturesReport.init(json:))
    }

    /// The vehicle's configuration state (`axle config`).
    public func configuration(timeoutSeconds: Double = 5) throws(ControlClientError) -> ConfigurationState {
        try decode(try request(.configuration, timeoutSeconds: timeoutSeconds), as: ConfigurationState.init(json:))
    }

    /// The `limit` most recent remote commands, newest first.
    public func commands(limit: Int, timeoutSeconds: Double = 5) throws(ControlClientError) -> CommandsReport {
        try decode(try request(.commands(limit: limit), timeoutSeconds: timeoutSeconds), as: CommandsReport.init(json:))
    }

    /// Asks an ECU through the agent (`data`: service byte first); waits up to `timeoutSeconds` for the agent's answer,
    /// which itself waits for the ECU (its P2, and 5 s for each "response pending").
    public func diagnostic(
        ecu: String, data: [UInt8], ecuTimeoutSeconds: Double? = nil, timeoutSeconds: Double = 30
    ) throws(ControlClientError) -> DiagnosticReply {
        try decode(
            try request(.diagnostic(ecu: ecu, data: data, timeoutSeconds: ecuTimeoutSeconds), timeoutSeconds: timeoutSeconds),
            as: DiagnosticReply.init(json:))
    }

    /// Sends one line as it is (a newline is added) and returns the first line of the answer, without its newline:
    /// the raw exchange, for tools and tests that need to send what `ControlRequest` would not.
    public func exchange(line: String, timeoutSeconds: Double = 5) throws(ControlClientError) -> String {
        let deadline = monotonicSeconds() + timeoutSeconds
        guard let address = UnixSocket.address(path) else {
            throw ControlClientError(
                .connectionFailed, path: path,
                message: "'\(path)' cannot be a socket path (empty or longer than \(UnixSocket.pathCapacity - 1) bytes)")
        }
        let fd: Int32
        do {
            fd = try UnixSocket.make(nonBlocking: false, subject: path)
        } catch {
            throw ControlClientError(.connectionFailed, path: path, message: "cannot create a socket: \(error)")
        }
        defer { close(fd) }
        // A blocking connect to a Unix socket waits only while the listener's backlog is full; SO_SNDTIMEO bounds it.
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds.truncatingRemainder(dividingBy: 1)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = UnixSocket.connect(fd, to: address)
        switch connected {
        case 0: break
        case ENOENT, ECONNREFUSED:
            throw ControlClientError(
                .agentNotRunning, path: path,
                message: "axled is not running (nothing listens on \(path)); start it with 'systemctl start axled'")
        case EACCES, EPERM:
            throw ControlClientError(
                .permissionDenied, path: path,
                message: "you may not use the control socket \(path) (permission denied); add yourself to group axle "
                    + "('sudo usermod -aG axle $USER', then log in again) or run the command with sudo")
        case EAGAIN, EINPROGRESS, ETIMEDOUT:
            throw timedOut(timeoutSeconds)
        case let code:
            throw ControlClientError(
                .connectionFailed, path: path,
                message: "cannot connect to \(path): \(SystemError.text(errno: code)); is the path a control socket?")
        }
        UnixSocket.setNonBlocking(fd)
        let sent = UnixSocket.send(fd, Array((line + "\n").utf8), until: deadline)
        guard sent == 0 else {
            if sent == ETIMEDOUT { throw timedOut(timeoutSeconds) }
            throw ControlClientError(
                .connectionFailed, path: path,
                message: "cannot send the request to \(path): \(SystemError.text(errno: sent))")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while !received.contains(0x0A) {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                received.append(contentsOf: chunk[0..<count])
                guard received.count <= Self.maximumResponseBytes else {
                    throw badResponse("the answer is longer than \(Self.maximumResponseBytes) bytes")
                }
            } else if count == 0 {
                break
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                guard UnixSocket.wait(fd, for: Int16(POLLIN), until: deadline) else { throw timedOut(timeoutSeconds) }
            } else if errno != EINTR {
                // The agent may close with our request still unread (a refused oversized line): what it sent counts.
                if !received.isEmpty { break }
                throw ControlClientError(
                    .connectionFailed, path: path,
                    message: "the connection to \(path) failed: \(SystemError.text(errno: errno))")
            }
        }
        guard !received.isEmpty else { throw badResponse("the agent closed the connection without answering") }
        let end = received.firstIndex(of: 0x0A) ?? received.endIndex
        return String(decoding: received[..<end], as: UTF8.self)
    }

    private func decode<T>(
        _ result: JSONValue, as make: (JSONValue) throws(ControlDecodingError) -> T
    ) throws(ControlClientError) -> T {
        do {
            return try make(result)
        } catch {
            throw badResponse("the result does not have the documented shape (\(error))")
        }
    }

    private func badResponse(_ detail: String) -> ControlClientError {
        ControlClientError(
            .badResponse, path: path,
            message: "unexpected answer from \(path): \(detail); axle (\(AxleVersion.current)) and axled may be "
                + "different versions")
    }

    private func timedOut(_ seconds: Double) -> ControlClientError {
        ControlClientError(
            .timedOut, path: path,
            message: "axled did not answer on \(path) within \(seconds) s; check it with 'systemctl status axled' and "
                + "'journalctl -u axled'")
    }
}
