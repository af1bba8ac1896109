import SQLiteDatabase

// Opening: creating, checking and replacing the database, the sequence sidecar, closing.

extension OutboxState {
    /// Opens (or creates, or replaces a damaged) database and prepares it; see docs/outbox.md "Opening".
    static func open(_ configuration: OutboxConfiguration) throws(OutboxError) -> (OutboxState, OpenReport) {
        let path = configuration.path
        guard !path.isEmpty else {
            throw OutboxError(.invalidConfiguration, path: path, message: "no database path configured")
        }
        guard configuration.capBytes >= OutboxConfiguration.minimumCapBytes else {
            throw OutboxError(
                .invalidConfiguration, path: path,
                message: "the cap of \(configuration.capBytes) bytes is below the minimum of "
                    + "\(OutboxConfiguration.minimumCapBytes) bytes; configure a larger one")
        }
        let sidecar = Files.readNumber(path + ".sequence")
        var floor = sidecar ?? 0
        var report: OpenReport = (Files.size(path) ?? 0) == 0 ? .created : .opened
        let connection: OutboxConnection
        switch try openVerified(path) {
        case .ready(let opened):
            connection = opened
        case .damaged(let reason):
            let movedTo: String
            do {
                movedTo = try Files.moveAside(path, unixSeconds: configuration.clock() / 1000)
            } catch {
                throw OutboxError(
                    .damaged, path: path,
                    message: "the database is damaged (\(reason)) and could not be moved aside: \(error); "
                        + "move or delete it by hand")
            }
            floor = max(floor, highestSequence(inDamagedCopy: movedTo))
            switch try openVerified(path) {
            case .ready(let opened):
                connection = opened
            case .damaged(let again):
                throw OutboxError(
                    .damaged, path: path,
                    message: "the damaged database was moved to \(movedTo), but the new one fails too (\(again)); "
                        + "check the storage device")
            }
            report = .replacedDamaged(movedTo: movedTo, reason: reason)
        }

        let pageSize = try connection.integer("PRAGMA page_size", step: "reading the page size") ?? 4096
        let limits = StorageLimits(capBytes: configuration.capBytes, pageSize: pageSize)
        try connection.execute(
            """
            PRAGMA synchronous=NORMAL;
            PRAGMA max_page_count=\(limits.maxPageCount);
            PRAGMA wal_autocheckpoint=\(limits.checkpointPages);
            PRAGMA journal_size_limit=\(limits.walLimitBytes);
            """, step: "configuring the database")
        let state = OutboxState(
            configuration: configuration, connection: connection, limits: limits, mark: sidecar ?? 0)
        // A new or replacing database continues above every number the old one may have handed out.
        let lastBefore = try state.lastSequence()
        let raiseSequence = report != .opened && floor > lastBefore
        let storedCap = try connection.integer(
            "SELECT value FROM meta WHERE key = 'cap_bytes'", step: "reading the cap")
        if raiseSequence || storedCap != configuration.capBytes {
            do throws(OutboxError) {
                try state.transaction(full: true) { () throws(OutboxError) in
                    if raiseSequence { try state.setMeta("last_sequence", Int64(floor)) }
                    try state.setMeta("cap_bytes", configuration.capBytes)
                }
            } catch {
                // The stored cap only informs the read-only view; a full disk must not keep the agent from starting.
                guard error.code == .diskFull, !raiseSequence else { throw error }
            }
        }
        let last = try state.lastSequence()
        state.writeSequenceMark(last + sequenceReservation)
        if Files.size(state.reservePath) != limits.reserveBytes {
            state.reserveMissing = !Files.writeReserve(state.reservePath, bytes: limits.reserveBytes)
            state.lastReserveAttempt = configuration.monotonicClock()
        }
        return (state, report)
    }

    enum Verified {
        case ready(OutboxConnection)
        case damaged(String)
    }

