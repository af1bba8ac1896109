import CANFrames
import Diagnostics
import Testing

@testable import VehicleSimulator

/// The simulated vehicles' diagnostic ECUs, spoken to as a tester does: ISO-TP frames in, frames out.
@Suite struct SimulatedECUTests {
    /// A tester on the simulated bus: sends a request to 0x7E0 (or `id`), answers a first frame with flow control, and
    /// returns the reassembled answer from 0x7E8 (nil when none came within 0.5 s of simulated time).
    static func ask(_ simulator: inout VehicleSimulator, _ request: [UInt8], id: UInt32 = 0x7E0) -> [UInt8]? {
        var receiver = ISOTPReceiver()
        simulator.receive(CANFrame(id: id, data: ISOTPFrame.single(request).encoded(padding: 0x55)))
        let end = simulator.time + 0.5
        var time = simulator.time
        while time < end {
            time += 0.01
            for frame in simulator.advance(to: time) where frame.id == 0x7E8 {
                guard let parsed = try? ISOTPFrame.parse(frame.data) else { continue }
                let step = receiver.receive(parsed, now: time)
                if let flowControl = step.flowControl {
                    simulator.receive(CANFrame(id: 0x7E0, data: flowControl.encoded(padding: 0x55)))
                }
                if let message = step.message { return message }
            }
        }
        return nil
    }

    @Test("the sedan's engine ECU: supported PIDs, live values from the scenario, the VIN by flow control, refusals")
    func engineECU() throws {
        var simulator = try Fixtures.simulator(.cityDrive)
        _ = simulator.advance(to: 60)
        let bitmap = try #require(Self.ask(&simulator, [0x01, 0x00]))
        #expect(bitmap.prefix(2) == [0x41, 0x00])
        let supported = OBDMessage.supportedPIDs(base: 0, bitmap: Array(bitmap.dropFirst(2)))
        #expect(supported.contains(0x05) && supported.contains(0x0A) && supported.contains(0x0C) && supported.contains(0x20))
        let answer = try #require(Self.ask(&simulator, [0x01, 0x05, 0x0C, 0x0D, 0x0A]))
        let values = Dictionary(uniqueKeysWithValues: (OBDMessage.currentData(inAnswer: answer) ?? []).map { ($0.pid, $0.value ?? -1) })
        #expect(abs(values[0x05]! - simulator.state.coolantTemp) <= 1, "coolant \(values[0x05]!) vs \(simulator.state.coolantTemp)")
        #expect(abs(values[0x0C]! - simulator.state.engineSpeed) <= 50)
        #expect(abs(values[0x0D]! - simulator.state.speed) <= 2)
        #expect(abs(values[0x0A]! - simulator.state.fuelPressure) <= 3)
        // The functional address reaches the same ECU.
        #expect(Self.ask(&simulator, [0x01, 0x0D], id: 0x7DF)?.first == 0x41)
        // 20 bytes: a first frame, our flow control, then consecutive frames.
        #expect(OBDMessage.vin(inAnswer: try #require(Self.ask(&simulator, [0x09, 0x02]))) == "1AXLE00DEMOSEDAN1")
        #expect(Self.ask(&simulator, [0x01, 1, 2, 3, 4, 5, 6, 7]) == [0x7F, 0x01, 0x12], "7 PIDs: refused as old ECUs do")
        #expect(Self.ask(&simulator, [0x22, 0xF1, 0x90]) == [0x7F, 0x22, 0x11])
        #expect(Self.ask(&simulator, [0x03]) == [0x43, 0x00], "no fault in a city drive")
    }

    @Test("coolant-leak: P0217 pending from 105 °C, stored with the MIL from 110 °C; mode 04 clears it")
    func overheatCode() throws {
        var simulator = try Fixtures.simulator(.coolantLeak)
        _ = simulator.advance(to: 30)
        #expect(Self.ask(&simulator, [0x03]) == [0x43, 0x00])
        var time = 30.0
        while simulator.state.coolantTemp <= 111, time < 400 {
            time += 1
            _ = simulator.advance(to: time)
        }
        #expect(simulator.storedTroubleCodes == ["P0217"], "at \(time) s, \(simulator.state.coolantTemp) °C")
        #expect(Self.ask(&simulator, [0x03]) == [0x43, 0x01, 0x02, 0x17])
        #expect(Self.ask(&simulator, [0x07]) == [0x47, 0x01, 0x02, 0x17])
        #expect(Self.ask(&simulator, [0x01, 0x01])?.prefix(3) == [0x41, 0x01, 0x81], "MIL on, one code")
        #expect(Self.ask(&simulator, [0x04]) == [0x44])
        #expect(Self.ask(&simulator, [0x03]) == [0x43, 0x00], "cleared, and not stored again while it stays hot")
        #expect(Self.ask(&simulator, [0x01, 0x01])?.prefix(3) == [0x41, 0x01, 0x00])
    }

    @Test("the truck in coolant-leak sends DM1 once a second: one fault in a frame, two by BAM (TP.CM + TP.DT)")
    func truckDM1() throws {
        var simulator = try Fixtures.simulator(.coolantLeak, truck: true)
        var transport = J1939TransportReceiver()
        var messages: [(time: Double, faults: [J1939DiagnosticMessage.Fault], bam: Bool)] = []
        var time = 0.0
        while time < 300 {
            time += 0.05
            for frame in simulator.advance(to: time) where frame.isExtended {
                let id = J1939Identifier(canID: frame.id)
                if id.pgn == J1939PGN.dm1 {
                    messages.append((time, try J1939DiagnosticMessage(data: frame.data).faults, false))
                } else if let message = transport.receive(canID: frame.id, data: frame.data, now: time).message, message.pgn == J1939PGN.dm1 {
                    messages.append((time, try J1939DiagnosticMessage(data: message.data).faults, true))
                }
            }
        }
        #expect(messages.first.map { $0.time > 60 } == true, "no fault before the coolant level falls below 85 %")
        let single = messages.filter { !$0.bam }
        let bam = messages.filter(\.bam)
        #expect(single.first?.faults.map(\.spn) == [111], "coolant level low, one fault: a single frame")
        #expect(bam.last?.faults.map(\.spn) == [111, 110], "and the temperature too: by BAM")
        #expect(bam.count > 10 && single.count > 10, "once a second: \(single.count) + \(bam.count)")
    }
}
