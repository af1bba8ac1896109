import CANFrames
import AxleTestSupport
import Testing
@testable import CANBus

#if canImport(Glibc)
import Glibc
#endif

/// Set inside the user-mode-linux guest by scripts/uml/can-tests.sh, which `make test` runs; the host kernel has
/// no CAN, so on the host these tests are reported as skipped (and `make test` fails if the guest cannot run them).
let insideCANGuest = getenv("AXLE_KERNEL_TESTS") != nil

/// Runs a shell command (can-utils, ip) and returns its exit status.
@discardableResult
func shell(_ command: String) -> Int32 {
    let status = system(command)
    return (status >> 8) & 0xFF
}

func readText(_ path: String) -> String { AxleProcess.readText(path) }

var axleExecutable: String { AxleProcess.executable }

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Receives until `count` frames arrived or `seconds` passed.
func receive(_ socket: CANSocket, count: Int, seconds: Double = 5) throws -> (frames: [CANFrame], drops: UInt32) {
    var frames: [CANFrame] = []
    var drops: UInt32 = 0
    var batch = CANSocket.Batch()
    let deadline = now() + seconds
    while frames.count + Int(drops) < count, now() < deadline {
        try socket.receive(timeoutMilliseconds: 100, into: &batch)
        frames += batch.frames
        drops += batch.kernelDrops
    }
    return (frames, drops)
}

/// Waits until no socket from an earlier test listens on `interface`, so that new readers can be counted.
func expectQuiet(_ interface: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let quiet = CANReceivers.waitUntilNone(on: interface)
    #expect(quiet, "sockets of earlier tests still listen on \(interface): \(CANReceivers.on(interface))", sourceLocation: sourceLocation)
}

/// Starts a program in the background with its output in `stdoutPath`, and waits until it listens on `interface`
/// without a filter (one more unfiltered reader than before it started).
func startReader(_ executable: String, _ arguments: [String], stdoutPath: String, on interface: String) throws -> ChildProcess {
    let before = CANReceivers.unfilteredReaders(on: interface)
    let reader = try ChildProcess(executable: executable, arguments: arguments, stdoutPath: stdoutPath, stderrPath: stdoutPath + ".err")
    let listening = CANReceivers.waitForUnfilteredReaders(on: interface, count: before + 1)
    #expect(listening, "\(arguments.joined(separator: " ")) did not start listening on \(interface): \(CANReceivers.on(interface)); stderr: \(readText(stdoutPath + ".err"))")
    return reader
}

/// Waits for a reader started with a frame count (`-n`) to exit once it has seen them; its exit status.
func finished(_ reader: ChildProcess, _ what: String, stdoutPath: String) -> Int32? {
    let status = reader.wait(timeoutSeconds: 30)
    if status == nil { reader.terminate(timeoutSeconds: 2) }
    #expect(status != nil, "\(what) did not see all its frames within 30 s; it printed \(readText(stdoutPath).split(separator: "\n").count) lines")
    return status
}

