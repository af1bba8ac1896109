import AxleBase
import CSQLite

/// One SQLite connection (`sqlite3_open_v2`) with a cache of prepared statements, one per SQL text: each statement
/// is compiled once per connection however often it runs.
///
/// Not `Sendable` and not thread-safe: SQLite's own mutex is off (`SQLITE_OPEN_NOMUTEX`) because the owner serialises
/// every call anyway (the outbox and the command store each keep their connection inside a `Mutex`). Calls block on
/// disk I/O: make them from a dedicated thread, never from the Swift concurrency pool.
public final class SQLiteConnection {
    /// How the file is opened.
    public enum Access: Sendable {
        /// Read and write, creating the file when it is missing (`SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE`).
        case readWrite
        /// Read only (`SQLITE_OPEN_READONLY`): never writes the database, fails on a missing file.
        case readOnly
    }

    /// `PRAGMA synchronous`: when a commit waits for the disk.
    public enum Synchronous: String, Sendable {
        /// In WAL mode a commit survives a crash of the program; a power cut may lose the last commits.
        case normal = "NORMAL"
        /// Every commit is on the disk (an fsync of the WAL) when it returns.
        case full = "FULL"
    }

    /// Waiting this long for another connection's lock (a second reader, the technician CLI) beats failing at once.
    public static let defaultBusyTimeoutMillis: Int32 = 5000

    /// The database file.
    public let path: String
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// The first failed bind of the statement being prepared for a run; binding does not throw, the run does.
    private var bindingFailure: SQLiteError?

    /// Opens `path` (`sqlite3_open_v2`) with extended result codes and a busy timeout (`sqlite3_busy_timeout`).
    public init(
        path: String, access: Access = .readWrite, busyTimeoutMillis: Int32 = defaultBusyTimeoutMillis
    ) throws(SQLiteError) {
        self.path = path
        let mode = access == .readWrite ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY
        var opened: OpaquePointer?
        let result = sqlite3_open_v2(path, &opened, mode | SQLITE_OPEN_NOMUTEX, nil)
        guard result == SQLITE_OK, let opened else {
            let error = SQLiteError.sqlite(result, handle: opened, path: path, step: "opening the database")
            sqlite3_close_v2(opened)
            throw error
        }
        handle = opened
        sqlite3_extended_result_codes(opened, 1)
        sqlite3_busy_timeout(opened, busyTimeoutMillis)
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the connection (`sqlite3_close_v2`; the last connection
    /// checkpoints and removes the WAL). Later calls throw `.closed`.
    public func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Whether a transaction is open (`sqlite3_get_autocommit` is 0).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (`sqlite3_changes`).
    public var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    /// How many prepared statements the connection keeps (one per distinct SQL text run through it).
    public var cachedStatementCount: Int { statements.count }

    /// Switches to write-ahead logging (`PRAGMA journal_mode=WAL`; nothing is written when the file is in WAL mode
    /// already), so that readers never block the writer. Throws when SQLite keeps another mode.
    public func useWriteAheadLog() throws(SQLiteError) {
        let step = "switching to WAL mode"
        let mode = try texts("PRAGMA journal_mode=WAL", step: step)
        guard mode.first?.lowercased() == "wal" else {
            throw SQLiteError(
                .other, path: path, step: step,
                message: "SQLite refused WAL mode (journal mode \(mode.first ?? "?")); the filesystem must support "
                    + "shared memory maps (the -shm file)")
        }
    }

    /// Sets `PRAGMA synchronous` (for the following commits; a transaction in progress keeps its setting).
    public func setSynchronous(_ mode: Synchronous) throws(SQLiteError) {
        try execute("PRAGMA synchronous=\(mode.rawValue)", step: "setting synchronous=\(mode.rawValue)")
    }

    /// Runs SQL that returns no rows of interest, several statements allowed (`sqlite3_exec`; not cached).
    public func execute(_ sql: String, step: String) throws(SQLiteError) {
        let handle = try openHandle(step: step)
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw failure(result, step: step) }
    }

    /// Runs one cached statement to completion (stepping through any rows, e.g. RETURNING) and resets it.
    public func run(
        _ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }
    ) throws(SQLiteError) {
        try query(sql, step: step, bind: bind) { _ in true }
    }

