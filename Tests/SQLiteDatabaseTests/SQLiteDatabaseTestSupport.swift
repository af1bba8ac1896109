import AxleTestSupport
import SQLiteDatabase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory for one test's database files, removed when the test ends.
final class TestDirectory {
    let path: String

    init() throws {
        path = try AxleProcess.makeTemporaryDirectory()
    }

    deinit {
        _ = system("rm -rf " + AxleProcess.shellQuote(path))
    }

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
