import Diagnostics
import Testing

/// This node as a J1939 participant: asking for parameter groups (`J1939RequestExchange`) and receiving RTS/CTS
/// transfers addressed to it (`J1939ConnectionReceiver`: CTS, EndOfMsgAck, aborts on J1939-21's timeouts).
@Suite struct J1939ActiveTests {
    /// Node 0x00 sends 20 bytes of PGN 0xFEEC (the VIN) to node 0xF9 (us): the RTS, then data packets.
    static let rts: [UInt8] = [0x10, 20, 0, 3, 0xFF, 0xEC, 0xFE, 0x00]
    static let vin = Array("WAXLE0J1939TRUCK01*".utf8) + [0xFF]

    static func packet(_ sequence: Int) -> [UInt8] {
        [UInt8(sequence)] + (vin + [0xFF, 0xFF]).dropFirst((sequence - 1) * 7).prefix(7)
    }

    @Test func aTransferToUsIsClearedBlockByBlockAndAcknowledged() {
        var settings = J1939ConnectionReceiver.Settings()
        settings.packetsPerClearToSend = 2
        var receiver = J1939ConnectionReceiver(address: 0xF9, settings: settings)
        let first = receiver.receive(canID: 0x1CEC_F900, data: Self.rts, now: 0)
        // CTS to node 0: 2 packets from 1; priority 7, source us.
        #expect(first.send == [J1939Frame(canID: 0x1CEC_00F9, data: [0x11, 2, 1, 0xFF, 0xFF, 0xEC, 0xFE, 0x00])])
        #expect(receiver.receive(canID: 0x1CEB_F900, data: Self.packet(1), now: 0.05).send.isEmpty)
        #expect(receiver.receive(canID: 0x1CEB_F900, data: Self.packet(2), now: 0.1).send
            == [J1939Frame(canID: 0x1CEC_00F9, data: [0x11, 1, 3, 0xFF, 0xFF, 0xEC, 0xFE, 0x00])])
        let last = receiver.receive(canID: 0x1CEB_F900, data: Self.packet(3), now: 0.15)
        #expect(last.send == [J1939Frame(canID: 0x1CEC_00F9, data: [0x13, 20, 0, 3, 0xFF, 0xEC, 0xFE, 0x00])])
        #expect(last.message?.data == Array(Self.vin.prefix(20)))
        #expect(last.message?.pgn == J1939PGN.vehicleIdentification && last.message?.broadcast == false)
        #expect(!receiver.isReceiving)
        // Frames to another node and broadcasts are not ours.
        #expect(receiver.receive(canID: 0x1CEC_2A00, data: Self.rts, now: 1).send.isEmpty)
        #expect(receiver.receive(canID: 0x1CEC_FF00, data: [0x20, 20, 0, 3, 0xFF, 0xEC, 0xFE, 0x00], now: 1).send.isEmpty)
    }

    @Test func silenceAfterACTSOrBetweenPacketsAbortsWithReasonTimeout() {
        var receiver = J1939ConnectionReceiver(address: 0xF9)
        _ = receiver.receive(canID: 0x1CEC_F900, data: Self.rts, now: 0)
        #expect(receiver.deadline == 1.25, "T2 after the CTS")
        _ = receiver.receive(canID: 0x1CEB_F900, data: Self.packet(1), now: 0.1)
        #expect(receiver.deadline == 0.85, "T1 between packets")
        #expect(receiver.expire(now: 0.8).isEmpty)
        let steps = receiver.expire(now: 0.9)
        #expect(steps.first?.send == [J1939Frame(canID: 0x1CEC_00F9, data: [0xFF, 3, 0xFF, 0xFF, 0xFF, 0xEC, 0xFE, 0x00])])
        #expect(steps.first?.error?.code == .timeout)
        #expect(steps.first?.error?.reason.hasPrefix("packet 2 of 3 did not come in time (T1): 7 of 20 bytes") == true, "\(String(describing: steps.first?.error))")
        #expect(!receiver.isReceiving)
    }

    @Test func aPacketOutOfOrderOrAnOversizedRTSIsAbortedAndTheSendersAbortEndsTheTransfer() {
        var receiver = J1939ConnectionReceiver(address: 0xF9)
        _ = receiver.receive(canID: 0x1CEC_F900, data: Self.rts, now: 0)
        let wrong = receiver.receive(canID: 0x1CEB_F900, data: Self.packet(2), now: 0.1)
        #expect(wrong.send.first?.data.prefix(2) == [0xFF, 7], "abort: bad sequence number")
        #expect(wrong.error?.code == .wrongSequence)

        let huge = receiver.receive(canID: 0x1CEC_F900, data: [0x10, 0x00, 0x08, 255, 0xFF, 0xEC, 0xFE, 0x00], now: 1)
        #expect(huge.send.first?.data.prefix(2) == [0xFF, 9], "abort: larger than 1785 bytes")
        #expect(!receiver.isReceiving)

        _ = receiver.receive(canID: 0x1CEC_F900, data: Self.rts, now: 2)
        let aborted = receiver.receive(canID: 0x1CEC_F900, data: [0xFF, 2, 0xFF, 0xFF, 0xFF, 0xEC, 0xFE, 0x00], now: 2.1)
        #expect(aborted.send.isEmpty && aborted.error?.code == .aborted)
        #expect(aborted.error?.reason == "aborted by the sender (no resources) after 0 of 20 bytes")
    }

    @Test func aRequestToOneNodeEndsAtItsAnswerByRTSCTS() {
        var exchange = J1939RequestExchange(pgn: J1939PGN.vehicleIdentification, destination: 0x00, sentAt: 0)
        #expect(exchange.request == J1939Frame(canID: 0x18EA_00F9, data: [0xEC, 0xFE, 0x00]))
        #expect(exchange.receive(canID: 0x1CEC_F900, data: Self.rts, now: 0.05).first?.data.first == 0x11)
        for sequence in 1...2 { _ = exchange.receive(canID: 0x1CEB_F900, data: Self.packet(sequence), now: 0.1) }
        #expect(!exchange.isFinished(now: 0.1))
        #expect(exchange.receive(canID: 0x1CEB_F900, data: Self.packet(3), now: 0.15).first?.data.first == 0x13)
        #expect(exchange.isFinished(now: 0.15))
        #expect(exchange.answers.first?.transport == .connection && exchange.answers.first?.source == 0)
        // Another node's frames are not the answer of the node asked.
        var other = J1939RequestExchange(pgn: J1939PGN.vehicleIdentification, destination: 0x00, sentAt: 0)
        #expect(other.receive(canID: 0x1CEC_F903, data: Self.rts, now: 0.05).isEmpty)
    }

    @Test func aGlobalRequestCollectsSingleFramesBroadcastsAndRefusalsForTheWindow() {
        var exchange = J1939RequestExchange(pgn: J1939PGN.dm2, sentAt: 0)
        #expect(exchange.request.canID == 0x18EA_FFF9)
        _ = exchange.receive(canID: 0x18FE_CB03, data: [0x00, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF], now: 0.05)
        _ = exchange.receive(canID: 0x1CEC_FF00, data: [0x20, 10, 0, 2, 0xFF, 0xCB, 0xFE, 0x00], now: 0.06)
        _ = exchange.receive(canID: 0x1CEB_FF00, data: [1, 0x40, 0xFF, 0x6E, 0x00, 0x00, 0x01, 0xA1], now: 0.11)
        _ = exchange.receive(canID: 0x1CEB_FF00, data: [2, 0x00, 0x03, 0x05, 0xFF, 0xFF, 0xFF, 0xFF], now: 0.16)
        // Node 0x21 cannot: a negative acknowledgement of PGN 65227 (0xE800 to global).
        _ = exchange.receive(canID: 0x18E8_FF21, data: [0x01, 0xFF, 0xFF, 0xFF, 0xF9, 0xCB, 0xFE, 0x00], now: 0.2)
        // A NACK of another group is not an answer.
        _ = exchange.receive(canID: 0x18E8_FF22, data: [0x01, 0xFF, 0xFF, 0xFF, 0xF9, 0xEC, 0xFE, 0x00], now: 0.2)
        #expect(!exchange.isFinished(now: 1.0))
        #expect(exchange.isFinished(now: 1.25))
        #expect(exchange.answers.map(\.source) == [3, 0, 0x21])
        #expect(exchange.answers.map(\.transport) == [.single, .bam, .single])
        #expect(exchange.answers[2].refusal?.hasPrefix("negative acknowledgement") == true)
        let dm2 = try? J1939DiagnosticMessage(data: exchange.answers[1].data ?? [])
        #expect(dm2?.faults.map(\.spn) == [110, 161])
        #expect(dm2?.faults.map(\.fmi) == [0, 3])
        #expect(dm2?.faults.map(\.occurrenceCount) == [1, 5])
    }
}
