import AxleBase
import RemoteCommands
import SQLiteDatabase

/// One command as the journal knows it.
public struct JournalEntry: Sendable, Equatable {
    public var id: String
    public var name: String
    public var keyID: String
    public var counter: UInt64
    public var status: CommandStatus
    public var reason: CommandReason?
    public var text: String?
    public var receivedAtMillis: Int64
    public var updatedAtMillis: Int64
    public var reply: ReplyAddress

    public init(
        id: String, name: String, keyID: String, counter: UInt64, status: CommandStatus, reason: CommandReason? = nil,
        text: String? = nil, receivedAtMillis: Int64, updatedAtMillis: Int64, reply: ReplyAddress = ReplyAddress()
    ) {
        self.id = id
        self.name = name
        self.keyID = keyID
        self.counter = counter
        self.status = status
        self.reason = reason
        self.text = text
        self.receivedAtMillis = receivedAtMillis
        self.updatedAtMillis = updatedAtMillis
        self.reply = reply
    }
}

/// The durable journal (SQLite file, WAL, `synchronous=FULL`): every command id and (key id, counter) ever claimed,
/// so that nothing runs twice — not on a replayed payload, not after a restart.
///
/// One connection behind a `Mutex`, which `EntitlementStore(journal:)` shares; calls block on disk I/O (an fsync per
/// write), so make them from a dedicated thread.
public final class CommandJournal: Sendable {
    public let path: String
    /// Commands a previous run left ACCEPTED or IN_PROGRESS, now marked INTERRUPTED (reason agent_restarted) at open.
    /// Each is listed by exactly one open: the next open finds them INTERRUPTED already.
    public let interruptedAtOpen: [JournalEntry]
    let database: SharedCommandDatabase

    /// The outcome of `claim`.
    public enum Claim: Sendable, Equatable {
        /// Journaled as ACCEPTED: the caller may go on.
        case claimed
        /// Seen before (the same id, the same key and counter, or a counter at or below the key's pruned floor):
        /// the earlier entry, or for a floor a synthetic one (REJECTED, replay). The caller must not run it.
        case replay(JournalEntry)
    }

    private static let columns =
        "id, key_id, counter, name, status, reason, text, received_ms, updated_ms, response_topic, correlation"

    /// What opening found.
    public enum OpenReport: Sendable, Equatable {
        case opened
        /// The file was damaged: it was moved to `movedTo` and a new journal started. `lostFeatures`: the
        /// entitlements the damaged copy still listed as pending or active (they are gone from the new journal).
        case replacedDamaged(movedTo: String, reason: String, lostFeatures: [String], refusesIssuedBeforeMillis: Int64)
    }

    public let openReport: OpenReport
    /// Set once a damaged journal was replaced: commands issued before this are refused as possible replays.
    public let refusesIssuedBeforeMillis: Int64?
    /// Why commands are refused altogether (the journal could not be opened at all), nil normally.
    public let disabledReason: String?

