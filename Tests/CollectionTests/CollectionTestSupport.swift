import Collection
import DBC
import FirmwareProfile

/// A catalog entry with the parts the engine reads (name, unit, staleness).
func catalogSignal(_ name: String, unit: String = "", staleAfter seconds: Double = 1) -> CatalogSignal {
    CatalogSignal(name: name, bus: "body", message: "Message", signal: name, unit: unit, staleAfterSeconds: seconds, line: 1)
}

func rule(_ name: String, _ signals: [String], _ mode: CollectionMode, enabled: Bool = true) -> CollectionRule {
    CollectionRule(name: name, signals: signals, mode: mode, enabled: enabled, line: 1)
}

func event(
    _ name: String, _ condition: Condition, capture: [String] = [], pre: Double = 0, post: Double = 0,
    priority: EventPriority = .alert, enabled: Bool = true
) -> EventRule {
    EventRule(
        name: name, condition: condition, conditionText: "\(name) condition", priority: priority, capture: capture,
        preTriggerSeconds: pre, postTriggerSeconds: post, enabled: enabled, line: 1)
}

/// A command whose precondition is `condition`, so that the engine keeps it evaluated with its history.
func command(_ name: String, precondition: Condition) -> CommandDefinition {
    CommandDefinition(
        name: name, bus: "body", message: "Command", signals: [:], parameters: [], counterSignal: nil, repeats: 1,
        intervalSeconds: 0, precondition: precondition, confirmation: nil, timeoutSeconds: 1, line: 1)
}

func makeProfile(
    catalog: [CatalogSignal], rules: [CollectionRule] = [], events: [EventRule] = [],
    commands: [CommandDefinition] = [], areas: [Area] = []
) -> FirmwareProfile {
    FirmwareProfile(
        name: "test-profile", platform: "Test", firmware: "1.0", directory: "/nonexistent", buses: [], catalog: catalog,
        rules: rules, events: events, commands: commands, areas: areas)
}

func signal(_ name: String) -> Operand { .signal(name) }

func compare(_ name: String, _ op: ComparisonOperator, _ number: Double, hysteresis: Double = 0) -> Condition {
    .comparison(lhs: .signal(name), op: op, rhs: .number(number), hysteresis: hysteresis)
}

/// A sample as a user reads it: series name, time in milliseconds, value.
struct Sample: Equatable, CustomStringConvertible {
    var series: String
    var millis: Int64
    var value: Double

    init(_ series: String, _ millis: Int64, _ value: Double) {
        self.series = series
        self.millis = millis
        self.value = value
    }

    var description: String { "(\(series) @\(millis) ms = \(value))" }
}

/// A marker where a sample would have been, as a user reads it: series name, time in milliseconds, what it meant.
struct Marker: Equatable, CustomStringConvertible {
    var series: String
    var millis: Int64
    var availability: SignalAvailability

    var description: String { "(\(series) @\(millis) ms: \(availability.name))" }
}

/// Drives an engine by signal name with times in milliseconds, and reads its output by series name.
final class Harness {
    let profile: FirmwareProfile
    let engine: CollectionEngine

    init(_ profile: FirmwareProfile, limits: CollectionLimits = CollectionLimits()) {
        self.profile = profile
        engine = CollectionEngine(profile: profile, limits: limits)
    }

    func index(_ name: String) -> Int {
        guard let index = profile.catalog.firstIndex(where: { $0.name == name }) else {
            fatalError("no catalog signal \(name) in the test profile")
        }
        return index
    }

    func ingest(_ name: String, ms: Int64, _ value: Double) {
        engine.ingest(signal: index(name), timeMicros: ms * 1000, value: value)
    }

    func ingest(_ name: String, micros: Int64, _ value: Double) {
        engine.ingest(signal: index(name), timeMicros: micros, value: value)
    }

    func advance(ms: Int64) {
        engine.advance(toMicros: ms * 1000)
    }

    /// The samples produced since the last call (markers of values that are not readings are kept for `markers()`).
    func samples() -> [Sample] {
        drain()
        defer { drainedSamples.removeAll() }
        return drainedSamples
    }

    /// The "not a reading" markers produced since the last call.
    func markers() -> [Marker] {
        drain()
        defer { drainedMarkers.removeAll() }
        return drainedMarkers
    }

    private var drainedSamples: [Sample] = []
    private var drainedMarkers: [Marker] = []

    private func drain() {
        engine.drainSamples { sample in
            let millis = sample.timeMicros / 1000
            precondition(millis * 1000 == sample.timeMicros, "sample time \(sample.timeMicros) µs is not whole ms: \(sample)")
            let series = engine.series[Int(sample.series)].name
            if sample.isNotReading {
                drainedMarkers.append(Marker(series: series, millis: millis, availability: sample.availability))
            } else {
                drainedSamples.append(Sample(series, millis, sample.value))
            }
        }
    }

    func events() -> [TriggeredEvent] { engine.drainEvents() }

    /// The catalog name of a captured sample.
    func name(of sample: CapturedSample) -> String { profile.catalog[sample.catalogIndex].name }
}
