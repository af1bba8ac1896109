import AxleBase
import AxleTestSupport
import MQTTUplink
import Outbox
import TelemetryPayload
import Testing

@testable import AxleAgent

#if canImport(Glibc)
import Glibc
#endif

/// The drainer between a real outbox file and a real mosquitto: what goes out first, what never goes, what the
/// backend is told about records it will not receive.
@Suite(.serialized)
struct OutboxDrainerTests {
    /// An outbox, an MQTT client and a drainer on its own thread, as the agent assembles them.
    final class Uplink: Sendable {
        let outbox: OutboxStore
        let client: MQTTClient
        let drainer: OutboxDrainer
        let directory: String

        init(port: Int, capBytes: Int64 = 64 << 20, policy: UplinkPolicy = .standard, housekeeping: (@Sendable (OutboxStore) -> Void)? = nil) throws {
            directory = try makeTestDirectory(prefix: "axle-drainer")
            outbox = try OutboxStore(configuration: OutboxConfiguration(path: directory + "/outbox.db", capBytes: capBytes))
            var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: "drainer-\(getpid())-\(port)")
            configuration.reconnect = BackoffPolicy(baseSeconds: 0.05, capSeconds: 0.3)
            client = try MQTTClient(configuration: configuration)
            let outbox = outbox
            drainer = OutboxDrainer(
                outbox: outbox, client: client, policy: policy, housekeepingSeconds: 0.2,
                housekeeping: { housekeeping?(outbox) })
        }

        func start() {
            let drainer = drainer
            client.start { drainer.handle($0) }
            startDedicatedThread(name: "drainer") { drainer.run() }
        }

        func stop() {
            drainer.stop()
            client.stop(final: nil, timeoutSeconds: 1)
            outbox.close()
            removeTree(directory)
        }

