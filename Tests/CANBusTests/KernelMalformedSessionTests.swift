import AxleBase
import AxleTestSupport
import Testing
@testable import CANBus

#if canImport(Glibc)
import Glibc
#endif

/// Malformed diagnostic sessions on a real kernel: a peer on raw sockets (scripts/diag/malformed_ecu.py, python-can)
/// breaks ISO-TP and J1939 transfers on purpose, and `axle diag` ends each cleanly, exit 1 (or its normal end) with
/// the reason. On an interface of its own (`vcanbad`, made here).
@Suite(
    "malformed diagnostic sessions on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelMalformedSessionTests {
    static let interface = "vcanbad"

    init() {
        if shell("ip link show \(Self.interface) >/dev/null 2>&1") != 0 {
            #expect(shell("ip link add dev \(Self.interface) type vcan && ip link set \(Self.interface) up") == 0,
                    "cannot make the virtual CAN interface \(Self.interface)")
        }
    }

    /// The broken peer in `mode`, started and ready.
    final class Peer {
        let process: ChildProcess
        let output: String

        init(mode: String) throws {
            let directory = try AxleProcess.makeTemporaryDirectory()
            output = directory + "/peer.out"
            process = try ChildProcess(
                executable: AxleProcess.packageRoot + "/.venv/bin/python",
                arguments: [
                    AxleProcess.packageRoot + "/scripts/diag/malformed_ecu.py", "--interface", KernelMalformedSessionTests.interface,
                    "--mode", mode,
                ],
                stdoutPath: output, stderrPath: output + ".err")
            let ready = waitUntil(timeoutSeconds: 30) { readText(output).contains("ready") || !process.isRunning }
            #expect(ready && process.isRunning, "the peer did not start: \(readText(output + ".err"))")
        }

        deinit { process.terminate(timeoutSeconds: 5) }
    }

    @Test(
        "a broken ISO-TP answer ends the request with exit 1 and its reason",
        arguments: [
            ("wrong-sequence", "consecutive frame 2 where 1 was due, after 6 of 20 bytes: the message is dropped"),
            ("too-long", "a first frame announces 5000 bytes, more than the 4095 taken here"),
            ("orphan-consecutive", "a consecutive frame (sequence 1) with no first frame before it"),
        ])
    func brokenAnswer(mode: String, reason: String) throws {
        let peer = try Peer(mode: mode)
        defer { withExtendedLifetime(peer) {} }
        let result = try AxleProcess.run(["diag", "request", Self.interface, "7E0", "7E8", "22F190", "--timeout", "500ms"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(reason), "\(mode): \(result.stderr)")
    }

    @Test("a J1939 broadcast whose packets stop: the transfer times out with its reason, and dm1 goes on")
    func brokenBroadcast() throws {
        let peer = try Peer(mode: "broken-bam")
        defer { withExtendedLifetime(peer) {} }
        let result = try AxleProcess.run(["diag", "dm1", Self.interface, "--timeout", "2s"])
        #expect(result.stderr.contains("J1939 transport:"), "\(result.stderr)")
        #expect(result.stderr.contains("65226") || result.stderr.contains("FECA"), "names the group: \(result.stderr)")
    }
}
