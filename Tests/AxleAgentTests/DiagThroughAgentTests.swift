import AxleBase
import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axle diag` beside a running `axled` that asks ECUs on the same bus: the technician's requests go through the
/// agent's control socket and its diagnostics service (never beside its polls), shown with the built binaries on the
/// simulated demo sedan, whose bus the agent reports as the interface "simulator".
@Suite(.serialized)
struct DiagThroughAgentTests {
    @Test("axle diag request, pids and dtc ask the agent's engine ECU through the agent; --direct does not")
    func throughTheAgent() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "diag-through")
        defer { harness.cleanUp() }
        let agent = try harness.start(broker: broker.url, ["--simulate", "city-drive", "--simulate-speed", "1"])
        defer {
            agent.send(signal: SIGTERM)
            _ = agent.wait(timeoutSeconds: 10)
        }
        // The agent's own polls have reached the ECU: its diagnostics service runs.
        let polling = waitUntil(timeoutSeconds: 30, pollSeconds: 0.2) {
            guard let result = try? AxleProcess.run(["status", "--socket", harness.controlSocket, "--json"]),
                let report = try? JSONValue.parse(result.stdout)
            else { return false }
            return (report["diagnostics"]?["ecus"]?.arrayValue?.first?["answers"]?.doubleValue ?? 0) > 0
        }
        #expect(polling, "the agent never polled its engine ECU: \(harness.log().suffix(2000))")

        let vin = try AxleProcess.run(["diag", "request", "simulator", "7E0", "7E8", "0902", "--socket", harness.controlSocket, "--json"])
        #expect(vin.status == 0, "\(vin.stderr)")
        #expect(vin.stderr.contains("axled asks ECUs on simulator: asking through it"), "\(vin.stderr)")
        let answer = try JSONValue.parse(vin.stdout)
        // 49 02 01 and "1AXLE00DEMOSEDAN1" in ASCII.
        #expect(answer["data"]?.stringValue == "4902013141584C45303044454D4F534544414E31", "\(vin.stdout)")

        // The scan: the engine ECU, its supported PIDs, VIN and calibration id (mode 09 PID 04).
        let scan = try AxleProcess.run(["diag", "scan", "simulator", "--socket", harness.controlSocket, "--json"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let ecu = try JSONValue.parse(scan.stdout)["ecus"]?.arrayValue?.first
        #expect(ecu?["vin"]?.stringValue == "1AXLE00DEMOSEDAN1", "\(scan.stdout)")
        #expect(ecu?["calibration_ids"]?.arrayValue?.first?.stringValue == "AXLESIM-ECM-01", "\(scan.stdout)")
        #expect((ecu?["supported_pids"]?.arrayValue?.count ?? 0) >= 5, "\(scan.stdout)")

        let pids = try AxleProcess.run(["diag", "pids", "simulator", "engine_speed", "vehicle_speed", "--socket", harness.controlSocket, "--json"])
        #expect(pids.status == 0, "\(pids.stderr)")
        #expect(pids.stdout.contains("engine_speed") && pids.stdout.contains("vehicle_speed"), "\(pids.stdout)")

        let codes = try AxleProcess.run(["diag", "dtc", "simulator", "--socket", harness.controlSocket])
        #expect(codes.status == 0, "\(codes.stderr)")
        #expect(codes.stdout.contains("7E8") && codes.stdout.contains("stored"), "\(codes.stdout)")

        // An ECU the agent does not ask is not the agent's business: --direct, or ids it does not know, go to the bus
        // (which this build machine does not have).
        let direct = try AxleProcess.run(["diag", "request", "simulator", "7E0", "7E8", "0902", "--socket", harness.controlSocket, "--direct"])
        #expect(direct.status != 0 && !direct.stderr.contains("asking through it"), "\(direct.stderr)")
        let other = try AxleProcess.run(["diag", "request", "simulator", "7E1", "7E9", "0902", "--socket", harness.controlSocket])
        #expect(other.status != 0 && !other.stderr.contains("asking through it"), "\(other.stderr)")
    }
}
