import AgentCore
import AxleBase
import CANFrames
import Dispatch
import FirmwareProfile
import Synchronization
import TelemetryPayload

/// The agent's diagnostics (`[diagnostics]`, docs/diagnostics.md): polls the profile's ECUs for their parameters and
/// fault codes, listens for J1939 DM1, and serves requests from elsewhere in the agent (`DiagnosticRequestQueue`),
/// on a thread of its own so that a slow or silent ECU never holds up the pipeline.
///
/// The decisions are `DiagnosticsEngine`'s (AgentCore); this is its thread, its link to the bus and its outputs:
/// values to the pipeline through the external-sample inbox, alerts to the outbox as event records, problems to the
/// log and `axle status`.
final class DiagnosticsService: BlockingService {
    let name = "diagnostics"
    private let profile: FirmwareProfile
    private let makeLink: @Sendable () -> any DiagnosticLink
    private let requests: DiagnosticRequestQueue
    private let inbox: ExternalSampleInbox
    private let events: AgentEvents
    private let state: AgentState
    private let log: AgentLog
    private let onAppended: @Sendable () -> Void
    /// How long one turn may listen before it looks at the request queue and the stop token again.
    static let turnSeconds = 0.05

    init(
        profile: FirmwareProfile, makeLink: @escaping @Sendable () -> any DiagnosticLink, requests: DiagnosticRequestQueue,
        inbox: ExternalSampleInbox, events: AgentEvents, state: AgentState, log: AgentLog,
        onAppended: @escaping @Sendable () -> Void
    ) {
        self.profile = profile
        self.makeLink = makeLink
        self.requests = requests
        self.inbox = inbox
        self.events = events
        self.state = state
        self.log = log
        self.onAppended = onAppended
    }

    func run(until stop: StopToken) {
        let configuration = profile.diagnostics
        let output = DiagnosticsServiceOutput(inbox: inbox, events: events, state: state, log: log, onAppended: onAppended)
        let ignitionIndex = configuration?.ignition.flatMap { name in profile.catalog.firstIndex { $0.name == name } }
        let staleAfter = ignitionIndex.map { profile.catalog[$0].staleAfterSeconds } ?? 0
        let watch = IgnitionWatch(state: state, index: ignitionIndex, staleAfter: staleAfter)
        let engine = DiagnosticsEngine(
            profile: profile, link: makeLink(), clock: SystemClock(), requests: requests, ignition: { watch.isOn() },
            output: output)
        requests.open(ecus: configuration?.ecus.map(\.name) ?? []) {}
        log(.info, "diagnostics", "polling \(configuration?.parameters.count ?? 0) values from \(configuration?.ecus.count ?? 0) ECUs within \(configuration?.budgetText ?? "")" + (configuration?.dm1 != nil ? "; listening for J1939 DM1" : ""))
        var lastPublished = 0.0
        var wasPolling = true
        while !stop.isStopRequested {
            engine.turn(maxWaitSeconds: Self.turnSeconds)
            let now = monotonicSeconds()
            if engine.status.polling != wasPolling {
                wasPolling = engine.status.polling
                log(.info, "diagnostics", wasPolling ? "ignition on: polling" : "ignition off: polling stopped (DM1 listening and requests go on)")
            }
            if now - lastPublished >= 0.25 {
                lastPublished = now
                state.publishDiagnostics(engine.status)
            }
        }
        engine.close()
        state.publishDiagnostics(engine.status)
    }

}

/// The ignition signal's latest value from the pipeline: on while known, fresh and not 0. Unknown, stale, or a bus
/// gone silent (the frames' clock stands still) counts as off: a bus that went quiet is a car that went to sleep.
final class IgnitionWatch {
    private let state: AgentState
    private let index: Int?
    /// The catalog entry's stale-after, but at least 2 s: the pipeline publishes its values every 250 ms, and an
    /// ignition that blinks off between two snapshots would stop and restart the polling.
    private let staleAfter: Double
    private var frameClock: Int64 = 0
    private var frameClockMovedAt = monotonicSeconds()

    init(state: AgentState, index: Int?, staleAfter: Double) {
        self.state = state
        self.index = index
        self.staleAfter = max(staleAfter, 2)
    }

    /// nil without an ignition signal in the profile.
    func isOn() -> Bool? {
        guard let index else { return nil }
        let snapshot = state.current
        let now = monotonicSeconds()
        if snapshot.nowMicros != frameClock {
            frameClock = snapshot.nowMicros
            frameClockMovedAt = now
        }
        guard now - frameClockMovedAt <= staleAfter else { return false }
        guard index < snapshot.values.count, let live = snapshot.values[index], let value = live.value else { return false }
        guard Double(snapshot.nowMicros - live.timeMicros) / 1e6 <= staleAfter else { return false }
        return value != 0
    }
}

/// Where the engine's results go in the agent.
final class DiagnosticsServiceOutput: DiagnosticsOutput {
    private let inbox: ExternalSampleInbox
    private let events: AgentEvents
    private let state: AgentState
    private let log: AgentLog
    private let onAppended: @Sendable () -> Void

    init(inbox: ExternalSampleInbox, events: AgentEvents, state: AgentState, log: AgentLog, onAppended: @escaping @Sendable () -> Void) {
        self.inbox = inbox
        self.events = events
        self.state = state
        self.log = log
        self.onAppended = onAppended
    }

    func deliver(_ samples: [ExternalSample]) {
        let refused = inbox.offer(samples)
        if refused > 0 { log(.warning, "diagnostics", "the pipeline's inbox is full: \(refused) polled values dropped") }
    }

    func alert(_ alert: DiagnosticAlert) {
        let event = TelemetryEvent(name: alert.name, timeMicros: alert.timeMicros, priority: "alert", attributes: alert.attributes)
        let sequence = events.triggered(event, priority: .alert)
        onAppended()
        let codes = alert.attributes["codes"] ?? ""
        state.recordEvent(AgentState.EventRecord(
            name: alert.name, priority: "alert", timeMillis: alert.timeMicros / 1000,
            condition: "\(alert.attributes["source"] ?? ""): " + (codes.isEmpty ? "no fault" : codes), samples: 0, sequence: sequence))
        log(.notice, "diagnostics", "\(alert.attributes["source"] ?? "") faults: \(codes.isEmpty ? "none" : codes)"
            + (alert.attributes["mil"].map { ", MIL \($0)" } ?? ""))
    }

    func problem(_ text: String) {
        log(.warning, "diagnostics", text)
    }
}
