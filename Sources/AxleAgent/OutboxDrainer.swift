import AxleBase
import Dispatch
import MQTTUplink
import Outbox
import Synchronization

/// Publishes outbox records over MQTT, most important class first and in sequence order within a class, and deletes a
/// record only when its PUBACK arrives: until then the outbox holds the only copy that survives a crash or a lost
/// connection (docs/mqtt.md).
///
/// It runs on its own thread (`run()`), since every step is a blocking SQLite call. MQTT events arrive on the
/// library's network thread and are only queued here, so that the map from message id to sequence number is touched
/// by one thread alone: an acknowledgement can never be matched before its publish was recorded.
public final class OutboxDrainer: Sendable {
    /// What the drainer has done since it started, for `axle status` and the benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var published = 0
        public var acknowledged = 0
        public var deadLettered = 0
        /// Records published again because no acknowledgement came in time (sent twice, same sequence number).
        public var republished = 0
        public var inFlight = 0
        public var connected = false
        /// Monotonic time of the last connection and of the first acknowledgement after it.
        public var connectedAt: Double?
        public var firstAcknowledgementAfterConnect: Double?
        public var lastError: String?
    }

    private struct InFlight {
        var sequence: UInt64
        var sentAt: Double
    }

    /// Written by any thread, read by the drainer thread.
    private struct Inbox {
        var acknowledgements: [(messageID: Int32, reasonCode: Int32)] = []
        var connected = false
        var connectionEpoch = 0
        var stopping = false
        var metered: Bool
    }

    private let outbox: OutboxStore
    private let client: MQTTClient
    private let policy: UplinkPolicy
    private let wake = DispatchSemaphore(value: 0)
    private let inbox: Mutex<Inbox>
    private let stats = Mutex(Statistics())
    private let log: @Sendable (String) -> Void
    /// Called on the drainer thread every `housekeepingSeconds`: expiry, drop reports.
    private let housekeeping: @Sendable () -> Void
    private let housekeepingSeconds: Double
    /// A record whose acknowledgement has not come this long after a (re)connection is published again.
    private let acknowledgementTimeout: Double
    private let finished = DispatchSemaphore(value: 0)
    /// Counts loop turns (at least five a second): the watchdog's evidence that the drainer is alive.
    private let turns = Atomic<Int>(0)

    public init(
        outbox: OutboxStore, client: MQTTClient, policy: UplinkPolicy, acknowledgementTimeout: Double = 30,
        housekeepingSeconds: Double = 5, housekeeping: @escaping @Sendable () -> Void = {},
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.outbox = outbox
        self.client = client
        self.policy = policy
        self.acknowledgementTimeout = acknowledgementTimeout
        self.housekeeping = housekeeping
        self.housekeepingSeconds = housekeepingSeconds
        self.log = log
        self.inbox = Mutex(Inbox(metered: policy.metered))
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
            inbox.withLock { $0.acknowledgements.append((messageID, reasonCode)) }
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
        var inFlight: [Int32: InFlight] = [:]
        var epoch = 0
        var nextDue: [PriorityClass: Double] = [:]
        var nextHousekeeping = monotonicSeconds()
        var pendingDeletes: [UInt64] = []
        while true {
            let (acknowledgements, connected, connectionEpoch, stopping, metered) = inbox.withLock { inbox in
                defer { inbox.acknowledgements.removeAll(keepingCapacity: true) }
                return (inbox.acknowledgements, inbox.connected, inbox.connectionEpoch, inbox.stopping, inbox.metered)
            }
            let now = monotonicSeconds()
            if connectionEpoch != epoch {
                // A new connection: the library re-sends what it still holds, so the clock of every record in flight
                // starts again; the first acknowledgement after it is the "link is back" figure.
                epoch = connectionEpoch
                for key in inFlight.keys { inFlight[key]!.sentAt = now }
                stats.withLock { $0.connectedAt = now; $0.firstAcknowledgementAfterConnect = nil }
            }
            for (messageID, reasonCode) in acknowledgements {
                guard let record = inFlight.removeValue(forKey: messageID) else { continue }
                if reasonCode >= 0x80 {
                    // MQTT 5: a reason code of 0x80 or more means the broker refused this message (not authorised,
                    // quota, bad topic) and the exchange is over: it will never be taken, so sending it again cannot
                    // help and it leaves the outbox for the dead-letter table (docs/mqtt.md, docs/outbox.md).
                    deadLetter(record.sequence, reason: "broker refused the message: reason code 0x\(String(reasonCode, radix: 16))")
                } else {
                    pendingDeletes.append(record.sequence)
                }
            }
            if !pendingDeletes.isEmpty {
                do {
                    try outbox.acknowledge(pendingDeletes)
                    let count = pendingDeletes.count
                    stats.withLock {
                        $0.acknowledged += count
                        if $0.firstAcknowledgementAfterConnect == nil { $0.firstAcknowledgementAfterConnect = now }
                    }
                    pendingDeletes.removeAll(keepingCapacity: true)
                } catch {
                    // Kept for the next round: a record acknowledged but not yet deleted is at worst sent twice.
                    note(error: "cannot delete acknowledged records: \(error)")
                }
            }
            if stopping { break }
            if now >= nextHousekeeping {
                housekeeping()
                nextHousekeeping = now + housekeepingSeconds
            }
            if connected {
                // Records the library has held too long without an acknowledgement go out again.
                for (messageID, record) in inFlight where now - record.sentAt > acknowledgementTimeout {
                    inFlight.removeValue(forKey: messageID)
                    stats.withLock { $0.republished += 1 }
                }
                fill(&inFlight, nextDue: &nextDue, metered: metered, now: now)
            }
            stats.withLock { $0.inFlight = inFlight.count; $0.connected = connected }
            turns.add(1, ordering: .relaxed)
            // Woken by any event; the timeout serves housekeeping, publish intervals and acknowledgement timeouts.
            _ = wake.wait(timeout: .now() + 0.2)
        }
    }

    /// Publishes as many records as the window allows.
    private func fill(_ inFlight: inout [Int32: InFlight], nextDue: inout [PriorityClass: Double], metered: Bool, now: Double) {
        let limit = policy.window - inFlight.count
        guard limit > 0 else { return }
        let allowed = UplinkPolicy.sendableClasses(metered: metered).filter { now >= nextDue[$0, default: 0] }
        guard !allowed.isEmpty else { return }
        let excluding = Set(inFlight.values.map(\.sequence))
        let records: [OutboxRecord]
        do {
            records = try outbox.nextRecords(limit: limit, classes: allowed, excluding: excluding)
        } catch {
            note(error: "cannot read the outbox: \(error)")
            return
        }
        var sentClasses: Set<PriorityClass> = []
        for record in records {
            let message = MQTTMessage(
                topic: record.topic, payload: record.payload, qos: policy.awsIoTCompatible ? min(record.qos, 1) : record.qos,
                retain: false, properties: MQTTProperties())
            switch client.publish(message) {
            case .sent(let messageID), .notConnected(let messageID):
                // "Not connected": libmosquitto may keep the message in memory and send it after reconnecting, and
                // an acknowledgement for this id may still come, so it counts as in flight like the others; that
                // copy dies with the process, so the outbox keeps its own (docs/mqtt.md, "Connection").
                inFlight[messageID] = InFlight(sequence: record.sequence, sentAt: now)
                stats.withLock { $0.published += 1 }
                sentClasses.insert(record.priority)
            case .permanentFailure(let reason):
                deadLetter(record.sequence, reason: reason)
            case .transientFailure(let reason):
                note(error: "publish failed, will retry: \(reason)")
                return
            }
        }
        // A class with a publish interval is due again only after that interval once its backlog fitted in the
        // window; while more is pending it keeps flowing.
        guard records.count < limit else { return }
        for priority in sentClasses {
            let interval = policy.policy(for: priority).publishIntervalSeconds
            if interval > 0 { nextDue[priority] = now + interval }
        }
    }

    private func deadLetter(_ sequence: UInt64, reason: String) {
        do {
            try outbox.deadLetter(sequence: sequence, reason: reason)
            stats.withLock { $0.deadLettered += 1 }
            log("record \(sequence) moved to the dead-letter table: \(reason)")
        } catch {
            note(error: "cannot dead-letter record \(sequence): \(error)")
        }
    }

    private func note(error text: String) {
        stats.withLock { $0.lastError = text }
        log(text)
    }
}
