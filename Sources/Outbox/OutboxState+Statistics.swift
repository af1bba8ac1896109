import SQLiteDatabase

// Statistics, for the agent and (read-only) for the technician CLI.

extension OutboxState {
    func statistics() throws(OutboxError) -> OutboxStatistics {
        var statistics = try Self.statistics(of: try openConnection(), capBytes: limits.capBytes)
        statistics.intakePaused = intakePaused
        for (priority, count) in pendingRefused { statistics.refusedWhileFull[priority, default: 0] += count }
        return statistics
    }

    /// Reads statistics in one read transaction (one consistent snapshot); `capBytes` nil reads the stored cap.
    static func statistics(of connection: OutboxConnection, capBytes: Int64?) throws(OutboxError) -> OutboxStatistics {
        try connection.execute("BEGIN", step: "starting a read")
        defer { try? connection.execute("COMMIT", step: "ending a read") }
        var depth: [PriorityClass: OutboxStatistics.ClassDepth] = [:]
        var dropped: [PriorityClass: Int] = [:]
        var refused: [PriorityClass: Int] = [:]
        for priority in PriorityClass.allCases {
            depth[priority] = .init(records: 0, payloadBytes: 0, oldestCreatedAtMillis: nil)
            dropped[priority] = 0
            refused[priority] = 0
        }
        try connection.query(
            "SELECT priority, records, payload_bytes, dropped, refused FROM classes", step: "reading the class totals"
        ) { statement in
            guard let priority = PriorityClass(rawValue: UInt8(truncatingIfNeeded: statement.int64(0))) else {
                return true
            }
            depth[priority] = .init(
                records: Int(statement.int64(1)), payloadBytes: statement.int64(2), oldestCreatedAtMillis: nil)
            dropped[priority] = Int(statement.int64(3))
            refused[priority] = Int(statement.int64(4))
            return true
        }
        for priority in PriorityClass.allCases {
            let range = Schema.range(priority)
            depth[priority]?.oldestCreatedAtMillis = try connection.integer(
                "SELECT created_at FROM records WHERE position >= ? AND position < ? ORDER BY position LIMIT 1",
                step: "reading the oldest record"
            ) { statement in
                statement.bind(1, range.lower)
                statement.bind(2, range.upper)
            }
        }
        var recentDrops: [DropRange] = []
        try connection.query(
            "SELECT priority, first, last, count, reason, at FROM drops ORDER BY id DESC LIMIT ?",
            step: "reading drop ranges",
            bind: { statement in statement.bind(1, Int64(Schema.recentDropLimit)) },
            row: { statement in
                recentDrops.append(dropRange(statement, from: 0))
                return true
            })
        let storedCap = try connection.integer(
            "SELECT value FROM meta WHERE key = 'cap_bytes'", step: "reading the cap")
        let deadLetters = try connection.integer("SELECT count(*) FROM dead_letters", step: "counting dead letters")
        let lastSequence = try connection.integer(
            "SELECT value FROM meta WHERE key = 'last_sequence'", step: "reading the last sequence")
        return OutboxStatistics(
            depth: depth, dropped: dropped, refusedWhileFull: refused,
            deadLetters: Int(deadLetters ?? 0), lastSequence: UInt64(lastSequence ?? 0),
            databaseBytes: try usedBytes(connection), capBytes: capBytes ?? storedCap ?? 0, intakePaused: false,
            recentDrops: recentDrops.reversed())
    }
}