    /// Opens the file, runs `PRAGMA quick_check`, refuses another program's database, switches to WAL and creates
    /// the tables if needed. Damage is a result; other failures throw.
    static func openVerified(_ path: String) throws(OutboxError) -> Verified {
        let connection: OutboxConnection
        do throws(OutboxError) {
            connection = try OutboxConnection(path: path, access: .readWrite)
        } catch {
            if error.code == .damaged { return .damaged(error.detail) }
            throw error
        }
        do throws(OutboxError) {
            let check = try connection.texts("PRAGMA quick_check", step: "checking the database")
            guard check == ["ok"] else {
                connection.close()
                return .damaged("quick_check: " + check.prefix(3).joined(separator: "; "))
            }
            let application = try connection.integer("PRAGMA application_id", step: "reading the application id")
            let tables = try connection.texts(
                "SELECT name FROM sqlite_schema WHERE type = 'table'", step: "listing the tables")
            let foreign = application.map { $0 != 0 && $0 != Schema.applicationID } ?? false
                || (application == 0 && !tables.isEmpty && !tables.contains("records"))
            guard !foreign else {
                throw OutboxError(
                    .invalidConfiguration, path: path,
                    message: "this is another program's SQLite database, not an Axle outbox; configure another path")
            }
            let version = try connection.integer("PRAGMA user_version", step: "reading the schema version") ?? 0
            guard version <= Schema.version else {
                throw OutboxError(
                    .invalidConfiguration, path: path,
                    message: "the outbox was written by a newer Axle (schema \(version), this one knows "
                        + "\(Schema.version)); update the agent or move the file away")
            }
            // After the checks above: switching writes the header, and another program's file is left untouched.
            try connection.useWriteAheadLog()
            // Only a new database is written to here: opening an existing one must work on a full disk.
            guard version < Schema.version || !tables.contains("records") else { return .ready(connection) }
            try connection.execute("BEGIN IMMEDIATE", step: "creating the tables")
            do throws(OutboxError) {
                // An existing version 1 file keeps its records and gains the new columns (`CREATE … IF NOT EXISTS`
                // below leaves existing tables as they are).
                if version == 1, tables.contains("records") {
                    try connection.execute(Schema.migrateFromVersion1, step: "upgrading the outbox to schema 2")
                }
                try connection.execute(Schema.create, step: "creating the tables")
                try connection.execute(
                    "PRAGMA application_id=\(Schema.applicationID); PRAGMA user_version=\(Schema.version);",
                    step: "marking the database as an outbox")
                try connection.execute("COMMIT", step: "creating the tables")
            } catch {
                if connection.isInTransaction { try? connection.execute("ROLLBACK", step: "rolling back") }
                throw error
            }
            return .ready(connection)
        } catch {
            connection.close()
            if error.code == .damaged { return .damaged(error.detail) }
            throw error
        }
    }

    /// The highest sequence number a damaged copy still shows, from whatever parts of it can be read.
    static func highestSequence(inDamagedCopy path: String) -> UInt64 {
        guard let connection = try? OutboxConnection(path: path, access: .readOnly) else { return 0 }
        defer { connection.close() }
        var highest: Int64 = 0
        let step = "reading the damaged copy"
        let queries = [
            "SELECT value FROM meta WHERE key = 'last_sequence'",
            "SELECT max(sequence) FROM dead_letters",
            "SELECT max(last) FROM drops",
        ]
        for sql in queries {
            if let value = try? connection.integer(sql, step: step) { highest = max(highest, value) }
        }
        for priority in PriorityClass.allCases {
            let range = Schema.range(priority)
            let sql = "SELECT max(position) FROM records WHERE position >= \(range.lower) AND position < \(range.upper)"
            if let position = try? connection.integer(sql, step: step) {
                highest = max(highest, position & Schema.sequenceMask)
            }
        }
        return UInt64(max(highest, 0))
    }

    /// Writes the sidecar; on failure (a full disk) the old, lower value stays and the next append tries again.
    func writeSequenceMark(_ mark: UInt64) {
        if (try? Files.writeAtomically(sidecarPath, "\(mark)\n")) != nil { sequenceMark = mark }
    }

    /// Writes refusals still counted in memory if it can, records the exact last sequence number in the sidecar and
    /// closes the connection; later calls fail.
    func close() {
        guard let connection else { return }
        writePendingRefusalsAtClose()
        if let last = try? lastSequence() { writeSequenceMark(last) }
        connection.close()
        self.connection = nil
    }

    func openConnection() throws(OutboxError) -> OutboxConnection {
        guard let connection else {
            throw OutboxError(.closed, path: path, message: "the outbox was closed; open a new OutboxStore")
        }
        return connection
    }
}
