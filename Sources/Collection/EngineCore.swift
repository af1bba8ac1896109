import DBC
import FirmwareProfile

/// Where an ingested value of one catalog signal goes: ranges into the engine's flat arrays, computed once so that
/// `ingest` does no lookup by name or key.
struct SignalRoute: Sendable {
    /// On-change slots are sorted by signal, so a signal's slots are one range.
    var onChange: Range<Int32> = 0..<0
    var aggregate: Range<Int32> = 0..<0
    /// Range of `EngineCore.conditionsBySignal`: the conditions that read the signal.
    var conditions: Range<Int32> = 0..<0
    /// The signal's pre-trigger ring, or -1 when no event captures it.
    var ring: Int32 = -1
}

/// A periodic rule: its interval and the next boundary on the frame clock.
struct PeriodicRule: Sendable {
    var intervalMicros: Int64
    var nextBoundary: Int64 = .max
    var enabled: Bool
    /// Range of `EngineCore.periodicMembers`.
    var members: Range<Int>
}

/// A signal of a periodic rule and the series it feeds.
struct SeriesMember: Sendable {
    var signal: Int32
    var series: Int32
}

/// One signal of one on-change rule, with what it last sent.
struct OnChangeSlot: Sendable {
    var signal: Int32
    var series: Int32
    var rule: Int32
    var enabled: Bool
    var hasSent = false
    var deadband: Double
    /// 0: no heartbeat.
    var heartbeatMicros: Int64
    var lastValue = 0.0
    var lastTime: Int64 = 0
    /// When the heartbeat re-sends, or `.max` (no heartbeat, or waiting for a fresh value).
    var heartbeatDue = Int64.max
    /// What the slot sent last: `.valid` after a sample (or nothing yet), else the kind of "not a reading" marker,
    /// so that a run of such values is marked once and the next reading is sent whatever the deadband.
    var lastNotReading = SignalAvailability.valid

    mutating func restart() {
        hasSent = false
        heartbeatDue = .max
        lastNotReading = .valid
    }
}

/// An aggregate rule: its window and the end of the window now open.
struct AggregateRule: Sendable {
    var windowMicros: Int64
    var windowEnd: Int64 = .max
    var enabled: Bool
    /// Indices of `EngineCore.aggregateSlots`.
    var slots: [Int32]
}

/// One signal of one aggregate rule: the running statistics of the open window.
struct AggregateSlot: Sendable {
    var signal: Int32
    var rule: Int32
    var enabled: Bool
    var count = 0
    var sum = 0.0
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var last = 0.0
    /// Range of `EngineCore.aggregateOutputs`.
    var outputs: Range<Int32>

    @inline(__always)
    mutating func add(_ value: Double) {
        count += 1
        sum += value
        if value < minimum { minimum = value }
        if value > maximum { maximum = value }
        last = value
    }

    mutating func restart() {
        count = 0
        sum = 0
        minimum = .infinity
        maximum = -.infinity
    }
}

/// An aggregate function and the series it writes to.
struct AggregateOutput: Sendable {
    var function: AggregateFunction
    var series: Int32
}

/// A compiled condition: an event's, or a command's precondition or confirmation (kept evaluated so that `for`,
/// hysteresis and edges have their history when a command asks).
struct ConditionSlot: Sendable {
    var nodes: Range<Int>
    /// Range of `EngineCore.conditionReads`: the signals the condition reads.
    var reads: Range<Int>
    /// The event it triggers, or -1.
    var event: Int32
    var enabled: Bool
    var result = Truth.unknown
    /// The next instant its result can change without a new value (a signal turning stale, a `for` completing);
    /// `.min` = at the next moment the clock is processed.
    var deadline = Int64.min
}

/// An event rule's fixed description and its count of windows being filled.
struct EventState: Sendable {
    var name: String
    var priority: EventPriority
    var conditionText: String
    var preMicros: Int64
    var postMicros: Int64
    /// Catalog indices, without repeats.
    var capture: [Int32]
    var condition: Int
    var enabled: Bool
    var inFlight = 0
}

