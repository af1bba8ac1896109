import FirmwareProfile
import Testing

/// `[diagnostics]`: ECUs, polled parameters as catalog signals, the budget and the ignition, with file:line errors.
@Suite("Profile [diagnostics]")
struct DiagnosticsSectionTests {
    /// The line `[diagnostics]` lands on after `fixtureHead`.
    private var sectionLine: Int { fixtureHead.split(separator: "\n", omittingEmptySubsequences: false).count }

    @Test("ECUs and polled values: PIDs by name or number, a DID with its layout, catalog entries rules can use")
    func validSection() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [diagnostics]
            ignition = "Vehicle.Powertrain.Transmission.CurrentGear"
            budget = "40/s"

            [diagnostics.ecus.engine]
            protocol = "obd"
            request-id = 0x7E0
            response-id = 0x7E8
            faults = "30s"
            pending = true

            [diagnostics.ecus.bms]
            protocol = "uds"
            request-id = 0x18DA44F1
            response-id = 0x18DAF144
            padding = false
            timeout = "2s"
            faults = "1min"
            status-mask = 0x09

            [diagnostics.dm1]
            silence = "5s"

            [diagnostics.signals]
            "Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature" = { ecu = "engine", pid = "engine_oil_temperature", every = "2s" }
            Vehicle.Private.OBD.CoolantTemperature = { ecu = "engine", pid = 0x05, every = "1s", stale-after = "10s" }
            "Vehicle.Private.Battery.CellVoltageMax" = { ecu = "bms", did = 0xF40D, start = 1, length = 2, factor = 0.001, unit = "V", every = "5s" }

            [[rules]]
            name = "diag"
            signals = ["Vehicle.Private.OBD.CoolantTemperature", "Vehicle.Private.Battery.CellVoltageMax"]
            periodic = "5s"

            [[events]]
            name = "hot"
            when = "Vehicle.Private.OBD.CoolantTemperature > 110"
            priority = "alert"
            """)
        defer { fixture.remove() }
        let report = fixture.validate()
        #expect(report.problems.isEmpty, "\(summary(report))")
        let profile = try #require(report.profile)
        let diagnostics = try #require(profile.diagnostics)
        #expect(diagnostics.framesPerSecond == 40 && diagnostics.budgetText == "40 frames/s")
        #expect(diagnostics.ignition == "Vehicle.Powertrain.Transmission.CurrentGear")
        #expect(diagnostics.ecus.map(\.name) == ["engine", "bms"])
        let engine = try #require(diagnostics.ecu(named: "engine"))
        #expect(engine.bus == "can" && !engine.isExtended && engine.padding == 0x55 && engine.responseTimeoutSeconds == 1)
        #expect(engine.faults == .init(intervalSeconds: 30, includePending: true, statusMask: 0x08))
        let bms = try #require(diagnostics.ecu(named: "bms"))
        #expect(bms.isExtended && bms.padding == nil && bms.responseTimeoutSeconds == 2 && bms.faults?.statusMask == 0x09)
        #expect(diagnostics.dm1 == DM1Listening(bus: "can", silenceSeconds: 5, line: sectionLine + 20))
        #expect(diagnostics.parameters.map(\.source) == [
            .pid(0x5C), .pid(0x05),
            .did(0xF40D, .init(start: 1, length: 2, signed: false, littleEndian: false, factor: 0.001, offset: 0)),
        ])
        let oil = try #require(profile.catalogSignal(named: "Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature"))
        #expect(oil.bus == "" && oil.unit == "celsius" && oil.staleAfterSeconds == 6, "3 × every")
        #expect(oil.sourceDescription == "engine OBD PID 0x5C (engine_oil_temperature)")
        #expect(profile.catalogSignal(named: "Vehicle.Private.OBD.CoolantTemperature")?.staleAfterSeconds == 10)
        #expect(profile.catalogSignal(named: "Vehicle.Private.Battery.CellVoltageMax")?.sourceDescription == "bms UDS DID 0xF40D")
        #expect(profile.rules.first?.signals.count == 2 && profile.events.first?.name == "hot")
    }

    @Test("the default budget is 1 % of 500 kbit/s; a DID's layout decodes big- and little-endian, signed")
    func defaultsAndLayout() throws {
        let fixture = try ProfileFixture(fixtureHead + """
            [diagnostics]
            ignition = "Vehicle.Speed"

            [diagnostics.ecus.engine]
            protocol = "obd"
            request-id = 0x7E0
            response-id = 0x7E8
            """)
        defer { fixture.remove() }
        let diagnostics = try #require(fixture.validate().profile?.diagnostics)
        #expect(abs(diagnostics.framesPerSecond - 5000.0 / 135) < 1e-9 && diagnostics.budgetText == "1% of 500 kbit/s")
        let big = DiagnosticParameter.DataLayout(start: 0, length: 2, signed: true, littleEndian: false, factor: 0.5, offset: -1)
        #expect(big.value(in: [0xFF, 0xFE]) == -2)
        let little = DiagnosticParameter.DataLayout(start: 1, length: 2, signed: false, littleEndian: true, factor: 1, offset: 0)
        #expect(little.value(in: [0x00, 0x34, 0x12]) == 0x1234)
        #expect(little.value(in: [0x00, 0x34]) == nil, "data cut short")
    }

    @Test("every mistake at its line, saying what to write instead")
    func mistakes() throws {
        let line = sectionLine
        let found = try problems(of: fixtureHead + """
            [diagnostics]
            ignition = "Vehicle.Ignition"
            budget = "lots"

