import AxleBase
import AxleTestSupport
import Testing

/// End-to-end: the built `axle` binary on the project's own demo DBC and small logs written here.
@Suite("axle dbc", .serialized)
struct DBCCommandTests {
    let dbc = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"

    // Expected values checked against cantools 45.1.0 by hand (the differential test does it for every file).
    @Test("decode --format jsonl prints one line per input frame, in order, in the documented shape")
    func jsonl() throws {
        let log = """
            (1767225600.000700) can0 101#138803D6760001F4
            (1767225600.000800) can0 7FF#00
            (1767225600.000900) can0 100#401F
            (1767225600.001000) can0 105#0173000000000000
            (1767225600.001100) can0 00000200#9425B11C5860E606

            """
        let result = try AxleProcess.run(["dbc", "decode", "--format", "jsonl", "--dbc", dbc, "-"], stdin: log)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[0] == #"{"t": 1767225600.000700, "bus": "can0", "id": 257, "ext": false, "fd": false, "msg": "VehicleMotion", "sig": {"VehicleSpeed": {"raw": 5000, "value": 50.0}, "Gear": {"raw": 3, "value": 3, "label": "D"}, "Odometer": {"raw": 14054912, "value": 1405491.2000000002}, "LongitudinalAccel": {"raw": -3071, "value": -3.071}}}"#)
        #expect(lines[1] == #"{"t": 1767225600.000800, "bus": "can0", "id": 2047, "ext": false, "fd": false, "msg": null}"#)
        #expect(lines[2] == #"{"t": 1767225600.000900, "bus": "can0", "id": 256, "ext": false, "fd": false, "msg": "EngineStatus", "err": "frame has 2 bytes; the message needs 8"}"#)
        #expect(lines[3].contains(#""TyrePosition": {"raw": 1, "value": 1, "label": "FrontRight"}, "TyreTemp": {"raw": 0, "value": -40}, "TyrePressureFrontRight": {"raw": 115, "value": 230}"#))
        #expect(!lines[3].contains("FrontLeft\""), "only the selected multiplexed signal")
        #expect(lines[4].contains(#""id": 512, "ext": true"#))
        #expect(lines[4].contains(#""Latitude": {"raw": 481371540, "value": 48.137153999999995}"#))
    }

