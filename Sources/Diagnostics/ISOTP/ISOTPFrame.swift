/// One frame of ISO-TP (ISO 15765-2), the transport that carries diagnostic messages longer than a CAN frame: what its
/// protocol control information (PCI) says, and its payload bytes. Classic CAN only (8 data bytes).
///
/// | kind | PCI | payload |
/// | --- | --- | --- |
/// | single | `0L` (L = 1…7) | L bytes |
/// | first | `1L LL` (12-bit length, 8…4095) | the first 6 bytes |
/// | consecutive | `2N` (N = 1…15, then 0, 1, …) | up to 7 bytes |
/// | flow control | `3S BS ST` (S: 0 continue, 1 wait, 2 overflow) | none |
///
/// With extended addressing every frame starts with one address byte and carries one payload byte less.
public enum ISOTPFrame: Sendable, Equatable {
    case single([UInt8])
    case first(messageLength: Int, [UInt8])
    case consecutive(sequence: UInt8, [UInt8])
    case flowControl(FlowStatus, blockSize: UInt8, separationTime: SeparationTime)

    /// What a receiver tells the sender in a flow control frame.
    public enum FlowStatus: UInt8, Sendable {
        /// Send the next block.
        case continueToSend = 0
        /// Not yet: wait for another flow control frame.
        case wait = 1
        /// The message is too long for the receiver: give up.
        case overflow = 2
    }

    /// Data bytes of a classic CAN frame.
    public static let frameCapacity = 8
    /// The longest message a 12-bit first-frame length can announce.
    public static let maximumMessageLength = 4095

    /// The frame in `data` (a CAN frame's data bytes). With `addressByte`, extended addressing: the first byte must be
    /// that address, else the frame is not for this conversation (`nil`). Padding after the payload is ignored.
    public static func parse(_ data: [UInt8], addressByte: UInt8? = nil) throws(ISOTPError) -> ISOTPFrame? {
        var start = 0
        if let addressByte {
            guard data.first == addressByte else { return nil }
            start = 1
        }
        guard data.count > start else { throw ISOTPError(.malformedFrame, "an empty frame has no ISO-TP header") }
        let pci = data[start]
        let available = data.count - start - 1
        switch pci >> 4 {
        case 0:
            let length = Int(pci & 0x0F)
            // Length 0 escapes to a CAN FD single frame: not on classic CAN.
            guard length > 0, length <= available else {
                throw ISOTPError(
                    .malformedFrame, "a single frame announces \(length) bytes but \(length == 0 ? "0 is not allowed on classic CAN" : "only \(available) follow")")
            }
            return .single(Array(data[(start + 1)..<(start + 1 + length)]))
        case 1:
            guard available >= 1 else { throw ISOTPError(.malformedFrame, "a first frame needs two header bytes") }
            let length = Int(pci & 0x0F) << 8 | Int(data[start + 1])
            if length == 0 {
                // A 32-bit length follows (ISO 15765-2:2016): only used beyond 4095 bytes.
                guard available >= 5 else { throw ISOTPError(.malformedFrame, "a first frame with a 32-bit length needs six header bytes") }
                let long = data[(start + 2)..<(start + 6)].reduce(0) { $0 << 8 | Int($1) }
                return .first(messageLength: long, Array(data[(start + 6)...]))
            }
            return .first(messageLength: length, Array(data[(start + 2)...]))
        case 2:
            return .consecutive(sequence: pci & 0x0F, Array(data[(start + 1)...]))
        case 3:
            guard available >= 2 else { throw ISOTPError(.malformedFrame, "a flow control frame needs three bytes") }
            guard let status = FlowStatus(rawValue: pci & 0x0F) else {
                throw ISOTPError(.invalidFlowStatus, "flow control with status \(pci & 0x0F) (0 continue, 1 wait, 2 overflow)")
            }
            return .flowControl(status, blockSize: data[start + 1], separationTime: SeparationTime(rawValue: data[start + 2]))
        default:
            throw ISOTPError(.malformedFrame, "header nibble \(pci >> 4) is not an ISO-TP frame type (0 to 3)")
        }
    }

    /// The data bytes of the frame: the address byte first with extended addressing, then padded to 8 bytes with
    /// `padding` (no padding: as short as the content).
    public func encoded(addressByte: UInt8? = nil, padding: UInt8? = nil) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(Self.frameCapacity)
        if let addressByte { data.append(addressByte) }
        switch self {
        case .single(let payload):
            data.append(UInt8(payload.count))
            data += payload
        case .first(let length, let payload):
            data.append(0x10 | UInt8(length >> 8 & 0x0F))
            data.append(UInt8(length & 0xFF))
            data += payload
        case .consecutive(let sequence, let payload):
            data.append(0x20 | sequence & 0x0F)
            data += payload
        case .flowControl(let status, let blockSize, let separationTime):
            data += [0x30 | status.rawValue, blockSize, separationTime.rawValue]
        }
        if let padding, data.count < Self.frameCapacity {
            data += [UInt8](repeating: padding, count: Self.frameCapacity - data.count)
        }
        return data
    }

    /// Payload bytes a frame of each kind carries (classic CAN; one less with extended addressing).
    static func singleCapacity(extended: Bool) -> Int { extended ? 6 : 7 }
    static func firstCapacity(extended: Bool) -> Int { extended ? 5 : 6 }
    static func consecutiveCapacity(extended: Bool) -> Int { extended ? 6 : 7 }
}

/// The minimum gap between consecutive frames a receiver asks for (STmin).
public struct SeparationTime: Sendable, Equatable {
    /// 0x00-0x7F: milliseconds; 0xF1-0xF9: 100-900 µs; anything else is reserved.
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The nearest encoding that is not shorter than `seconds` (at most 127 ms).
    public init(seconds: Double) {
        if seconds <= 0 {
            rawValue = 0
        } else if seconds < 0.001 {
            rawValue = 0xF0 + UInt8(min((seconds * 10_000).rounded(.up), 9))
        } else {
            rawValue = UInt8(min((seconds * 1000).rounded(.up), 127))
        }
    }

    public static let none = SeparationTime(rawValue: 0)

    /// The gap in seconds. A reserved value means the longest gap, 127 ms, as the standard tells a sender to assume.
    public var seconds: Double {
        switch rawValue {
        case 0x00...0x7F: Double(rawValue) / 1000
        case 0xF1...0xF9: Double(rawValue - 0xF0) / 10_000
        default: 0.127
        }
    }
}
