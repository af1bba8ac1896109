import SQLiteDatabase

/// Everything behind `OutboxStore`'s lock: the connection, the pause state, and every operation as SQL in
/// transactions. Not `Sendable`: only the thread holding the lock touches it.
final class OutboxState {
    let configuration: OutboxConfiguration
    let limits: StorageLimits
    var connection: OutboxConnection?
    /// The disk was full at the last attempt: non-critical appends are paced.
    private(set) var intakePaused = false
    var lastFullAttempt = -Double.infinity
    /// Refusals not yet written (the disk was full): added to the `classes` table by the next append that commits.
    var pendingRefused: [PriorityClass: Int] = [:]
    /// Refusals for the next refusal report not yet written: added to the stored tally by the next commit.
    var unwrittenRefusals: RefusalTally?
    /// The value in the sequence sidecar: no sequence number above it has been assigned.
    var sequenceMark: UInt64
    var synchronousFull = false
    var reserveMissing = false
    var lastReserveAttempt = -Double.infinity
    /// The last transaction failed because the database reached `max_page_count`, not because the disk is full.
    var hitPageLimit = false

    /// Sequence numbers the sidecar is written ahead by, so it is rewritten only once per this many records.
    static let sequenceReservation: UInt64 = 1024
    /// While the reserve file is missing, how often (seconds) re-creating it is tried.
    static let reserveRetryInterval = 60.0
    /// SQLite's wait for a lock held by another connection (the technician CLI reading).
    static let busyTimeoutMillis: Int32 = 5000

    var path: String { configuration.path }
    var sidecarPath: String { configuration.path + ".sequence" }
    var reservePath: String { configuration.path + ".reserve" }

    init(configuration: OutboxConfiguration, connection: OutboxConnection, limits: StorageLimits, mark: UInt64) {
        self.configuration = configuration
        self.connection = connection
        self.limits = limits
        self.sequenceMark = mark
    }

    // MARK: Transactions and accounting

    /// Runs `body` in one write transaction with `synchronous=FULL` (`full`) or NORMAL; rolls back on any error.
    func transaction<T>(full: Bool, _ body: () throws(OutboxError) -> T) throws(OutboxError) -> T {
        try beginTransaction(full: full)
        let value: T
        do throws(OutboxError) {
            value = try body()
        } catch {
            abandonTransaction(after: error)
            throw error
        }
        try commitTransaction()
        return value
    }

    /// Switches durability for the coming commit and begins a write transaction.
    func beginTransaction(full: Bool) throws(OutboxError) {
        let connection = try openConnection()
        if full != synchronousFull {
            try connection.execute("PRAGMA synchronous=\(full ? "FULL" : "NORMAL")", step: "setting durability")
            synchronousFull = full
        }
        hitPageLimit = false
        do throws(OutboxError) {
            try connection.execute("BEGIN IMMEDIATE", step: "starting a transaction")
        } catch {
            restoreNormalDurability()
            throw error
        }
    }

    /// Commits; on failure rolls back and throws.
    func commitTransaction() throws(OutboxError) {
        do throws(OutboxError) {
            try openConnection().execute("COMMIT", step: "committing")
        } catch {
            abandonTransaction(after: error)
            throw error
        }
        restoreNormalDurability()
    }

    /// Rolls back after `error`, noting whether SQLite's page limit (not the disk) was what filled up.
    func abandonTransaction(after error: OutboxError) {
        if let connection, connection.isInTransaction {
            if error.code == .diskFull {
                let pages = (try? connection.integer("PRAGMA page_count", step: "")) ?? 0
                hitPageLimit = pages >= limits.maxPageCount - 1
            }
            try? connection.execute("ROLLBACK", step: "rolling back")
        }
        restoreNormalDurability()
    }

    func restoreNormalDurability() {
        guard synchronousFull, let connection else { return }
        if (try? connection.execute("PRAGMA synchronous=NORMAL", step: "restoring durability")) != nil {
            synchronousFull = false
        }
    }