/// An event window being filled after its trigger.
struct Capture: Sendable {
    var event: Int32
    var triggerMicros: Int64
    var endMicros: Int64
    var samples: [CapturedSample]
    /// Post-trigger values taken so far, per position of the event's capture list.
    var taken: [Int32]
    var dropped = 0
}

/// What `setEnabled` switches: one rule or event, as the profile named it.
struct RuleEntry: Sendable {
    enum Target: Sendable {
        case periodic(Int)
        case onChange([Int32])
        case aggregate(Int)
        case event(Int)
    }

    var name: String
    var kind: String
    var enabled: Bool
    var target: Target
}

/// The engine's state and work, as a struct so that the hot path runs on `inout self`: no dynamic exclusivity
/// checks per array access, as there would be on a class's stored properties.
struct EngineCore {
    let limits: CollectionLimits
    let profileName: String

    private(set) var hasTime = false
    private(set) var now: Int64 = 0
    /// The earliest instant at which something is due without a new value; every due item is at or after it.
    private var nextDeadline = Int64.max

    private(set) var signals: [SignalState]
    private let routes: [SignalRoute]

    private var periodicRules: [PeriodicRule]
    private let periodicMembers: [SeriesMember]
    private var onChangeSlots: [OnChangeSlot]
    private var aggregateRules: [AggregateRule]
    private var aggregateSlots: [AggregateSlot]
    private let aggregateOutputs: [AggregateOutput]

    private var program: ConditionProgram
    private var conditions: [ConditionSlot]
    /// The source of each condition, beside `conditions` to keep that array trivially copyable.
    private let conditionSources: [Condition]
    private let conditionReads: [Int32]
    private let conditionsBySignal: [Int32]

    private var events: [EventState]
    /// `event * catalog.count + signal` → the signal's position in the event's capture list, or -1.
    private let capturePosition: [Int32]
    private var rings: [SampleRing]
    private var captures: [Capture] = []

    private(set) var rules: [RuleEntry]
    var samples: [CollectedSample] = []
    var completedEvents: [TriggeredEvent] = []
    private(set) var statistics = CollectionStatistics()

    /// The output series, fixed at init (see `CollectionEngine.series`).
    let series: [SeriesDescription]

    // MARK: Compiling the profile

