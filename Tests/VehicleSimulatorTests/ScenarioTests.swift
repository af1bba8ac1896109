import CANFrames
import DBC
import Testing
import VehicleSimulator

/// Each scenario drives what it claims, read back by decoding the frames the simulator sent.
@Suite("scenarios")
struct ScenarioTests {
    @Test("parked: speed 0, gear P, ignition off, engine stopped, doors locked")
    func parked() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.parked)
        let trace = simulator.trace(until: 30, database: database)
        #expect(trace.undecoded == 0)
        #expect(trace.values("VehicleMotion.VehicleSpeed").count > 1000)
        #expect(trace.every("VehicleMotion.VehicleSpeed") { $0 == 0 })
        #expect(Set(trace.labels("VehicleMotion.Gear")) == ["P"])
        #expect(Set(trace.labels("FuelAndPower.IgnitionState")) == ["Off"])
        #expect(trace.every("EngineStatus.EngineSpeed") { $0 == 0 })
        #expect(trace.every("BodyStatus.DoorsLocked") { $0 == 1 })
        #expect(trace.every("FuelAndPower.BatteryVoltage") { $0 > 12.3 && $0 < 12.9 })
    }

    @Test("city-drive: speed rises and falls, D while moving, engine follows, coolant warms up, GPS moves")
    func cityDrive() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.cityDrive)
        let trace = simulator.trace(until: 200, database: database)
        #expect(trace.undecoded == 0)

        let speeds = trace.samples["VehicleMotion.VehicleSpeed"] ?? []
        let peak = try #require(speeds.max { $0.value < $1.value })
        #expect(peak.value > 45 && peak.value < 55)
        #expect(speeds.first { $0.time < peak.time && $0.value == 0 } != nil, "starts from standstill")
        #expect(speeds.first { $0.time > peak.time && $0.value == 0 } != nil, "stops again")
        #expect(trace.every("VehicleMotion.VehicleSpeed", from: 0, to: 3) { $0 == 0 })

        // D whenever the car moves; P before the driver selects D.
        let gears = trace.samples["VehicleMotion.Gear"] ?? []
        for (gear, speed) in zip(gears, speeds) where speed.value > 1 { #expect(gear.label == "D") }
        #expect(gears.first?.label == "P")
        #expect(Set(trace.labels("FuelAndPower.IgnitionState", from: 1)) == ["On"])

        // Engine speed: idle at a standstill, well above it when cruising at 50 km/h.
        #expect(trace.every("EngineStatus.EngineSpeed", from: 30, to: 40) { $0 > 1200 && $0 < 2500 })
        #expect(trace.every("EngineStatus.EngineSpeed", from: 62, to: 68) { $0 > 700 && $0 < 1000 })

        let coolant = trace.values("EngineStatus.CoolantTemp")
        #expect(trace.first("EngineStatus.CoolantTemp") <= 16)
        #expect(trace.last("EngineStatus.CoolantTemp") >= trace.first("EngineStatus.CoolantTemp") + 40, "coolant warms up towards 90 °C")
        #expect(zip(coolant, coolant.dropFirst()).allSatisfy { $1 >= $0 - 1 }, "and does not fall while running")

        #expect(trace.every("GnssPosition.Latitude") { $0 > 48.1 && $0 < 48.2 })
        #expect(trace.every("GnssPosition.Longitude") { $0 > 11.5 && $0 < 11.6 })
        #expect(trace.span("GnssPosition.Latitude") > 0.005 && trace.span("GnssPosition.Longitude") > 0.001, "the car covers more than 500 m of the route")
        let driven = trace.span("VehicleMotion.Odometer")
        #expect(driven > 1.0 && driven < 2.5)
    }

    @Test("highway: above 100 km/h after the on-ramp, engine speed in a plausible range")
    func highway() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.highway)
        let trace = simulator.trace(until: 120, database: database)
        let cruising = trace.values("VehicleMotion.VehicleSpeed", from: 40)
        #expect(!cruising.isEmpty && cruising.allSatisfy { $0 > 100 && $0 < 140 })
        #expect(trace.every("EngineStatus.EngineSpeed", from: 40) { $0 > 1500 && $0 < 3500 })
        #expect(Set(trace.labels("VehicleMotion.Gear", from: 40)) == ["D"])
    }

    @Test("coolant-leak: the engine temperature climbs past 110 °C")
    func coolantLeak() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.coolantLeak)
        let trace = simulator.trace(until: 200, database: database)
        #expect(trace.every("EngineStatus.CoolantTemp", to: 30) { $0 >= 80 && $0 <= 95 }, "warm, not hot, before the leak")
        #expect(trace.maximum("EngineStatus.CoolantTemp") > 110)
    }

    @Test("coolant-leak on the truck: the coolant level falls as the temperature climbs")
    func coolantLeakTruck() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.coolantLeak, truck: true)
        let trace = simulator.trace(until: 200, database: database)
        #expect(trace.maximum("ET1.EngCoolantTemp") > 110)
        #expect(trace.value("EFL_P1.EngCoolantLevel", at: 20) == 100)
        #expect(trace.value("EFL_P1.EngCoolantLevel", at: 200) < 60)
    }

    @Test("cargo-warming: the refrigerated cargo warms from 4 °C past 8 °C once the unit fails")
    func cargoWarming() throws {
        let database = try Fixtures.fleetTruck()
        var simulator = try Fixtures.simulator(.cargoWarming, truck: true)
        let trace = simulator.trace(until: 200, database: database)
        #expect(trace.undecoded == 0)
        let before = trace.values("ReeferStatus.CargoTemp", to: 30)
        #expect(!before.isEmpty && before.allSatisfy { abs($0 - 4) < 0.2 })
        #expect(trace.last("ReeferStatus.CargoTemp") > 8)
        #expect(Set(trace.labels("ReeferStatus.ReeferMode", to: 29)) == ["Cooling"])
        #expect(Set(trace.labels("ReeferStatus.ReeferMode", from: 31)) == ["Fault"])
        // The standard Cargo Ambient Temperature (SPN 169) tells the same story.
        #expect(trace.last("DD.CargoAmbientTemp") > 8)
    }

    @Test("crash: crash signal set during the drive, the vehicle stops and stays stopped")
    func crash() throws {
        let database = try Fixtures.demoSedan()
        var simulator = try Fixtures.simulator(.crash)
        let trace = simulator.trace(until: 60, database: database)
        #expect(trace.every("CrashStatus.CrashDetected", to: 39.9) { $0 == 0 })
        #expect(trace.every("VehicleMotion.VehicleSpeed", from: 35, to: 39.9) { $0 > 45 }, "moving at the moment of impact")
        let after = trace.values("CrashStatus.CrashDetected", from: 40.1)
        #expect(!after.isEmpty && after.allSatisfy { $0 == 1 })
        #expect(trace.every("CrashStatus.CrashSeverity", from: 40.1) { $0 > 0 })
        let stopped = trace.values("VehicleMotion.VehicleSpeed", from: 43)
        #expect(!stopped.isEmpty && stopped.allSatisfy { $0 == 0 })
        #expect(trace.every("EngineStatus.EngineSpeed", from: 45) { $0 == 0 }, "the engine stalls")
        #expect(trace.every("BodyStatus.DoorsLocked", from: 41) { $0 == 0 }, "the doors unlock for rescuers")
    }

    @Test("every scenario runs with both profiles, and every frame sent decodes", arguments: Scenario.allCases)
    func everyScenarioBothProfiles(scenario: Scenario) throws {
        for truck in [false, true] {
            let database = truck ? try Fixtures.fleetTruck() : try Fixtures.demoSedan()
            var simulator = try Fixtures.simulator(scenario, truck: truck)
            let trace = simulator.trace(until: 20, step: 0.5, database: database)
            #expect(trace.undecoded == 0)
            #expect(simulator.unencodableFrames == 0)
            #expect(trace.frames.count > (truck ? 1500 : 2500))
            // Every message the simulator announces is actually sent.
            for message in simulator.messages {
                #expect(trace.frames.contains { $0.id == message.id }, "\(message.name) is sent")
            }
        }
    }
}
