import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Sequence numbers")
struct SequenceTests {
    @Test func growAcrossReopenAndAfterEverythingWasAcknowledged() throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        var store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        #expect(store.openReport == .created)
        #expect(try store.append([draft(.telemetry), draft(.telemetry), draft(.bulk)]) == [1, 2, 3])
        store.close()

        store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        #expect(store.openReport == .opened)
        #expect(try store.append([draft(.alert)]) == [4])
        try store.acknowledge([1, 2, 3, 4])
        #expect(try store.nextRecords(limit: 10, classes: allClasses, excluding: []).isEmpty)
        store.close()

        store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        #expect(try store.append([draft(.telemetry)]) == [5])
        #expect(try store.statistics().lastSequence == 5)
        store.close()
        #expect(try OutboxStore.checkIntegrity(path: path) == ["ok"])
    }

    @Test func thePayloadIsMadeWithTheAssignedNumber() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath))
        defer { store.close() }
        try store.append([draft(.bulk), draft(.critical)])
        let records = try store.nextRecords(limit: 10, classes: allClasses, excluding: [])
        #expect(records.map(\.payload) == [testPayload(2), testPayload(1)])
    }

    @Test func aFailedAppendConsumesNoNumbers() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(
            configuration: OutboxConfiguration(path: directory.databasePath, capBytes: 256 << 10))
        defer { store.close() }
        #expect(try store.append([draft(.telemetry)]) == [1])
        let error = outboxError { try store.append([draft(.telemetry, size: 300 << 10)]) }
        #expect(error?.code == .tooLarge)
        #expect(error?.description.contains("cap") == true)
        #expect(try store.append([draft(.telemetry)]) == [2])
        #expect(try store.statistics().depth[.telemetry]?.records == 2)
    }

    @Test func continueAboveTheOldNumbersWhenTheDatabaseWasDeleted() throws {
        let directory = try TestDirectory()
        let path = directory.databasePath
        var store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        try store.append((0..<7).map { _ in draft(.telemetry) })
        store.close()
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }

        // The sidecar next to the database still knows how far the numbers went.
        store = try OutboxStore(configuration: OutboxConfiguration(path: path))
        defer { store.close() }
        #expect(store.openReport == .created)
        let next = try store.append([draft(.telemetry)])
        #expect(next.count == 1 && next[0] > 7)
    }
}