    init(profile: FirmwareProfile, limits: CollectionLimits) {
        self.limits = limits
        profileName = profile.name
        let catalog = profile.catalog
        var indexByName: [String: Int] = [:]
        for (index, signal) in catalog.enumerated() where indexByName[signal.name] == nil { indexByName[signal.name] = index }
        signals = catalog.map { SignalState(staleMicros: max(0, microseconds($0.staleAfterSeconds))) }

        // Series: one per signal for periodic and on-change rules, one per (signal, function) for aggregates.
        var series: [SeriesDescription] = []
        var plainSeries: [Int: Int32] = [:]
        var aggregateSeries: [String: Int32] = [:]
        func seriesOf(_ signal: Int) -> Int32 {
            if let index = plainSeries[signal] { return index }
            series.append(SeriesDescription(
                name: catalog[signal].name, unit: catalog[signal].unit, catalogIndex: signal, function: nil))
            plainSeries[signal] = Int32(series.count - 1)
            return Int32(series.count - 1)
        }
        func seriesOf(_ signal: Int, _ function: AggregateFunction) -> Int32 {
            let key = "\(signal):\(function.rawValue)"
            if let index = aggregateSeries[key] { return index }
            series.append(SeriesDescription(
                name: "\(catalog[signal].name):\(function.rawValue)", unit: function == .count ? "" : catalog[signal].unit,
                catalogIndex: signal, function: function))
            aggregateSeries[key] = Int32(series.count - 1)
            return Int32(series.count - 1)
        }

        var periodicRules: [PeriodicRule] = []
        var periodicMembers: [SeriesMember] = []
        var onChangeSlots: [OnChangeSlot] = []
        var aggregateRules: [AggregateRule] = []
        var aggregateSlots: [AggregateSlot] = []
        var aggregateOutputs: [AggregateOutput] = []
        var rules: [RuleEntry] = []
        for (ruleIndex, rule) in profile.rules.enumerated() {
            var members: [Int] = []
            for name in rule.signals {
                if let index = indexByName[name], !members.contains(index) { members.append(index) }
            }
            switch rule.mode {
            case .periodic(let interval):
                let first = periodicMembers.count
                for signal in members { periodicMembers.append(SeriesMember(signal: Int32(signal), series: seriesOf(signal))) }
                periodicRules.append(PeriodicRule(
                    intervalMicros: max(1, microseconds(interval)), enabled: rule.enabled,
                    members: first..<periodicMembers.count))
                rules.append(RuleEntry(
                    name: rule.name, kind: "periodic", enabled: rule.enabled, target: .periodic(periodicRules.count - 1)))
            case .onChange(let deadband, let heartbeat):
                for signal in members {
                    onChangeSlots.append(OnChangeSlot(
                        signal: Int32(signal), series: seriesOf(signal), rule: Int32(ruleIndex), enabled: rule.enabled,
                        deadband: max(0, deadband), heartbeatMicros: heartbeat.map { max(1, microseconds($0)) } ?? 0))
                }
                rules.append(RuleEntry(name: rule.name, kind: "on-change", enabled: rule.enabled, target: .onChange([])))
            case .aggregate(let window, let functions):
                var unique: [AggregateFunction] = []
                for function in functions where !unique.contains(function) { unique.append(function) }
                for signal in members {
                    let first = Int32(aggregateOutputs.count)
                    for function in unique {
                        aggregateOutputs.append(AggregateOutput(function: function, series: seriesOf(signal, function)))
                    }
                    aggregateSlots.append(AggregateSlot(
                        signal: Int32(signal), rule: Int32(aggregateRules.count), enabled: rule.enabled,
                        outputs: first..<Int32(aggregateOutputs.count)))
                }
                aggregateRules.append(AggregateRule(
                    windowMicros: max(1, microseconds(window)), enabled: rule.enabled, slots: []))
                rules.append(RuleEntry(
                    name: rule.name, kind: "aggregate", enabled: rule.enabled, target: .aggregate(aggregateRules.count - 1)))
            }
        }
        // Sorted by signal (stably, so rules keep profile order), a signal's slots are one range of the array.
        onChangeSlots = onChangeSlots.enumerated().sorted { ($0.element.signal, $0.offset) < ($1.element.signal, $1.offset) }
            .map(\.element)
        aggregateSlots = aggregateSlots.enumerated()
            .sorted { ($0.element.signal, $0.offset) < ($1.element.signal, $1.offset) }.map(\.element)
        for (ruleIndex, entry) in rules.enumerated() {
            if case .onChange = entry.target {
                rules[ruleIndex].target = .onChange(
                    onChangeSlots.indices.filter { onChangeSlots[$0].rule == Int32(ruleIndex) }.map { Int32($0) })
            }
        }
        for (slotIndex, slot) in aggregateSlots.enumerated() {
            aggregateRules[Int(slot.rule)].slots.append(Int32(slotIndex))
        }

        // Conditions: events first, then the commands' preconditions and confirmations.
        var program = ConditionProgram()
        var conditions: [ConditionSlot] = []
        var conditionSources: [Condition] = []
        var conditionReads: [Int32] = []
        func addCondition(_ condition: Condition, event: Int32, enabled: Bool) -> Int {
            var reads: [Int32] = []
            let nodes = program.append(condition, signalIndex: { indexByName[$0] }, areas: profile.areas, reads: &reads)
            let first = conditionReads.count
            conditionReads.append(contentsOf: reads)
            conditions.append(ConditionSlot(nodes: nodes, reads: first..<conditionReads.count, event: event, enabled: enabled))
            conditionSources.append(condition)
            return conditions.count - 1
        }
        var events: [EventState] = []
        var capturePosition = [Int32](repeating: -1, count: profile.events.count * catalog.count)
        var ringSpan = [Int64?](repeating: nil, count: catalog.count)
        for (eventIndex, event) in profile.events.enumerated() {
            let condition = addCondition(event.condition, event: Int32(eventIndex), enabled: event.enabled)
            var capture: [Int32] = []
            for name in event.capture {
                guard let signal = indexByName[name], !capture.contains(Int32(signal)) else { continue }
                capturePosition[eventIndex * catalog.count + signal] = Int32(capture.count)
                capture.append(Int32(signal))
            }
            let pre = max(0, microseconds(event.preTriggerSeconds))
            for signal in capture { ringSpan[Int(signal)] = max(ringSpan[Int(signal)] ?? 0, pre) }
            events.append(EventState(
                name: event.name, priority: event.priority, conditionText: event.conditionText, preMicros: pre,
                postMicros: max(0, microseconds(event.postTriggerSeconds)), capture: capture, condition: condition,
                enabled: event.enabled))
            rules.append(RuleEntry(name: event.name, kind: "event", enabled: event.enabled, target: .event(eventIndex)))
        }
        let firstWatched = conditions.count
        for command in profile.commands {
            for condition in [command.precondition, command.confirmation].compactMap({ $0 })
            where !conditionSources[firstWatched...].contains(condition) {
                _ = addCondition(condition, event: -1, enabled: true)
            }
        }

        // Routes: per signal, the ranges of its slots, the conditions that read it, and its ring.
        var routes = [SignalRoute](repeating: SignalRoute(), count: catalog.count)
        func ranges(_ signalOfSlot: [Int32]) -> [Range<Int32>] {
            var result = [Range<Int32>](repeating: 0..<0, count: catalog.count)
            var slot = 0
            for signal in 0..<catalog.count {
                let first = slot
                while slot < signalOfSlot.count && signalOfSlot[slot] == Int32(signal) { slot += 1 }
                result[signal] = Int32(first)..<Int32(slot)
            }
            return result
        }
        let onChangeRanges = ranges(onChangeSlots.map(\.signal))
        let aggregateRanges = ranges(aggregateSlots.map(\.signal))
        var readers = [[Int32]](repeating: [], count: catalog.count)
        for (conditionIndex, condition) in conditions.enumerated() {
            for signal in conditionReads[condition.reads] { readers[Int(signal)].append(Int32(conditionIndex)) }
        }
        var conditionsBySignal: [Int32] = []
        var rings: [SampleRing] = []
        for signal in 0..<catalog.count {
            routes[signal].onChange = onChangeRanges[signal]
            routes[signal].aggregate = aggregateRanges[signal]
            let first = Int32(conditionsBySignal.count)
            conditionsBySignal.append(contentsOf: readers[signal])
            routes[signal].conditions = first..<Int32(conditionsBySignal.count)
            if let span = ringSpan[signal] {
                routes[signal].ring = Int32(rings.count)
                rings.append(SampleRing(spanMicros: span, limit: limits.maximumSamplesPerSignal))
            }
        }

        self.series = series
        self.routes = routes
        self.periodicRules = periodicRules
        self.periodicMembers = periodicMembers
        self.onChangeSlots = onChangeSlots
        self.aggregateRules = aggregateRules
        self.aggregateSlots = aggregateSlots
        self.aggregateOutputs = aggregateOutputs
        self.program = program
        self.conditions = conditions
        self.conditionSources = conditionSources
        self.conditionReads = conditionReads
        self.conditionsBySignal = conditionsBySignal
        self.events = events
        self.capturePosition = capturePosition
        self.rings = rings
        self.rules = rules
    }

