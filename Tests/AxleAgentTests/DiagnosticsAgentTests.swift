import AxleBase
import AxleTestSupport
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `axled --simulate` with the demo sedan's `[diagnostics]`: the simulated engine ECU answers OBD-II over
/// ISO-TP, and what the agent polls and the fault codes it reads reach a real mosquitto, decoded as the backend does.
@Suite(.serialized)
struct DiagnosticsAgentTests {
    static let polled = [
        "Vehicle.Private.OBD.CoolantTemperature", "Vehicle.Private.OBD.FuelPressure",
        "Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature", "Vehicle.Powertrain.CombustionEngine.MAP",
        "Vehicle.Exterior.AirTemperature",
    ]

    /// Everything received on the vehicle's telemetry and events topics, decoded.
    struct Published {
        var samples: [DecodedSample] = []
        var events: [TelemetryEvent] = []

        init(_ subscriber: MosquittoSubscriber) {
            for message in subscriber.messages() {
                guard let batch = try? TelemetryPayloadDecoder.decode(message.payload) else { continue }
                samples += batch.samples
                events += batch.events
            }
        }

        var faultAlerts: [TelemetryEvent] { events.filter { $0.name == "diagnostics.faults_changed" } }
    }

    static func status(_ harness: AgentHarness) -> JSONValue? {
        guard let result = try? AxleProcess.run(["status", "--socket", harness.controlSocket, "--json"]) else { return nil }
        return (try? JSONValue.parse(result.stdout))?["diagnostics"]
    }

