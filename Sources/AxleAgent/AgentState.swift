import AgentCore
import AxleBase
import DBC
import Synchronization

/// What the agent's threads share with the control socket: the pipeline's latest counters and live values, recent
/// events and problems, and rule switches waiting for the pipeline thread.
///
/// The pipeline publishes a snapshot a few times a second instead of locking per frame, so the hot path stays free
/// of contention; `axle signals` sees values at most 250 ms old plus their own age.
final class AgentState: Sendable {
    struct LiveValue: Sendable {
        /// The reading; nil when the newest value is not one (`availability`).
        var value: Double?
        var timeMicros: Int64
        var availability: SignalAvailability
    }

    struct RuleState: Sendable {
        var name: String
        var kind: String
        var enabled: Bool
    }

    struct EventRecord: Sendable {
        var name: String
        var priority: String
        var timeMillis: Int64
        var condition: String
        var samples: Int
        /// The outbox sequence number of the event's record, nil when the outbox refused it.
        var sequence: UInt64?
    }

    struct Problem: Sendable {
        var timeMillis: Int64
        var component: String
        var message: String
    }

    struct PipelineCounters: Sendable {
        var frames = 0
        var undecodedFrames = 0
        /// J1939 multi-packet transfers reassembled (BAM or RTS/CTS), on buses whose DBC has such messages.
        var j1939Transfers = 0
        /// Frames from an interface that no logical bus is mapped to.
        var unroutedFrames = 0
        var decodedSignals = 0
        /// Values from elsewhere than a bus (the GNSS receiver) given to the collection engine.
        var externalSamples = 0
        var eventsTriggered = 0
        var recorder = TelemetryRecorder.Statistics()
    }

    struct RuleChange: Sendable {
        var name: String
        var enabled: Bool
    }

    struct Snapshot: Sendable {
        var counters = PipelineCounters()
        var framesPerBus: [Int] = []
        var values: [LiveValue?] = []
        /// The frames' clock when the snapshot was taken (µs), and the monotonic time it was taken at.
        var nowMicros: Int64 = 0
        var takenAt = 0.0
        var rules: [RuleState] = []
        /// Set once the source has ended (a replay's end).
        var sourceEnded = false
    }

    static let maximumEvents = 100
    static let maximumProblems = 10

    let startedAt = monotonicSeconds()
    private let snapshot = Mutex(Snapshot())
    private let events = Mutex<[EventRecord]>([])
    private let problems = Mutex<[Problem]>([])
    private let ruleChanges = Mutex<[RuleChange]>([])
    private let location = Mutex<LocationStatus?>(nil)
    private let diagnostics = Mutex<DiagnosticsStatus?>(nil)

    var current: Snapshot { snapshot.withLock { $0 } }

    func publish(counters: PipelineCounters, framesPerBus: [Int], values: [LiveValue?], nowMicros: Int64, rules: [RuleState]) {
        let now = monotonicSeconds()
        snapshot.withLock {
            $0.counters = counters
            $0.framesPerBus = framesPerBus
            $0.values = values
            $0.nowMicros = nowMicros
            $0.takenAt = now
            $0.rules = rules
        }
    }

    /// The GNSS receiver as the location service last saw it; nil when the profile has no `[location]`.
    var locationStatus: LocationStatus? { location.withLock { $0 } }

    func publishLocation(_ status: LocationStatus) {
        location.withLock { $0 = status }
    }

    /// The diagnostics service's counters and fault codes; nil when no diagnostics service runs.
    var diagnosticsStatus: DiagnosticsStatus? { diagnostics.withLock { $0 } }

    func publishDiagnostics(_ status: DiagnosticsStatus) {
        diagnostics.withLock { $0 = status }
    }

    func markSourceEnded() {
        snapshot.withLock { $0.sourceEnded = true }
    }

    func recordEvent(_ event: EventRecord) {
        events.withLock {
            $0.append(event)
            if $0.count > Self.maximumEvents { $0.removeFirst($0.count - Self.maximumEvents) }
        }
    }

    /// Recent events, newest first.
    func recentEvents(limit: Int) -> [EventRecord] {
        events.withLock { Array($0.suffix(max(0, limit)).reversed()) }
    }

    func recordProblem(component: String, _ message: String) {
        let problem = Problem(timeMillis: wallClockMillis(), component: component, message: message)
        problems.withLock {
            $0.append(problem)
            if $0.count > Self.maximumProblems { $0.removeFirst($0.count - Self.maximumProblems) }
        }
    }

    /// Recent warnings and errors, newest first.
    var recentProblems: [Problem] { problems.withLock { $0.reversed() } }

    func requestRuleChange(_ change: RuleChange) {
        ruleChanges.withLock { $0.append(change) }
    }

    func takeRuleChanges() -> [RuleChange] {
        ruleChanges.withLock { changes in
            defer { changes.removeAll() }
            return changes
        }
    }
}
