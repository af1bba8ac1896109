import AxleBase
import AxleTestSupport
import Testing

/// `axle diag decode` on real recordings (Tests/Resources/css-electronics) and on made-up broken sessions.
@Suite("axle diag decode") struct DiagCommandTests {
    static let resources = AxleProcess.packageRoot + "/Tests/Resources/css-electronics"

    static func jsonLines(_ arguments: [String], stdin: String? = nil) throws -> [JSONValue] {
        let result = try AxleProcess.run(["diag", "decode", "--json"] + arguments, stdin: stdin)
        #expect(result.status == 0, "\(result.stderr)")
        return try result.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }

    @Test("the real truck's 127 DM1 transfers by BAM, with lamps and faults, and its 25 EC1 transfers")
    func realTruckDM1() throws {
        let lines = try Self.jsonLines([Self.resources + "/truck-idle-127s-transport.log"])
        let dm1 = lines.filter { $0["kind"]?.stringValue == "j1939.dm1" }
        #expect(dm1.count == 127)
        #expect(lines.filter { $0["kind"]?.stringValue == "j1939.transport" && $0["pgn"]?.intValue == 65251 }.count == 25)
        #expect(lines.count == 127 + 25, "nothing else, no error: \(lines.filter { $0["kind"]?.stringValue == "error" })")
        let first = try #require(dm1.first)
        #expect(first["source"]?.intValue == 0)
        #expect(first["transport"]?.stringValue == "bam")
        #expect(first["lamps"]?["mil"]?.stringValue == "on")
        #expect(first["lamps"]?["red_stop"]?.stringValue == "off")
        let faults = try #require(first["faults"]?.arrayValue)
        #expect(faults.map { $0["spn"]?.intValue } == [980, 3216, 609, 609])
        #expect(faults.map { $0["fmi"]?.intValue } == [9, 20, 9, 12])
        #expect(faults.map { $0["oc"]?.intValue } == [126, 2, 1, 3])

        let table = try AxleProcess.run(["diag", "decode", Self.resources + "/truck-idle-127s-transport.log"])
        #expect(table.stdout.hasPrefix("TIME               BUS    ID        KIND"))
        #expect(table.stdout.contains("j1939.dm1          PGN 65226 from 0 (bam), MIL on, red off, amber off, protect not_available, SPN 980 FMI 9 OC 126; SPN 3216 FMI 20 OC 2"))
    }

    @Test("a real UDS session on manufacturer ids: 26 requests and their multi-frame answers, named")
    func realUDSSession() throws {
        let log = Self.resources + "/uds-isotp-session-79B-7BB.log"
        let lines = try Self.jsonLines(["--isotp", "79B,7BB", log])
        #expect(lines.count == 52)
        let requests = lines.filter { $0["kind"]?.stringValue == "uds.request" }
        let answers = lines.filter { $0["kind"]?.stringValue == "uds.response" }
        #expect(requests.count == 26 && answers.count == 26)
        #expect(requests.allSatisfy { $0["id"]?.intValue == 0x79B && $0["name"]?.stringValue == "ReadDataByLocalIdentifier" })
        #expect(Set(answers.compactMap { $0["length"]?.intValue }) == [53, 31])
        // Without --isotp these ids are not diagnostic ones: nothing is printed.
        #expect(try Self.jsonLines([log]).isEmpty)
    }

    @Test("OBD-II: a request, an answer with trouble codes, a negative answer, and broken transfers with their reasons")
    func obdAndBrokenSessions() throws {
        let log = """
            (1.000000) can0 7DF#0201050000000000
            (1.010000) can0 7E8#0341057B00000000
            (2.000000) can0 7DF#0103000000000000
            (2.010000) can0 7E8#100A430402170300
            (2.020000) can0 7E0#3000000000000000
            (2.030000) can0 7E8#2101184420000000
            (3.000000) can0 7E8#037F227800000000
            (4.000000) can0 7E8#2305000000000000
            (5.000000) can0 7E8#1014490201574158
            (5.010000) can0 7E8#21454C4530303030
            (5.020000) can0 7E8#2330303030545354
            (6.000000) can0 7E8#1000000013880102
            (7.000000) can0 18DAF110#1020490201574158

            """
        let lines = try Self.jsonLines(["-"], stdin: log)
        let kinds = lines.map { $0["kind"]?.stringValue ?? "?" }
        #expect(kinds == [
            "obd.request", "obd.response", "obd.request", "obd.response", "negative_response",
            "error", "error", "error", "error",
        ], "\(lines)")
        #expect(lines[1]["name"]?.stringValue == "show current data")
        #expect(lines[1]["data"]?.stringValue == "41057B")
        #expect(lines[1]["pids"]?.arrayValue?.first?["name"]?.stringValue == "coolant_temperature")
        #expect(lines[1]["pids"]?.arrayValue?.first?["value"]?.doubleValue == 83)
        #expect(lines[1]["pids"]?.arrayValue?.first?["unit"]?.stringValue == "celsius")
        #expect(lines[3]["dtcs"]?.arrayValue?.compactMap(\.stringValue) == ["P0217", "P0300", "P0118", "C0420"])
        #expect(lines[4]["name"]?.stringValue == "ReadDataByIdentifier")
        #expect(lines[4]["nrc"]?.intValue == 0x78)
        #expect(lines[4]["nrc_name"]?.stringValue == "requestCorrectlyReceivedResponsePending")
        #expect(lines[5]["reason"]?.stringValue == "a consecutive frame (sequence 3) with no first frame before it")
        #expect(lines[6]["reason"]?.stringValue == "consecutive frame 3 where 2 was due, after 13 of 20 bytes: the message is dropped")
        #expect(lines[7]["reason"]?.stringValue == "a first frame announces 5000 bytes, more than the 4095 taken here")
        // The 29-bit transfer never got its consecutive frames: reported at the end of the log.
        #expect(lines[8]["t"]?.isNull == true)
        #expect(lines[8]["id"]?.intValue == 0x18DA_F110)
        #expect(lines[8]["reason"]?.stringValue?.hasPrefix("consecutive frame 1 did not come within 1000 ms, after 6 of 32 bytes") == true)
    }

    @Test("bad command lines and unreadable logs are refused with the reason")
    func badInput() throws {
        let badID = try AxleProcess.run(["diag", "decode", "--isotp", "7ZZ", "-"], stdin: "")
        #expect(badID.status == 64)
        #expect(badID.stderr.contains("--isotp takes hex CAN ids such as 79B or 18DA10F1, not \"7ZZ\""))
        let missing = try AxleProcess.run(["diag", "decode", "/nonexistent/x.log"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read log"))
        let malformed = try AxleProcess.run(["diag", "decode", "-"], stdin: "garbage\n(1.0) can0 7E8#0341057B00000000\n")
        #expect(malformed.status == 0)
        #expect(malformed.stderr.contains("<stdin>:1: malformed log line"))
        #expect(malformed.stdout.contains("obd.response"))
    }
}
