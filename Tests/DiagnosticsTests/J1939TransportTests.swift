import Diagnostics
import Testing

/// J1939-21 transport reassembly seen from the bus, DM1/DM2 parsing and the 29-bit id's parts.
@Suite struct J1939TransportTests {
    /// DM1 by BAM from the engine (source 0): the real truck's first transfer (Tests/Resources/css-electronics).
    static let bam: [(UInt32, [UInt8])] = [
        (0x1CEC_FF00, [0x20, 0x12, 0x00, 0x03, 0xFF, 0xCA, 0xFE, 0x00]),
        (0x1CEB_FF00, [0x01, 0x43, 0xFF, 0xD4, 0x03, 0x09, 0x7E, 0x90]),
        (0x1CEB_FF00, [0x02, 0x0C, 0x14, 0x02, 0x61, 0x02, 0x09, 0x01]),
        (0x1CEB_FF00, [0x03, 0x61, 0x02, 0x0C, 0x03, 0xFF, 0xFF, 0xFF]),
    ]

    @Test func aBroadcastDM1IsReassembledAndParsed() throws {
        var receiver = J1939TransportReceiver()
        var messages: [J1939TransportReceiver.Message] = []
        for (index, (id, data)) in Self.bam.enumerated() {
            let step = receiver.receive(canID: id, data: data, now: Double(index) * 0.06)
            #expect(step.error == nil)
            if let message = step.message { messages.append(message) }
        }
        let message = try #require(messages.first)
        #expect(messages.count == 1)
        #expect(message.pgn == J1939PGN.dm1 && message.source == 0 && message.broadcast && message.data.count == 18)
        let dm1 = try J1939DiagnosticMessage(data: message.data)
        #expect(dm1.lamps.malfunctionIndicator == .on)
        #expect(dm1.lamps.protect == .notAvailable)
        #expect(dm1.faults.map(\.spn) == [980, 3216, 609, 609])
        #expect(dm1.faults.map(\.fmi) == [9, 20, 9, 12])
        #expect(dm1.faults.map(\.occurrenceCount) == [126, 2, 1, 3])
        #expect(receiver.deadline == nil, "nothing left under way")
    }

    @Test func aConnectionModeTransferFollowsTheClearToSendFrames() throws {
        // Node 0x00 sends 20 bytes of PGN 0xFECB (DM2) to node 0xF9 in 3 packets; the receiver allows 2, then 1.
        var receiver = J1939TransportReceiver()
        let rts = receiver.receive(canID: 0x1CEC_F900, data: [0x10, 20, 0, 3, 0xFF, 0xCB, 0xFE, 0x00], now: 0)
        #expect(rts.error == nil)
        // A data packet before any CTS breaks the transfer off.
        var early = receiver
        #expect(early.receive(canID: 0x1CEB_F900, data: [1, 1, 2, 3, 4, 5, 6, 7], now: 0.01).error?.code == .wrongSequence)
        _ = receiver.receive(canID: 0x1CEC_00F9, data: [0x11, 2, 1, 0xFF, 0xFF, 0xCB, 0xFE, 0x00], now: 0.02)
        _ = receiver.receive(canID: 0x1CEB_F900, data: [1, 1, 2, 3, 4, 5, 6, 7], now: 0.03)
        _ = receiver.receive(canID: 0x1CEB_F900, data: [2, 8, 9, 10, 11, 12, 13, 14], now: 0.04)
        _ = receiver.receive(canID: 0x1CEC_00F9, data: [0x11, 1, 3, 0xFF, 0xFF, 0xCB, 0xFE, 0x00], now: 0.05)
        let last = receiver.receive(canID: 0x1CEB_F900, data: [3, 15, 16, 17, 18, 19, 20, 0xFF], now: 0.06)
        #expect(last.message == .init(pgn: J1939PGN.dm2, source: 0, destination: 0xF9, data: Array(1...20), broadcast: false))
    }