    // MARK: The hot path

    /// Records a value and runs everything that reads it; see `CollectionEngine.ingest`.
    @inline(__always)
    mutating func ingest(signal: Int, timeMicros: Int64, value: Double) {
        guard signal >= 0 && signal < signals.count else { return }
        let time = clamped(timeMicros)
        if time > now || !hasTime { moveClock(to: time) }
        signals[signal].record(value, at: time)
        let route = routes[signal]
        if route.ring >= 0 { keepForEvents(signal: signal, ring: Int(route.ring), time: time, value: value) }
        var index = Int(route.onChange.lowerBound)
        while index < Int(route.onChange.upperBound) {
            offerOnChange(slot: index, time: time, value: value)
            index += 1
        }
        index = Int(route.aggregate.lowerBound)
        while index < Int(route.aggregate.upperBound) {
            if aggregateSlots[index].enabled { aggregateSlots[index].add(value) }
            index += 1
        }
        reevaluateConditions(of: route)
    }

    /// Records that the newest value is not a reading; see `CollectionEngine.ingestNotReading`.
    mutating func ingestNotReading(signal: Int, timeMicros: Int64, availability: SignalAvailability) {
        guard signal >= 0 && signal < signals.count else { return }
        let time = clamped(timeMicros)
        if time > now || !hasTime { moveClock(to: time) }
        signals[signal].recordNotReading(availability, at: time)
        // No sample, no aggregate, nothing in the event rings: a marker for on-change rules when the kind changes
        // (periodic rules mark at their boundaries), and the conditions that read the signal, which see unknown.
        let route = routes[signal]
        var index = Int(route.onChange.lowerBound)
        while index < Int(route.onChange.upperBound) {
            markOnChange(slot: index, time: time, availability: availability)
            index += 1
        }
        reevaluateConditions(of: route)
    }

