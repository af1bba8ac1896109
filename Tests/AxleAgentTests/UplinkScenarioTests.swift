import AxleBase
import AxleTestSupport
import Outbox
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole agent (`axled`) against Debian's mosquitto, with the link cut, the agent killed and the broker
/// restarted: nothing committed may be lost (docs/outbox.md).
@Suite(.serialized)
struct UplinkScenarioTests {
    @Test func blindSpotThenEverythingArrivesWithoutGaps() throws {
        let broker = try MosquittoBroker()
        let relay = try TCPRelay(targetPort: broker.port)
        let harness = try AgentHarness(vehicleID: "car-blind")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-blind/#"])
        let agent = try harness.start(
            broker: "mqtt://127.0.0.1:\(relay.port)",
            ["--simulate", "city-drive", "--simulate-speed", "10", "--telemetry-batch", "0.5"])
        #expect(waitUntil(timeoutSeconds: 20) { Received(subscriber.messages()).telemetry.count >= 5 }, "\(harness.log())")

        relay.cut()
        let beforeCut = Received(subscriber.messages()).telemetry.count
        usleep(4_000_000)
        // While the link is down nothing arrives, and the agent keeps recording.
        #expect(Received(subscriber.messages()).telemetry.count <= beforeCut + 64)
        try relay.restore()
        #expect(waitUntil(timeoutSeconds: 20) { Received(subscriber.messages()).telemetry.count > beforeCut + 50 })

        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        // The batch open at shutdown went to the outbox: drain it too, then compare with what was written.
        #expect(try harness.drain(broker: broker.url, run: 1) == 0)
        let last = try OutboxStore.readStatistics(path: harness.outboxPath).lastSequence
        #expect(last > 40)
        #expect(waitUntil(timeoutSeconds: 20) { Received(subscriber.messages()).sequences.count >= Int(last) })
        let received = Received(subscriber.messages())
        #expect(gaps(in: received.sequences, upTo: last) == [])
        #expect(received.conflictingDuplicates == [])
        #expect(received.undecodable == 0)
    }