    /// Runs one cached statement: binds with `bind`, hands each row to `row` until it returns false, and resets it.
    /// `row` must not run the same SQL text again (it is the same statement).
    public func query(
        _ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }, row: (SQLiteStatement) -> Bool
    ) throws(SQLiteError) {
        let statement = SQLiteStatement(handle: try prepare(sql, step: step), connection: self)
        defer {
            sqlite3_reset(statement.handle)
            sqlite3_clear_bindings(statement.handle)
            bindingFailure = nil
        }
        bindingFailure = nil
        bind(statement)
        if let bindingFailure {
            throw SQLiteError(
                bindingFailure.code, path: path, step: step, message: bindingFailure.message,
                resultCode: bindingFailure.resultCode)
        }
        while true {
            let result = sqlite3_step(statement.handle)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw failure(result, step: step) }
            if !row(statement) { return }
        }
    }

    /// Runs one cached statement with `arguments` bound to its parameters in order, and returns every row.
    @discardableResult
    public func rows(_ sql: String, _ arguments: [SQLiteValue] = [], step: String) throws(SQLiteError) -> [[SQLiteValue]] {
        var rows: [[SQLiteValue]] = []
        try query(sql, step: step) { statement in
            for (offset, argument) in arguments.enumerated() { statement.bind(Int32(offset + 1), argument) }
        } row: { statement in
            rows.append((0..<statement.columnCount).map { statement.value($0) })
            return true
        }
        return rows
    }

    /// The first column of the first row as an integer (nil when there is no row or it is NULL).
    public func integer(
        _ sql: String, step: String, bind: (SQLiteStatement) -> Void = { _ in }
    ) throws(SQLiteError) -> Int64? {
        var value: Int64?
        try query(sql, step: step, bind: bind) { statement in
            value = statement.optionalInt64(0)
            return false
        }
        return value
    }

    /// Every row's first column as text (for PRAGMA checks).
    public func texts(_ sql: String, step: String) throws(SQLiteError) -> [String] {
        var values: [String] = []
        try query(sql, step: step) { statement in
            values.append(statement.text(0))
            return true
        }
        return values
    }

    /// Runs `body` in one write transaction and commits; rolls back when `body` or the commit throws. BEGIN
    /// IMMEDIATE takes the write lock up front, so a busy database waits (the busy timeout) here, not halfway through.
    /// SQLite's failures reach the caller as `wrap(error)`, so that a body throwing the caller's own error type works.
    public func transaction<T, Failure: Error>(
        step: String, wrapping wrap: (SQLiteError) -> Failure, _ body: () throws(Failure) -> T
    ) throws(Failure) -> T {
        do throws(SQLiteError) {
            try execute("BEGIN IMMEDIATE", step: step)
        } catch {
            throw wrap(error)
        }
        let value: T
        do throws(Failure) {
            value = try body()
        } catch {
            rollback()
            throw error
        }
        do throws(SQLiteError) {
            try execute("COMMIT", step: step)
        } catch {
            rollback()
            throw wrap(error)
        }
        return value
    }

    /// `transaction(step:wrapping:_:)` for a body that throws only `SQLiteError`.
    public func transaction<T>(step: String, _ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try transaction(step: step, wrapping: { $0 }, body)
    }

    /// Rolls back the open transaction, if any (after a failure: nothing useful can be done if this fails too).
    public func rollback() {
        if isInTransaction { _ = try? execute("ROLLBACK", step: "rolling back") }
    }

    /// A passive WAL checkpoint (`sqlite3_wal_checkpoint_v2`): copies what it can without waiting for readers.
    public func checkpoint() {
        guard let handle else { return }
        _ = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }

    /// `body` with the array's bytes, for binding them without a copy (`SQLiteStatement.bind(_:borrowing:)`);
    /// Array's own `withUnsafeBytes` does not pass a typed error through.
    public static func withBytes<R, Failure: Error>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(Failure) -> R
    ) throws(Failure) -> R {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(Failure) in try body(buffer) } }
        return try result.get()
    }

    // MARK: Internals

    private func openHandle(step: String) throws(SQLiteError) -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(.closed, path: path, step: step, message: "the connection is closed")
        }
        return handle
    }

    /// The statement for `sql` from the cache, compiled on first use (`sqlite3_prepare_v3`, persistent).
    private func prepare(_ sql: String, step: String) throws(SQLiteError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        let handle = try openHandle(step: step)
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw failure(result, step: step) }
        statements[sql] = statement
        return statement
    }

    func failure(_ result: Int32, step: String) -> SQLiteError {
        SQLiteError.sqlite(result, handle: handle, path: path, step: step)
    }

    /// Notes the first bind that failed; `query` throws it before stepping.
    func noteBinding(_ result: Int32, parameter: Int32) {
        guard result != SQLITE_OK, bindingFailure == nil else { return }
        let failed = failure(result, step: "binding parameter \(parameter)")
        bindingFailure = SQLiteError(
            failed.code, path: path, step: failed.step,
            message: "binding parameter \(parameter): \(failed.message)", resultCode: result)
    }

    func noteBindingFailure(_ error: SQLiteError) {
        if bindingFailure == nil { bindingFailure = error }
    }
}

/// `SQLiteConnection` is confined to its owner's lock; this makes sharing it without one a compile-time error.
@available(*, unavailable)
extension SQLiteConnection: Sendable {}
