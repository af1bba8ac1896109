import AgentControl
import AgentCore
import AxleBase
import CANFrames
import ConfigBundle
import DBC
import Dispatch
import FirmwareProfile
import MQTTUplink
import Outbox
import RemoteCommands
import Synchronization
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// The agent: frames → decoder → collection → outbox → uplink, each blocking stage on its own thread, with a graceful
/// shutdown on SIGTERM or SIGINT (the open batch is written, "offline" is published, exit 0) and systemd's
/// readiness and watchdog notifications.
public enum Agent {
    /// What one run did, printed at exit and read by the tests and benchmarks.
    struct Summary: Sendable {
        var pipeline = AgentState.PipelineCounters()
        var drainer = OutboxDrainer.Statistics()
        var seconds = 0.0
    }

    /// Runs until SIGTERM/SIGINT (or, with `exitWhenDrained`, until the source has ended and the outbox is empty).
    /// Returns the process exit status.
    public static func run(_ configuration: AgentConfiguration) -> Int32 {
        let log = AgentLog(level: configuration.logLevel)
        do {
            let summary = try runPipeline(configuration, log: log)
            let pipeline = summary.pipeline
            log(.notice, "axled", "stopped after \(formatted(summary.seconds)) s: \(pipeline.frames) frames, \(pipeline.decodedSignals) signals decoded, \(pipeline.recorder.samples) samples and \(pipeline.eventsTriggered) events collected, \(pipeline.recorder.records) telemetry records written; \(summary.drainer.published) published, \(summary.drainer.acknowledged) acknowledged, \(summary.drainer.deadLettered) dead-lettered")
            return 0
        } catch {
            log(.error, "axled", "\(error)")
            return 1
        }
    }

