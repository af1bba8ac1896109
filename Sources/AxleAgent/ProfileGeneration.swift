import AgentCore
import AxleBase
import CANFrames
import Dispatch
import FirmwareProfile
import MQTTUplink
import Outbox
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The services that run one firmware profile, started in this order into a group of their own (and so stopped in
/// reverse): the pipeline (frames → decoder → collection → outbox), the GNSS receiver, diagnostics, and commands. A
/// configuration update stops them and starts them again with the new profile (`ProfileSwitcher`); everything they
/// share with the rest of the agent (the outbox, the MQTT client, the frame source, the queues) lives on.
final class ProfileGeneration: Sendable {
    let configuration: AgentConfiguration
    let outbox: OutboxStore
    let topics: UplinkTopics
    let events: AgentEvents
    let state: AgentState
    let drainer: OutboxDrainer
    let log: AgentLog
    let wakeup: PipelineWakeup
    let externalSamples: ExternalSampleInbox
    let simulatorCommands: SimulatorCommandQueue
    let diagnosticTap: SimulatorDiagnosticTap?
    let diagnosticRequests: DiagnosticRequestQueue
    let commands: RemoteCommandService
    let durable: DurableMessages
    let sourceHolder: FrameSourceHolder
    /// Turns of the pipeline loop, for the watchdog.
    let pipelineTurns = Atomic<Int>(0)
    /// The last pipeline's counters (the exit summary), and its frames per bus (carried into the next generation).
    let finalCounters = Mutex(AgentState.PipelineCounters())
    let framesPerBus = Mutex<[Int]>([])
    /// Generations started: the first runs the profile the source was opened for.
    private let started = Atomic<Int>(0)

    init(
        configuration: AgentConfiguration, outbox: OutboxStore, topics: UplinkTopics, events: AgentEvents,
        state: AgentState, drainer: OutboxDrainer, log: AgentLog, wakeup: PipelineWakeup,
        externalSamples: ExternalSampleInbox, simulatorCommands: SimulatorCommandQueue,
        diagnosticTap: SimulatorDiagnosticTap?, diagnosticRequests: DiagnosticRequestQueue,
        commands: RemoteCommandService, durable: DurableMessages, sourceHolder: FrameSourceHolder
    ) {
        self.configuration = configuration
        self.outbox = outbox
        self.topics = topics
        self.events = events
        self.state = state
        self.drainer = drainer
        self.log = log
        self.wakeup = wakeup
        self.externalSamples = externalSamples
        self.simulatorCommands = simulatorCommands
        self.diagnosticTap = diagnosticTap
        self.diagnosticRequests = diagnosticRequests
        self.commands = commands
        self.durable = durable
        self.sourceHolder = sourceHolder
    }

    func start(_ profile: FirmwareProfile, in services: ServiceGroup) {
        let isSwitch = started.add(1, ordering: .relaxed).oldValue > 0
        let commandWakeup = commands.wakeup
        let wakeup = wakeup
        // The live values commands watch (preconditions, confirmations): per profile, as its catalog.
        let liveValues = LiveValueBoard(
            profile: profile, onRequest: { wakeup.signal() }, onPublish: { commandWakeup.signal() })
        startPipeline(profile, liveValues: liveValues, isSwitch: isSwitch, in: services)

        // The receiver after the pipeline, so stopped before it: its last samples are still collected.
        let gpsd = configuration.gpsd ?? profile.location.map { GPSDAddress(host: $0.host, port: $0.port) }
        if gpsd != nil, profile.location != nil, let reason = configuration.source.frameClockDiffers {
            // The receiver's values are stamped now; frames on another clock would make them stale or out of order.
            log(.notice, "location", "\(reason) runs without the GNSS receiver: its frames are not on the agent's clock")
        } else if let gpsd, profile.location != nil {
            services.start(GPSDLocationService(
                host: gpsd.host, port: gpsd.port, profile: profile, inbox: externalSamples, state: state, log: log))
        }

        // Diagnostics after the pipeline, so stopped before it: its last values are still collected.
        let diagnosticCommandRunner = startDiagnostics(profile, in: services)

        // Commands after the pipeline, so stopped before it: no command starts on values the pipeline no longer
        // publishes. Journal writes, entitlement saves and command frames happen on this service's thread.
        let faultInjection = getenv("AXLE_FAULT_INJECTION").map { String(cString: $0) }
        services.start(CommandService(remote: commands) { [self] in
            let clock = SystemClock()
            let sink: any CommandFrameSink =
                switch configuration.source {
                case .socketCAN: SocketCANCommandSink(interfaces: configuration.canInterfaces)
                case .simulate: SimulatorCommandSink(queue: simulatorCommands)
                case .replay: NoBusSink()
                }
            let executor = CommandExecutor(
                profile: profile, sink: sink, journal: commands.journal, responder: commands.responder, rules: state,
                clock: clock, log: log.commandLog,
                // Tests only: the process kills itself between the journal's "started" and the first frame, as a
                // crash at the worst moment would.
                afterJournalingStart: faultInjection == "kill-after-journal" ? { kill(getpid(), SIGKILL) } : nil)
            let features = FeatureManager(
                profile: profile, vehicleID: configuration.vehicleID, store: commands.entitlements,
                publisher: MQTTFeatureStatePublisher(durable: durable, topics: topics), clock: clock, log: log.commandLog)
            executor.diagnostics = diagnosticCommandRunner
            return CommandDispatcher(executor: executor, features: features, board: liveValues, clock: clock)
        })
    }

    /// The pipeline thread owns the source while it runs and the pipeline: CAN → decode → collect → outbox; while the
    /// command service watches a precondition or confirmation, it publishes the live values to it after each batch.
    private func startPipeline(_ profile: FirmwareProfile, liveValues: LiveValueBoard, isSwitch: Bool, in services: ServiceGroup) {
        services.start(ClosureService(name: "pipeline") { [self] stop in
            guard var source = sourceHolder.take() else {
                // The previous generation's pipeline did not stop within its budget and still holds the source.
                log(.error, "source", "the frame source is still held by the previous pipeline: no frames are read")
                stop.wait(seconds: .infinity)
                return
            }
            if isSwitch { source.adopt(profile) }
            let pipeline = Pipeline(
                profile: profile, interfaces: configuration.canInterfaces, outbox: outbox,
                topics: topics, configuration: configuration, events: events,
                state: state, onAppended: { [drainer] in drainer.recordsAppended() },
                log: log, carrying: finalCounters.withLock { $0 },
                earlierFramesPerBus: framesPerBus.withLock { $0 })
            var frames: [CANFrame] = []
            frames.reserveCapacity(1024)
            var ended = false
            do {
                while !stop.isStopRequested {
                    frames.removeAll(keepingCapacity: true)
                    let more = try source.next(into: &frames, until: .infinity)
                    pipeline.process(frames)
                    pipeline.ingest(external: externalSamples.takeAll())
                    pipeline.publishLiveValues(to: liveValues)
                    pipeline.tick(wallSeconds: monotonicSeconds())
                    pipelineTurns.add(1, ordering: .relaxed)
                    if !more {
                        ended = true
                        break
                    }
                }
            } catch {
                log(.error, "source", "\(error)")
                ended = true
            }
            pipeline.ingest(external: externalSamples.takeAll())
            pipeline.finish()
            finalCounters.withLock { $0 = pipeline.counters }
            framesPerBus.withLock { $0 = pipeline.busFrames }
            sourceHolder.put(source)
            if ended {
                state.markSourceEnded()
                log(.info, "source", "source ended: \(pipeline.counters.frames) frames")
            }
        })
    }

    /// The diagnostics service and the runner of remote diagnostic commands, when the profile has `[diagnostics]`
    /// and the source has ECUs to ask; returns the runner for the command executor.
    private func startDiagnostics(_ profile: FirmwareProfile, in services: ServiceGroup) -> DiagnosticCommandRunner? {
        guard let diagnostics = profile.diagnostics else { return nil }
        let makeLink: (@Sendable () -> any DiagnosticLink)?
        switch configuration.source {
        case .socketCAN:
            let interfaces = configuration.canInterfaces
            let linkLog = log.writer(.warning, "diagnostics")
            makeLink = { SocketCANDiagnosticLink(configuration: diagnostics, interfaces: interfaces, log: linkLog) }
        case .simulate:
            if let tap = diagnosticTap {
                let bus = profile.buses[0].name
                let queue = simulatorCommands
                let wakeup = wakeup
                makeLink = { SimulatorDiagnosticLink(queue: queue, tap: tap, wakeup: wakeup, bus: bus) }
            } else {
                // The simulated ECUs are those of the profile the agent started with.
                makeLink = nil
                log(.notice, "diagnostics", "the simulated vehicle has no ECUs (the profile it started with has no [diagnostics])")
            }
        case .replay:
            makeLink = nil
            log(.notice, "diagnostics", "a replay runs without diagnostics: there is no ECU to ask")
        }
        guard let makeLink else { return nil }
        // Remote diagnostic commands ask through the same queue, on a thread of their own; started before the
        // diagnostics service, so stopped after it: its stop fails the questions still waiting, which ends the
        // command under way.
        let commandWakeup = commands.wakeup
        let runner = DiagnosticCommandRunner(requests: diagnosticRequests, wakeCommands: { commandWakeup.signal() })
        services.start(runner)
        let drainer = drainer
        services.start(DiagnosticsService(
            profile: profile, makeLink: makeLink, requests: diagnosticRequests, inbox: externalSamples,
            events: events, state: state, log: log, onAppended: { drainer.recordsAppended() }))
        return runner
    }
}