    /// Re-evaluates, at "now", the enabled conditions that read the signal whose route this is.
    @inline(__always)
    private mutating func reevaluateConditions(of route: SignalRoute) {
        var index = Int(route.conditions.lowerBound)
        while index < Int(route.conditions.upperBound) {
            let condition = Int(conditionsBySignal[index])
            if conditions[condition].enabled { evaluateCondition(condition, at: now) }
            index += 1
        }
    }

    /// Moves "now" forward (never back) and runs what fell due on the way.
    mutating func advance(to timeMicros: Int64) {
        let time = clamped(timeMicros)
        if time > now || !hasTime { moveClock(to: time) }
    }

    /// Times beyond ±2^60 µs (36,000 years) are taken as that bound, so that adding a duration (at most 2^52 µs,
    /// see `microseconds`) to a time never overflows, and `.max`/`.min` stay free to mean "never".
    @inline(__always)
    private func clamped(_ time: Int64) -> Int64 {
        let limit: Int64 = 1 << 60
        return time > limit ? limit : time < -limit ? -limit : time
    }

    @inline(__always)
    private mutating func moveClock(to time: Int64) {
        if !hasTime {
            hasTime = true
            for index in periodicRules.indices {
                periodicRules[index].nextBoundary = boundary(after: time, every: periodicRules[index].intervalMicros)
            }
            for index in aggregateRules.indices {
                aggregateRules[index].windowEnd = boundary(after: time, every: aggregateRules[index].windowMicros)
            }
            // Every condition is evaluated once at the first instant (constants, and unknown for the rest).
            nextDeadline = .min
        }
        now = time
        if time >= nextDeadline { runDue(upTo: time) }
    }

    @inline(__always)
    private mutating func emit(series: Int32, time: Int64, value: Double) {
        samples.append(CollectedSample(series: series, timeMicros: time, value: value))
        statistics.samples += 1
    }

    @inline(__always)
    private mutating func emitNotReading(series: Int32, time: Int64, availability: SignalAvailability) {
        samples.append(CollectedSample(series: series, timeMicros: time, notReading: availability))
        statistics.notReadings += 1
    }

    /// An on-change slot's signal sent a value that is not a reading: a marker when the last thing the slot sent was
    /// a sample or a marker of another kind.
    private mutating func markOnChange(slot index: Int, time: Int64, availability: SignalAvailability) {
        let slot = onChangeSlots[index]
        guard slot.enabled, slot.lastNotReading != availability else { return }
        emitNotReading(series: slot.series, time: time, availability: availability)
        onChangeSlots[index].lastNotReading = availability
        sent(slot: index, at: time)
    }

