import CANFrames
import Testing
@testable import DBC

/// Decodes one frame and returns (name → (raw, physical, label)).
func decodeAll(_ decoder: CompiledDecoder, _ frame: CANFrame) -> [String: (raw: CompiledSignal.Number, value: CompiledSignal.Number, label: String?)] {
    var result = DecodedFrame()
    _ = decoder.decode(frame, into: &result)
    var values: [String: (CompiledSignal.Number, CompiledSignal.Number, String?)] = [:]
    for decoded in result.signals {
        let signal = decoder.signals[Int(decoded.signalIndex)]
        values[signal.name] = (signal.rawValue(decoded.rawBits), signal.physical(decoded.rawBits), decoder.label(of: decoded))
    }
    return values
}

@Suite("compiled decoder")
struct CompiledDecoderTests {
    let decoder: CompiledDecoder

    init() throws {
        decoder = CompiledDecoder(database: try DBCParser.parse(text: grammarSample, source: "sample.dbc"))
    }

    @Test("Intel and Motorola layouts, signed values, factors and offsets")
    func layouts() {
        // EngineSpeed 0|16@1+ ×0.25: 0x1F40 = 8000 → 2000 rpm. Coolant 16|8@1- (1,-40): 0x82 = -126 → -166.
        // Pressure 31|12@0+ ×0.5: MSB at bit 31 (byte 3, bit 7), 12 bits: byte 3 then high nibble of byte 4.
        // Trim 40|8@1- (-0.1,+1): 0xFF = -1 → 1.1.
        let frame = CANFrame(id: 256, data: [0x40, 0x1F, 0x82, 0xAB, 0xC0, 0xFF, 0, 0])
        let values = decodeAll(decoder, frame)
        #expect(values["EngineSpeed"]?.raw == .integer(8000))
        #expect(values["EngineSpeed"]?.value == .float(2000))
        #expect(values["Coolant"]?.raw == .integer(-126))
        #expect(values["Coolant"]?.value == .integer(-166))
        #expect(values["Pressure"]?.raw == .integer(0xABC))
        #expect(values["Pressure"]?.value == .float(Double(0xABC) * 0.5))
        #expect(values["Trim"]?.raw == .integer(-1))
        #expect(values["Trim"]?.value == .float(-1 * -0.1 + 1))
    }

    @Test("the fast double path agrees with the exact values")
    func doubleAgreesWithExact() {
        var result = DecodedFrame()
        _ = decoder.decode(CANFrame(id: 256, data: [0x40, 0x1F, 0x82, 0xAB, 0xC0, 0xFF, 0, 0]), into: &result)
        for decoded in result.signals {
            let signal = decoder.signals[Int(decoded.signalIndex)]
            switch signal.physical(decoded.rawBits) {
            case .integer(let exact): #expect(decoded.value == Double(exact))
            case .float(let value): #expect(decoded.value == value)
            }
        }
    }