    /// Opens (or creates) the journal at `path` and marks what a previous run left unfinished as INTERRUPTED.
    ///
    /// A damaged file (`quick_check` fails, SQLite reports corruption or "not a database", or a run-time corruption
    /// left its marker) is moved aside and a new journal started (docs/commands.md "Journal"). The commands it held
    /// are forgotten, so replay protection rests on time from then on: a command issued before the replacement
    /// plus `clockSkewMillis` (the verifier's allowance for a backend clock ahead of the vehicle's) may have run
    /// already and is refused as a replay. Time, not salvaged counters: counters read from a damaged file may be
    /// missing exactly the rows that matter, while every command the old journal could hold was issued before that
    /// moment, and the verifier already refuses anything issued more than the skew in the future.
    public init(path: String, clockSkewMillis: Int64 = VerificationLimits().clockSkewMillis) throws(CommandJournalError) {
        let now = wallClockMillis()
        let database: CommandDatabase
        let interrupted: [JournalEntry]
        do throws(CommandJournalError) {
            if let marker = CommandDatabase.damageMarker(path) {
                throw CommandJournalError("\(path): \(marker)", isDamage: true)
            }
            (database, interrupted) = try Self.openChecked(path: path, now: now)
            openReport = .opened
        } catch {
            guard error.isDamage else { throw error }
            let movedTo = try CommandDatabase.moveAside(path, nowMillis: now)
            let lostFeatures = CommandDatabase.features(inDamagedCopy: movedTo)
            do {
                (database, interrupted) = try Self.openChecked(path: path, now: now)
            } catch {
                throw CommandJournalError(
                    "\(path): the damaged journal was moved to \(movedTo), but a new one fails too: \(error); check the storage device")
            }
            let cutoff = now + clockSkewMillis
            try database.execute(
                "INSERT OR REPLACE INTO journal_meta (key, value) VALUES ('refuse_issued_before_ms', ?)", [.integer(cutoff)],
                doing: "recording the replacement")
            openReport = .replacedDamaged(
                movedTo: movedTo, reason: error.description, lostFeatures: lostFeatures, refusesIssuedBeforeMillis: cutoff)
        }
        refusesIssuedBeforeMillis = try database.execute(
            "SELECT value FROM journal_meta WHERE key = 'refuse_issued_before_ms'", doing: "reading the replacement time"
        ).first?.first?.integer
        interruptedAtOpen = interrupted
        disabledReason = nil
        self.path = path
        self.database = SharedCommandDatabase(database)
    }

    /// A journal that refuses every command with `reason` (the real one cannot be opened, not even fresh): the agent
    /// goes on collecting telemetry, and each command gets a FAILED answer saying why. In memory: nothing to damage.
    public init(disabledBecause reason: String) throws(CommandJournalError) {
        let database = try CommandDatabase(path: ":memory:")
        try database.createSchema()
        path = ":memory:"
        openReport = .opened
        refusesIssuedBeforeMillis = nil
        interruptedAtOpen = []
        disabledReason = reason
        self.database = SharedCommandDatabase(database)
    }

    /// Opens `path`, checks it (`PRAGMA quick_check`), creates the tables and marks unfinished commands interrupted.
    private static func openChecked(path: String, now: Int64) throws(CommandJournalError) -> (CommandDatabase, [JournalEntry]) {
        let database = try CommandDatabase(path: path)
        let check = try database.execute("PRAGMA quick_check", doing: "checking the file").compactMap { $0.first?.text }
        guard check == ["ok"] else {
            throw CommandJournalError(
                "\(path): quick_check: \(check.prefix(3).joined(separator: "; "))", isDamage: true)
        }
        try database.createSchema()
        let interrupted = try database.transaction(doing: "marking unfinished commands interrupted") {
            () throws(CommandJournalError) -> [JournalEntry] in
            let rows = try database.execute(
                "SELECT \(Self.columns) FROM commands WHERE status IN ('ACCEPTED', 'IN_PROGRESS') ORDER BY received_ms, id",
                doing: "finding unfinished commands")
            var entries: [JournalEntry] = []
            for row in rows {
                var entry = try Self.entry(row, path: path)
                // A started command may have sent frames already; running it again could repeat the action, so
                // it is reported, never resumed.
                entry.text =
                    entry.status == .accepted
                    ? "the agent restarted before the command started; it was not run: send a new command if it is still wanted"
                    : "the agent restarted while the command was running; it is not run again: check the vehicle and send a new command if needed"
                entry.status = .interrupted
                entry.reason = .agentRestarted
                entry.updatedAtMillis = now
                try database.execute(
                    "UPDATE commands SET status = ?, reason = ?, text = ?, updated_ms = ? WHERE id = ?",
                    [.text(entry.status.rawValue), .text(CommandReason.agentRestarted.rawValue), .text(entry.text ?? ""),
                     .integer(now), .text(entry.id)],
                    doing: "marking a command interrupted")
                entries.append(entry)
            }
            return entries
        }
        return (database, interrupted)
    }

