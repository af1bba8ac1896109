import DBC
import FirmwareProfile

/// Turns the stream of decoded catalog-signal values into telemetry samples (periodic, on-change and aggregate
/// rules) and into triggered events with pre- and post-trigger windows (docs/collection.md).
///
/// Time is the frames' own clock in microseconds, so a replay at full speed produces what the drive did: "now" is the
/// largest time seen by `ingest` and `advance`, and everything time-driven (boundaries, window ends, heartbeats,
/// staleness, `for` durations, event windows) happens at its own instant on that clock, however often `advance` is
/// called. Used by one thread, the pipeline's; not `Sendable`.
///
/// `ingest` is the agent's hot path: it does no string work, no lookup by name and, in the steady state, no
/// allocation. Everything a value of a signal feeds is found through ranges computed when the profile is compiled.
public final class CollectionEngine {
    /// Output series, fixed at init: one per catalog signal named by periodic or on-change rules (shared when several
    /// rules name the same signal), and one per (signal, function) for aggregates, named "<VSS name>:<function>".
    /// Disabled rules have their series too, so indices stay stable when rules are switched at runtime.
    public let series: [SeriesDescription]
    /// The bounds on captured values and windows in flight (docs/collection.md, "Limits and memory").
    public let limits: CollectionLimits
    /// The state, behind a pointer rather than in a stored property: a class's stored property costs a dynamic
    /// exclusivity check on every access, which was a fifth of `ingest`'s time. The engine is used by one thread and
    /// no method calls back into another, so accesses cannot overlap.
    private let core: UnsafeMutablePointer<EngineCore>
    /// A spare buffer that `drainSamples` swaps in, so that draining keeps both buffers' capacity.
    private var drained: [CollectedSample] = []
    private let catalogIndex: [String: Int]
    private let areas: [Area]

    /// Compiles `profile`'s rules, events and command conditions. Names the profile does not resolve (a profile
    /// checked by `ProfileLoader` has none) are left out of rules, and read as unknown in conditions.
    public init(profile: FirmwareProfile, limits: CollectionLimits = CollectionLimits()) {
        self.limits = limits
        core = UnsafeMutablePointer<EngineCore>.allocate(capacity: 1)
        core.initialize(to: EngineCore(profile: profile, limits: limits))
        series = core.pointee.series
        var index: [String: Int] = [:]
        for (position, signal) in profile.catalog.enumerated() where index[signal.name] == nil { index[signal.name] = position }
        catalogIndex = index
        areas = profile.areas
    }

    deinit {
        core.deinitialize(count: 1)
        core.deallocate()
    }

    /// A decoded value of catalog signal `signal` (index into `profile.catalog`) at frame time `timeMicros`.
    ///
    /// What fell due before `timeMicros` runs first; then the value is recorded and fed to the rules and conditions
    /// that read it. A time before "now" does not move the clock back, but the value is still recorded. An index
    /// outside the catalog is ignored.
    @inline(__always)
    public func ingest(signal: Int, timeMicros: Int64, value: Double) {
        core.pointee.ingest(signal: signal, timeMicros: timeMicros, value: value)
    }

    /// A value of catalog signal `signal` at `timeMicros` that is not a reading (`availability` is `.notAvailable` or
    /// `.error`: docs/dbc.md, "Values that are not readings"). It produces no sample and no aggregate, is not captured
    /// by events, and from then on conditions read the signal as unknown, as they do a stale one, until the next
    /// reading. A `.valid` availability is ignored (a reading goes through `ingest`).
    public func ingestNotReading(signal: Int, timeMicros: Int64, availability: SignalAvailability) {
        guard availability != .valid else { return }
        core.pointee.ingestNotReading(signal: signal, timeMicros: timeMicros, availability: availability)
    }

    /// Time passes without a value: runs periodic boundaries, window ends, heartbeats, staleness, `for` durations and
    /// completed event windows up to `toMicros`. A time before "now" does nothing.
    public func advance(toMicros: Int64) {
        core.pointee.advance(to: toMicros)
    }

    /// Hands over the samples produced so far, oldest work first, and forgets them. `body` must not call the engine.
    public func drainSamples(_ body: (CollectedSample) -> Void) {
        swap(&drained, &core.pointee.samples)
        for sample in drained { body(sample) }
        drained.removeAll(keepingCapacity: true)
    }

    /// Hands over the events whose post-trigger window is complete, in order of completion, and forgets them.
    public func drainEvents() -> [TriggeredEvent] {
        defer { core.pointee.completedEvents.removeAll() }
        return core.pointee.completedEvents
    }

    /// Whether the newest value received for a catalog signal was a reading, and its time; nil before the first.
    public func latestAvailability(signal: Int) -> (availability: SignalAvailability, timeMicros: Int64)? {
        guard signal >= 0 && signal < core.pointee.signals.count, core.pointee.signals[signal].latestMicros != .min else { return nil }
        return (core.pointee.signals[signal].availability, core.pointee.signals[signal].latestMicros)
    }

    /// The latest reading of a catalog signal and its time, fresh or not; nil before the first. Values that are not
    /// readings (`ingestNotReading`) do not replace it: see `latestAvailability`.
    public func latest(signal: Int) -> (value: Double, timeMicros: Int64)? {
        guard signal >= 0 && signal < core.pointee.signals.count, core.pointee.signals[signal].hasValue else { return nil }
        return (core.pointee.signals[signal].value, core.pointee.signals[signal].timeMicros)
    }

    /// Whether the signal has a value no older than its catalog `staleAfterSeconds` at `atMicros`.
    public func isFresh(signal: Int, atMicros: Int64) -> Bool {
        guard signal >= 0 && signal < core.pointee.signals.count else { return false }
        return core.pointee.signals[signal].isFresh(at: atMicros)
    }

    /// Evaluates a condition now (a remote command's precondition or confirmation): nil = unknown, because a signal
    /// it reads is missing or stale. The profile's own conditions (events, command preconditions and confirmations)
    /// are kept evaluated, so `for`, hysteresis and edges answer with their history; any other condition is evaluated
    /// once, as if seen for the first time (`rising`/`falling` false, `for` false unless its duration is 0).
    public func evaluate(_ condition: Condition) -> Bool? {
        core.pointee.evaluate(condition, catalog: catalogIndex, areas: areas).bool
    }

    /// Switches every rule and event called `name` on or off. Off stops its output at once (an event's windows being
    /// filled are dropped); on starts it afresh (empty aggregates, no history in conditions, first on-change value
    /// sent). Switching to the current state changes nothing.
    public func setEnabled(_ enabled: Bool, rule name: String) throws(CollectionError) {
        guard core.pointee.setEnabled(enabled, name: name) else {
            throw CollectionError(.unknownRule, name: name, knownNames: core.pointee.rules.map(\.name), profile: core.pointee.profileName)
        }
    }

    /// Every rule, then every event, in profile order, with whether it is enabled.
    public var ruleStates: [RuleState] {
        core.pointee.rules.map { RuleState(name: $0.name, kind: $0.kind, enabled: $0.enabled) }
    }

    /// The latest time seen by `ingest` or `advance` (µs on the frame clock); 0 before the first.
    public var nowMicros: Int64 { core.pointee.now }

    /// What the engine has produced and left out since it started.
    public var statistics: CollectionStatistics { core.pointee.statistics }
}

/// One thread uses an engine; sharing one between threads is a compile-time error.
@available(*, unavailable)
extension CollectionEngine: Sendable {}
