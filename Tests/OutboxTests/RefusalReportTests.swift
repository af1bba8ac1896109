import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Refused drafts get no sequence number, so only a report tells the backend they are missing (docs/outbox.md,
/// "Refusal reports").
@Suite("Refusal reports")
struct RefusalReportTests {
    /// A telemetry draft holding `samples` samples, as the agent's recorder makes them.
    private func telemetry(samples: Int, size: Int = 8000) -> RecordDraft {
        RecordDraft(
            priority: .telemetry, createdAtMillis: 1_700_000_000_000, expiresAtMillis: nil,
            topic: "vehicles/test/telemetry", qos: 1, sampleCount: samples, payload: { testPayload($0, size: size) })
    }

    /// The report record: the tally's figures in text, so that the test can see what was stored.
    private func reportDraft(_ tally: RefusalTally) -> RecordDraft {
        let text = "refused \(tally.totalRecords) records, \(tally.samples) samples"
        return RecordDraft(
            priority: .critical, createdAtMillis: tally.lastAtMillis, expiresAtMillis: nil,
            topic: "vehicles/test/events", qos: 1, payload: { _ in Array(text.utf8) })
    }

    /// Appends critical records until the cap has pushed one out: the outbox then holds nothing telemetry may evict.
    private func fillWithCritical(_ store: OutboxStore) throws -> [UInt64] {
        var stored: [UInt64] = []
        for _ in 0..<1000 where try store.statistics().dropped[.critical, default: 0] == 0 {
            stored += try store.append([draft(.critical, size: 2000)])
        }
        try #require(try store.statistics().dropped[.critical, default: 0] > 0, "the cap was never reached")
        return stored
    }

    @Test func refusalsAtTheCapAreReportedOnceWhenAnAppendSucceedsAgain() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let store = try OutboxStore(
            configuration: clock.configuration(path: directory.databasePath, capBytes: OutboxConfiguration.minimumCapBytes))
        defer { store.close() }
        let critical = try fillWithCritical(store)

        let firstRefusal = clock.now
        for _ in 0..<3 {
            #expect(outboxError { try store.append([telemetry(samples: 40)]) }?.code == .outboxFull)
            clock.advance(millis: 1500)
        }
        // Two parts of one batch refused together count as two records.
        #expect(outboxError { try store.append([telemetry(samples: 7), telemetry(samples: 5)]) }?.code == .outboxFull)
        let lastRefusal = clock.now

        // Nothing is reported while the refusals are only counted in memory: no append has succeeded since.
        var offered: [RefusalTally] = []
        #expect(try store.appendRefusalReport { offered.append($0); return reportDraft($0) } == nil)
        #expect(offered == [])

        // The uplink drains the critical records: telemetry fits again, and that append writes the tally.
        try store.acknowledge(critical)
        let resumed = try store.append([telemetry(samples: 40)])
        let report = try store.appendRefusalReport { offered.append($0); return reportDraft($0) }
        #expect(
            offered == [
                RefusalTally(
                    records: [.telemetry: 5], samples: 132, firstAtMillis: firstRefusal, lastAtMillis: lastRefusal,
                    reasons: .outboxFull)
            ])
        #expect(report == resumed[0] + 1)
        // The report is a stored record like any other, first in line.
        let records = try store.nextRecords(limit: 10, classes: allClasses, excluding: [])
        #expect(records.first?.sequence == report)
        #expect(records.first.map { String(decoding: $0.payload, as: UTF8.self) } == "refused 5 records, 132 samples")

        // Reported once: a second call finds nothing.
        #expect(try store.appendRefusalReport { offered.append($0); return reportDraft($0) } == nil)
        #expect(offered.count == 1)
    }

    @Test func refusalsCountedWhenTheAgentStopsAreReportedAfterTheRestart() throws {
        let directory = try TestDirectory()
        let clock = TestClock()
        let configuration = clock.configuration(
            path: directory.databasePath, capBytes: OutboxConfiguration.minimumCapBytes)
        var store = try OutboxStore(configuration: configuration)
        _ = try fillWithCritical(store)
        let refusedAt = clock.now
        #expect(outboxError { try store.append([telemetry(samples: 9), telemetry(samples: 11)]) }?.code == .outboxFull)
        // Stopped before any append succeeded: closing writes the tally (the disk has room; only the cap was reached).
        store.close()

        store = try OutboxStore(configuration: configuration)
        defer { store.close() }
        var offered: [RefusalTally] = []
        // The report is critical: at the cap it pushes out the oldest critical record, as any critical record would.
        #expect(try store.appendRefusalReport { offered.append($0); return reportDraft($0) } != nil)
        #expect(
            offered == [
                RefusalTally(
                    records: [.telemetry: 2], samples: 20, firstAtMillis: refusedAt, lastAtMillis: refusedAt,
                    reasons: .outboxFull)
            ])
        #expect(try store.statistics().refusedWhileFull[.telemetry] == 2)
    }

    // Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it this test cannot make a real full disk and is skipped.
    @Test(.enabled(if: TinyFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
    func refusalsOnAFullDiskAreReportedWhenSpaceReturns() throws {
        let filesystem = try TinyFilesystem(bytes: 2 << 20)
        defer { filesystem.unmount() }
        let clock = TestClock()
        let path = filesystem.path + "/outbox.db"
        // The cap is far above the filesystem's size: only the disk limits here.
        let store = try OutboxStore(configuration: clock.configuration(path: path, capBytes: 16 << 20))
        defer { store.close() }
        for _ in 0..<20 {
            try store.append([draft(.bulk, size: 3000), telemetry(samples: 10, size: 3000)])
        }
        filesystem.fill("filler")

        // Telemetry soon meets the full disk (the first few may still fit in pages SQLite already has).
        var firstRefusal: Int64?
        for _ in 0..<200 where firstRefusal == nil {
            clock.advance(millis: 200)
            if outboxError({ try store.append([telemetry(samples: 10, size: 3000)]) })?.isDiskFull == true {
                firstRefusal = clock.now
            }
        }
        let first = try #require(firstRefusal, "the full filesystem never refused an append")
        // While intake is paused, batches are refused at once, and nothing is reported: the disk is still full.
        for _ in 0..<4 {
            clock.advance(millis: 200)
            #expect(outboxError { try store.append([telemetry(samples: 10, size: 3000)]) }?.isDiskFull == true)
        }
        let last = clock.now
        var offered: [RefusalTally] = []
        #expect(try store.appendRefusalReport { offered.append($0); return reportDraft($0) } == nil)
        #expect(try store.statistics().intakePaused)

        // Space comes back; after the retry interval intake resumes, and the report follows.
        #expect(unlink(filesystem.path + "/filler") == 0)
        clock.advance(seconds: 6)
        _ = try store.append([telemetry(samples: 10, size: 3000)])
        #expect(try store.appendRefusalReport { offered.append($0); return reportDraft($0) } != nil)
        #expect(
            offered == [
                RefusalTally(
                    records: [.telemetry: 5], samples: 50, firstAtMillis: first, lastAtMillis: last, reasons: .diskFull)
            ])
        #expect(try store.statistics().refusedWhileFull[.telemetry] == 5)
    }
}
