import CANFrames
import Foundation
import Testing
@testable import DBC

/// Decodes one frame and returns each signal's availability by name.
private func availabilities(_ decoder: CompiledDecoder, _ frame: CANFrame) -> [String: SignalAvailability] {
    var result = DecodedFrame()
    _ = decoder.decode(frame, into: &result)
    var values: [String: SignalAvailability] = [:]
    for decoded in result.signals { values[decoder.name(of: decoded)] = decoded.availability }
    return values
}

/// A J1939 frame of the test database's `Parameters` message (PGN 0xFEF1, any source address).
private func parameters(_ bytes: [UInt8]) -> CANFrame {
    CANFrame(id: 0x18FEF100, isExtended: true, data: bytes)
}

@Suite("values that are not readings")
struct SignalAvailabilityTests {
    /// Ranges [0|0] (none) where the J1939 indicators alone should decide.
    static let j1939 = """
        BO_ 2566844926 Parameters: 8 ECU
         SG_ OneByte : 0|8@1+ (1,0) [0|0] "" X
         SG_ TwoBytes : 8|16@1+ (1,0) [0|0] "" X
         SG_ FourBytes : 24|32@1+ (1,0) [0|0] "" X
         SG_ State : 56|2@1+ (1,0) [0|3] "" X
         SG_ Nibble : 58|4@1+ (1,0) [0|0] "" X
        BO_ 2566852862 Proprietary: 8 ECU
         SG_ Counter : 0|8@1+ (1,0) [0|255] "" X
        BO_ 2566844414 Signed: 8 ECU
         SG_ Delta : 0|8@1- (1,0) [0|0] "" X
        BA_DEF_ "ProtocolType" STRING ;
        BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG";
        BA_DEF_DEF_ "ProtocolType" "";
        BA_ "ProtocolType" "J1939";
        """

    let decoder: CompiledDecoder

    init() throws {
        decoder = CompiledDecoder(database: try DBCParser.parse(text: Self.j1939, source: "j1939.dbc"))
    }

    @Test("J1939 1-byte parameters: 0xFE is an error indicator, 0xFF not available, below that a reading")
    func oneByte() {
        #expect(availabilities(decoder, parameters([0xFD, 0, 0, 0, 0, 0, 0, 0]))["OneByte"] == .valid)
        #expect(availabilities(decoder, parameters([0xFE, 0, 0, 0, 0, 0, 0, 0]))["OneByte"] == .error)
        #expect(availabilities(decoder, parameters([0xFF, 0, 0, 0, 0, 0, 0, 0]))["OneByte"] == .notAvailable)
        #expect(availabilities(decoder, parameters([0x00, 0, 0, 0, 0, 0, 0, 0]))["OneByte"] == .valid)
    }

    @Test("J1939 2-byte parameters: 0xFExx error, 0xFFxx not available (the low byte does not matter)")
    func twoBytes() {
        // Intel byte order: the second byte of the parameter is its most significant.
        #expect(availabilities(decoder, parameters([0, 0xFF, 0xFD, 0, 0, 0, 0, 0]))["TwoBytes"] == .valid)
        #expect(availabilities(decoder, parameters([0, 0x00, 0xFE, 0, 0, 0, 0, 0]))["TwoBytes"] == .error)
        #expect(availabilities(decoder, parameters([0, 0xFF, 0xFE, 0, 0, 0, 0, 0]))["TwoBytes"] == .error)
        #expect(availabilities(decoder, parameters([0, 0x00, 0xFF, 0, 0, 0, 0, 0]))["TwoBytes"] == .notAvailable)
        #expect(availabilities(decoder, parameters([0, 0xFF, 0xFF, 0, 0, 0, 0, 0]))["TwoBytes"] == .notAvailable)
    }