    static func runPipeline(_ configuration: AgentConfiguration, log: AgentLog) throws -> Summary {
        let started = monotonicSeconds()
        let notifier = ServiceNotifier.fromEnvironment()
        // Signals are taken by one thread with sigwait; every thread started below inherits the blocked mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let topics = try UplinkTopics(prefix: configuration.topicPrefix, vehicleID: configuration.vehicleID)
        try makeDirectory(configuration.dataDirectory)
        // A configuration update that had not passed its trial when the agent stopped is undone before anything
        // runs; the profile to run is the one the configuration store's `current` names, or the installed one.
        let configurationStore: ConfigurationStore
        do {
            configurationStore = try ConfigurationStore(root: configuration.dataDirectory + "/config")
        } catch {
            throw AgentConfigurationError("cannot open the configuration store \(configuration.dataDirectory)/config: \(error)")
        }
        let installed = configuration.profile
        var configuration = configuration
        configuration.profile = ConfigurationWorker.recover(store: configurationStore, installed: installed, log: log)
        let profile = configuration.profile
        let activeProfile = ActiveProfile(profile)
        let configurationReports = ConfigurationReportBoard()
        let outboxPath = configuration.dataDirectory + "/outbox.db"
        let outbox: OutboxStore
        do {
            outbox = try OutboxStore(configuration: OutboxConfiguration(path: outboxPath, capBytes: configuration.outboxCapBytes))
        } catch {
            throw AgentConfigurationError("cannot open the outbox \(outboxPath): \(error)")
        }
        let state = AgentState()
        log.onProblem = { component, text in state.recordProblem(component: component, text) }
        let events = AgentEvents(
            outbox: outbox, topics: topics, profile: profile.name, policy: configuration.uplink,
            format: configuration.payloadFormat, log: log.writer(.warning, "events"))
        switch outbox.openReport {
        case .replacedDamaged(let movedTo, let reason):
            log(.warning, "outbox", "the outbox was damaged (\(reason)); it was moved to \(movedTo) and a fresh one started")
            events.databaseReplaced(movedTo: movedTo, reason: reason)
        case .created:
            log(.info, "outbox", "created \(outboxPath)")
        case .opened:
            break
        }

        var mqtt = configuration.mqtt
        let status = StatusMessages(topics: topics, profile: profile.name)
        mqtt.will = status.offline(reason: "connection lost")
        let wakeup = PipelineWakeup()
        // Values from elsewhere than the buses (the GNSS receiver), for the pipeline thread that owns the engine;
        // each offer wakes it, so that they are collected without waiting for a frame.
        let externalSamples = ExternalSampleInbox { wakeup.signal() }
        // The source before the client: a replay file that cannot be read (or an unknown scenario) is a
        // configuration error found before the agent announces itself online to the broker.
        let simulatorCommands = SimulatorCommandQueue()
        // What the diagnostics service hears of the simulated bus, and the one queue through which the rest of the
        // agent asks ECUs (DiagnosticRequestQueue.ask), serialized with the poll schedule.
        let diagnosticTap = profile.diagnostics.map { SimulatorDiagnosticTap(configuration: $0) }
        let diagnosticRequests = DiagnosticRequestQueue()
        let source = try makeSource(
            configuration, simulatorCommands: simulatorCommands, diagnosticTap: diagnosticTap, wakeup: wakeup, log: log)
        let client = try MQTTClient(configuration: mqtt)
        let drainer = OutboxDrainer(
            outbox: outbox, client: client, policy: configuration.uplink,
            housekeeping: { events.housekeeping() }, log: log.writer(.warning, "uplink"))
        // Command answers and the feature state go through the outbox, so that the link being down loses none.
        let durable = DurableMessages(outbox: outbox, client: client, onAppended: { drainer.recordsAppended() }, log: log)
        let commands = try RemoteCommandService(
            configuration: configuration, topics: topics, client: client, durable: durable, events: events, log: log)
        let commandWakeup = commands.wakeup
        let birth = status.online()
        let broker = "\(mqtt.host):\(mqtt.port)"
        let uplink = UplinkState(broker: broker)
        let requestTopic = topics.commandRequests
        // Configuration over the air (docs/configuration.md): its messages go to the configuration service, which
        // switches the profile services below (`ProfileSwitcher`) without restarting the process.
        let configurationService = try makeConfigurationService(
            configuration, store: configurationStore, installed: installed, client: client, durable: durable,
            board: configurationReports, activeProfile: activeProfile, commands: commands, state: state, log: log)
        let switcher = configurationService.switcher
        client.start { event in
            if case .message(let message) = event {
                if message.topic == requestTopic {
                    commands.intake.receive(message)
                    return
                }
                if configurationService.service.isConfigurationTopic(message.topic) {
                    configurationService.service.receive(message)
                    return
                }
            }
            drainer.handle(event)
            uplink.handle(event)
            switch event {
            case .connected(let sessionPresent):
                log(.info, "uplink", "connected to \(broker) session_present=\(sessionPresent)")
                _ = client.publish(birth)
                // The configuration state again on every connect (retained, through the outbox, after any older one).
                configurationService.service.connected()
            case .connectFailed(let reason, let retry):
                // A refused certificate or handshake does not heal by itself: an error, where an unreachable broker
                // is routine for a vehicle.
                log(event.isTLSFailure ? .error : .info, "uplink",
                    "cannot connect to \(broker): \(reason); retrying in \(formatted(retry)) s")
            case .disconnected(let reason):
                log(.info, "uplink", "disconnected: \(reason)")
            default:
                break
            }
        }
        let linkWatcher = configuration.watchLink ? try? LinkWatcher { client.linkChanged() } : nil

        // The agent's threads, as services of one group: started in this order, stopped in reverse within one
        // shutdown budget, so that each stage's last output reaches the stages after it (docs/architecture.md).
        let shutdown = StopToken()
        let sourceEnded = StopToken()
        let services = ServiceGroup(log: log.writer(.warning, "axled"), onEarlyExit: { _ in })
        // The client's network thread is the library's; this service owns its end: "offline" goes out last.
        services.start(ClosureService(name: "mqtt") { stop in
            stop.wait(seconds: .infinity)
            client.stop(final: status.offline(reason: "shutdown"), timeoutSeconds: Self.clientStopSeconds)
        })
        if let linkWatcher {
            services.start(ClosureService(name: "link watcher") { stop in
                stop.wait(seconds: .infinity)
                linkWatcher.stop()
            })
        }
        services.start(ClosureService(name: "drainer", interrupt: { drainer.stop(timeoutSeconds: 0) }) { _ in drainer.run() })
        commands.subscribe(client: client, topics: topics, log: log)

        // The services that run a profile, as one generation that a configuration update replaces in-process.
        let generation = ProfileGeneration(
            configuration: configuration, outbox: outbox, topics: topics, events: events, state: state, drainer: drainer,
            log: log, wakeup: wakeup, externalSamples: externalSamples, simulatorCommands: simulatorCommands,
            diagnosticTap: diagnosticTap, diagnosticRequests: diagnosticRequests, commands: commands, durable: durable,
            sourceHolder: FrameSourceHolder(source))
        switcher.configure(
            makeGroup: {
                ServiceGroup(log: log.writer(.warning, "axled"), onEarlyExit: { name in
                    if name == "pipeline" { sourceEnded.requestStop() }
                })
            },
            startGeneration: { profile, group in generation.start(profile, in: group) })
        services.start(switcher.hostService(initial: profile))

        let control = startControlServer(
            configuration, state: state, drainer: drainer, uplink: uplink, outbox: outbox, outboxPath: outboxPath,
            commands: commands, diagnosticRequests: diagnosticRequests, activeProfile: activeProfile,
            configurationReports: configurationReports, log: log)
        if let control {
            services.start(ClosureService(name: "control socket") { stop in
                stop.wait(seconds: .infinity)
                control.stop()
            })
        }
        services.start(configurationService.service)

        // The CAN sources and the outbox are open: systemd may start what depends on the agent.
        notifier?.ready(status: "collecting \(profile.name) for \(configuration.vehicleID)")
        log(.info, "axled", "ready in \(Int((monotonicSeconds() - started) * 1000)) ms: profile \(profile.name), vehicle \(configuration.vehicleID), broker \(broker)")
        if let notifier, let interval = notifier.watchdogIntervalSeconds {
            services.start(watchdog(notifier: notifier, interval: interval, log: log) {
                // Progress: both loops turned since the last ping (each turns several times a second when healthy;
                // a pipeline whose source has ended counts as healthy).
                (generation.pipelineTurns.load(ordering: .relaxed), drainer.loopTurns, state.current.sourceEnded)
            })
        }
        if configuration.exitWhenDrained {
            services.start(ClosureService(name: "drain watch") { stop in
                while !sourceEnded.wait(seconds: 0.2) { if stop.isStopRequested { return } }
                while !isDrained(outbox: outbox, drainer: drainer) { if stop.wait(seconds: 0.02) { return } }
                log(.notice, "axled", "source ended and the outbox is empty: exiting")
                shutdown.requestStop()
            })
        }

        // SIGTERM or SIGINT, taken by sigwait on a thread of its own (every thread inherits the blocked mask). It
        // blocks in sigwait for good, so it is no service: the process ends around it.
        let awaited = signals
        startDedicatedThread(name: "signals") {
            var awaited = awaited
            var received: Int32 = 0
            sigwait(&awaited, &received)
            log(.notice, "axled", "received signal \(received): shutting down")
            shutdown.requestStop()
        }
        shutdown.wait(seconds: .infinity)

        // Graceful stop within the budget: the open batch goes to the outbox, "offline" goes to the broker.
        notifier?.stopping()
        let stopStarted = monotonicSeconds()
        let results = services.stop(budgetSeconds: Self.shutdownBudgetSeconds)
        let overran = results.filter(\.overran).map(\.name)
        if overran.contains("pipeline") {
            // Closing the outbox under a pipeline that may still be writing its last batch could lose that batch;
            // SQLite's WAL keeps everything committed, and the process exit closes the file.
            log(.warning, "axled", "the pipeline did not stop in time: leaving the outbox open")
        } else {
            outbox.close()
        }
        log(.info, "axled", "stopped \(results.count) services in \(formatted(monotonicSeconds() - stopStarted)) s"
            + (overran.isEmpty ? "" : "; overran: \(overran.joined(separator: ", "))"))
        var summary = Summary()
        summary.pipeline = generation.finalCounters.withLock { $0 }
        summary.drainer = drainer.statistics
        summary.seconds = monotonicSeconds() - started
        return summary
    }

