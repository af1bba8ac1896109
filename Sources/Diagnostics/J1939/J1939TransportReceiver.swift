/// Reassembles J1939 multi-packet messages (J1939-21 transport protocol): broadcast announce (BAM) transfers to
/// everyone, and connection-mode (RTS/CTS) transfers between two nodes, seen from the bus. A pure state machine: feed
/// it every transport frame (TP.CM, PGN 0xEC00, and TP.DT, PGN 0xEB00) with its time; it returns the whole messages
/// and says why a transfer ended without one. `expire(now:)` ends transfers whose next packet is overdue.
///
/// One transfer at a time per sender and destination, as the standard allows; at most 1,785 bytes (255 packets of 7).
public struct J1939TransportReceiver: Sendable {
    /// A reassembled multi-packet message.
    public struct Message: Sendable, Equatable {
        public var pgn: UInt32
        public var source: UInt8
        /// 0xFF for a broadcast (BAM) transfer.
        public var destination: UInt8
        public var data: [UInt8]
        /// True for BAM, false for RTS/CTS.
        public var broadcast: Bool

        public init(pgn: UInt32, source: UInt8, destination: UInt8, data: [UInt8], broadcast: Bool) {
            self.pgn = pgn
            self.source = source
            self.destination = destination
            self.data = data
            self.broadcast = broadcast
        }
    }

    /// What one frame brought.
    public struct Step: Sendable, Equatable {
        public var message: Message?
        public var error: J1939TransportError?

        public init(message: Message? = nil, error: J1939TransportError? = nil) {
            self.message = message
            self.error = error
        }
    }

    public struct Settings: Sendable {
        /// T1: the longest gap between data packets of a transfer (750 ms).
        public var packetTimeout = 0.75
        /// T2: after a CTS, the longest wait for its first data packet (1250 ms).
        public var afterClearToSendTimeout = 1.25
        /// T3/T4: the longest wait for the next CTS, or for the end of a pause (1250 ms).
        public var clearToSendTimeout = 1.25

        public init() {}
    }

    /// The largest message the transport carries.
    public static let maximumSize = 1785

    private struct Key: Hashable {
        var source: UInt8
        var destination: UInt8
    }

    private struct Transfer {
        var pgn: UInt32
        var size: Int
        var packets: Int
        var broadcast: Bool
        var bytes: [UInt8]
        var nextSequence: Int
        /// RTS/CTS: the packets the last CTS allowed run up to here (inclusive); BAM: `packets`.
        var allowedThrough: Int
        var deadline: Double
    }

    public let settings: Settings
    private var transfers: [Key: Transfer] = [:]

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The earliest time `expire(now:)` has something to end.
    public var deadline: Double? { transfers.values.map(\.deadline).min() }

    /// Feeds one frame; frames of other parameter groups are ignored.
    public mutating func receive(canID: UInt32, data: [UInt8], now: Double) -> Step {
        let id = J1939Identifier(canID: canID)
        switch id.pgn {
        case J1939PGN.transportConnection: return connectionManagement(id, data, now: now)
        case J1939PGN.transportData: return dataTransfer(id, data, now: now)
        default: return Step()
        }
    }

    /// Ends every transfer whose next packet is overdue, with the reason.
    public mutating func expire(now: Double) -> [J1939TransportError] {
        var errors: [J1939TransportError] = []
        for (key, transfer) in transfers where now >= transfer.deadline {
            transfers[key] = nil
            errors.append(J1939TransportError(
                .timeout, pgn: transfer.pgn, source: key.source,
                "packet \(transfer.nextSequence) of \(transfer.packets) did not come in time: \(transfer.bytes.count) of \(transfer.size) bytes received, the message is dropped"))
        }
        return errors.sorted { $0.source < $1.source }
    }

