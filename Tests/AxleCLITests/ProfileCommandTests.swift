import AxleBase
import AxleTestSupport
import Testing

/// End-to-end: the built `axle` on the shipped profiles and on broken copies written here.
@Suite("axle profile", .serialized)
struct ProfileCommandTests {
    let profiles = AxleProcess.packageRoot + "/Firmware-Profiles"

    /// A copy of the demo sedan in a folder named `demo-sedan` (under a fresh temporary folder, which the caller
    /// removes), with `edit` applied to its profile.toml.
    func brokenSedan(_ edit: (String) -> String) throws -> String {
        let root = try AxleProcess.makeTemporaryDirectory()
        let directory = root + "/demo-sedan"
        _ = try ChildProcess.run("/bin/mkdir", [directory])
        let dbc = AxleProcess.readText(profiles + "/demo-sedan/demo_sedan.dbc")
        _ = try AxleProcess.writeFile(directory + "/demo_sedan.dbc", dbc)
        _ = try AxleProcess.writeFile(directory + "/profile.toml", edit(AxleProcess.readText(profiles + "/demo-sedan/profile.toml")))
        return directory
    }

    @Test("validate prints one line for a valid profile and exits 0")
    func validProfiles() throws {
        let sedan = try AxleProcess.run(["profile", "validate", profiles + "/demo-sedan"])
        #expect(sedan.status == 0, "\(sedan.stdout)\(sedan.stderr)")
        #expect(sedan.stdout == "demo-sedan 1.0.0: valid — 1 bus, 38 signals, 10 rules, 5 events, 7 commands\n")
        let truck = try AxleProcess.run(["profile", "validate", profiles + "/fleet-truck-j1939"])
        #expect(truck.status == 0, "\(truck.stdout)\(truck.stderr)")
        #expect(truck.stdout == "fleet-truck-j1939 2.3.1: valid — 1 bus, 20 signals, 8 rules, 5 events, 3 commands, 1 area\n")
    }