    @Test("J1939 4-byte parameters: 0xFExxxxxx error, 0xFFxxxxxx not available")
    func fourBytes() {
        #expect(availabilities(decoder, parameters([0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFD, 0]))["FourBytes"] == .valid)
        #expect(availabilities(decoder, parameters([0, 0, 0, 0x00, 0x00, 0x00, 0xFE, 0]))["FourBytes"] == .error)
        #expect(availabilities(decoder, parameters([0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFE, 0]))["FourBytes"] == .error)
        #expect(availabilities(decoder, parameters([0, 0, 0, 0x00, 0x00, 0x00, 0xFF, 0]))["FourBytes"] == .notAvailable)
        let decoded = availabilities(decoder, parameters([0, 0, 0, 0x12, 0x34, 0x56, 0xFF, 0]))
        #expect(decoded["FourBytes"] == .notAvailable)
        #expect(decoded["TwoBytes"] == .valid, "the parameters beside it are judged on their own bits")
    }

    @Test("J1939 2-bit states: 00 and 01 are readings, 10 an error, 11 not available, even within the DBC's [0|3]")
    func twoBitStates() {
        let expected: [SignalAvailability] = [.valid, .valid, .error, .notAvailable]
        for (state, availability) in expected.enumerated() {
            #expect(availabilities(decoder, parameters([0, 0, 0, 0, 0, 0, 0, UInt8(state)]))["State"] == availability)
        }
    }

    @Test("no indicators for other lengths, signed signals, proprietary PGNs or databases that are not J1939")
    func noIndicators() throws {
        // A 4-bit field at all ones (bits 58-61) and the 2-bit state at 00.
        #expect(availabilities(decoder, parameters([0, 0, 0, 0, 0, 0, 0, 0x3C]))["Nibble"] == .valid)
        // Proprietary B (PGN 0xFF10): the manufacturer defines the bytes; a counter at 0xFF is a reading.
        #expect(availabilities(decoder, CANFrame(id: 0x18FF1000, isExtended: true, data: [0xFF, 0, 0, 0, 0, 0, 0, 0]))["Counter"] == .valid)
        #expect(availabilities(decoder, CANFrame(id: 0x18FEEF00, isExtended: true, data: [0xFF, 0, 0, 0, 0, 0, 0, 0]))["Delta"] == .valid)
        // The same layout in a database that does not declare J1939, on an 11-bit id.
        let plain = CompiledDecoder(database: try DBCParser.parse(text: """
            BO_ 256 Plain: 8 ECU
             SG_ OneByte : 0|8@1+ (1,0) [0|0] "" X
             SG_ State : 8|2@1+ (1,0) [0|3] "" X
            """))
        let values = availabilities(plain, CANFrame(id: 256, data: [0xFF, 0x03, 0, 0, 0, 0, 0, 0]))
        #expect(values == ["OneByte": .valid, "State": .valid])
    }

    @Test("J1939.isProprietary: A (61184), A2 (126720), B (65280-65535) and page 1 twins")
    func proprietaryPGNs() {
        #expect(J1939.isProprietary(pgn: 0xEF00))
        #expect(J1939.isProprietary(pgn: 0x1EF00))
        #expect(J1939.isProprietary(pgn: 0xFF00) && J1939.isProprietary(pgn: 0xFF10) && J1939.isProprietary(pgn: 0xFFFF))
        #expect(!J1939.isProprietary(pgn: 0xFEFC) && !J1939.isProprietary(pgn: 0xF004) && !J1939.isProprietary(pgn: 0xEE00))
    }