    /// Bytes in use as the cap counts them: (page_count - freelist_count) × page_size.
    func usedBytes() throws(OutboxError) -> Int64 {
        try Self.usedBytes(try openConnection())
    }

    static func usedBytes(_ connection: OutboxConnection) throws(OutboxError) -> Int64 {
        let step = "measuring the database"
        let pages = try connection.integer("PRAGMA page_count", step: step) ?? 0
        let free = try connection.integer("PRAGMA freelist_count", step: step) ?? 0
        let size = try connection.integer("PRAGMA page_size", step: step) ?? 4096
        return (pages - free) * size
    }

    func lastSequence() throws(OutboxError) -> UInt64 {
        UInt64(try openConnection().integer(
            "SELECT value FROM meta WHERE key = 'last_sequence'", step: "reading the last sequence number") ?? 0)
    }

    func setMeta(_ key: String, _ value: Int64) throws(OutboxError) {
        try openConnection().run("UPDATE meta SET value = ? WHERE key = ?", step: "updating \(key)") {
            statement in
            statement.bind(1, value)
            statement.bind(2, key)
        }
    }

    /// Adds to the per-class totals in the `classes` table.
    func updateClass(
        _ priority: PriorityClass, records: Int64 = 0, payloadBytes: Int64 = 0, dropped: Int64 = 0,
        refused: Int64 = 0, delivered: Int64 = 0
    ) throws(OutboxError) {
        try openConnection().run(
            """
            UPDATE classes SET records = records + ?, payload_bytes = payload_bytes + ?, dropped = dropped + ?,
                refused = refused + ?, delivered = delivered + ? WHERE priority = ?
            """, step: "updating the \(priority) totals"
        ) { statement in
            statement.bind(1, records)
            statement.bind(2, payloadBytes)
            statement.bind(3, dropped)
            statement.bind(4, refused)
            statement.bind(5, delivered)
            statement.bind(6, Int64(priority.rawValue))
        }
    }

    func checkpoint() {
        connection?.checkpoint()
    }

    // MARK: Appending

    struct PreparedRow {
        let sequence: UInt64
        let position: Int64
        let draft: RecordDraft
        let payload: [UInt8]
    }

    /// Appends, and tallies drafts refused for a storage reason for the next refusal report.
    func append(_ drafts: [RecordDraft], durability: Durability?) throws(OutboxError) -> [UInt64] {
        do throws(OutboxError) {
            return try attemptAppend(drafts, durability: durability)
        } catch {
            if let reason = Self.refusalReason(error) { tallyRefusal(drafts, reason: reason) }
            throw error
        }
    }