    /// Records that an on-change slot sent something at `time`, and schedules its heartbeat from then.
    @inline(__always)
    private mutating func sent(slot index: Int, at time: Int64) {
        onChangeSlots[index].hasSent = true
        onChangeSlots[index].lastTime = time
        let heartbeat = onChangeSlots[index].heartbeatMicros
        if heartbeat > 0 {
            let due = time &+ heartbeat
            onChangeSlots[index].heartbeatDue = due
            if due < nextDeadline { nextDeadline = due }
        }
    }

    @inline(__always)
    private mutating func offerOnChange(slot index: Int, time: Int64, value: Double) {
        let slot = onChangeSlots[index]
        guard slot.enabled else { return }
        // After a marker, the next reading is news whatever the deadband.
        let moved = abs(value - slot.lastValue) > slot.deadband || value.isNaN != slot.lastValue.isNaN
            || slot.lastNotReading != .valid
        // A heartbeat due while the value was stale is sent with the first fresh value.
        let overdue = slot.heartbeatMicros > 0 && time &- slot.lastTime >= slot.heartbeatMicros
        guard !slot.hasSent || moved || overdue else { return }
        emit(series: slot.series, time: time, value: value)
        onChangeSlots[index].lastNotReading = .valid
        onChangeSlots[index].lastValue = value
        sent(slot: index, at: time)
    }

    /// Puts a captured signal's value into its ring and into the windows being filled.
    @inline(__always)
    private mutating func keepForEvents(signal: Int, ring: Int, time: Int64, value: Double) {
        rings[ring].push(time: time, value: value, now: now)
        guard !captures.isEmpty else { return }
        for index in captures.indices {
            let capture = captures[index]
            let position = capturePosition[Int(capture.event) * signals.count + signal]
            guard position >= 0, time <= capture.endMicros,
                time >= capture.triggerMicros &- events[Int(capture.event)].preMicros
            else { continue }
            if Int(capture.taken[Int(position)]) < limits.maximumSamplesPerSignal {
                captures[index].samples.append(CapturedSample(catalogIndex: signal, timeMicros: time, value: value))
                captures[index].taken[Int(position)] += 1
            } else {
                captures[index].dropped += 1
                statistics.capturedSamplesDropped += 1
            }
        }
    }

    /// Evaluates a condition at `time`, schedules its next re-evaluation, and triggers its event on false → true.
    private mutating func evaluateCondition(_ index: Int, at time: Int64) {
        let slot = conditions[index]
        var deadline = Int64.max
        let result = program.evaluate(slot.nodes, at: time, signals: signals, deadline: &deadline)
        // The result can also change when a signal it reads turns stale: one µs after its last fresh instant.
        for read in slot.reads {
            let freshUntil = signals[Int(conditionReads[read])].freshUntil
            if freshUntil >= time && freshUntil < deadline { deadline = freshUntil + 1 }
        }
        conditions[index].result = result
        conditions[index].deadline = deadline
        if deadline < nextDeadline { nextDeadline = deadline }
        if result == .true && slot.result != .true && slot.event >= 0 { trigger(event: Int(slot.event), at: time) }
    }

    // MARK: Time-driven work