    @Test("any protocol: a value outside the DBC's [min|max] is not available; [0|0] and min = max mean no range")
    func outsideTheDBCRange() throws {
        let decoder = CompiledDecoder(database: try DBCParser.parse(text: """
            BO_ 256 Ranges: 8 ECU
             SG_ Percent : 0|8@1+ (0.4,0) [0|100] "%" X
             SG_ Temperature : 8|8@1+ (1,-40) [-40|210] "degC" X
             SG_ Unset : 16|8@1+ (1,0) [0|0] "" X
             SG_ Equal : 24|8@1+ (1,0) [5|5] "" X
             SG_ Speed : 32|16@1+ (0.00390625,0) [0|250.996] "km/h" X
             SG_ Offset : 48|8@1- (1,0) [-10|10] "" X
            """))
        func judge(_ bytes: [UInt8]) -> [String: SignalAvailability] { availabilities(decoder, CANFrame(id: 256, data: bytes)) }
        // Percent: raw 250 = 100.0 is the maximum; raw 251 = 100.4 is beyond it.
        #expect(judge([250, 0, 0, 0, 0, 0, 0, 0])["Percent"] == .valid)
        #expect(judge([251, 0, 0, 0, 0, 0, 0, 0])["Percent"] == .notAvailable)
        // Temperature: 0 = -40 °C (the minimum), 250 = 210 (the maximum), 251 = 211.
        #expect(judge([0, 0, 0, 0, 0, 0, 0, 0])["Temperature"] == .valid)
        #expect(judge([0, 250, 0, 0, 0, 0, 0, 0])["Temperature"] == .valid)
        #expect(judge([0, 251, 0, 0, 0, 0, 0, 0])["Temperature"] == .notAvailable)
        // No range: every value is a reading.
        #expect(judge([0, 0, 0xFF, 0xFF, 0, 0, 0, 0])["Unset"] == .valid)
        #expect(judge([0, 0, 0xFF, 0xFF, 0, 0, 0, 0])["Equal"] == .valid)
        // The DBC prints 250.99609375 (raw 0xFAFF) rounded as 250.996: still a reading; the next step is not.
        #expect(judge([0, 0, 0, 0, 0xFF, 0xFA, 0, 0])["Speed"] == .valid)
        #expect(judge([0, 0, 0, 0, 0x00, 0xFB, 0, 0])["Speed"] == .notAvailable)
        // Signed: -10 and 10 are readings, -11 (0xF5) and 11 are not.
        #expect(judge([0, 0, 0, 0, 0, 0, 0xF6, 0])["Offset"] == .valid)
        #expect(judge([0, 0, 0, 0, 0, 0, 0xF5, 0])["Offset"] == .notAvailable)
        #expect(judge([0, 0, 0, 0, 0, 0, 11, 0])["Offset"] == .notAvailable)
    }

    @Test("multiplexed signals are judged too")
    func multiplexed() throws {
        let decoder = CompiledDecoder(database: try DBCParser.parse(text: """
            BO_ 256 Mux: 8 ECU
             SG_ Page M : 0|8@1+ (1,0) [0|0] "" X
             SG_ Level m1 : 8|8@1+ (0.4,0) [0|100] "%" X
            """))
        #expect(availabilities(decoder, CANFrame(id: 256, data: [1, 250, 0, 0, 0, 0, 0, 0]))["Level"] == .valid)
        #expect(availabilities(decoder, CANFrame(id: 256, data: [1, 255, 0, 0, 0, 0, 0, 0]))["Level"] == .notAvailable)
    }

    @Test("the real truck's Dash Display frame: cargo temperature 0xFFFF is not available, fuel level 74.8 % a reading")
    func realTruckDashDisplay() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Firmware-Profiles/fleet-truck-j1939/fleet_truck_j1939.dbc").path
        let truck = CompiledDecoder(database: try DBCParser.parse(text: try String(contentsOfFile: path, encoding: .utf8), source: path))
        // 18FEFC00#FFBBFFFFFFFFFFFF from the CSS Electronics recording (Tests/Resources/css-electronics).
        var result = DecodedFrame()
        #expect(truck.decode(CANFrame(id: 0x18FEFC00, isExtended: true, data: [0xFF, 0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), into: &result) == .decoded)
        let byName = Dictionary(uniqueKeysWithValues: result.signals.map { (truck.name(of: $0), $0) })
        #expect(byName["CargoAmbientTemp"]?.availability == .notAvailable)
        #expect(byName["CargoAmbientTemp"]?.rawBits == 0xFFFF, "the raw value stays")
        #expect(byName["CargoAmbientTemp"]?.value == 1774.96875)
        #expect(byName["FuelLevel1"]?.availability == .valid)
        #expect(byName["FuelLevel1"]?.value == 74.8)
        // The shipped DBC's own maximum is J1939's largest valid value, 0xFAFF.
        let cargo = try #require(truck.signals.first { $0.name == "CargoAmbientTemp" })
        #expect(cargo.j1939Indicators?.errorFrom == 0xFE00 && cargo.j1939Indicators?.notAvailableFrom == 0xFF00)
        #expect(cargo.availability(raw: 0xFAFF, value: 1734.96875) == .valid)
    }
}
