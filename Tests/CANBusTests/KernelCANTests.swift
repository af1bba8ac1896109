import CANFrames
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

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The `axle` executable next to the test bundle.
var axleExecutable: String {
    var path = CommandLine.arguments[0]
    while !path.hasSuffix(".xctest"), let slash = path.lastIndex(of: "/") { path = String(path[..<slash]) }
    return String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) + "/axle"
}

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
        #expect(frames.map(CandumpFormat.frameText) == ["123#DEADBEEF", "12345678#00112233", "123#R", "7FF#R5", "123##1112233445566778899AABBCC", "001#"])
        for frame in frames {
            #expect(frame.interface == "vcan0")
            #expect(frame.timestamp.timeInterval >= before - 1 && frame.timestamp.timeInterval <= now() + 1, "kernel receive time")
        }
    }

    @Test("a cangen burst with no gap: every frame received, or the exact number dropped reported")
    func burst() throws {
        let socket = try CANSocket(interface: "vcan0")
        // cangen blocks on a full queue rather than dropping, so every frame it sends reaches the socket's queue.
        #expect(shell("cangen vcan0 -g 0 -n 20000 -I i -L 8 -D i") == 0)
        let (frames, drops) = try receive(socket, count: 20000, seconds: 20)
        #expect(frames.count + Int(drops) == 20000, "received \(frames.count), dropped \(drops)")
        // Incrementing ids and payloads: what arrived is in order and uncorrupted.
        for (index, frame) in frames.enumerated().dropFirst() where frames[index - 1].id != 0x7FF {
            #expect(frame.id == frames[index - 1].id + 1 || drops > 0)
        }
    }

    @Test("frames sent by Axle are seen byte-exact by can-utils candump")
    func sendsToCandump() throws {
        shell("rm -f /tmp/axle-candump.log; candump -L -n 4 vcan0 > /tmp/axle-candump.log & sleep 0.3")
        let socket = try CANSocket(interface: "vcan0")
        let frames = [
            CANFrame(id: 0x123, data: [0xDE, 0xAD, 0xBE, 0xEF]),
            CANFrame(id: 0x1ABCDEF0, isExtended: true, data: [1, 2, 3]),
            CANFrame(id: 0x321, isFD: true, fdFlags: CANFrame.fdFlagBRS, data: Array(0..<16)),
            { var remote = CANFrame(id: 0x42); remote.kind = .remote; remote.length = 2; return remote }(),
        ]
        for frame in frames { try socket.send(frame) }
        shell("sleep 0.3; wait")
        let lines = readText("/tmp/axle-candump.log").split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(lines == ["123#DEADBEEF", "1ABCDEF0#010203", "321##1000102030405060708090A0B0C0D0E0F", "042#R2"])
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

    @Test("the reader survives the interface going down and up, and being deleted and re-created")
    func readerRecovers() async throws {
        shell("ip link add dev vcan9 type vcan 2>/dev/null; ip link set vcan9 up")
        let reader = CANReader(interface: "vcan9")
        reader.start()
        defer { reader.stop() }
        var iterator = reader.batches.makeAsyncIterator()

        func sendAndReceive(_ text: String) async -> Bool {
            for _ in 0..<50 {
                shell("cansend vcan9 \(text) 2>/dev/null")
                let deadline = now() + 0.2
                while now() < deadline {
                    guard let batch = await iterator.next() else { return false }
                    if batch.contains(where: { CandumpFormat.frameText($0) == text }) { return true }
                }
            }
            return false
        }

        #expect(await sendAndReceive("111#01"))
        shell("ip link set vcan9 down; sleep 0.3; ip link set vcan9 up")
        #expect(await sendAndReceive("111#02"), "after down/up")
        shell("ip link delete vcan9; sleep 0.5; ip link add dev vcan9 type vcan; ip link set vcan9 up")
        #expect(await sendAndReceive("111#03"), "after delete/re-create")
        #expect(reader.statistics.opens >= 2)
        shell("ip link delete vcan9")
    }

    @Test("a bus-off error frame is counted and a controller restart attempted (unsupported on vcan, so none succeeds)")
    func busOff() async throws {
        let reader = CANReader(interface: "vcan0")
        reader.start()
        defer { reader.stop() }
        for _ in 0..<50 where reader.statistics.busOffEvents == 0 {
            shell("cansend vcan0 20000040#0000000000000000")
            usleep(100_000)
        }
        #expect(reader.statistics.busOffEvents >= 1)
        #expect(reader.statistics.restarts == 0)
    }

    @Test("axle candump prints exactly what candump -L prints for the same traffic")
    func candumpIdentical() throws {
        shell("rm -f /tmp/cu.log /tmp/axle.log")
        shell("candump -L -n 200 vcan0 > /tmp/cu.log & \(axleExecutable) candump vcan0 -n 200 > /tmp/axle.log & sleep 0.5")
        #expect(shell("cangen vcan0 -g 1 -n 150 -e -f -L 12 ; cangen vcan0 -g 1 -n 50 -R") == 0)
        shell("sleep 0.5; wait")
        let reference = readText("/tmp/cu.log")
        #expect(reference.split(separator: "\n").count == 200)
        #expect(readText("/tmp/axle.log") == reference)
    }

    @Test("axle record output replays with canplayer, and canplayer input records identically")
    func recordAndReplay() throws {
        shell("rm -f /tmp/rec.log /tmp/rec2.log /tmp/input.log")
        // A recording made by Axle…
        shell("\(axleExecutable) record vcan0 --out /tmp/rec.log -n 100 & sleep 0.5")
        shell("cangen vcan0 -g 1 -n 100 -x; wait")
        let recorded = readText("/tmp/rec.log")
        #expect(recorded.split(separator: "\n").count == 100)
        // …is played back by canplayer (onto vcan1, classic) and recorded again with identical frames.
        shell("\(axleExecutable) record vcan1 --out /tmp/rec2.log -n 100 & sleep 0.5")
        #expect(shell("canplayer -I /tmp/rec.log vcan1=vcan0") == 0)
        shell("wait")
        let frames = { (text: String) in text.split(separator: "\n").map { String($0.split(separator: " ")[2]) } }
        #expect(frames(readText("/tmp/rec2.log")) == frames(recorded))
        // axle replay sends what it reads, as canplayer does.
        shell("candump -L -n 100 vcan0 > /tmp/input.log & sleep 0.3")
        #expect(shell("\(axleExecutable) replay /tmp/rec.log --to vcan0 --speed max") == 0)
        shell("wait")
        #expect(frames(readText("/tmp/input.log")) == frames(recorded))
    }
}