    /// Runs, in order of kind, everything due at or before `time`; each item runs at its own instant, so output does
    /// not depend on how often the clock is advanced.
    private mutating func runDue(upTo time: Int64) {
        for index in conditions.indices where conditions[index].enabled {
            while conditions[index].deadline <= time {
                let deadline = conditions[index].deadline
                evaluateCondition(index, at: deadline == .min ? time : deadline)
            }
        }
        for index in periodicRules.indices where periodicRules[index].enabled {
            while periodicRules[index].nextBoundary <= time {
                let rule = periodicRules[index]
                var anyEmitted = false
                for member in periodicMembers[rule.members] {
                    let signal = signals[Int(member.signal)]
                    if signal.isFresh(at: rule.nextBoundary) {
                        emit(series: member.series, time: rule.nextBoundary, value: signal.value)
                        anyEmitted = true
                    } else if signal.hasCurrentNotReading(at: rule.nextBoundary) {
                        emitNotReading(series: member.series, time: rule.nextBoundary, availability: signal.availability)
                        anyEmitted = true
                    }
                }
                // With nothing fresh, nothing can be until a new value arrives: skip the empty boundaries.
                periodicRules[index].nextBoundary = anyEmitted
                    ? rule.nextBoundary + rule.intervalMicros : boundary(after: time, every: rule.intervalMicros)
            }
        }
        for index in aggregateRules.indices where aggregateRules[index].enabled && aggregateRules[index].windowEnd <= time {
            closeWindow(rule: index)
            // Windows after the closed one up to `time` received no value: they are empty and emit nothing.
            aggregateRules[index].windowEnd = boundary(after: time, every: aggregateRules[index].windowMicros)
        }
        for index in onChangeSlots.indices where onChangeSlots[index].enabled {
            while onChangeSlots[index].heartbeatDue <= time {
                let slot = onChangeSlots[index]
                let due = slot.heartbeatDue
                let signal = signals[Int(slot.signal)]
                if signal.isFresh(at: due) {
                    emit(series: slot.series, time: due, value: signal.value)
                    onChangeSlots[index].lastValue = signal.value
                    onChangeSlots[index].lastNotReading = .valid
                    onChangeSlots[index].lastTime = due
                    onChangeSlots[index].heartbeatDue = due + slot.heartbeatMicros
                } else if signal.hasCurrentNotReading(at: due) {
                    emitNotReading(series: slot.series, time: due, availability: signal.availability)
                    onChangeSlots[index].lastNotReading = signal.availability
                    onChangeSlots[index].lastTime = due
                    onChangeSlots[index].heartbeatDue = due + slot.heartbeatMicros
                } else {
                    onChangeSlots[index].heartbeatDue = .max
                }
            }
        }
        if !captures.isEmpty {
            var index = 0
            while index < captures.count {
                if captures[index].endMicros < time {
                    finishCapture(index)
                } else {
                    index += 1
                }
            }
        }
        nextDeadline = earliestDeadline()
    }

    private func earliestDeadline() -> Int64 {
        var earliest = Int64.max
        for condition in conditions where condition.enabled { earliest = min(earliest, condition.deadline) }
        for rule in periodicRules where rule.enabled { earliest = min(earliest, rule.nextBoundary) }
        for rule in aggregateRules where rule.enabled { earliest = min(earliest, rule.windowEnd) }
        for slot in onChangeSlots where slot.enabled { earliest = min(earliest, slot.heartbeatDue) }
        // A window is complete once the clock is past its end, so that a value stamped exactly at the end is in.
        for capture in captures { earliest = min(earliest, capture.endMicros + 1) }
        return earliest
    }

    private mutating func closeWindow(rule index: Int) {
        let end = aggregateRules[index].windowEnd
        for slotIndex in aggregateRules[index].slots {
            let slot = aggregateSlots[Int(slotIndex)]
            guard slot.count > 0 else { continue }
            for output in aggregateOutputs[Int(slot.outputs.lowerBound)..<Int(slot.outputs.upperBound)] {
                let value: Double
                switch output.function {
                case .min: value = slot.minimum
                case .max: value = slot.maximum
                case .mean: value = slot.sum / Double(slot.count)
                case .count: value = Double(slot.count)
                case .last: value = slot.last
                }
                emit(series: output.series, time: end, value: value)
            }
            aggregateSlots[Int(slotIndex)].restart()
        }
    }

    // MARK: Events

    private mutating func trigger(event index: Int, at time: Int64) {
        let event = events[index]
        guard event.inFlight < limits.maximumCapturesInFlight else {
            statistics.triggersSkipped += 1
            return
        }
        let window = (time &- event.preMicros)...(time &+ event.postMicros)
        var samples: [CapturedSample] = []
        for signal in event.capture {
            let ring = Int(routes[Int(signal)].ring)
            rings[ring].forEach(in: window) { sampleTime, value in
                samples.append(CapturedSample(catalogIndex: Int(signal), timeMicros: sampleTime, value: value))
            }
        }
        captures.append(Capture(
            event: Int32(index), triggerMicros: time, endMicros: window.upperBound, samples: samples,
            taken: [Int32](repeating: 0, count: event.capture.count)))
        events[index].inFlight += 1
        if window.upperBound + 1 < nextDeadline { nextDeadline = window.upperBound + 1 }
    }

