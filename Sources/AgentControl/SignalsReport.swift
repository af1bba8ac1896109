import AxleBase

/// The latest decoded values: the result of `signals`.
public struct SignalsReport: Sendable, Equatable {
    public var signals: [SignalValue]

    /// A report, in the order the agent lists its signals.
    public init(signals: [SignalValue]) {
        self.signals = signals
    }

    /// Only the signals `filter` matches (by VSS name or by DBC source).
    public func filtered(by filter: SignalFilter?) -> SignalsReport {
        guard let filter else { return self }
        return SignalsReport(signals: signals.filter { filter.matches($0) })
    }

    /// The report as sent on the socket and printed by `axle signals --json`.
    public func toJSON() -> JSONValue {
        .object([("signals", .array(signals.map { $0.toJSON() }))])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(signals: try reader.objects("signals", SignalValue.init(reader:)))
    }
}

/// One signal's latest value, under its VSS name.
public struct SignalValue: Sendable, Equatable {
    /// The VSS name, e.g. "Vehicle.Speed".
    public var name: String
    /// The physical value; nil when none was received yet, or when the newest value is not a reading.
    public var value: Double?
    /// The DBC value label for the value, e.g. "P" for a gear, when there is one.
    public var label: String?
    /// The unit, e.g. "km/h" ("" when the signal has none).
    public var unit: String
    /// Seconds since the value was received; nil when none was received yet.
    public var ageSeconds: Double?
    /// The bus it was read on, by profile name.
    public var bus: String
    /// The DBC source, "Message.Signal".
    public var source: String
    /// Whether the newest value is a reading: "valid", "not_available" or "error" (J1939's indicators, or a value
    /// outside the DBC's range; docs/dbc.md); nil when none was received yet.
    public var availability: String?

    /// A signal's value.
    public init(
        name: String, value: Double?, label: String?, unit: String, ageSeconds: Double?, bus: String, source: String,
        availability: String? = nil
    ) {
        self.name = name
        self.value = value
        self.label = label
        self.unit = unit
        self.ageSeconds = ageSeconds
        self.bus = bus
        self.source = source
        self.availability = availability
    }

    /// The value as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("name", .string(name)),
            ("value", .optional(value)),
            ("label", .optional(label)),
            ("unit", .string(unit)),
            ("age_seconds", .optional(ageSeconds)),
            ("bus", .string(bus)),
            ("source", .string(source)),
            ("availability", .optional(availability)),
        ])
    }

    /// Reads a value; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            name: try reader.string("name"),
            value: try reader.optionalDouble("value"),
            label: try reader.optionalString("label"),
            unit: try reader.string("unit"),
            ageSeconds: try reader.optionalDouble("age_seconds"),
            bus: try reader.string("bus"),
            source: try reader.string("source"),
            availability: try reader.optionalString("availability"))
    }
}

/// Which signals `axle signals FILTER` shows: a pattern with `*` (any run of characters, dots included) or `?` (one
/// character) is a glob over the whole name ("Vehicle.Body.*"); anything else matches as a substring ("speed").
/// Matching ignores letter case and applies to the VSS name and to the DBC source ("Message.Signal").
public struct SignalFilter: Sendable, Equatable {
    public let pattern: String
    private let folded: [Character]
    private let isGlob: Bool

    /// A filter; nil for an empty pattern, which would match everything anyway.
    public init?(_ pattern: String) {
        guard !pattern.isEmpty else { return nil }
        self.pattern = pattern
        folded = Array(pattern.lowercased())
        isGlob = pattern.contains("*") || pattern.contains("?")
    }

    /// Whether the filter matches the signal's VSS name or its DBC source.
    public func matches(_ signal: SignalValue) -> Bool {
        matches(name: signal.name) || matches(name: signal.source)
    }

    /// Whether the filter matches `name`.
    public func matches(name: String) -> Bool {
        let text = Array(name.lowercased())
        if isGlob { return Self.glob(folded[...], text[...]) }
        return Self.contains(text, folded)
    }

    private static func contains(_ text: [Character], _ part: [Character]) -> Bool {
        guard part.count <= text.count else { return false }
        for start in 0...(text.count - part.count) where text[start..<(start + part.count)].elementsEqual(part) {
            return true
        }
        return false
    }

    /// Iterative glob with backtracking to the last `*` only, so a pattern with many stars stays linear-ish instead
    /// of exponential.
    private static func glob(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        var starAt: Int?
        var resumeAt = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.endIndex, pattern[p] == "*" {
                starAt = p
                resumeAt = t
                p += 1
            } else if let star = starAt {
                p = star + 1
                resumeAt += 1
                t = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }
}
