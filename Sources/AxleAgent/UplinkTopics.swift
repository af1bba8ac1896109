import AxleBase

/// The MQTT topics of one vehicle: `{prefix}/{vehicle}/{kind}` (docs/mqtt.md lists them with their payloads).
public struct UplinkTopics: Sendable, Equatable {
    public var prefix: String
    public var vehicleID: String

    /// `prefix` such as "axle/v1" (no trailing slash); `vehicleID` must be a single topic level.
    public init(prefix: String = "axle/v1", vehicleID: String) throws(AgentConfigurationError) {
        let prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        if let why = Self.prefixProblem(prefix) {
            throw AgentConfigurationError("topic prefix \(UntrustedText.quoted(prefix)) \(why)")
        }
        if let why = Self.vehicleIDProblem(vehicleID) {
            throw AgentConfigurationError("vehicle id \(UntrustedText.quoted(vehicleID)) \(why)")
        }
        self.prefix = prefix
        self.vehicleID = vehicleID
    }

    /// Longest vehicle id, in UTF-8 bytes: a VIN is 17; the limit keeps every topic well inside MQTT's.
    public static let maximumVehicleIDBytes = 128

    /// Why `vehicleID` cannot be the vehicle's topic level (said after the value), or nil when it can.
    public static func vehicleIDProblem(_ vehicleID: String) -> String? {
        if vehicleID.isEmpty || vehicleID.utf8.count > maximumVehicleIDBytes
            || vehicleID.contains(where: { "/+#".contains($0) }) || UntrustedText.printable(vehicleID) != vehicleID
        {
            // Control characters would reach every log line and topic; '/', '+' and '#' change what a topic means.
            return "is not usable as one MQTT topic level: give 1 to \(maximumVehicleIDBytes) bytes without '/', '+', "
                + "'#' or control characters, such as the VIN"
        }
        return nil
    }

    /// Why `prefix` (without a trailing '/') cannot begin the vehicle's topics (said after the value), or nil.
    public static func prefixProblem(_ prefix: String) -> String? {
        if prefix.isEmpty || prefix.contains(where: { "+#".contains($0) }) || prefix.hasPrefix("/") || prefix.utf8.count > 256
            || UntrustedText.printable(prefix) != prefix
        {
            return "is not usable as a topic prefix: give up to 256 bytes of topic levels such as 'axle/v1', with no "
                + "'+', '#', control characters or leading '/'"
        }
        return nil
    }

    public var base: String { "\(prefix)/\(vehicleID)" }
    /// Telemetry batches (TelemetryBatch, zstd-compressed protobuf).
    public var telemetry: String { "\(base)/telemetry" }
    /// Events: triggered events, and the agent's own (records dropped, database replaced).
    public var events: String { "\(base)/events" }
    /// Retained JSON status: "online" (birth) or "offline" (Last Will or shutdown).
    public var status: String { "\(base)/status" }
    /// Command requests from the backend, and the vehicle's responses.
    public var commandRequests: String { "\(base)/cmd/req" }
    /// Responses when the request named no MQTT 5 Response Topic (MQTT 3.1.1).
    public var commandResponses: String { "\(base)/cmd/res" }
    /// Retained JSON: the feature entitlements and whether each is active.
    public var features: String { "\(base)/features" }

    /// Longest Response Topic answers go to; a longer one is ignored like a foreign one.
    public static let maximumResponseTopicBytes = 256

    /// Where answers to a request go: its MQTT 5 Response Topic when that is `…/cmd/res` or below it, else
    /// `…/cmd/res`. Anything else is ignored: the sender of a request is not authenticated when the topic is read, a
    /// topic outside the vehicle's subtree (`$SYS/x`, another vehicle's) is one the broker's ACL refuses — and a broker
    /// that disconnects on a refused publish (AWS IoT Core, mosquitto without queue room) would take the uplink down —
    /// and elsewhere in the subtree an answer would pass for telemetry, an event or the vehicle's status.
    public func answerTopic(requested: String?) -> String {
        guard let requested, isAnswerTopic(requested) else { return commandResponses }
        return requested
    }

    /// Whether `topic` is `…/cmd/res` or a topic below it, usable for a publish (no wildcard, no empty level, no NUL).
    public func isAnswerTopic(_ topic: String) -> Bool {
        guard topic == commandResponses || topic.hasPrefix(commandResponses + "/") else { return false }
        return topic.utf8.count <= Self.maximumResponseTopicBytes && !topic.hasSuffix("/") && !topic.contains("//")
            && !topic.contains { "+#\u{0}".contains($0) }
    }
}

/// A setting the agent cannot run with; the text says which and what to give instead.
public struct AgentConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