    private mutating func finishCapture(_ index: Int) {
        let capture = captures.remove(at: index)
        let event = events[Int(capture.event)]
        events[Int(capture.event)].inFlight -= 1
        // Stable: values with the same time stay in capture-list order (before the trigger) or arrival order.
        let samples = capture.samples.sorted { $0.timeMicros < $1.timeMicros }
        completedEvents.append(TriggeredEvent(
            name: event.name, priority: event.priority, conditionText: event.conditionText,
            triggerMicros: capture.triggerMicros, preTriggerMicros: event.preMicros, postTriggerMicros: event.postMicros,
            samples: samples, droppedSamples: capture.dropped))
        statistics.events += 1
    }

    // MARK: Control

    /// The current result of `condition`: kept up to date when the profile defines it (with `for`, hysteresis and
    /// edges seeing their history), otherwise evaluated once, without history.
    mutating func evaluate(_ condition: Condition, catalog: [String: Int], areas: [Area]) -> Truth {
        // A profile condition not evaluated yet (no time seen) is evaluated below like any other.
        if let index = conditions.indices.reversed().first(where: {
            conditions[$0].enabled && conditions[$0].deadline != .min && conditionSources[$0] == condition
        }) {
            return conditions[index].result
        }
        var program = ConditionProgram()
        var reads: [Int32] = []
        let nodes = program.append(condition, signalIndex: { catalog[$0] }, areas: areas, reads: &reads)
        var deadline = Int64.max
        return program.evaluate(nodes, at: now, signals: signals, deadline: &deadline)
    }

    /// Switches every rule and event called `name`; returns false when there is none.
    mutating func setEnabled(_ enabled: Bool, name: String) -> Bool {
        var found = false
        for index in rules.indices where rules[index].name == name {
            found = true
            guard rules[index].enabled != enabled else { continue }
            rules[index].enabled = enabled
            switch rules[index].target {
            case .periodic(let rule):
                periodicRules[rule].enabled = enabled
                periodicRules[rule].nextBoundary = hasTime ? boundary(after: now, every: periodicRules[rule].intervalMicros) : .max
            case .onChange(let slots):
                for slot in slots {
                    onChangeSlots[Int(slot)].enabled = enabled
                    onChangeSlots[Int(slot)].restart()
                }
            case .aggregate(let rule):
                aggregateRules[rule].enabled = enabled
                aggregateRules[rule].windowEnd = hasTime ? boundary(after: now, every: aggregateRules[rule].windowMicros) : .max
                for slot in aggregateRules[rule].slots {
                    aggregateSlots[Int(slot)].enabled = enabled
                    aggregateSlots[Int(slot)].restart()
                }
            case .event(let event):
                setEvent(event, enabled: enabled)
            }
        }
        nextDeadline = hasTime ? earliestDeadline() : nextDeadline
        return found
    }

    private mutating func setEvent(_ index: Int, enabled: Bool) {
        events[index].enabled = enabled
        let condition = events[index].condition
        conditions[condition].enabled = enabled
        conditions[condition].result = .unknown
        conditions[condition].deadline = .min
        program.reset(conditions[condition].nodes)
        // Disabling stops output at once: the windows being filled are dropped.
        captures.removeAll { $0.event == Int32(index) }
        events[index].inFlight = 0
        if enabled && hasTime { evaluateCondition(condition, at: now) }
    }
}

/// The first multiple of `interval` after `time` (boundaries and windows are aligned to the clock's zero).
@inline(__always)
func boundary(after time: Int64, every interval: Int64) -> Int64 {
    let quotient = time >= 0 ? time / interval : -((-time - 1) / interval) - 1
    return (quotient + 1) * interval
}
