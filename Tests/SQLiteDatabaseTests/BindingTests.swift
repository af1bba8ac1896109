import AxleTestSupport
import SQLiteDatabase
import Testing

@Suite("Binding and reading values")
struct BindingTests {
    @Test func everyStorageClassRoundTripsThroughAFile() throws {
        let directory = try TestDirectory()
        let values: [SQLiteValue] = [
            .null, .integer(Int64.min), .integer(Int64.max), .integer(0), .real(-1.5e300), .real(0.1),
            .text(""), .text("Zündung ⚡︎ \u{0}after a NUL"), .blob([]), .blob([0, 1, 2, 255]),
        ]
        do {
            let connection = try SQLiteConnection(path: directory.databasePath)
            try connection.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v)", step: "creating")
            for (number, value) in values.enumerated() {
                try connection.rows("INSERT INTO t (n, v) VALUES (?, ?)", [.integer(Int64(number)), value], step: "inserting")
            }
        }
        // A new connection reads the file, not a cache of what was written.
        let reopened = try SQLiteConnection(path: directory.databasePath, access: .readOnly)
        let read = try reopened.rows("SELECT v FROM t ORDER BY n", step: "reading").map { $0[0] }
        #expect(read == values)
    }

    @Test func typedBindingAndColumnsKeepNullApartFromEmpty() throws {
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB)", step: "creating")
        let payload: [UInt8] = Array(repeating: 0xA5, count: 100_000)
        try SQLiteConnection.withBytes(payload) { (bytes) throws(SQLiteError) in
            try connection.run("INSERT INTO t VALUES (?, ?, ?, ?)", step: "inserting") { statement in
                statement.bind(1, Int64(42))
                statement.bind(2, 2.5)
                statement.bind(3, "text")
                statement.bind(4, borrowing: bytes)
            }
        }
        try connection.run("INSERT INTO t VALUES (?, ?, ?, ?)", step: "inserting") { statement in
            statement.bind(1, Int64?.none)
            statement.bindNull(2)
            statement.bind(3, String?.none)
            statement.bind(4, [UInt8]())
        }
        var rows: [(Int64?, Double, String?, [UInt8]?)] = []
        try connection.query("SELECT i, d, s, b FROM t ORDER BY rowid", step: "reading") { statement in
            rows.append((statement.optionalInt64(0), statement.double(1), statement.optionalText(2), statement.optionalBlob(3)))
            return true
        }
        #expect(rows.count == 2)
        #expect(rows[0].0 == 42 && rows[0].1 == 2.5 && rows[0].2 == "text" && rows[0].3 == payload)
        // NULL stays NULL; an empty blob is a value, not NULL.
        #expect(rows[1].0 == nil && rows[1].1 == 0 && rows[1].2 == nil && rows[1].3 == [])
    }

    @Test func aFailedBindIsThrownByTheRunAndNothingIsWritten() throws {
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.execute("CREATE TABLE t (v)", step: "creating")
        let error = sqliteError { () throws(SQLiteError) in
            try connection.run("INSERT INTO t VALUES (?)", step: "inserting") { statement in
                statement.bind(1, Int64(1))
                statement.bind(2, Int64(2))  // There is no parameter 2.
            }
        }
        #expect(error?.description.contains("inserting failed: binding parameter 2") == true, "\(String(describing: error))")
        #expect(try connection.integer("SELECT count(*) FROM t", step: "counting") == 0)
    }
}

@Suite("Statements, transactions and pragmas")
struct ConnectionTests {
    @Test func eachSQLTextIsPreparedOnceAndReused() throws {
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.execute("CREATE TABLE t (v INTEGER)", step: "creating")
        #expect(connection.cachedStatementCount == 0)
        for value in 0..<500 {
            try connection.run("INSERT INTO t VALUES (?)", step: "inserting") { $0.bind(1, Int64(value)) }
        }
        #expect(connection.cachedStatementCount == 1)
        // The reused statement was reset and rebound each time: every value is there, once.
        #expect(try connection.integer("SELECT count(DISTINCT v) FROM t", step: "counting") == 500)
        #expect(try connection.integer("SELECT sum(v) FROM t", step: "summing") == 499 * 500 / 2)
        #expect(connection.cachedStatementCount == 3)
    }

    @Test func aTransactionCommitsAllOrRollsBackAll() throws {
        struct Refused: Error {}
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.execute("CREATE TABLE t (v INTEGER)", step: "creating")
        try connection.transaction(step: "inserting two") { () throws(SQLiteError) in
            try connection.run("INSERT INTO t VALUES (1)", step: "inserting")
            try connection.run("INSERT INTO t VALUES (2)", step: "inserting")
        }
        #expect(throws: Refused.self) {
            try connection.transaction(step: "inserting two more", wrapping: { _ in Refused() }) { () throws(Refused) in
                _ = try? connection.run("INSERT INTO t VALUES (3)", step: "inserting")
                throw Refused()
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.integer("SELECT count(*) FROM t", step: "counting") == 2)
    }

    @Test func writeAheadLogAndSynchronousModeAreSet() throws {
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.useWriteAheadLog()
        try connection.setSynchronous(.full)
        #expect(try connection.texts("PRAGMA journal_mode", step: "reading") == ["wal"])
        #expect(try connection.integer("PRAGMA synchronous", step: "reading") == 2)
        try connection.setSynchronous(.normal)
        #expect(try connection.integer("PRAGMA synchronous", step: "reading") == 1)
        // WAL is stored in the file: a second connection finds it.
        let second = try SQLiteConnection(path: directory.databasePath, access: .readOnly)
        #expect(try second.texts("PRAGMA journal_mode", step: "reading") == ["wal"])
    }
}
