import AxleBase

/// The most recent triggered events, newest first: the result of `events`.
public struct EventsReport: Sendable, Equatable {
    public var events: [EventSummary]

    /// A report, newest event first.
    public init(events: [EventSummary]) {
        self.events = events
    }

    /// The report as sent on the socket and printed by `axle events --json`.
    public func toJSON() -> JSONValue {
        .object([("events", .array(events.map { $0.toJSON() }))])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(events: try reader.objects("events", EventSummary.init(reader:)))
    }
}

/// One triggered event: which, when, why, and where its record is.
public struct EventSummary: Sendable, Equatable {
    /// The event's name in the profile, e.g. "harsh_braking".
    public var name: String
    /// The outbox class its record went to ("critical", "alert", …).
    public var priority: String
    /// When the condition became true (unix milliseconds).
    public var timeMillis: Int64
    /// The condition as written in the profile, e.g. "Vehicle.Speed > 130".
    public var condition: String
    /// Samples captured in the event's window.
    public var samples: Int
    /// The outbox sequence number of the event's record, once stored.
    public var sequence: UInt64?

    /// An event as recorded.
    public init(name: String, priority: String, timeMillis: Int64, condition: String, samples: Int, sequence: UInt64?) {
        self.name = name
        self.priority = priority
        self.timeMillis = timeMillis
        self.condition = condition
        self.samples = samples
        self.sequence = sequence
    }

    /// The event as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("name", .string(name)),
            ("priority", .string(priority)),
            ("time_millis", .count(timeMillis)),
            ("condition", .string(condition)),
            ("samples", .count(samples)),
            ("sequence", .optional(sequence)),
        ])
    }

    /// Reads an event; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            name: try reader.string("name"),
            priority: try reader.string("priority"),
            timeMillis: try reader.integer("time_millis"),
            condition: try reader.string("condition"),
            samples: try reader.integer("samples"),
            sequence: try reader.optionalInteger("sequence"))
    }
}

/// The collection rules and whether each is on: the result of `rules`.
public struct RulesReport: Sendable, Equatable {
    public var rules: [RuleSummary]

    /// A report, in profile order.
    public init(rules: [RuleSummary]) {
        self.rules = rules
    }

    /// The report as sent on the socket and printed by `axle rules --json`.
    public func toJSON() -> JSONValue {
        .object([("rules", .array(rules.map { $0.toJSON() }))])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(rules: try reader.objects("rules", RuleSummary.init(reader:)))
    }
}

/// One collection rule; also the result of `set-rule` (the rule as it is after the change).
public struct RuleSummary: Sendable, Equatable {
    /// The rule's name in the profile.
    public var name: String
    /// What kind of rule: "periodic", "on-change", "aggregate", "event", … (as the profile names it).
    public var kind: String
    public var enabled: Bool

    /// A rule's summary.
    public init(name: String, kind: String, enabled: Bool) {
        self.name = name
        self.kind = kind
        self.enabled = enabled
    }

    /// The rule as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([("name", .string(name)), ("kind", .string(kind)), ("enabled", .bool(enabled))])
    }

    /// Reads a rule; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(name: try reader.string("name"), kind: try reader.string("kind"), enabled: try reader.bool("enabled"))
    }
}
