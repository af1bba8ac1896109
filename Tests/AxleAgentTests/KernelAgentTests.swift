import AxleBase
import AxleTestSupport
import CANFrames
import DBC
import Outbox
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let insideCANGuest = getenv("AXLE_KERNEL_TESTS") != nil

/// The SocketCAN path end to end, inside user-mode-linux (`make kernel-test`): the simulated vehicle sends on a vcan
/// interface, `axled` reads it with the demo-sedan profile, mosquitto carries what it publishes to a subscriber, and
/// can-utils' `candump` records the bus independently, as the reference for what the agent should have seen.
@Suite(
    "The agent on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelAgentTests {
    static let dbc = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"

    @Test("simulator on vcan → axled → mosquitto: every periodic sample, the crash event's windows, nothing lost at SIGTERM")
    func simulatedDriveThroughTheAgent() throws {
        let interface = "vcan5"
        #expect(system("ip link add dev \(interface) type vcan && ip link set \(interface) up") == 0)
        defer { _ = system("ip link delete \(interface)") }
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "kcar")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/kcar/#"])
        let busLog = harness.directory + "/bus.log"
        let candump = try ChildProcess(executable: "/usr/bin/candump", arguments: ["-L", interface], stdoutPath: busLog)
        let agent = try harness.start(broker: broker.url, ["--can", "body=\(interface)", "--telemetry-batch", "0.5"])
        #expect(waitUntil(timeoutSeconds: 10) { harness.log().contains("ready in") }, "\(harness.log())")
        // Frames carry the kernel's receive time, so windows are in wall-clock seconds. The crash comes at 40 s of
        // simulated driving: 16 s at 2.5 times real time, so the bus has been busy for longer than the 10 s
        // pre-trigger window; the 5 s post-trigger window closes at 21 s. The agent is stopped after that, in
        // mid-drive with the bus still busy.
        let simulator = try ChildProcess(
            executable: AxleProcess.executable,
            arguments: ["simulate", "--dbc", Self.dbc, "--profile", "demo-sedan", "--scenario", "crash", "--to", interface, "--speed", "2.5", "--duration", "120"],
            stderrPath: harness.directory + "/simulator.log")
        #expect(waitUntil(timeoutSeconds: 40) { !Received(subscriber.messages()).events.isEmpty }, "no event arrived: \(harness.log())")
        usleep(1_000_000)
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0, "\(harness.log())")
        simulator.send(signal: SIGTERM)
        _ = simulator.wait(timeoutSeconds: 5)
        candump.send(signal: SIGTERM)
        _ = candump.wait(timeoutSeconds: 5)

        // What was still in the outbox at SIGTERM (the open batch among it) is sent by the next run.
        #expect(try harness.drain(broker: broker.url, run: 1) == 0, "\(harness.log(run: 1))")
        let last = try OutboxStore.readStatistics(path: harness.outboxPath).lastSequence
        #expect(waitUntil(timeoutSeconds: 20) { Received(subscriber.messages()).sequences.count >= Int(last) })
        let received = Received(subscriber.messages())
        #expect(gaps(in: received.sequences, upTo: last) == [], "records lost")
        #expect(received.undecodable == 0)

        let bus = try BusReference(path: busLog, dbc: Self.dbc)
        // One copy per sequence number: the record in flight at SIGTERM may have arrived twice.
        var records: [UInt64: [UInt8]] = [:]
        for (sequence, payload) in received.telemetry { records[sequence] = payload }
        let samples = try records.values.flatMap { try TelemetryPayloadDecoder.decode($0).samples }

        // "motion" samples Vehicle.Speed every second: one sample per second from the first to the last, each the
        // value of the last VehicleMotion frame on the bus before its second (docs/collection.md: a value stamped
        // exactly on the boundary belongs to the next period).
        let speed = samples.filter { $0.signal == "Vehicle.Speed" }.sorted { $0.timeMicros < $1.timeMicros }
        #expect(speed.count >= 5, "Vehicle.Speed samples: \(speed.count)")
        for (earlier, later) in zip(speed, speed.dropFirst()) {
            #expect(later.timeMicros - earlier.timeMicros == 1_000_000, "a periodic second is missing or doubled")
        }
        for sample in speed {
            #expect(sample.timeMicros % 1_000_000 == 0, "periodic samples fall on whole seconds")
            let expected = bus.value(of: "VehicleSpeed", before: sample.timeMicros)
            #expect(expected == sample.value, "Vehicle.Speed at \(sample.timeMicros): bus \(String(describing: expected)), agent \(sample.value)")
        }

        // The crash: a critical event whose window holds exactly the bus's VehicleMotion frames from 10 s before to
        // 5 s after the trigger, the trigger being the first CrashStatus frame that reports a crash.
        let crashes = received.events.flatMap(\.batch.events).filter { $0.name == "crash" }
        #expect(crashes.count == 1)
        let crash = try #require(crashes.first)
        let window = try #require(crash.window, "the crash event carries no window")
        #expect(crash.priority == "critical")
        let trigger = try #require(bus.firstTime(of: "CrashDetected", equals: 1))
        #expect(abs(crash.timeMicros - trigger) <= 1000, "trigger \(crash.timeMicros) vs bus \(trigger)")
        #expect(window.preTriggerMicros == 10_000_000 && window.postTriggerMicros == 5_000_000)
        let windowSpeed = window.samples.filter { $0.signal.name == "Vehicle.Speed" }
        let busSpeed = bus.frames(of: "VehicleSpeed", from: trigger - 10_000_000, through: trigger + 5_000_000)
        #expect(windowSpeed.count == busSpeed.count, "window samples \(windowSpeed.count), bus frames \(busSpeed.count)")
        let sameValues = windowSpeed.map(\.value) == busSpeed.map(\.value)
        #expect(sameValues, "the window's Vehicle.Speed values differ from the bus's")
        #expect(windowSpeed.contains { $0.timeMicros < trigger } && windowSpeed.contains { $0.timeMicros > trigger })
        #expect(bus.frames(of: "VehicleSpeed", from: 0, through: trigger - 10_000_000).count > 100, "the bus was busy before the window")
    }

    @Test("axled's CAN reader: kernel filters for the profile's ids, reopening after down/up and delete/re-create, bus-off reported")
    func liveBusReader() throws {
        let interface = "vcan8"
        #expect(system("ip link add dev \(interface) type vcan && ip link set \(interface) up") == 0)
        defer { _ = system("ip link delete \(interface) 2>/dev/null") }
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "kbus")
        defer { harness.cleanUp() }
        let agent = try harness.start(broker: broker.url, ["--can", "body=\(interface)"])
        defer { agent.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 20) { harness.log().contains("ready in") }, "\(harness.log())")

        // The agent's socket carries the profile's ids as kernel filters (VehicleMotion is 0x101), not a catch-all.
        func filtered() -> Bool {
            CANReceivers.wait(on: interface) { receivers in
                receivers.contains { $0.canID == 0x101 } && !receivers.contains { $0.list == "all" }
            }
        }
        #expect(filtered(), "no kernel filters on \(interface): \(CANReceivers.on(interface)); \(harness.log())")
        let unknownID = CANReceivers.on(interface).contains { $0.canID == 0x7AA }
        #expect(!unknownID, "a filter for an id the profile does not decode")

        /// Sends a VehicleMotion frame with `speed` (km/h, 0.01 per bit) until the agent shows it as Vehicle.Speed:
        /// the socket may be reopening, which takes up to a second.
        func speedArrives(_ speed: Int) -> Bool {
            let raw = speed * 100
            let hex = String(raw, radix: 16, uppercase: true)
            let frame = "101#" + String(repeating: "0", count: 4 - hex.count) + hex + "03D6760001F4"
            return waitUntil(timeoutSeconds: 20, pollSeconds: 0.2) {
                _ = system("cansend \(interface) \(frame) 2>/dev/null")
                return harness.signalValues()["Vehicle.Speed"] == Double(speed)
            }
        }
        #expect(speedArrives(50), "\(harness.log())")
        #expect(system("ip link set \(interface) down && ip link set \(interface) up") == 0)
        #expect(speedArrives(40), "after down/up: \(harness.log())")
        #expect(system("ip link delete \(interface) && ip link add dev \(interface) type vcan && ip link set \(interface) up") == 0)
        #expect(speedArrives(30), "after delete/re-create: \(harness.log())")
        #expect(filtered(), "the reopened socket has no kernel filters: \(CANReceivers.on(interface))")
        let reopened = harness.log().split(separator: "\n").filter { $0.contains("reading \(interface)") }.count
        #expect(reopened >= 2, "opened \(reopened) times: \(harness.log())")

        // A bus-off error frame: vcan has no controller to restart, so the agent says so and keeps reading.
        #expect(system("cansend \(interface) 20000040#0000000000000000") == 0)
        #expect(
            waitUntil(timeoutSeconds: 10) { harness.log().contains("\(interface): bus-off; the controller could not be restarted") },
            "\(harness.log())")
        #expect(speedArrives(20), "after bus-off: \(harness.log())")
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0, "\(harness.log())")
    }
}