    @Test("validate lists every problem as path:line: error: message, then a count, and exits 1")
    func invalidProfile() throws {
        let directory = try brokenSedan { text in
            replacing(
                replacing(text, "platform = \"Demo Sedan PHEV\"", "platform = \"Demo Sedan PHEV\"\nvendor = \"Axle\""),
                "when = \"Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature > 110", "when = \"Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature = 110")
        }
        defer { removeTree(parent(directory)) }
        let result = try AxleProcess.run(["profile", "validate", directory])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stdout)")
        #expect(lines.first == "\(directory)/profile.toml:11: error: unknown key 'vendor' in [profile]; known keys: name, platform, firmware")
        #expect(lines.dropFirst().first?.hasPrefix("\(directory)/profile.toml:") == true)
        #expect(lines.dropFirst().first?.hasSuffix(": error: in 'when' at character 63: expected a comparison operator after 'Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature', found '=' (did you mean '=='?)") == true)
        #expect(lines.last == "2 errors: the profile in \(directory) cannot be used until the errors are fixed")
    }

    @Test("validate warns on a name VSS 5.0 does not have, a deprecated name and a unit other than VSS's, and exits 0")
    func vssWarnings() throws {
        let directory = try brokenSedan { text in
            replacing(
                replacing(text, "[signals]\n", """
                    [signals]
                    "Vehicle.Powertrain.CombustionEngine.Counter" = { source = "EngineStatus.EngineCounter" }
                    "Vehicle.OBD.Status.DTCCount" = { source = "EngineStatus.EngineChecksum" }

                    """),
                #""Vehicle.TraveledDistance" = { source = "VehicleMotion.Odometer", unit = "km" }"#,
                #""Vehicle.TraveledDistance" = { source = "VehicleMotion.Odometer", unit = "mi" }"#)
        }
        defer { removeTree(parent(directory)) }
        let result = try AxleProcess.run(["profile", "validate", directory])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "demo-sedan 1.0.0: valid — 1 bus, 40 signals, 10 rules, 5 events, 7 commands (4 warnings)", "\(result.stdout)")
        #expect(lines.dropFirst() == [
            "\(directory)/profile.toml:17: warning: 'Vehicle.Powertrain.CombustionEngine.Counter' is not a VSS 5.0 signal; a name of your own goes under Vehicle.Private, such as Vehicle.Private.Counter",
            "\(directory)/profile.toml:18: warning: 'Vehicle.OBD.Status.DTCCount' is deprecated in VSS 5.0 (\"v5.0 replaced with Vehicle.Diagnostics.DTCCount\"); use 'Vehicle.Diagnostics.DTCCount'",
            "\(directory)/profile.toml:22: warning: the unit \"mi\" of \"Vehicle.TraveledDistance\" differs from VSS 5.0's \"km\"; a consumer of VSS names expects km (Axle does not convert units: scale the DBC signal or use a name under Vehicle.Private)",
            "\(directory)/profile.toml:22: warning: the unit \"mi\" of \"Vehicle.TraveledDistance\" differs from the DBC's \"km\" for VehicleMotion.Odometer; Axle does not convert units, so values stay in km",
        ], "\(result.stdout)")
    }

    @Test("validate --json gives valid, the profile and every problem")
    func json() throws {
        let valid = try AxleProcess.run(["profile", "validate", "--json", profiles + "/demo-sedan"])
        #expect(valid.status == 0)
        #expect(valid.stdout.contains("\"valid\": true"))
        #expect(valid.stdout.contains("\"name\": \"demo-sedan\""))
        #expect(valid.stdout.contains("\"problems\": []"))

        let directory = try brokenSedan { replacing($0, "firmware = \"1.0.0\"", "firmware = 1") }
        defer { removeTree(parent(directory)) }
        let invalid = try AxleProcess.run(["profile", "validate", "--json", directory])
        #expect(invalid.status == 1)
        #expect(invalid.stdout.contains("\"valid\": false"))
        #expect(invalid.stdout.contains("\"profile\": null"))
        #expect(invalid.stdout.contains("""
                  "path": "\(directory)/profile.toml",
                  "line": 11,
                  "severity": "error",
                  "message": "'firmware' in [profile] must be a string, found the integer 1"
            """))
    }

    @Test("show prints the catalog, rules, events and commands, with labels as written")
    func show() throws {
        let result = try AxleProcess.run(["profile", "show", profiles + "/demo-sedan"])
        #expect(result.status == 0, "\(result.stderr)")
        for expected in [
            "demo-sedan 1.0.0 — Demo Sedan PHEV",
            "Vehicle.Speed", "VehicleMotion.VehicleSpeed", "km/h",
            "engine-statistics", "min/max/mean over 10s",
            "crash", "critical", "rising(Vehicle.Private.Safety.CrashDetected == \"Yes\")",
            "trunk.open", "TrunkCommand ×3 every 20ms", "Vehicle.Powertrain.Transmission.CurrentGear == \"P\"",
            "LockRequest=Unlock", "16…28 celsius", "21 celsius",
        ] {
            #expect(result.stdout.contains(expected), "\(expected)")
        }
        let json = try AxleProcess.run(["profile", "show", "--json", profiles + "/fleet-truck-j1939"])
        #expect(json.status == 0)
        #expect(json.stdout.contains("\"when\": \"(Vehicle.Speed == 0 and not inside(depots)) for 10min\""))
        #expect(json.stdout.contains("\"radius_m\": 500.0"))
    }

    @Test("show lists the features with their frames, and --json gives them as commands are given")
    func showFeatures() throws {
        let result = try AxleProcess.run(["profile", "show", profiles + "/demo-sedan"])
        #expect(result.status == 0, "\(result.stderr)")
        let features = result.stdout.firstRange(of: "\nFeatures\n").map { String(result.stdout[$0.upperBound...]) } ?? ""
        #expect(features.contains("performance-boost"), "no performance-boost under Features:\n\(result.stdout)")
        #expect(features.contains("heated-seats"), "no heated-seats under Features:\n\(result.stdout)")
        #expect(features.contains("FeatureCommand ×2 every 20ms"), "\(features)")
        #expect(features.contains("FeatureEnabled=$enabled FeatureId=1"), "\(features)")
        #expect(features.contains("FeatureEnabled=$enabled FeatureId=2"), "\(features)")

        let json = try AxleProcess.run(["profile", "show", "--json", profiles + "/demo-sedan"])
        #expect(json.status == 0, "\(json.stderr)")
        let document = try JSONValue.parse(json.stdout)
        let shown = document["features"]?.arrayValue ?? []
        #expect(shown.compactMap { $0["name"]?.stringValue } == ["performance-boost", "heated-seats"], "\(json.stdout)")
        #expect(shown.first?["message"]?.stringValue == "FeatureCommand")
        #expect(shown.first?["set"]?["FeatureEnabled"]?.stringValue == "$enabled")
        #expect(shown.first?["parameters"]?.arrayValue?.first?["name"]?.stringValue == "enabled")
        #expect(shown.first?["repeat"]?.intValue == 2)
    }

    @Test("show marks a catalog entry with range = \"ignore\" (a RANGE column, \"range\" in --json)")
    func showRangeIgnore() throws {
        let directory = try brokenSedan { text in
            replacing(text, #""Vehicle.Speed" = { source = "VehicleMotion.VehicleSpeed", unit = "km/h""#,
                      #""Vehicle.Speed" = { source = "VehicleMotion.VehicleSpeed", unit = "km/h", range = "ignore""#)
        }
        defer { removeTree(parent(directory)) }
        let result = try AxleProcess.run(["profile", "show", directory])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let speed = result.stdout.split(separator: "\n").first { $0.contains("VehicleMotion.VehicleSpeed") } ?? ""
        #expect(result.stdout.contains("STALE AFTER RANGE\n"), "\(result.stdout)")
        #expect(speed.hasSuffix(" ignore"), "\(speed)")
        let json = try AxleProcess.run(["profile", "show", "--json", directory])
        #expect(json.stdout.contains("\"range\": \"ignore\""), "\(json.stdout)")
        // The shipped profile checks every range: no RANGE column.
        let shipped = try AxleProcess.run(["profile", "show", profiles + "/demo-sedan"])
        #expect(!shipped.stdout.contains("RANGE\n"), "\(shipped.stdout)")
    }

    @Test("show refuses a broken profile with its problems")
    func showBroken() throws {
        let directory = try brokenSedan { replacing($0, "[buses.body]", "[buses.body]\nfd = \"no\"") }
        defer { removeTree(parent(directory)) }
        let result = try AxleProcess.run(["profile", "show", directory])
        #expect(result.status == 1)
        #expect(result.stdout.contains("profile.toml:14: error: 'fd' in [buses.body] must be true or false, found the string \"no\""))
    }

    /// These inputs overflowed the stack of `axle` (exit 139) before the parsers limited nesting.
    @Test("validate refuses 10,000 nested '(' or 100,000 'not' in a condition and 10,000 nested '[' with the place, and exits 1")
    func deepNesting() throws {
        let leaf = "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature > 110"
        let conditions = [
            String(repeating: "(", count: 10_000) + leaf + String(repeating: ")", count: 10_000),
            String(repeating: "not ", count: 100_000) + leaf,
        ]
        for (condition, position) in zip(conditions, [33, 32 * 4 + 1]) {
            let directory = try brokenSedan { text in replacing(text, "when = \"\(leaf)", "when = \"\(condition)") }
            defer { removeTree(parent(directory)) }
            let result = try AxleProcess.run(["profile", "validate", directory])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stdout.hasPrefix(
                "\(directory)/profile.toml:172: error: in 'when' at character \(position): nesting deeper than 32 levels"),
                "\(result.stdout.prefix(500))")
        }

        let directory = try brokenSedan { text in
            "deep = " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n" + text
        }
        defer { removeTree(parent(directory)) }
        let result = try AxleProcess.run(["profile", "validate", directory])
        #expect(result.status == 1, "\(result.stderr)")
        // The 33rd '[' is at column 8 + 32.
        #expect(result.stdout.hasPrefix("\(directory)/profile.toml:1:40: error: nesting deeper than 32 levels"), "\(result.stdout.prefix(500))")
    }

    @Test("a folder without a profile, and a missing argument")
    func usageErrors() throws {
        let missing = try AxleProcess.run(["profile", "validate", "/nonexistent"])
        #expect(missing.status == 1)
        #expect(missing.stdout.hasPrefix("/nonexistent/profile.toml: error: cannot read the file: No such file or directory"))
        let noArgument = try AxleProcess.run(["profile", "validate"])
        #expect(noArgument.status == 64)
    }
}

/// The folder that holds `path`.
private func parent(_ path: String) -> String {
    String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
}

/// `text` with the first occurrence of `target` replaced (no Foundation in the tests either).
private func replacing(_ text: String, _ target: String, _ replacement: String) -> String {
    var result = text
    guard let range = result.firstRange(of: target) else {
        Issue.record("'\(target)' is not in the text")
        return text
    }
    result.replaceSubrange(range, with: replacement)
    return result
}
