import AxleBase
import FirmwareProfile
import Outbox
import TelemetryPayload

/// The agent's own events on `…/events` (docs/mqtt.md): records the outbox dropped or refused, a damaged outbox
/// replaced.
/// Each is a `TelemetryBatch` holding only events, stored as a critical record (durable, first out, never evicted
/// while lower classes hold any), so that the backend learns exactly what it will never receive.
struct AgentEvents: Sendable {
    let outbox: OutboxStore
    let topics: UplinkTopics
    let profile: String
    let policy: UplinkPolicy
    let format: PayloadFormat
    let log: @Sendable (String) -> Void

    /// Runs on the drainer thread: drops expired records, reports every drop not yet reported, and reports intake the
    /// outbox refused once it takes records again.
    func housekeeping() {
        // Refusals first: storing their report in a full outbox may evict a record, which the drop report then names
        // at once rather than a round later.
        reportRefusals()
        reportDrops()
    }

    private func reportDrops() {
        do {
            try outbox.dropExpired()
            _ = try outbox.appendDropReport { ranges in
                let event = TelemetryEvent(
                    name: "outbox.records_dropped", timeMicros: wallClockMillis() * 1000, priority: "critical",
                    attributes: ["records": String(ranges.reduce(0) { $0 + $1.count })],
                    droppedRanges: ranges.map {
                        DroppedRange(recordClass: $0.priority.description, first: $0.first, last: $0.last, count: UInt64($0.count), reason: $0.reason.rawValue)
                    })
                return draft(for: event)
            }
        } catch {
            log("cannot report dropped records: \(error)")
        }
    }

    /// Refused records never got a sequence number, so the backend sees no gap: this event tells it what was lost
    /// and when (docs/mqtt.md, "Intake refused").
    private func reportRefusals() {
        do {
            _ = try outbox.appendRefusalReport { tally in draft(for: Self.intakeRefused(tally, atMillis: wallClockMillis())) }
        } catch {
            log("cannot report refused records: \(error)")
        }
    }

    /// The `outbox.intake_refused` event for `tally`; its attributes are documented in docs/mqtt.md.
    static func intakeRefused(_ tally: RefusalTally, atMillis: Int64) -> TelemetryEvent {
        var attributes = [
            "records": String(tally.totalRecords), "samples": String(tally.samples),
            "first_refused_ms": String(tally.firstAtMillis), "last_refused_ms": String(tally.lastAtMillis),
            "reasons": tally.reasons.names.joined(separator: ","),
        ]
        for (priority, count) in tally.records { attributes["records_\(priority)"] = String(count) }
        return TelemetryEvent(
            name: "outbox.intake_refused", timeMicros: atMillis * 1000, priority: "critical", attributes: attributes)
    }

    /// The outbox was damaged at start and replaced.
    func databaseReplaced(movedTo: String, reason: String) {
        let event = TelemetryEvent(
            name: "outbox.database_replaced", timeMicros: wallClockMillis() * 1000, priority: "critical",
            attributes: ["moved_to": movedTo, "reason": reason])
        do {
            try outbox.append([draft(for: event)], durability: .full)
        } catch {
            log("cannot record the outbox replacement event: \(error)")
        }
    }

    /// The command journal (`commands.db`) was damaged at start and replaced: past commands are forgotten, commands
    /// issued before `refusesIssuedBeforeMillis` are refused, and `lostFeatures` (comma-separated) must be sent again.
    func commandJournalReplaced(movedTo: String, reason: String, lostFeatures: [String], refusesIssuedBeforeMillis: Int64) {
        record(TelemetryEvent(
            name: "commands.journal_replaced", timeMicros: wallClockMillis() * 1000, priority: "critical",
            attributes: [
                "moved_to": movedTo, "reason": reason, "lost_features": lostFeatures.joined(separator: ","),
                "refuses_issued_before_ms": String(refusesIssuedBeforeMillis),
            ]))
    }

    /// The command journal cannot be opened at all: every remote command is refused until it can.
    func commandsDisabled(reason: String) {
        record(TelemetryEvent(
            name: "commands.disabled", timeMicros: wallClockMillis() * 1000, priority: "critical",
            attributes: ["reason": reason]))
    }

    private func record(_ event: TelemetryEvent) {
        do {
            try outbox.append([draft(for: event)], durability: .full)
        } catch {
            log("cannot record the event \(event.name): \(error)")
        }
    }

    /// A collection event (engine overheat, crash, …), stored with its rule's class: critical ones with a full sync.
    /// Returns the record's sequence number, nil when the outbox refused it (logged).
    func triggered(_ event: TelemetryEvent, priority: EventPriority) -> UInt64? {
        let recordClass: PriorityClass =
            switch priority {
            case .critical: .critical
            case .alert: .alert
            case .telemetry: .telemetry
            case .bulk: .bulk
            }
        do {
            // The class's own durability: a full sync for critical events (docs/outbox.md).
            return try outbox.append([draft(for: event, priority: recordClass)]).first
        } catch {
            log("cannot store the event \(event.name): \(error)")
            return nil
        }
    }

    private func draft(for event: TelemetryEvent, priority: PriorityClass = .critical) -> RecordDraft {
        var batch = TelemetryBatchBuilder(vehicleID: topics.vehicleID, profile: profile, signals: [])
        batch.append(event)
        let builder = batch
        let format = format
        let now = wallClockMillis()
        return RecordDraft(
            priority: priority, createdAtMillis: now,
            expiresAtMillis: policy.policy(for: priority).expirySeconds.map { now + Int64($0 * 1000) }, topic: topics.events,
            qos: policy.qos(for: priority),
            payload: { sequence in
                // An event batch is a few hundred bytes: one part, never split.
                try builder.encode(format: format, sequence: { _ in sequence })[0]
            })
    }
}