    @Test("coolant-leak: polled PIDs are published under their VSS names, and P0217 with the MIL on reaches the broker as an alert")
    func coolantLeak() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "diag-leak")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(
            broker: broker, topics: ["axle/v1/diag-leak/telemetry", "axle/v1/diag-leak/events"])
        // Ten times real time: the coolant passes 110 °C about 2 simulated minutes in, some 15 s of the test.
        let agent = try harness.start(
            broker: broker.url, ["--simulate", "coolant-leak", "--simulate-speed", "10", "--telemetry-batch", "1"])
        defer {
            agent.send(signal: SIGTERM)
            _ = agent.wait(timeoutSeconds: 10)
        }
        // The alert comes from the fault poll (every 10 s), the values from the rule's batches (every 5 s): wait for
        // both, so that the checks below read a complete picture whichever came first.
        let alerted = waitUntil(timeoutSeconds: 90, pollSeconds: 0.5) {
            let published = Published(subscriber)
            return published.faultAlerts.contains { $0.attributes["codes"] == "P0217" }
                && Self.polled.allSatisfy { name in published.samples.contains { $0.signal == name } }
                && published.samples.contains { $0.signal == "Vehicle.Private.OBD.CoolantTemperature" && $0.value > 110 }
        }
        #expect(alerted, "no P0217 alert with every polled value and the overheat published; agent log: \(harness.log().suffix(3000))")
        let published = Published(subscriber)
        let alert = try #require(published.faultAlerts.first { $0.attributes["codes"] == "P0217" })
        #expect(alert.priority == "alert")
        #expect(alert.attributes["ecu"] == "engine" && alert.attributes["protocol"] == "obd")
        #expect(alert.attributes["mil"] == "on" && alert.attributes["added"] == "P0217" && alert.attributes["count"] == "1")
        // One alert per change: P0217 stored; before it, when a fault read fell between 105 and 110 °C, P0217 pending.
        let earlier = published.faultAlerts.prefix { $0.attributes["codes"] != "P0217" }
        #expect(earlier.allSatisfy { $0.attributes["codes"] == "" && $0.attributes["pending"] == "P0217" } && earlier.count <= 1,
                "\(published.faultAlerts.map(\.attributes))")
        #expect(published.faultAlerts.filter { $0.attributes["codes"] == "P0217" }.count == 1, "\(published.faultAlerts.map(\.attributes))")

        // Every polled value was published (the rule "engine-diagnostics", every 5 s), in its unit.
        for name in Self.polled {
            #expect(published.samples.contains { $0.signal == name }, "\(name) never published")
        }
        let coolant = published.samples.filter { $0.signal == "Vehicle.Private.OBD.CoolantTemperature" }
        #expect(coolant.allSatisfy { $0.unit == "celsius" && $0.value >= 10 && $0.value <= 140 }, "\(coolant.map(\.value))")
        #expect(coolant.contains { $0.value > 110 }, "the ECU's reading follows the overheat: \(coolant.map(\.value))")
        let pressure = published.samples.filter { $0.signal == "Vehicle.Private.OBD.FuelPressure" }
        #expect(pressure.allSatisfy { $0.unit == "kPa" && Int($0.value) % 3 == 0 }, "3 kPa a bit: \(pressure.map(\.value))")

        // The technician's view: the ECU's counts, its fault and the MIL (the status is refreshed 4 times a second).
        _ = waitUntil(timeoutSeconds: 15, pollSeconds: 0.25) {
            Self.status(harness)?["ecus"]?.arrayValue?.first?["mil"]?.stringValue == "on"
        }
        let report = try #require(Self.status(harness), "axle status has no diagnostics object")
        let ecu = try #require(report["ecus"]?.arrayValue?.first)
        #expect(report["polling"]?.boolValue == true)
        #expect(ecu["name"]?.stringValue == "engine" && ecu["faults"]?.arrayValue?.first?.stringValue == "P0217")
        #expect(ecu["mil"]?.stringValue == "on" && (ecu["answers"]?.doubleValue ?? 0) > 10 && ecu["timeouts"]?.doubleValue == 0)
        let table = try AxleProcess.run(["status", "--socket", harness.controlSocket])
        #expect(table.stdout.contains("diagnostics polling") && table.stdout.contains("faults P0217, MIL on"), "\(table.stdout)")
    }

    @Test("parked: the ignition is off, so no ECU is asked (a parked car is left asleep)")
    func parkedCarIsLeftAlone() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "diag-parked")
        defer { harness.cleanUp() }
        let agent = try harness.start(broker: broker.url, ["--simulate", "parked", "--simulate-speed", "1"])
        defer {
            agent.send(signal: SIGTERM)
            _ = agent.wait(timeoutSeconds: 10)
        }
        // The ignition signal has a value (Off) once the first frames are decoded; then wait out three poll intervals.
        #expect(harness.waitForValues(["Vehicle.LowVoltageSystemState"]), "\(harness.log())")
        #expect(waitUntil(timeoutSeconds: 10, pollSeconds: 0.2) { Self.status(harness)?["polling"]?.boolValue == false })
        usleep(3_000_000)
        let report = try #require(Self.status(harness))
        #expect(report["ecus"]?.arrayValue?.first?["requests"]?.doubleValue == 0, "\(report)")
        #expect(report["frames"]?.doubleValue == 0)
        let values = harness.signalValues()
        #expect(Self.polled.allSatisfy { values[$0] == nil }, "\(values.filter { Self.polled.contains($0.key) })")
        #expect(harness.log().contains("ignition off: polling stopped"))
    }

    @Test("the truck in coolant-leak: DM1 heard on the bus (single frame, then BAM) becomes dm1_changed alerts with SPN, FMI and lamps")
    func truckDM1() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "diag-truck")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/diag-truck/events"])
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", AxleProcess.packageRoot + "/Firmware-Profiles/fleet-truck-j1939", "--vehicle-id", harness.vehicleID,
                "--data-dir", harness.dataDirectory, "--broker", broker.url, "--control-socket", harness.controlSocket,
                "--simulate", "coolant-leak", "--simulate-speed", "10",
            ],
            stderrPath: harness.directory + "/axled-0.log")
        defer {
            agent.send(signal: SIGTERM)
            _ = agent.wait(timeoutSeconds: 10)
        }
        let dm1 = { Published(subscriber).events.filter { $0.name == "diagnostics.dm1_changed" } }
        // The coolant level falls below 85 % about 80 simulated seconds in, the temperature passes 110 °C later.
        #expect(waitUntil(timeoutSeconds: 90, pollSeconds: 0.5) { dm1().count >= 2 }, "\(harness.log().suffix(3000))")
        let alerts = dm1()
        let first = try #require(alerts.first)
        #expect(first.priority == "alert" && first.attributes["source_address"] == "0" && first.attributes["bus"] == "j1939")
        #expect(first.attributes["codes"] == "SPN 111 FMI 18" && first.attributes["amber_warning"] == "on", "\(first.attributes)")
        let second = alerts[1]
        #expect(second.attributes["codes"] == "SPN 111 FMI 18,SPN 110 FMI 0" && second.attributes["added"] == "SPN 110 FMI 0")
        #expect(second.attributes["red_stop"] == "on")
        #expect(second.attributes["faults"] == #"[{"spn":111,"fmi":18,"oc":1},{"spn":110,"fmi":0,"oc":1}]"#, "\(second.attributes)")
        let report = try #require(Self.status(harness))
        #expect(report["dm1"]?.arrayValue?.first?.stringValue == "j1939 node 0: SPN 111 FMI 18, SPN 110 FMI 0", "\(report)")
    }
}
