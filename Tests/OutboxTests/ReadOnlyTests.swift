import AxleTestSupport
import Outbox
import Testing

@Suite("Read-only access for the technician")
struct ReadOnlyTests {
    @Test func statisticsWithoutWritingAnything() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let path = directory.databasePath
        let store = try OutboxStore(configuration: clock.configuration(path: path, capBytes: 512 << 10))
        try store.append([draft(.telemetry, expiresAt: clock.now + 10), draft(.telemetry), draft(.critical, size: 500)])
        clock.advance(millis: 100)
        try store.dropExpired()
        try store.deadLetter(sequence: 2, reason: "refused")
        // Readable while the agent has it open, too.
        #expect(try OutboxStore.readStatistics(path: path).depth[.critical]?.records == 1)
        store.close()

        let before = fileBytes(path)
        let statistics = try OutboxStore.readStatistics(path: path)
        #expect(statistics.depth[.critical] == .init(
            records: 1, payloadBytes: 500, oldestCreatedAtMillis: 1_700_000_000_000))
        #expect(statistics.depth[.telemetry]?.records == 0)
        #expect(statistics.dropped[.telemetry] == 1)
        #expect(statistics.deadLetters == 1)
        #expect(statistics.lastSequence == 3)
        #expect(statistics.capBytes == 512 << 10)
        #expect(statistics.recentDrops == [
            DropRange(priority: .telemetry, first: 1, last: 1, count: 1, reason: .expired, atMillis: clock.now)
        ])
        #expect(!statistics.intakePaused)
        #expect(fileBytes(path) == before)
        #expect(fileSize(path + "-wal") <= 0)
    }

    @Test func aMissingDatabaseIsNamed() throws {
        let directory = try TestDirectory()
        let error = outboxError { _ = try OutboxStore.readStatistics(path: directory.path + "/nothing.db") }
        #expect(error?.code == .missingDatabase)
        #expect(error?.description.contains("nothing.db") == true)
        #expect(!fileExists(directory.path + "/nothing.db"))
    }
}
