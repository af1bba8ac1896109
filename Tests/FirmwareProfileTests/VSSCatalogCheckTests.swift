import FirmwareProfile
import Testing

/// `axle profile validate` checks catalog names against COVESA VSS 5.0 (third_party/vss-5.0): a name that is not in
/// the specification (outside Vehicle.Private), a deprecated name, and a unit other than the specification's are
/// warnings, each on the catalog entry's line.
@Suite("VSS 5.0 catalog checks")
struct VSSCatalogCheckTests {
    /// A DBC with one signal per unit the tests need, including an odometer in metres where VSS counts kilometres.
    static let dbc = """
        VERSION ""

        NS_ :

        BS_:

        BU_: ECU TCU

        BO_ 256 Motion: 8 ECU
         SG_ Speed : 0|16@1+ (0.01,0) [0|655.35] "km/h" TCU
         SG_ Gear : 16|4@1+ (1,0) [0|15] "" TCU
         SG_ Temp : 24|8@1+ (1,-40) [-40|215] "degC" TCU

        BO_ 257 Distance: 8 ECU
         SG_ Odometer : 0|32@1+ (5,0) [0|21055406000] "m" TCU

        """

    /// A profile whose catalog holds `entries` (written from line 10 on) and nothing else.
    static func profile(_ entries: String) -> String {
        """
        [profile]
        name = "test-profile"
        platform = "Test rig"
        firmware = "0.1"

        [buses.can]
        dbc = "test.dbc"

        [signals]
        \(entries)

        """
    }

    static func check(_ entries: String) throws -> [String] {
        try problems(of: profile(entries), dbc: dbc)
    }

    @Test("a made-up name is a warning that says where names of one's own go")
    func madeUpName() throws {
        let found = try Self.check(#""Vehicle.Cabin.Teleporter.IsActive" = { source = "Motion.Gear" }"#)
        #expect(found == [
            "profile.toml:10: warning: 'Vehicle.Cabin.Teleporter.IsActive' is not a VSS 5.0 signal; a name of your own goes under Vehicle.Private, such as Vehicle.Private.IsActive",
        ])
    }

    @Test("a near miss of a VSS name gets a did-you-mean")
    func nearMiss() throws {
        let found = try Self.check(#""Vehicle.Powertrain.CombustionEngine.Sped" = { source = "Motion.Speed", unit = "km/h" }"#)
        #expect(found.count == 1)
        #expect(found.first?.contains("'Vehicle.Powertrain.CombustionEngine.Sped' is not a VSS 5.0 signal; did you mean 'Vehicle.Powertrain.CombustionEngine.Speed'?") == true, "\(found)")
    }

    @Test("the VSS 4 odometer name that VSS never had is a warning")
    func traveledDistanceHighRes() throws {
        let found = try Self.check(#""Vehicle.TraveledDistanceHighRes" = { source = "Distance.Odometer", unit = "m" }"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("profile.toml:10: warning: 'Vehicle.TraveledDistanceHighRes' is not a VSS 5.0 signal") == true, "\(found)")
    }

    @Test("names under Vehicle.Private are the author's own and are not checked")
    func privateNames() throws {
        let found = try Self.check("""
            "Vehicle.Private.Cabin.Teleporter.IsActive" = { source = "Motion.Gear" }
            "Vehicle.Private.Odometer" = { source = "Distance.Odometer", unit = "m" }
            """)
        #expect(found == [])
    }

    @Test("a deprecated name is a warning that gives the replacement VSS names")
    func deprecatedWithReplacement() throws {
        let found = try Self.check(#""Vehicle.Powertrain.CombustionEngine.ECT" = { source = "Motion.Temp", unit = "celsius" }"#)
        #expect(found == [
            "profile.toml:10: warning: 'Vehicle.Powertrain.CombustionEngine.ECT' is deprecated in VSS 5.0 (\"v5.0 moved to EngineCoolant.Temperature\"); use 'Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature'",
        ])
    }

    @Test("a deprecated name without a named replacement gives VSS's note")
    func deprecatedWithoutReplacement() throws {
        let found = try Self.check(#""Vehicle.OBD.Speed" = { source = "Motion.Speed", unit = "km/h" }"#)
        #expect(found == ["profile.toml:10: warning: 'Vehicle.OBD.Speed' is deprecated in VSS 5.0 (\"v5.0 OBD-branch is deprecated.\")"])
    }

    @Test("a unit other than VSS's is a warning, even when it matches the DBC")
    func wrongUnit() throws {
        let found = try Self.check(#""Vehicle.TraveledDistance" = { source = "Distance.Odometer", unit = "m" }"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("profile.toml:10: warning: the unit \"m\" of \"Vehicle.TraveledDistance\" differs from VSS 5.0's \"km\"") == true, "\(found)")
    }

    @Test("a unit on a signal VSS gives none is a warning")
    func unitWhereVSSHasNone() throws {
        let found = try Self.check(#""Vehicle.Powertrain.Transmission.CurrentGear" = { source = "Motion.Temp", unit = "celsius" }"#)
        #expect(found == [
            "profile.toml:10: warning: VSS 5.0 gives \"Vehicle.Powertrain.Transmission.CurrentGear\" no unit, but the profile says \"celsius\"; leave 'unit' out",
        ])
    }

    @Test("the DBC spelling of VSS's unit is the same unit")
    func unitSynonyms() throws {
        let found = try Self.check("""
            "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature" = { source = "Motion.Temp", unit = "degC" }
            "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
            """)
        #expect(found == [])
    }

    @Test("a branch is not a signal")
    func branch() throws {
        let found = try Self.check(#""Vehicle.Cabin.HVAC" = { source = "Motion.Temp", unit = "celsius" }"#)
        #expect(found == ["profile.toml:10: warning: 'Vehicle.Cabin.HVAC' is a VSS 5.0 branch, not a signal; name one of its signals"])
    }

    @Test("the shipped table is VSS 5.0, whole, with the names commands and tests rely on")
    func table() throws {
        #expect(VSSSpecification.version == "5.0")
        // 1,411 rows in COVESA's export, of which 330 are branches.
        #expect(VSSSpecification.signalNames.count == 1_081)
        for name in [
            "Vehicle.Speed", "Vehicle.Powertrain.Transmission.CurrentGear", "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen",
            "Vehicle.LowVoltageSystemState", "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", "Vehicle.Body.Trunk.Rear.IsOpen",
        ] {
            let entry = try #require(VSSSpecification.entry(named: name), "\(name)")
            #expect(entry.deprecation == nil, "\(name)")
        }
        let coolant = try #require(VSSSpecification.entry(named: "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"))
        #expect(coolant.unit == "celsius" && coolant.kind == .sensor)
        #expect(VSSSpecification.entry(named: "Vehicle.TraveledDistanceHighRes") == nil)
    }
}
