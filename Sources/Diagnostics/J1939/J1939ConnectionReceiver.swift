/// A CAN frame a J1939 state machine wants sent: a 29-bit id and its data bytes.
public struct J1939Frame: Sendable, Equatable {
    public var canID: UInt32
    public var data: [UInt8]

    public init(canID: UInt32, data: [UInt8]) {
        self.canID = canID
        self.data = data
    }
}

/// The receiving end of J1939-21 connection-mode transfers (RTS/CTS) addressed to this node: it answers a sender's
/// request to send (RTS) with clear to send (CTS) for a block of packets at a time, collects the data packets, asks
/// for the next block, and acknowledges the whole message (EndOfMsgAck). A pure state machine: the caller feeds it
/// the transport frames (TP.CM 0xEC00, TP.DT 0xEB00) whose destination is `address`, sends the frames it returns, and
/// calls `expire(now:)` at `deadline`. A sender that goes quiet past T1 (between packets) or T2 (after a CTS), or a
/// packet out of order, ends the transfer with a connection abort sent to the sender and the reason.
///
/// One transfer per sender at a time; transfers from several senders run side by side.
public struct J1939ConnectionReceiver: Sendable {
    public struct Settings: Sendable {
        /// T1: the longest gap between data packets within a block (750 ms).
        public var packetTimeout = 0.75
        /// T2: after a CTS, the longest wait for its first data packet (1250 ms).
        public var afterClearToSendTimeout = 1.25
        /// At most this many packets asked for per CTS (the sender's own limit from its RTS applies too).
        public var packetsPerClearToSend: UInt8 = 16
        /// The priority of the frames sent (TP.CM is commonly sent at 7).
        public var priority: UInt8 = 7

        public init() {}
    }

    /// What one frame (or `expire`) brought.
    public struct Step: Sendable, Equatable {
        /// Frames to send now (CTS, EndOfMsgAck, abort).
        public var send: [J1939Frame] = []
        /// A whole message.
        public var message: J1939TransportReceiver.Message?
        /// Why a transfer ended without a message.
        public var error: J1939TransportError?

        public init(send: [J1939Frame] = [], message: J1939TransportReceiver.Message? = nil, error: J1939TransportError? = nil) {
            self.send = send
            self.message = message
            self.error = error
        }
    }

    private struct Transfer {
        var pgn: UInt32
        var size: Int
        var packets: Int
        var senderLimit: Int
        var bytes: [UInt8]
        var nextSequence: Int
        /// The last packet the latest CTS allowed.
        var allowedThrough: Int
        var deadline: Double
    }

    /// This node's source address.
    public let address: UInt8
    public let settings: Settings
    private var transfers: [UInt8: Transfer] = [:]

    public init(address: UInt8, settings: Settings = Settings()) {
        self.address = address
        self.settings = settings
    }

    /// When `expire(now:)` has something to end.
    public var deadline: Double? { transfers.values.map(\.deadline).min() }

    /// True while any transfer to this node is under way.
    public var isReceiving: Bool { !transfers.isEmpty }

    /// Feeds a frame; frames that are not transport frames addressed to this node are ignored.
    public mutating func receive(canID: UInt32, data: [UInt8], now: Double) -> Step {
        let id = J1939Identifier(canID: canID)
        guard id.destination == address else { return Step() }
        switch id.pgn {
        case J1939PGN.transportConnection: return connectionManagement(id.source, data, now: now)
        case J1939PGN.transportData: return dataPacket(id.source, data, now: now)
        default: return Step()
        }
    }

    /// Ends the transfers whose sender went quiet, each with an abort (reason 3, timeout) to send.
    public mutating func expire(now: Double) -> [Step] {
        var steps: [Step] = []
        for (source, transfer) in transfers.sorted(by: { $0.key < $1.key }) where now >= transfer.deadline {
            transfers[source] = nil
            let waited = transfer.nextSequence > transfer.allowedThrough || transfer.nextSequence == 1 ? "T2" : "T1"
            steps.append(Step(
                send: [abort(to: source, pgn: transfer.pgn, reason: 3)],
                error: J1939TransportError(
                    .timeout, pgn: transfer.pgn, source: source,
                    "packet \(transfer.nextSequence) of \(transfer.packets) did not come in time (\(waited)): \(transfer.bytes.count) of \(transfer.size) bytes received, the transfer is aborted")))
        }
        return steps
    }

