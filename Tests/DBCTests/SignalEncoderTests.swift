import CANFrames
import Testing
@testable import DBC

@Suite("signal encoder")
struct SignalEncoderTests {
    let database: DBCDatabase
    let encoder: SignalEncoder
    let decoder: CompiledDecoder

    init() throws {
        database = try DBCParser.parse(text: grammarSample, source: "sample.dbc")
        encoder = SignalEncoder(database: database)
        decoder = CompiledDecoder(database: database)
    }

    @Test("encoding then decoding gives back the physical values")
    func roundTrip() throws {
        let frame = try encoder.encode(message: "Engine", values: ["EngineSpeed": 2000, "Coolant": 60, "Pressure": 1000.5, "Trim": -2])
        #expect(frame.id == 256)
        #expect(frame.length == 8)
        let values = decodeAll(decoder, frame)
        #expect(values["EngineSpeed"]?.value == .float(2000))
        #expect(values["Coolant"]?.value == .integer(60))
        #expect(values["Pressure"]?.value == .float(1000.5))
        #expect(values["Trim"]?.value == .float(30 * -0.1 + 1))
    }

    @Test("physical values round to the nearest raw value")
    func rounding() throws {
        let frame = try encoder.encode(message: "Engine", values: ["EngineSpeed": 100.1])
        #expect(decodeAll(decoder, frame)["EngineSpeed"]?.raw == .integer(400))
    }

    @Test("signals not given take their start value")
    func startValue() throws {
        let frame = try encoder.encode(message: "Engine", values: [:])
        #expect(decodeAll(decoder, frame)["Coolant"]?.raw == .integer(60))
    }

    @Test("out-of-range values, unknown signals and unknown labels are clear errors")
    func errors() {
        do {
            _ = try encoder.encode(message: "Engine", values: ["Coolant": 300])
            Issue.record("300 is out of range")
        } catch {
            #expect(error.code == .outOfRange)
            #expect(error.description.contains("[-40, 215]"))
        }
        do {
            _ = try encoder.encode(message: "Engine", values: ["Nope": 1])
            Issue.record("unknown signal")
        } catch {
            #expect(error.code == .unknownSignal)
            #expect(error.description.contains("EngineSpeed"))
        }
        do {
            _ = try encoder.encode(message: "Diag", values: ["Service": .label("Bogus")])
            Issue.record("unknown label")
        } catch {
            #expect(error.code == .unknownLabel)
            #expect(error.description.contains("Temperature"))
        }
        #expect(throws: EncodeError.self) { try encoder.encode(message: "Nope", values: [:]) }
    }

    @Test("raw values that do not fit the signal's bits are rejected")
    func bitWidth() throws {
        let database = try DBCParser.parse(text: "BO_ 1 M: 8 X\n SG_ S : 0|4@1- (1,0) [0|0] \"\" X\n")
        #expect(throws: EncodeError.self) { try SignalEncoder(database: database).encode(message: "M", values: ["S": 8]) }
        let frame = try SignalEncoder(database: database).encode(message: "M", values: ["S": -8])
        #expect(frame.data[0] == 0x08)
    }

    @Test("labels encode to their raw value and multiplexer switches are set automatically")
    func multiplexAndLabels() throws {
        let frame = try encoder.encode(message: "Diag", values: ["SubValue": 0xBEEF])
        let values = decodeAll(decoder, frame)
        #expect(values["Service"]?.raw == .integer(3))
        #expect(values["SubId"]?.raw == .integer(4))
        #expect(values["SubValue"]?.raw == .integer(0xBEEF))
        let byLabel = try encoder.encode(message: "Diag", values: ["Service": .label("Temperature"), "Temp": 20])
        #expect(decodeAll(decoder, byLabel)["Temp"]?.value == .integer(20))
        #expect(throws: EncodeError.self) { try encoder.encode(message: "Diag", values: ["Service": 1, "Temp": 20]) }
    }

    @Test("a J1939 message encodes with its DBC id, extended")
    func j1939() throws {
        let frame = try encoder.encode(message: "Cargo", values: ["CargoTemp": -12.5])
        #expect(frame.isExtended)
        #expect(frame.id == 0x18FEF1FE)
        #expect(decodeAll(decoder, frame)["CargoTemp"]?.value == .float(-125 * 0.1))
    }
}