    @Test func brokenTransfersEndWithTheirReasons() throws {
        var receiver = J1939TransportReceiver()
        // A packet out of order.
        _ = receiver.receive(canID: Self.bam[0].0, data: Self.bam[0].1, now: 0)
        let skipped = receiver.receive(canID: Self.bam[2].0, data: Self.bam[2].1, now: 0.05)
        #expect(skipped.error?.code == .wrongSequence)
        #expect(skipped.error?.description == "PGN 65226 (0xFECA) from node 0: packet 2 where 1 was due, after 0 of 18 bytes: the message is dropped")
        // Data with no announcement (a log that starts mid-transfer).
        #expect(receiver.receive(canID: Self.bam[3].0, data: Self.bam[3].1, now: 0.1).error?.code == .unexpectedData)
        // Silence after the first packet: T1 is 750 ms.
        _ = receiver.receive(canID: Self.bam[0].0, data: Self.bam[0].1, now: 1)
        _ = receiver.receive(canID: Self.bam[1].0, data: Self.bam[1].1, now: 1.05)
        #expect(receiver.deadline == 1.8)
        #expect(receiver.expire(now: 1.79).isEmpty)
        let timeouts = receiver.expire(now: 1.8)
        #expect(timeouts.map(\.code) == [.timeout])
        #expect(timeouts.first?.reason == "packet 2 of 3 did not come in time: 7 of 18 bytes received, the message is dropped")
        // An abort by the receiver of a connection-mode transfer.
        _ = receiver.receive(canID: 0x1CEC_F900, data: [0x10, 20, 0, 3, 0xFF, 0xCB, 0xFE, 0x00], now: 2)
        let abort = receiver.receive(canID: 0x1CEC_00F9, data: [0xFF, 2, 0xFF, 0xFF, 0xFF, 0xCB, 0xFE, 0x00], now: 2.1)
        #expect(abort.error?.code == .aborted)
        #expect(abort.error?.reason == "aborted by node 249 (no resources) after 0 of 20 bytes")
        // Announcements that cannot be right.
        #expect(receiver.receive(canID: 0x1CEC_FF00, data: [0x20, 0x00, 0x08, 0xFF, 0xFF, 0xCA, 0xFE, 0x00], now: 3).error?.code == .malformed)
        #expect(receiver.receive(canID: 0x1CEC_FF00, data: [0x20, 18, 0, 2, 0xFF, 0xCA, 0xFE, 0x00], now: 3).error?.code == .malformed)
        #expect(receiver.receive(canID: 0x1CEC_FF00, data: [0x20, 18], now: 3).error?.code == .malformed)
    }

    @Test func identifiersSplitIntoPriorityPGNAndAddresses() {
        let dm1 = J1939Identifier(canID: 0x18FE_CA00)
        #expect(dm1.priority == 6 && dm1.pgn == 0xFECA && dm1.destination == 0xFF && dm1.source == 0)
        let request = J1939Identifier(canID: 0x18EA_00F9)
        #expect(request.pgn == 0xEA00 && request.destination == 0x00 && request.source == 0xF9)
        #expect(J1939Identifier(priority: 6, pgn: 0xEA00, destination: 0x00, source: 0xF9).canID == 0x18EA_00F9)
        #expect(J1939Identifier(priority: 6, pgn: 0xFECA, source: 0x00).canID == 0x18FE_CA00)
    }

    @Test func aDM1WithoutActiveFaultsHasNone() throws {
        // Lamps off, then the all-zero fault that means "no active fault", then padding.
        let quiet = try J1939DiagnosticMessage(data: [0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF])
        #expect(quiet.faults.isEmpty)
        #expect(quiet.lamps == .init(malfunctionIndicator: .off, redStop: .off, amberWarning: .off, protect: .off))
        #expect(throws: J1939TransportError.self) { try J1939DiagnosticMessage(data: [0x00]) }
    }

    @Test func obdAndUDSMessagesAreNamed() {
        #expect(DiagnosticService(message: [0x01, 0x05]).name == "show current data")
        #expect(DiagnosticService(message: [0x41, 0x05, 0x7B]).kind == .obdResponse)
        let pending = DiagnosticService(message: [0x7F, 0x22, 0x78])
        #expect(pending.kind == .negativeResponse && pending.name == "ReadDataByIdentifier")
        #expect(pending.responseCodeName == "requestCorrectlyReceivedResponsePending")
        #expect(DiagnosticService(message: [0x62, 0xF1, 0x90]).name == "ReadDataByIdentifier")
        #expect(DiagnosticService(message: [0x7F, 0x19, 0x99]).responseCodeName == "reserved (0x99)")
        #expect(OBDTroubleCode.codes(inAnswer: [0x43, 0x02, 0x02, 0x17, 0xC1, 0x00]) == [OBDTroubleCode(raw: 0x0217), OBDTroubleCode(raw: 0xC100)])
        #expect(OBDTroubleCode(raw: 0x0217).description == "P0217")
        #expect(OBDTroubleCode(raw: 0xC100).description == "U0100")
        #expect(OBDTroubleCode(raw: 0x4035).description == "C0035")
        #expect(OBDTroubleCode.codes(inAnswer: [0x41, 0x05]) == nil)
    }
}
