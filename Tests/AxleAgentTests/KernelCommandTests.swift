import AxleBase
import AxleTestSupport
import CANFrames
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let insideCANGuest = getenv("AXLE_KERNEL_TESTS") != nil

/// Remote commands on a real kernel's CAN stack (user-mode-linux, vcan): `axle-fleet` signs and sends, mosquitto
/// carries, `axled` verifies and writes the frames with SocketCAN, can-utils' `candump` sees them on the bus, and the
/// simulated vehicle (`axle simulate --to`) reacts — or, with `--ignore-commands`, does not.
@Suite(
    "Remote commands on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelCommandTests {
    static let dbc = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"
    static let fleet = AxleProcess.builtExecutable("axle-fleet")

    @Test("trunk.open on vcan: three frames with a rolling counter on the bus, the trunk opens, SUCCEEDED; a deaf vehicle: TIMED_OUT, counter rolling on")
    func commandsOnTheBus() throws {
        let interface = "vcan6"
        #expect(system("ip link add dev \(interface) type vcan && ip link set \(interface) up") == 0)
        defer { _ = system("ip link delete \(interface)") }
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "kvan")
        defer { harness.cleanUp() }
        let prefix = harness.directory + "/backend"
        let keygen = try ChildProcess.run(Self.fleet, ["keygen", "--out", prefix])
        #expect(keygen.status == 0, "\(keygen.output)")
        let busLog = harness.directory + "/bus.log"
        let candump = try ChildProcess(executable: "/usr/bin/candump", arguments: ["-L", interface], stdoutPath: busLog)
        var simulator = try simulate(interface, harness: harness, react: true)
        let agent = try harness.start(broker: broker.url, ["--can", "body=\(interface)", "--trust-key", prefix + ".pub"])
        defer { agent.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 10) { harness.log().contains("ready in") }, "\(harness.log())")
        // The simulated vehicle's first frames, so that trunk.open's precondition has values to read.
        #expect(harness.waitForValues(), "no live values for \(AgentHarness.preconditionSignals): \(harness.log())")

        let send = { (words: [String]) throws -> (status: Int32, output: String) in
            try ChildProcess.run(
                Self.fleet, ["command", "send", "--broker", broker.url, "--vehicle", "kvan", "--key", prefix + ".key", "--json"] + words,
                timeoutSeconds: 30)
        }
        let opened = try send(["trunk.open"])
        #expect(opened.status == 0, "\(opened.output)\n\(harness.log())")
        #expect(opened.output.contains("\"SUCCEEDED\""))
        let trunkFrames = frames(in: busLog, id: 0x200)
        #expect(trunkFrames.map(\.data) == [[0x01, 0x00], [0x01, 0x01], [0x01, 0x02]], "TrunkCommand frames: \(trunkFrames.map(\.data))")

        // A fresh vehicle (trunk closed), deaf to commands: the frames go out, the trunk never reports open.
        simulator.terminate(timeoutSeconds: 5)
        simulator = try simulate(interface, harness: harness, react: false)
        defer { simulator.terminate(timeoutSeconds: 5) }
        // The fresh vehicle's trunk is closed: wait until the agent has seen it say so.
        let closed = waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) {
            harness.signalValues()["Vehicle.Body.Trunk.Rear.IsOpen"] == 0
        }
        #expect(closed, "the agent never saw the fresh vehicle's trunk closed: \(harness.log())")
        let unanswered = try send(["trunk.open"])
        #expect(unanswered.status == 1, "\(unanswered.output)")
        #expect(unanswered.output.contains("\"TIMED_OUT\"") && unanswered.output.contains("no_confirmation"), "\(unanswered.output)")
        #expect(frames(in: busLog, id: 0x200).map(\.data).suffix(3) == [[0x01, 0x03], [0x01, 0x04], [0x01, 0x05]], "the counter rolls on")

        candump.send(signal: SIGTERM)
        _ = candump.wait(timeoutSeconds: 5)
    }

    private func simulate(_ interface: String, harness: AgentHarness, react: Bool) throws -> ChildProcess {
        try ChildProcess(
            executable: AxleProcess.executable,
            arguments: ["simulate", "--dbc", Self.dbc, "--profile", "demo-sedan", "--scenario", "parked", "--to", interface]
                + (react ? [] : ["--ignore-commands"]),
            stderrPath: harness.directory + "/simulator-\(react).log")
    }

    /// The frames of one id that candump recorded so far.
    private func frames(in path: String, id: UInt32) -> [CANFrame] {
        AxleProcess.readText(path).split(separator: "\n").compactMap { line in
            guard let frame = try? CandumpFormat.parse(line: String(line)), frame.id == id, !frame.isExtended else { return nil }
            return frame
        }
    }
}
