import AxleBase
import AxleTestSupport
import CANFrames
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axled`'s diagnostics service on a real kernel's vcan: it polls a UDS ECU built on independent packages
/// (scripts/diag/uds_ecu.py: can-isotp's user-space ISO-TP, udsoncan's answers) for a DID and its fault codes, while a
/// second ECU of the profile never answers. On an interface of its own (`vcandsvc`), so the other kernel suites never
/// see this traffic.
@Suite(
    "the agent's diagnostics service on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelDiagnosticsServiceTests {
    static let interface = "vcandsvc"

    init() {
        if shell("ip link show \(Self.interface) >/dev/null 2>&1") != 0 {
            #expect(shell("ip link add dev \(Self.interface) type vcan && ip link set \(Self.interface) up") == 0,
                    "cannot make the virtual CAN interface \(Self.interface)")
        }
    }

    /// A profile with one bus and two UDS ECUs: `bms` (the Python ECU) and `silent` (nothing answers on 0x7E3).
    static func profile(in directory: String) throws -> String {
        let folder = directory + "/diag-kernel"
        guard mkdir(folder, 0o755) == 0 else { throw TestSupportError("cannot create \(folder)") }
        _ = try AxleProcess.writeFile(
            folder + "/demo_sedan.dbc",
            AxleProcess.readText(AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"))
        _ = try AxleProcess.writeFile(folder + "/profile.toml", """
            [profile]
            name = "diag-kernel"
            platform = "Test rig"
            firmware = "1"

            [buses.body]
            dbc = "demo_sedan.dbc"

            [signals]
            "Vehicle.Speed" = { source = "VehicleMotion.VehicleSpeed", unit = "km/h" }

            [diagnostics]
            budget = "200/s"

            [diagnostics.ecus.bms]
            protocol = "uds"
            request-id = 0x7E4
            response-id = 0x7EC
            faults = "2s"

            [diagnostics.ecus.silent]
            protocol = "uds"
            request-id = 0x7E3
            response-id = 0x7EB
            timeout = "500ms"

            [diagnostics.signals]
            # The VIN's first byte: 'W', 87.
            "Vehicle.Private.Test.VINFirstByte" = { ecu = "bms", did = 0xF190, length = 1, every = "200ms" }
            "Vehicle.Private.Test.Silent" = { ecu = "silent", did = 0x0101, length = 1, every = "200ms" }
            """)
        return folder
    }

    static func diagnostics(socket: String) -> JSONValue? {
        guard let result = try? AxleProcess.run(["status", "--socket", socket, "--json"]) else { return nil }
        return (try? JSONValue.parse(result.stdout))?["diagnostics"]
    }

    static func ecu(_ report: JSONValue?, _ name: String) -> JSONValue? {
        report?["ecus"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    @Test("a DID polled and 25 fault codes read from a can-isotp/udsoncan ECU; a silent ECU times out, is backed off, and stalls nothing")
    func pollsBesideASilentECU() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = shell("rm -rf \(AxleProcess.shellQuote(directory))") }
        let output = directory + "/ecu.out"
        let ecu = try ChildProcess(
            executable: AxleProcess.packageRoot + "/.venv/bin/python",
            arguments: [AxleProcess.packageRoot + "/scripts/diag/uds_ecu.py", "--interface", Self.interface, "--rxid", "7E4", "--txid", "7EC"],
            stdoutPath: output, stderrPath: output + ".err")
        defer { ecu.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 30) { readText(output).contains("ready") || !ecu.isRunning }, "\(readText(output + ".err"))")

        let socket = directory + "/axled.sock"
        let agent = try ChildProcess(
            executable: AxleProcess.builtExecutable("axled"),
            arguments: [
                "--profile", try Self.profile(in: directory), "--vehicle-id", "diag-kernel", "--data-dir", directory + "/data",
                "--broker", "mqtt://127.0.0.1:9", "--control-socket", socket, "--can", "body=\(Self.interface)",
                "--log-level", "info",
            ],
            stderrPath: directory + "/axled.log")
        defer {
            agent.send(signal: SIGTERM)
            _ = agent.wait(timeoutSeconds: 10)
        }
        // The silent ECU is asked, times out after 500 ms, then waits 1, 2, 4 s; meanwhile bms is polled every 200 ms.
        let settled = waitUntil(timeoutSeconds: 30, pollSeconds: 0.5) {
            let report = Self.diagnostics(socket: socket)
            // bms answers at least 20 polls meanwhile (a loaded machine takes longer to get there, never fewer).
            return (Self.ecu(report, "silent")?["timeouts"]?.doubleValue ?? 0) >= 3
                && (Self.ecu(report, "bms")?["faults"]?.arrayValue?.count ?? 0) == 25
                && (Self.ecu(report, "bms")?["answers"]?.doubleValue ?? 0) >= 20
        }
        let report = Self.diagnostics(socket: socket)
        #expect(settled, "\(String(describing: report)); agent: \(readText(directory + "/axled.log").suffix(2000))")
        let bms = Self.ecu(report, "bms")
        let silent = Self.ecu(report, "silent")
        #expect((bms?["answers"]?.doubleValue ?? 0) >= 20, "bms kept being polled: \(String(describing: bms))")
        #expect(bms?["timeouts"]?.doubleValue == 0)
        #expect(bms?["faults"]?.arrayValue?.first?.stringValue == "P0000-00", "the first of udsoncan's codes, 0x000000: \(String(describing: bms))")
        #expect((silent?["answers"]?.doubleValue ?? -1) == 0 && (silent?["silent"]?.doubleValue ?? 0) >= 3)
        #expect(silent?["last_problem"]?.stringValue?.contains("no answer") == true)

        let signals = try AxleProcess.run(["signals", "--socket", socket, "--json", "Vehicle.Private.Test.VINFirstByte"])
        let value = (try? JSONValue.parse(signals.stdout))?["signals"]?.arrayValue?.first?["value"]?.doubleValue
        #expect(value == 87, "\(signals.stdout)")
        // The ECU saw the poll schedule: 0x22 F190 many times, 0x19 02 08 every 2 s, never two at once (it is
        // single-threaded: an overlapping request would have been lost, and the counts above would not add up).
        let requests = readText(output).split(separator: "\n").filter { $0.hasPrefix("request ") }
        #expect(requests.filter { $0 == "request 22F190" }.count >= 15, "\(requests.count) requests")
        #expect(requests.contains("request 190208"))
        #expect(readText(directory + "/axled.log").contains("ECU silent, request 22 01 01: no answer"))
    }
}
