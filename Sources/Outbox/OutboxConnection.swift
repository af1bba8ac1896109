import SQLiteDatabase

/// The outbox's SQLite connection: `SQLiteConnection` (the one SQLite layer) with each failure turned into an
/// `OutboxError`, so that the outbox's callers see the outbox's codes (`isDiskFull`, `.damaged`). Not `Sendable`: it
/// lives inside `OutboxStore`'s mutex, and only the thread holding the lock touches it.
final class OutboxConnection {
    let sqlite: SQLiteConnection

    var path: String { sqlite.path }

    /// Opens `path`, waiting `OutboxState.busyTimeoutMillis` for a lock another connection holds.
    init(path: String, access: SQLiteConnection.Access) throws(OutboxError) {
        sqlite = try Self.mapping { () throws(SQLiteError) in
            try SQLiteConnection(path: path, access: access, busyTimeoutMillis: OutboxState.busyTimeoutMillis)
        }
    }

    func close() { sqlite.close() }

    var isInTransaction: Bool { sqlite.isInTransaction }

    func checkpoint() { sqlite.checkpoint() }

    func useWriteAheadLog() throws(OutboxError) {
        try Self.mapping { () throws(SQLiteError) in try sqlite.useWriteAheadLog() }
    }

    /// Runs SQL that returns no rows of interest (several statements allowed).
    func execute(_ sql: String, step: String) throws(OutboxError) {
        try Self.mapping { () throws(SQLiteError) in try sqlite.execute(sql, step: step) }
    }

    /// Runs one cached statement to completion.
    func run(_ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }) throws(OutboxError) {
        try Self.mapping { () throws(SQLiteError) in try sqlite.run(sql, step: step, bind: bind) }
    }

    /// Runs one cached statement, handing each row to `row` until it returns false.
    func query(
        _ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }, row: (SQLiteStatement) -> Bool
    ) throws(OutboxError) {
        try Self.mapping { () throws(SQLiteError) in try sqlite.query(sql, step: step, bind: bind, row: row) }
    }

    /// The first column of the first row as an integer (nil when there is no row or it is NULL).
    func integer(_ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }) throws(OutboxError) -> Int64? {
        try Self.mapping { () throws(SQLiteError) in try sqlite.integer(sql, step: step, bind: bind) }
    }

    /// Every row's first column as text (for PRAGMA checks).
    func texts(_ sql: String, step: String) throws(OutboxError) -> [String] {
        try Self.mapping { () throws(SQLiteError) in try sqlite.texts(sql, step: step) }
    }

    private static func mapping<T>(_ body: () throws(SQLiteError) -> T) throws(OutboxError) -> T {
        do throws(SQLiteError) {
            return try body()
        } catch {
            throw OutboxError(error)
        }
    }
}
