/// The drainer's settings, taken from the uplink policy (`UplinkPolicy` in the agent's configuration).
public struct DrainSettings: Sendable, Equatable {
    /// Records handed to the MQTT library and not yet acknowledged.
    public var window: Int
    /// Per class: pending records go out at most this often (absent or 0: as soon as they exist).
    public var publishIntervalSeconds: [RecordClass: Double]
    /// AWS IoT Core refuses QoS 2: records stored at QoS 2 go out at QoS 1.
    public var qosAtMostOne: Bool
    /// A record whose acknowledgement has not come this long after it was sent, or after a (re)connection, is
    /// published again.
    public var acknowledgementTimeoutSeconds: Double
    /// How often housekeeping (expiry, drop and refusal reports) runs.
    public var housekeepingSeconds: Double

    public init(
        window: Int, publishIntervalSeconds: [RecordClass: Double] = [:], qosAtMostOne: Bool = false,
        acknowledgementTimeoutSeconds: Double = 30, housekeepingSeconds: Double = 5
    ) {
        self.window = window
        self.publishIntervalSeconds = publishIntervalSeconds
        self.qosAtMostOne = qosAtMostOne
        self.acknowledgementTimeoutSeconds = acknowledgementTimeoutSeconds
        self.housekeepingSeconds = housekeepingSeconds
    }
}

/// What the drainer has done since it started, for `axle status` and the benchmarks.
public struct DrainStatistics: Sendable, Equatable {
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

    public init() {}
}

/// What the drainer was told since its last turn: the MQTT thread's events and the agent's switches.
public struct DrainerInbox: Sendable {
    public var acknowledgements: [RecordAcknowledgement] = []
    public var connected = false
    /// Grows by one with every new connection, so that a reconnection between two turns is not missed.
    public var connectionEpoch = 0
    /// Metered mode: only critical and alert records are sent while on; the rest keeps buffering.
    public var metered: Bool
    public var stopping = false

    public init(metered: Bool) { self.metered = metered }
}

/// The drainer's decisions (docs/outbox.md, docs/mqtt.md): which records go out and when, that a record is deleted
/// only when its acknowledgement comes, what is published again, what is dead-lettered.
///
/// Publishes the most important class first and in sequence order within a class, keeping at most `window` records
/// in flight. The drainer thread calls `turn` whenever something happened and at least five times a second; nothing
/// here blocks except the store's calls, and time comes from the clock, so tests drive it turn by turn.
/// Used by the drainer thread alone: not `Sendable`.
public final class DrainScheduler {
    private struct InFlight {
        var sequence: UInt64
        var sentAt: Double
    }

    private let settings: DrainSettings
    private let store: any RecordStore
    private let publisher: any RecordPublisher
    private let clock: any AgentClock
    private let housekeeping: () -> Void
    private let log: (String) -> Void
    /// Message id → record, for every record handed to the publisher and not yet acknowledged.
    private var inFlight: [Int32: InFlight] = [:]
    private var epoch = 0
    private var nextDue: [RecordClass: Double] = [:]
    private var nextHousekeeping: Double
    /// Acknowledged records whose deletion failed: tried again on the next turn.
    private var pendingDeletes: [UInt64] = []
    public private(set) var statistics = DrainStatistics()

    /// `housekeeping` runs on the first turn and then every `settings.housekeepingSeconds`.
    public init(
        settings: DrainSettings, store: any RecordStore, publisher: any RecordPublisher, clock: any AgentClock,
        housekeeping: @escaping () -> Void = {}, log: @escaping (String) -> Void = { _ in }
    ) {
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.housekeeping = housekeeping
        self.log = log
        self.nextHousekeeping = clock.monotonicSeconds()
    }

    /// Sequence numbers of the records in flight (handed to the publisher, not yet acknowledged).
    public var inFlightSequences: Set<UInt64> { Set(inFlight.values.map(\.sequence)) }