    @Test("labels come from VAL_ by raw value")
    func labels() {
        let values = decodeAll(decoder, CANFrame(id: 256, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(values["Coolant"]?.label == nil)
        let fault = decodeAll(decoder, CANFrame(id: 256, data: [0, 0, 0xD8, 0, 0, 0, 0, 0])) // 0xD8 = -40
        #expect(fault["Coolant"]?.label == "Sensor fault")
    }

    @Test("only the signals the multiplexer selects are reported")
    func multiplexed() {
        let rpm = decodeAll(decoder, CANFrame(id: 512, data: [1, 0x10, 0x27, 0, 0, 0, 0, 0]))
        #expect(Set(rpm.keys) == ["Service", "Rpm"])
        #expect(rpm["Rpm"]?.value == .integer(10000))
        #expect(rpm["Service"]?.label == "Rpm")
        let temp = decodeAll(decoder, CANFrame(id: 512, data: [2, 100, 0, 0, 0, 0, 0, 0]))
        #expect(Set(temp.keys) == ["Service", "Temp"])
        #expect(temp["Temp"]?.value == .integer(60))
        let page = decodeAll(decoder, CANFrame(id: 513, data: [1, 0x34, 0x12, 0, 0, 0, 0, 0]))
        #expect(Set(page.keys) == ["Page", "PageB"])
        #expect(page["PageB"]?.raw == .integer(0x1234))
    }

    @Test("extended multiplexing: a switch that is itself multiplexed, with value ranges")
    func extendedMultiplexing() {
        let selected = decodeAll(decoder, CANFrame(id: 512, data: [3, 5, 0x34, 0x12, 0, 0, 0, 0]))
        #expect(Set(selected.keys) == ["Service", "SubId", "SubValue"])
        #expect(selected["SubValue"]?.raw == .integer(0x1234))
        let nine = decodeAll(decoder, CANFrame(id: 512, data: [3, 9, 1, 0, 0, 0, 0, 0]))
        #expect(Set(nine.keys) == ["Service", "SubId", "SubValue"])
        let outside = decodeAll(decoder, CANFrame(id: 512, data: [3, 7, 1, 0, 0, 0, 0, 0]))
        #expect(Set(outside.keys) == ["Service", "SubId"])
    }

    @Test("an undefined multiplexer value reports the switch and the always-present signals, no error")
    func undefinedMultiplexerValue() {
        var result = DecodedFrame()
        #expect(decoder.decode(CANFrame(id: 512, data: [200, 0, 0, 0, 0, 0, 0, 0]), into: &result) == .decoded)
        #expect(result.signals.map { decoder.signals[Int($0.signalIndex)].name } == ["Service"])
        #expect(result.error == nil)
    }

    @Test("float32 and float64 signals")
    func floats() {
        var bytes = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: Float(-1.5).bitPattern.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: Double(123.456).bitPattern.littleEndian) { bytes.replaceSubrange(4..<12, with: $0) }
        let values = decodeAll(decoder, CANFrame(id: 768, isFD: true, data: bytes))
        #expect(values["F32"]?.value == .float(-1.5))
        #expect(values["F64"]?.value == .float(123.456))
        #expect(values["F64"]?.raw == .float(123.456))
    }

    @Test("a signal in the last byte of a 64-byte CAN FD frame")
    func fdHighBytes() {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes[63] = 0xA5
        let values = decodeAll(decoder, CANFrame(id: 1024, isFD: true, data: bytes))
        #expect(values["AVeryLongSignalNameBeyondThirtyTwoCharacters"]?.raw == .integer(0xA5))
    }

    @Test("a frame shorter than its message is an error, not a guess")
    func tooShort() {
        var result = DecodedFrame()
        #expect(decoder.decode(CANFrame(id: 256, data: [1, 2, 3]), into: &result) == .failed)
        #expect(result.error == .tooShort(length: 3, expected: 8))
        #expect(result.signals.isEmpty)
    }

    @Test("unknown ids, remote frames and 11-bit frames with a 29-bit message's id are not decoded")
    func unknown() {
        var result = DecodedFrame()
        #expect(decoder.decode(CANFrame(id: 0x7FF, data: [0]), into: &result) == .unknownMessage)
        var remote = CANFrame(id: 256)
        remote.kind = .remote
        #expect(decoder.decode(remote, into: &result) == .unknownMessage)
        #expect(decoder.decode(CANFrame(id: 256, isExtended: true, data: [UInt8](repeating: 0, count: 8)), into: &result) == .unknownMessage)
    }

    @Test("J1939: any priority and source address with the same PGN matches; PDU1 ignores the destination too")
    func j1939() throws {
        // Cargo is 0x18FEF1FE (PGN 0xFEF1, PDU2). Priority 3, source 0x00:
        let values = decodeAll(decoder, CANFrame(id: 0x0CFEF100, isExtended: true, data: [0xF4, 0x01, 0, 0, 0, 0, 0, 0]))
        #expect(values["CargoTemp"]?.value == .float(50.0))
        // A PDU1 message (PF 0xEF < 240): the destination byte is not part of the PGN.
        let pdu1 = try DBCParser.parse(text: """
            BO_ 2364538622 Request: 8 X
             SG_ Value : 0|8@1+ (1,0) [0|0] "" X
            BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG";
            BA_ "VFrameFormat" BO_ 2364538622 3;
            """)
        let pdu1Decoder = CompiledDecoder(database: pdu1)
        #expect(pdu1.messages[0].pgn == 0xEF00)
        #expect(decodeAll(pdu1Decoder, CANFrame(id: 0x18EF2A17, isExtended: true, data: [7, 0, 0, 0, 0, 0, 0, 0]))["Value"]?.raw == .integer(7))
        // A different PGN does not match.
        var result = DecodedFrame()
        #expect(pdu1Decoder.decode(CANFrame(id: 0x18EE2A17, isExtended: true, data: [0, 0, 0, 0, 0, 0, 0, 0]), into: &result) == .unknownMessage)
    }

    @Test("a 29-bit message not marked J1939 matches its exact id only")
    func nonJ1939Exact() throws {
        let database = try DBCParser.parse(text: "BO_ 2566844926 Plain: 8 X\n SG_ V : 0|8@1+ (1,0) [0|0] \"\" X\n")
        let plain = CompiledDecoder(database: database)
        var result = DecodedFrame()
        #expect(plain.decode(CANFrame(id: 0x0CFEF100, isExtended: true, data: [UInt8](repeating: 0, count: 8)), into: &result) == .unknownMessage)
        #expect(plain.decode(CANFrame(id: 0x18FEF1FE, isExtended: true, data: [UInt8](repeating: 0, count: 8)), into: &result) == .decoded)
    }

    @Test("compiling a subset keeps the switches the chosen signals need, without reporting them")
    func subset() throws {
        let database = try DBCParser.parse(text: grammarSample, source: "sample.dbc")
        let subset = CompiledDecoder(database: database, signalNames: ["Rpm", "Coolant"])
        #expect(subset.messages.map(\.name) == ["Engine", "Diag"])
        let diag = decodeAll(subset, CANFrame(id: 512, data: [1, 0x10, 0x27, 0, 0, 0, 0, 0]))
        #expect(Set(diag.keys) == ["Rpm"])
        let engine = decodeAll(subset, CANFrame(id: 256, data: [0, 0, 0xD8, 0, 0, 0, 0, 0]))
        #expect(Set(engine.keys) == ["Coolant"])
    }

    @Test("64-bit unsigned and signed values, and exact integer scaling beyond 2^53")
    func bigNumbers() throws {
        let database = try DBCParser.parse(text: """
            BO_ 1 Big: 8 X
             SG_ U : 0|64@1+ (1,0) [0|0] "" X
            BO_ 2 BigSigned: 8 X
             SG_ S : 7|64@0- (3,1) [0|0] "" X
            """)
        let big = CompiledDecoder(database: database)
        let unsigned = decodeAll(big, CANFrame(id: 1, data: [UInt8](repeating: 0xFF, count: 8)))
        #expect(unsigned["U"]?.raw == .integer(Int128(UInt64.max)))
        let signed = decodeAll(big, CANFrame(id: 2, data: [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(signed["S"]?.raw == .integer(Int128(Int64.max)))
        #expect(signed["S"]?.value == .integer(Int128(Int64.max) * 3 + 1))
    }

    @Test("Motorola signals that span nine bytes of a CAN FD frame")
    func nineByteSpan() throws {
        let database = try DBCParser.parse(text: "BO_ 5 Wide: 16 X\n SG_ W : 3|64@0+ (1,0) [0|0] \"\" X\n SG_ L : 60|64@1+ (1,0) [0|0] \"\" X\n")
        let wide = CompiledDecoder(database: database)
        var bytes = [UInt8](repeating: 0, count: 16)
        // W: MSB at bit 3 of byte 0, LSB at bit 4 of byte 8 (Motorola); L: bits 60...123 (Intel).
        bytes[0] = 0x08   // W bit 63
        bytes[7] = 0x10   // W bit 8, L bit 0
        bytes[8] = 0x10   // W bit 0, L bit 8
        bytes[15] = 0x08  // L bit 63
        let values = decodeAll(wide, CANFrame(id: 5, isFD: true, data: bytes))
        #expect(values["W"]?.raw == .integer(Int128(UInt64(1) << 63 | 1 << 8 | 1)))
        #expect(values["L"]?.raw == .integer(Int128(UInt64(1) << 63 | 1 << 8 | 1)))
    }
}
