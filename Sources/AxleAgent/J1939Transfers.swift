import CANFrames
import DBC
import Diagnostics

/// Multi-packet J1939 parameter groups on one bus: BAM and RTS/CTS transfers (the transport protocol, J1939-21)
/// reassembled from their packets, and handed back as one frame of the parameter group, so that the bus's DBC decodes
/// them like any single frame — EC1 (65251, 39 bytes) or a proprietary group the OEM's DBC describes longer than 8
/// bytes. Made only for a bus whose DBC has such a message: the transport frames are in no DBC, so this looks only at
/// frames the decoder did not know. Transfers longer than 64 bytes (a frame's most) are counted and not decoded.
///
/// Listening only: this node takes no part (no CTS); an RTS/CTS transfer between two others is read as it passes.
struct J1939Transfers {
    private var receiver = J1939TransportReceiver()
    /// Transfers reassembled, and those broken off (an abort, a timeout, a lost packet).
    private(set) var completed = 0
    private(set) var broken = 0

    /// Whether `database` describes a J1939 message longer than one frame.
    static func isNeeded(for database: DBCDatabase) -> Bool {
        database.messages.contains { $0.isJ1939 && $0.size > 8 }
    }

    /// A frame the decoder did not know: when it is the packet that completes a transfer, the whole parameter group as
    /// one frame (stamped with that packet's time, on its interface); nil otherwise.
    mutating func reassemble(_ frame: CANFrame) -> CANFrame? {
        guard frame.isExtended, frame.kind == .data else { return nil }
        let pgn = J1939Identifier(canID: frame.id).pgn
        guard pgn == J1939PGN.transportConnection || pgn == J1939PGN.transportData else { return nil }
        let now = Double(frame.timestamp.seconds) + Double(frame.timestamp.nanoseconds) / 1e9
        for _ in receiver.expire(now: now) { broken += 1 }
        let step = receiver.receive(canID: frame.id, data: frame.data, now: now)
        if step.error != nil { broken += 1 }
        guard let message = step.message else { return nil }
        completed += 1
        guard message.data.count <= CANPayload.capacity else { return nil }
        // Priority 6, as J1939 sends most groups; the decoder finds the message by its PGN whatever the priority.
        let id = J1939Identifier(priority: 6, pgn: message.pgn, destination: message.destination, source: message.source).canID
        return CANFrame(
            id: id, isExtended: true, isFD: message.data.count > 8, data: message.data, timestamp: frame.timestamp,
            interface: frame.interface)
    }
}