    private func attemptAppend(_ drafts: [RecordDraft], durability: Durability?) throws(OutboxError) -> [UInt64] {
        _ = try openConnection()
        guard let top = drafts.map(\.priority).min() else { return [] }
        let critical = top == .critical
        let full = critical || durability == .full
        let now = configuration.monotonicClock()
        if intakePaused, !critical, now - lastFullAttempt < configuration.diskFullRetryInterval {
            refuse(drafts)
            let wait = Int((configuration.diskFullRetryInterval - (now - lastFullAttempt)).rounded(.up))
            throw OutboxError(
                .diskFull, path: path,
                message: "the disk is full: \(describe(drafts)) refused without trying (intake is paused; the next "
                    + "attempt in \(wait) s); free space on the filesystem that holds the outbox")
        }

        let first = try lastSequence() + 1
        guard first + UInt64(drafts.count) <= Schema.maximumSequence else {
            throw OutboxError(.database, path: path, message: "sequence numbers are exhausted (2^56)")
        }
        var rows: [PreparedRow] = []
        for (index, draft) in drafts.enumerated() {
            let sequence = first + UInt64(index)
            rows.append(PreparedRow(
                sequence: sequence, position: Schema.position(draft.priority, sequence), draft: draft,
                payload: try encodedPayload(draft, sequence: sequence)))
        }
        var need = estimatedBytes(rows)
        guard need <= limits.capBytes - limits.fixedBytes else {
            throw OutboxError(
                .tooLarge, path: path,
                message: "\(describe(drafts)) need about \(need) bytes, more than the cap of \(limits.capBytes) "
                    + "bytes allows; send smaller batches or raise the cap")
        }

        var fullRetries = 0
        var limitRetries = 0
        while true {
            do throws(OutboxError) {
                try transaction(full: full) { () throws(OutboxError) in
                    try insert(rows, need: need, top: top)
                }
                pendingRefusalsWritten()
                let resumed = intakePaused && !critical
                if resumed { intakePaused = false }
                restoreReserveIfDue(now: now, force: resumed)
                return rows.map(\.sequence)
            } catch {
                if error.code == .diskFull, hitPageLimit, limitRetries < 3 {
                    // The estimate fell short and SQLite's page limit (the cap's backstop) stopped the insert.
                    limitRetries += 1
                    need *= 2
                    continue
                }
                if error.code == .outboxFull {
                    refuse(drafts)
                    throw error
                }
                guard error.code == .diskFull else { throw error }
                if critical, fullRetries < 6, freeSpaceForCritical(bytes: need << fullRetries) {
                    fullRetries += 1
                    continue
                }
                intakePaused = true
                lastFullAttempt = now
                refuse(drafts)
                throw error.adding(
                    context: critical
                        ? "storing \(describe(drafts)) (even after handing back the reserve and evicting "
                            + "lower-class records)"
                        : "storing \(describe(drafts)) (refused; intake of non-critical records paused)")
            }
        }
    }

