import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("A full filesystem")
struct FullDiskTests {
    // Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it this test cannot make a real full disk and is skipped.
    @Test(.enabled(if: TinyFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
    func nonCriticalIsRefusedCriticalEvictsAndIntakeResumes() throws {
        let filesystem = try TinyFilesystem(bytes: 2 << 20)
        defer { filesystem.unmount() }
        let clock = TestClock()
        let path = filesystem.path + "/outbox.db"
        // The cap is far above the filesystem's size: only the disk limits here.
        var store = try OutboxStore(configuration: clock.configuration(path: path, capBytes: 16 << 20))
        for _ in 0..<20 {
            try store.append([draft(.bulk, size: 3000), draft(.telemetry, size: 3000)])
        }
        filesystem.fill("filler")
        #expect(filesystem.available() < 4096)

        // Telemetry soon meets the full disk (the first few may still fit in pages SQLite already has).
        var refused: OutboxError?
        for _ in 0..<200 {
            refused = outboxError { try store.append([draft(.telemetry, size: 3000)]) }
            if refused != nil { break }
        }
        let error = try #require(refused)
        #expect(error.isDiskFull)
        #expect(error.description.contains("full"))
        var statistics = try store.statistics()
        #expect(statistics.intakePaused)
        #expect(statistics.refusedWhileFull[.telemetry] == 1)

        // While paused, non-critical drafts are refused at once.
        #expect(outboxError { try store.append([draft(.alert)]) }?.isDiskFull == true)
        #expect(try store.statistics().refusedWhileFull[.alert] == 1)

        // Critical records keep flowing: lower classes make way.
        let bulkBefore = statistics.depth[.bulk]?.records ?? 0
        var critical: [UInt64] = []
        for _ in 0..<10 { critical += try store.append([draft(.critical, size: 3000)]) }
        #expect(critical.count == 10)
        statistics = try store.statistics()
        #expect(statistics.depth[.critical]?.records == 10)
        #expect((statistics.depth[.bulk]?.records ?? 0) < bulkBefore)
        #expect(statistics.dropped[.bulk, default: 0] > 0)
        #expect(statistics.recentDrops.contains { $0.priority == .bulk && $0.reason == .evicted })
        #expect(statistics.intakePaused)
        // The reserve file was handed back to make that possible.
        #expect(!fileExists(path + ".reserve"))
        let stored = try store.nextRecords(limit: 10, classes: [.critical], excluding: [])
        #expect(sequences(stored) == critical)

        // Space comes back. Within the retry interval nothing is tried; after it, intake resumes by itself.
        #expect(unlink(filesystem.path + "/filler") == 0)
        clock.advance(seconds: 1)
        #expect(outboxError { try store.append([draft(.telemetry)]) }?.isDiskFull == true)
        clock.advance(seconds: 5)
        let resumed = try store.append([draft(.telemetry, size: 3000)])
        #expect(resumed.count == 1)
        statistics = try store.statistics()
        #expect(!statistics.intakePaused)
        #expect(statistics.refusedWhileFull[.telemetry] == 2)
        #expect(statistics.refusedWhileFull[.alert] == 1)
        // With space back, the reserve is made again for the next time.
        #expect(fileExists(path + ".reserve"))
        store.close()

        // The refusals were written once the disk took writes again.
        store = try OutboxStore(configuration: clock.configuration(path: path, capBytes: 16 << 20))
        statistics = try store.statistics()
        #expect(statistics.refusedWhileFull[.telemetry] == 2)
        #expect(statistics.depth[.critical]?.records == 10)
        store.close()
        #expect(try OutboxStore.checkIntegrity(path: path) == ["ok"])
    }
}
