import AxleTestSupport
import SQLiteDatabase
import Testing

/// A test's temporary directory (AxleTestSupport), with the database file this target's tests use.
typealias TestDirectory = TemporaryDirectory

extension TemporaryDirectory {
    var databasePath: String { path + "/test.db" }
}

/// The `SQLiteError` that `body` threw; a test failure (and nil) when it threw nothing or something else.
func sqliteError(_ body: () throws(SQLiteError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> SQLiteError? {
    do {
        try body()
        Issue.record("expected an SQLiteError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
