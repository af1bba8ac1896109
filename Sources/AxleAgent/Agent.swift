import AxleBase
import CANFrames
import DBC
import Dispatch
import MQTTUplink
import Outbox
import Synchronization
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// The agent: frames → decoder → recorder → outbox → uplink, each blocking stage on its own thread, with a graceful
/// shutdown on SIGTERM or SIGINT (the recorder's open batch is written, "offline" is published, exit 0).
public enum Agent {
    /// What one run did, printed at exit and read by the tests and benchmarks.
    public struct Summary: Sendable {
        public var recorder = TelemetryRecorder.Statistics()
        public var drainer = OutboxDrainer.Statistics()
        public var seconds = 0.0
    }

    /// Runs until SIGTERM/SIGINT (or, with `exitWhenDrained`, until the source has ended and the outbox is empty).
    /// Returns the process exit status.
    public static func run(_ configuration: AgentConfiguration) -> Int32 {
        let log = AgentLog(level: configuration.logLevel)
        do {
            let summary = try runPipeline(configuration, log: log)
            log(.notice, "axled", "stopped after \(formatted(summary.seconds)) s: \(summary.recorder.frames) frames, \(summary.recorder.samples) samples, \(summary.recorder.records) records written; \(summary.drainer.published) published, \(summary.drainer.acknowledged) acknowledged, \(summary.drainer.deadLettered) dead-lettered")
            return 0
        } catch {
            log(.error, "axled", "\(error)")
            return 1
        }
    }

