/// The parts of a 29-bit J1939 CAN id: priority, parameter group number (PGN), destination and source address.
///
/// PDU1 format (PF below 240): the PDU specific byte is a destination address and not part of the PGN; PDU2 format
/// (PF 240 and above): it is the group extension and part of the PGN, and the message goes to everyone.
public struct J1939Identifier: Sendable, Equatable {
    public var priority: UInt8
    public var pgn: UInt32
    /// The destination address for PDU1 messages; 0xFF (global) for PDU2.
    public var destination: UInt8
    public var source: UInt8

    public static let globalAddress: UInt8 = 0xFF

    public init(canID: UInt32) {
        priority = UInt8(canID >> 26 & 0x07)
        source = UInt8(canID & 0xFF)
        let pduFormat = UInt8(canID >> 16 & 0xFF)
        let pduSpecific = UInt8(canID >> 8 & 0xFF)
        let dataPage = canID >> 16 & 0x300
        if pduFormat < 240 {
            pgn = dataPage | UInt32(pduFormat) << 8
            destination = pduSpecific
        } else {
            pgn = dataPage | UInt32(pduFormat) << 8 | UInt32(pduSpecific)
            destination = Self.globalAddress
        }
    }

    public init(priority: UInt8, pgn: UInt32, destination: UInt8 = J1939Identifier.globalAddress, source: UInt8) {
        self.priority = priority
        self.pgn = pgn
        self.destination = destination
        self.source = source
    }

    /// The 29-bit CAN id.
    public var canID: UInt32 {
        let isPDU1 = (pgn >> 8 & 0xFF) < 240
        let pduSpecific = isPDU1 ? UInt32(destination) : pgn & 0xFF
        return UInt32(priority & 0x07) << 26 | (pgn & 0x3FF00) << 8 | pduSpecific << 8 | UInt32(source)
    }
}

/// Parameter groups diagnostics uses.
public enum J1939PGN {
    /// Request: asks a node for a parameter group (3-byte payload: the PGN asked for).
    public static let request: UInt32 = 0xEA00
    /// Transport protocol, connection management (BAM, RTS, CTS, end of message, abort).
    public static let transportConnection: UInt32 = 0xEC00
    /// Transport protocol, data transfer (one sequence number and 7 bytes per packet).
    public static let transportData: UInt32 = 0xEB00
    public static let addressClaimed: UInt32 = 0xEE00
    /// DM1, active diagnostic trouble codes.
    public static let dm1: UInt32 = 0xFECA
    /// DM2, previously active diagnostic trouble codes.
    public static let dm2: UInt32 = 0xFECB
    /// Vehicle identification (the VIN, ASCII, '*'-terminated).
    public static let vehicleIdentification: UInt32 = 0xFEEC
    public static let softwareIdentification: UInt32 = 0xFEDA
}
