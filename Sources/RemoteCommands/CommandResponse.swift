import AxleBase

/// Where a command stands; each change is published to the sender (docs/commands.md, "Statuses").
public enum CommandStatus: String, Sendable, CaseIterable {
    case accepted = "ACCEPTED"
    case inProgress = "IN_PROGRESS"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case timedOut = "TIMED_OUT"
    case rejected = "REJECTED"
    case interrupted = "INTERRUPTED"

    /// Whether no further status follows this one.
    public var isFinal: Bool {
        switch self {
        case .accepted, .inProgress: false
        case .succeeded, .failed, .timedOut, .rejected, .interrupted: true
        }
    }
}

/// Why a command did not succeed: one code per cause, in lower_snake case on the wire.
public enum CommandReason: String, Sendable, CaseIterable {
    case malformed
    case missingSignature = "missing_signature"
    case badSignature = "bad_signature"
    case unknownKey = "unknown_key"
    case revokedKey = "revoked_key"
    case wrongVehicle = "wrong_vehicle"
    case expired
    case notYetValid = "not_yet_valid"
    case expiryTooFar = "expiry_too_far"
    case replay
    case unknownCommand = "unknown_command"
    case badParameters = "bad_parameters"
    case preconditionFailed = "precondition_failed"
    case busy
    case rateLimited = "rate_limited"
    case sendFailed = "send_failed"
    case noConfirmation = "no_confirmation"
    case agentRestarted = "agent_restarted"
    /// SUCCEEDED, but the confirmation already held before the first frame (`trunk.open` on an open trunk): the frames
    /// were sent, and the backend can tell that the vehicle was in that state already.
    case alreadySatisfied = "already_satisfied"
    /// A remote diagnostic command: an ECU asked gave no (complete) answer within its time (FAILED).
    case ecuNoAnswer = "ecu_no_answer"
    /// A remote diagnostic command: an ECU refused with a negative response, named in the text (FAILED).
    case ecuRefused = "ecu_refused"

    /// The status a response with this reason carries: REJECTED, except send_failed, ecu_no_answer and ecu_refused
    /// (FAILED), no_confirmation (TIMED_OUT), agent_restarted (INTERRUPTED) and already_satisfied (SUCCEEDED).
    public var status: CommandStatus {
        switch self {
        case .sendFailed, .ecuNoAnswer, .ecuRefused: .failed
        case .noConfirmation: .timedOut
        case .agentRestarted: .interrupted
        case .alreadySatisfied: .succeeded
        default: .rejected
        }
    }
}

/// Where responses to one request go: its MQTT 5 Response Topic and Correlation Data, when it had them.
public struct ReplyAddress: Sendable, Equatable {
    /// nil: the request came without one (MQTT 3.1.1); responses go to `{prefix}/{vehicle}/cmd/res`.
    public var responseTopic: String?
    public var correlationData: [UInt8]?

    public init(responseTopic: String? = nil, correlationData: [UInt8]? = nil) {
        self.responseTopic = responseTopic
        self.correlationData = correlationData
    }
}

/// One status message about a command, as published to the sender.
public struct CommandResponse: Sendable, Equatable {
    public var id: String
    public var vehicle: String
    public var name: String?
    public var status: CommandStatus
    public var timeMillis: Int64
    public var reason: CommandReason?
    public var text: String?
    /// What the command produced, e.g. the values of `diagnostics.snapshot`.
    public var result: JSONValue?

    public init(
        id: String, vehicle: String, name: String?, status: CommandStatus, timeMillis: Int64,
        reason: CommandReason? = nil, text: String? = nil, result: JSONValue? = nil
    ) {
        self.id = id
        self.vehicle = vehicle
        self.name = name
        self.status = status
        self.timeMillis = timeMillis
        self.reason = reason
        self.text = text
        self.result = result
    }

    /// The JSON payload; `name`, `reason`, `text` and `result` only when present.
    public func payload() -> [UInt8] {
        Array(JSONValue.object(members()).rendered().utf8)
    }

    /// The payload's members, in order (the agent appends the outbox's `seq` to them).
    public func members() -> [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [("id", .string(id)), ("vehicle", .string(vehicle))]
        if let name { members.append(("name", .string(name))) }
        members.append(("status", .string(status.rawValue)))
        members.append(("t", .integer(Int128(timeMillis))))
        if let reason { members.append(("reason", .string(reason.rawValue))) }
        if let text { members.append(("text", .string(text))) }
        if let result { members.append(("result", result)) }
        return members
    }

    /// Reads a response payload (unknown members are ignored, so that responses can grow).
    public static func parse(_ payload: [UInt8]) throws(CommandFormatError) -> CommandResponse {
        let members = try CommandRequest.objectMembers(of: payload, what: "the response")
        let object = JSONValue.object(members)
        guard let id = object["id"]?.stringValue else { throw CommandFormatError("the response has no \"id\" string") }
        guard let vehicle = object["vehicle"]?.stringValue else {
            throw CommandFormatError("the response has no \"vehicle\" string")
        }
        guard let statusText = object["status"]?.stringValue else {
            throw CommandFormatError("the response has no \"status\" string")
        }
        guard let status = CommandStatus(rawValue: statusText) else {
            throw CommandFormatError(
                "the response's status \"\(statusText)\" is not one of \(CommandStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard case .integer(let time) = object["t"], let timeMillis = Int64(exactly: time) else {
            throw CommandFormatError("the response has no \"t\" (unix milliseconds)")
        }
        var reason: CommandReason?
        if let reasonValue = object["reason"], !reasonValue.isNull {
            guard let text = reasonValue.stringValue, let code = CommandReason(rawValue: text) else {
                throw CommandFormatError("the response's reason \(reasonValue.rendered()) is not a known reason code")
            }
            reason = code
        }
        let result = object["result"].flatMap { $0.isNull ? nil : $0 }
        return CommandResponse(
            id: id, vehicle: vehicle, name: object["name"]?.stringValue, status: status, timeMillis: timeMillis,
            reason: reason, text: object["text"]?.stringValue, result: result)
    }
}