    /// The whole stop, from SIGTERM to exit: docs/axled.md promises 2 s; systemd's TimeoutStopSec is 5 s.
    static let shutdownBudgetSeconds = 2.0
    /// How long the MQTT client may take to publish "offline" and disconnect, within the budget.
    static let clientStopSeconds = 0.5

    /// Pings the systemd watchdog every `interval` while the pipeline and the drainer make progress; a stuck thread
    /// stops the pings and systemd restarts the agent (WatchdogSec=, Restart=on-failure).
    private static func watchdog(
        notifier: ServiceNotifier, interval: Double, log: AgentLog, progress: @escaping @Sendable () -> (Int, Int, Bool)
    ) -> ClosureService {
        ClosureService(name: "watchdog") { stop in
            var last = progress()
            while !stop.wait(seconds: interval) {
                let now = progress()
                if (now.0 != last.0 || now.2) && now.1 != last.1 {
                    notifier.watchdog()
                } else {
                    log(.warning, "axled", "no progress (pipeline \(now.0 != last.0 || now.2 ? "ok" : "stuck"), uplink \(now.1 != last.1 ? "ok" : "stuck")): withholding the watchdog ping")
                }
                last = now
            }
        }
    }

    private static func isDrained(outbox: OutboxStore, drainer: OutboxDrainer) -> Bool {
        guard drainer.statistics.inFlight == 0, let statistics = try? outbox.statistics() else { return false }
        return statistics.depth.values.allSatisfy { $0.records == 0 }
    }