    static func runPipeline(_ configuration: AgentConfiguration, log: AgentLog) throws -> Summary {
        let started = monotonicSeconds()
        // Signals are taken by one thread with sigwait; every thread started below inherits the blocked mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let topics = try UplinkTopics(prefix: configuration.topicPrefix, vehicleID: configuration.vehicleID)
        let database = try loadDatabase(configuration.dbcPath, log: log)
        let decoder = CompiledDecoder(database: database)
        try makeDirectory(configuration.dataDirectory)
        let outboxPath = configuration.dataDirectory + "/outbox.db"
        let outbox: OutboxStore
        do {
            outbox = try OutboxStore(configuration: OutboxConfiguration(path: outboxPath, capBytes: configuration.outboxCapBytes))
        } catch {
            throw AgentConfigurationError("cannot open the outbox \(outboxPath): \(error)")
        }
        let events = AgentEvents(
            outbox: outbox, topics: topics, profile: configuration.profileName, policy: configuration.uplink,
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
        let status = StatusMessages(topics: topics, profile: configuration.profileName)
        mqtt.will = status.offline(reason: "connection lost")
        let client = try MQTTClient(configuration: mqtt)
        let drainer = OutboxDrainer(
            outbox: outbox, client: client, policy: configuration.uplink,
            housekeeping: { events.housekeeping() }, log: log.writer(.warning, "uplink"))
        let birth = status.online()
        let broker = "\(mqtt.host):\(mqtt.port)"
        client.start { event in
            drainer.handle(event)
            switch event {
            case .connected(let sessionPresent):
                log(.info, "uplink", "connected to \(broker) session_present=\(sessionPresent)")
                _ = client.publish(birth)
            case .connectFailed(let reason, let retry):
                log(.info, "uplink", "cannot connect to \(broker): \(reason); retrying in \(formatted(retry)) s")
            case .disconnected(let reason):
                log(.info, "uplink", "disconnected: \(reason)")
            default:
                break
            }
        }
        let linkWatcher = configuration.watchLink ? try? LinkWatcher { client.linkChanged() } : nil

        startDedicatedThread(name: "drainer") { drainer.run() }

        // The source thread owns the recorder; the main thread waits for a signal or the end of the data.
        let stopSource = Atomic<Bool>(false)
        let sourceDone = DispatchSemaphore(value: 0)
        let recorderStatistics = Mutex(TelemetryRecorder.Statistics())
        let source = try makeSource(configuration, database: database, log: log)
        let sourceBox = SendableBox(source)
        startDedicatedThread(name: "source") {
            var source = sourceBox.take()
            let recorder = TelemetryRecorder(
                decoder: decoder, outbox: outbox, topics: topics, profile: configuration.profileName,
                policy: configuration.uplink, format: configuration.payloadFormat, wallClockMillis: wallClockMillis,
                onAppended: { drainer.recordsAppended() }, log: log.writer(.warning, "recorder"))
            var frames: [CANFrame] = []
            frames.reserveCapacity(1024)
            do {
                while !stopSource.load(ordering: .relaxed) {
                    frames.removeAll(keepingCapacity: true)
                    let more = try source.next(into: &frames)
                    for frame in frames { recorder.record(frame) }
                    recorder.tick(wallSeconds: monotonicSeconds())
                    recorderStatistics.withLock { $0 = recorder.statistics }
                    if !more { break }
                }
            } catch {
                log(.error, "source", "\(error)")
            }
            recorder.flush()
            recorderStatistics.withLock { $0 = recorder.statistics }
            log(.info, "source", "source ended: \(recorder.statistics.frames) frames")
            sourceDone.signal()
        }

        let shutdown = DispatchSemaphore(value: 0)
        let awaited = signals
        startDedicatedThread(name: "signals") {
            var awaited = awaited
            var received: Int32 = 0
            sigwait(&awaited, &received)
            log(.notice, "axled", "received signal \(received): shutting down")
            shutdown.signal()
        }
        if configuration.exitWhenDrained {
            startDedicatedThread(name: "drain-watch") {
                sourceDone.wait()
                sourceDone.signal()  // let the shutdown path below see it too
                while !isDrained(outbox: outbox, drainer: drainer) { usleep(20_000) }
                log(.notice, "axled", "source ended and the outbox is empty: exiting")
                shutdown.signal()
            }
        }
        shutdown.wait()

        // Graceful stop, within 2 s: the open batch goes to the outbox, "offline" goes to the broker.
        stopSource.store(true, ordering: .relaxed)
        _ = sourceDone.wait(timeout: .now() + 1)
        drainer.stop(timeoutSeconds: 0.5)
        client.stop(final: status.offline(reason: "shutdown"), timeoutSeconds: 0.5)
        linkWatcher?.stop()
        outbox.close()
        var summary = Summary()
        summary.recorder = recorderStatistics.withLock { $0 }
        summary.drainer = drainer.statistics
        summary.seconds = monotonicSeconds() - started
        return summary
    }

    private static func isDrained(outbox: OutboxStore, drainer: OutboxDrainer) -> Bool {
        guard drainer.statistics.inFlight == 0, let statistics = try? outbox.statistics() else { return false }
        return statistics.depth.values.allSatisfy { $0.records == 0 }
    }

    private static func makeSource(_ configuration: AgentConfiguration, database: DBCDatabase, log: AgentLog) throws -> any FrameSource {
        switch configuration.source {
        case .simulate(let scenario, let speed, let duration):
            return try SimulatedSource(
                database: database, scenario: scenario, profileName: configuration.profileName, speed: speed,
                duration: duration, startUnixSeconds: Double(wallClockMillis()) / 1000)
        case .replay(let path, let speed):
            return try ReplaySource(path: path, speed: speed, log: log.writer(.warning, "replay"))
        }
    }

    private static func loadDatabase(_ path: String, log: AgentLog) throws -> DBCDatabase {
        let database: DBCDatabase
        do {
            database = try DBCParser.parse(contentsOf: path)
        } catch {
            throw AgentConfigurationError("cannot use the DBC file: \(error)")
        }
        for warning in database.warnings.prefix(20) { log(.warning, "dbc", "\(warning)") }
        return database
    }

    private static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0, errno != EEXIST {
                throw AgentConfigurationError("cannot create the data directory \(prefix): \(String(cString: strerror(errno))); give a writable one with --data-dir")
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
