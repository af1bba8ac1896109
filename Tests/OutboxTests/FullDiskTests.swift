import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for one test, so that "disk full" is the kernel's real ENOSPC.
final class TinyFilesystem {
    let path: String

    /// Whether this process may mount filesystems (root with CAP_SYS_ADMIN, outside a restricted container).
    static let canMount: Bool = {
        guard geteuid() == 0, let probe = try? TinyFilesystem(bytes: 64 << 10) else { return false }
        probe.unmount()
        return true
    }()

    init(bytes: Int) throws {
        path = try TestDirectory.make()
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(bytes)") == 0 else {
            let code = errno
            rmdir(path)
            throw OutboxTestError("mount tmpfs on \(path): errno \(code)")
        }
    }

    func unmount() {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Writes a file until the filesystem refuses more (ENOSPC).
    func fill(_ name: String) {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        for chunk in [65536, 4096, 512, 1] {
            let bytes = [UInt8](repeating: 0xA5, count: chunk)
            while bytes.withUnsafeBytes({ write(fd, $0.baseAddress, chunk) }) == chunk {}
        }
    }

    func available() -> Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int64(info.f_bavail) * Int64(info.f_bsize)
    }
}

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
