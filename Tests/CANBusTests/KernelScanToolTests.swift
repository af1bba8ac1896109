import AxleBase
import AxleTestSupport
import CANFrames
import Testing
@testable import CANBus

#if canImport(Glibc)
import Glibc
#endif

/// The scan tool (`axle diag scan`, `pids`, `dtc`, `dm1`, `request-pgn`) against peers built on independent
/// packages: OBD-II ECUs on can-isotp's user-space ISO-TP (scripts/diag/obd_ecu.py), and J1939 nodes on can-j1939
/// (scripts/diag/j1939_ecu.py: address claim, DM1 by BAM, answers to requests by BAM and RTS/CTS). A raw socket of
/// this test watches the bus. On interfaces of their own (`vcanscan`, `vcanj`, made here), so that the other kernel
/// suites, which count readers and frames on vcan0 and vcan1, never see this traffic.
@Suite(
    "the scan tool on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelScanToolTests {
    static let obdInterface = "vcanscan"
    static let j1939Interface = "vcanj"

    init() {
        for name in [Self.obdInterface, Self.j1939Interface] where shell("ip link show \(name) >/dev/null 2>&1") != 0 {
            #expect(shell("ip link add dev \(name) type vcan && ip link set \(name) up") == 0, "cannot make the virtual CAN interface \(name)")
        }
    }

    /// A peer process (an ECU script), started and ready: it prints "ready" once it listens.
    final class Peer {
        let process: ChildProcess
        let output: String

        init(_ script: String, _ arguments: [String]) throws {
            let directory = try AxleProcess.makeTemporaryDirectory()
            output = directory + "/peer.out"
            process = try ChildProcess(
                executable: AxleProcess.packageRoot + "/.venv/bin/python",
                arguments: [AxleProcess.packageRoot + "/scripts/diag/" + script] + arguments,
                stdoutPath: output, stderrPath: output + ".err")
            let ready = waitUntil(timeoutSeconds: 30) { readText(output).contains("ready") || !process.isRunning }
            #expect(ready && process.isRunning, "\(script) did not start: \(readText(output + ".err"))")
        }

        deinit { process.terminate(timeoutSeconds: 5) }

        /// The requests it logged ("request 0100 functional").
        var requests: [String] {
            readText(output).split(separator: "\n").compactMap { $0.hasPrefix("request ") ? String($0.dropFirst(8)) : nil }
        }
    }

    static func obdECU(_ rxid: String, _ txid: String, _ extra: [String] = []) throws -> Peer {
        try Peer("obd_ecu.py", ["--interface", obdInterface, "--rxid", rxid, "--txid", txid] + extra)
    }

    static func diag(_ arguments: [String]) throws -> AxleProcess.Result {
        try AxleProcess.run(["diag"] + arguments)
    }

    static func json(_ result: AxleProcess.Result) -> JSONValue? {
        result.status == 0 ? try? JSONValue.parse(result.stdout) : nil
    }

    static func jsonLines(_ result: AxleProcess.Result) -> [JSONValue] {
        result.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }

    static let vin = "WAXLE0SCANTOOL001"

    @Test("scan: two ECUs answer one functional request; supported PIDs over three bitmaps; the engine's VIN in three frames, with flow control to its physical id")
    func scanTwoECUs() throws {
        let engine = try Self.obdECU("7E0", "7E8", ["--vin", Self.vin])
        let gearbox = try Self.obdECU("7E1", "7E9", ["--pids", "0D,0F"])
        let watcher = try CANSocket(interface: Self.obdInterface, enableFD: false)
        defer { watcher.close() }

        let run = try Self.diag(["scan", Self.obdInterface, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let ecus = try #require(Self.json(run)?["ecus"]?.arrayValue)
        #expect(ecus.map { $0["ecu"]?.stringValue } == ["7E8", "7E9"])
        #expect(ecus.map { $0["request_id"]?.stringValue } == ["7E0", "7E1"])
        #expect(ecus.map { $0["addressing"]?.stringValue } == ["11-bit", "11-bit"])
        #expect(ecus.first?["vin"]?.stringValue == Self.vin)
        #expect(ecus.last?["vin"] == .null)
        #expect(ecus.first?["supported_pids"]?.arrayValue?.compactMap(\.intValue)
            == [0x04, 0x05, 0x0C, 0x0D, 0x0F, 0x10, 0x11, 0x1F, 0x2F, 0x33, 0x42, 0x46, 0x5C])
        #expect(ecus.last?["supported_pids"]?.arrayValue?.compactMap(\.intValue) == [0x0D, 0x0F])
        #expect(ecus.first?["parameters"]?.arrayValue?.first?.stringValue == "engine_load")
        // Every request went to both at once (functional); the bitmaps 0x20 and 0x40 only to the engine's range.
        // Then the VIN and the calibration ids (mode 09 PIDs 02 and 04).
        #expect(engine.requests == ["0100 functional", "0120 functional", "0140 functional", "0902 functional", "0904 functional"])
        #expect(gearbox.requests == ["0100 functional", "0120 functional", "0140 functional", "0902 functional", "0904 functional"])

        // The VIN answer (20 bytes): the engine's first frame, our flow control to 7E0, two consecutive frames.
        let (frames, _) = try receive(watcher, count: 40, seconds: 3)
        let vinFirst = try #require(frames.firstIndex { $0.id == 0x7E8 && $0.data.prefix(5) == [0x10, 0x14, 0x49, 0x02, 0x01] },
                                    "\(frames.map { CandumpFormat.frameText($0) })")
        #expect(frames[vinFirst + 1].id == 0x7E0 && frames[vinFirst + 1].data == [0x30, 0, 0, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC])
        #expect(frames.filter { $0.id == 0x7DF }.count == 5, "\(frames.map { CandumpFormat.frameText($0) })")
        #expect(frames.filter { $0.id == 0x18DB_33F1 }.count == 1, "29-bit asked once, nobody answered")

        let table = try Self.diag(["scan", Self.obdInterface, "--addressing", "11-bit"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("ECU       REQUEST   IDS     VIN                SUPPORTED PIDS\n"), "\(table.stdout)")
        #expect(table.stdout.contains("7E8       7E0       11-bit  \(Self.vin)  13: 04 engine_load, 05 coolant_temperature"), "\(table.stdout)")
        #expect(table.stdout.contains("7E9       7E1       11-bit  -                  2: 0D vehicle_speed, 0F intake_air_temperature"), "\(table.stdout)")
    }

    @Test("pids: named values from both ECUs, decoded with units, at most six PIDs a request; --watch rounds")
    func namedPIDs() throws {
        let engine = try Self.obdECU("7E0", "7E8")
        let gearbox = try Self.obdECU("7E1", "7E9", ["--pids", "0D,0F"])
        let names = ["coolant_temperature", "engine_speed", "vehicle_speed", "0F", "fuel_level", "0x42", "engine_oil_temperature"]
        let run = try Self.diag(["pids", Self.obdInterface] + names + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let values = Self.jsonLines(run)
        let engineValues = values.filter { $0["ecu"]?.stringValue == "7E8" }
        #expect(engineValues.map { $0["name"]?.stringValue } == [
            "coolant_temperature", "engine_speed", "vehicle_speed", "intake_air_temperature", "fuel_level",
            "control_module_voltage", "engine_oil_temperature",
        ])
        #expect(engineValues.map { $0["value"]?.doubleValue } == [83, 1726, 50, 20, 74.901961, 14, 90])
        #expect(engineValues.first?["unit"]?.stringValue == "celsius")
        #expect(values.filter { $0["ecu"]?.stringValue == "7E9" }.map { $0["name"]?.stringValue } == ["vehicle_speed", "intake_air_temperature"])
        // Seven PIDs: a request of six, then one; the gearbox has none of the last request's PIDs and keeps quiet.
        #expect(engine.requests == ["01050C0D0F2F42 functional", "015C functional"])
        #expect(gearbox.requests == engine.requests)

        let watch = try Self.diag(["pids", Self.obdInterface, "coolant_temperature", "--watch", "--count", "2", "--interval", "0.2"])
        #expect(watch.status == 0, "\(watch.stderr)")
        let lines = watch.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("TIME           ECU       PID  NAME") == true, "\(watch.stdout)")
        #expect(lines.filter { $0.contains("7E8       05   coolant_temperature            83           celsius") }.count == 2, "\(watch.stdout)")
    }

    @Test("dtc: 25 stored codes (a 52-byte answer), pending and permanent ones, per ECU; clear: one ECU clears, one refuses (exit 1)")
    func troubleCodes() throws {
        let engine = try Self.obdECU("7E0", "7E8", ["--stored", "25", "--pending", "2", "--permanent", "1"])
        let gearbox = try Self.obdECU("7E1", "7E9", ["--pids", "0D", "--refuse-clear"])
        let run = try Self.diag(["dtc", Self.obdInterface, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let ecus = try #require(Self.json(run)?["ecus"]?.arrayValue)
        #expect(ecus.map { $0["ecu"]?.stringValue } == ["7E8", "7E9"])
        let stored = try #require(ecus.first?["stored"]?.arrayValue).compactMap(\.stringValue)
        #expect(stored.count == 25)
        #expect(stored.prefix(3) == ["P0217", "P0101", "P0102"])
        #expect(stored.last == "P0118")
        #expect(ecus.first?["pending"]?.arrayValue?.compactMap(\.stringValue) == ["P0100", "P0101"])
        #expect(ecus.first?["permanent"]?.arrayValue?.compactMap(\.stringValue) == ["P0100"])
        #expect(ecus.last?["stored"]?.arrayValue?.isEmpty == true)

        let table = try Self.diag(["dtc", Self.obdInterface])
        #expect(table.stdout.contains("7E8       stored     25    P0217 P0101"), "\(table.stdout)")
        #expect(table.stdout.contains("7E9       permanent  0     none"), "\(table.stdout)")

        let clear = try Self.diag(["dtc", Self.obdInterface, "--clear"])
        #expect(clear.status == 1)
        #expect(clear.stdout.contains("7E8       cleared"), "\(clear.stdout)")
        #expect(clear.stdout.contains("7E9       refused: conditionsNotCorrect (0x22)"), "\(clear.stdout)")
        #expect(clear.stderr.contains("not cleared by every ECU: 7E9 refused: conditionsNotCorrect (0x22)"), "\(clear.stderr)")
        let after = try Self.diag(["dtc", Self.obdInterface, "--json"])
        #expect(Self.json(after)?["ecus"]?.arrayValue?.first?["stored"]?.arrayValue?.isEmpty == true, "\(after.stdout)")
        #expect(engine.requests.contains("04 functional") && gearbox.requests.contains("04 functional"))
    }

    @Test("29-bit ids: found after silence on 11-bit (18DB33F1, answers on 18DAF110, flow control to 18DA10F1)")
    func extendedAddressing() throws {
        let engine = try Self.obdECU("18DA10F1", "18DAF110", ["--vin", Self.vin])
        let watcher = try CANSocket(interface: Self.obdInterface, enableFD: false)
        defer { watcher.close() }
        let scan = try Self.diag(["scan", Self.obdInterface, "--json", "--timeout", "300ms"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let ecu = try #require(Self.json(scan)?["ecus"]?.arrayValue?.first)
        #expect(ecu["ecu"]?.stringValue == "18DAF110")
        #expect(ecu["request_id"]?.stringValue == "18DA10F1")
        #expect(ecu["addressing"]?.stringValue == "29-bit")
        #expect(ecu["vin"]?.stringValue == Self.vin)
        let (frames, _) = try receive(watcher, count: 40, seconds: 3)
        #expect(frames.contains { $0.id == 0x18DA_10F1 && $0.isExtended && $0.data.first == 0x30 }, "\(frames.map { CandumpFormat.frameText($0) })")

        let pids = try Self.diag(["pids", Self.obdInterface, "coolant_temperature", "--json", "--timeout", "300ms"])
        #expect(pids.status == 0, "\(pids.stderr)")
        #expect(Self.jsonLines(pids).first?["ecu"]?.stringValue == "18DAF110")
        #expect(Self.jsonLines(pids).first?["value"]?.doubleValue == 83)
        #expect(engine.requests.last == "0105 functional")
    }

    @Test("a bus where nothing answers: each command says so and exits 1")
    func silence() throws {
        let scan = try Self.diag(["scan", Self.obdInterface, "--timeout", "200ms"])
        #expect(scan.status == 1)
        #expect(scan.stderr.contains("no ECU answered a request for supported PIDs (0100) on vcanscan within 200 ms (functional requests on 7DF and 18DB33F1)"), "\(scan.stderr)")
        let dtc = try Self.diag(["dtc", Self.obdInterface, "--addressing", "11-bit", "--timeout", "200ms"])
        #expect(dtc.status == 1)
        #expect(dtc.stderr.contains("no ECU answered a request for stored trouble codes (03) on vcanscan within 200 ms (functional requests on 7DF)"), "\(dtc.stderr)")
        let dm1 = try Self.diag(["dm1", Self.obdInterface, "--timeout", "300ms"])
        #expect(dm1.status == 1)
        #expect(dm1.stderr.contains("no DM1 on vcanscan within 0.3 s"), "\(dm1.stderr)")
    }

    static func j1939Node(_ address: Int, faults: Int) throws -> Peer {
        try Peer("j1939_ecu.py", ["--interface", j1939Interface, "--address", String(address), "--dm1-faults", String(faults)])
    }

    @Test("dm1: 20 faults by BAM from a can-j1939 node and one fault in a single frame from another, with lamps")
    func activeFaults() throws {
        let engine = try Self.j1939Node(0, faults: 20)
        let brakes = try Self.j1939Node(11, faults: 1)
        let run = try Self.diag(["dm1", Self.j1939Interface, "--timeout", "2500ms", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let messages = Self.jsonLines(run)
        #expect(messages.map { $0["source"]?.intValue } == [0, 11])
        #expect(messages.map { $0["transport"]?.stringValue } == ["bam", "single"])
        #expect(messages.allSatisfy { $0["kind"]?.stringValue == "j1939.dm1" && $0["lamps"]?["mil"]?.stringValue == "on" })
        let faults = try #require(messages.first?["faults"]?.arrayValue)
        #expect(faults.count == 20)
        #expect(faults.compactMap { $0["spn"]?.intValue } == Array(100..<120))
        #expect(faults.compactMap { $0["fmi"]?.intValue } == Array(1...20))
        #expect(faults.compactMap { $0["oc"]?.intValue } == Array(1...20))
        #expect(messages.last?["faults"]?.arrayValue?.count == 1)

        let table = try Self.diag(["dm1", Self.j1939Interface, "--timeout", "2500ms"])
        #expect(table.stdout.contains("node 0, DM1 by bam: MIL on, red stop off, amber warning off, protect off; 20 faults\n  SPN      FMI  OC\n  100      1    1\n"), "\(table.stdout)")
        #expect(table.stdout.contains("node 11, DM1 by single: MIL on, red stop off, amber warning off, protect off; 1 fault\n"), "\(table.stdout)")

        let watch = try Self.diag(["dm1", Self.j1939Interface, "--watch", "--count", "3", "--json"])
        #expect(watch.status == 0 && Self.jsonLines(watch).count == 3, "\(watch.stdout)\(watch.stderr)")
        #expect(Self.jsonLines(watch).allSatisfy { $0["t"]?.doubleValue != nil })
        _ = (engine, brakes)
    }

    @Test("request-pgn: DM2 and the software id by BAM, the VIN from one node, 40 bytes by RTS/CTS with our CTS and EndOfMsgAck, a refusal")
    func requests() throws {
        let node = try Self.j1939Node(0, faults: 1)
        let watcher = try CANSocket(interface: Self.j1939Interface, enableFD: false)
        defer { watcher.close() }

        let dm2 = try Self.diag(["dm1", Self.j1939Interface, "--dm2", "--json"])
        #expect(dm2.status == 0, "\(dm2.stderr)")
        let answer = try #require(Self.jsonLines(dm2).first, "\(dm2.stdout)")
        #expect(answer["transport"]?.stringValue == "bam")
        #expect(answer["lamps"]?["amber_warning"]?.stringValue == "on")
        #expect(answer["faults"]?.arrayValue?.compactMap { $0["spn"]?.intValue } == [500, 501, 502])

        let vin = try Self.diag(["request-pgn", Self.j1939Interface, "65260", "--to", "0", "--json"])
        #expect(vin.status == 0, "\(vin.stderr)")
        #expect(Self.jsonLines(vin).first?["vin"]?.stringValue == "WAXLE0J1939TRUCK01")
        let vinText = try Self.diag(["request-pgn", Self.j1939Interface, "65260", "--to", "0"])
        #expect(vinText.stdout == "node 0, PGN 65260 by bam: 19 bytes 5741584C45304A31393339545255434B30312A\n  VIN WAXLE0J1939TRUCK01\n", "\(vinText.stdout)\(vinText.stderr)")
        let software = try Self.diag(["request-pgn", Self.j1939Interface, "0xFEDA"])
        #expect(software.stdout.contains("node 0, PGN 65242 by bam: 23 bytes"), "\(software.stdout)")
        #expect(software.stdout.contains("software AXLE-ECU-1.0, BOOT-2.1"), "\(software.stdout)")

        _ = try receive(watcher, count: 1000, seconds: 0.2)
        let proprietary = try Self.diag(["request-pgn", Self.j1939Interface, "61184", "--to", "0", "--json"])
        #expect(proprietary.status == 0, "\(proprietary.stderr)")
        let data = try #require(Self.jsonLines(proprietary).first)
        #expect(data["transport"]?.stringValue == "rts/cts")
        #expect(data["data"]?.stringValue == (0..<40).map { $0 < 16 ? "0\(String($0, radix: 16, uppercase: true))" : String($0, radix: 16, uppercase: true) }.joined())
        // On the bus: our request, the node's RTS (6 packets, at most 4 per CTS), our CTS for 4 from 1 and for 2 from
        // 5, and our end-of-message acknowledgement.
        let (frames, _) = try receive(watcher, count: 1000, seconds: 1)
        let ours = frames.filter { $0.id == 0x1CEC_00F9 }.map(\.data)
        #expect(ours == [
            [0x11, 4, 1, 0xFF, 0xFF, 0x00, 0xEF, 0x00], [0x11, 2, 5, 0xFF, 0xFF, 0x00, 0xEF, 0x00],
            [0x13, 40, 0, 6, 0xFF, 0x00, 0xEF, 0x00],
        ], "\(frames.map { CandumpFormat.frameText($0) })")
        #expect(frames.contains { $0.id == 0x18EA_00F9 && $0.data == [0x00, 0xEF, 0x00] }, "the request to node 0")

        let refused = try Self.diag(["request-pgn", Self.j1939Interface, "65259", "--to", "0"])
        #expect(refused.status == 0, "a refusal is an answer: \(refused.stderr)")
        #expect(refused.stdout == "node 0: negative acknowledgement (the node does not have this parameter group)\n")
        let nobody = try Self.diag(["request-pgn", Self.j1939Interface, "65260", "--to", "42", "--timeout", "300ms"])
        #expect(nobody.status == 1)
        #expect(nobody.stderr.contains("node 42 did not answer the request for PGN 65260 on vcanj within 300 ms"), "\(nobody.stderr)")
        #expect(node.requests == ["65227 from 249 to 255", "65260 from 249 to 0", "65260 from 249 to 0", "65242 from 249 to 255", "61184 from 249 to 0", "65259 from 249 to 0"])
    }

    @Test("DM2 and DM1 by RTS/CTS from the Linux kernel's own J1939 stack: this tool clears blocks of 16 packets and acknowledges the end")
    func kernelJ1939Sender() throws {
        #expect(shell("grep -q '^can_j1939 ' /proc/modules || insmod /usr/lib/uml/modules/$(uname -r)/kernel/net/can/j1939/can-j1939.ko") == 0,
                "cannot load can-j1939.ko")
        let node = try Peer("kernel_j1939_node.py", ["--interface", Self.j1939Interface, "--address", "33", "--faults", "40"])
        let watcher = try CANSocket(interface: Self.j1939Interface, enableFD: false)
        defer { watcher.close() }

        let dm2 = try Self.diag(["dm1", Self.j1939Interface, "--dm2", "--to", "33", "--json"])
        #expect(dm2.status == 0, "\(dm2.stderr) \(readText(node.output))")
        let answer = try #require(Self.jsonLines(dm2).first, "\(dm2.stdout)")
        #expect(answer["source"]?.intValue == 33 && answer["transport"]?.stringValue == "rts/cts")
        #expect(answer["lamps"]?["amber_warning"]?.stringValue == "on")
        let faults = try #require(answer["faults"]?.arrayValue)
        #expect(faults.compactMap { $0["spn"]?.intValue } == Array(2000..<2040))
        #expect(faults.last?["fmi"]?.intValue == 20 && faults.last?["oc"]?.intValue == 40)
        // 162 bytes in 24 packets: our CTS for 16 from 1, then 8 from 17, and the end-of-message acknowledgement.
        let (frames, _) = try receive(watcher, count: 1000, seconds: 1)
        let ours = frames.filter { $0.id == 0x1CEC_21F9 }.map(\.data)
        #expect(ours == [
            [0x11, 16, 1, 0xFF, 0xFF, 0xCB, 0xFE, 0x00], [0x11, 8, 17, 0xFF, 0xFF, 0xCB, 0xFE, 0x00],
            [0x13, 162, 0, 24, 0xFF, 0xCB, 0xFE, 0x00],
        ], "\(frames.map { CandumpFormat.frameText($0) })")
        #expect(waitUntil(timeoutSeconds: 5) { readText(node.output).contains("sent 65227 162 bytes to 249") },
                "the kernel did not report the transfer done: \(readText(node.output))")

        let dm1 = try Self.diag(["request-pgn", Self.j1939Interface, "65226", "--to", "33", "--json"])
        #expect(dm1.status == 0, "\(dm1.stderr)")
        #expect(Self.jsonLines(dm1).first?["faults"]?.arrayValue?.count == 40)
        #expect(Self.jsonLines(dm1).first?["lamps"]?["mil"]?.stringValue == "on")
        #expect(node.requests == ["65227 from 249", "65226 from 249"])
    }
}
