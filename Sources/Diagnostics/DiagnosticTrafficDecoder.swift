/// Finds the diagnostic messages in recorded CAN traffic (a candump log, as `axle diag decode` reads it): ISO-TP
/// messages on diagnostic ids, reassembled and named (OBD-II, UDS, negative answers), and J1939 diagnostic messages
/// (DM1, DM2, requests, any multi-packet transfer) reassembled from the transport protocol. A pure state machine:
/// frames in, in the order they were recorded, with their time; events out.
public struct DiagnosticTrafficDecoder: Sendable {
    /// One finding.
    public enum Event: Sendable, Equatable {
        /// A whole ISO-TP message on `canID`.
        case isotp(canID: UInt32, message: [UInt8], service: DiagnosticService)
        /// A J1939 parameter group a diagnostic reader cares about, whole (single frame or reassembled).
        case j1939(J1939Event)
        /// A transfer that ended without a message, or a frame refused, with the reason.
        case isotpError(canID: UInt32, ISOTPError)
        case j1939Error(J1939TransportError)
    }

    public struct J1939Event: Sendable, Equatable {
        public enum Transport: String, Sendable {
            case single, bam
            case connection = "rts/cts"
        }

        public var pgn: UInt32
        public var source: UInt8
        public var destination: UInt8
        public var transport: Transport
        public var data: [UInt8]
        /// DM1 and DM2, parsed.
        public var diagnostic: J1939DiagnosticMessage?
        /// For a request (PGN 0xEA00): the parameter group asked for.
        public var requestedPGN: UInt32?
    }

    /// 11-bit ids carrying ISO-TP besides the OBD-II ones (0x7DF, 0x7E0-0x7EF): a manufacturer's tester and ECU pairs.
    public var additionalISOTPIDs: Set<UInt32>
    private var receivers: [UInt32: ISOTPReceiver] = [:]
    private var transport = J1939TransportReceiver()

    public init(additionalISOTPIDs: Set<UInt32> = []) {
        self.additionalISOTPIDs = additionalISOTPIDs
    }

    /// Whether a frame's id carries ISO-TP: OBD-II's 11-bit ids, the 29-bit physical and functional diagnostic ids
    /// (0x18DA…, 0x18DB…), and the ids given.
    public func carriesISOTP(canID: UInt32, extended: Bool) -> Bool {
        if extended { return canID >> 16 == 0x18DA || canID >> 16 == 0x18DB || additionalISOTPIDs.contains(canID) }
        return canID == 0x7DF || (0x7E0...0x7EF).contains(canID) || additionalISOTPIDs.contains(canID)
    }

    /// Feeds one recorded frame; returns what it completed or ended.
    public mutating func receive(canID: UInt32, extended: Bool, data: [UInt8], time: Double) -> [Event] {
        var events: [Event] = []
        for error in transport.expire(now: time) { events.append(.j1939Error(error)) }
        if carriesISOTP(canID: canID, extended: extended) {
            var receiver = receivers[canID] ?? ISOTPReceiver()
            if let error = receiver.expire(now: time) { events.append(.isotpError(canID: canID, error)) }
            do {
                if let frame = try ISOTPFrame.parse(data) {
                    let step = receiver.receive(frame, now: time)
                    if let error = step.error { events.append(.isotpError(canID: canID, error)) }
                    if let message = step.message {
                        events.append(.isotp(canID: canID, message: message, service: DiagnosticService(message: message)))
                    }
                }
            } catch {
                events.append(.isotpError(canID: canID, error))
            }
            receivers[canID] = receiver
            return events
        }
        guard extended else { return events }
        let id = J1939Identifier(canID: canID)
        switch id.pgn {
        case J1939PGN.transportConnection, J1939PGN.transportData:
            let step = transport.receive(canID: canID, data: data, now: time)
            if let error = step.error { events.append(.j1939Error(error)) }
            if let message = step.message {
                events.append(.j1939(Self.event(
                    pgn: message.pgn, source: message.source, destination: message.destination,
                    transport: message.broadcast ? .bam : .connection, data: message.data)))
            }
        case J1939PGN.dm1, J1939PGN.dm2, J1939PGN.request:
            events.append(.j1939(Self.event(pgn: id.pgn, source: id.source, destination: id.destination, transport: .single, data: data)))
        default:
            break
        }
        return events
    }

    /// Ends the transfers still under way at the end of the recording, with their reasons.
    public mutating func finish() -> [Event] {
        var events = transport.expire(now: .infinity).map(Event.j1939Error)
        for canID in receivers.keys.sorted() {
            if let error = receivers[canID]?.expire(now: .infinity) { events.append(.isotpError(canID: canID, error)) }
        }
        return events
    }

    private static func event(pgn: UInt32, source: UInt8, destination: UInt8, transport: J1939Event.Transport, data: [UInt8]) -> J1939Event {
        var event = J1939Event(pgn: pgn, source: source, destination: destination, transport: transport, data: data)
        if pgn == J1939PGN.dm1 || pgn == J1939PGN.dm2 { event.diagnostic = try? J1939DiagnosticMessage(data: data) }
        if pgn == J1939PGN.request, data.count >= 3 {
            event.requestedPGN = UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16
        }
        return event
    }
}
