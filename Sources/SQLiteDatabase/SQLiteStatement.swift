import CSQLite

/// A prepared statement during one `SQLiteConnection.query` or `run`: binding parameters (1-based) and reading the
/// current row's columns (0-based). Binding does not throw: the first failure is thrown by the run, before the
/// statement steps.
public struct SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    // MARK: Binding

    /// Binds an integer (`sqlite3_bind_int64`).
    public func bind(_ index: Int32, _ value: Int64) {
        connection.noteBinding(sqlite3_bind_int64(handle, index, value), parameter: index)
    }

    /// Binds an integer, or NULL for nil.
    public func bind(_ index: Int32, _ value: Int64?) {
        if let value { bind(index, value) } else { bindNull(index) }
    }

    /// Binds a floating-point number (`sqlite3_bind_double`).
    public func bind(_ index: Int32, _ value: Double) {
        connection.noteBinding(sqlite3_bind_double(handle, index, value), parameter: index)
    }

    /// Binds text, copied (`sqlite3_bind_text`, SQLITE_TRANSIENT).
    public func bind(_ index: Int32, _ value: String) {
        guard checkSize(value.utf8.count, index) else { return }
        let count = Int32(value.utf8.count)
        let result = value.withCString { CSQLite_bindTextTransient(handle, index, $0, count) }
        connection.noteBinding(result, parameter: index)
    }

    /// Binds text, or NULL for nil.
    public func bind(_ index: Int32, _ value: String?) {
        if let value { bind(index, value) } else { bindNull(index) }
    }

    /// Binds bytes as a blob, copied; an empty array is an empty blob, not NULL.
    public func bind(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            guard checkSize(buffer.count, index) else { return }
            let result =
                buffer.count == 0
                ? sqlite3_bind_zeroblob(handle, index, 0)
                : sqlite3_bind_blob(handle, index, buffer.baseAddress, Int32(buffer.count), CSQLite_transient())
            connection.noteBinding(result, parameter: index)
        }
    }

    /// Binds bytes without copying them (SQLITE_STATIC): the caller keeps `bytes` alive until the run returns
    /// (`SQLiteConnection.withBytes`). For large payloads, where a copy per insert would cost.
    public func bind(_ index: Int32, borrowing bytes: UnsafeRawBufferPointer) {
        guard checkSize(bytes.count, index) else { return }
        connection.noteBinding(
            CSQLite_bindBlobStatic(handle, index, bytes.baseAddress, Int32(bytes.count)), parameter: index)
    }

    /// Binds SQL NULL (`sqlite3_bind_null`).
    public func bindNull(_ index: Int32) {
        connection.noteBinding(sqlite3_bind_null(handle, index), parameter: index)
    }

    /// Binds a value of any storage class.
    public func bind(_ index: Int32, _ value: SQLiteValue) {
        switch value {
        case .null: bindNull(index)
        case .integer(let value): bind(index, value)
        case .real(let value): bind(index, value)
        case .text(let value): bind(index, value)
        case .blob(let value): bind(index, value)
        }
    }

    /// SQLite takes at most 2 GiB in one value; more is refused here rather than truncated.
    private func checkSize(_ count: Int, _ index: Int32) -> Bool {
        guard count > Int(Int32.max) else { return true }
        connection.noteBindingFailure(SQLiteError(
            .tooLarge, path: connection.path, step: "binding parameter \(index)",
            message: "a value of \(count) bytes is larger than SQLite takes (2 GiB)"))
        return false
    }

    // MARK: Reading the current row

    /// Columns in the result.
    public var columnCount: Int32 { sqlite3_column_count(handle) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column as an integer (`sqlite3_column_int64`; 0 for NULL).
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    /// The column as a floating-point number (`sqlite3_column_double`; 0 for NULL).
    public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    /// The column as UTF-8 text (`sqlite3_column_text`; "" for NULL).
    public func text(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeRawBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// The column's bytes (`sqlite3_column_blob`; empty for NULL or an empty blob).
    public func blob(_ column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    public func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }

    /// The column in its own storage class.
    public func value(_ column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: .integer(int64(column))
        case SQLITE_FLOAT: .real(double(column))
        case SQLITE_TEXT: .text(text(column))
        case SQLITE_BLOB: .blob(blob(column))
        default: .null
        }
    }
}
