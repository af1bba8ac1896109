import AxleBase
import AxleTestSupport
import CANFrames
import Testing
@testable import CANBus

#if canImport(Glibc)
import Glibc
#endif

/// `axle diag request` against an ECU built on independent packages (scripts/diag/uds_ecu.py: can-isotp's user-space
/// ISO-TP and udsoncan's answers), with a raw socket of this test watching the bus. On an interface of its own
/// (`vcandiag`, made here), so that the other kernel suites, which count readers and frames on vcan0 and vcan1 and
/// may run at the same time, never see this traffic.
@Suite(
    "diagnostics over ISO-TP on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelDiagnosticsTests {
    static let interface = "vcandiag"

    init() {
        if shell("ip link show \(Self.interface) >/dev/null 2>&1") != 0 {
            #expect(shell("ip link add dev \(Self.interface) type vcan && ip link set \(Self.interface) up") == 0,
                    "cannot make the virtual CAN interface \(Self.interface)")
        }
    }

    /// The ECU, started and ready (it prints "ready" once its ISO-TP stack listens).
    final class ECU {
        let process: ChildProcess
        let output: String

        init(rxid: String, txid: String, extra: [String] = []) throws {
            let directory = try AxleProcess.makeTemporaryDirectory()
            output = directory + "/ecu.out"
            process = try ChildProcess(
                executable: AxleProcess.packageRoot + "/.venv/bin/python",
                arguments: [AxleProcess.packageRoot + "/scripts/diag/uds_ecu.py", "--interface", KernelDiagnosticsTests.interface, "--rxid", rxid, "--txid", txid] + extra,
                stdoutPath: output, stderrPath: output + ".err")
            let ready = waitUntil(timeoutSeconds: 30) { readText(output).contains("ready") || !process.isRunning }
            #expect(ready && process.isRunning, "the ECU did not start: \(readText(output + ".err"))")
        }

        deinit { process.terminate(timeoutSeconds: 5) }

        var requests: [String] {
            readText(output).split(separator: "\n").compactMap { $0.hasPrefix("request ") ? String($0.dropFirst(8)) : nil }
        }
    }

    static func request(_ arguments: [String]) throws -> (json: JSONValue?, result: AxleProcess.Result) {
        let result = try AxleProcess.run(["diag", "request", interface] + arguments + ["--json"])
        return (result.status == 0 ? try? JSONValue.parse(result.stdout) : nil, result)
    }

    @Test("a multi-frame answer (the VIN), 25 trouble codes, a refusal by name, and flow control sent at once")
    func answersOfEveryShape() throws {
        let ecu = try ECU(rxid: "7E0", txid: "7E8")
        let watcher = try CANSocket(interface: Self.interface, enableFD: false)
        defer { watcher.close() }

        let (vin, vinRun) = try Self.request(["7E0", "7E8", "22F190"])
        #expect(vinRun.status == 0, "\(vinRun.stderr)")
        #expect(vin?["kind"]?.stringValue == "uds.response")
        #expect(vin?["data"]?.stringValue == "62F190" + "WAXLE0TESTECU0001".utf8.map { String($0, radix: 16, uppercase: true) }.joined())
        // On the bus: the ECU's first frame, our flow control (padded with 0xCC), its two consecutive frames.
        let (frames, _) = try receive(watcher, count: 5, seconds: 5)
        #expect(frames.map { "\(String($0.id, radix: 16, uppercase: true))#\($0.data.first.map { String($0 >> 4) } ?? "")" }
            == ["7E0#0", "7E8#1", "7E0#3", "7E8#2", "7E8#2"], "\(frames.map { CandumpFormat.frameText($0) })")
        #expect(frames.dropFirst(2).first?.data == [0x30, 0, 0, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC])

        let (codes, _) = try Self.request(["7E0", "7E8", "1902FF"])
        #expect(codes?["length"]?.intValue == 3 + 25 * 4)
        let (refused, refusedRun) = try Self.request(["7E0", "7E8", "14FFFFFF"])
        #expect(refusedRun.status == 0, "a negative answer is an answer")
        #expect(refused?["kind"]?.stringValue == "negative_response")
        #expect(refused?["nrc_name"]?.stringValue == "conditionsNotCorrect")
        #expect(ecu.requests == ["22F190", "1902FF", "14FFFFFF"])
    }

    @Test("response pending three times extends the wait; a silent ECU is a timeout with the reason")
    func pendingAndSilence() throws {
        let ecu = try ECU(rxid: "7E0", txid: "7E8")
        // Each pending answer comes 300 ms after the last: beyond a 200 ms P2, within P2*.
        let (serial, serialRun) = try Self.request(["7E0", "7E8", "22F18C", "--timeout", "200ms"])
        #expect(serialRun.status == 0, "\(serialRun.stderr)")
        #expect(serial?["pending"]?.intValue == 3)
        #expect(serial?["data"]?.stringValue == "62F18C" + "SERIAL-42".utf8.map { String($0, radix: 16, uppercase: true) }.joined())
        let silent = try AxleProcess.run(["diag", "request", Self.interface, "7E0", "7E8", "220000", "--timeout", "300ms"])
        #expect(silent.status == 1)
        #expect(silent.stderr.contains("vcandiag 7E0→7E8: no answer to ReadDataByIdentifier within 300 ms"), "\(silent.stderr)")
        #expect(ecu.requests == ["22F18C", "220000"])
    }

    @Test("a long request is paced by the ECU's flow control: blocks of 4 consecutive frames at least 5 ms apart")
    func sendingSideHonoursBlockSizeAndSeparationTime() throws {
        let ecu = try ECU(rxid: "7E0", txid: "7E8", extra: ["--block-size", "4", "--stmin", "5"])
        let watcher = try CANSocket(interface: Self.interface, enableFD: false)
        defer { watcher.close() }
        let data = String(repeating: "AB", count: 40)
        let (written, run) = try Self.request(["7E0", "7E8", "2EF198" + data])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(written?["data"]?.stringValue == "6EF198")
        #expect(ecu.requests == ["2EF198" + data])
        // 43 bytes: a first frame and 6 consecutive frames; the ECU's flow control after the first frame and after
        // the fourth consecutive frame; then its answer.
        let (frames, _) = try receive(watcher, count: 10, seconds: 5)
        let kinds = frames.map { "\(String($0.id, radix: 16, uppercase: true))#\($0.data.first.map { String($0 >> 4) } ?? "")" }
        #expect(kinds == ["7E0#1", "7E8#3", "7E0#2", "7E0#2", "7E0#2", "7E0#2", "7E8#3", "7E0#2", "7E0#2", "7E8#0"], "\(kinds)")
        let consecutive = frames.enumerated().filter { $0.element.id == 0x7E0 && $0.element.data.first! >> 4 == 2 }
        let times = consecutive.map { Double($0.element.timestamp.seconds) + Double($0.element.timestamp.nanoseconds) / 1e9 }
        // Within a block the gaps are STmin (5 ms; the kernel's timestamps may show a little less than the sender's
        // own pacing); a new block starts after the ECU's flow control.
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.count == 5)
        for (index, gap) in gaps.enumerated() where index != 3 {
            #expect(gap >= 0.004, "consecutive frames \(index + 1) and \(index + 2) only \(gap * 1000) ms apart")
        }
    }

    @Test("29-bit physical addressing (18DA10F1 → 18DAF110)")
    func extendedIdentifiers() throws {
        let ecu = try ECU(rxid: "18DA10F1", txid: "18DAF110")
        let (vin, run) = try Self.request(["18DA10F1", "18DAF110", "22F190"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(vin?["length"]?.intValue == 20)
        #expect(ecu.requests == ["22F190"])
    }
}
