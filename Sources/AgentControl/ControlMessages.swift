import AxleBase

/// One request to the agent, as `axle` sends it on the control socket (one JSON line; docs/control.md).
public enum ControlRequest: Sendable, Equatable {
    /// `{"request":"status"}`: the agent's health at a glance.
    case status
    /// `{"request":"signals","filter":"Vehicle.Speed"}`: the latest decoded values; `filter` as in `SignalFilter`.
    case signals(filter: String?)
    /// `{"request":"outbox"}`: what the outbox holds and what it lost.
    case outbox
    /// `{"request":"events","limit":20}`: the most recent triggered events, newest first.
    case events(limit: Int)
    /// `{"request":"rules"}`: the collection rules and whether each is on.
    case rules
    /// `{"request":"set-rule","name":"x","enabled":false}`: switches a collection rule on or off (privileged).
    case setRule(name: String, enabled: Bool)
    /// `{"request":"features"}`: the feature entitlements and whether each is active.
    case features
    /// `{"request":"commands","limit":20}`: the most recent remote commands and what became of them, newest first.
    case commands(limit: Int)
    /// `{"request":"diagnostic","ecu":"engine","data":"0902","timeout":0.5}`: one request to an ECU of the profile's
    /// `[diagnostics.ecus]` (service byte first, in hex), asked through the agent's diagnostics service so that the
    /// agent and the technician never talk to the ECU at once; `timeout` is P2 in seconds (absent: the profile's).
    /// Privileged unless the service only reads (`DiagnosticReply.readOnlyServices`).
    case diagnostic(ecu: String, data: [UInt8], timeoutSeconds: Double?)
    /// `{"request":"config"}`: the vehicle's configuration state (`ConfigurationState`): the versions it runs and
    /// ran, and what became of the last one it received.
    case configuration

    /// How many events `events` returns when the request names no limit.
    public static let defaultEventLimit = 20
    /// The most events one request may ask for.
    public static let maximumEventLimit = 1000
    /// How many commands `commands` returns when the request names no limit.
    public static let defaultCommandLimit = 20
    /// The most commands one request may ask for.
    public static let maximumCommandLimit = 1000

    /// The request's name on the wire ("status", "set-rule", …).
    public var name: String {
        switch self {
        case .status: "status"
        case .signals: "signals"
        case .outbox: "outbox"
        case .events: "events"
        case .rules: "rules"
        case .setRule: "set-rule"
        case .features: "features"
        case .commands: "commands"
        case .diagnostic: "diagnostic"
        case .configuration: "config"
        }
    }

    /// Whether the request changes what the agent does; such requests are only for privileged callers
    /// (`ControlPolicy`), the others for anyone who may open the socket.
    public var changesState: Bool {
        switch self {
        case .setRule: true
        // Clearing codes, switching sessions, writing data or running routines changes the vehicle.
        case .diagnostic(_, let data, _): !DiagnosticReply.readOnlyServices.contains(data.first ?? 0)
        default: false
        }
    }

    /// Whether the request asks an ECU (and so may wait for it).
    public var isDiagnostic: Bool {
        if case .diagnostic = self { return true }
        return false
    }

    /// The request as sent on the socket.
    public func toJSON() -> JSONValue {
        var members: [(String, JSONValue)] = [("request", .string(name))]
        switch self {
        case .status, .outbox, .rules, .features, .configuration: break
        case .signals(let filter): if let filter { members.append(("filter", .string(filter))) }
        case .events(let limit), .commands(let limit): members.append(("limit", .count(limit)))
        case .setRule(let name, let enabled):
            members.append(("name", .string(name)))
            members.append(("enabled", .bool(enabled)))
        case .diagnostic(let ecu, let data, let timeout):
            members.append(("ecu", .string(ecu)))
            members.append(("data", .string(DiagnosticReply.hex(data))))
            if let timeout { members.append(("timeout", .number(timeout))) }
        }
        return .object(members)
    }

    /// Reads a request; a failure is the response to send back (`unknown-request` or `bad-request`).
    public init(json: JSONValue) throws(ControlFailure) {
        let decoded: ControlRequest?
        let name: String
        do throws(ControlDecodingError) {
            let reader = try JSONObjectReader(json)
            name = try reader.string("request")
            decoded = try Self.decode(name, reader)
        } catch {
            throw ControlFailure(.badRequest, "malformed request: \(error)")
        }
        guard let decoded else {
            throw ControlFailure(
                .unknownRequest,
                "unknown request '\(name)'; this agent knows status, signals, outbox, events, rules, set-rule, features, "
                    + "commands, diagnostic and config")
        }
        self = decoded
    }

