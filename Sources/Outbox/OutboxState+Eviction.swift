import SQLiteDatabase

// Making room under the cap: expiry, dead letters, eviction by class, and drop ranges.

extension OutboxState {
    /// The classes an append of `top` records may evict, least important first: never more important ones.
    func evictionOrder(notAbove top: PriorityClass) -> [PriorityClass] {
        PriorityClass.allCases.reversed().filter { $0 >= top }
    }

    /// Inside a transaction: frees room for `need` bytes under the cap: expired records first, then dead letters,
    /// then the oldest records of the least important class. False when that is not enough.
    func makeRoom(need: Int64, top: PriorityClass, now: Int64) throws(OutboxError) -> Bool {
        let target = limits.capBytes - need
        if try usedBytes() <= target { return true }
        _ = try dropExpiredRecords(now: now)
        if try usedBytes() <= target { return true }
        try evictDeadLetters(downTo: target)
        if try usedBytes() <= target { return true }
        _ = try evict(downTo: target, classes: evictionOrder(notAbove: top), below: nil, now: now)
        return try usedBytes() <= target
    }

    /// Deletes the oldest records of `classes`, in that order, until at most `target` bytes are in use (or the
    /// classes are empty), recording drop ranges. `below` spares sequence numbers from it up. Returns the count.
    func evict(
        downTo target: Int64, classes: [PriorityClass], below: UInt64?, now: Int64
    ) throws(OutboxError) -> Int {
        let connection = try openConnection()
        var evicted = 0
        for priority in classes {
            while true {
                let excess = try usedBytes() - target
                guard excess > 0 else { return evicted }
                let range = Schema.range(priority)
                let upper = below.map { Schema.position(priority, $0) } ?? range.upper
                var positions: [Int64] = []
                var payloadBytes: Int64 = 0
                var rowBytes: Int64 = 0
                try connection.query(
                    "SELECT position, length(payload), length(topic) FROM records WHERE position >= ? AND position < ? "
                        + "ORDER BY position LIMIT 512",
                    step: "choosing records to evict",
                    bind: { statement in
                        statement.bind(1, range.lower)
                        statement.bind(2, upper)
                    },
                    row: { statement in
                        positions.append(statement.int64(0))
                        payloadBytes += statement.int64(1)
                        rowBytes += statement.int64(1) + statement.int64(2) + 64
                        return rowBytes < excess
                    })
                guard let first = positions.first, let last = positions.last else { break }
                try connection.run(
                    "DELETE FROM records WHERE position >= ? AND position <= ?", step: "evicting records"
                ) { statement in
                    statement.bind(1, first)
                    statement.bind(2, last)
                }
                try updateClass(priority, records: -Int64(positions.count), payloadBytes: -payloadBytes)
                try recordDrops(
                    priority, sequences: positions.map(Schema.sequence), reason: .evicted, at: now, contiguous: true)
                evicted += positions.count
            }
        }
        return evicted
    }

    /// Deletes the oldest dead letters until at most `target` bytes are in use: they will never be sent anyway.
    func evictDeadLetters(downTo target: Int64) throws(OutboxError) {
        let connection = try openConnection()
        while try usedBytes() > target {
            guard let last = try connection.integer(
                "SELECT max(sequence) FROM (SELECT sequence FROM dead_letters ORDER BY sequence LIMIT 64)",
                step: "choosing dead letters to evict")
            else { return }
            try connection.run("DELETE FROM dead_letters WHERE sequence <= ?", step: "evicting dead letters") {
                statement in statement.bind(1, last)
            }
        }
    }