    private static func makeSource(
        _ configuration: AgentConfiguration, simulatorCommands: SimulatorCommandQueue,
        diagnosticTap: SimulatorDiagnosticTap?, wakeup: PipelineWakeup, log: AgentLog
    ) throws -> any FrameSource {
        let profile = configuration.profile
        switch configuration.source {
        case .socketCAN:
            let interfaces = profile.buses.compactMap { configuration.canInterfaces[$0.name] }
            return SocketCANSource(
                interfaces: interfaces, filters: SocketCANSource.kernelFilters(for: profile), log: log.writer(.info, "can"))
        case .simulate(let scenario, let speed, let duration):
            guard profile.buses.count == 1 else {
                throw AgentConfigurationError("the simulator drives profiles with one bus; \(profile.name) has \(profile.buses.count)")
            }
            return try SimulatedSource(
                database: profile.buses[0].database, scenario: scenario, profileName: profile.name, speed: speed,
                duration: duration, startUnixSeconds: Double(wallClockMillis()) / 1000, commands: simulatorCommands,
                wakeup: wakeup, diagnosticTap: diagnosticTap)
        case .replay(let path, let speed):
            return try ReplaySource(path: path, speed: speed, log: log.writer(.warning, "replay"))
        }
    }

    private static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0, errno != EEXIST {
                throw AgentConfigurationError("cannot create the data directory \(prefix): \(SystemError.text(errno: errno)); give a writable one with --data-dir")
            }
        }
    }

    static func formatted(_ seconds: Double) -> String {
        String((seconds * 1000).rounded() / 1000)
    }
}

/// Hands a value that is not `Sendable` to the one thread that will own it from then on.
final class SendableBox<Value>: @unchecked Sendable {
    // Unchecked: the value is taken exactly once, by the thread it was made for, after the creating thread let go.
    private var value: Value?
    init(_ value: Value) { self.value = value }
    func take() -> Value {
        defer { value = nil }
        return value!
    }
}