@Suite("SocketCAN on a real kernel (user-mode-linux, vcan)", .serialized, .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelCANTests {
    @Test("classic, extended, remote and FD frames from cansend arrive bit-exact with kernel timestamps")
    func receivesEveryKind() throws {
        let socket = try CANSocket(interface: "vcan0")
        let before = now()
        for frame in ["123#DEADBEEF", "12345678#00112233", "123#R", "7FF#R5", "123##1112233445566778899AABBCC", "001#"] {
            #expect(shell("cansend vcan0 '\(frame)'") == 0)
        }
        let (frames, drops) = try receive(socket, count: 6)
        #expect(drops == 0)
        // The kernel marks received FD frames with CANFD_FDF (0x04) on top of the sender's BRS: flags 5, as candump prints.
        #expect(frames.map(CandumpFormat.frameText) == ["123#DEADBEEF", "12345678#00112233", "123#R", "7FF#R5", "123##5112233445566778899AABBCC", "001#"])
        for frame in frames {
            #expect(frame.interface == "vcan0")
            #expect(frame.timestamp.timeInterval >= before - 1 && frame.timestamp.timeInterval <= now() + 1, "kernel receive time")
        }
    }

    @Test("a cangen burst with no gap: every frame received, or the exact number dropped reported")
    func burst() throws {
        let socket = try CANSocket(interface: "vcan0")
        try socket.setFilters([CANFilter(id: 0x100, mask: 0x700 | CANFilter.extendedFlag)])
        // Ids 0x100-0x1FF only; then a sentinel 0x1FF#FF: the kernel reports drops (SO_RXQ_OVFL) with the next
        // frame it delivers, so the sentinel carries the count of any drops at the end of the burst.
        shell("(cangen vcan0 -g 0 -n 20000 -I 100 -L 8 -D i; sleep 0.2; cansend vcan0 1FF#FFFFFFFFFFFFFFFF) &")
        var frames = 0
        var drops: UInt32 = 0
        var batch = CANSocket.Batch()
        var sawSentinel = false
        let deadline = now() + 60
        while !sawSentinel, now() < deadline {
            try socket.receive(timeoutMilliseconds: 200, into: &batch)
            drops += batch.kernelDrops
            for frame in batch.frames {
                if frame.id == 0x1FF && frame.length == 8 && frame.data.allSatisfy({ $0 == 0xFF }) { sawSentinel = true } else { frames += 1 }
            }
        }
        shell("wait")
        #expect(sawSentinel)
        #expect(frames + Int(drops) == 20000, "received \(frames), dropped \(drops)")
    }

    @Test("frames sent by Axle are seen byte-exact by can-utils candump")
    func sendsToCandump() throws {
        expectQuiet("vcan0")
        let candump = try startReader("/usr/bin/candump", ["-L", "-n", "4", "vcan0"], stdoutPath: "/tmp/axle-candump.log", on: "vcan0")
        let socket = try CANSocket(interface: "vcan0")
        let frames = [
            CANFrame(id: 0x123, data: [0xDE, 0xAD, 0xBE, 0xEF]),
            CANFrame(id: 0x1ABCDEF0, isExtended: true, data: [1, 2, 3]),
            CANFrame(id: 0x321, isFD: true, fdFlags: CANFrame.fdFlagBRS, data: Array(0..<16)),
            { var remote = CANFrame(id: 0x42); remote.kind = .remote; remote.length = 2; return remote }(),
        ]
        for frame in frames { try socket.send(frame) }
        #expect(finished(candump, "candump", stdoutPath: "/tmp/axle-candump.log") == 0)
        let lines = readText("/tmp/axle-candump.log").split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(lines == ["123#DEADBEEF", "1ABCDEF0#010203", "321##5000102030405060708090A0B0C0D0E0F", "042#R2"])
    }

    @Test("a timed sequence arrives in order with its spacing")
    func timedSequence() throws {
        let receiver = try CANSocket(interface: "vcan0")
        try receiver.setFilters([.exact(id: 0x555, isExtended: false)])
        let sender = try CANSocket(interface: "vcan0")
        try sender.send(sequence: (0..<5).map { CANFrame(id: 0x555, data: [UInt8($0)]) }, interval: 0.05)
        let (frames, _) = try receive(receiver, count: 5)
        #expect(frames.map { $0.data[0] } == [0, 1, 2, 3, 4])
        let span = frames[4].timestamp.timeInterval - frames[0].timestamp.timeInterval
        #expect(span >= 0.19 && span < 0.5, "4 intervals of 50 ms took \(span) s")
    }

    @Test("axle bus status reports a vcan interface and degrades quietly where the driver has no controller")
    func busStatus() throws {
        shell("\(axleExecutable) bus status vcan0 --json --sample 0.2 > /tmp/status.json; echo $? > /tmp/status.rc")
        let json = readText("/tmp/status.json")
        #expect(readText("/tmp/status.rc").hasPrefix("0"))
        #expect(json.contains(#""interface": "vcan0""#) && json.contains(#""up": true"#) && json.contains(#""fd": true"#))
        #expect(json.contains(#""state": null"#), "vcan has no controller state")
        #expect(shell("\(axleExecutable) bus status nosuchcan0 > /tmp/missing.txt 2>&1") == 1)
        #expect(readText("/tmp/missing.txt").contains("missing"))
        shell("ip link set vcan1 down")
        defer { shell("ip link set vcan1 up") }
        #expect(shell("\(axleExecutable) bus status vcan1 --sample 0.1 > /tmp/down.txt 2>&1") == 1)
        #expect(readText("/tmp/down.txt").contains("down"))
        #expect(shell("\(axleExecutable) candump nosuchcan0 -n 1 2> /tmp/err.txt") == 1)
        #expect(readText("/tmp/err.txt").contains("no CAN interface named nosuchcan0"))
    }

    @Test("kernel filters deliver only the ids asked for, J1939 by PGN")
    func filters() throws {
        let socket = try CANSocket(interface: "vcan0")
        try socket.setFilters([.exact(id: 0x123, isExtended: false), .j1939(pgn: 0xF004)])
        for frame in ["122#01", "123#02", "0CF00400#03", "18F00417#04", "0CF00500#05", "00000123#06"] {
            shell("cansend vcan0 \(frame)")
        }
        let (frames, _) = try receive(socket, count: 3, seconds: 2)
        #expect(frames.map(CandumpFormat.frameText) == ["123#02", "0CF00400#03", "18F00417#04"])
    }

    @Test("error frames are reported as bus events")
    func errorFrames() throws {
        let socket = try CANSocket(interface: "vcan0")
        try socket.receiveErrorFrames()
        // On vcan an error frame can be injected like any other; a real controller raises them itself.
        #expect(shell("cansend vcan0 20000004#0004000000000000") == 0)
        let (frames, _) = try receive(socket, count: 1, seconds: 2)
        #expect(frames.first?.kind == .error)
        #expect(frames.first?.id == 0x4)
    }

    @Test("axle candump prints exactly what candump -L prints for the same traffic")
    func candumpIdentical() throws {
        expectQuiet("vcan0")
        let candump = try startReader("/usr/bin/candump", ["-L", "-n", "200", "vcan0"], stdoutPath: "/tmp/cu.log", on: "vcan0")
        let axle = try startReader(axleExecutable, ["candump", "vcan0", "-n", "200"], stdoutPath: "/tmp/axle.log", on: "vcan0")
        #expect(shell("cangen vcan0 -g 1 -n 150 -e -f -L 12 ; cangen vcan0 -g 1 -n 50 -R") == 0)
        #expect(finished(candump, "candump", stdoutPath: "/tmp/cu.log") == 0)
        #expect(finished(axle, "axle candump", stdoutPath: "/tmp/axle.log") == 0)
        let reference = readText("/tmp/cu.log")
        #expect(reference.split(separator: "\n").count == 200)
        #expect(readText("/tmp/axle.log") == reference)
    }

    @Test("the simulator on a bus opens the trunk when a trunk-open request is sent with cansend")
    func simulatorReactsOnTheBus() throws {
        let dbc = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"
        // An interface of its own: the simulator sends until it is stopped.
        shell("ip link add dev vcan7 type vcan; ip link set vcan7 up")
        defer { shell("ip link delete vcan7") }
        let socket = try CANSocket(interface: "vcan7")
        try socket.setFilters([.exact(id: 0x103, isExtended: false)]) // BodyStatus
        let receiversBefore = CANReceivers.on("vcan7").count
        let simulator = try ChildProcess(
            executable: axleExecutable,
            arguments: ["simulate", "--dbc", dbc, "--profile", "demo-sedan", "--scenario", "parked", "--to", "vcan7", "--duration", "30"],
            stderrPath: "/tmp/sim.err")
        defer { simulator.terminate(timeoutSeconds: 5) }
        // The simulator listens for commands on the bus: wait for its socket before sending one.
        let listening = CANReceivers.wait(on: "vcan7") { $0.count > receiversBefore }
        #expect(listening, "the simulator did not start listening on vcan7: \(readText("/tmp/sim.err"))")
        /// The trunk state of the first BodyStatus frame that arrives within `seconds`.
        func trunkOpen(seconds: Double) throws -> Bool? {
            let (frames, _) = try receive(socket, count: 1, seconds: seconds)
            return frames.last.map { $0.data[0] & 1 == 1 }
        }
        #expect(try trunkOpen(seconds: 10) == false, "parked with the trunk closed: \(readText("/tmp/sim.err"))")
        #expect(shell("cansend vcan7 200#0100") == 0) // TrunkCommand: TrunkOpenRequest=1
        // BodyStatus frames sent before the reaction still say closed: read them until one says open.
        var opened = false
        let deadline = now() + 10
        while !opened, now() < deadline { opened = try trunkOpen(seconds: 1) == true }
        #expect(opened, "trunk reported open after the request: \(readText("/tmp/sim.err"))")
    }

    @Test("axle candump on two interfaces, with --dbc decoding and --only-known kernel filters")
    func candumpDecodesAndFilters() throws {
        let dbc = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan/demo_sedan.dbc"
        expectQuiet("vcan0")
        expectQuiet("vcan1")
        let axle = try ChildProcess(
            executable: axleExecutable, arguments: ["candump", "vcan0", "vcan1", "-n", "2", "--dbc", dbc, "--only-known"],
            stdoutPath: "/tmp/decoded.log", stderrPath: "/tmp/decoded.err")
        // Ready once its kernel filters replaced the catch-all receiver a socket starts with, on both interfaces.
        for (interface, id) in [("vcan0", UInt32(0x101)), ("vcan1", 0x104)] {
            let filtered = CANReceivers.wait(on: interface) { receivers in
                receivers.contains { $0.canID == id } && !receivers.contains { $0.list == "all" }
            }
            #expect(filtered, "axle candump --only-known did not set its filters on \(interface): \(CANReceivers.on(interface)); \(readText("/tmp/decoded.err"))")
        }
        shell("cansend vcan0 7AA#00; cansend vcan0 101#138803D6760001F4; cansend vcan1 6AA#00; cansend vcan1 104#0100")
        #expect(finished(axle, "axle candump --only-known", stdoutPath: "/tmp/decoded.log") == 0)
        let lines = readText("/tmp/decoded.log").split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains("vcan0 101#138803D6760001F4 ; VehicleSpeed=50.0 Gear=3") == true, "\(lines)")
        #expect(lines.last?.contains("vcan1 104#0100 ; CrashDetected=1") == true, "\(lines)")
    }

    @Test("axle record output replays with canplayer, and canplayer input records identically")
    func recordAndReplay() throws {
        // Interfaces of its own, so that traffic from other tests cannot leak into the recordings.
        shell("for i in 5 6; do ip link add dev vcan$i type vcan; ip link set vcan$i mtu 16 up; done")
        defer { shell("ip link delete vcan5; ip link delete vcan6") }
        shell("rm -f /tmp/rec.log /tmp/rec2.log /tmp/input.log")
        // A recording made by Axle…
        let record = try startReader(axleExecutable, ["record", "vcan5", "--out", "/tmp/rec.log", "-n", "100"], stdoutPath: "/tmp/rec.out", on: "vcan5")
        shell("cangen vcan5 -g 1 -n 100")
        #expect(finished(record, "axle record", stdoutPath: "/tmp/rec.log") == 0)
        let recorded = readText("/tmp/rec.log")
        #expect(recorded.split(separator: "\n").count == 100)
        // …is played back by canplayer (onto vcan6) and recorded again with identical frames.
        let recordAgain = try startReader(axleExecutable, ["record", "vcan6", "--out", "/tmp/rec2.log", "-n", "100"], stdoutPath: "/tmp/rec2.out", on: "vcan6")
        #expect(shell("canplayer -I /tmp/rec.log vcan6=vcan5") == 0)
        #expect(finished(recordAgain, "axle record", stdoutPath: "/tmp/rec2.log") == 0)
        let frames = { (text: String) in text.split(separator: "\n").map { String($0.split(separator: " ")[2]) } }
        #expect(frames(readText("/tmp/rec2.log")) == frames(recorded))
        // axle replay sends what it reads, as canplayer does.
        let candump = try startReader("/usr/bin/candump", ["-L", "-n", "100", "vcan5"], stdoutPath: "/tmp/input.log", on: "vcan5")
        #expect(shell("\(axleExecutable) replay /tmp/rec.log --to vcan5 --speed max") == 0)
        #expect(finished(candump, "candump", stdoutPath: "/tmp/input.log") == 0)
        #expect(frames(readText("/tmp/input.log")) == frames(recorded))
    }
}