    @Test func atRealTimeSpeedEachRecordHoldsAFullBatchInterval() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-batch")
        defer { harness.cleanUp() }
        // The feature state and the configuration report are outbox records too (at each start and connect): read
        // them so that every sequence number is seen.
        let subscriber = try MosquittoSubscriber(
            broker: broker,
            topics: ["axle/v1/car-batch/telemetry", "axle/v1/car-batch/features", "axle/v1/car-batch/config/state"])
        let agent = try harness.start(
            broker: broker.url, ["--simulate", "city-drive", "--simulate-speed", "1", "--telemetry-batch", "1"])
        usleep(4_500_000)
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        #expect(try harness.drain(broker: broker.url, run: 1) == 0)
        let last = try OutboxStore.readStatistics(path: harness.outboxPath).lastSequence
        #expect(waitUntil(timeoutSeconds: 10) { Received(subscriber.messages()).sequences.count >= Int(last) })
        // 4.5 s of driving in 1 s batches: four full records and the part-batch written at shutdown, not a record
        // per read of the simulator.
        let received = Received(subscriber.messages())
        let telemetryRecords = Set(received.telemetry.map(\.sequence)).count
        #expect((4...6).contains(telemetryRecords), "\(telemetryRecords) telemetry records")
        #expect(telemetryRecords + Set(received.answerSequences).count == Int(last))
        // One copy per sequence number (the record in flight at SIGTERM may arrive twice), in sequence order.
        var batches: [UInt64: DecodedBatch] = [:]
        for message in subscriber.messages() {
            if let batch = try? TelemetryPayloadDecoder.decode(message.payload) { batches[batch.sequence] = batch }
        }
        // The profile samples Vehicle.Speed once a second ("motion", periodic): a record holding a whole second holds
        // exactly one of them; the last one, cut short at shutdown, at most one.
        let speedSamples = batches.keys.sorted().map { sequence in
            batches[sequence]!.samples.filter { $0.signal == "Vehicle.Speed" }.count
        }
        #expect(speedSamples.dropLast().allSatisfy { $0 == 1 } && (speedSamples.last ?? 0) <= 1, "\(speedSamples)")
    }

    @Test func killedFiftyTimesWhileBufferingAndDrainingLosesNothing() throws {
        let broker = try MosquittoBroker()
        // Buffering runs point the agent at a port where nothing listens (no network), draining runs at the broker.
        let nowhere = "mqtt://127.0.0.1:\(try LoopbackPort.free())"
        let harness = try AgentHarness(vehicleID: "car-kill")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-kill/#"])
        let runs = 50
        var integrityFailures: [String] = []
        for run in 0..<runs {
            let agent = try harness.start(
                broker: run % 2 == 0 ? nowhere : broker.url, run: run,
                ["--simulate", "city-drive", "--simulate-speed", "50", "--telemetry-batch", "0.2"])
            usleep(UInt32.random(in: 150_000...900_000))
            agent.send(signal: SIGKILL)
            #expect(agent.wait(timeoutSeconds: 10) == 128 + SIGKILL)
            let integrity = try OutboxStore.checkIntegrity(path: harness.outboxPath)
            if integrity != ["ok"] { integrityFailures.append("run \(run): \(integrity)") }
        }
        #expect(integrityFailures == [])
        #expect(try harness.drain(broker: broker.url, run: runs) == 0, "\(harness.log(run: runs))")
        let statistics = try OutboxStore.readStatistics(path: harness.outboxPath)
        #expect(statistics.depth.values.allSatisfy { $0.records == 0 })
        let last = statistics.lastSequence
        #expect(last > 500)
        #expect(waitUntil(timeoutSeconds: 30) { Received(subscriber.messages()).sequences.count >= Int(last) })
        let received = Received(subscriber.messages())
        #expect(gaps(in: received.sequences, upTo: last) == [])
        // A duplicate is a record that was in flight when the agent died: sent again with its number and bytes.
        #expect(received.conflictingDuplicates == [])
        #expect(received.duplicateCount <= runs * 64)
    }

    @Test func brokerRestartedTwentyTimesDuringADrainOfTenThousandRecords() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-restart")
        defer { harness.cleanUp() }
        // 10,500 simulated seconds recorded while no broker is reachable: over 10,000 records, since the demo profile
        // samples several signals every second and a 0.2 s batch with samples in it becomes a record.
        let closedPort = try LoopbackPort.free()
        let recorder = try harness.start(
            broker: "mqtt://127.0.0.1:\(closedPort)",
            ["--simulate", "city-drive", "--simulate-speed", "max", "--simulate-duration", "10500", "--telemetry-batch", "0.2"])
        // A liveness bound, generous: a debug build on a loaded machine takes about two minutes for this.
        #expect(waitUntil(timeoutSeconds: 300) { harness.log().contains("source ended") }, "\(harness.log())")
        recorder.send(signal: SIGTERM)
        #expect(recorder.wait(timeoutSeconds: 5) == 0)
        let buffered = try OutboxStore.readStatistics(path: harness.outboxPath)
        #expect((buffered.depth[.telemetry]?.records ?? 0) >= 10_000)

        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-restart/#"])
        let drainer = try harness.start(broker: broker.url, run: 1, ["--replay", "/dev/null", "--exit-when-drained"])
        for restart in 1...20 {
            // Each restart lands in the middle of the drain: after a few hundred more records have arrived.
            #expect(waitUntil(timeoutSeconds: 60) { subscriber.messages().count >= restart * 400 })
            try broker.restart()
        }
        #expect(drainer.wait(timeoutSeconds: 180) == 0, "\(harness.log(run: 1))")
        let last = buffered.lastSequence
        #expect(waitUntil(timeoutSeconds: 60) { Received(subscriber.messages()).sequences.count >= Int(last) })
        let received = Received(subscriber.messages())
        #expect(gaps(in: received.sequences, upTo: last) == [])
        #expect(received.conflictingDuplicates == [])
    }

    @Test func damagedDatabaseIsMovedAsideAndReported() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-damaged")
        defer { harness.cleanUp() }
        mkdir(harness.dataDirectory, 0o755)
        try AxleProcess.writeFile(harness.outboxPath, String(repeating: "not an SQLite database; ", count: 400))
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-damaged/#"])
        #expect(try harness.drain(broker: broker.url, run: 0) == 0, "\(harness.log())")
        #expect(waitUntil(timeoutSeconds: 10) { !Received(subscriber.messages()).events.isEmpty })
        let events = Received(subscriber.messages()).events.flatMap(\.batch.events)
        let replaced = events.first { $0.name == "outbox.database_replaced" }
        #expect(replaced != nil)
        let movedTo = replaced?.attributes["moved_to"] ?? ""
        #expect(movedTo.hasPrefix(harness.outboxPath + ".damaged-"))
        #expect(access(movedTo, F_OK) == 0)
        #expect(harness.log().contains("damaged"))
    }

    @Test func shutdownPublishesOfflineAndACrashLeavesTheLastWill() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-status")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-status/status"])
        let simulate = ["--simulate", "city-drive", "--simulate-speed", "1"]

        let agent = try harness.start(broker: broker.url, simulate)
        #expect(waitUntil(timeoutSeconds: 10) { Received(subscriber.messages()).status.last?.contains("\"online\"") == true })
        let stopping = monotonicSeconds()
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        #expect(monotonicSeconds() - stopping < 2, "graceful shutdown takes under 2 s")
        #expect(waitUntil(timeoutSeconds: 5) { Received(subscriber.messages()).status.last?.contains("\"shutdown\"") == true })

        let crashing = try harness.start(broker: broker.url, run: 1, simulate)
        #expect(waitUntil(timeoutSeconds: 10) { Received(subscriber.messages()).status.last?.contains("\"online\"") == true })
        crashing.send(signal: SIGKILL)
        #expect(crashing.wait(timeoutSeconds: 5) == 128 + SIGKILL)
        #expect(waitUntil(timeoutSeconds: 10) { Received(subscriber.messages()).status.last?.contains("\"connection lost\"") == true })
        let last = Received(subscriber.messages()).status.last ?? ""
        #expect(last.contains("\"offline\""))
    }
}
