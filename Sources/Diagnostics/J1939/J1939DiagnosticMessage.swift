/// A J1939 diagnostic message DM1 (active faults) or DM2 (previously active faults): the lamps and the faults.
///
/// Layout (J1939-73): byte 0 the lamp states (malfunction indicator bits 7-6, red stop 5-4, amber warning 3-2,
/// protect 1-0: 00 off, 01 on), byte 1 their flash states, then 4 bytes per fault: SPN = b0 | b1 << 8 | (b2 >> 5) << 16,
/// FMI = b2 & 0x1F, occurrence count = b3 & 0x7F, conversion method = b3 >> 7. One fault fits a CAN frame; more travel
/// by the transport protocol. "No active fault" is sent as one all-zero fault; padding is 0xFF.
public struct J1939DiagnosticMessage: Sendable, Equatable {
    public enum LampState: String, Sendable {
        case off, on, error
        case notAvailable = "not_available"

        init(bits: UInt8) {
            switch bits & 0x03 {
            case 0: self = .off
            case 1: self = .on
            case 2: self = .error
            default: self = .notAvailable
            }
        }
    }

    public struct Lamps: Sendable, Equatable {
        public var malfunctionIndicator: LampState
        public var redStop: LampState
        public var amberWarning: LampState
        public var protect: LampState

        public init(malfunctionIndicator: LampState, redStop: LampState, amberWarning: LampState, protect: LampState) {
            self.malfunctionIndicator = malfunctionIndicator
            self.redStop = redStop
            self.amberWarning = amberWarning
            self.protect = protect
        }
    }

    public struct Fault: Sendable, Equatable, Hashable {
        /// Suspect parameter number: what is wrong (e.g. 110, engine coolant temperature).
        public var spn: UInt32
        /// Failure mode identifier: how it is wrong (e.g. 0, above normal, most severe).
        public var fmi: UInt8
        /// How many times it became active (127: not available).
        public var occurrenceCount: UInt8
        /// The SPN conversion method bit (1: an obsolete byte order, kept for the record).
        public var conversionMethod: UInt8
    }

    public var lamps: Lamps
    public var faults: [Fault]

    /// The message in `data` (at least the two lamp bytes).
    public init(data: [UInt8]) throws(J1939TransportError) {
        guard data.count >= 2 else {
            throw J1939TransportError(.malformed, pgn: J1939PGN.dm1, source: 0, "a DM1/DM2 has at least 2 bytes (the lamps), not \(data.count)")
        }
        lamps = Lamps(
            malfunctionIndicator: LampState(bits: data[0] >> 6), redStop: LampState(bits: data[0] >> 4),
            amberWarning: LampState(bits: data[0] >> 2), protect: LampState(bits: data[0]))
        faults = []
        var offset = 2
        while offset + 4 <= data.count {
            let b = data[offset..<(offset + 4)].map { $0 }
            offset += 4
            if b == [0xFF, 0xFF, 0xFF, 0xFF] || b == [0, 0, 0, 0] { continue }
            faults.append(Fault(
                spn: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2] >> 5) << 16, fmi: b[2] & 0x1F,
                occurrenceCount: b[3] & 0x7F, conversionMethod: b[3] >> 7))
        }
    }
}