    @Test("the table lists each signal with its unit and label")
    func table() throws {
        let result = try AxleProcess.run(["dbc", "decode", "--dbc", dbc], stdin: "(1.000000) can0 101#138803D6760001F4\n")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines[0].hasPrefix("TIME"))
        #expect(lines[1].contains("VehicleMotion") && lines[1].contains("VehicleSpeed") && lines[1].contains("50.0 km/h"))
        #expect(lines[2].contains("Gear") && lines[2].contains("3 (D)"))
        let position = try AxleProcess.run(["dbc", "decode", "--dbc", dbc], stdin: "(1.000000) can0 00000200#9425B11C5860E606\n")
        #expect(position.stdout.contains("48.137154 deg"), "rounded for people: \(position.stdout)")
    }

    @Test("malformed log lines are reported with their line number, skipped and counted")
    func malformedLines() throws {
        let log = "(1.0) can0 101#138803D6760001F4\nnot a frame\n(2.0) can0 101#138803D6760001F4\n"
        let result = try AxleProcess.run(["dbc", "decode", "--format", "jsonl", "--dbc", dbc, "-"], stdin: log)
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 2)
        #expect(result.stderr.contains("<stdin>:2: malformed log line, column 1: expected '('"))
        #expect(result.stderr.contains("1 malformed line skipped, 2 frames decoded"))
    }

    @Test("--strict stops at the first malformed line with exit code 1")
    func strict() throws {
        let result = try AxleProcess.run(["dbc", "decode", "--strict", "--format", "jsonl", "--dbc", dbc, "-"], stdin: "(1.0) can0 101#13\nbad\n(2.0) can0 101#13\n")
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("<stdin>:2:"))
    }

    @Test("a missing DBC or log file is a clear error and exit code 1")
    func missingFiles() throws {
        let noDBC = try AxleProcess.run(["dbc", "decode", "--dbc", "/nonexistent.dbc", "-"])
        #expect(noDBC.status == 1)
        #expect(noDBC.stderr.contains("cannot read DBC file /nonexistent.dbc: No such file or directory"))
        let noLog = try AxleProcess.run(["dbc", "decode", "--dbc", dbc, "/nonexistent.log"])
        #expect(noLog.status == 1)
        #expect(noLog.stderr.contains("cannot read log /nonexistent.log"))
        let noArguments = try AxleProcess.run(["dbc", "decode"])
        #expect(noArguments.status == 64)
        #expect(noArguments.stderr.contains("--dbc"))
    }

    @Test("an unusable DBC reports file:line:column and why")
    func badDBC() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        let path = try AxleProcess.writeFile(directory + "/bad.dbc", "BO_ 1 M: 8 X\n SG_ S : 0|8@3+ (1,0) [0|0] \"\" X\n")
        let result = try AxleProcess.run(["dbc", "inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("bad.dbc:2:14: error: byte order of signal S must be @1 (Intel) or @0 (Motorola)"))
    }

    @Test("inspect --json describes messages, signals, multiplexing and warnings")
    func inspectJSON() throws {
        let result = try AxleProcess.run(["dbc", "inspect", "--json", dbc])
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""name": "TyrePressures""#))
        #expect(result.stdout.contains(#""multiplexed_by": "TyrePosition""#))
        #expect(result.stdout.contains(#""cycle_time_ms": 20"#))
        #expect(result.stdout.contains(#""warnings": []"#))
    }

    @Test("encode prints a candump line that decodes back to the values given")
    func encode() throws {
        let encoded = try AxleProcess.run(["dbc", "encode", "--dbc", dbc, "VehicleMotion", "VehicleSpeed=88.5", "Gear=D"])
        #expect(encoded.status == 0, "\(encoded.stderr)")
        #expect(encoded.stdout.hasSuffix(" can0 101#2292030000000000\n"), "\(encoded.stdout)")
        let decoded = try AxleProcess.run(["dbc", "decode", "--format", "jsonl", "--dbc", dbc], stdin: encoded.stdout)
        #expect(decoded.stdout.contains(#""VehicleSpeed": {"raw": 8850, "value": 88.5}"#))
        #expect(decoded.stdout.contains(#""Gear": {"raw": 3, "value": 3, "label": "D"}"#))
    }

    @Test("encode --json gives the message, id, flags, data and the candump line")
    func encodeJSON() throws {
        let encoded = try AxleProcess.run(["dbc", "encode", "--dbc", dbc, "--json", "VehicleMotion", "VehicleSpeed=88.5", "Gear=D"])
        #expect(encoded.status == 0, "\(encoded.stderr)")
        let object = try JSONValue.parse(encoded.stdout)
        #expect(object["msg"]?.stringValue == "VehicleMotion")
        #expect(object["id"]?.intValue == 0x101)
        #expect(object["ext"]?.boolValue == false && object["fd"]?.boolValue == false)
        #expect(object["data"]?.stringValue == "2292030000000000")
        #expect(object["candump"]?.stringValue?.hasSuffix(" can0 101#2292030000000000") == true, "\(encoded.stdout)")
    }

    @Test("encode rejects out-of-range values and unknown signals with the valid choices")
    func encodeErrors() throws {
        let range = try AxleProcess.run(["dbc", "encode", "--dbc", dbc, "VehicleMotion", "VehicleSpeed=900"])
        #expect(range.status == 1)
        #expect(range.stderr.contains("outside its range [0, 655.35] km/h"))
        let unknown = try AxleProcess.run(["dbc", "encode", "--dbc", dbc, "VehicleMotion", "Speed=1"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("has no signal Speed (known: VehicleSpeed, Gear, Odometer, LongitudinalAccel)"))
    }

    @Test("decode marks values that are not readings, on the real truck recording, and keeps their raw values")
    func notReadings() throws {
        let truckDBC = AxleProcess.packageRoot + "/Firmware-Profiles/fleet-truck-j1939/fleet_truck_j1939.dbc"
        let recording = AxleProcess.packageRoot + "/Tests/Resources/css-electronics/truck-idle-127s-fleet-truck-pgns.log"
        let result = try AxleProcess.run(["dbc", "decode", "--format", "jsonl", "--dbc", truckDBC, recording])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 16_026)
        let dashDisplay = lines.filter { $0.contains(#""msg": "DD""#) }
        #expect(dashDisplay.count == 127)
        #expect(dashDisplay.allSatisfy {
            $0.contains(#""CargoAmbientTemp": {"raw": 65535, "value": 1774.96875, "availability": "not_available"}"#)
                && $0.contains(#""FuelLevel1": {"raw": 187, "value": 74.8}"#)
        })
        // Engine speed (EEC1, 12,719 frames) is always a reading: its lines are exactly what they were.
        let engine = lines.filter { $0.contains(#""msg": "EEC1""#) }
        #expect(engine.count == 12_719 && engine.allSatisfy { !$0.contains("availability") })
        #expect(lines.filter { $0.contains("availability") }.count == 3_307, "frames with at least one value that is not a reading")

        let table = try AxleProcess.run(
            ["dbc", "decode", "--dbc", truckDBC], stdin: "(1635188455.690900) can1 18FEFC00#FFBBFFFFFFFFFFFF R\n")
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.contains { $0.contains("CargoAmbientTemp") && $0.hasSuffix("1774.96875 degC [not available]") }, "\(table.stdout)")
        #expect(rows.contains { $0.contains("FuelLevel1") && $0.hasSuffix("74.8 %") }, "\(table.stdout)")
    }
}