    /// Inside a transaction: deletes every record whose expiry has passed, recording drop ranges.
    func dropExpiredRecords(now: Int64) throws(OutboxError) -> Int {
        let connection = try openConnection()
        var expired: [PriorityClass: [(sequence: UInt64, bytes: Int64)]] = [:]
        try connection.query(
            "SELECT position, length(payload) FROM records WHERE expires_at <= ?", step: "finding expired records",
            bind: { statement in statement.bind(1, now) },
            row: { statement in
                let position = statement.int64(0)
                expired[Schema.priority(position), default: []].append((Schema.sequence(position), statement.int64(1)))
                return true
            })
        guard !expired.isEmpty else { return 0 }
        try connection.run("DELETE FROM records WHERE expires_at <= ?", step: "dropping expired records") {
            statement in statement.bind(1, now)
        }
        var count = 0
        for (priority, records) in expired {
            let sequences = records.map(\.sequence).sorted()
            try updateClass(
                priority, records: -Int64(records.count), payloadBytes: -records.reduce(0) { $0 + $1.bytes })
            try recordDrops(priority, sequences: sequences, reason: .expired, at: now, contiguous: false)
            count += records.count
        }
        return count
    }

    /// Whether a record of the class is still stored strictly between two sequence numbers.
    func hasRecord(_ priority: PriorityClass, after low: UInt64, before high: UInt64) throws(OutboxError) -> Bool {
        guard high > low + 1 else { return false }
        return try openConnection().integer(
            "SELECT 1 FROM records WHERE position > ? AND position < ? LIMIT 1", step: "finding drop runs"
        ) { statement in
            statement.bind(1, Schema.position(priority, low))
            statement.bind(2, Schema.position(priority, high))
        } != nil
    }

    /// Inside a transaction, after deleting `sequences` (ascending) of one class: records them as drop ranges.
    /// A run extends the class's latest unreported range when nothing of the class lies between them: no stored
    /// record, and no delivery since (the class's `delivered` total is unchanged).
    func recordDrops(
        _ priority: PriorityClass, sequences: [UInt64], reason: DropRange.Reason, at now: Int64, contiguous: Bool
    ) throws(OutboxError) {
        guard !sequences.isEmpty else { return }
        let connection = try openConnection()
        var runs: [(first: UInt64, last: UInt64, count: Int)] = []
        for sequence in sequences {
            if let run = runs.last, try contiguous ? true : !hasRecord(priority, after: run.last, before: sequence) {
                runs[runs.count - 1] = (run.first, sequence, run.count + 1)
            } else {
                runs.append((sequence, sequence, 1))
            }
        }
        let delivered = try connection.integer(
            "SELECT delivered FROM classes WHERE priority = ?", step: "reading the \(priority) totals"
        ) { statement in statement.bind(1, Int64(priority.rawValue)) } ?? 0
        var latest: (id: Int64, last: UInt64, reason: String, reported: Bool, mark: Int64)?
        try connection.query(
            "SELECT id, last, reason, reported, delivered_mark FROM drops WHERE priority = ? ORDER BY id DESC LIMIT 1",
            step: "reading drop ranges",
            bind: { statement in statement.bind(1, Int64(priority.rawValue)) },
            row: { statement in
                latest = (
                    statement.int64(0), UInt64(statement.int64(1)), statement.text(2), statement.int64(3) != 0,
                    statement.int64(4))
                return false
            })
        for (index, run) in runs.enumerated() {
            if index == 0, let latest, !latest.reported, latest.reason == reason.rawValue, latest.mark == delivered,
                latest.last < run.first, try !hasRecord(priority, after: latest.last, before: run.first)
            {
                try connection.run(
                    "UPDATE drops SET last = ?, count = count + ?, at = ? WHERE id = ?", step: "extending a drop range"
                ) { statement in
                    statement.bind(1, Int64(run.last))
                    statement.bind(2, Int64(run.count))
                    statement.bind(3, now)
                    statement.bind(4, latest.id)
                }
            } else {
                try connection.run(
                    """
                    INSERT INTO drops(priority, first, last, count, reason, at, delivered_mark)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, step: "recording a drop range"
                ) { statement in
                    statement.bind(1, Int64(priority.rawValue))
                    statement.bind(2, Int64(run.first))
                    statement.bind(3, Int64(run.last))
                    statement.bind(4, Int64(run.count))
                    statement.bind(5, reason.rawValue)
                    statement.bind(6, now)
                    statement.bind(7, delivered)
                }
            }
        }
        try updateClass(priority, dropped: Int64(sequences.count))
    }
}