/// The bus as candump recorded it, decoded with the profile's DBC: the reference for what the agent received.
struct BusReference {
    /// Per signal name: (time µs, value), in bus order.
    var series: [String: [(time: Int64, value: Double)]] = [:]

    init(path: String, dbc: String) throws {
        let decoder = CompiledDecoder(database: try DBCParser.parse(contentsOf: dbc))
        var decoded = DecodedFrame(capacity: decoder.maximumSignalsPerMessage)
        let reader = try CandumpReader(path: path)
        while let entry = try reader.next() {
            guard case .frame(let frame) = entry, decoder.decode(frame, into: &decoded) == .decoded else { continue }
            let micros = frame.timestamp.seconds * 1_000_000 + Int64(frame.timestamp.nanoseconds / 1000)
            for signal in decoded.signals {
                series[decoder.signals[Int(signal.signalIndex)].name, default: []].append((micros, signal.value))
            }
        }
    }

    func value(of signal: String, before micros: Int64) -> Double? {
        series[signal]?.last { $0.time < micros }?.value
    }

    func firstTime(of signal: String, equals value: Double) -> Int64? {
        series[signal]?.first { $0.value == value }?.time
    }

    /// Frames in [from, through], with times as the payload carries them (whole milliseconds).
    func frames(of signal: String, from: Int64, through: Int64) -> [(time: Int64, value: Double)] {
        (series[signal] ?? []).filter { $0.time >= from && $0.time <= through }
    }
}