    private mutating func connectionManagement(_ source: UInt8, _ data: [UInt8], now: Double) -> Step {
        guard data.count >= 8 else {
            return Step(error: J1939TransportError(.malformed, pgn: nil, source: source, "a TP.CM frame has 8 bytes, not \(data.count)"))
        }
        let pgn = UInt32(data[5]) | UInt32(data[6]) << 8 | UInt32(data[7]) << 16
        switch data[0] {
        case 0x10:
            let size = Int(data[1]) | Int(data[2]) << 8
            let packets = Int(data[3])
            var error: J1939TransportError?
            if let old = transfers.removeValue(forKey: source) {
                // J1939-21: a new RTS from the same sender ends the old transfer; the new one is taken.
                error = J1939TransportError(
                    .interrupted, pgn: old.pgn, source: source,
                    "a new RTS came after \(old.bytes.count) of \(old.size) bytes: that message is dropped")
            }
            guard size >= 9, size <= J1939TransportReceiver.maximumSize, packets == (size + 6) / 7 else {
                return Step(
                    send: [abort(to: source, pgn: pgn, reason: size > J1939TransportReceiver.maximumSize ? 9 : 2)],
                    error: error ?? J1939TransportError(
                        .malformed, pgn: pgn, source: source,
                        "an RTS for \(size) bytes in \(packets) packets (9 to 1785 bytes, 7 per packet): refused with an abort"))
            }
            var transfer = Transfer(
                pgn: pgn, size: size, packets: packets, senderLimit: data[4] == 0xFF ? 255 : max(Int(data[4]), 1),
                bytes: [], nextSequence: 1, allowedThrough: 0, deadline: now)
            transfer.bytes.reserveCapacity(size)
            let clear = clearToSend(&transfer, to: source, now: now)
            transfers[source] = transfer
            return Step(send: [clear], error: error)
        case 0xFF:
            guard let transfer = transfers.removeValue(forKey: source) else { return Step() }
            return Step(error: J1939TransportError(
                .aborted, pgn: transfer.pgn, source: source,
                "aborted by the sender (\(J1939TransportReceiver.abortReason(data[1]))) after \(transfer.bytes.count) of \(transfer.size) bytes"))
        default:
            // BAM is to everyone (J1939TransportReceiver); CTS and EndOfMsgAck come from a receiver, not to one.
            return Step()
        }
    }

    private mutating func dataPacket(_ source: UInt8, _ data: [UInt8], now: Double) -> Step {
        guard var transfer = transfers[source] else { return Step() }
        guard data.count >= 2 else {
            return Step(error: J1939TransportError(.malformed, pgn: transfer.pgn, source: source, "a TP.DT frame with \(data.count) bytes"))
        }
        let sequence = Int(data[0])
        guard sequence == transfer.nextSequence, sequence <= transfer.allowedThrough else {
            transfers[source] = nil
            return Step(
                send: [abort(to: source, pgn: transfer.pgn, reason: 7)],
                error: J1939TransportError(
                    .wrongSequence, pgn: transfer.pgn, source: source,
                    "packet \(sequence) where \(transfer.nextSequence) was due, after \(transfer.bytes.count) of \(transfer.size) bytes: the transfer is aborted"))
        }
        transfer.bytes += data[1...].prefix(transfer.size - transfer.bytes.count)
        transfer.nextSequence += 1
        if transfer.bytes.count >= transfer.size {
            transfers[source] = nil
            let acknowledgement = J1939Frame(
                canID: connectionID(to: source),
                data: [0x13, UInt8(transfer.size & 0xFF), UInt8(transfer.size >> 8), UInt8(transfer.packets), 0xFF]
                    + Self.pgnBytes(transfer.pgn))
            return Step(send: [acknowledgement], message: J1939TransportReceiver.Message(
                pgn: transfer.pgn, source: source, destination: address, data: transfer.bytes, broadcast: false))
        }
        if transfer.nextSequence > transfer.allowedThrough {
            let clear = clearToSend(&transfer, to: source, now: now)
            transfers[source] = transfer
            return Step(send: [clear])
        }
        transfer.deadline = now + settings.packetTimeout
        transfers[source] = transfer
        return Step()
    }

    /// A CTS for the next block, and the transfer's new deadline (T2).
    private func clearToSend(_ transfer: inout Transfer, to source: UInt8, now: Double) -> J1939Frame {
        let count = min(transfer.packets - transfer.nextSequence + 1, transfer.senderLimit, Int(max(settings.packetsPerClearToSend, 1)))
        transfer.allowedThrough = transfer.nextSequence + count - 1
        transfer.deadline = now + settings.afterClearToSendTimeout
        return J1939Frame(
            canID: connectionID(to: source),
            data: [0x11, UInt8(count), UInt8(transfer.nextSequence), 0xFF, 0xFF] + Self.pgnBytes(transfer.pgn))
    }

    private func abort(to source: UInt8, pgn: UInt32, reason: UInt8) -> J1939Frame {
        J1939Frame(canID: connectionID(to: source), data: [0xFF, reason, 0xFF, 0xFF, 0xFF] + Self.pgnBytes(pgn))
    }

    private func connectionID(to destination: UInt8) -> UInt32 {
        J1939Identifier(priority: settings.priority, pgn: J1939PGN.transportConnection, destination: destination, source: address).canID
    }

    static func pgnBytes(_ pgn: UInt32) -> [UInt8] { [UInt8(pgn & 0xFF), UInt8(pgn >> 8 & 0xFF), UInt8(pgn >> 16 & 0xFF)] }
}
