import AxleBase

/// The feature entitlements the agent holds (bought over the air with `feature.activate`): the result of `features`.
public struct FeaturesReport: Sendable, Equatable {
    public var features: [FeatureSummary]

    /// A report, in the order the agent keeps its entitlements.
    public init(features: [FeatureSummary]) {
        self.features = features
    }

    /// The report as sent on the socket and printed by `axle features --json`.
    public func toJSON() -> JSONValue {
        .object([("features", .array(features.map { $0.toJSON() }))])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(features: try reader.objects("features", FeatureSummary.init(reader:)))
    }
}

/// One feature entitlement: which feature, whether it is on now, for when it was granted, and by which command.
public struct FeatureSummary: Sendable, Equatable {
    /// The feature's id in the profile, e.g. "performance-boost".
    public var feature: String
    /// "active", "pending" (not yet valid), "expired" or "revoked"; a newer agent may report other states, which are
    /// kept as they came.
    public var state: String
    /// When the entitlement starts (unix milliseconds), nil when it was valid from the moment it arrived.
    public var validFromMillis: Int64?
    /// When the entitlement ends (unix milliseconds), nil for one without an end (e.g. "heated-seats").
    public var validUntilMillis: Int64?
    /// How long the feature has been active so far.
    public var activeSeconds: Double
    /// The id of the `feature.activate` command that granted it.
    public var commandID: String

    /// An entitlement as the agent holds it.
    public init(
        feature: String, state: String, validFromMillis: Int64?, validUntilMillis: Int64?, activeSeconds: Double,
        commandID: String
    ) {
        self.feature = feature
        self.state = state
        self.validFromMillis = validFromMillis
        self.validUntilMillis = validUntilMillis
        self.activeSeconds = activeSeconds
        self.commandID = commandID
    }

    /// The entitlement as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("feature", .string(feature)),
            ("state", .string(state)),
            ("valid_from_millis", .optional(validFromMillis)),
            ("valid_until_millis", .optional(validUntilMillis)),
            ("active_seconds", .number(activeSeconds)),
            ("command_id", .string(commandID)),
        ])
    }

    /// Reads an entitlement; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            feature: try reader.string("feature"),
            state: try reader.string("state"),
            validFromMillis: try reader.optionalInteger("valid_from_millis"),
            validUntilMillis: try reader.optionalInteger("valid_until_millis"),
            activeSeconds: try reader.double("active_seconds"),
            commandID: try reader.string("command_id"))
    }
}

/// The most recent remote commands the agent received, newest first: the result of `commands`.
public struct CommandsReport: Sendable, Equatable {
    public var commands: [CommandSummary]

    /// A report, newest command first.
    public init(commands: [CommandSummary]) {
        self.commands = commands
    }

    /// The report as sent on the socket and printed by `axle commands --json`.
    public func toJSON() -> JSONValue {
        .object([("commands", .array(commands.map { $0.toJSON() }))])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(commands: try reader.objects("commands", CommandSummary.init(reader:)))
    }
}

/// One remote command as the agent's journal records it: what was asked, by which key, and what became of it.
///
/// A rejected command's `id` and `name` are what the envelope claimed, even when its signature did not verify: they
/// come from whoever sent it, and a printer must not trust them (e.g. not write them raw to a terminal).
public struct CommandSummary: Sendable, Equatable {
    /// The command id (a UUID).
    public var id: String
    /// The command's name, e.g. "trunk.open".
    public var name: String
    /// ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED or INTERRUPTED; a newer agent may report other
    /// statuses, which are kept as they came.
    public var status: String
    /// The reason code of a rejection or failure, e.g. "precondition_failed"; nil otherwise.
    public var reason: String?
    /// The explanation for a person, e.g. "Vehicle.Speed is 12 km/h; trunk.open needs 0".
    public var text: String?
    /// When the agent received it (unix milliseconds).
    public var receivedMillis: Int64
    /// When its status last changed (unix milliseconds).
    public var updatedMillis: Int64
    /// The id of the backend key it was signed with.
    public var keyID: String

    /// A command as journaled.
    public init(
        id: String, name: String, status: String, reason: String?, text: String?, receivedMillis: Int64,
        updatedMillis: Int64, keyID: String
    ) {
        self.id = id
        self.name = name
        self.status = status
        self.reason = reason
        self.text = text
        self.receivedMillis = receivedMillis
        self.updatedMillis = updatedMillis
        self.keyID = keyID
    }

    /// The command as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("id", .string(id)),
            ("name", .string(name)),
            ("status", .string(status)),
            ("reason", .optional(reason)),
            ("text", .optional(text)),
            ("received_millis", .count(receivedMillis)),
            ("updated_millis", .count(updatedMillis)),
            ("key_id", .string(keyID)),
        ])
    }

    /// Reads a command; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            id: try reader.string("id"),
            name: try reader.string("name"),
            status: try reader.string("status"),
            reason: try reader.optionalString("reason"),
            text: try reader.optionalString("text"),
            receivedMillis: try reader.integer("received_millis"),
            updatedMillis: try reader.integer("updated_millis"),
            keyID: try reader.string("key_id"))
    }
}
