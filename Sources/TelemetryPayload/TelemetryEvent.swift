/// Something that happened once, sent in a batch beside the samples.
public struct TelemetryEvent: Sendable, Equatable {
    /// A stable machine-readable name ("harsh_braking", "outbox.records_dropped").
    public var name: String
    /// When it happened, in microseconds since the Unix epoch; kept at full resolution.
    public var timeMicros: Int64
    /// The outbox priority class it travels in ("critical", "telemetry", …).
    public var priority: String
    /// Free-form detail as text.
    public var attributes: [String: String]
    /// Outbox records that will never arrive (for "records dropped" events).
    public var droppedRanges: [DroppedRange]
    /// Samples around the trigger time (for condition-triggered events).
    public var window: EventWindow?

    /// An event; only the name, time and priority class are needed.
    public init(
        name: String, timeMicros: Int64, priority: String, attributes: [String: String] = [:],
        droppedRanges: [DroppedRange] = [], window: EventWindow? = nil
    ) {
        self.name = name
        self.timeMicros = timeMicros
        self.priority = priority
        self.attributes = attributes
        self.droppedRanges = droppedRanges
        self.window = window
    }
}

/// A range of outbox sequence numbers that were dropped and will never be sent.
public struct DroppedRange: Sendable, Hashable {
    /// The outbox class the records belonged to.
    public var recordClass: String
    /// First and last sequence numbers, inclusive.
    public var first: UInt64
    public var last: UInt64
    /// How many records of the range were dropped (fewer than the range's length when other classes interleave).
    public var count: UInt64
    /// Why they were dropped ("storage cap", "expired").
    public var reason: String

    /// A range of dropped records.
    public init(recordClass: String, first: UInt64, last: UInt64, count: UInt64, reason: String) {
        self.recordClass = recordClass
        self.first = first
        self.last = last
        self.count = count
        self.reason = reason
    }
}

/// The samples recorded around an event's trigger: before the event's time is pre-trigger, from it on post-trigger.
public struct EventWindow: Sendable, Equatable {
    /// How far the window was asked to reach before and after the trigger, in microseconds.
    public var preTriggerMicros: Int64
    public var postTriggerMicros: Int64
    /// The samples. On the wire they are grouped into one series per signal, so a decoded window lists them grouped
    /// by signal (in the order each signal first appears), each signal's samples in their original order. Their
    /// times are rounded to the batch's time unit, like every sample time.
    public var samples: [WindowSample]

    /// A window of samples around a trigger.
    public init(preTriggerMicros: Int64, postTriggerMicros: Int64, samples: [WindowSample]) {
        self.preTriggerMicros = preTriggerMicros
        self.postTriggerMicros = postTriggerMicros
        self.samples = samples
    }
}

/// One sample in an event window: the signal it belongs to, its time, and its value (exact raw integer if it has one).
public struct WindowSample: Sendable, Equatable {
    /// The signal, with its scaling.
    public var signal: SignalDescription
    /// Microseconds since the Unix epoch.
    public var timeMicros: Int64
    /// The physical value.
    public var value: Double
    /// The raw integer behind `value` (`value == signal.value(raw: raw)`), or nil for a plain floating-point value.
    public var raw: Int64?

    /// A sample with an exact raw integer; its value follows from the signal's scaling.
    public init(signal: SignalDescription, timeMicros: Int64, raw: Int64) {
        self.signal = signal
        self.timeMicros = timeMicros
        self.value = signal.value(raw: raw)
        self.raw = raw
    }

    /// A sample with a floating-point value.
    public init(signal: SignalDescription, timeMicros: Int64, value: Double) {
        self.signal = signal
        self.timeMicros = timeMicros
        self.value = value
        self.raw = nil
    }
}
