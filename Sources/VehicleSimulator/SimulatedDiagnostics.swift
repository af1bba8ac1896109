import CANFrames
import Diagnostics

/// The ECUs a simulated vehicle has for diagnostics (docs/diagnostics.md, "The simulator's ECUs").
public struct SimulatedDiagnostics: Sendable, Equatable, Codable {
    /// An OBD-II engine ECU (SAE J1979 over ISO-TP, 11-bit normal addressing): it answers requests to
    /// `requestID` and to the functional id 0x7DF on `requestID + 8`.
    public var obdRequestID: UInt32?
    /// The VIN the engine ECU gives for mode 09 PID 02.
    public var vin: String
    /// J1939: the source address that sends DM1 (by BAM for more than one fault) while a fault is active.
    public var dm1SourceAddress: UInt8?

    public init(obdRequestID: UInt32? = nil, vin: String = "", dm1SourceAddress: UInt8? = nil) {
        self.obdRequestID = obdRequestID
        self.vin = vin
        self.dm1SourceAddress = dm1SourceAddress
    }
}

/// The demo sedan's engine ECU: answers OBD-II modes 01 (supported-PID bitmaps and live values from the vehicle's
/// state), 03/07 (stored and pending codes), 04 (clear) and 09 (the VIN), as a real ECU does over ISO-TP: single frames
/// for short answers, a first frame and consecutive frames paced by the tester's flow control for long ones.
///
/// It stores P0217 (engine coolant over temperature) when the coolant passes 110 °C (P0217 pending from 105 °C);
/// mode 04 clears the codes and the MIL, and the code is stored again only after the coolant has cooled below 100 °C
/// and passed 110 °C once more (a new overheat). Answers go out 2 ms (simulated) after the request.
struct SimulatedOBDECU: Sendable {
    let requestID: UInt32
    let responseID: UInt32
    static let functionalID: UInt32 = 0x7DF
    let vin: String
    private var receiver = ISOTPReceiver()
    private var sender: ISOTPSender?
    /// Frames to send, with the simulated time they are due.
    private var outgoing: [(due: Double, data: [UInt8])] = []
    private(set) var storedCodes: [UInt16] = []
    private(set) var pendingCodes: [UInt16] = []
    private var overheatLatched = false
    /// How quickly the ECU answers (simulated seconds).
    static let answerDelay = 0.002
    static let overTemperature: UInt16 = 0x0217

    /// PIDs answered in mode 01.
    static let supported: [UInt8] = [0x01, 0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D, 0x0F, 0x11, 0x1F, 0x2F, 0x42, 0x46, 0x5C, 0xA6]

    /// The engine software's calibration id (mode 09 PID 04): 16 bytes, zero-padded.
    static let calibrationID: [UInt8] = Array("AXLESIM-ECM-01".utf8) + [0, 0]

    init(requestID: UInt32, vin: String) {
        self.requestID = requestID
        self.responseID = requestID + 8
        self.vin = vin
    }

    func handles(_ frame: CANFrame) -> Bool {
        !frame.isExtended && (frame.id == requestID || frame.id == Self.functionalID)
    }

    var milOn: Bool { !storedCodes.isEmpty }

    /// Watches the coolant for the fault memory.
    mutating func observe(_ state: VehicleState) {
        if state.coolantTemp > 110, !overheatLatched {
            overheatLatched = true
            if !storedCodes.contains(Self.overTemperature) { storedCodes.append(Self.overTemperature) }
        }
        if state.coolantTemp > 105, !storedCodes.contains(Self.overTemperature), !pendingCodes.contains(Self.overTemperature) {
            pendingCodes.append(Self.overTemperature)
        }
        if state.coolantTemp < 100 {
            overheatLatched = false
            pendingCodes.removeAll { $0 == Self.overTemperature }
        }
    }

    /// Takes a frame for the ECU at simulated `time`.
    mutating func receive(_ frame: CANFrame, at time: Double, state: VehicleState) {
        guard let parsed = try? ISOTPFrame.parse(frame.data) else { return }
        if case .flowControl = parsed {
            guard frame.id == requestID, var current = sender else { return }
            current.receive(parsed, now: time)
            sender = current
            pump(from: time)
            return
        }
        // A functional request is a single frame; only the physical id carries a multi-frame request.
        if frame.id == Self.functionalID, case .single = parsed {} else if frame.id == Self.functionalID { return }
        let step = receiver.receive(parsed, now: time)
        if let flowControl = step.flowControl { outgoing.append((time + Self.answerDelay, flowControl.encoded(padding: 0x55))) }
        guard let request = step.message, let answer = answer(to: request, state: state, functional: frame.id == Self.functionalID) else { return }
        guard var next = try? ISOTPSender(message: answer) else { return }
        sender = nil
        let first = next.next(now: time)
        if case .send(let frame) = first { outgoing.append((time + Self.answerDelay, frame.encoded(padding: 0x55))) }
        if !next.isDone { sender = next }
    }

