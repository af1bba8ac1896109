import Collection
import DBC
import FirmwareProfile
import Synchronization

/// What the command executor knows of the vehicle: the collection engine's state as the pipeline saw it at the end of
/// one batch, for the executor's own thread. The engine itself stays on the pipeline thread.
///
/// Conditions are evaluated by the engine, not here, so that a command's precondition and confirmation keep exactly
/// the engine's semantics: unknown when a signal is stale, missing or not a reading, and `for` durations, hysteresis
/// and edges with their history (the profile's command conditions are kept evaluated by the engine).
public struct LiveValues: Sendable {
    /// One catalog signal, as `axle signals` and the command texts describe it.
    public struct Reading: Sendable, Equatable {
        /// Whether the newest value received was a reading; nil before the first value.
        public var newestAvailability: SignalAvailability?
        /// The latest reading (values that are not readings do not replace it); nil before the first.
        public var latestValue: Double?
        public var latestMicros: Int64
        /// The latest reading is no older than the catalog's `stale-after` at `nowMicros`.
        public var isFresh: Bool

        public init(newestAvailability: SignalAvailability?, latestValue: Double?, latestMicros: Int64, isFresh: Bool) {
            self.newestAvailability = newestAvailability
            self.latestValue = latestValue
            self.latestMicros = latestMicros
            self.isFresh = isFresh
        }
    }

    /// Counts the pipeline's publications: a command waits for one made after it arrived.
    public var generation: Int
    /// The engine's time (µs on the frame clock).
    public var nowMicros: Int64
    /// Per catalog signal, in profile order.
    public var readings: [Reading]
    /// Per watched condition (`LiveValues.watchedConditions(of:)`): true, false, or nil for unknown.
    public var conditions: [Bool?]

    public init(generation: Int, nowMicros: Int64, readings: [Reading], conditions: [Bool?]) {
        self.generation = generation
        self.nowMicros = nowMicros
        self.readings = readings
        self.conditions = conditions
    }

    /// Reads `engine` now (on its thread): every catalog signal, and each of `conditions` through `engine.evaluate`.
    public init(engine: CollectionEngine, catalogCount: Int, conditions: [Condition], generation: Int) {
        let now = engine.nowMicros
        self.generation = generation
        self.nowMicros = now
        self.readings = (0..<catalogCount).map { index in
            let latest = engine.latest(signal: index)
            return Reading(
                newestAvailability: engine.latestAvailability(signal: index)?.availability, latestValue: latest?.value,
                latestMicros: latest?.timeMicros ?? 0, isFresh: engine.isFresh(signal: index, atMicros: now))
        }
        self.conditions = conditions.map { engine.evaluate($0) }
    }

    /// The conditions the executor reads: each profile command's precondition, then its confirmation, in profile
    /// order. The engine keeps these evaluated with their history; features have neither.
    public static func watchedConditions(of profile: FirmwareProfile) -> [Condition] {
        profile.commands.flatMap { [$0.precondition, $0.confirmation].compactMap { $0 } }
    }
}

/// The hand-off of live values from the pipeline thread to the command service's thread.
///
/// The pipeline pays one atomic load per turn while nothing is watched. While the executor waits for a precondition
/// or a confirmation it sets `isWanted`; the pipeline then publishes a fresh `LiveValues` at the end of each turn, and
/// each publication wakes the executor.
public final class LiveValueBoard: Sendable {
    /// What the pipeline evaluates for the executor (`LiveValues.watchedConditions(of:)`).
    public let conditions: [Condition]
    public let catalogCount: Int
    private let wanted = Atomic<Bool>(false)
    private let latestValues = Mutex<LiveValues?>(nil)
    private let onRequest: @Sendable () -> Void
    private let onPublish: @Sendable () -> Void

    /// `onRequest` wakes the pipeline (a simulated source waits up to a step); `onPublish` wakes the executor.
    public init(
        profile: FirmwareProfile, onRequest: @escaping @Sendable () -> Void, onPublish: @escaping @Sendable () -> Void
    ) {
        self.conditions = LiveValues.watchedConditions(of: profile)
        self.catalogCount = profile.catalog.count
        self.onRequest = onRequest
        self.onPublish = onPublish
    }

    // MARK: The pipeline's side

    /// Whether the executor is watching: one relaxed atomic load, asked on every pipeline turn.
    public var isWanted: Bool { wanted.load(ordering: .relaxed) }

    /// Publishes the engine's state now; call on the engine's thread at the end of a turn, when `isWanted`.
    public func publish(from engine: CollectionEngine) {
        let generation = (latest?.generation ?? 0) + 1
        let values = LiveValues(engine: engine, catalogCount: catalogCount, conditions: conditions, generation: generation)
        publish(values)
    }

    /// Publishes `values` (the tests' pipeline) and wakes the executor.
    public func publish(_ values: LiveValues) {
        latestValues.withLock { $0 = values }
        onPublish()
    }

    // MARK: The executor's side

    /// The newest publication, nil before the first.
    public var latest: LiveValues? { latestValues.withLock { $0 } }

    /// Asks for publications from the next turn on (and wakes the pipeline), or stops them.
    public func setWanted(_ isWanted: Bool) {
        let was = wanted.exchange(isWanted, ordering: .relaxed)
        if isWanted && !was { onRequest() }
    }

    /// Wakes the pipeline so that a fresh publication comes at once, not after a simulated step.
    public func requestFreshValues() {
        wanted.store(true, ordering: .relaxed)
        onRequest()
    }
}
