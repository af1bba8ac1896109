import AxleTestSupport
import DBC
import FirmwareProfile
import Testing
import TOML

/// The two profiles shipped in Firmware-Profiles/ load without errors or warnings and hold what they promise.
@Suite("Shipped profiles")
struct RealProfileTests {
    static let root = AxleProcess.packageRoot + "/Firmware-Profiles"

    @Test("both profiles validate with no errors and no warnings", arguments: ["demo-sedan", "fleet-truck-j1939"])
    func validates(_ name: String) {
        let report = ProfileLoader.validate(directory: Self.root + "/" + name)
        #expect(report.problems.isEmpty, "\(report.problems.map(\.description).joined(separator: "\n"))")
        #expect(report.profile?.name == name)
    }

    @Test("demo-sedan: VSS catalog, the overheat and crash events, and commands the simulator reacts to")
    func demoSedan() throws {
        let profile = try ProfileLoader.load(directory: Self.root + "/demo-sedan")
        #expect(profile.buses.map(\.name) == ["body"])
        #expect(profile.catalog.count == 38, "28 from the bus, 5 from the GNSS receiver only, 5 polled from the engine ECU")
        #expect(profile.location?.prefer == .gpsd && profile.location?.port == 2947)
        #expect(profile.catalogSignal(named: "Vehicle.CurrentLocation.Latitude")?.location == .latitude, "the bus's, and the receiver's while it has a fix")
        #expect(profile.catalog.allSatisfy { ProfileLoader.isVSSName($0.name) })
        let ect = try #require(profile.catalogSignal(named: "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"))
        #expect(ect.message == "EngineStatus" && ect.signal == "CoolantTemp" && ect.unit == "celsius")
        #expect(ect.staleAfterSeconds == 0.06, "3 × the 20 ms cycle time")
        // The tyre pressures share one multiplexed frame between four wheels.
        #expect(profile.catalogSignal(named: "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure")?.staleAfterSeconds == 3)

        let overheat = try #require(profile.events.first { $0.name == "engine-overheat" })
        #expect(overheat.condition == .sustained(
            .comparison(lhs: .signal("Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"), op: .greater, rhs: .number(110), hysteresis: 5),
            seconds: 10))
        #expect(overheat.priority == .alert && overheat.preTriggerSeconds == 30 && overheat.postTriggerSeconds == 10)
        let crash = try #require(profile.events.first { $0.name == "crash" })
        #expect(crash.priority == .critical && crash.preTriggerSeconds == 10 && crash.postTriggerSeconds == 5)
        #expect(crash.condition == .rising(.comparison(lhs: .signal("Vehicle.Private.Safety.CrashDetected"), op: .equal, rhs: .number(1), hysteresis: 0)))

        // The simulator's CommandBinding list: TrunkOpenRequest=1, LockRequest=1/2, ClimateRequest=1/0,
        // ChargingRequest=1/2.
        let commands = Dictionary(uniqueKeysWithValues: profile.commands.map { ($0.name, $0) })
        #expect(commands.keys.sorted() == ["charging.start", "charging.stop", "climate.precondition", "climate.stop", "doors.lock", "doors.unlock", "trunk.open"])
        #expect(commands["trunk.open"]?.signals == ["TrunkOpenRequest": .constant(1)])
        #expect(commands["trunk.open"]?.counterSignal == "TrunkCommandCounter")
        #expect(commands["doors.lock"]?.signals == ["LockRequest": .constant(1)])
        #expect(commands["doors.unlock"]?.signals == ["LockRequest": .constant(2)])
        #expect(commands["climate.precondition"]?.signals == [
            "ClimateRequest": .constant(1), "ClimateTargetTemp": .parameter("temperature"), "ClimateDuration": .parameter("duration"),
        ])
        #expect(commands["climate.stop"]?.signals == ["ClimateRequest": .constant(0)])
        #expect(commands["charging.start"]?.signals == ["ChargingRequest": .constant(1)])
        #expect(commands["charging.stop"]?.signals == ["ChargingRequest": .constant(2)])
        #expect(commands["trunk.open"].map { profile.text(of: $0.precondition!) } == "Vehicle.Speed == 0 and Vehicle.Powertrain.Transmission.CurrentGear == \"P\"")
    }

    @Test("fleet-truck-j1939: J1939 signals, depots with one at the route start, the three events")
    func fleetTruck() throws {
        let profile = try ProfileLoader.load(directory: Self.root + "/fleet-truck-j1939")
        #expect(profile.buses.first?.database.declaresJ1939 == true)
        let sources = Dictionary(uniqueKeysWithValues: profile.catalog.map { ($0.name, "\($0.message).\($0.signal)") })
        #expect(sources["Vehicle.Powertrain.CombustionEngine.Speed"] == "EEC1.EngSpeed")
        #expect(sources["Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"] == "ET1.EngCoolantTemp")
        #expect(sources["Vehicle.Speed"] == "CCVS1.WheelBasedVehicleSpeed")
        #expect(sources["Vehicle.Private.Trailer.CargoTemperature"] == "DD.CargoAmbientTemp")
        let depots = try #require(profile.areas.first { $0.name == "depots" })
        #expect(depots.circles.contains { $0.latitude == 48.18 && $0.longitude == 11.595 }, "the simulator's A9 route starts here")
        let events = Dictionary(uniqueKeysWithValues: profile.events.map { ($0.name, $0) })
        #expect(events["stopped-away-from-depot"]?.condition == .sustained(.and([
            .comparison(lhs: .signal("Vehicle.Speed"), op: .equal, rhs: .number(0), hysteresis: 0),
            .not(.inside(area: "depots")),
        ]), seconds: 600))
        // The stranded truck's event carries where it stands and how well that is known (the receiver's, through gpsd,
        // while it has a fix; VP's otherwise).
        #expect(events["stopped-away-from-depot"]?.capture.prefix(4) == [
            "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude",
            "Vehicle.CurrentLocation.HorizontalAccuracy", "Vehicle.CurrentLocation.GNSSReceiver.FixType",
        ])
        #expect(profile.location?.prefer == .gpsd)
        #expect(profile.catalogSignal(named: "Vehicle.CurrentLocation.Latitude")?.sourceDescription == "VP.Latitude")
        #expect(profile.catalogSignal(named: "Vehicle.CurrentLocation.Latitude")?.location == .latitude)
        #expect(events["cargo-temperature-out-of-range"]?.condition == .sustained(.or([
            .comparison(lhs: .signal("Vehicle.Private.Trailer.CargoTemperature"), op: .greater, rhs: .number(8), hysteresis: 0),
            .comparison(lhs: .signal("Vehicle.Private.Trailer.CargoTemperature"), op: .less, rhs: .number(-25), hysteresis: 0),
        ]), seconds: 60))
        #expect(events["engine-overheat"]?.priority == .alert)
    }
}
