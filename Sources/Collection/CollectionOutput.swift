import DBC
import FirmwareProfile

/// One output series of the engine: a catalog signal as collected by periodic and on-change rules, or one aggregate
/// function of a catalog signal. A sample names its series by index into `CollectionEngine.series`.
public struct SeriesDescription: Sendable, Equatable {
    /// The VSS name, with `:<function>` appended for an aggregate (`Vehicle.Speed:max`).
    public var name: String
    /// The catalog signal's unit; empty for `count`, which has none.
    public var unit: String
    /// Index into `FirmwareProfile.catalog`.
    public var catalogIndex: Int
    /// The aggregate function, or nil for the signal's own values.
    public var function: AggregateFunction?

    public init(name: String, unit: String, catalogIndex: Int, function: AggregateFunction?) {
        self.name = name
        self.unit = unit
        self.catalogIndex = catalogIndex
        self.function = function
    }
}

/// A telemetry sample produced by a collection rule, or a marker where a sample would have been but the signal's
/// newest value was not a reading (docs/collection.md, "Values that are not readings").
public struct CollectedSample: Sendable, Equatable {
    /// Index into `CollectionEngine.series`.
    public var series: Int32
    /// `.valid` for a sample; `.notAvailable` or `.error` for a marker, whose `value` is NaN and means nothing.
    /// (It fits in the padding after `series`: a sample stays 24 bytes.)
    public var availability: SignalAvailability
    /// Frame clock, microseconds (see docs/collection.md for which instant each mode stamps).
    public var timeMicros: Int64
    public var value: Double

    public init(series: Int32, timeMicros: Int64, value: Double) {
        self.series = series
        self.availability = .valid
        self.timeMicros = timeMicros
        self.value = value
    }

    /// A marker: at `timeMicros` series `series` has no sample because its signal's newest value was `availability`.
    public init(series: Int32, timeMicros: Int64, notReading availability: SignalAvailability) {
        self.series = series
        self.availability = availability
        self.timeMicros = timeMicros
        self.value = .nan
    }

    /// True for a marker (a value that was not a reading), false for a sample.
    public var isNotReading: Bool { availability != .valid }

    // NaN in `value` would make two equal markers unequal.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.series == rhs.series && lhs.availability == rhs.availability && lhs.timeMicros == rhs.timeMicros
            && (lhs.isNotReading || lhs.value == rhs.value)
    }
}

/// One captured value of an event's window.
public struct CapturedSample: Sendable, Equatable {
    /// Index into `FirmwareProfile.catalog`.
    public var catalogIndex: Int
    public var timeMicros: Int64
    public var value: Double

    public init(catalogIndex: Int, timeMicros: Int64, value: Double) {
        self.catalogIndex = catalogIndex
        self.timeMicros = timeMicros
        self.value = value
    }
}

/// An event whose condition became true, with the values of its captured signals from `preTriggerMicros` before
/// to `postTriggerMicros` after the trigger (both ends included), in time order.
public struct TriggeredEvent: Sendable, Equatable {
    /// The event rule's name.
    public var name: String
    public var priority: EventPriority
    /// The condition as the profile wrote it.
    public var conditionText: String
    /// When the condition became true (frame clock, µs).
    public var triggerMicros: Int64
    /// Length of the window before the trigger (µs): samples from `triggerMicros - preTriggerMicros` on.
    public var preTriggerMicros: Int64
    /// Length of the window after the trigger (µs): samples up to `triggerMicros + postTriggerMicros`.
    public var postTriggerMicros: Int64
    public var samples: [CapturedSample]
    /// Samples of the window left out because a signal exceeded `CollectionLimits.maximumSamplesPerSignal`
    /// (0 unless a captured signal is faster than the limit allows for the window's length).
    public var droppedSamples: Int

    public init(
        name: String, priority: EventPriority, conditionText: String, triggerMicros: Int64, preTriggerMicros: Int64,
        postTriggerMicros: Int64, samples: [CapturedSample], droppedSamples: Int = 0
    ) {
        self.name = name
        self.priority = priority
        self.conditionText = conditionText
        self.triggerMicros = triggerMicros
        self.preTriggerMicros = preTriggerMicros
        self.postTriggerMicros = postTriggerMicros
        self.samples = samples
        self.droppedSamples = droppedSamples
    }
}

/// A collection rule or event as it stands now, for `axle rules` and the agent's status.
public struct RuleState: Sendable, Equatable {
    public var name: String
    /// "periodic", "on-change", "aggregate" or "event".
    public var kind: String
    public var enabled: Bool

    public init(name: String, kind: String, enabled: Bool) {
        self.name = name
        self.kind = kind
        self.enabled = enabled
    }
}

/// The bounds that keep the engine's memory fixed however fast a signal is (docs/collection.md, "Limits").
public struct CollectionLimits: Sendable, Equatable {
    /// Per captured signal: the most values a pre-trigger ring buffer keeps, and the most values one event takes
    /// after its trigger.
    public var maximumSamplesPerSignal: Int
    /// Per event: the most windows being filled at once; a trigger beyond this is skipped and counted.
    public var maximumCapturesInFlight: Int

    public init(maximumSamplesPerSignal: Int = 8192, maximumCapturesInFlight: Int = 4) {
        self.maximumSamplesPerSignal = max(1, maximumSamplesPerSignal)
        self.maximumCapturesInFlight = max(1, maximumCapturesInFlight)
    }
}

/// Counters of what the engine produced and what it had to leave out.
public struct CollectionStatistics: Sendable, Equatable {
    public var samples = 0
    /// Markers where a sample would have been but the signal's newest value was not a reading.
    public var notReadings = 0
    public var events = 0
    /// Triggers ignored because the event already had `maximumCapturesInFlight` windows open.
    public var triggersSkipped = 0
    /// Captured values left out of events by `maximumSamplesPerSignal`.
    public var capturedSamplesDropped = 0

    public init() {}
}
