/// Asking for a parameter group with the J1939 request PGN (59904, 0xEA00) and collecting the answers: on-request
/// groups such as DM2 (65227), the VIN (65260) or the software identification (65242). A pure state machine: the
/// caller sends `request`, feeds it every frame from the bus with its time, sends the frames it returns, and calls
/// `expire(now:)` at `deadline`.
///
/// An answer comes as one frame (8 bytes or less), by broadcast (BAM, to a global request), or by a connection-mode
/// transfer to this node (RTS/CTS, to a request addressed to one node), which this node takes part in as the
/// receiver (`J1939ConnectionReceiver`: CTS, EndOfMsgAck, aborts). A node that cannot answer may say so with a
/// negative acknowledgement (PGN 59392, 0xE800), which is an answer too. A request to one node ends when it has
/// answered; a global request collects answers for the window (J1939-21 gives a node 200 ms to answer, Tr, and a
/// requester waits T3, 1250 ms), and past it while a transfer to this node is under way.
public struct J1939RequestExchange: Sendable {
    public struct Settings: Sendable {
        /// How long answers are collected.
        public var window = 1.25
        /// The request's priority (6, as J1939-21 recommends for requests).
        public var priority: UInt8 = 6
        /// The receiving side of RTS/CTS transfers to this node.
        public var connection = J1939ConnectionReceiver.Settings()

        public init() {}
    }

    /// How an answer travelled.
    public enum Transport: String, Sendable {
        case single, bam
        case connection = "rts/cts"
    }

    /// One node's answer: the data, or its refusal.
    public struct Answer: Sendable, Equatable {
        public var source: UInt8
        public var transport: Transport
        /// The parameter group's data.
        public var data: [UInt8]?
        /// A negative acknowledgement instead: "negative acknowledgement", "access denied", "cannot respond".
        public var refusal: String?
        public var time: Double
    }

    /// The acknowledgement parameter group (ACK, NACK, access denied, cannot respond).
    public static let acknowledgementPGN: UInt32 = 0xE800

    public let pgn: UInt32
    /// The node asked, or 0xFF for every node.
    public let destination: UInt8
    /// This node's source address (0xF9: off-board diagnostic service tool #1).
    public let address: UInt8
    public let settings: Settings
    public let windowEnd: Double
    private var broadcast = J1939TransportReceiver()
    private var connection: J1939ConnectionReceiver
    /// The answers so far, in the order they came.
    private(set) public var answers: [Answer] = []
    /// Transfers that broke off (timeouts, aborts, packets out of order).
    private(set) public var errors: [J1939TransportError] = []

    public init(pgn: UInt32, destination: UInt8 = J1939Identifier.globalAddress, address: UInt8 = 0xF9, sentAt now: Double, settings: Settings = Settings()) {
        self.pgn = pgn
        self.destination = destination
        self.address = address
        self.settings = settings
        windowEnd = now + settings.window
        connection = J1939ConnectionReceiver(address: address, settings: settings.connection)
    }

    /// The request frame to send: PGN 0xEA00 to `destination`, its 3 data bytes the PGN asked for (low byte first).
    public var request: J1939Frame {
        J1939Frame(
            canID: J1939Identifier(priority: settings.priority, pgn: J1939PGN.request, destination: destination, source: address).canID,
            data: J1939ConnectionReceiver.pgnBytes(pgn))
    }

    /// True when nothing more is awaited at `now`.
    public func isFinished(now: Double) -> Bool {
        if destination != J1939Identifier.globalAddress, answers.contains(where: { $0.source == destination }) { return true }
        return now >= windowEnd && !connection.isReceiving
    }

    /// When to call `expire(now:)`, or the window's end.
    public var deadline: Double { min(windowEnd, connection.deadline ?? windowEnd, broadcast.deadline ?? windowEnd) }

    /// Feeds one frame from the bus; returns the frames to send now (CTS, EndOfMsgAck, abort).
    public mutating func receive(canID: UInt32, data: [UInt8], now: Double) -> [J1939Frame] {
        let id = J1939Identifier(canID: canID)
        if destination != J1939Identifier.globalAddress, id.source != destination { return [] }
        switch id.pgn {
        case J1939PGN.transportConnection, J1939PGN.transportData:
            if id.destination == address {
                let step = connection.receive(canID: canID, data: data, now: now)
                if let error = step.error { errors.append(error) }
                if let message = step.message, message.pgn == pgn {
                    answers.append(Answer(source: message.source, transport: .connection, data: message.data, time: now))
                }
                return step.send
            }
            guard id.destination == J1939Identifier.globalAddress else { return [] }
            let step = broadcast.receive(canID: canID, data: data, now: now)
            if let error = step.error, error.pgn == pgn { errors.append(error) }
            if let message = step.message, message.pgn == pgn {
                answers.append(Answer(source: message.source, transport: .bam, data: message.data, time: now))
            }
        case pgn:
            if id.destination == address || id.destination == J1939Identifier.globalAddress {
                answers.append(Answer(source: id.source, transport: .single, data: data, time: now))
            }
        case Self.acknowledgementPGN:
            guard data.count >= 8, id.destination == address || id.destination == J1939Identifier.globalAddress,
                UInt32(data[5]) | UInt32(data[6]) << 8 | UInt32(data[7]) << 16 == pgn
            else { return [] }
            let refusal: String? = switch data[0] {
            case 1: "negative acknowledgement (the node does not have this parameter group)"
            case 2: "access denied"
            case 3: "cannot respond (busy)"
            default: nil
            }
            if let refusal { answers.append(Answer(source: id.source, transport: .single, refusal: refusal, time: now)) }
        default:
            break
        }
        return []
    }

    /// Ends transfers whose sender went quiet; returns the aborts to send.
    public mutating func expire(now: Double) -> [J1939Frame] {
        errors += broadcast.expire(now: now).filter { $0.pgn == pgn }
        var frames: [J1939Frame] = []
        for step in connection.expire(now: now) {
            frames += step.send
            if let error = step.error { errors.append(error) }
        }
        return frames
    }
}