    /// Journals `command` as ACCEPTED in one transaction, unless it is a replay. Durable when this returns.
    public func claim(_ command: VerifiedCommand, reply: ReplyAddress) throws(CommandJournalError) -> Claim {
        let request = command.request
        if let disabledReason {
            throw CommandJournalError("remote commands are disabled: \(disabledReason)")
        }
        if let cutoff = refusesIssuedBeforeMillis, request.issuedAtMillis < cutoff {
            return .replay(JournalEntry(
                id: request.id, name: request.name, keyID: command.keyID, counter: request.counter, status: .rejected,
                reason: .replay,
                text: "issued before the vehicle's command journal was replaced (damaged); it may have run already",
                receivedAtMillis: command.receivedAtMillis, updatedAtMillis: command.receivedAtMillis))
        }
        return try database.withLock { database throws(CommandJournalError) -> Claim in
            try database.transaction(doing: "claiming command \(request.id)") { () throws(CommandJournalError) -> Claim in
                let counter = SQLiteValue.integer(Int64(bitPattern: request.counter))
                if let row = try database.execute(
                    "SELECT \(Self.columns) FROM commands WHERE id = ?", [.text(request.id)], doing: "looking up the id"
                ).first {
                    return .replay(try Self.entry(row, path: path))
                }
                if let row = try database.execute(
                    "SELECT \(Self.columns) FROM commands WHERE key_id = ? AND counter = ?", [.text(command.keyID), counter],
                    doing: "looking up the counter"
                ).first {
                    return .replay(try Self.entry(row, path: path))
                }
                if let floor = try Self.floor(of: command.keyID, in: database), request.counter <= floor {
                    return .replay(JournalEntry(
                        id: request.id, name: request.name, keyID: command.keyID, counter: request.counter,
                        status: .rejected, reason: .replay,
                        text: "counter \(request.counter) of key \"\(command.keyID)\" is at or below \(floor), the highest of its forgotten commands: sign with a higher counter",
                        receivedAtMillis: command.receivedAtMillis, updatedAtMillis: command.receivedAtMillis))
                }
                try database.execute(
                    "INSERT INTO commands (\(Self.columns)) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
                    [.text(request.id), .text(command.keyID), counter, .text(request.name),
                     .text(CommandStatus.accepted.rawValue), .integer(command.receivedAtMillis),
                     .integer(command.receivedAtMillis), reply.responseTopic.map { .text($0) } ?? .null,
                     reply.correlationData.map { .blob($0) } ?? .null],
                    doing: "journaling command \(request.id)")
                return .claimed
            }
        }
    }

    /// Marks the command IN_PROGRESS: call before its first frame goes out, so that a crash after it is reported
    /// INTERRUPTED rather than run again.
    public func markStarted(id: String, atMillis: Int64) throws(CommandJournalError) {
        try update(id: id, status: .inProgress, reason: nil, text: nil, atMillis: atMillis)
    }

    /// Records the final (or any later) status of a command.
    public func finish(
        id: String, status: CommandStatus, reason: CommandReason?, text: String?, atMillis: Int64
    ) throws(CommandJournalError) {
        try update(id: id, status: status, reason: reason, text: text, atMillis: atMillis)
    }

    private func update(
        id: String, status: CommandStatus, reason: CommandReason?, text: String?, atMillis: Int64
    ) throws(CommandJournalError) {
        try database.withLock { database throws(CommandJournalError) in
            try database.execute(
                "UPDATE commands SET status = ?, reason = ?, text = ?, updated_ms = ? WHERE id = ?",
                [.text(status.rawValue), reason.map { .text($0.rawValue) } ?? .null, text.map { .text($0) } ?? .null,
                 .integer(atMillis), .text(id)],
                doing: "recording \(status.rawValue) for command \(id)")
            guard database.changes == 1 else {
                throw CommandJournalError("\(path): there is no command \(id) in the journal; claim it first")
            }
        }
    }