    /// Settles acknowledgements and, unless stopping, publishes what the window and the classes' intervals allow.
    public func turn(_ inbox: DrainerInbox) {
        let now = clock.monotonicSeconds()
        if inbox.connectionEpoch != epoch {
            // A new connection: the library re-sends what it still holds, so the clock of every record in flight
            // starts again; the first acknowledgement after it is the "link is back" figure.
            epoch = inbox.connectionEpoch
            for key in inFlight.keys { inFlight[key]!.sentAt = now }
            statistics.connectedAt = now
            statistics.firstAcknowledgementAfterConnect = nil
        }
        for acknowledgement in inbox.acknowledgements {
            // An id not in flight: acknowledged twice, or for a record already published again after a timeout.
            guard let record = inFlight.removeValue(forKey: acknowledgement.messageID) else { continue }
            if acknowledgement.reasonCode >= 0x80 {
                // MQTT 5: a reason code of 0x80 or more means the broker refused this message (not authorised,
                // quota, bad topic) and the exchange is over: it will never be taken, so sending it again cannot
                // help and it leaves the outbox for the dead-letter table (docs/mqtt.md, docs/outbox.md).
                deadLetter(
                    record.sequence,
                    reason: "broker refused the message: reason code 0x\(String(acknowledgement.reasonCode, radix: 16))")
            } else {
                pendingDeletes.append(record.sequence)
            }
        }
        if !pendingDeletes.isEmpty {
            do {
                try store.acknowledge(pendingDeletes)
                statistics.acknowledged += pendingDeletes.count
                if statistics.firstAcknowledgementAfterConnect == nil { statistics.firstAcknowledgementAfterConnect = now }
                pendingDeletes.removeAll(keepingCapacity: true)
            } catch {
                // Kept for the next turn: a record acknowledged but not yet deleted is at worst sent twice.
                note(error: "cannot delete acknowledged records: \(error)")
            }
        }
        if inbox.stopping { return }
        if now >= nextHousekeeping {
            housekeeping()
            nextHousekeeping = now + settings.housekeepingSeconds
        }
        if inbox.connected {
            // Records the library has held too long without an acknowledgement leave the window, so that `fill`
            // reads them again in class and sequence order and publishes them under a new message id.
            for (messageID, record) in inFlight where now - record.sentAt > settings.acknowledgementTimeoutSeconds {
                inFlight.removeValue(forKey: messageID)
                statistics.republished += 1
            }
            fill(metered: inbox.metered, now: now)
        }
        statistics.inFlight = inFlight.count
        statistics.connected = inbox.connected
    }

    /// Publishes as many records as the window allows.
    private func fill(metered: Bool, now: Double) {
        let limit = settings.window - inFlight.count
        guard limit > 0 else { return }
        let allowed = RecordClass.sendable(metered: metered).filter { now >= nextDue[$0, default: 0] }
        guard !allowed.isEmpty else { return }
        let records: [PendingRecord]
        do {
            records = try store.nextRecords(limit: limit, classes: allowed, excluding: inFlightSequences)
        } catch {
            note(error: "cannot read the outbox: \(error)")
            return
        }
        var sentClasses: Set<RecordClass> = []
        for record in records {
            switch publisher.publish(record, qos: settings.qosAtMostOne ? min(record.qos, 1) : record.qos) {
            case .sent(let messageID), .notConnected(let messageID):
                // "Not connected": libmosquitto may keep the message in memory and send it after reconnecting, and
                // an acknowledgement for this id may still come, so it counts as in flight like the others; that
                // copy dies with the process, so the outbox keeps its own (docs/mqtt.md, "Connection").
                inFlight[messageID] = InFlight(sequence: record.sequence, sentAt: now)
                statistics.published += 1
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
            let interval = settings.publishIntervalSeconds[priority] ?? 0
            if interval > 0 { nextDue[priority] = now + interval }
        }
    }

    private func deadLetter(_ sequence: UInt64, reason: String) {
        do {
            try store.deadLetter(sequence: sequence, reason: reason)
            statistics.deadLettered += 1
            log("record \(sequence) moved to the dead-letter table: \(reason)")
        } catch {
            note(error: "cannot dead-letter record \(sequence): \(error)")
        }
    }

    private func note(error text: String) {
        statistics.lastError = text
        log(text)
    }
}

@available(*, unavailable)
extension DrainScheduler: Sendable {}