        /// Appends one record per priority, its payload naming its sequence number ("seq=12").
        @discardableResult
        func append(_ priorities: [PriorityClass], topic: String, bytes: Int = 0) throws -> [UInt64] {
            let drafts = priorities.map { priority in
                RecordDraft(
                    priority: priority, createdAtMillis: wallClockMillis(), expiresAtMillis: nil, topic: topic, qos: 1,
                    payload: { Array("seq=\($0) ".utf8) + [UInt8](repeating: 0x41, count: bytes) })
            }
            let sequences = try outbox.append(drafts)
            drainer.recordsAppended()
            return sequences
        }
    }

    static func sequence(of payload: [UInt8]) -> UInt64? {
        let text = String(decoding: payload.prefix(32), as: UTF8.self)
        guard text.hasPrefix("seq="), let end = text.firstIndex(of: " ") else { return nil }
        return UInt64(text[text.index(text.startIndex, offsetBy: 4)..<end])
    }

    @Test func afterABlindSpotCriticalRecordsGoFirstThenTheRestInOrder() throws {
        let broker = try MosquittoBroker()
        let relay = try TCPRelay(targetPort: broker.port)
        relay.cut()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/order/#"])
        let uplink = try Uplink(port: relay.port)
        defer { uplink.stop() }
        uplink.start()
        // Recorded in the blind spot: telemetry, then an alert and two critical events, then more telemetry.
        let early = try uplink.append(Array(repeating: .telemetry, count: 30), topic: "axle/v1/order/telemetry")
        let alert = try uplink.append([.alert], topic: "axle/v1/order/events")
        let critical = try uplink.append([.critical, .critical], topic: "axle/v1/order/events")
        let late = try uplink.append(Array(repeating: .telemetry, count: 30), topic: "axle/v1/order/telemetry")
        usleep(500_000)
        #expect(subscriber.messages().isEmpty)

        try relay.restore()
        #expect(subscriber.waitFor(count: 63, timeout: 20))
        let order = subscriber.messages().compactMap { Self.sequence(of: $0.payload) }
        #expect(order == critical + alert + early + late)
        #expect(waitUntil(timeoutSeconds: 5) { (try? uplink.outbox.statistics().depth.values.allSatisfy { $0.records == 0 }) == true })
    }

    @Test func meteredModeHoldsTelemetryUntilSwitchedOff() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/metered/#"])
        var policy = UplinkPolicy.standard
        policy.metered = true
        let uplink = try Uplink(port: broker.port, policy: policy)
        defer { uplink.stop() }
        uplink.start()
        let telemetry = try uplink.append([.telemetry, .bulk], topic: "axle/v1/metered/telemetry")
        let urgent = try uplink.append([.critical, .alert], topic: "axle/v1/metered/events")
        #expect(subscriber.waitFor(count: 2, timeout: 10))
        usleep(500_000)
        #expect(subscriber.messages().compactMap { Self.sequence(of: $0.payload) } == urgent)

        uplink.drainer.setMetered(false)
        #expect(subscriber.waitFor(count: 4, timeout: 10))
        #expect(subscriber.messages().compactMap { Self.sequence(of: $0.payload) } == urgent + telemetry)
    }

    @Test func capEvictionIsReportedUpstreamWithTheExactRanges() throws {
        let broker = try MosquittoBroker()
        let relay = try TCPRelay(targetPort: broker.port)
        relay.cut()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/capped/#"])
        let topics = try UplinkTopics(vehicleID: "capped")
        let uplink = try Uplink(port: relay.port, capBytes: 512 << 10) { outbox in
            AgentEvents(outbox: outbox, topics: topics, profile: "test", policy: .standard, format: .protobufZstd, log: { _ in }).housekeeping()
        }
        defer { uplink.stop() }
        // A critical record first, then far more bulk and telemetry than 512 KiB holds.
        let critical = try uplink.append([.critical], topic: topics.events)
        var written = critical
        var refusedBulk = 0
        for round in 0..<200 {
            do {
                written += try uplink.append([round % 3 == 0 ? .bulk : .telemetry], topic: topics.telemetry, bytes: 8_000)
            } catch let error as OutboxError where error.code == .outboxFull {
                // Once only telemetry is left to evict, a bulk record is refused rather than push out telemetry.
                refusedBulk += 1
            }
        }
        let statistics = try uplink.outbox.statistics()
        let evicted = statistics.dropped.values.reduce(0, +)
        #expect((statistics.dropped[.telemetry] ?? 0) > 0)
        #expect((statistics.dropped[.bulk] ?? 0) > 0)
        #expect((statistics.dropped[.critical] ?? 0) == 0)
        #expect((statistics.depth[.bulk]?.records ?? 0) == 0, "bulk goes before any telemetry")
        #expect(refusedBulk == (statistics.refusedWhileFull[.bulk] ?? 0))

        uplink.start()
        try relay.restore()
        #expect(waitUntil(timeoutSeconds: 20) {
            (try? uplink.outbox.statistics().depth.values.allSatisfy { $0.records == 0 }) == true
                && !Received(subscriber.messages()).events.isEmpty
        })
        usleep(300_000)
        let messages = subscriber.messages()
        let arrived = Set(messages.compactMap { Self.sequence(of: $0.payload) })
        let events = messages.compactMap { try? TelemetryPayloadDecoder.decode($0.payload) }.flatMap(\.events)
        let dropReports = events.filter { $0.name == "outbox.records_dropped" }
        #expect(!dropReports.isEmpty)
        // The refused bulk records never got a sequence number: a report counts them.
        let refusalReport = events.first { $0.name == "outbox.intake_refused" }
        #expect(refusalReport?.attributes["records_bulk"] == (refusedBulk > 0 ? String(refusedBulk) : nil))
        var reported: Set<UInt64> = []
        for range in dropReports.flatMap(\.droppedRanges) {
            for sequence in range.first...range.last where !arrived.contains(sequence) { reported.insert(sequence) }
        }
        // Every record written either arrived or is named in the report; the critical one arrived.
        #expect(Set(written).subtracting(arrived) == reported)
        #expect(arrived.isSuperset(of: critical))
        // Storing the refusal report in the full outbox may have evicted one more record, reported like the others.
        let evictedInAll = try uplink.outbox.statistics().dropped.values.reduce(0, +)
        #expect(evictedInAll >= evicted)
        #expect(reported.count == evictedInAll)
    }
}
