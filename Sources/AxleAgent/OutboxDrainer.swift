import AgentCore
import AxleBase
import Dispatch
import MQTTUplink
import Outbox
import Synchronization

/// Publishes outbox records over MQTT, most important class first and in sequence order within a class, and deletes a
/// record only when its PUBACK arrives: until then the outbox holds the only copy that survives a crash or a lost
/// connection (docs/mqtt.md).
///
/// This is the drainer's thread and wiring; what it decides on each turn (the window, deletes, republishing,
/// dead letters, class intervals) is `DrainScheduler`'s, in AgentCore. It runs on its own thread (`run()`), since
/// every step is a blocking SQLite call. MQTT events arrive on the library's network thread and are only queued
/// here, so that the map from message id to sequence number is touched by one thread alone: an acknowledgement can
/// never be matched before its publish was recorded.
public final class OutboxDrainer: Sendable {
    /// What the drainer has done since it started, for `axle status` and the benchmarks.
    public typealias Statistics = DrainStatistics

    private let outbox: OutboxStore
    private let client: MQTTClient
    private let settings: DrainSettings
    private let wake = DispatchSemaphore(value: 0)
    /// Written by any thread, taken by the drainer thread on each turn.
    private let inbox: Mutex<DrainerInbox>
    private let stats = Mutex(Statistics())
    private let log: @Sendable (String) -> Void
    /// Called on the drainer thread every `housekeepingSeconds`: expiry, drop reports.
    private let housekeeping: @Sendable () -> Void
    private let finished = DispatchSemaphore(value: 0)
    /// Counts loop turns (at least five a second): the watchdog's evidence that the drainer is alive.
    private let turns = Atomic<Int>(0)

    /// A record whose acknowledgement has not come `acknowledgementTimeout` seconds after it was sent or after a
    /// (re)connection is published again.
    public init(
        outbox: OutboxStore, client: MQTTClient, policy: UplinkPolicy, acknowledgementTimeout: Double = 30,
        housekeepingSeconds: Double = 5, housekeeping: @escaping @Sendable () -> Void = {},
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.outbox = outbox
        self.client = client
        self.settings = DrainSettings(
            policy, acknowledgementTimeoutSeconds: acknowledgementTimeout, housekeepingSeconds: housekeepingSeconds)
        self.housekeeping = housekeeping
        self.log = log
        self.inbox = Mutex(DrainerInbox(metered: policy.metered))
    }

    // MARK: Called from other threads

    /// Feeds an MQTT event in (call from the client's event handler; returns at once).
    public func handle(_ event: MQTTClientEvent) {
        switch event {
        case .connected:
            inbox.withLock { $0.connected = true; $0.connectionEpoch += 1 }
        case .disconnected, .connectFailed:
            inbox.withLock { $0.connected = false }
        case .acknowledged(let messageID, let reasonCode):
            inbox.withLock { $0.acknowledgements.append(RecordAcknowledgement(messageID: messageID, reasonCode: reasonCode)) }
        case .subscribed, .message:
            return
        }
        wake.signal()
    }

    /// New records are in the outbox.
    public func recordsAppended() { wake.signal() }

    /// Switches metered mode (only critical and alert records are sent while on).
    public func setMetered(_ metered: Bool) {
        inbox.withLock { $0.metered = metered }
        wake.signal()
    }

    /// Asks `run()` to return, and waits until it has (bounded by `timeoutSeconds`).
    public func stop(timeoutSeconds: Double = 2) {
        inbox.withLock { $0.stopping = true }
        wake.signal()
        _ = finished.wait(timeout: .now() + timeoutSeconds)
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Loop turns so far; it grows at least five times a second while the drainer thread is healthy.
    public var loopTurns: Int { turns.load(ordering: .relaxed) }

    // MARK: The drainer thread

    /// The drain loop; returns after `stop()`.
    public func run() {
        defer { finished.signal() }
        let scheduler = DrainScheduler(
            settings: settings, store: OutboxRecordStore(outbox: outbox), publisher: MQTTRecordPublisher(client: client),
            clock: SystemClock(), housekeeping: housekeeping, log: log)
        while true {
            let taken = inbox.withLock { inbox in
                defer { inbox.acknowledgements.removeAll(keepingCapacity: true) }
                return inbox
            }
            scheduler.turn(taken)
            stats.withLock { $0 = scheduler.statistics }
            if taken.stopping { break }
            turns.add(1, ordering: .relaxed)
            // Woken by any event; the timeout serves housekeeping, publish intervals and acknowledgement timeouts.
            _ = wake.wait(timeout: .now() + 0.2)
        }
    }
}