    /// The request named `name`, or nil when there is no such request.
    private static func decode(_ name: String, _ reader: JSONObjectReader) throws(ControlDecodingError) -> ControlRequest? {
        switch name {
        case "status": return .status
        case "signals":
            let filter = try reader.optionalString("filter")
            return .signals(filter: filter?.isEmpty == true ? nil : filter)
        case "outbox": return .outbox
        case "events": return .events(limit: try limit(reader, default: defaultEventLimit, maximum: maximumEventLimit))
        case "rules": return .rules
        case "set-rule":
            let rule = try reader.string("name")
            guard !rule.isEmpty else { throw ControlDecodingError(field: "name", message: "must name a rule") }
            return .setRule(name: rule, enabled: try reader.bool("enabled"))
        case "features": return .features
        case "commands":
            return .commands(limit: try limit(reader, default: defaultCommandLimit, maximum: maximumCommandLimit))
        case "diagnostic":
            let ecu = try reader.string("ecu")
            guard !ecu.isEmpty else { throw ControlDecodingError(field: "ecu", message: "must name an ECU") }
            let text = try reader.string("data")
            guard let data = DiagnosticReply.bytes(hex: text), (1...4095).contains(data.count) else {
                throw ControlDecodingError(field: "data", message: "must be 1 to 4095 bytes in hex, such as 0902")
            }
            let timeout = try reader.optionalDouble("timeout")
            if let timeout, !(timeout > 0 && timeout <= 60) {
                throw ControlDecodingError(field: "timeout", message: "must be between 0 and 60 seconds")
            }
            return .diagnostic(ecu: ecu, data: data, timeoutSeconds: timeout)
        case "config": return .configuration
        default: return nil
        }
    }

    /// The optional `limit` field of a list request, between 1 and `maximum`.
    private static func limit(
        _ reader: JSONObjectReader, default defaultLimit: Int, maximum: Int
    ) throws(ControlDecodingError) -> Int {
        let limit = try reader.optionalInteger("limit", as: Int.self) ?? defaultLimit
        guard (1...maximum).contains(limit) else {
            throw ControlDecodingError(field: "limit", message: "must be between 1 and \(maximum), not \(limit)")
        }
        return limit
    }
}

/// Why the agent refused or failed a request: the `code` of an `{"ok":false,…}` response. New codes may be added;
/// an unknown code from a newer agent is kept as it came.
public struct ControlErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// The caller may not make this request (state-changing requests need root).
    public static let permissionDenied = ControlErrorCode(rawValue: "permission-denied")
    /// The agent does not know the request's name (an older agent, or a typo in a hand-written request).
    public static let unknownRequest = ControlErrorCode(rawValue: "unknown-request")
    /// The request line was not a valid request: not JSON, too long, a missing or mistyped field, or not sent in time.
    public static let badRequest = ControlErrorCode(rawValue: "bad-request")
    /// The agent understood the request but could not carry it out (an unknown rule, a failing component).
    public static let failed = ControlErrorCode(rawValue: "failed")

    public var description: String { rawValue }
}

/// A refused or failed request, as the agent reports it: what went wrong and what to do, for a person to read.
public struct ControlFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ControlErrorCode
    public let message: String

    /// A failure; `message` says what went wrong and what to do next.
    public init(_ code: ControlErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The agent's answer: one JSON line, `{"ok":true,"result":{…}}` or `{"ok":false,"error":"…","code":"…"}`.
public enum ControlResponse: Sendable, Equatable {
    case success(JSONValue)
    case failure(ControlFailure)

    /// The response as sent on the socket.
    public func toJSON() -> JSONValue {
        switch self {
        case .success(let result): .object([("ok", true), ("result", result)])
        case .failure(let failure):
            .object([("ok", false), ("error", .string(failure.message)), ("code", .string(failure.code.rawValue))])
        }
    }

    /// Reads a response line's document.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        if try reader.bool("ok") {
            self = .success(try reader.value("result"))
        } else {
            self = .failure(ControlFailure(
                ControlErrorCode(rawValue: try reader.optionalString("code") ?? ControlErrorCode.failed.rawValue),
                try reader.string("error")))
        }
    }
}
