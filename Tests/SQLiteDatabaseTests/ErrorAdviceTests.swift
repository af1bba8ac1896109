import AxleTestSupport
import SQLiteDatabase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each failure a user can meet, made for real on real files, and what the error tells them to do.
@Suite("Error codes and advice")
struct ErrorAdviceTests {
    @Test func aFileThatIsNotADatabaseIsDamagedAndToBeMovedAside() throws {
        let directory = try TestDirectory()
        try AxleProcess.writeFile(
            directory.databasePath, String(repeating: "this is a text file, not an SQLite database\n", count: 200))
        let connection = try SQLiteConnection(path: directory.databasePath)
        let error = sqliteError { () throws(SQLiteError) in _ = try connection.texts("PRAGMA quick_check", step: "checking") }
        #expect(error?.code == .damaged)
        #expect(error?.primaryResultCode == 26)  // SQLITE_NOTADB
        #expect(error?.description.contains("\(directory.databasePath): checking failed: file is not a database") == true, "\(String(describing: error))")
        #expect(error?.advice.contains("move it aside") == true)
    }

    // chmod does not stop root, so the test makes a path no user can create: one under a regular file.
    @Test func aPathThatCannotBeCreatedSaysWhyFromTheOperatingSystem() throws {
        let directory = try TestDirectory()
        let file = try AxleProcess.writeFile(directory.path + "/plain-file", "x")
        let error = sqliteError { () throws(SQLiteError) in _ = try SQLiteConnection(path: file + "/test.db") }
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("Not a directory") == true, "\(String(describing: error))")
        #expect(error?.description.contains(file + "/test.db") == true)
        #expect(error?.advice.contains("directory exists") == true)
    }

    @Test func aMissingFileOpenedReadOnlyCannotBeOpened() throws {
        let directory = try TestDirectory()
        let error = sqliteError { () throws(SQLiteError) in
            _ = try SQLiteConnection(path: directory.path + "/missing.db", access: .readOnly)
        }
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("No such file or directory") == true, "\(String(describing: error))")
    }

    @Test func writingThroughAReadOnlyConnectionIsReadOnly() throws {
        let directory = try TestDirectory()
        try SQLiteConnection(path: directory.databasePath).execute("CREATE TABLE t (v)", step: "creating")
        let reader = try SQLiteConnection(path: directory.databasePath, access: .readOnly)
        let error = sqliteError { () throws(SQLiteError) in try reader.run("INSERT INTO t VALUES (1)", step: "inserting") }
        #expect(error?.code == .readOnly)
        #expect(error?.advice.contains("read-only") == true)
    }

    // A read-only filesystem is the case a vehicle meets (a remounted data partition); remounting needs root.
    @Test(.enabled(if: TinyFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
    func aReadOnlyFilesystemIsReadOnly() throws {
        let filesystem = try TinyFilesystem(bytes: 1 << 20)
        defer { filesystem.unmount() }
        let path = filesystem.path + "/test.db"
        try SQLiteConnection(path: path).execute("CREATE TABLE t (v)", step: "creating")
        let remounted = mount("tmpfs", filesystem.path, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), nil)
        try #require(remounted == 0, "remounting read-only failed: errno \(errno)")
        let connection = try SQLiteConnection(path: path)
        let error = sqliteError { () throws(SQLiteError) in try connection.run("INSERT INTO t VALUES (1)", step: "inserting") }
        #expect(error?.code == .readOnly, "\(String(describing: error))")
    }

    @Test func aLockHeldByAnotherConnectionIsBusy() throws {
        let directory = try TestDirectory()
        let holder = try SQLiteConnection(path: directory.databasePath)
        try holder.execute("CREATE TABLE t (v); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);", step: "holding the lock")
        let other = try SQLiteConnection(path: directory.databasePath, busyTimeoutMillis: 0)
        let error = sqliteError { () throws(SQLiteError) in try other.run("INSERT INTO t VALUES (2)", step: "inserting") }
        #expect(error?.code == .busy)
        #expect(error?.advice.contains("another process") == true)
        holder.rollback()
        try other.run("INSERT INTO t VALUES (2)", step: "inserting")
    }

    @Test(.enabled(if: TinyFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
    func aFullFilesystemIsDiskFull() throws {
        let filesystem = try TinyFilesystem(bytes: 256 << 10)
        defer { filesystem.unmount() }
        let connection = try SQLiteConnection(path: filesystem.path + "/test.db")
        try connection.execute("CREATE TABLE t (v BLOB)", step: "creating")
        let chunk = [UInt8](repeating: 7, count: 16 << 10)
        var failure: SQLiteError?
        for _ in 0..<64 where failure == nil {
            do {
                try connection.run("INSERT INTO t VALUES (?)", step: "inserting") { $0.bind(1, chunk) }
            } catch {
                failure = error
            }
        }
        let error = try #require(failure, "256 KiB of tmpfs took 1 MiB of rows")
        #expect(error.code == .diskFull, "\(error)")
        #expect(error.advice.contains("free space"))
    }

    @Test func aClosedConnectionSaysSo() throws {
        let directory = try TestDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        connection.close()
        let error = sqliteError { () throws(SQLiteError) in try connection.execute("SELECT 1", step: "selecting") }
        #expect(error?.code == .closed)
    }
}
