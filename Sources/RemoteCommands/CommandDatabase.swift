import AxleBase
import CSQLite

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
}

/// A value bound to or read from an SQL statement.
enum SQLValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }

    var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    var blob: [UInt8]? {
        switch self {
        case .blob(let value): value
        case .text(let value): Array(value.utf8)
        default: nil
        }
    }
}

/// The commands database: one SQLite connection in WAL mode with `synchronous=FULL`, so that a claimed command id
/// survives a power cut the moment `claim` returns.
///
/// Not `Sendable` and not thread-safe: `CommandJournal` and `EntitlementStore` each keep theirs inside a `Mutex`.
/// Statements are prepared per call; the journal sees a few commands a minute, so a statement cache would buy
/// nothing.
final class CommandDatabase {
    let path: String
    private var connection: OpaquePointer?

    /// Waiting this long for the other connection (journal or entitlements) to finish a write beats failing.
    static let busyTimeoutMillis: Int32 = 5000

    init(path: String) throws(CommandJournalError) {
        self.path = path
        var handle: OpaquePointer?
        // SQLite's own locking is off: the owner's Mutex serialises every call on this connection.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw CommandJournalError(
                "\(path): cannot open the commands database: \(message); check that the directory exists and is writable")
        }
        connection = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, Self.busyTimeoutMillis)
        try execute("PRAGMA journal_mode=WAL", doing: "switching to WAL")
        try execute("PRAGMA synchronous=FULL", doing: "setting synchronous=FULL")
    }

    deinit {
        if let connection { sqlite3_close_v2(connection) }
    }

    /// Runs `sql` (one statement) with `arguments` bound to its `?`s, and returns every row.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue] = [], doing step: String) throws(CommandJournalError) -> [[SQLValue]] {
        guard let connection else { throw CommandJournalError("\(path): the commands database is closed") }
        var statement: OpaquePointer?
        var status = sqlite3_prepare_v2(connection, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw failure(status, doing: step) }
        defer { sqlite3_finalize(statement) }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            switch argument {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let value): status = sqlite3_bind_int64(statement, index, value)
            case .real(let value): status = sqlite3_bind_double(statement, index, value)
            case .text(let value):
                status = sqlite3_bind_text(statement, index, value, -1, CSQLite_transient())
            case .blob(let value):
                status = value.withUnsafeBytes { buffer in
                    // A zero-length blob, not NULL: an empty correlation value is still a value.
                    buffer.count == 0
                        ? sqlite3_bind_zeroblob(statement, index, 0)
                        : sqlite3_bind_blob(statement, index, buffer.baseAddress, Int32(buffer.count), CSQLite_transient())
                }
            }
            guard status == SQLITE_OK else { throw failure(status, doing: step) }
        }
        var rows: [[SQLValue]] = []
        while true {
            status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw failure(status, doing: step) }
            rows.append((0..<sqlite3_column_count(statement)).map { column in Self.value(statement, column) })
        }
    }

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE, so the write lock is taken up front and a busy
    /// database waits here, not halfway through); rolls back when it throws.
    func transaction<T>(doing step: String, _ body: () throws(CommandJournalError) -> T) throws(CommandJournalError) -> T {
        try execute("BEGIN IMMEDIATE", doing: step)
        do {
            let result = try body()
            try execute("COMMIT", doing: step)
            return result
        } catch {
            _ = try? execute("ROLLBACK", doing: step)
            throw error
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int {
        connection.map { Int(sqlite3_changes($0)) } ?? 0
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard let bytes = sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard let bytes = sqlite3_column_blob(statement, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    private func failure(_ status: Int32, doing step: String) -> CommandJournalError {
        let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
        var advice = "check the disk and the file's permissions"
        let isDamage = [SQLITE_CORRUPT, SQLITE_NOTADB].contains(status & 0xFF)
        switch status & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: advice = "another process holds the database; is a second agent running?"
        case SQLITE_FULL: advice = "the disk is full; free some space"
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            // Found at run time (a lookup hit a damaged page): the marker makes the next open replace the file even
            // where `quick_check` would miss the damage.
            Self.markDamaged(path, "\(step) failed: \(message)")
            advice = "the file is damaged; the agent moves it aside and starts a new journal at its next start"
        case SQLITE_READONLY: advice = "the file is read-only; the agent needs to write it"
        default: break
        }
        return CommandJournalError(
            "\(path): \(step) failed: \(message) (SQLite code \(status)); \(advice)", isDamage: isDamage)
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
        guard rename(path, target) == 0 || errno == ENOENT else {
            let reason = String(cString: strerror(errno))
            throw CommandJournalError(
                "\(path): the damaged commands database cannot be moved aside: \(reason); move or delete it by hand")
        }
        _ = rename(path + "-wal", target + "-wal")
        _ = unlink(path + "-shm")
        _ = unlink(damageMarkerPath(path))
        return target
    }

    /// The features a damaged copy still lists as pending or active, read best effort (nothing when unreadable).
    static func features(inDamagedCopy path: String) -> [String] {
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else { return [] }
        var statement: OpaquePointer?
        let sql = "SELECT feature FROM entitlements WHERE state IN ('pending', 'active') ORDER BY feature"
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { return [] }
        defer { sqlite3_finalize(statement) }
        var features: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW, features.count < 100 {
            if let text = sqlite3_column_text(statement, 0) { features.append(String(cString: text)) }
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
