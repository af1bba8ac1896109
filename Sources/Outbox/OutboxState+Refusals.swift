import SQLiteDatabase

// Refusal reports: drafts the outbox refused are tallied, the tally is written with the next commit, and
// `OutboxStore.appendRefusalReport` turns it into one record (docs/outbox.md, "Refusal reports").

extension OutboxState {
    /// The tally lives in `meta` under these keys, so that no schema change was needed: an older agent ignores them.
    private static let refusedRecordsKey = "refused.records."
    private static let refusedSamplesKey = "refused.samples"
    private static let refusedFirstKey = "refused.first_at"
    private static let refusedLastKey = "refused.last_at"
    private static let refusedReasonsKey = "refused.reasons"

    /// The report's reason for a failed append, or nil when the failure is no storage refusal: a draft too large for
    /// any cap or one whose payload could not be made is the producer's error, told to it alone; a closed store is a
    /// shutdown.
    static func refusalReason(_ error: OutboxError) -> RefusalTally.Reasons? {
        switch error.code {
        case .diskFull: .diskFull
        case .outboxFull: .outboxFull
        case .database, .damaged: .storageError
        default: nil
        }
    }

    /// Counts refused drafts in memory; the next commit writes them (`writePendingRefusals`).
    func tallyRefusal(_ drafts: [RecordDraft], reason: RefusalTally.Reasons) {
        guard !drafts.isEmpty else { return }
        let now = configuration.clock()
        var tally = RefusalTally(records: [:], samples: 0, firstAtMillis: now, lastAtMillis: now, reasons: reason)
        for draft in drafts {
            tally.records[draft.priority, default: 0] += 1
            tally.samples += draft.sampleCount
        }
        if unwrittenRefusals == nil {
            unwrittenRefusals = tally
        } else {
            unwrittenRefusals!.merge(tally)
        }
    }

    /// Inside a transaction: adds the refusals counted in memory to the class totals and to the stored tally.
    func writePendingRefusals() throws(OutboxError) {
        for (priority, count) in pendingRefused where count > 0 {
            try updateClass(priority, refused: Int64(count))
        }
        guard let tally = unwrittenRefusals else { return }
        for (priority, count) in tally.records {
            try upsertMeta(Self.refusedRecordsKey + String(priority.rawValue), Int64(count), combined: "value + excluded.value")
        }
        try upsertMeta(Self.refusedSamplesKey, Int64(tally.samples), combined: "value + excluded.value")
        try upsertMeta(Self.refusedFirstKey, tally.firstAtMillis, combined: "min(value, excluded.value)")
        try upsertMeta(Self.refusedLastKey, tally.lastAtMillis, combined: "max(value, excluded.value)")
        try upsertMeta(Self.refusedReasonsKey, tally.reasons.rawValue, combined: "value | excluded.value")
    }

    /// After the commit that wrote them: the in-memory counts are now in the database.
    func pendingRefusalsWritten() {
        pendingRefused = [:]
        unwrittenRefusals = nil
    }

    /// At close: refusals still in memory are written if the disk takes this small write (a WAL that already has the
    /// space often does even on a full disk); if not, they are lost with the process, as after a crash.
    func writePendingRefusalsAtClose() {
        guard unwrittenRefusals != nil || !pendingRefused.isEmpty else { return }
        if (try? transaction(full: true) { () throws(OutboxError) in try writePendingRefusals() }) != nil {
            pendingRefusalsWritten()
        }
    }

    /// The tally written so far and not yet reported, nil when there is none.
    func storedRefusals() throws(OutboxError) -> RefusalTally? {
        var values: [String: Int64] = [:]
        try openConnection().query(
            "SELECT key, value FROM meta WHERE key LIKE 'refused.%'", step: "reading the refusal tally"
        ) { statement in
            values[statement.text(0)] = statement.int64(1)
            return true
        }
        var records: [PriorityClass: Int] = [:]
        for priority in PriorityClass.allCases {
            if let count = values[Self.refusedRecordsKey + String(priority.rawValue)], count > 0 {
                records[priority] = Int(count)
            }
        }
        guard !records.isEmpty else { return nil }
        let first = values[Self.refusedFirstKey] ?? 0
        return RefusalTally(
            records: records, samples: Int(values[Self.refusedSamplesKey] ?? 0), firstAtMillis: first,
            lastAtMillis: values[Self.refusedLastKey] ?? first,
            reasons: RefusalTally.Reasons(rawValue: values[Self.refusedReasonsKey] ?? 0))
    }

    /// The first half of `OutboxStore.appendRefusalReport`: with a stored tally, begins a transaction (durability
    /// full) and clears it. Nil, with nothing left open, when there is none or intake is paused: while the disk is
    /// full the report would only compete with critical records for the space left; it waits until an append
    /// succeeds again.
    func beginRefusalReport() throws(OutboxError) -> RefusalTally? {
        guard !intakePaused, try storedRefusals() != nil else { return nil }
        try beginTransaction(full: true)
        do throws(OutboxError) {
            // Read again inside the transaction, the value the report will name.
            guard let tally = try storedRefusals() else {
                try commitTransaction()
                return nil
            }
            // Cleared before the report is stored: refusals the report's own insert writes (counted since the last
            // commit) stay for the next report.
            try openConnection().execute("DELETE FROM meta WHERE key LIKE 'refused.%'", step: "clearing the refusal tally")
            return tally
        } catch {
            abandonTransaction(after: error)
            throw error
        }
    }

    /// The second half: stores the report in the transaction `beginRefusalReport` opened and commits, or rolls back
    /// everything, leaving the tally for the next attempt. A report that cannot be stored is not itself counted as
    /// refused: nothing was lost, the tally still names everything.
    func finishRefusalReport(_ draft: RecordDraft) throws(OutboxError) -> UInt64 {
        let sequence: UInt64
        do throws(OutboxError) {
            sequence = try insertReport(draft, named: "refusal report")
        } catch {
            abandonTransaction(after: error)
            throw error
        }
        try commitTransaction()
        pendingRefusalsWritten()
        return sequence
    }

    /// Inserts `key` with `value`, or sets it to `combined` (an SQL expression of `value` and `excluded.value`).
    private func upsertMeta(_ key: String, _ value: Int64, combined: String) throws(OutboxError) {
        try openConnection().run(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = \(combined)",
            step: "updating the refusal tally"
        ) { statement in
            statement.bind(1, key)
            statement.bind(2, value)
        }
    }
}
