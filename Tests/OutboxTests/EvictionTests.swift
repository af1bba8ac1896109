import AxleTestSupport
import Outbox
import Testing

@Suite("Size cap, eviction, expiry and drop reports")
struct EvictionTests {
    let cap: Int64 = 256 << 10
    static let recordSize = 2000

    /// 5 critical records (1...5), then 20 bulk and 20 telemetry records alternating (bulk even 6...44, telemetry
    /// odd 7...45).
    private func filledStore(_ directory: TestDirectory, clock: TestClock) throws -> OutboxStore {
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath, capBytes: cap))
        try store.append((0..<5).map { _ in draft(.critical, size: Self.recordSize) })
        for _ in 0..<20 {
            try store.append([draft(.bulk, size: Self.recordSize), draft(.telemetry, size: Self.recordSize)])
        }
        #expect(try store.statistics().dropped.values.allSatisfy { $0 == 0 })
        return store
    }

    @Test func lowestClassGoesFirstAndCriticalOnlyWhenNothingElseIsLeft() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try filledStore(directory, clock: clock)

        // Telemetry keeps coming while the vehicle is offline: first every bulk record goes, then old telemetry.
        var sawBulkFirst = false
        for _ in 0..<150 {
            try store.append([draft(.telemetry, size: Self.recordSize)])
            let statistics = try store.statistics()
            #expect(statistics.databaseBytes <= cap)
            #expect(statistics.depth[.critical]?.records == 5)
            if statistics.dropped[.telemetry, default: 0] > 0 {
                #expect(statistics.depth[.bulk]?.records == 0)
                sawBulkFirst = true
            } else if statistics.dropped[.bulk, default: 0] > 0 {
                #expect(statistics.depth[.telemetry]?.records ?? 0 >= 20)
            }
        }
        #expect(sawBulkFirst)
        var statistics = try store.statistics()
        #expect(statistics.dropped[.bulk] == 20)
        let telemetryDropped = statistics.dropped[.telemetry] ?? 0
        #expect(telemetryDropped > 0)

        // One range per class: the evictions ran over many appends but nothing of the class lay between them.
        let bulkRange = try #require(statistics.recentDrops.first { $0.priority == .bulk })
        #expect(bulkRange.first == 6 && bulkRange.last == 44 && bulkRange.count == 20 && bulkRange.reason == .evicted)
        let telemetryRanges = statistics.recentDrops.filter { $0.priority == .telemetry }
        #expect(telemetryRanges.count == 1)
        #expect(telemetryRanges.first?.first == 7)
        #expect(telemetryRanges.first?.count == telemetryDropped)
        #expect(statistics.recentDrops.allSatisfy { $0.atMillis == clock.now })
        // The oldest telemetry left is the one right after the range.
        let remaining = try store.nextRecords(limit: 1, classes: [.telemetry], excluding: [])
        let lastDropped = try #require(telemetryRanges.first?.last)
        #expect(remaining.first.map { $0.sequence > lastDropped } == true)

        // Critical records push out telemetry; critical records go only once nothing else is left.
        var criticalDroppedWhileOthersLeft = false
        for _ in 0..<150 {
            try store.append([draft(.critical, size: Self.recordSize)])
            statistics = try store.statistics()
            let others = [PriorityClass.alert, .telemetry, .bulk].map { statistics.depth[$0]?.records ?? 0 }
            if statistics.dropped[.critical, default: 0] > 0, others.contains(where: { $0 > 0 }) {
                criticalDroppedWhileOthersLeft = true
            }
            #expect(statistics.databaseBytes <= cap)
        }
        #expect(!criticalDroppedWhileOthersLeft)
        #expect(statistics.depth[.telemetry]?.records == 0)
        #expect(statistics.dropped[.critical, default: 0] > 0)
        let criticalRange = try #require(statistics.recentDrops.last { $0.priority == .critical })
        #expect(criticalRange.first == 1)

        // Telemetry may not push out critical records: refused and counted.
        let error = outboxError { try store.append([draft(.telemetry, size: Self.recordSize)]) }
        #expect(error?.code == .outboxFull)
        #expect(try store.statistics().refusedWhileFull[.telemetry] == 1)
        store.close()

        // Everything counted survives a restart, and the file is sound and within the cap's margin.
        let reopened = try OutboxStore(configuration: clock.configuration(path: directory.databasePath, capBytes: cap))
        let after = try reopened.statistics()
        #expect(after.dropped == statistics.dropped)
        #expect(after.recentDrops == statistics.recentDrops)
        reopened.close()
        #expect(fileSize(directory.databasePath) <= cap + cap / 32)
        #expect(try OutboxStore.checkIntegrity(path: directory.databasePath) == ["ok"])
    }

    @Test func dropReportNamesEveryPendingRangeOnce() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try filledStore(directory, clock: clock)
        defer { store.close() }
        #expect(try store.appendDropReport { _ in draft(.alert) } == nil)
        for _ in 0..<60 { try store.append([draft(.telemetry, size: Self.recordSize)]) }
        let pending = try store.statistics().recentDrops
        #expect(pending.map(\.priority) == [.bulk, .telemetry])

        // A report that cannot be stored leaves the ranges pending.
        let tooLarge = outboxError { _ = try store.appendDropReport { _ in draft(.alert, size: 300 << 10) } }
        #expect(tooLarge?.code == .tooLarge)

        // Delivered records make room, so that storing the report evicts nothing new.
        try store.acknowledge(sequences(try store.nextRecords(limit: 20, classes: [.telemetry], excluding: [])))
        nonisolated(unsafe) var reported: [DropRange] = []
        let sequence = try store.appendDropReport { ranges in
            reported = ranges
            return RecordDraft(
                priority: .alert, createdAtMillis: clock.now, expiresAtMillis: nil, topic: "vehicles/test/events",
                qos: 1, payload: { Array("drops \(ranges.count) in \($0)".utf8) })
        }
        #expect(reported == pending)
        let report = try #require(try store.nextRecords(limit: 1, classes: [.alert], excluding: []).first)
        #expect(report.sequence == sequence)
        #expect(report.payload == Array("drops 2 in \(report.sequence)".utf8))
        #expect(try store.appendDropReport { _ in draft(.alert) } == nil)

        // Evictions after the report form new ranges, reported next time.
        for _ in 0..<40 { try store.append([draft(.telemetry, size: Self.recordSize)]) }
        nonisolated(unsafe) var next: [DropRange] = []
        #expect(try store.appendDropReport { ranges in next = ranges; return draft(.alert) } != nil)
        #expect(next.map(\.priority) == [.telemetry])
        #expect(next.first.map { $0.first > pending[1].last } == true)
        #expect(try store.statistics().recentDrops.count == 3)
    }

    @Test func expiredRecordsAreDroppedInRunsAndNeverSent() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath))
        defer { store.close() }
        let soon = clock.now + 1000
        try store.append([draft(.telemetry, expiresAt: soon), draft(.telemetry, expiresAt: soon)])  // 1, 2
        try store.append([draft(.telemetry)])  // 3: no expiry
        try store.append([draft(.telemetry, expiresAt: soon), draft(.telemetry, expiresAt: soon + 60_000)])  // 4, 5
        try store.append([draft(.bulk, expiresAt: soon)])  // 6
        #expect(try store.dropExpired() == 0)
        #expect(try store.nextRecords(limit: 10, classes: allClasses, excluding: []).count == 6)

        clock.advance(millis: 2000)
        #expect(sequences(try store.nextRecords(limit: 10, classes: allClasses, excluding: [])) == [3, 5])
        #expect(try store.dropExpired() == 4)
        let statistics = try store.statistics()
        #expect(statistics.dropped[.telemetry] == 3)
        #expect(statistics.dropped[.bulk] == 1)
        #expect(statistics.depth[.telemetry]?.records == 2)
        let drops = statistics.recentDrops
        func expired(_ priority: PriorityClass, _ first: UInt64, _ last: UInt64, _ count: Int) -> DropRange {
            DropRange(priority: priority, first: first, last: last, count: count, reason: .expired, atMillis: clock.now)
        }
        #expect(drops.contains(expired(.telemetry, 1, 2, 2)))
        #expect(drops.contains(expired(.telemetry, 4, 4, 1)))
        #expect(drops.contains(expired(.bulk, 6, 6, 1)))
        #expect(drops.count == 3)
    }

    @Test func aDeliveryBetweenTwoDropsStartsANewRange() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath))
        defer { store.close() }
        let soon = clock.now + 1000
        try store.append([
            draft(.telemetry, expiresAt: soon), draft(.telemetry, expiresAt: soon + 1000),
            draft(.telemetry, expiresAt: soon + 2000), draft(.telemetry, expiresAt: soon + 3000),
            draft(.telemetry, expiresAt: soon + 3000),
        ])
        clock.advance(millis: 1500)
        #expect(try store.dropExpired() == 1)  // 1
        clock.advance(millis: 1000)
        #expect(try store.dropExpired() == 1)  // 2: right after 1, nothing between: the same range
        try store.acknowledge([3])
        clock.advance(millis: 2000)
        #expect(try store.dropExpired() == 2)  // 4, 5: 3 was delivered in between: a new range
        let drops = try store.statistics().recentDrops
        #expect(drops.map { [$0.first, $0.last, UInt64($0.count)] } == [[1, 2, 2], [4, 5, 2]])
    }

    @Test func expiredRecordsMakeRoomBeforeAnythingIsEvicted() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try OutboxStore(configuration: clock.configuration(path: directory.databasePath, capBytes: cap))
        defer { store.close() }
        try store.append((0..<20).map { _ in draft(.bulk, size: Self.recordSize) })
        try store.append((0..<20).map { _ in draft(.telemetry, size: Self.recordSize, expiresAt: clock.now + 10) })
        clock.advance(millis: 100)
        // Room for these only if something goes.
        try store.append((0..<20).map { _ in draft(.telemetry, size: Self.recordSize) })
        let statistics = try store.statistics()
        #expect(statistics.dropped[.bulk] == 0)
        #expect(statistics.dropped[.telemetry] == 20)
        #expect(statistics.recentDrops == [
            DropRange(priority: .telemetry, first: 21, last: 40, count: 20, reason: .expired, atMillis: clock.now)
        ])
        #expect(statistics.depth[.telemetry]?.records == 20)
    }
}
