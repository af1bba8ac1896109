import AxleBase
import AxleTestSupport
import FirmwareProfile
import Testing
import TOML

/// Broken profiles, each written to a temporary folder: every problem is reported at its file and line.
@Suite("Profile loader")
struct ProfileLoaderTests {
    @Test("the fixture itself is valid, with the defaults applied")
    func fixtureIsValid() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [[rules]]
            name = "speed"
            signals = ["Vehicle.Speed"]
            periodic = "1s"
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.problems.isEmpty, "\(summary(report))")
        let profile = try #require(report.profile)
        #expect(profile.buses.map(\.name) == ["can"])
        #expect(profile.buses.first?.isFD == false)
        #expect(profile.catalog.count == 5)
        let speed = try #require(profile.catalogSignal(named: "Vehicle.Speed"))
        #expect(speed.bus == "can" && speed.message == "Motion" && speed.signal == "Speed" && speed.unit == "km/h")
        #expect(speed.line == 10)
        #expect(speed.staleAfterSeconds == 0.3, "3 × the 100 ms cycle time")
        #expect(profile.catalogSignal(named: "Vehicle.CurrentLocation.Latitude")?.staleAfterSeconds == 5, "no cycle time: 5 s")
        #expect(profile.catalogSignal(named: "Vehicle.Powertrain.Transmission.CurrentGear")?.unit == "")
        #expect(profile.rules == [CollectionRule(name: "speed", signals: ["Vehicle.Speed"], mode: .periodic(intervalSeconds: 1), enabled: true, line: 15)])
    }

    @Test("a TOML syntax error is reported with line and column, and nothing else is checked")
    func syntaxError() throws {
        let found = try problems(of: fixtureHead + "[[rules]]\nname = motion\n")
        #expect(found == ["profile.toml:16: error: 'motion' is not a value: strings must be quoted, as in \"motion\""])
        let fixture = try ProfileFixture("[profile]\nname = \"x\"\nname = \"y\"\n")
        defer { fixture.remove() }
        #expect(fixture.validate().problems.first?.column == 0)
        #expect(fixture.validate().problems.first?.description == "\(fixture.profilePath):3: error: duplicate key 'name': already defined at line 2")
    }

    @Test("a folder without profile.toml says what a profile folder holds")
    func missingFile() {
        let report = ProfileLoader.validate(directory: "/nonexistent/profile")
        #expect(report.profile == nil)
        #expect(report.problems.map(\.description) == [
            "/nonexistent/profile/profile.toml: error: cannot read the file: No such file or directory; a profile folder holds profile.toml and its DBC files"
        ])
    }

    @Test("[profile]: missing keys, a typo, and a name that is not the folder's")
    func header() throws {
        let found = try problems(of: """
            [profile]
            name = "other-name"
            platfrom = "Test rig"
            firmware = ""

            [buses.can]
            dbc = "test.dbc"

            [signals]
            "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
            """)
        #expect(found == [
            "profile.toml:1: error: missing required key 'platform' in [profile]",
            "profile.toml:2: error: the profile name 'other-name' does not match its folder 'test-profile'; the agent finds profiles by folder, so rename one of them",
            "profile.toml:3: error: unknown key 'platfrom' in [profile] (did you mean 'platform'?); known keys: name, platform, firmware",
            "profile.toml:4: error: 'firmware' in [profile] is empty",
        ])
    }

    @Test("unknown sections and keys at the top level are named with the known ones")
    func unknownSection() throws {
        let found = try problems(of: fixtureHead + "[[rule]]\nname = \"x\"\n")
        #expect(found == ["profile.toml:15: error: unknown key 'rule' in profile.toml (did you mean 'rules'?); known keys: profile, buses, signals, location, diagnostics, areas, rules, events, commands, features"])
    }

    @Test("a missing DBC file is reported at the dbc line")
    func missingDBC() throws {
        let found = try problems(of: fixtureHead, dbc: nil)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("profile.toml:7: error: cannot read the DBC file ") == true)
        #expect(found.first?.hasSuffix("/test-profile/test.dbc of bus 'can': No such file or directory; 'dbc' is relative to the profile folder") == true)
    }

    @Test("a malformed DBC reports the DBC parser's own file:line:column, and the catalog is not checked against it")
    func malformedDBC() throws {
        let fixture = try ProfileFixture(fixtureHead, dbc: "BO_ 1 M: 8 X\n SG_ S : 0|8@3+ (1,0) [0|0] \"\" X\n")
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(summary(report) == [
            "profile.toml:7: error: the DBC file of bus 'can' cannot be used; its error is reported at test.dbc:2",
            "test.dbc:2: error: byte order of signal S must be @1 (Intel) or @0 (Motorola)",
        ])
        #expect(report.problems.last?.description.hasSuffix("test.dbc:2:14: error: byte order of signal S must be @1 (Intel) or @0 (Motorola)") == true)
    }

    @Test("DBC warnings are warnings: the profile still loads")
    func dbcWarnings() throws {
        let fixture = try ProfileFixture(fixtureHead, dbc: fixtureDBC + "VAL_ 999 Missing 0 \"Off\" ;\n")
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.profile != nil)
        #expect(report.errors.isEmpty)
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.path.hasSuffix("test.dbc") == true)
        #expect(report.warnings.first?.line == fixtureDBC.split(separator: "\n", omittingEmptySubsequences: false).count)
    }

    @Test("catalog: VSS name shape, unknown message, signal and bus, units, duplicates, one DBC signal twice")
    func catalog() throws {
        let found = try problems(of: """
            [profile]
            name = "test-profile"
            platform = "Test rig"
            firmware = "0.1"

            [buses.can]
            dbc = "test.dbc"

            [signals]
            "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
            "vehicle.speed2" = { source = "Motion.Speed", unit = "km/h" }
            "Vehicle.Private.Foo" = { source = "Moton.Speed", unit = "km/h" }
            "Vehicle.Private.Bar" = { source = "Motion.Sped", unit = "km/h" }
            "Vehicle.Private.Baz" = { source = "Motion.Temp" }
            "Vehicle.Private.Qux" = { source = "Motion.Gear", unit = "" }
            "Vehicle.Private.Quux" = { source = "Motion.Speed", unit = "km/h", bus = "body" }
            "Vehicle.Private.Corge" = { source = "MotionSpeed", unit = "km/h" }
            Vehicle.Speed = { source = "Motion.Speed", unit = "km/h" }
            "Vehicle.Private.Grault" = { source = "Motion.Temp", unit = "mph", stale-after = "0s" }
            """)
        #expect(found == [
            "profile.toml:11: error: 'vehicle.speed2' is not a VSS name: it must be 'Vehicle' followed by '.UpperCamel' segments, such as Vehicle.Speed or Vehicle.Private.MyValue",
            "profile.toml:11: warning: \"vehicle.speed2\" reads the same DBC signal (Motion.Speed on bus 'can') as \"Vehicle.Speed\" (line 10)",
            "profile.toml:12: error: bus 'can' (test.dbc) has no message 'Moton'; did you mean 'Motion'?",
            "profile.toml:13: error: message Motion has no signal 'Sped'; did you mean 'Speed'?",
            "profile.toml:14: error: catalog entry \"Vehicle.Private.Baz\" needs a unit: the DBC gives \"degC\" for Motion.Temp; write the VSS unit, such as unit = \"celsius\"",
            "profile.toml:15: error: 'unit' of \"Vehicle.Private.Qux\" is empty; leave the key out for a signal without a unit (a state or a flag)",
            "profile.toml:16: error: unknown bus 'body' in catalog entry \"Vehicle.Private.Quux\"; the buses are can",
            "profile.toml:17: error: 'source' of \"Vehicle.Private.Corge\" must be \"Message.Signal\" from the DBC, found \"MotionSpeed\"",
            "profile.toml:18: error: catalog name 'Vehicle.Speed' is defined twice: first at line 10",
            "profile.toml:19: error: 'stale-after' of \"Vehicle.Private.Grault\" must be longer than 0",
            "profile.toml:19: warning: the unit \"mph\" of \"Vehicle.Private.Grault\" differs from the DBC's \"degC\" for Motion.Temp; Axle does not convert units, so values stay in degC",
            "profile.toml:19: warning: \"Vehicle.Private.Grault\" reads the same DBC signal (Motion.Temp on bus 'can') as \"Vehicle.Private.Baz\" (line 14)",
        ])
    }

    @Test("rules: duplicate names, unknown signals, missing and double modes, bad durations and functions")
    func rules() throws {
        let found = try problems(of: fixtureHead + """
            [[rules]]
            name = "a"
            signals = ["Vehicle.Sped"]
            periodic = "1s"

            [[rules]]
            name = "a"
            signals = ["Vehicle.Speed"]

            [[rules]]
            name = "b"
            signals = ["Vehicle.Speed"]
            periodic = "1s"
            on-change = { deadband = 1 }

            [[rules]]
            name = "c"
            signals = []
            periodic = "0s"

            [[rules]]
            name = "d"
            signals = ["Vehicle.Speed"]
            aggregate = { window = "10s", functions = ["min", "median"] }

            [[rules]]
            name = "e"
            signals = ["Vehicle.Speed"]
            on-change = { deadband = -1, heartbeat = "soon" }
            """)
        #expect(found == [
            "profile.toml:17: error: 'signals' in [rules] #1: unknown signal \"Vehicle.Sped\": it is not in the [signals] catalog; did you mean \"Vehicle.Speed\"?",
            "profile.toml:20: error: rule 'a' needs a mode: periodic = \"1s\", on-change = { deadband = … } or aggregate = { window = \"10s\", functions = […] }",
            "profile.toml:21: error: rule name 'a' is used twice: first at line 15",
            "profile.toml:24: error: rule 'b' has 2 modes (periodic, on-change); give exactly one",
            "profile.toml:32: error: 'signals' in [rules] #4 is empty; list catalog names such as \"Vehicle.Speed\"",
            "profile.toml:33: error: 'periodic' of rule 'c' must be longer than 0",
            "profile.toml:38: error: unknown aggregate function 'median'; the functions are min, max, mean, count, last",
            "profile.toml:43: error: 'heartbeat' in 'on-change' of [rules] #6 must be a duration, \(DurationSyntax.forms), found the string \"soon\"",
            "profile.toml:43: error: 'deadband' in 'on-change' of [rules] #6 must not be negative",
        ])
    }

    @Test("events: condition errors at their character, unknown capture names, windows, priority")
    func events() throws {
        let found = try problems(of: fixtureHead + """
            [[events]]
            name = "overheat"
            when = "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature > 110 hysteresis 5 for 10s"
            priority = "alert"
            capture = ["Vehicle.Speed", "Vehicle.Spede"]
            pre-trigger = "11min"
            post-trigger = "10s"

            [[events]]
            name = "parked"
            when = "Vehicle.Speed = 0"
            priority = "urgent"

            [[events]]
            name = "overheat"
            when = "Vehicle.Powertrain.Transmission.CurrentGear == \\"X\\""
            priority = "bulk"
            """)
        #expect(found == [
            "profile.toml:19: error: 'capture' in [events] #1: unknown signal \"Vehicle.Spede\": it is not in the [signals] catalog; did you mean \"Vehicle.Speed\"?",
            "profile.toml:20: error: 'pre-trigger' in [events] #1 is 660s; capture windows are at most 600s (10min)",
            "profile.toml:25: error: in 'when' at character 15: expected a comparison operator after 'Vehicle.Speed', found '=' (did you mean '=='?)",
            "profile.toml:26: error: 'priority' in [events] #2 must be one of critical, alert, telemetry, bulk, found \"urgent\"",
            "profile.toml:29: error: event name 'overheat' is used twice: first at line 15",
            "profile.toml:30: error: in 'when' at character 48: signal 'Vehicle.Powertrain.Transmission.CurrentGear' has no value labelled \"X\"; its labels are \"P\", \"R\", \"N\", \"D\"",
        ])
    }

    @Test("event defaults: capture is the condition's signals, windows are 0, enabled")
    func eventDefaults() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [[events]]
            name = "drive"
            when = "Vehicle.Powertrain.Transmission.CurrentGear == \\"D\\" and Vehicle.Speed > 0"
            priority = "telemetry"
            """)
        defer { fixture.remove() }
        let event = try #require(fixture.validate().profile?.events.first)
        #expect(event.capture == ["Vehicle.Powertrain.Transmission.CurrentGear", "Vehicle.Speed"])
        #expect(event.preTriggerSeconds == 0 && event.postTriggerSeconds == 0 && event.enabled)
        #expect(event.condition == .and([
            .comparison(lhs: .signal("Vehicle.Powertrain.Transmission.CurrentGear"), op: .equal, rhs: .number(3), hysteresis: 0),
            .comparison(lhs: .signal("Vehicle.Speed"), op: .greater, rhs: .number(0), hysteresis: 0),
        ]))
        #expect(event.conditionText == "Vehicle.Powertrain.Transmission.CurrentGear == \"D\" and Vehicle.Speed > 0")
        #expect(event.line == 15)
    }

    @Test("areas: catalog coordinates, circles, names; inside() needs a defined area")
    func areas() throws {
        let found = try problems(of: fixtureHead + """
            [areas.depots]
            latitude = "Vehicle.CurrentLocation.Latitude"
            longitude = "Vehicle.Location.Longitude"
            circles = [ { latitude = 48.1, longitude = 11.5, radius = 500 }, { latitude = 95, longitude = 11.5, radius = 0 } ]

            [[events]]
            name = "away"
            when = "not inside(depot)"
            priority = "alert"
            """)
        #expect(found == [
            "profile.toml:17: error: 'longitude' in [areas.depots]: unknown signal \"Vehicle.Location.Longitude\": it is not in the [signals] catalog",
            "profile.toml:18: error: latitude 95.0 in [areas.depots] circle #2 is outside -90…90",
            "profile.toml:18: error: radius in [areas.depots] circle #2 must be more than 0 metres",
            "profile.toml:22: error: in 'when' at character 12: unknown area 'depot'; the areas are depots (did you mean 'depots'?)",
        ])
    }

    @Test("commands: unknown message and signals, parameters, counter, repeat, labels, conditions")
    func commands() throws {
        let found = try problems(of: fixtureHead + """
            [commands."a.one"]
            message = "Comand"
            set = { Request = 1 }

            [commands."a.two"]
            message = "Command"
            set = { Requets = 1, Target = "$temp", Request = "Goo" }
            counter = "Count"
            repeat = 0

            [commands."a.three"]
            message = "Command"
            set = { Request = "Go", Target = "$temperature" }
            precondition = "Vehicle.Speed == 0 and"
            confirm = "Vehicle.Speed < 5 hysteresis 1 or"

            [commands."a.three".parameters]
            temperature = { min = 16, max = 28, default = 30 }
            unused = { min = 0, max = 1, default = 0 }
            """)
        #expect(found == [
            "profile.toml:16: error: bus 'can' (test.dbc) has no message 'Comand'; did you mean 'Command'?",
            "profile.toml:21: error: message Command has no signal 'Requets'; did you mean 'Request'?",
            "profile.toml:21: error: 'Target' uses the parameter '$temp', which command 'a.two' does not declare; add it under [commands.\"a.two\".parameters]",
            "profile.toml:21: error: signal Request has no value labelled \"Goo\"; its labels are \"None\", \"Go\", \"Stop\"",
            "profile.toml:22: error: the counter 'Count' is not a signal of message Command; its signals are Request, Target, Counter",
            "profile.toml:23: error: 'repeat' of command 'a.two' must be at least 1",
            "profile.toml:28: error: in 'precondition' at character 23: expected a condition, found the end of the condition",
            "profile.toml:29: error: in 'confirm' at character 34: expected a condition, found the end of the condition",
            "profile.toml:32: error: the default 30 of parameter 'temperature' is outside its range 16…28",
            "profile.toml:33: warning: parameter 'unused' of command 'a.three' is not used in 'set'",
        ])
    }

    @Test("a command is encoded for its defaults and for each parameter's minimum and maximum")
    func encodability() throws {
        let found = try problems(of: fixtureHead + """
            [commands."climate.set"]
            message = "Command"
            set = { Request = "Go", Target = "$temperature" }

            [commands."climate.set".parameters]
            temperature = { min = 5, max = 35 }

            [commands."request.all"]
            message = "Command"
            set = { Request = 4 }
            """)
        #expect(found == [
            "profile.toml:15: error: command 'climate.set' cannot be encoded with temperature = 5 (defaults, minimum for required parameters): value 5 for signal Target is outside its range [10, 30] degC",
            "profile.toml:15: error: command 'climate.set' cannot be encoded with temperature = 35 (its maximum): value 35 for signal Target is outside its range [10, 30] degC",
            "profile.toml:22: error: command 'request.all' cannot be encoded: value 4 for signal Request is outside its range [0, 3]",
        ])
    }

    @Test("a valid command resolves labels, parameters, counter and defaults")
    func validCommand() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [commands."climate.set"]
            message = "Command"
            set = { Request = "Go", Target = "$temperature" }
            counter = "Counter"
            precondition = "Vehicle.Powertrain.Transmission.CurrentGear == \\"P\\""
            confirm = "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature >= 20"

            [commands."climate.set".parameters]
            temperature = { min = 16, max = 28, default = 21, unit = "celsius" }
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.problems.isEmpty, "\(summary(report))")
        let command = try #require(report.profile?.commands.first)
        #expect(command == CommandDefinition(
            name: "climate.set", bus: "can", message: "Command",
            signals: ["Request": .constant(1), "Target": .parameter("temperature")],
            parameters: [CommandParameter(name: "temperature", minimum: 16, maximum: 28, defaultValue: 21, unit: "celsius")],
            counterSignal: "Counter", repeats: 1, intervalSeconds: 0.01,
            precondition: .comparison(lhs: .signal("Vehicle.Powertrain.Transmission.CurrentGear"), op: .equal, rhs: .number(0), hysteresis: 0),
            confirmation: .comparison(lhs: .signal("Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"), op: .greaterOrEqual, rhs: .number(20), hysteresis: 0),
            timeoutSeconds: 5, line: 15, preconditionText: "Vehicle.Powertrain.Transmission.CurrentGear == \"P\"",
            confirmationText: "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature >= 20"))
    }

    @Test("a feature switches on and off with $enabled; one without it is an error that says what to declare")
    func features() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [features."performance-boost"]
            message = "Command"
            set = { Request = "$enabled" }
            counter = "Counter"

            [features."performance-boost".parameters]
            enabled = { min = 0, max = 1 }

            [features.heated-seats]
            message = "Command"
            set = { Request = 1 }
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.profile == nil)
        let messages = report.problems.map(\.message)
        #expect(messages.count == 1, "\(summary(report))")
        #expect(messages.first?.contains("feature 'heated-seats' must switch on and off with the parameter 'enabled'") == true)

        let valid = try ProfileFixture(fixtureHead + """
            [features."performance-boost"]
            message = "Command"
            set = { Request = "$enabled" }

            [features."performance-boost".parameters]
            enabled = { min = 0, max = 1 }
            """)
        defer { valid.remove() }
        let loaded = valid.validate()
        #expect(loaded.problems.isEmpty, "\(summary(loaded))")
        #expect(loaded.profile?.features.map(\.name) == ["performance-boost"])
        #expect(loaded.profile?.features.first?.action.signals == ["Request": .parameter("enabled")])
    }

    @Test("a feature's precondition, confirm or timeout is an error: nothing gates a feature's frames or waits for them")
    func featureKeysTheAgentWouldIgnore() throws {
        let found = try problems(of: fixtureHead + """
            [features."performance-boost"]
            message = "Command"
            set = { Request = "$enabled" }
            precondition = "Vehicle.Speed == 0"
            confirm = "Vehicle.Speed == 0"
            timeout = "2s"

            [features."performance-boost".parameters]
            enabled = { min = 0, max = 1 }
            """)
        #expect(found.count == 3, "\(found)")
        for key in ["precondition", "confirm", "timeout"] {
            #expect(found.contains { $0.contains(": error: '\(key)' is not used for a feature") }, "\(found)")
        }
    }

    @Test("unquoted dotted names are read as the same catalog names and command names")
    func dottedNames() throws {
        let fixture = try ProfileFixture("""
            [profile]
            name = "test-profile"
            platform = "Test rig"
            firmware = "0.1"

            [buses.can]
            dbc = "test.dbc"

            [signals]
            Vehicle.Speed = { source = "Motion.Speed", unit = "km/h" }
            Vehicle.Private.Body.Temp = { source = "Motion.Temp", unit = "celsius" }

            [commands.request.go]
            message = "Command"
            set = { Request = "Go" }
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.problems.isEmpty, "\(summary(report))")
        #expect(report.profile?.catalog.map(\.name) == ["Vehicle.Speed", "Vehicle.Private.Body.Temp"])
        #expect(report.profile?.commands.map(\.name) == ["request.go"])
    }

    @Test("a counter that is also set, and a command written twice (quoted and dotted)")
    func commandConflicts() throws {
        let found = try problems(of: fixtureHead + """
            [commands."x.go"]
            message = "Command"
            set = { Request = "Go", Counter = 1 }
            counter = "Counter"

            [commands.x.go]
            message = "Command"
            set = { Request = "Go" }
            """)
        #expect(found == [
            "profile.toml:18: error: Counter is both set by command 'x.go' and its counter; a counter is counted, not set",
            "profile.toml:20: error: command 'x.go' is defined twice: first at line 15",
        ])
    }

    @Test("several buses: entries must say which, and FD traffic needs fd = true")
    func severalBuses() throws {
        let fdDBC = "BO_ 1 Big: 16 X\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" X\n"
        let fixture = try ProfileFixture("""
            [profile]
            name = "test-profile"
            platform = "Test rig"
            firmware = "0.1"

            [buses.can]
            dbc = "test.dbc"

            [buses.fd]
            dbc = "fd.dbc"

            [signals]
            "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
            "Vehicle.Private.Other" = { source = "Big.S", bus = "fd" }
            """)
        defer { fixture.remove() }
        _ = try AxleProcess.writeFile(fixture.directory + "/fd.dbc", fdDBC)
        #expect(summary(fixture.validate()) == [
            "profile.toml:9: error: bus 'fd' carries CAN FD frames (message Big, 16 bytes, at \(fixture.directory)/fd.dbc:1) but 'fd' is false; set fd = true",
            "profile.toml:13: error: catalog entry \"Vehicle.Speed\" needs bus = \"…\": the profile has 2 buses (can, fd)",
        ])
    }

    @Test("every problem in one file is listed, in line order")
    func manyProblems() throws {
        let found = try problems(of: """
            [profile]
            name = "test-profile"
            platform = "Test rig"
            firmware = "0.1"
            vendor = "x"

            [buses.can]
            dbc = "test.dbc"

            [signals]
            "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
            "Vehicle.Private.Gear" = { source = "Motion.Gearbox" }

            [[rules]]
            name = "speed"
            signals = ["Vehicle.Speed", "Vehicle.Sped"]
            periodic = "fast"

            [[events]]
            name = "stop"
            when = "Vehicle.Speed == 0 for 10"
            priority = "high"

            [commands."x.go"]
            message = "Command"
            set = { Request = "Run" }
            timeout = "-1s"
            """)
        #expect(found.map { String($0.prefix(while: { $0 != " " })) } == [
            "profile.toml:5:", "profile.toml:12:", "profile.toml:16:", "profile.toml:17:", "profile.toml:21:",
            "profile.toml:22:", "profile.toml:26:", "profile.toml:27:",
        ], "\(found.joined(separator: "\n"))")
        #expect(found.allSatisfy { $0.contains(": error: ") })
    }

    @Test("load throws every problem, one per line; warnings alone do not stop it")
    func loadThrows() throws {
        let fixture = try ProfileFixture(fixtureHead + "[[rules]]\nname = \"x\"\nsignals = [\"Vehicle.X\"]\nperiodic = \"1s\"\nfoo = 1\n")
        defer { fixture.remove() }
        #expect {
            try ProfileLoader.load(directory: fixture.directory)
        } throws: { error in
            let lines = "\(error)".split(separator: "\n")
            return lines.count == 2 && lines[0].hasSuffix("profile.toml:17: error: 'signals' in [rules] #1: unknown signal \"Vehicle.X\": it is not in the [signals] catalog")
                && lines[1].hasSuffix("profile.toml:19: error: unknown key 'foo' in [rules] #1; known keys: name, signals, periodic, on-change, aggregate, enabled")
        }
        let warned = try ProfileFixture(fixtureHead, dbc: fixtureDBC + "VAL_ 999 Missing 0 \"Off\" ;\n")
        defer { warned.remove() }
        #expect(throws: Never.self) { try ProfileLoader.load(directory: warned.directory) }
    }
}
