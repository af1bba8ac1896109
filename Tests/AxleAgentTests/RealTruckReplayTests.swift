import AxleBase
import AxleTestSupport
import Foundation
import Testing
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// A real J1939 truck (CSS Electronics' recording, Tests/Resources/css-electronics) replayed through `axled` with the
/// shipped fleet-truck profile. The truck has no refrigerated trailer: its Dash Display frames carry 0xFFFF ("not
/// available") as cargo temperature, which decodes to 1774.96875 °C, beyond the DBC's maximum of 1734.96875.
@Suite("a real truck's J1939 not-available values", .serialized)
struct RealTruckReplayTests {
    static let truckProfile = AxleProcess.packageRoot + "/Firmware-Profiles/fleet-truck-j1939"
    static let recording = AxleProcess.packageRoot + "/Tests/Resources/css-electronics/truck-idle-127s-fleet-truck-pgns.log"
    static let cargo = "Vehicle.Private.Trailer.CargoTemperature"
    static let cargoAlert = "cargo-temperature-out-of-range"

    /// What one replay of the recording published and what `axle signals` showed at its end.
    struct Replay {
        var samples: [DecodedSample] = []
        var notReadings: [DecodedNotReading] = []
        var events: [TelemetryEvent] = []
        var signalsJSON: [String: JSONValue] = [:]
        var signalsText = ""
        var log = ""
    }

