import CANFrames
import CSocketCAN
import DBC
import Testing
@testable import CANBus

#if canImport(Glibc)
import Glibc
#endif

@Suite("CAN bus, host side (the kernel tests run in user-mode-linux)")
struct CANBusTests {
    /// Applies a filter the way the kernel does: (frame_id ^ filter_id) & mask == 0.
    func passes(_ filter: CANFilter, id: UInt32, extended: Bool, remote: Bool = false) -> Bool {
        let canID = id | (extended ? CANFilter.extendedFlag : 0) | (remote ? CANFilter.remoteFlag : 0)
        return (canID ^ filter.id) & filter.mask == 0
    }

    @Test("exact filters separate 11-bit and 29-bit ids and exclude remote frames")
    func exactFilters() {
        let standard = CANFilter.exact(id: 0x123, isExtended: false)
        #expect(passes(standard, id: 0x123, extended: false))
        #expect(!passes(standard, id: 0x123, extended: true))
        #expect(!passes(standard, id: 0x124, extended: false))
        #expect(!passes(standard, id: 0x123, extended: false, remote: true))
        let extended = CANFilter.exact(id: 0x18FEF100, isExtended: true)
        #expect(passes(extended, id: 0x18FEF100, extended: true))
        #expect(!passes(extended, id: 0x18FEF101, extended: true))
    }

    @Test("J1939 filters ignore priority and source address, and the destination for PDU1")
    func j1939Filters() {
        let pdu2 = CANFilter.j1939(pgn: 0xF004)
        #expect(passes(pdu2, id: 0x0CF00400, extended: true))
        #expect(passes(pdu2, id: 0x18F004FE, extended: true))
        #expect(!passes(pdu2, id: 0x0CF00500, extended: true))
        #expect(!passes(pdu2, id: 0x0F004, extended: false))
        let pdu1 = CANFilter.j1939(pgn: 0xEF00)
        #expect(passes(pdu1, id: 0x18EF2A17, extended: true))
        #expect(passes(pdu1, id: 0x0CEF0000, extended: true))
        #expect(!passes(pdu1, id: 0x18EE2A17, extended: true))
    }

    @Test("kernel filters from a decoder pass its messages, J1939 ones by PGN, and nothing else")
    func decoderFilters() throws {
        let database = try DBCParser.parse(text: """
            BO_ 256 Engine: 8 X
             SG_ A : 0|8@1+ (1,0) [0|0] "" X
            BO_ 2364540158 EEC1: 8 X
             SG_ B : 24|16@1+ (0.125,0) [0|0] "" X
            BO_ 2147484160 Gnss: 8 X
             SG_ C : 0|8@1+ (1,0) [0|0] "" X
            BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG";
            BA_ "VFrameFormat" BO_ 2364540158 3;
            """)
        let filters = CompiledDecoder(database: database).kernelFilters
        #expect(filters.count == 3)
        let accepts = { (id: UInt32, extended: Bool) in filters.contains { self.passes($0, id: id, extended: extended) } }
        #expect(accepts(0x100, false))
        #expect(!accepts(0x101, false))
        #expect(accepts(0x0CF00400, true), "EEC1 from source address 0x00")
        #expect(accepts(0x200, true))
        #expect(!accepts(0x200, false))
    }

    @Test("frames cross the C boundary unchanged in both directions")
    func conversions() {
        var fd = CANFrame(id: 0x1ABCDE, isExtended: true, isFD: true, fdFlags: 1, data: Array(0..<48))
        fd.interface = "vcan0"
        var remote = CANFrame(id: 0x7FF)
        remote.kind = .remote
        remote.length = 4
        var classic = CANFrame(id: 0x123, data: [1, 2, 3, 4, 5, 6, 7, 8])
        classic.len8DLC = 0xC
        var error = CANFrame(id: 0x40, data: [0, 0, 0, 0, 0, 0, 0, 0])
        error.kind = .error
        for frame in [fd, remote, classic, error] {
            var raw = CANSocket.raw(from: frame)
            raw.timestamp_sec = 1_700_000_000
            raw.timestamp_nsec = 123_456_000
            let back = CANSocket.frame(from: raw, interface: frame.interface)
            #expect(back.id == frame.id)
            #expect(back.isExtended == frame.isExtended)
            #expect(back.kind == frame.kind)
            #expect(back.isFD == frame.isFD)
            #expect(back.length == frame.length)
            #expect(back.len8DLC == frame.len8DLC)
            #expect(back.data == frame.data)
            #expect(back.timestamp == CANTimestamp(seconds: 1_700_000_000, nanoseconds: 123_456_000))
        }
    }

    @Test("bus load counts wire bits, stuffing included, over the window")
    func busLoad() {
        var estimator = BusLoadEstimator(now: 0, window: 1)
        for index in 0..<1000 { estimator.record(payloadBytes: 8, isExtended: false, now: Double(index) / 1000) }
        estimator.roll(now: 1.0)
        #expect(estimator.framesPerSecond == 1000)
        // 47 + 64 = 111 bits, plus (111 - 13) / 5 = 19 stuff bits.
        #expect(estimator.bitsPerSecond == 130_000)
        #expect(estimator.load(bitrate: 500_000) == 0.26)
        #expect(estimator.load(bitrate: nil) == nil)
    }

    @Test("errors say what to do")
    func errorMessages() {
        #expect(CANBusError(interface: "can7", operation: "open a CAN socket", code: ENODEV).description.contains("no CAN interface named can7"))
        #expect(CANBusError(interface: "can0", operation: "receive", code: ENETDOWN).description.contains("ip link set can0 up"))
        #expect(CANBusError(interface: "can0", operation: "open a CAN socket", code: EAFNOSUPPORT).description.contains("no CAN support"))
    }

    @Test("health of a missing interface reports it missing rather than failing")
    func missingInterfaceHealth() {
        let health = BusHealth.read(interface: "nonexistent7")
        #expect(!health.exists)
        #expect(health.state == nil)
    }
}
