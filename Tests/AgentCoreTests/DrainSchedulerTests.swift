import AgentCore
import Testing

/// The drainer's rules (docs/outbox.md, docs/mqtt.md) turn by turn, with an in-memory outbox, a publisher that
/// records what it was given, and a clock moved by hand.
@Suite struct DrainSchedulerTests {
    /// The outbox as the drainer sees it: records kept in memory, returned in class and sequence order.
    final class FakeStore: RecordStore {
        var records: [PendingRecord] = []
        var deadLetters: [(sequence: UInt64, reason: String)] = []
        var failDeletes = false
        private var nextSequence: UInt64 = 1

        @discardableResult
        func add(_ priority: RecordClass, count: Int = 1) -> [UInt64] {
            (0..<count).map { _ in
                let sequence = nextSequence
                nextSequence += 1
                records.append(PendingRecord(sequence: sequence, priority: priority, topic: "t/\(priority)", qos: 1, payload: [UInt8(sequence & 0xFF)]))
                return sequence
            }
        }

        var sequences: Set<UInt64> { Set(records.map(\.sequence)) }

        func nextRecords(limit: Int, classes: Set<RecordClass>, excluding: Set<UInt64>) throws -> [PendingRecord] {
            Array(
                records.filter { classes.contains($0.priority) && !excluding.contains($0.sequence) }
                    .sorted { ($0.priority, $0.sequence) < ($1.priority, $1.sequence) }
                    .prefix(limit))
        }

        struct DeleteFailed: Error {}

        func acknowledge(_ sequences: [UInt64]) throws {
            if failDeletes { throw DeleteFailed() }
            records.removeAll { sequences.contains($0.sequence) }
        }

        func deadLetter(sequence: UInt64, reason: String) throws {
            guard let index = records.firstIndex(where: { $0.sequence == sequence }) else { return }
            records.remove(at: index)
            deadLetters.append((sequence, reason))
        }
    }

    /// Hands out message ids and remembers every publish; `outcome` can refuse a record.
    final class FakePublisher: RecordPublisher {
        var published: [(messageID: Int32, sequence: UInt64)] = []
        var outcome: (PendingRecord) -> RecordPublishOutcome? = { _ in nil }
        private var nextID: Int32 = 1

        func publish(_ record: PendingRecord, qos: UInt8) -> RecordPublishOutcome {
            if let refusal = outcome(record) { return refusal }
            let id = nextID
            nextID += 1
            published.append((id, record.sequence))
            return .sent(messageID: id)
        }

        var publishedSequences: [UInt64] { published.map(\.sequence) }

        func messageID(of sequence: UInt64) -> Int32 { published.last { $0.sequence == sequence }!.messageID }
    }

    /// A scheduler with its fakes, and the inbox the drainer thread would hand it.
    final class Harness {
        let clock = FakeClock()
        let store = FakeStore()
        let publisher = FakePublisher()
        let scheduler: DrainScheduler
        var inbox = DrainerInbox(metered: false)

        init(window: Int = 64, timeout: Double = 30) {
            scheduler = DrainScheduler(
                settings: DrainSettings(window: window, acknowledgementTimeoutSeconds: timeout), store: store,
                publisher: publisher, clock: clock)
        }

        func connect() {
            inbox.connected = true
            inbox.connectionEpoch += 1
            turn()
        }

        func disconnect() {
            inbox.connected = false
            turn()
        }

        func acknowledge(_ messageIDs: [Int32], reasonCode: Int32 = 0) {
            inbox.acknowledgements = messageIDs.map { RecordAcknowledgement(messageID: $0, reasonCode: reasonCode) }
            turn()
        }

        func turn() {
            scheduler.turn(inbox)
            inbox.acknowledgements = []
        }
    }

    @Test func theWindowFillsAndNoMoreThanTheWindowIsInFlight() {
        let uplink = Harness(window: 4)
        uplink.store.add(.telemetry, count: 10)
        uplink.connect()
        #expect(uplink.publisher.publishedSequences == [1, 2, 3, 4])
        #expect(uplink.scheduler.statistics.inFlight == 4)
        uplink.clock.advance(seconds: 1)
        uplink.turn()
        #expect(uplink.publisher.published.count == 4, "a full window publishes nothing more")
        uplink.acknowledge([uplink.publisher.messageID(of: 1), uplink.publisher.messageID(of: 2)])
        #expect(uplink.publisher.publishedSequences == [1, 2, 3, 4, 5, 6], "two acknowledged, two more go out")
        #expect(uplink.scheduler.statistics.inFlight == 4)
        #expect(uplink.scheduler.inFlightSequences == [3, 4, 5, 6])
    }

    @Test func aRecordIsDeletedOnlyWhenItsAcknowledgementComes() {
        let uplink = Harness()
        uplink.store.add(.alert, count: 3)
        uplink.connect()
        #expect(uplink.publisher.publishedSequences == [1, 2, 3])
        uplink.clock.advance(seconds: 20)
        uplink.turn()
        #expect(uplink.store.sequences == [1, 2, 3], "published is not delivered: the outbox keeps every record")
        uplink.acknowledge([uplink.publisher.messageID(of: 2)])
        #expect(uplink.store.sequences == [1, 3])
        #expect(uplink.scheduler.statistics.acknowledged == 1)
    }