    /// Replays the whole recording at full speed into `axled` with the profile in `profileDirectory`; waits until the
    /// replay has ended and the outbox is empty, reads `axle signals`, stops the agent and collects what the broker
    /// delivered up to the agent's `offline` status (its last publication).
    func replay(profileDirectory: String, vehicleID: String, recording: String = Self.recording) throws -> Replay {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/\(vehicleID)/#"])
        let directory = try makeTestDirectory(prefix: "axle-truck")
        defer { removeTree(directory) }
        let socket = directory + "/axled.sock"
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", profileDirectory, "--vehicle-id", vehicleID, "--data-dir", directory + "/data",
                "--broker", broker.url, "--control-socket", socket, "--replay", recording, "--replay-speed", "max",
            ],
            stderrPath: directory + "/axled.log")
        var result = Replay()
        defer { agent.terminate(timeoutSeconds: 5) }

        var exited: Int32?
        let drained = waitUntil(timeoutSeconds: 120, pollSeconds: 0.1) {
            exited = agent.wait(timeoutSeconds: 0)
            if exited != nil { return true }
            guard let status = try? AxleProcess.run(["status", "--socket", socket, "--json"]), status.status == 0,
                let json = try? JSONValue.parse(status.stdout),
                let buses = json["buses"]?.arrayValue, let classes = json["outbox"]?["classes"]?.arrayValue
            else { return false }
            return buses.allSatisfy { $0["state"]?.stringValue == "ended" }
                && classes.allSatisfy { $0["records"]?.doubleValue == 0 }
        }
        result.log = AxleProcess.readText(directory + "/axled.log")
        try #require(exited == nil, "axled exited with status \(exited ?? 0) before the replay was collected: \(result.log)")
        try #require(drained, "the replay did not end with an empty outbox within 120 s; axled log: \(result.log)")

        let signals = try AxleProcess.run(["signals", "--socket", socket, "--json"])
        for signal in try JSONValue.parse(signals.stdout)["signals"]?.arrayValue ?? [] {
            if let name = signal["name"]?.stringValue { result.signalsJSON[name] = signal }
        }
        result.signalsText = try AxleProcess.run(["signals", "--socket", socket, "Trailer"]).stdout

        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0, "axled stops on SIGTERM")
        let offline = waitUntil(timeoutSeconds: 10) {
            subscriber.messages().contains { $0.topic.hasSuffix("/status") && String(decoding: $0.payload, as: UTF8.self).contains("offline") }
        }
        try #require(offline, "the agent's offline status never arrived")
        for message in subscriber.messages() where message.topic.hasSuffix("/telemetry") || message.topic.hasSuffix("/events") {
            let batch = try TelemetryPayloadDecoder.decode(message.payload)
            result.samples += batch.samples
            result.notReadings += batch.notReadings
            result.events += batch.events
        }
        return result
    }

    @Test("a multi-packet group (EC1, 39 bytes by BAM) is reassembled from the transport frames and decoded through the DBC")
    func multiPacketGroup() throws {
        // Every transport-protocol frame of the recording: among them 25 EC1 transfers from the engine (0x00) of 6
        // packets each, which carry 2386 Nm of reference torque (bytes 20-21, SPN 544).
        let transport = AxleProcess.packageRoot + "/Tests/Resources/css-electronics/truck-idle-127s-transport.log"
        let replay = try replay(profileDirectory: Self.truckProfile, vehicleID: "truck-ec1", recording: transport)
        let torque = try #require(
            replay.signalsJSON["Vehicle.Private.CombustionEngine.ReferenceTorque"], "axle signals lists the reference torque")
        #expect(torque["value"]?.doubleValue == 2386, "\(torque); axled log: \(replay.log.suffix(2000))")
    }

    @Test("0xFFFF cargo temperature is not a reading: no sample, no cargo alert, `axle signals` says not available")
    func notAvailableIsNotAReading() throws {
        let replay = try replay(profileDirectory: Self.truckProfile, vehicleID: "real-truck")
        // The replay did reach the collection: engine speed (EEC1, 100 Hz) and the fuel level beside the cargo
        // temperature in the same Dash Display frames are published.
        let engineSpeed = replay.samples.filter { $0.signal == "Vehicle.Powertrain.CombustionEngine.Speed:mean" }
        #expect(engineSpeed.count >= 10, "engine statistics for 127 s in 10 s windows; log: \(replay.log)")
        #expect(engineSpeed.allSatisfy { (600...700).contains($0.value) }, "idling at about 650 rpm")
        let fuel = replay.samples.filter { $0.signal == "Vehicle.Powertrain.FuelSystem.RelativeLevel" }
        #expect(fuel.first?.value == 74.8, "the fuel level in the same frame is a reading: \(fuel)")

        let cargo = replay.samples.filter { $0.signal == Self.cargo }
        #expect(cargo.isEmpty, "no cargo temperature is published: \(cargo.prefix(3))")
        // The telemetry says why: the cold-chain rule (on-change, 60 s heartbeat) marks the first "not available"
        // and repeats the marker at its heartbeat over the 127 s.
        let marked = replay.notReadings.filter { $0.signal == Self.cargo }
        #expect((2...3).contains(marked.count), "\(marked)")
        #expect(marked.allSatisfy { $0.kind == .notAvailable }, "\(marked)")
        #expect(replay.notReadings.allSatisfy { $0.signal == Self.cargo }, "only the cargo temperature: \(replay.notReadings.prefix(3))")
        #expect(!replay.events.contains { $0.name == Self.cargoAlert }, "\(replay.events.map(\.name))")

        let shown = try #require(replay.signalsJSON[Self.cargo], "axle signals lists the cargo temperature")
        #expect(shown["availability"]?.stringValue == "not_available")
        #expect(shown["value"] == .null, "no number is shown for a value that is not a reading: \(shown)")
        #expect(replay.signalsJSON["Vehicle.Powertrain.FuelSystem.RelativeLevel"]?["availability"]?.stringValue == "valid")
        let row = replay.signalsText.split(separator: "\n").first { $0.hasPrefix(Self.cargo + " ") } ?? ""
        #expect(row.contains("not available"), "the table says so: \(replay.signalsText)")
    }

    @Test("range = \"ignore\" makes every value a reading: the profile author's way out, and what Axle did before")
    func rangeIgnoreAcceptsEveryValue() throws {
        let root = try makeTestDirectory(prefix: "axle-truck-profile")
        defer { removeTree(root) }
        // The agent finds a profile by its folder, which must carry the profile's name.
        let directory = root + "/fleet-truck-j1939"
        try #require(mkdir(directory, 0o755) == 0, "cannot create \(directory)")
        let shipped = AxleProcess.readText(Self.truckProfile + "/profile.toml")
        let entry = #""Vehicle.Private.Trailer.CargoTemperature" = { source = "DD.CargoAmbientTemp", unit = "celsius" }"#
        try #require(shipped.contains(entry), "the shipped profile's cargo temperature entry")
        _ = try AxleProcess.writeFile(directory + "/profile.toml", shipped.replacingOccurrences(
            of: entry, with: #""Vehicle.Private.Trailer.CargoTemperature" = { source = "DD.CargoAmbientTemp", unit = "celsius", range = "ignore" }"#))
        _ = try AxleProcess.writeFile(
            directory + "/fleet_truck_j1939.dbc", AxleProcess.readText(Self.truckProfile + "/fleet_truck_j1939.dbc"))

        let replay = try replay(profileDirectory: directory, vehicleID: "real-truck-ignore")
        let cargo = replay.samples.filter { $0.signal == Self.cargo }
        #expect(!cargo.isEmpty && cargo.allSatisfy { $0.value == 1774.96875 }, "\(cargo.prefix(3))")
        #expect(replay.notReadings.isEmpty, "every value is a reading: \(replay.notReadings.prefix(3))")
        #expect(replay.events.contains { $0.name == Self.cargoAlert }, "\(replay.events.map(\.name))")
        #expect(replay.signalsJSON[Self.cargo]?["value"]?.doubleValue == 1774.96875)
    }
}
