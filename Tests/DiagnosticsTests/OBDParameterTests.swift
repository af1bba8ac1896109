import Diagnostics
import Testing

/// OBD-II mode 01 and 09: the PID table, multi-PID answers, supported-PID bitmaps, VIN.
@Suite struct OBDParameterTests {
    @Test func theStandardTableCoversAtLeastFortyPIDsWithUnits() {
        #expect(OBDParameter.standard.count >= 40)
        #expect(OBDParameter.standard.values.allSatisfy { !$0.unit.isEmpty && $0.byteCount >= 1 && $0.byteCount <= 4 })
        #expect(Set(OBDParameter.standard.values.map(\.name)).count == OBDParameter.standard.count, "names are unique")
    }

    @Test(arguments: [
        // The seed use cases: coolant temperature (A − 40 °C) and fuel pressure (3A kPa).
        (UInt8(0x05), [UInt8(0x7B)], 83.0),
        (0x0A, [0x64], 300.0),
        (0x0C, [0x1A, 0xF8], 1726.0),
        (0x0D, [0x3C], 60.0),
        (0x10, [0x01, 0x90], 4.0),
        (0x11, [0xFF], 100.0),
        (0x2F, [0x80], 50.19607843137255),
        (0x42, [0x36, 0xB0], 14.0),
        (0x46, [0x00], -40.0),
        (0x5C, [0x82], 90.0),
        (0xA6, [0x00, 0x01, 0xE2, 0x40], 12345.6),
    ])
    func valuesFollowTheStandardFormulas(pid: UInt8, data: [UInt8], value: Double) throws {
        let parameter = try #require(OBDParameter.standard[pid])
        #expect(abs(parameter.decode(data) - value) < 1e-9, "\(parameter.name)")
    }

    @Test func theStandardSignalsHaveTheirVSSNames() {
        #expect(OBDParameter.standard[0x05]?.vss == "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature")
        #expect(OBDParameter.standard[0x0D]?.vss == "Vehicle.Speed")
        #expect(OBDParameter.standard[0x0A]?.vss == nil, "VSS 5.0 has no fuel pressure signal")
    }

    @Test func requestsAskForAtMostSixPIDs() {
        let pids: [UInt8] = [0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D, 0x0F, 0x11]
        #expect(OBDMessage.currentDataRequests(for: pids) == [[0x01, 0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D], [0x01, 0x0F, 0x11]])
    }

    @Test func aMultiPIDAnswerIsReadPIDByPID() throws {
        // 41 | 05 7B | 0C 1A F8 | 0D 3C | 01 (4 bytes, not in the value table) | 0A 64
        let answer: [UInt8] = [0x41, 0x05, 0x7B, 0x0C, 0x1A, 0xF8, 0x0D, 0x3C, 0x01, 0x81, 0x07, 0x65, 0x04, 0x0A, 0x64]
        let values = try #require(OBDMessage.currentData(inAnswer: answer))
        #expect(values.map(\.pid) == [0x05, 0x0C, 0x0D, 0x01, 0x0A])
        #expect(values.map(\.value) == [83, 1726, 60, nil, 300])
        // Cut short: what is whole is kept.
        #expect(OBDMessage.currentData(inAnswer: [0x41, 0x05, 0x7B, 0x0C, 0x1A])?.map(\.pid) == [0x05])
        #expect(OBDMessage.currentData(inAnswer: [0x43, 0x00]) == nil)
    }

    @Test func supportedPIDBitmapsAndTheVIN() {
        // BE 1F A8 13: a common first range (01, 03-07, 0C-0D, 0F-10, 11, 13, 15, 1C, 1F, 20).
        #expect(OBDMessage.supportedPIDs(base: 0x00, bitmap: [0xBE, 0x1F, 0xA8, 0x13])
            == [0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x13, 0x15, 0x1C, 0x1F, 0x20])
        #expect(OBDMessage.supportedPIDs(base: 0xE0, bitmap: [0x00, 0x00, 0x00, 0x01]) == [], "no PID beyond 0xFF")
        #expect(OBDMessage.vin(inAnswer: [0x49, 0x02, 0x01] + Array("1HGCM82633A004352".utf8)) == "1HGCM82633A004352")
        #expect(OBDMessage.vin(inAnswer: [0x49, 0x02, 0x01, 0x00, 0x00] + Array("1HGCM82633A004352".utf8)) == "1HGCM82633A004352")
        #expect(OBDMessage.vin(inAnswer: [0x49, 0x02, 0x01] + Array("SHORT".utf8)) == nil)
    }

    @Test func calibrationIDsAreSixteenBytesEachPaddedWithZeros() {
        let first = Array("JMB*36761500".utf8) + [0, 0, 0, 0]
        let second = Array("JMB*47872611".utf8) + [0, 0, 0, 0]
        #expect(OBDMessage.calibrationIDs(inAnswer: [0x49, 0x04, 0x02] + first + second) == ["JMB*36761500", "JMB*47872611"])
        #expect(OBDMessage.calibrationIDs(inAnswer: [0x49, 0x04, 0x01] + first.prefix(10)) == nil, "cut short")
        #expect(OBDMessage.calibrationIDs(inAnswer: [0x49, 0x04, 0x01] + [0x01] + first.dropFirst()) == nil, "not printable")
        #expect(OBDMessage.calibrationIDs(inAnswer: [0x49, 0x02, 0x01] + first) == nil, "the VIN's PID")
    }
}