    private mutating func connectionManagement(_ id: J1939Identifier, _ data: [UInt8], now: Double) -> Step {
        guard data.count >= 8 else {
            return Step(error: J1939TransportError(.malformed, pgn: nil, source: id.source, "a TP.CM frame has 8 bytes, not \(data.count)"))
        }
        let pgn = UInt32(data[5]) | UInt32(data[6]) << 8 | UInt32(data[7]) << 16
        switch data[0] {
        case 0x20, 0x10:
            // BAM (to everyone) or RTS (to one node): a transfer announced by its sender.
            let broadcast = data[0] == 0x20
            let key = Key(source: id.source, destination: broadcast ? J1939Identifier.globalAddress : id.destination)
            let size = Int(data[1]) | Int(data[2]) << 8
            let packets = Int(data[3])
            var error: J1939TransportError?
            if let old = transfers.removeValue(forKey: key) {
                error = J1939TransportError(
                    .interrupted, pgn: old.pgn, source: id.source,
                    "a new transfer was announced after \(old.bytes.count) of \(old.size) bytes: the message is dropped")
            }
            guard size >= 9, size <= Self.maximumSize, packets == (size + 6) / 7 else {
                return Step(error: error ?? J1939TransportError(
                    .malformed, pgn: pgn, source: id.source,
                    "an announced transfer of \(size) bytes in \(packets) packets (9 to 1785 bytes, 7 per packet)"))
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(size)
            transfers[key] = Transfer(
                pgn: pgn, size: size, packets: packets, broadcast: broadcast, bytes: bytes, nextSequence: 1,
                allowedThrough: broadcast ? packets : 0,
                deadline: now + (broadcast ? settings.packetTimeout : settings.clearToSendTimeout))
            return Step(error: error)
        case 0x11:
            // CTS, from the receiver (the frame's source) to the sender (its destination).
            let key = Key(source: id.destination, destination: id.source)
            guard var transfer = transfers[key], !transfer.broadcast else { return Step() }
            let count = Int(data[1])
            let next = Int(data[2])
            if count == 0 {
                // "Hold the connection open": wait for another CTS.
                transfer.deadline = now + settings.clearToSendTimeout
            } else {
                guard next == transfer.nextSequence else {
                    transfers[key] = nil
                    return Step(error: J1939TransportError(
                        .wrongSequence, pgn: transfer.pgn, source: key.source,
                        "a CTS asks for packet \(next) where \(transfer.nextSequence) was due: the message is dropped"))
                }
                transfer.allowedThrough = min(next + count - 1, transfer.packets)
                transfer.deadline = now + settings.afterClearToSendTimeout
            }
            transfers[key] = transfer
            return Step()
        case 0x13:
            // End of message acknowledgement: the transfer was already complete on the last data packet.
            return Step()
        case 0xFF:
            // Connection abort, from either side.
            for key in [Key(source: id.source, destination: id.destination), Key(source: id.destination, destination: id.source)] {
                if let transfer = transfers.removeValue(forKey: key) {
                    return Step(error: J1939TransportError(
                        .aborted, pgn: transfer.pgn, source: key.source,
                        "aborted by node \(id.source) (\(Self.abortReason(data[1]))) after \(transfer.bytes.count) of \(transfer.size) bytes"))
                }
            }
            return Step()
        default:
            return Step(error: J1939TransportError(
                .malformed, pgn: pgn, source: id.source, "TP.CM control byte \(data[0]) is not BAM, RTS, CTS, end of message or abort"))
        }
    }

    private mutating func dataTransfer(_ id: J1939Identifier, _ data: [UInt8], now: Double) -> Step {
        let key = Key(source: id.source, destination: id.destination)
        guard var transfer = transfers[key] else {
            // Data of a transfer not seen from its start (a log that begins mid-transfer), or after an error.
            return Step(error: J1939TransportError(
                .unexpectedData, pgn: nil, source: id.source, "a TP.DT packet with no transfer announced before it"))
        }
        guard data.count >= 2 else {
            return Step(error: J1939TransportError(.malformed, pgn: transfer.pgn, source: id.source, "a TP.DT frame with \(data.count) bytes"))
        }
        let sequence = Int(data[0])
        guard sequence == transfer.nextSequence, sequence <= transfer.allowedThrough else {
            transfers[key] = nil
            return Step(error: J1939TransportError(
                .wrongSequence, pgn: transfer.pgn, source: id.source,
                sequence == transfer.nextSequence
                    ? "packet \(sequence) came before a CTS allowed it: the message is dropped"
                    : "packet \(sequence) where \(transfer.nextSequence) was due, after \(transfer.bytes.count) of \(transfer.size) bytes: the message is dropped"))
        }
        transfer.bytes += data[1...].prefix(transfer.size - transfer.bytes.count)
        if transfer.bytes.count >= transfer.size {
            transfers[key] = nil
            return Step(message: Message(
                pgn: transfer.pgn, source: id.source, destination: key.destination, data: transfer.bytes,
                broadcast: transfer.broadcast))
        }
        transfer.nextSequence += 1
        transfer.deadline = now + (transfer.nextSequence > transfer.allowedThrough ? settings.clearToSendTimeout : settings.packetTimeout)
        transfers[key] = transfer
        return Step()
    }

    /// J1939-21's connection abort reasons.
    static func abortReason(_ code: UInt8) -> String {
        switch code {
        case 1: "already in a connection"
        case 2: "no resources"
        case 3: "timeout"
        case 4: "CTS while sending data"
        case 5: "retransmit limit reached"
        case 6: "unexpected data packet"
        case 7: "bad sequence number"
        case 8: "duplicate sequence number"
        case 9: "message larger than 1785 bytes"
        default: "reason \(code)"
        }
    }
}

/// Why a J1939 transport transfer ended without a message, or why a transport frame was refused.
public struct J1939TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case malformed, interrupted, wrongSequence, unexpectedData, timeout, aborted
    }

    public let code: Code
    /// The parameter group being transferred, when known.
    public let pgn: UInt32?
    /// The sending node.
    public let source: UInt8
    public let reason: String

    public init(_ code: Code, pgn: UInt32?, source: UInt8, _ reason: String) {
        self.code = code
        self.pgn = pgn
        self.source = source
        self.reason = reason
    }

    public var description: String {
        let pgnText = pgn.map { "PGN \($0) (0x\(String($0, radix: 16, uppercase: true))) " } ?? ""
        return "\(pgnText)from node \(source): \(reason)"
    }
}