    /// Sends the consecutive frames the tester's flow control allows, 1 ms apart.
    private mutating func pump(from time: Double) {
        guard var current = sender else { return }
        var at = time + Self.answerDelay
        while true {
            switch current.next(now: at) {
            case .send(let frame):
                outgoing.append((at, frame.encoded(padding: 0x55)))
                at += 0.001
                continue
            case .waitUntil(let until):
                at = max(until, at)
                continue
            case .awaitFlowControl, .done, .failed:
                break
            }
            break
        }
        sender = current.isDone ? nil : current
    }

    /// The frames due up to `time`, as CAN frames on `responseID`.
    mutating func frames(upTo time: Double, start: CANTimestamp, interface: String) -> [CANFrame] {
        guard !outgoing.isEmpty else { return [] }
        var due: [CANFrame] = []
        outgoing.removeAll { item in
            guard item.due <= time else { return false }
            due.append(CANFrame(id: responseID, isExtended: false, data: item.data,
                                timestamp: VehicleSimulator.timestamp(start, plus: item.due), interface: interface))
            return true
        }
        return due
    }

    /// The answer to a whole request; nil for no answer (a functional request for something this ECU lacks).
    private mutating func answer(to request: [UInt8], state: VehicleState, functional: Bool) -> [UInt8]? {
        guard let mode = request.first else { return nil }
        switch mode {
        case 0x01:
            let pids = Array(request.dropFirst())
            guard !pids.isEmpty, pids.count <= OBDMessage.maximumPIDsPerRequest else {
                return functional ? nil : [0x7F, 0x01, 0x12]
            }
            var answer: [UInt8] = [0x41]
            for pid in pids {
                guard let data = data(of: pid, state: state) else { continue }
                answer += [pid] + data
            }
            if answer.count == 1 { return functional ? nil : [0x7F, 0x01, 0x31] }
            return answer
        case 0x03, 0x07:
            let codes = mode == 0x03 ? storedCodes : pendingCodes
            return [mode + 0x40, UInt8(codes.count)] + codes.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 0x04:
            storedCodes.removeAll()
            pendingCodes.removeAll()
            return [0x44]
        case 0x09:
            guard request.count == 2 else { return functional ? nil : [0x7F, 0x09, 0x12] }
            switch request[1] {
            case 0x00: return [0x49, 0x00, 0x50, 0x00, 0x00, 0x00]  // PIDs 02 (the VIN) and 04 (calibration ids)
            case 0x02: return [0x49, 0x02, 0x01] + Array(vin.utf8)
            case 0x04: return [0x49, 0x04, 0x01] + Self.calibrationID
            default: return functional ? nil : [0x7F, 0x09, 0x31]
            }
        default:
            return functional ? nil : [0x7F, mode, 0x11]
        }
    }

    /// A PID's data bytes from the vehicle's state, encoded by SAE J1979's formulas.
    private func data(of pid: UInt8, state: VehicleState) -> [UInt8]? {
        func byte(_ value: Double) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
        func word(_ value: Double) -> [UInt8] {
            let raw = UInt16(max(0, min(65535, value.rounded())))
            return [UInt8(raw >> 8), UInt8(raw & 0xFF)]
        }
        if pid % 0x20 == 0 { return bitmap(base: pid) }
        switch pid {
        case 0x01:
            // A: MIL (bit 7) and the count of stored codes; B-D: monitors (none reported).
            return [(milOn ? 0x80 : 0) | UInt8(min(storedCodes.count, 0x7F)), 0x00, 0x00, 0x00]
        case 0x04: return [byte(state.engineTorque * 255 / 100)]
        case 0x05: return [byte(state.coolantTemp + 40)]
        case 0x0A: return [byte(state.fuelPressure / 3)]
        case 0x0B: return [byte(30 + state.throttle * 0.7)]
        case 0x0C: return word(state.engineSpeed * 4)
        case 0x0D: return [byte(state.speed)]
        case 0x0F: return [byte(state.ambientTemp + 5 + 40)]
        case 0x11: return [byte(state.throttle * 255 / 100)]
        case 0x1F: return word(state.engineRunning ? max(0, state.time - 1) : 0)
        case 0x2F: return [byte(state.fuelLevel * 255 / 100)]
        case 0x42: return word(state.batteryVoltage * 1000)
        case 0x46: return [byte(state.ambientTemp + 40)]
        case 0x5C: return [byte(state.oilTemp + 40)]
        case 0xA6:
            let raw = UInt32(max(0, min(Double(UInt32.max), (state.odometer * 10).rounded())))
            return [UInt8(raw >> 24), UInt8(raw >> 16 & 0xFF), UInt8(raw >> 8 & 0xFF), UInt8(raw & 0xFF)]
        default: return nil
        }
    }

