import AxleTestSupport
import Outbox
import Testing

@Suite("Draining, acknowledging and dead letters")
struct DrainingTests {
    /// Sequences 1...6: telemetry, bulk, critical, alert, telemetry, critical.
    private func mixedStore(_ directory: TestDirectory, clock: TestClock = TestClock()) throws -> OutboxStore {
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath))
        try store.append([draft(.telemetry), draft(.bulk)])
        try store.append([draft(.critical)])
        try store.append([draft(.alert), draft(.telemetry)])
        try store.append([draft(.critical)])
        return store
    }

    @Test func mostImportantClassFirstThenOldestFirst() throws {
        let directory = try TestDirectory()
        let store = try mixedStore(directory)
        defer { store.close() }
        #expect(sequences(try store.nextRecords(limit: 10, classes: allClasses, excluding: [])) == [3, 6, 4, 1, 5, 2])
        #expect(sequences(try store.nextRecords(limit: 2, classes: allClasses, excluding: [])) == [3, 6])
        #expect(sequences(try store.nextRecords(limit: 10, classes: [.telemetry, .bulk], excluding: [])) == [1, 5, 2])
        #expect(try store.nextRecords(limit: 0, classes: allClasses, excluding: []).isEmpty)
    }

    @Test func recordsInFlightAreSkipped() throws {
        let directory = try TestDirectory()
        let store = try mixedStore(directory)
        defer { store.close() }
        #expect(sequences(try store.nextRecords(limit: 3, classes: allClasses, excluding: [3, 4])) == [6, 1, 5])
        #expect(sequences(try store.nextRecords(limit: 10, classes: [.critical], excluding: [3, 6])) == [])
    }

    @Test func recordsComeBackAsTheyWereAppended() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath))
        defer { store.close() }
        let sent = RecordDraft(
            priority: .alert, createdAtMillis: 1_700_000_123_456, expiresAtMillis: 4_000_000_000_000,
            topic: "axle/v1/VIN123/alerts", qos: 0, payload: { [0, 1, 2, 0xFF, UInt8($0)] })
        try store.append([sent, draft(.bulk, size: 0)])
        let records = try store.nextRecords(limit: 10, classes: allClasses, excluding: [])
        #expect(records.first == OutboxRecord(
            sequence: 1, priority: .alert, createdAtMillis: 1_700_000_123_456, expiresAtMillis: 4_000_000_000_000,
            topic: "axle/v1/VIN123/alerts", qos: 0, payload: [0, 1, 2, 0xFF, 1]))
        let empty = RecordDraft(
            priority: .bulk, createdAtMillis: 1, expiresAtMillis: nil, topic: "t", qos: 1, payload: { _ in [] })
        try store.append([empty])
        #expect(try store.nextRecords(limit: 10, classes: [.bulk], excluding: [2]).map(\.payload) == [[]])
    }

    @Test func acknowledgeDeletesOnlyThoseRecords() throws {
        let directory = try TestDirectory()
        let store = try mixedStore(directory)
        defer { store.close() }
        try store.acknowledge([6, 1, 999])
        #expect(sequences(try store.nextRecords(limit: 10, classes: allClasses, excluding: [])) == [3, 4, 5, 2])
        let statistics = try store.statistics()
        #expect(statistics.depth[.critical]?.records == 1)
        #expect(statistics.depth[.telemetry]?.records == 1)
        #expect(statistics.depth[.telemetry]?.payloadBytes == Int64(testPayload(5).count))
        #expect(statistics.depth[.bulk]?.records == 1)
        #expect(statistics.dropped.values.allSatisfy { $0 == 0 })
        try store.acknowledge([6])
        #expect(try store.statistics().depth[.critical]?.records == 1)
    }

    @Test func deadLettersLeaveTheQueueWithTheirReason() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try mixedStore(directory, clock: clock)
        defer { store.close() }
        clock.advance(millis: 5000)
        try store.deadLetter(sequence: 4, reason: "broker refused: payload too large (0x95)")
        try store.deadLetter(sequence: 77, reason: "no such record")
        #expect(sequences(try store.nextRecords(limit: 10, classes: allClasses, excluding: [])) == [3, 6, 1, 5, 2])
        let letters = try store.deadLetters(limit: 10)
        #expect(letters.count == 1)
        #expect(letters.first?.record.sequence == 4)
        #expect(letters.first?.record.priority == .alert)
        #expect(letters.first?.record.payload == testPayload(4))
        #expect(letters.first?.reason == "broker refused: payload too large (0x95)")
        #expect(letters.first?.atMillis == clock.now)
        let statistics = try store.statistics()
        #expect(statistics.deadLetters == 1)
        #expect(statistics.depth[.alert]?.records == 0)
        #expect(try store.append([draft(.bulk)]) == [7])
    }

    @Test func statisticsDescribeTheQueue() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath, capBytes: 1 << 20))
        defer { store.close() }
        try store.append([
            draft(.telemetry, createdAt: 500), draft(.telemetry, createdAt: 400), draft(.bulk, size: 100),
        ])
        let statistics = try store.statistics()
        #expect(statistics.depth[.telemetry] == .init(
            records: 2, payloadBytes: Int64(testPayload(1).count + testPayload(2).count), oldestCreatedAtMillis: 500))
        #expect(statistics.depth[.bulk]?.payloadBytes == 100)
        #expect(statistics.depth[.critical] == .init(records: 0, payloadBytes: 0, oldestCreatedAtMillis: nil))
        #expect(statistics.lastSequence == 3)
        #expect(statistics.capBytes == 1 << 20)
        #expect(statistics.databaseBytes > 0 && statistics.databaseBytes < 1 << 20)
        #expect(!statistics.intakePaused)
        #expect(statistics.recentDrops.isEmpty)
    }

    @Test func closedStoreRefusesCalls() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath))
        store.close()
        #expect(outboxError { try store.append([draft(.bulk)]) }?.code == .closed)
        store.close()
    }
}
