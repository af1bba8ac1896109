import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Damaged databases")
struct DamageTests {
    /// A closed database holding `count` telemetry records of 1000 bytes (sequences 1...count).
    private func makeDatabase(_ directory: TestDirectory, clock: TestClock, count: Int) throws {
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath))
        for _ in 0..<(count / 10) { try store.append((0..<10).map { _ in draft(.telemetry, size: 1000) }) }
        store.close()
    }

    @Test func aGarbageHeaderIsMovedAsideAndNumbersContinue() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let path = directory.databasePath
        try makeDatabase(directory, clock: clock, count: 50)
        try overwrite(path, at: 0, count: 100)

        let store = try OutboxStore(configuration: clock.configuration(path: path))
        defer { store.close() }
        let movedTo = "\(path).damaged-\(clock.now / 1000)"
        guard case .replacedDamaged(let moved, let reason) = store.openReport else {
            Issue.record("expected a replaced database, got \(store.openReport)")
            return
        }
        #expect(moved == movedTo)
        #expect(reason.contains("not a database"))
        #expect(fileExists(movedTo))
        #expect(fileBytes(movedTo).count > 50_000)

        #expect(try store.nextRecords(limit: 10, classes: allClasses, excluding: []).isEmpty)
        let next = try store.append([draft(.critical)])
        #expect(next.first.map { $0 > 50 } == true)
        #expect(try OutboxStore.checkIntegrity(path: path) == ["ok"])
    }

    @Test func damagedPagesAreFoundAndTheOldNumbersAreReadFromTheCopy() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let path = directory.databasePath
        try makeDatabase(directory, clock: clock, count: 300)
        // Without the sidecar, only the damaged copy itself can tell how far the numbers went.
        #expect(unlink(path + ".sequence") == 0)
        let size = Int(fileSize(path))
        try overwrite(path, at: size / 2, count: 8192)

        let store = try OutboxStore(configuration: clock.configuration(path: path))
        defer { store.close() }
        guard case .replacedDamaged(let moved, let reason) = store.openReport else {
            Issue.record("expected a replaced database, got \(store.openReport)")
            return
        }
        #expect(fileExists(moved))
        #expect(reason.hasPrefix("quick_check") || reason.contains("malformed"), "\(reason)")
        let next = try store.append([draft(.telemetry)])
        #expect(next.first.map { $0 > 300 } == true)
        #expect(try store.statistics().depth[.telemetry]?.records == 1)
    }

    @Test func aDamagedDatabaseIsReplacedOnlyOnce() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let path = directory.databasePath
        try AxleProcess.writeFile(path, String(repeating: "this is not a database\n", count: 500))
        var store = try OutboxStore(configuration: clock.configuration(path: path))
        guard case .replacedDamaged = store.openReport else {
            Issue.record("expected a replaced database, got \(store.openReport)")
            return
        }
        try store.append([draft(.alert)])
        store.close()
        clock.advance(millis: 1000)
        store = try OutboxStore(configuration: clock.configuration(path: path))
        #expect(store.openReport == .opened)
        #expect(try store.nextRecords(limit: 10, classes: allClasses, excluding: []).count == 1)
        store.close()
    }

    // Needs Debian's sqlite3 shell to make a database that is not an outbox.
    @Test(.enabled(if: fileExists("/usr/bin/sqlite3"), "the sqlite3 shell is not installed"))
    func anotherProgramsDatabaseIsRefusedNotReplaced() throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        #expect(system("sqlite3 \(path) 'CREATE TABLE contacts(name TEXT)' 2>/dev/null") == 0)
        let before = fileBytes(path)
        let error = outboxError { _ = try OutboxStore(configuration: OutboxConfiguration(path: path)) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains("another program") == true)
        #expect(fileBytes(path) == before)
    }
}
