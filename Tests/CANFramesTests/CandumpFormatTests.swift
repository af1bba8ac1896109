import Testing
@testable import CANFrames

@Suite("candump log format")
struct CandumpFormatTests {
    @Test("classic frame with an 11-bit id")
    func classic() throws {
        let frame = try CandumpFormat.parse(line: "(1436509052.249713) can0 123#DEADBEEF")
        #expect(frame.id == 0x123)
        #expect(!frame.isExtended)
        #expect(frame.kind == .data)
        #expect(!frame.isFD)
        #expect(frame.data == [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(frame.timestamp == CANTimestamp(seconds: 1436509052, nanoseconds: 249_713_000, fractionDigits: 6))
        #expect(frame.interface == "can0")
        #expect(frame.direction == nil)
    }

    @Test("29-bit id, lowercase hex, empty payload")
    func extended() throws {
        let frame = try CandumpFormat.parse(line: "(1.000001) vcan1 18fef100#")
        #expect(frame.id == 0x18FEF100)
        #expect(frame.isExtended)
        #expect(frame.length == 0)
        #expect(CandumpFormat.format(frame) == "(1.000001) vcan1 18FEF100#")
    }

    @Test("remote frames, with and without a DLC")
    func remote() throws {
        let plain = try CandumpFormat.parse(line: "(0.000000) can0 123#R")
        #expect(plain.kind == .remote)
        #expect(plain.length == 0)
        let withDLC = try CandumpFormat.parse(line: "(0.000000) can0 12345678#R5")
        #expect(withDLC.kind == .remote)
        #expect(withDLC.isExtended)
        #expect(withDLC.length == 5)
        #expect(withDLC.data.isEmpty)
    }

    @Test("CAN FD frame with flags and 12 bytes")
    func fd() throws {
        let frame = try CandumpFormat.parse(line: "(0.5) can0 123##1112233445566778899AABBCC")
        #expect(frame.isFD)
        #expect(frame.fdFlags == CANFrame.fdFlagBRS)
        #expect(frame.length == 12)
        #expect(frame.data.last == 0xCC)
    }

    @Test("CAN FD length that no FD frame can have is rejected")
    func fdInvalidLength() {
        #expect(throws: CandumpSyntaxError.self) { try CandumpFormat.parse(line: "(0.5) can0 123##0112233445566778899") }
    }

    @Test("classic frame with a raw DLC above 8")
    func len8DLC() throws {
        let line = "(1436509052.249713) can0 123#1122334455667788_E"
        let frame = try CandumpFormat.parse(line: line)
        #expect(frame.length == 8)
        #expect(frame.len8DLC == 0xE)
        #expect(CandumpFormat.format(frame) == line)
    }

    @Test("error frame: 8-digit id with the error flag")
    func errorFrame() throws {
        let frame = try CandumpFormat.parse(line: "(1.000000) can0 20000080#0000000000000000")
        #expect(frame.kind == .error)
        #expect(frame.id == 0x80)
        #expect(CandumpFormat.format(frame) == "(1.000000) can0 20000080#0000000000000000")
    }

    @Test("direction marker, 9-digit timestamp, padded interface, CRLF")
    func variants() throws {
        let frame = try CandumpFormat.parse(line: "(1635188455.020850123)  can1   18F00E00#821639C4FFFFFFFF T\r")
        #expect(frame.direction == .transmitted)
        #expect(frame.timestamp.nanoseconds == 20_850_123)
        #expect(frame.timestamp.fractionDigits == 9)
        #expect(frame.interface == "can1")
        #expect(CandumpFormat.format(frame) == "(1635188455.020850123) can1 18F00E00#821639C4FFFFFFFF T")
    }

    @Test("cansend syntax with dot separators")
    func cansendSyntax() throws {
        let frame = try CandumpFormat.parseFrameText("5A1#11.22.33.44", interface: "vcan0")
        #expect(frame.data == [0x11, 0x22, 0x33, 0x44])
        #expect(frame.interface == "vcan0")
        #expect(CandumpFormat.frameText(frame) == "5A1#11223344")
    }

    @Test(
        "malformed lines say where and why",
        arguments: [
            ("can0 123#00", 1, "expected '('"),
            ("(1.0) can0 1234#00", 12, "3 hex digits"),
            ("(1.0) can0 123#0", 17, "odd number"),
            ("(1.0) can0 123#001122334455667788", 32, "more than 8"),
            ("(1.0) can0 923#00", 12, "above 7FF"),
            ("(1.0) can0 123#00 junk", 19, "unexpected text"),
            ("(1.0)", 6, "interface"),
            ("(x) can0 123#00", 2, "timestamp"),
        ]
    )
    func malformed(line: String, column: Int, reason: String) {
        do {
            _ = try CandumpFormat.parse(line: line)
            Issue.record("\(line) should not parse")
        } catch {
            #expect(error.column == column, "\(line): \(error)")
            #expect(error.reason.contains(reason), "\(line): \(error)")
        }
    }

    @Test("write → read → write is byte-identical for every variant")
    func roundTrip() throws {
        var fd = CANFrame(id: 0x1ABCDEF0, isFD: true, fdFlags: 3, data: Array(0..<64))
        fd.timestamp = CANTimestamp(seconds: 1, nanoseconds: 5, fractionDigits: 9)
        var remote = CANFrame(id: 0x7FF)
        remote.kind = .remote
        remote.length = 8
        remote.len8DLC = 0xF
        var error = CANFrame(id: 0x0004, data: [0, 4, 0, 0, 0, 0, 0, 0])
        error.kind = .error
        let frames = [
            CANFrame(id: 0x123, data: [0xDE, 0xAD]),
            CANFrame(id: 0x123, isExtended: true, data: []),
            fd, remote, error,
            CANFrame(id: 0x10, data: [1, 2, 3], interface: "vcan12", direction: .received),
        ]
        for frame in frames {
            let first = CandumpFormat.format(frame)
            let reread = try CandumpFormat.parse(line: first)
            #expect(reread == frame, "\(first)")
            #expect(CandumpFormat.format(reread) == first)
        }
    }
}
