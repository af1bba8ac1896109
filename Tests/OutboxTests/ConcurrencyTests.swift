import AxleTestSupport
import Outbox
import Synchronization
import Testing

@Suite("Threads")
struct ConcurrencyTests {
    @Test func appendingWhileDrainingLosesNothingAndSendsNothingTwice() throws {
        let directory = try TestDirectory()
        let store = try OutboxStore(configuration: OutboxConfiguration(path: directory.databasePath))
        let batches = 200
        let appended = Mutex<[UInt64]>([])
        let delivered = Mutex<[UInt64]>([])
        let errors = Mutex<[String]>([])
        let writerDone = Atomic<Bool>(false)

        let writer: @Sendable () -> Void = {
            let classes: [PriorityClass] = [.telemetry, .telemetry, .bulk, .alert, .telemetry, .telemetry, .critical]
            for batch in 0..<batches {
                let drafts = (0..<10).map { draft(classes[($0 + batch) % classes.count], size: 200) }
                do {
                    let sequences = try store.append(drafts)
                    appended.withLock { $0 += sequences }
                } catch {
                    errors.withLock { $0.append("append: \(error)") }
                }
            }
            writerDone.store(true, ordering: .releasing)
        }
        // Like the uplink: a batch stays in flight (excluded) until the next round acknowledges it.
        let drainer: @Sendable () -> Void = {
            var inFlight: [UInt64] = []
            while true {
                let finished = writerDone.load(ordering: .acquiring)
                do {
                    let records = try store.nextRecords(limit: 25, classes: allClasses, excluding: Set(inFlight))
                    try store.acknowledge(inFlight)
                    delivered.withLock { $0 += records.map(\.sequence) }
                    if records.isEmpty, inFlight.isEmpty, finished { return }
                    inFlight = records.map(\.sequence)
                } catch {
                    errors.withLock { $0.append("drain: \(error)") }
                    return
                }
            }
        }
        runOnThreads([writer, drainer])

        #expect(errors.withLock { $0 } == [])
        let sent = delivered.withLock { $0 }
        let stored = appended.withLock { $0 }
        #expect(stored.count == batches * 10)
        #expect(Set(sent).count == sent.count)
        #expect(Set(sent) == Set(stored))
        let statistics = try store.statistics()
        #expect(statistics.depth.values.allSatisfy { $0.records == 0 })
        #expect(statistics.lastSequence == UInt64(batches * 10))
        store.close()
        #expect(try OutboxStore.checkIntegrity(path: directory.databasePath) == ["ok"])
    }
}
