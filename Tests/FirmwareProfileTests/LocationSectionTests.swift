import FirmwareProfile
import Testing

/// `[location]`: gpsd's address and the catalog signals the receiver feeds, with file:line errors.
@Suite("Profile [location]")
struct LocationSectionTests {
    /// The line `[location]` lands on after `fixtureHead`.
    private var sectionLine: Int { fixtureHead.split(separator: "\n", omittingEmptySubsequences: false).count }

    @Test("receiver-only names join the catalog with the quantity's unit; a name the bus has too is shared")
    func validSection() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [location]
            gpsd = "10.0.0.7:2948"
            stale-after = "5s"

            [location.signals]
            "Vehicle.CurrentLocation.Latitude" = "latitude"
            Vehicle.CurrentLocation.Altitude = "altitude"
            "Vehicle.CurrentLocation.GNSSReceiver.FixType" = "fix-mode"
            "Vehicle.Private.CurrentLocation.Speed" = "speed"

            [areas.depot]
            latitude = "Vehicle.CurrentLocation.Latitude"
            longitude = "Vehicle.CurrentLocation.Longitude"
            circles = [ { latitude = 48.1, longitude = 11.5, radius = 300 } ]

            [[rules]]
            name = "position"
            signals = ["Vehicle.CurrentLocation.Altitude", "Vehicle.Private.CurrentLocation.Speed"]
            periodic = "1s"
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.problems.isEmpty, "\(summary(report))")
        let profile = try #require(report.profile)
        let location = try #require(profile.location)
        #expect(location.host == "10.0.0.7" && location.port == 2948 && location.prefer == .gpsd)
        #expect(location.signals.map(\.quantity) == [.latitude, .altitude, .fixMode, .speed])
        let latitude = try #require(profile.catalogSignal(named: "Vehicle.CurrentLocation.Latitude"))
        #expect(latitude.bus == "can" && latitude.location == .latitude, "shared with the bus")
        let altitude = try #require(profile.catalogSignal(named: "Vehicle.CurrentLocation.Altitude"))
        #expect(altitude.bus == "" && altitude.unit == "m" && altitude.staleAfterSeconds == 5 && altitude.location == .altitude)
        #expect(altitude.sourceDescription == "gpsd altitude")
        #expect(profile.catalogSignal(named: "Vehicle.Private.CurrentLocation.Speed")?.unit == "km/h")
        #expect(profile.catalogSignal(named: "Vehicle.CurrentLocation.GNSSReceiver.FixType")?.unit == "")
    }

    @Test("the default address, and every mistake at its line")
    func mistakes() throws {
        let line = sectionLine
        let found = try problems(of: fixtureHead + """
            [location]
            gpsd = "gpsd host:x"
            prefer = "gps"
            stale-after = "0s"
            colour = "red"

            [location.signals]
            "Vehicle.CurrentLocation.Heading" = "track"
            "Vehicle.Speed" = "speed"
            "Vehicle.CurrentLocation.Longitude" = 3
            "vehicle.gps" = "latitude"
            "Vehicle.CurrentLocation.HorizontalAccuracy" = "horizontal-accuracy"
            """)
        #expect(found == [
            "profile.toml:\(line + 1): error: 'gpsd' in [location] is \"gpsd host:x\", not an address: write \"HOST:PORT\" with a port from 1 to 65535, such as \"127.0.0.1:2947\" (gpsd's default)",
            "profile.toml:\(line + 2): error: 'prefer' in [location] is \"gps\"; write \"gpsd\" (the default: the receiver's value while it has a fix, the bus's otherwise) or \"can\" (the bus's value always)",
            "profile.toml:\(line + 3): error: 'stale-after' in [location] must be longer than 0",
            "profile.toml:\(line + 4): error: unknown key 'colour' in [location]; known keys: gpsd, prefer, stale-after, signals",
            "profile.toml:\(line + 7): error: \"Vehicle.CurrentLocation.Heading\" in [location.signals] is \"track\", which gpsd does not give; the quantities are latitude, longitude, altitude, heading, speed, horizontal-accuracy, vertical-accuracy, fix-mode",
            "profile.toml:\(line + 9): error: \"Vehicle.CurrentLocation.Longitude\" in [location.signals] must name what the receiver gives it (one of latitude, longitude, altitude, heading, speed, horizontal-accuracy, vertical-accuracy, fix-mode), found the integer 3",
            "profile.toml:\(line + 10): error: 'vehicle.gps' is not a VSS name: it must be 'Vehicle' followed by '.UpperCamel' segments, such as Vehicle.CurrentLocation.Latitude",
        ])
        let defaults = try ProfileFixture(fixtureHead + """
            [location.signals]
            "Vehicle.CurrentLocation.Heading" = "heading"
            """)
        defer { defaults.remove() }
        let location = try #require(defaults.validate().profile?.location)
        #expect(location.host == "127.0.0.1" && location.port == 2947)
        #expect(defaults.validate().profile?.catalogSignal(named: "Vehicle.CurrentLocation.Heading")?.staleAfterSeconds == 3)
    }

    @Test("a name the bus gives in another unit is an error; an unknown VSS name a warning")
    func unitsAndNames() throws {
        let line = sectionLine
        let found = try problems(of: fixtureHead + """
            [location.signals]
            "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature" = "altitude"
            "Vehicle.CurrentLocation.Speed" = "speed"
            """)
        #expect(found.count == 2)
        #expect(found.first == "profile.toml:\(line + 1): error: \"Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature\" is in [signals] with unit \"celsius\" (line 12), but the receiver gives altitude in \"m\": one name cannot carry two units; name the receiver's value under another name")
        #expect(found.last?.hasPrefix("profile.toml:\(line + 2): warning: 'Vehicle.CurrentLocation.Speed' is not a VSS 5.0 signal") == true)
    }

    @Test("addresses: host and port, IPv6 in brackets, the default port")
    func addresses() {
        #expect(LocationSource.address("127.0.0.1:2947")! == ("127.0.0.1", 2947))
        #expect(LocationSource.address("gpsd.local")! == ("gpsd.local", 2947))
        #expect(LocationSource.address("[::1]:3000")! == ("::1", 3000))
        #expect(LocationSource.address("host:0") == nil)
        #expect(LocationSource.address("::1") == nil)
        #expect(LocationSource.address(":2947") == nil)
    }
}