    /// The supported-PID bitmap for `base + 1 … base + 0x20`; bit 0 of the last byte says the next range has some.
    private func bitmap(base: UInt8) -> [UInt8]? {
        let inRange = Self.supported.filter { Int($0) > Int(base) && Int($0) <= Int(base) + 0x20 }
        let later = Self.supported.contains { Int($0) > Int(base) + 0x20 }
        guard !inRange.isEmpty || later || base == 0 else { return nil }
        var bytes: [UInt8] = [0, 0, 0, 0]
        for pid in inRange {
            let offset = Int(pid) - Int(base) - 1
            bytes[offset / 8] |= 0x80 >> UInt8(offset % 8)
        }
        if later { bytes[3] |= 0x01 }
        return bytes
    }
}

/// The truck's engine as a J1939 node sending DM1 once a second while a fault is active: one fault in a single frame
/// (PGN 65226), more by BAM (TP.CM 0xEC00 to everyone, then TP.DT 0xEB00 packets 50 ms apart), as J1939-21 says.
///
/// Faults: SPN 111 FMI 18 (coolant level below normal, moderately severe) with the amber lamp below 85 %; SPN 110
/// FMI 0 (coolant temperature above normal, most severe) with the red stop lamp above 110 °C.
struct SimulatedDM1Sender: Sendable {
    let sourceAddress: UInt8
    private var nextDue = 0.0
    private var outgoing: [(due: Double, id: UInt32, data: [UInt8])] = []
    private var occurrences: [UInt32: UInt8] = [:]
    private var activeBefore: Set<UInt32> = []
    static let period = 1.0
    static let packetGap = 0.05

    init(sourceAddress: UInt8) {
        self.sourceAddress = sourceAddress
    }

    /// Faults active in `state`, with their lamps.
    static func faults(_ state: VehicleState) -> [(spn: UInt32, fmi: UInt8, amber: Bool, red: Bool)] {
        var faults: [(spn: UInt32, fmi: UInt8, amber: Bool, red: Bool)] = []
        if state.coolantLevel < 85 { faults.append((111, 18, true, false)) }
        if state.coolantTemp > 110 { faults.append((110, 0, false, true)) }
        return faults
    }

    mutating func advance(to time: Double, state: VehicleState) {
        let faults = Self.faults(state)
        let active = Set(faults.map(\.spn))
        for spn in active.subtracting(activeBefore) { occurrences[spn, default: 0] += 1 }
        activeBefore = active
        guard !faults.isEmpty, time >= nextDue else { return }
        nextDue = time + Self.period
        var lamps: UInt8 = 0
        if faults.contains(where: \.amber) { lamps |= 0x01 << 2 }
        if faults.contains(where: \.red) { lamps |= 0x01 << 4 }
        var data: [UInt8] = [lamps, 0xFF]
        for fault in faults {
            let occurrence = occurrences[fault.spn] ?? 1
            data += [UInt8(fault.spn & 0xFF), UInt8(fault.spn >> 8 & 0xFF), UInt8(fault.spn >> 16 & 0x07) << 5 | fault.fmi, occurrence & 0x7F]
        }
        let priority6 = J1939Identifier(priority: 6, pgn: J1939PGN.dm1, source: sourceAddress).canID
        if data.count <= 8 {
            outgoing.append((time, priority6, data + Array(repeating: 0xFF, count: 8 - data.count)))
            return
        }
        let packets = (data.count + 6) / 7
        let cm = J1939Identifier(priority: 7, pgn: J1939PGN.transportConnection, destination: 0xFF, source: sourceAddress).canID
        let dt = J1939Identifier(priority: 7, pgn: J1939PGN.transportData, destination: 0xFF, source: sourceAddress).canID
        let pgn = J1939PGN.dm1
        outgoing.append((time, cm, [0x20, UInt8(data.count & 0xFF), UInt8(data.count >> 8), UInt8(packets), 0xFF,
                                    UInt8(pgn & 0xFF), UInt8(pgn >> 8 & 0xFF), UInt8(pgn >> 16)]))
        for packet in 0..<packets {
            let chunk = Array(data[(packet * 7)..<min(data.count, packet * 7 + 7)])
            outgoing.append((time + Double(packet + 1) * Self.packetGap, dt,
                             [UInt8(packet + 1)] + chunk + Array(repeating: 0xFF, count: 7 - chunk.count)))
        }
    }

    mutating func frames(upTo time: Double, start: CANTimestamp, interface: String) -> [CANFrame] {
        guard !outgoing.isEmpty else { return [] }
        var due: [CANFrame] = []
        outgoing.removeAll { item in
            guard item.due <= time else { return false }
            due.append(CANFrame(id: item.id, isExtended: true, data: item.data,
                                timestamp: VehicleSimulator.timestamp(start, plus: item.due), interface: interface))
            return true
        }
        return due
    }
}