    /// Inside a transaction: makes room, inserts, and keeps the totals, the last sequence and the sidecar current.
    func insert(_ rows: [PreparedRow], need: Int64, top: PriorityClass) throws(OutboxError) {
        let connection = try openConnection()
        let now = configuration.clock()
        try writePendingRefusals()
        guard try makeRoom(need: need, top: top, now: now) else {
            throw OutboxError(
                .outboxFull, path: path,
                message: "the outbox is at its cap of \(limits.capBytes) bytes and holds only records more "
                    + "important than these \(top) records, which are refused; they are sent as the uplink drains")
        }
        var totals: [PriorityClass: (records: Int64, bytes: Int64)] = [:]
        for row in rows {
            try SQLiteConnection.withBytes(row.payload) { payload throws(OutboxError) in
                try connection.run(
                    """
                    INSERT INTO records(position, created_at, expires_at, topic, qos, payload, retain, content_type, correlation)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    step: "storing a record"
                ) { statement in
                    let properties = row.draft.properties
                    statement.bind(1, row.position)
                    statement.bind(2, row.draft.createdAtMillis)
                    statement.bind(3, row.draft.expiresAtMillis)
                    statement.bind(4, row.draft.topic)
                    statement.bind(5, Int64(row.draft.qos))
                    statement.bind(6, borrowing: payload)
                    statement.bind(7, Int64(properties.retain ? 1 : 0))
                    statement.bind(8, properties.contentType)
                    if let correlation = properties.correlationData {
                        statement.bind(9, correlation)
                    } else {
                        statement.bindNull(9)
                    }
                }
            }
            totals[row.draft.priority, default: (0, 0)].records += 1
            totals[row.draft.priority, default: (0, 0)].bytes += Int64(row.payload.count)
        }
        for (priority, total) in totals {
            try updateClass(priority, records: total.records, payloadBytes: total.bytes)
        }
        let last = rows[rows.count - 1].sequence
        try setMeta("last_sequence", Int64(last))
        if last > sequenceMark { writeSequenceMark(last + Self.sequenceReservation) }
        // The size estimate may have been short: trim back under the cap, never touching the new records.
        if try usedBytes() > limits.capBytes {
            _ = try evict(
                downTo: limits.capBytes, classes: evictionOrder(notAbove: top), below: rows[0].sequence, now: now)
        }
    }

    func estimatedBytes(_ rows: [PreparedRow]) -> Int64 {
        limits.estimatedBytes(rowSizes: rows.map {
            $0.payload.count + $0.draft.topic.utf8.count + ($0.draft.properties.contentType?.utf8.count ?? 0)
                + ($0.draft.properties.correlationData?.count ?? 0)
        })
    }

    func refuse(_ drafts: [RecordDraft]) {
        for draft in drafts { pendingRefused[draft.priority, default: 0] += 1 }
    }

    func describe(_ drafts: [RecordDraft]) -> String {
        let classes = Set(drafts.map(\.priority)).sorted().map(\.description).joined(separator: "/")
        return "\(drafts.count) \(classes) record\(drafts.count == 1 ? "" : "s")"
    }

    /// A critical append met a full disk: hands back the reserve file, evicts lower-class records and checkpoints,
    /// so that the retry reuses pages inside the database and WAL space the checkpoint released. False when nothing
    /// more can be freed.
    func freeSpaceForCritical(bytes: Int64) -> Bool {
        var progress = false
        if Files.exists(reservePath), Files.remove(reservePath) {
            reserveMissing = true
            progress = true
        }
        checkpoint()
        let evicted = try? transaction(full: false) { () throws(OutboxError) -> Int in
            let target = try usedBytes() - bytes
            return try evict(
                downTo: target, classes: [.bulk, .telemetry, .alert], below: nil, now: configuration.clock())
        }
        if let evicted, evicted > 0 { progress = true }
        checkpoint()
        return progress
    }

    func restoreReserveIfDue(now: Double, force: Bool) {
        guard reserveMissing, force || now - lastReserveAttempt >= Self.reserveRetryInterval else { return }
        lastReserveAttempt = now
        reserveMissing = !Files.writeReserve(reservePath, bytes: limits.reserveBytes)
    }

    // MARK: Draining

    func nextRecords(limit: Int, classes: Set<PriorityClass>, excluding: Set<UInt64>) throws(OutboxError)
        -> [OutboxRecord]
    {
        let connection = try openConnection()
        let now = configuration.clock()
        var records: [OutboxRecord] = []
        for priority in classes.sorted() where records.count < limit {
            let range = Schema.range(priority)
            try connection.query(
                """
                SELECT position, created_at, expires_at, topic, qos, payload, retain, content_type, correlation FROM records
                WHERE position >= ? AND position < ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY position
                """,
                step: "reading records to send",
                bind: { statement in
                    statement.bind(1, range.lower)
                    statement.bind(2, range.upper)
                    statement.bind(3, now)
                },
                row: { statement in
                    let sequence = Schema.sequence(statement.int64(0))
                    if excluding.contains(sequence) { return true }
                    records.append(
                        OutboxRecord(
                            sequence: sequence, priority: priority, createdAtMillis: statement.int64(1),
                            expiresAtMillis: statement.optionalInt64(2), topic: statement.text(3),
                            qos: UInt8(truncatingIfNeeded: statement.int64(4)),
                            properties: Self.properties(statement, from: 6), payload: statement.blob(5)))
                    return records.count < limit
                })
        }
        return records
    }

    /// Deletes one record by sequence number, whatever its class; returns its class and payload size if it was there.
    func deleteRecord(_ sequence: UInt64) throws(OutboxError) -> (PriorityClass, Int64)? {
        guard sequence <= Schema.maximumSequence else { return nil }
        var found: (PriorityClass, Int64)?
        try openConnection().query(
            "DELETE FROM records WHERE position IN (?, ?, ?, ?) RETURNING position, length(payload)",
            step: "deleting a record",
            bind: { statement in
                for priority in PriorityClass.allCases {
                    statement.bind(Int32(priority.rawValue) + 1, Schema.position(priority, sequence))
                }
            },
            row: { statement in
                found = (Schema.priority(statement.int64(0)), statement.int64(1))
                return true
            })
        return found
    }

    func acknowledge(_ sequences: [UInt64]) throws(OutboxError) {
        guard !sequences.isEmpty else { return }
        try transaction(full: false) { () throws(OutboxError) in
            var totals: [PriorityClass: (records: Int64, bytes: Int64)] = [:]
            for sequence in sequences {
                guard let (priority, bytes) = try deleteRecord(sequence) else { continue }
                totals[priority, default: (0, 0)].records += 1
                totals[priority, default: (0, 0)].bytes += bytes
            }
            for (priority, total) in totals {
                try updateClass(priority, records: -total.records, payloadBytes: -total.bytes, delivered: total.records)
            }
        }
    }

    func deadLetter(sequence: UInt64, reason: String) throws(OutboxError) {
        guard sequence <= Schema.maximumSequence else { return }
        let connection = try openConnection()
        let now = configuration.clock()
        try transaction(full: false) { () throws(OutboxError) in
            try connection.run(
                """
                INSERT OR REPLACE INTO dead_letters(
                    sequence, priority, created_at, expires_at, topic, qos, payload, reason, at, retain, content_type,
                    correlation)
                SELECT position & \(Schema.sequenceMask), position >> \(Schema.sequenceBits), created_at, expires_at,
                    topic, qos, payload, ?, ?, retain, content_type, correlation
                FROM records WHERE position IN (?, ?, ?, ?)
                """, step: "dead-lettering a record"
            ) { statement in
                statement.bind(1, reason)
                statement.bind(2, now)
                for priority in PriorityClass.allCases {
                    statement.bind(Int32(priority.rawValue) + 3, Schema.position(priority, sequence))
                }
            }
            guard let (priority, bytes) = try deleteRecord(sequence) else { return }
            try updateClass(priority, records: -1, payloadBytes: -bytes, delivered: 1)
            try connection.run(
                """
                DELETE FROM dead_letters WHERE sequence <
                    (SELECT min(sequence) FROM (SELECT sequence FROM dead_letters ORDER BY sequence DESC LIMIT ?))
                """, step: "trimming the dead letters"
            ) { statement in statement.bind(1, Int64(Schema.deadLetterLimit)) }
        }
    }

    func deadLetters(limit: Int) throws(OutboxError) -> [DeadLetter] {
        var letters: [DeadLetter] = []
        try openConnection().query(
            """
            SELECT sequence, priority, created_at, expires_at, topic, qos, payload, reason, at, retain, content_type,
                correlation
            FROM dead_letters
            ORDER BY sequence DESC LIMIT ?
            """,
            step: "reading dead letters",
            bind: { statement in statement.bind(1, Int64(max(limit, 0))) },
            row: { statement in
                let record = OutboxRecord(
                    sequence: UInt64(statement.int64(0)),
                    priority: PriorityClass(rawValue: UInt8(truncatingIfNeeded: statement.int64(1))) ?? .bulk,
                    createdAtMillis: statement.int64(2), expiresAtMillis: statement.optionalInt64(3),
                    topic: statement.text(4), qos: UInt8(truncatingIfNeeded: statement.int64(5)),
                    properties: Self.properties(statement, from: 9), payload: statement.blob(6))
                letters.append(DeadLetter(record: record, reason: statement.text(7), atMillis: statement.int64(8)))
                return true
            })
        return letters.reversed()
    }

    func dropExpired() throws(OutboxError) -> Int {
        let now = configuration.clock()
        return try transaction(full: false) { () throws(OutboxError) in try dropExpiredRecords(now: now) }
    }

    /// The first half of `OutboxStore.appendDropReport`: begins a transaction (durability full), takes the
    /// unreported drop ranges and marks them reported. Nil, with nothing left open, when none are pending.
    func beginDropReport() throws(OutboxError) -> [DropRange]? {
        let connection = try openConnection()
        try beginTransaction(full: true)
        do throws(OutboxError) {
            var ids: [Int64] = []
            var ranges: [DropRange] = []
            try connection.query(
                "SELECT id, priority, first, last, count, reason, at FROM drops WHERE reported = 0 ORDER BY id",
                step: "reading unreported drops"
            ) { statement in
                ids.append(statement.int64(0))
                ranges.append(Self.dropRange(statement, from: 1))
                return true
            }
            guard let lastID = ids.last else {
                try commitTransaction()
                return nil
            }
            // Marked before the report is stored: an eviction the report itself causes must not extend a range the
            // report already names.
            try connection.run(
                "UPDATE drops SET reported = 1 WHERE reported = 0 AND id <= ?", step: "marking drops reported"
            ) { statement in statement.bind(1, lastID) }
            return ranges
        } catch {
            abandonTransaction(after: error)
            throw error
        }
    }

    /// The draft's payload for `sequence`, or a `.payload` error naming why the producer could not make it.
    private func encodedPayload(_ draft: RecordDraft, sequence: UInt64) throws(OutboxError) -> [UInt8] {
        do {
            return try draft.payload(sequence)
        } catch {
            throw OutboxError(.payload, path: path, message: "the \(draft.priority) record \(sequence) could not be encoded: \(error)")
        }
    }

    /// The second half: stores the report in the transaction `beginDropReport` opened, and commits (or rolls back
    /// everything, leaving the ranges unreported).
    func finishDropReport(_ draft: RecordDraft) throws(OutboxError) -> UInt64 {
        let connection = try openConnection()
        let sequence: UInt64
        do throws(OutboxError) {
            sequence = try insertReport(draft, named: "drop report")
            try connection.run(
                """
                DELETE FROM drops WHERE reported = 1 AND id <
                    (SELECT min(id) FROM (SELECT id FROM drops ORDER BY id DESC LIMIT ?))
                """, step: "trimming reported drops"
            ) { statement in statement.bind(1, Int64(Schema.recentDropLimit)) }
        } catch {
            abandonTransaction(after: error)
            if error.code == .diskFull || error.code == .outboxFull { refuse([draft]) }
            throw error
        }
        try commitTransaction()
        pendingRefusalsWritten()
        return sequence
    }

    /// Inside a transaction: stores one report record (a single row, never split) and returns its sequence number.
    func insertReport(_ draft: RecordDraft, named name: String) throws(OutboxError) -> UInt64 {
        let sequence = try lastSequence() + 1
        let row = PreparedRow(
            sequence: sequence, position: Schema.position(draft.priority, sequence), draft: draft,
            payload: try encodedPayload(draft, sequence: sequence))
        let need = estimatedBytes([row])
        guard need <= limits.capBytes - limits.fixedBytes else {
            throw OutboxError(
                .tooLarge, path: path,
                message: "the \(name) needs about \(need) bytes, more than the cap of \(limits.capBytes) bytes allows")
        }
        try insert([row], need: need, top: draft.priority)
        return sequence
    }

    /// The `retain`, `content_type` and `correlation` columns, from `column` on.
    static func properties(_ statement: SQLiteStatement, from column: Int32) -> RecordProperties {
        RecordProperties(
            retain: statement.int64(column) != 0, contentType: statement.optionalText(column + 1),
            correlationData: statement.optionalBlob(column + 2))
    }

    static func dropRange(_ statement: SQLiteStatement, from column: Int32) -> DropRange {
        DropRange(
            priority: PriorityClass(rawValue: UInt8(truncatingIfNeeded: statement.int64(column))) ?? .bulk,
            first: UInt64(statement.int64(column + 1)), last: UInt64(statement.int64(column + 2)),
            count: Int(statement.int64(column + 3)),
            reason: DropRange.Reason(rawValue: statement.text(column + 4)) ?? .evicted,
            atMillis: statement.int64(column + 5))
    }

}
