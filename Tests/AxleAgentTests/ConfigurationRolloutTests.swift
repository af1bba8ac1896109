import AxleBase
import AxleTestSupport
import ConfigBundle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A staged rollout to a fleet (docs/configuration.md, "Pushing to a fleet"): 20 real `axled` processes on the
/// simulator against one mosquitto, and the real `axle-fleet config push` and `config status`.
@Suite("Configuration over the air: a rollout to 20 vehicles", .serialized)
struct ConfigurationRolloutTests {
    static let fleetSize = 20

    @Test("version 2 reaches the 20 vehicles in waves; a version that fails validation and one that fails its health check stop at the first wave, the fleet still on version 2 and collecting")
    func rolloutInWaves() throws {
        // The rig's vehicle is the first of the fleet; its key signs for every vehicle.
        let rig = try ConfigurationRig(vehicleID: "fleet-00")
        defer { rig.cleanUp() }
        let ids = (0..<Self.fleetSize).map { $0 < 10 ? "fleet-0\($0)" : "fleet-\($0)" }
        let harnesses = try [rig.harness] + ids.dropFirst().map { try AgentHarness(vehicleID: $0) }
        defer { for harness in harnesses.dropFirst() { harness.cleanUp() } }
        let traffic = try MosquittoSubscriber(broker: rig.broker, topics: ["axle/v1/+/config/desired", "axle/v1/+/config/state"])
        let vehiclesFile = rig.directory + "/fleet.txt"
        try DurableFile.write(Array((["# the test fleet"] + ids).joined(separator: "\n").utf8), to: vehiclesFile)

        var agents: [ChildProcess] = []
        defer { for agent in agents { agent.terminate(timeoutSeconds: 5) } }
        for harness in harnesses {
            agents.append(try harness.start(broker: rig.broker.url, [
                "--simulate", "city-drive", "--config-key", rig.keyPrefix + ".pub", "--config-trial", "1s",
            ]))
        }
        for harness in harnesses {
            #expect(waitUntil(timeoutSeconds: 30) { harness.log().contains("connected to") }, "\(harness.vehicleID): \(harness.log())")
        }

        // Version 2, in waves of 1, 10, 50 and 100 %: 1, then 2, 10 and 20 vehicles in all.
        let version2 = try rig.sign(try rig.profile(version: 2) { $0 + addedRule }, version: 2, forEveryVehicle: true)
        let started = monotonicSeconds()
        let push = try ChildProcess.run(ConfigurationRig.fleet, [
            "config", "push", "--bundle", version2, "--vehicles", vehiclesFile, "--broker", rig.broker.url,
            "--waves", "1,10,50,100", "--wave-timeout", "60s",
        ], timeoutSeconds: 180)
        let seconds = monotonicSeconds() - started
        #expect(push.status == 0, "\(push.output)")
        // Each wave began only once the one before had applied: the first vehicle's APPLIED report comes before any
        // other vehicle's desired message, and wave 2's (vehicle 01) before wave 3's.
        let order = traffic.messages()
        func firstDesired(_ vehicle: String, version: Int) -> Int? {
            order.firstIndex { $0.topic == "axle/v1/\(vehicle)/config/desired" && desiredVersion($0.payload) == version }
        }
        func firstApplied(_ vehicle: String, version: Int) -> Int? {
            order.firstIndex { $0.topic == "axle/v1/\(vehicle)/config/state" && reportStatus($0.payload, version: version) == .applied }
        }
        let applied0 = try #require(firstApplied("fleet-00", version: 2), "\(push.output)")
        let desired1 = try #require(firstDesired("fleet-01", version: 2))
        let applied1 = try #require(firstApplied("fleet-01", version: 2))
        let desired2 = try #require(firstDesired("fleet-02", version: 2))
        #expect(applied0 < desired1 && applied1 < desired2, "waves out of order: \(applied0) \(desired1) \(applied1) \(desired2)")
        for vehicle in ids { #expect(firstApplied(vehicle, version: 2) != nil, "\(vehicle) did not apply version 2") }
        print("rollout of version 2 to \(Self.fleetSize) vehicles in 4 waves: \((seconds * 10).rounded() / 10) s from push to the last APPLIED (1 s trials); bundle \(try FileInput.readAll(path: version2).count) bytes")

        // Version 3: validly signed, but its profile does not validate: the first wave's vehicle refuses it.
        let invalid = try rig.profile(version: 3) { $0 + "\n[[rules]]\nname = \"broken\"\nsignals = [\"Vehicle.NoSuchSignal\"]\nperiodic = \"1s\"\n" }
        let push3 = try ChildProcess.run(ConfigurationRig.fleet, [
            "config", "push", "--bundle", try rig.sign(invalid, version: 3, forEveryVehicle: true), "--vehicles", vehiclesFile,
            "--broker", rig.broker.url, "--waves", "1,10,50,100", "--wave-timeout", "60s",
        ], timeoutSeconds: 180)
        #expect(push3.status == 1, "\(push3.output)")
        #expect(push3.output.contains("fleet-00"), "\(push3.output)")
        // Version 4: validates, fails its health check on the vehicle (its DBC decodes nothing the vehicle sends).
        let unhealthy = try rig.profile(version: 4, movedIDs: true) { $0 + addedRule }
        let push4 = try ChildProcess.run(ConfigurationRig.fleet, [
            "config", "push", "--bundle", try rig.sign(unhealthy, version: 4, forEveryVehicle: true), "--vehicles", vehiclesFile,
            "--broker", rig.broker.url, "--waves", "1,10,50,100", "--wave-timeout", "60s",
        ], timeoutSeconds: 180)
        #expect(push4.status == 1, "\(push4.output)")

        let messages = traffic.messages()
        #expect(messages.contains { $0.topic == "axle/v1/fleet-00/config/state" && reportStatus($0.payload, version: 3) == .failed })
        #expect(messages.contains { $0.topic == "axle/v1/fleet-00/config/state" && reportStatus($0.payload, version: 4) == .rolledBack })
        for vehicle in ids.dropFirst() {
            // The rollout stopped at the first wave: no other vehicle was asked to take version 3 or 4.
            #expect(firstDesiredIn(messages, vehicle, version: 3) == nil && firstDesiredIn(messages, vehicle, version: 4) == nil, "\(vehicle) was asked")
        }

        // The fleet's view: all 20 on version 2; and every agent still running and collecting.
        let status = try ChildProcess.run(ConfigurationRig.fleet, [
            "config", "status", "--vehicles", vehiclesFile, "--broker", rig.broker.url, "--json",
        ], timeoutSeconds: 60)
        // Standard output and error together: the JSON document is all there is with --json.
        let document = try JSONValue.parse(String(status.output.drop { $0 != "{" }))
        let vehicles = document["vehicles"]?.arrayValue ?? []
        #expect(vehicles.count == Self.fleetSize, "\(status.output)")
        for vehicle in vehicles {
            #expect(vehicle["report"]?["active"]?["version"]?.intValue == 2, "\(vehicle.rendered())")
        }
        for (agent, harness) in zip(agents, harnesses) {
            #expect(agent.isRunning, "\(harness.vehicleID) stopped: \(harness.log())")
            let before = harness.signalValues()
            #expect(waitUntil(timeoutSeconds: 10) { harness.signalValues() != before }, "\(harness.vehicleID) is not collecting")
        }
    }
}

private func desiredVersion(_ payload: [UInt8]) -> Int? {
    (try? DesiredConfiguration.parse(payload)).map { Int($0.version) }
}

private func reportStatus(_ payload: [UInt8], version: Int) -> ConfigurationStatus? {
    guard let value = try? JSONValue.parse(String(decoding: payload, as: UTF8.self)),
        let report = try? ConfigurationReport.parse(value), report.last?.version == UInt64(version)
    else { return nil }
    return report.last?.status
}

private func firstDesiredIn(_ messages: [(topic: String, payload: [UInt8])], _ vehicle: String, version: Int) -> Int? {
    messages.firstIndex { $0.topic == "axle/v1/\(vehicle)/config/desired" && desiredVersion($0.payload) == version }
}
