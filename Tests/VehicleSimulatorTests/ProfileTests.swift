import CANFrames
import DBC
import Testing
import VehicleSimulator

/// The fleet truck DBC, and how profiles meet DBCs.
@Suite("profiles and the fleet truck DBC")
struct ProfileTests {
    @Test("fleet_truck_j1939.dbc parses with no warnings; every message is a J1939 parameter group")
    func truckDBC() throws {
        let database = try Fixtures.fleetTruck()
        #expect(database.warnings.isEmpty, "\(database.warnings)")
        #expect(database.declaresJ1939)
        let pgns = Dictionary(uniqueKeysWithValues: database.messages.map { ($0.name, $0.pgn) })
        #expect(pgns == [
            "EEC1": 61444, "ETC2": 61445, "CCVS1": 65265, "ET1": 65262, "EFL_P1": 65263, "LFE1": 65266, "VP": 65267,
            "AMB": 65269, "VDHR": 65217, "DD": 65276, "VEP1": 65271, "ReeferStatus": 65296, "ReeferCommand": 61184,
            "EC1": 65251,
        ])
        // One frame each, but EC1: 39 bytes, a multi-packet group (by the transport protocol), sent on change only.
        #expect(database.messages.allSatisfy { $0.isJ1939 && $0.isExtended && $0.size == ($0.name == "EC1" ? 39 : 8) })
        #expect(database.message(named: "EC1")?.sendType == "Event")
        #expect(database.message(named: "EEC1")?.signal(named: "EngSpeed")?.attributes["SPN"] == .integer(190))
    }

    @Test("the truck's frames decode by PGN, whatever their priority and source address")
    func truckFramesDecodeByPGN() throws {
        let database = try Fixtures.fleetTruck()
        let decoder = CompiledDecoder(database: database)
        var simulator = try Fixtures.simulator(.highway, truck: true)
        let frames = simulator.advance(to: 10)
        #expect(frames.count > 800)
        var original = DecodedFrame()
        var moved = DecodedFrame()
        for frame in frames {
            #expect(decoder.decode(frame, into: &original) == .decoded)
            var other = frame
            other.id = (frame.id & 0x03FF_FF00) | 0x1C00_0000 | 0xA5
            #expect(decoder.decode(other, into: &moved) == .decoded)
            #expect(moved.messageIndex == original.messageIndex)
            #expect(Array(moved) == Array(original))
        }
    }

    @Test("the truck in town: engine and road speed, range D while moving, position and distance advance")
    func truckCityDrive() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.cityDrive, truck: true)
        let trace = simulator.trace(until: 60, database: database)
        #expect(trace.maximum("CCVS1.WheelBasedVehicleSpeed") > 45)
        let speeds = trace.samples["CCVS1.WheelBasedVehicleSpeed"]!
        let ranges = trace.samples["ETC2.TransCurrentRange"]!
        for range in ranges {
            guard let speed = speeds.last(where: { $0.time <= range.time }), speed.value > 1 else { continue }
            #expect(range.label == "D")
        }
        #expect(ranges.first?.label == "P")
        #expect(trace.every("CCVS1.ParkingBrakeSwitch", from: 5) { $0 == 0 })
        #expect(trace.every("EEC1.EngSpeed", from: 20, to: 40) { $0 > 1000 && $0 < 1900 })
        #expect(trace.every("ETC2.TransCurrentGear", from: 20, to: 40) { $0 >= 6 && $0 <= 12 })
        #expect(trace.span("VP.Latitude") > 0.002)
        #expect(trace.first("VDHR.TotalVehicleDistHighRes") > 482_000)
        #expect(trace.span("VDHR.TotalVehicleDistHighRes") > 0.3)
        #expect(trace.every("VEP1.KeyswitchBatteryPotential", from: 1) { abs($0 - 27.6) < 0.1 })
        #expect(trace.last("ET1.EngCoolantTemp") > trace.first("ET1.EngCoolantTemp"))
    }

    @Test("the truck parked: key off, parking brake set, no engine speed")
    func truckParked() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.parked, truck: true)
        let trace = simulator.trace(until: 10, database: database)
        #expect(trace.every("VEP1.KeyswitchBatteryPotential") { $0 == 0 })
        #expect(Set(trace.labels("CCVS1.ParkingBrakeSwitch")) == ["Set"])
        #expect(trace.every("EEC1.EngSpeed") { $0 == 0 })
        #expect(Set(trace.labels("ETC2.TransCurrentRange")) == ["P"])
    }

    @Test("a profile for another DBC is refused with a sentence that says so")
    func wrongDBC() throws {
        #expect {
            try VehicleSimulator(database: try Fixtures.demoSedan(), scenario: .parked, profile: .fleetTruckJ1939)
        } throws: { error in
            guard let error = error as? SimulatorError else { return false }
            return error.code == .profileDoesNotFit && error.description.contains("EEC1.EngSpeed")
        }
    }

    @Test("bindings to missing signals are warnings, and the rest still runs")
    func partialFit() throws {
        var profile = SimulatorProfile.demoSedan
        profile.bindings.append(SignalBinding(.oilPressure, "EngineStatus", "OilPressure"))
        profile.bindings.append(SignalBinding(.cargoTemp, "Reefer", "CargoTemp"))
        profile.commands.append(CommandBinding("HornCommand", "Honk", equals: 1, .unlock))
        var simulator = try VehicleSimulator(database: try Fixtures.demoSedan(), scenario: .cargoWarming, profile: profile)
        #expect(simulator.warnings.contains { $0.contains("no signal OilPressure") })
        #expect(simulator.warnings.contains { $0.contains("message Reefer") })
        #expect(simulator.warnings.contains { $0.contains("HornCommand") })
        #expect(simulator.warnings.contains { $0.contains("maps no signal for cargoTemp") })
        #expect(simulator.advance(to: 1).count > 100)
    }

    @Test("an unusable vehicle model is refused")
    func invalidModel() throws {
        var profile = SimulatorProfile.demoSedan
        profile.vehicle.gearRatios = []
        #expect {
            try VehicleSimulator(database: try Fixtures.demoSedan(), scenario: .parked, profile: profile)
        } throws: { ($0 as? SimulatorError)?.code == .invalidProfile }
    }

    @Test("built-in profiles are found by name; both fit their DBC without warnings")
    func builtIn() throws {
        #expect(SimulatorProfile.builtIn(named: "demo-sedan") == .demoSedan)
        #expect(SimulatorProfile.builtIn(named: "fleet-truck-j1939") == .fleetTruckJ1939)
        #expect(SimulatorProfile.builtIn(named: "tractor") == nil)
        for scenario in [Scenario.cityDrive, .cargoWarming] {
            #expect(try Fixtures.simulator(scenario).warnings == (scenario == .cargoWarming ? [
                "scenario cargo-warming: profile demo-sedan maps no signal for cargoTemp, so the scenario's effect on it is not visible",
            ] : []))
            #expect(try Fixtures.simulator(scenario, truck: true).warnings.isEmpty)
        }
    }
}
