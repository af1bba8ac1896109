import Collection
import FirmwareProfile
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Not a test of behaviour: prints how many values per second `ingest` takes for a realistic profile.
/// Run with `AXLE_COLLECTION_REPORT=1 swift test --filter CollectionThroughputReport` (a release build gives
/// realistic figures: `swift test -c release ...`).
@Suite(
    "collection throughput report",
    .enabled(if: getenv("AXLE_COLLECTION_REPORT") != nil, "set AXLE_COLLECTION_REPORT=1 to print it"))
struct CollectionThroughputReport {
    /// The demo sedan's catalog, rules and events as a profile would write them.
    static func demoProfile() -> FirmwareProfile {
        let names = [
            "Vehicle.Speed", "Vehicle.Powertrain.CombustionEngine.Speed", "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature",
            "Vehicle.Powertrain.FuelSystem.Pressure", "Vehicle.OBD.ThrottlePosition", "Vehicle.Powertrain.Transmission.CurrentGear",
            "Vehicle.TraveledDistance", "Vehicle.Acceleration.Longitudinal", "Vehicle.Powertrain.FuelSystem.Level",
            "Vehicle.LowVoltageBattery.CurrentVoltage", "Vehicle.LowVoltageSystemState", "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
            "Vehicle.Powertrain.TractionBattery.Charging.IsCharging", "Vehicle.Body.Trunk.Rear.IsOpen", "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked",
            "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", "Vehicle.Cabin.HVAC.AmbientAirTemperature", "Vehicle.Cabin.HVAC.IsAirConditioningActive",
            "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature", "Vehicle.Safety.CrashDetected", "Vehicle.Safety.CrashSeverity",
            "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude",
            "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure", "Vehicle.Chassis.Axle.Row1.Wheel.Right.Tire.Pressure",
            "Vehicle.Chassis.Axle.Row2.Wheel.Left.Tire.Pressure", "Vehicle.Chassis.Axle.Row2.Wheel.Right.Tire.Pressure",
        ]
        let catalog = names.map { catalogSignal($0, unit: "x", staleAfter: 2) }
        let speed = "Vehicle.Speed", rpm = names[1], coolant = names[2], accel = names[7], crash = names[19]
        return makeProfile(
            catalog: catalog,
            rules: [
                rule("basic", Array(names[0..<12]), .periodic(intervalSeconds: 1)),
                rule("body", Array(names[12..<21]) + Array(names[23...]), .onChange(deadband: 0, heartbeatSeconds: 60)),
                rule("motion", [speed, rpm, accel], .onChange(deadband: 1, heartbeatSeconds: 10)),
                rule("stats", [speed, rpm, coolant, accel], .aggregate(windowSeconds: 10, functions: [.min, .max, .mean])),
                rule("position", [names[21], names[22]], .periodic(intervalSeconds: 5)),
            ],
            events: [
                event("crash", compare(crash, .equal, 1), capture: [speed, accel, rpm], pre: 10, post: 5, priority: .critical),
                event("harsh-braking", compare(accel, .less, -6, hysteresis: 1), capture: [speed, accel], pre: 5, post: 5),
                event("overheat", .sustained(compare(coolant, .greater, 110, hysteresis: 5), seconds: 30), capture: [coolant], pre: 60),
                event("speeding", .and([compare(speed, .greater, 130, hysteresis: 5), .not(.inside(area: "depots"))]),
                      capture: [speed], pre: 10, post: 10),
                event("door-while-moving", .and([.rising(.truthy(signal: names[15])), compare(speed, .greater, 5)]),
                      capture: [speed, names[15]], pre: 2, post: 2),
            ],
            commands: [command("trunk.open", precondition: compare(speed, .lessOrEqual, 3))],
            areas: [Area(
                name: "depots", latitudeSignal: names[21], longitudeSignal: names[22],
                circles: [Area.Circle(latitude: 48.1, longitude: 11.5, radiusMetres: 300)], line: 1)])
    }

    @Test("ingests per second, demo-sedan profile")
    func throughput() {
        let profile = Self.demoProfile()
        let engine = CollectionEngine(profile: profile)
        // Values in the proportions of the demo DBC's traffic (fast motion signals, slower body and position
        // signals) and shaped like a drive: continuous signals wander, state signals change now and then.
        let count = 4_000_000
        var signals = [Int](repeating: 0, count: 4096)
        var values = [Double](repeating: 0, count: 4096)
        var current = [Double](repeating: 50, count: profile.catalog.count)
        current[7] = 0  // acceleration
        current[19] = 0  // crash
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        for index in signals.indices {
            let pick = random()
            let signal = pick < 0.6 ? Int(random() * 8) : pick < 0.95 ? 8 + Int(random() * 15) : 23 + Int(random() * 4)
            if signal < 12 || signal == 21 || signal == 22 {
                current[signal] = min(140, max(-5, current[signal] + random() - 0.5))
            } else if signal != 19 && random() < 0.01 {
                current[signal] = current[signal] == 0 ? 1 : 0
            }
            signals[index] = signal
            values[index] = current[signal]
        }
        var sampleCount = 0
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var time: Int64 = 1_700_000_000_000_000
        for index in 0..<count {
            let slot = index & 4095
            time += 20  // 50,000 values per second of frame time
            engine.ingest(signal: signals[slot], timeMicros: time, value: values[slot])
            if slot == 4095 {
                engine.advance(toMicros: time)
                engine.drainSamples { _ in sampleCount += 1 }
                _ = engine.drainEvents()
            }
        }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        let rate = Double(count) / seconds
        print("collection: \(Int(rate)) ingests/s (\(Int(seconds * 1e9 / Double(count))) ns each), "
            + "\(sampleCount) samples, \(engine.statistics.events) events, \(profile.catalog.count) signals, "
            + "\(profile.rules.count) rules, \(profile.events.count) events")
        #expect(sampleCount > 0)
    }
}
