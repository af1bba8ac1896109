import AxleBase
import SQLiteDatabase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A failure of the command journal or the entitlement store; `description` names the file, the step and what to do.
public struct CommandJournalError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The file is damaged (SQLite reported corruption, or it is not a database): replacing it is the remedy.
    public var isDamage: Bool

    public init(_ description: String, isDamage: Bool = false) {
        self.description = description
        self.isDamage = isDamage
    }

    /// An SQLite failure, with the SQLite layer's advice.
    init(_ error: SQLiteError) {
        self.init(error.description, isDamage: error.code == .damaged)
    }
}

/// The commands database: one SQLite connection (the SQLite layer's) in WAL mode with `synchronous=FULL`, so that a
/// claimed command id survives a power cut the moment `claim` returns. The journal's and the entitlements' tables
/// are in the same file, and both use this one connection (`SharedCommandDatabase`).
///
/// Not `Sendable` and not thread-safe: it lives inside `SharedCommandDatabase`'s `Mutex`.
final class CommandDatabase {
    let path: String
    private let connection: SQLiteConnection

    init(path: String) throws(CommandJournalError) {
        self.path = path
        do throws(SQLiteError) {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw CommandJournalError(error)
        }
        try execute("PRAGMA journal_mode=WAL", doing: "switching to WAL")
        try execute("PRAGMA synchronous=FULL", doing: "setting synchronous=FULL")
    }

    /// Runs `sql` (one statement, prepared once per connection) with `arguments` bound to its `?`s, and returns
    /// every row.
    @discardableResult
    func execute(
        _ sql: String, _ arguments: [SQLiteValue] = [], doing step: String
    ) throws(CommandJournalError) -> [[SQLiteValue]] {
        do throws(SQLiteError) {
            return try connection.rows(sql, arguments, step: step)
        } catch {
            throw failure(error)
        }
    }

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE, so the write lock is taken up front and a busy
    /// database waits here, not halfway through); rolls back when it throws.
    func transaction<T>(doing step: String, _ body: () throws(CommandJournalError) -> T) throws(CommandJournalError) -> T {
        try connection.transaction(step: step, wrapping: failure, body)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { connection.changes }

    private func failure(_ error: SQLiteError) -> CommandJournalError {
        if error.code == .damaged {
            // Found at run time (a lookup hit a damaged page): the marker makes the next open replace the file even
            // where `quick_check` would miss the damage.
            Self.markDamaged(path, "\(error.step) failed: \(error.message)")
        }
        return CommandJournalError(error)
    }
}

/// The one connection to a commands database behind its lock, shared by `CommandJournal` and `EntitlementStore`.
final class SharedCommandDatabase: Sendable {
    private let database: Mutex<CommandDatabase>

    init(_ database: sending CommandDatabase) {
        self.database = Mutex(database)
    }

    /// `body` with the connection, holding the lock.
    func withLock<T: Sendable>(
        _ body: (CommandDatabase) throws(CommandJournalError) -> T
    ) throws(CommandJournalError) -> T {
        try database.withLock { database throws(CommandJournalError) -> T in try body(database) }
    }
}

// Damage: the marker a run-time corruption leaves, moving a damaged file aside, reading what it still shows.
extension CommandDatabase {
    /// The file whose presence says "replace the database at the next open"; it holds what failed.
    static func damageMarkerPath(_ path: String) -> String { path + ".damaged" }

    static func markDamaged(_ path: String, _ reason: String) {
        guard path != ":memory:" else { return }
        let file = fopen(damageMarkerPath(path), "w")
        guard let file else { return }
        fputs(reason + "\n", file)
        fflush(file)
        fsync(fileno(file))
        fclose(file)
    }

    /// What the marker holds, nil when there is none.
    static func damageMarker(_ path: String) -> String? {
        guard let bytes = try? FileInput.readAll(path: damageMarkerPath(path)) else { return nil }
        let text = String(decoding: bytes.prefix(500), as: UTF8.self).filter { $0 != "\n" }
        return text.isEmpty ? "marked damaged at run time" : text
    }

    /// Renames the damaged file (and its WAL) to `<path>.damaged-<unix seconds>[-n]` and removes the marker and the
    /// shared-memory file; returns the new name. Kept, not deleted: it is evidence, and may still be read by hand.
    static func moveAside(_ path: String, nowMillis: Int64) throws(CommandJournalError) -> String {
        var target = "\(path).damaged-\(nowMillis / 1000)"
        var attempt = 1
        while access(target, F_OK) == 0 {
            attempt += 1
            target = "\(path).damaged-\(nowMillis / 1000)-\(attempt)"
        }
        do throws(SystemError) {
            try retryingOnInterrupt("rename", subject: path) { rename(path, target) }
        } catch {
            // Gone already (another process moved it): nothing to set aside.
            guard error.errno == ENOENT else {
                throw CommandJournalError(
                    "the damaged commands database cannot be moved aside: \(error); move or delete it by hand")
            }
        }
        _ = rename(path + "-wal", target + "-wal")
        _ = unlink(path + "-shm")
        _ = unlink(damageMarkerPath(path))
        return target
    }

    /// The features a damaged copy still lists as pending or active, read best effort (nothing when unreadable).
    static func features(inDamagedCopy path: String) -> [String] {
        guard let connection = try? SQLiteConnection(path: path, access: .readOnly) else { return [] }
        var features: [String] = []
        // What was read before a damaged page stops the query is kept.
        _ = try? connection.query(
            "SELECT feature FROM entitlements WHERE state IN ('pending', 'active') ORDER BY feature",
            step: "reading the damaged copy"
        ) { statement in
            features.append(statement.text(0))
            return features.count < 100
        }
        return features
    }
}

extension CommandDatabase {
    /// Creates the tables when missing. Both `CommandJournal` and `EntitlementStore` call it, whichever opens the file
    /// first; `IF NOT EXISTS` makes the second call a no-op.
    ///
    /// Counters are unsigned 64-bit and SQLite integers signed, so `counter` holds the bit pattern: equality (the
    /// UNIQUE constraint) works as is, and ordering is compared in Swift.
    func createSchema() throws(CommandJournalError) {
        try transaction(doing: "creating the tables") { () throws(CommandJournalError) in
            try execute(
                """
                CREATE TABLE IF NOT EXISTS commands (
                    id TEXT PRIMARY KEY, key_id TEXT NOT NULL, counter INTEGER NOT NULL, name TEXT NOT NULL,
                    status TEXT NOT NULL, reason TEXT, text TEXT, received_ms INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL, response_topic TEXT, correlation BLOB,
                    UNIQUE (key_id, counter))
                """, doing: "creating the commands table")
            try execute(
                "CREATE TABLE IF NOT EXISTS key_floors (key_id TEXT PRIMARY KEY, counter INTEGER NOT NULL)",
                doing: "creating the key_floors table")
            try execute(
                """
                CREATE TABLE IF NOT EXISTS entitlements (
                    feature TEXT PRIMARY KEY, valid_from INTEGER, valid_until INTEGER, command_id TEXT NOT NULL,
                    state TEXT NOT NULL, active_seconds REAL NOT NULL DEFAULT 0)
                """, doing: "creating the entitlements table")
            try execute(
                "CREATE INDEX IF NOT EXISTS commands_received ON commands (received_ms)",
                doing: "creating the commands index")
            // refuse_issued_before_ms: set when a damaged journal was replaced (CommandJournal.init).
            try execute(
                "CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
                doing: "creating the journal_meta table")
        }
    }
}