    /// The entry of command `id`, if it was ever claimed (and not pruned).
    public func entry(id: String) throws(CommandJournalError) -> JournalEntry? {
        try database.withLock { database throws(CommandJournalError) -> JournalEntry? in
            guard let row = try database.execute(
                "SELECT \(Self.columns) FROM commands WHERE id = ?", [.text(id)], doing: "reading command \(id)"
            ).first else { return nil }
            return try Self.entry(row, path: path)
        }
    }

    /// The latest `limit` commands, newest first.
    public func recent(limit: Int) throws(CommandJournalError) -> [JournalEntry] {
        try database.withLock { database throws(CommandJournalError) -> [JournalEntry] in
            let rows = try database.execute(
                "SELECT \(Self.columns) FROM commands ORDER BY received_ms DESC, rowid DESC LIMIT ?",
                [.integer(Int64(max(0, limit)))], doing: "listing recent commands")
            var entries: [JournalEntry] = []
            for row in rows { entries.append(try Self.entry(row, path: path)) }
            return entries
        }
    }

    /// Forgets finished commands received before `receivedBeforeMillis`, first raising each key's counter floor to
    /// the highest counter forgotten: those counters (and every lower one) stay replays. Unfinished commands stay.
    public func prune(receivedBeforeMillis: Int64) throws(CommandJournalError) {
        try database.withLock { database throws(CommandJournalError) in
            try database.transaction(doing: "pruning the journal") { () throws(CommandJournalError) in
                let finished = CommandStatus.allCases.filter(\.isFinal).map { "'\($0.rawValue)'" }.joined(separator: ", ")
                let condition = "received_ms < ? AND status IN (\(finished))"
                let rows = try database.execute(
                    "SELECT key_id, counter FROM commands WHERE \(condition)", [.integer(receivedBeforeMillis)],
                    doing: "finding old commands")
                var highest: [String: UInt64] = [:]
                for row in rows {
                    guard let keyID = row[0].text, let bits = row[1].integer else { continue }
                    highest[keyID] = max(highest[keyID] ?? 0, UInt64(bitPattern: bits))
                }
                for (keyID, counter) in highest {
                    if let floor = try Self.floor(of: keyID, in: database), floor >= counter { continue }
                    try database.execute(
                        "INSERT OR REPLACE INTO key_floors (key_id, counter) VALUES (?, ?)",
                        [.text(keyID), .integer(Int64(bitPattern: counter))], doing: "raising the counter floor")
                }
                try database.execute(
                    "DELETE FROM commands WHERE \(condition)", [.integer(receivedBeforeMillis)],
                    doing: "deleting old commands")
            }
        }
    }

    /// The counter floor of `keyID`, when pruning set one.
    private static func floor(of keyID: String, in database: CommandDatabase) throws(CommandJournalError) -> UInt64? {
        try database.execute("SELECT counter FROM key_floors WHERE key_id = ?", [.text(keyID)], doing: "reading the counter floor")
            .first?.first?.integer.map { UInt64(bitPattern: $0) }
    }

    private static func entry(_ row: [SQLiteValue], path: String) throws(CommandJournalError) -> JournalEntry {
        guard row.count == 11, let id = row[0].text, let keyID = row[1].text, let counter = row[2].integer,
            let name = row[3].text, let statusText = row[4].text, let status = CommandStatus(rawValue: statusText),
            let received = row[7].integer, let updated = row[8].integer
        else {
            throw CommandJournalError("\(path): a journal row cannot be read; the file is damaged, move it away")
        }
        return JournalEntry(
            id: id, name: name, keyID: keyID, counter: UInt64(bitPattern: counter), status: status,
            reason: row[5].text.flatMap(CommandReason.init(rawValue:)), text: row[6].text, receivedAtMillis: received,
            updatedAtMillis: updated, reply: ReplyAddress(responseTopic: row[9].text, correlationData: row[10].blob))
    }
}
