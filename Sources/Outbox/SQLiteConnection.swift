import CSQLite

/// One SQLite connection with a cache of prepared statements. Not `Sendable`: it lives inside `OutboxStore`'s mutex,
/// and only the thread holding the lock touches it.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (`sqlite3_open_v2`) without SQLite's own mutex: the store's lock serialises every call.
    init(path: String, flags: Int32) throws(OutboxError) {
        self.path = path
        var db: OpaquePointer?
        let result = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard result == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw OutboxError.sqlite(result, step: "opening the database", path: path, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Finalizes every statement and closes the connection (the last connection checkpoints and removes the WAL).
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    var isInTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    func error(_ result: Int32, step: String) -> OutboxError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "the connection is closed"
        return OutboxError.sqlite(result, step: step, path: path, message: message)
    }

    /// Runs SQL that returns no rows of interest (several statements allowed).
    func execute(_ sql: String, step: String) throws(OutboxError) {
        guard let handle else { throw closedError() }
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw error(result, step: step) }
    }

    /// Runs one cached statement to completion (stepping through any rows, e.g. RETURNING) and resets it.
    func run(
        _ sql: String, step: String,
        bind: (Statement) throws(OutboxError) -> Void = { _ throws(OutboxError) in }
    ) throws(OutboxError) {
        try query(sql, step: step, bind: bind) { _ throws(OutboxError) in true }
    }

    /// Runs one cached statement: binds with `bind`, hands each row to `row` until it returns false, and resets it.
    func query(
        _ sql: String, step: String,
        bind: (Statement) throws(OutboxError) -> Void = { _ throws(OutboxError) in },
        row: (Statement) throws(OutboxError) -> Bool
    ) throws(OutboxError) {
        let statement = Statement(handle: try prepare(sql, step: step), connection: self, step: step)
        defer {
            sqlite3_reset(statement.handle)
            sqlite3_clear_bindings(statement.handle)
        }
        try bind(statement)
        while true {
            let result = sqlite3_step(statement.handle)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw error(result, step: step) }
            if try !row(statement) { return }
        }
    }

    /// The first column of the first row as an integer (nil when there is no row or it is NULL).
    func integer(
        _ sql: String, step: String, bind: (Statement) throws(OutboxError) -> Void = { _ throws(OutboxError) in }
    ) throws(OutboxError) -> Int64? {
        var value: Int64?
        try query(sql, step: step, bind: bind) { statement throws(OutboxError) in
            value = statement.isNull(0) ? nil : statement.int64(0)
            return false
        }
        return value
    }

    /// Every row's first column as text (for PRAGMA checks).
    func texts(_ sql: String, step: String) throws(OutboxError) -> [String] {
        var values: [String] = []
        try query(sql, step: step) { statement throws(OutboxError) in
            values.append(statement.text(0))
            return true
        }
        return values
    }

    private func prepare(_ sql: String, step: String) throws(OutboxError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        guard let handle else { throw closedError() }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw error(result, step: step) }
        statements[sql] = statement
        return statement
    }

    private func closedError() -> OutboxError {
        OutboxError(.closed, path: path, message: "the outbox was closed; open a new OutboxStore")
    }

    /// `body` with the array's bytes, for binding them without a copy (Array's own method is not typed-throws).
    static func withBytes<R>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(OutboxError) -> R
    ) throws(OutboxError) -> R {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(OutboxError) in try body(buffer) } }
        return try result.get()
    }

    /// A prepared statement during one `run`: binding parameters (1-based) and reading columns (0-based).
    struct Statement {
        let handle: OpaquePointer
        unowned let connection: SQLiteConnection
        let step: String

        private func check(_ result: Int32) throws(OutboxError) {
            guard result == SQLITE_OK else { throw connection.error(result, step: step) }
        }

        func bind(_ index: Int32, _ value: Int64) throws(OutboxError) {
            try check(sqlite3_bind_int64(handle, index, value))
        }

        func bind(_ index: Int32, _ value: Int64?) throws(OutboxError) {
            if let value { try bind(index, value) } else { try check(sqlite3_bind_null(handle, index)) }
        }

        func bind(_ index: Int32, _ value: String) throws(OutboxError) {
            let count = Int32(value.utf8.count)
            try check(value.withCString { CSQLite_bindTextTransient(handle, index, $0, count) })
        }

        /// Binds without copying: the caller keeps `bytes` alive until `run` returns.
        func bind(_ index: Int32, borrowing bytes: UnsafeRawBufferPointer) throws(OutboxError) {
            guard bytes.count <= Int(Int32.max) else {
                throw OutboxError(
                    .tooLarge, path: connection.path, message: "a payload of \(bytes.count) bytes is too large")
            }
            try check(CSQLite_bindBlobStatic(handle, index, bytes.baseAddress, Int32(bytes.count)))
        }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

        func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

        func text(_ column: Int32) -> String {
            guard let text = sqlite3_column_text(handle, column) else { return "" }
            let count = Int(sqlite3_column_bytes(handle, column))
            return String(decoding: UnsafeRawBufferPointer(start: text, count: count), as: UTF8.self)
        }

        func blob(_ column: Int32) -> [UInt8] {
            guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
            let count = Int(sqlite3_column_bytes(handle, column))
            return Array(UnsafeRawBufferPointer(start: bytes, count: count))
        }
    }
}