    @Test func anAcknowledgementForAnUnknownMessageIDIsIgnored() {
        let uplink = Harness()
        uplink.store.add(.critical, count: 2)
        uplink.connect()
        let first = uplink.publisher.messageID(of: 1)
        uplink.acknowledge([first])
        uplink.acknowledge([first, 9_999], reasonCode: 0x87)
        #expect(uplink.store.sequences == [2], "a second acknowledgement and a stranger's id delete nothing")
        #expect(uplink.store.deadLetters.isEmpty, "nor dead-letter anything, whatever their reason code")
        #expect(uplink.scheduler.statistics.acknowledged == 1)
        #expect(uplink.scheduler.inFlightSequences == [2])
    }

    @Test func afterADisconnectWhatWasNotAcknowledgedIsPublishedAgainOnceInClassOrder() {
        let uplink = Harness(timeout: 30)
        uplink.store.add(.telemetry, count: 2)  // 1, 2
        uplink.store.add(.bulk)  // 3
        uplink.store.add(.alert)  // 4
        uplink.store.add(.critical)  // 5
        uplink.connect()
        #expect(uplink.publisher.publishedSequences == [5, 4, 1, 2, 3])
        uplink.acknowledge([uplink.publisher.messageID(of: 1)])
        uplink.disconnect()
        // A long blind spot: nothing is sent while disconnected, however old the publishes grow.
        for _ in 0..<12 {
            uplink.clock.advance(seconds: 10)
            uplink.turn()
        }
        #expect(uplink.publisher.published.count == 5)
        // Reconnected: the MQTT library re-sends its own copies first; the timeout counts from the reconnection.
        uplink.connect()
        uplink.clock.advance(seconds: 29)
        uplink.turn()
        #expect(uplink.publisher.published.count == 5, "within the timeout after reconnecting nothing is published twice")
        uplink.clock.advance(seconds: 2)
        uplink.turn()
        #expect(Array(uplink.publisher.publishedSequences.dropFirst(5)) == [5, 4, 2, 3], "critical, alert, telemetry, bulk")
        #expect(uplink.scheduler.statistics.republished == 4)
        uplink.clock.advance(seconds: 1)
        uplink.turn()
        #expect(uplink.publisher.published.count == 9, "published again once, not on every turn")
        // The new copies' acknowledgements empty the outbox; the old ids are no longer in flight.
        uplink.acknowledge([5, 4, 2, 3].map(uplink.publisher.messageID(of:)))
        #expect(uplink.store.records.isEmpty)
    }

    @Test func aRecordTheBrokerRefusesIsDeadLetteredAtTheFirstRefusalAndNeverSentAgain() {
        let uplink = Harness(timeout: 30)
        uplink.store.add(.alert, count: 2)
        uplink.connect()
        uplink.acknowledge([uplink.publisher.messageID(of: 1)], reasonCode: 0x87)
        #expect(uplink.store.deadLetters.map(\.sequence) == [1])
        #expect(uplink.store.deadLetters.first?.reason.contains("0x87") == true)
        #expect(uplink.store.sequences == [2])
        uplink.clock.advance(seconds: 60)
        uplink.turn()
        #expect(!uplink.publisher.publishedSequences.dropFirst(2).contains(1), "a dead letter is never published again")
        #expect(uplink.scheduler.statistics.deadLettered == 1)
    }

    @Test func aRecordThatCanNeverBePublishedIsDeadLetteredAtOnceAndTheRestFlows() {
        let uplink = Harness()
        uplink.store.add(.telemetry, count: 3)
        uplink.publisher.outcome = { $0.sequence == 2 ? .permanentFailure(reason: "payload too large") : nil }
        uplink.connect()
        #expect(uplink.store.deadLetters.map(\.sequence) == [2])
        #expect(uplink.publisher.publishedSequences == [1, 3])
    }

    @Test func aRecordThatFailsForNowIsKeptAndTriedAgainOnEveryTurnNeverDeadLettered() {
        let uplink = Harness()
        uplink.store.add(.critical)
        var attempts = 0
        uplink.publisher.outcome = { _ in
            attempts += 1
            return attempts <= 50 ? .transientFailure(reason: "out of memory") : nil
        }
        uplink.connect()
        for _ in 0..<50 {
            uplink.clock.advance(seconds: 0.2)
            uplink.turn()
        }
        #expect(uplink.store.deadLetters.isEmpty)
        #expect(uplink.publisher.publishedSequences == [1], "the 51st attempt goes out")
        #expect(uplink.scheduler.statistics.lastError?.contains("will retry") == true)
    }

    @Test func anAcknowledgedRecordWhoseDeleteFailedIsDeletedOnALaterTurn() {
        let uplink = Harness()
        uplink.store.add(.alert)
        uplink.connect()
        uplink.store.failDeletes = true
        uplink.acknowledge([uplink.publisher.messageID(of: 1)])
        #expect(uplink.store.sequences == [1])
        uplink.store.failDeletes = false
        uplink.turn()
        #expect(uplink.store.records.isEmpty)
        #expect(uplink.scheduler.statistics.acknowledged == 1)
    }

    @Test func meteredModeSendsOnlyCriticalAndAlertRecords() {
        let uplink = Harness()
        uplink.inbox.metered = true
        uplink.store.add(.telemetry)  // 1
        uplink.store.add(.bulk)  // 2
        uplink.store.add(.alert)  // 3
        uplink.store.add(.critical)  // 4
        uplink.connect()
        #expect(uplink.publisher.publishedSequences == [4, 3])
        uplink.inbox.metered = false
        uplink.turn()
        #expect(uplink.publisher.publishedSequences == [4, 3, 1, 2])
    }
}