            [diagnostics.ecus.engine]
            protocol = "kwp"
            request-id = 0x7DF
            response-id = 0x7E8
            padding = 300
            faults = "100ms"

            [diagnostics.ecus.Gearbox]
            protocol = "uds"
            request-id = 0x7E1
            response-id = 0x7E1

            [diagnostics.signals]
            "Vehicle.Speed" = { ecu = "engine", pid = 0x0D, every = "1s" }
            "Vehicle.Private.A" = { ecu = "engin", pid = 0x05, every = "1s" }
            "Vehicle.Private.B" = { ecu = "Gearbox", pid = 0x05, every = "10ms" }
            "Vehicle.Private.C" = { ecu = "Gearbox", did = 0x0101, every = "1s" }
            "Vehicle.Private.D" = { ecu = "Gearbox", pid = 0x99, every = "1s" }
            "Vehicle.Private.E" = { ecu = "Gearbox", every = "1s" }
            """)
        #expect(found == [
            "profile.toml:\(line + 1): error: 'ignition' in [diagnostics] names \"Vehicle.Ignition\", which is not in the catalog; name the catalog signal that is non-zero while the ignition is on, such as \"Vehicle.LowVoltageSystemState\"",
            "profile.toml:\(line + 2): error: 'budget' in [diagnostics] is \"lots\"; write frames a second (\"40/s\", 1 to 10000) or a share of the bitrate (\"1%\", more than 0 and at most 50)",
            "profile.toml:\(line + 5): error: 'protocol' in [diagnostics.ecus.engine] is \"kwp\"; write \"obd\" (SAE J1979 PIDs and modes 03/07) or \"uds\" (ISO 14229 DIDs and 0x19)",
            "profile.toml:\(line + 6): error: 'request-id' in [diagnostics.ecus.engine] is OBD-II's functional address 0x7DF, which every ECU may answer; give the ECU's physical id (0x7E0-0x7E7, or 0x18DA<ecu>F1)",
            "profile.toml:\(line + 8): error: 'padding' in [diagnostics.ecus.engine] must be a byte (0x00 to 0xFF, such as 0x55 or 0xAA) or false (no padding), found the integer 300",
            "profile.toml:\(line + 9): error: 'faults' in [diagnostics.ecus.engine] is 0.1 s; read fault codes at most once a second (such as \"30s\")",
            "profile.toml:\(line + 11): error: ECU name 'Gearbox' must be lowercase letters, digits, '-' or '_', starting with a letter (remote commands name it)",
            "profile.toml:\(line + 14): error: [diagnostics.ecus.Gearbox] has the same request and response id (0x7E1); the ECU answers on another id, such as 0x7E8 for 0x7E0",
            "profile.toml:\(line + 17): error: \"Vehicle.Speed\" is already a catalog signal (line 10); a polled value needs a name of its own, such as one under Vehicle.Private",
            "profile.toml:\(line + 18): error: \"Vehicle.Private.A\" asks ECU 'engin', which [diagnostics.ecus] does not declare (did you mean 'engine'?)",
            "profile.toml:\(line + 19): error: 'every' of \"Vehicle.Private.B\" is 0.01 s; poll at most ten times a second (every = \"100ms\" or more)",
            "profile.toml:\(line + 19): error: \"Vehicle.Private.B\" asks ECU 'Gearbox' for a PID, but that ECU speaks \"uds\"; ask it for a 'did'",
            "profile.toml:\(line + 20): error: missing required key 'length' in [diagnostics.signals.\"Vehicle.Private.C\"]",
            "profile.toml:\(line + 21): error: PID 0x99 of \"Vehicle.Private.D\" is not one Axle decodes (48 standard PIDs, listed in docs/diagnostics.md); a manufacturer's value is read from a UDS ECU with 'did'",
            "profile.toml:\(line + 22): error: \"Vehicle.Private.E\" needs 'pid' (an OBD-II PID: a number such as 0x05 or a name such as \"coolant_temperature\") or 'did' (a UDS data identifier such as 0xF40D)",
        ], "\(found.joined(separator: "\n"))")
    }

    @Test("polling without an ignition signal is allowed, with a warning that it keeps a parked car awake")
    func noIgnition() throws {
        let found = try problems(of: fixtureHead + """
            [diagnostics.ecus.engine]
            protocol = "obd"
            request-id = 0x7E0
            response-id = 0x7E8
            faults = "30s"
            """)
        #expect(found == [
            "profile.toml:\(sectionLine): warning: [diagnostics] polls ECUs but names no 'ignition' signal: polling never stops, which keeps a parked car's ECUs awake; set ignition = \"<catalog signal that is non-zero while the ignition is on>\"",
        ], "\(found.joined(separator: "\n"))")
    }
}
