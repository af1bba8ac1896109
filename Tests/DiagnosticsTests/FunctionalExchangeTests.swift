import Diagnostics
import Testing

/// OBD-II addressing and one functional request answered by several ECUs (`FunctionalExchange`), without a bus.
@Suite struct FunctionalExchangeTests {
    @Test func answerIDsMapToPhysicalRequestIDs() {
        #expect(OBDAddressing.physicalRequestID(forAnswerID: 0x7E8) == 0x7E0)
        #expect(OBDAddressing.physicalRequestID(forAnswerID: 0x7EF) == 0x7E7)
        #expect(OBDAddressing.physicalRequestID(forAnswerID: 0x18DA_F110) == 0x18DA_10F1)
        #expect(OBDAddressing.physicalRequestID(forAnswerID: 0x7E0) == nil, "a request id is no answer id")
        #expect(OBDAddressing.physicalRequestID(forAnswerID: 0x18DA_10F1) == nil)
        #expect(OBDAddressing.of(answerID: 0x18DA_F100) == .extended)
        #expect(OBDAddressing.standard.functionalRequestID == 0x7DF && OBDAddressing.extended.functionalRequestID == 0x18DB_33F1)
    }

    @Test func twoECUsAnswerOneRequestOneOfThemInSeveralFrames() throws {
        var exchange = FunctionalExchange(request: [0x09, 0x02], addressing: .standard, sentAt: 0)
        let vin = Array("WAXLE0SCANTOOL001".utf8)
        let answer = [0x49, 0x02, 0x01] + vin
        // The engine's first frame: flow control goes to its physical id, 0x7E0, at once.
        let flowControl = exchange.receive(canID: 0x7E8, data: [0x10, 20] + answer.prefix(6), now: 0.01)
        #expect(flowControl?.canID == 0x7E0)
        #expect(flowControl?.frame == .flowControl(.continueToSend, blockSize: 0, separationTime: .none))
        // Another ECU refuses meanwhile; a frame on a request id and one of the other addressing are not answers.
        #expect(exchange.receive(canID: 0x7E9, data: [0x03, 0x7F, 0x09, 0x11], now: 0.012) == nil)
        #expect(exchange.receive(canID: 0x7E0, data: [0x02, 0x09, 0x02], now: 0.013) == nil)
        #expect(exchange.receive(canID: 0x18DA_F110, data: [0x02, 0x49, 0x02], now: 0.013) == nil)
        _ = exchange.receive(canID: 0x7E8, data: [0x21] + answer[6..<13], now: 0.02)
        #expect(!exchange.isFinished(now: 0.6), "the engine's answer is still under way after the window")
        _ = exchange.receive(canID: 0x7E8, data: [0x22] + answer[13...], now: 0.6)
        #expect(exchange.isFinished(now: 0.6))
        #expect(exchange.answers.map(\.responder) == [0x7E9, 0x7E8])
        #expect(exchange.answers.first?.negative?.service == 0x09 && exchange.answers.first?.negative?.code == 0x11)
        #expect(OBDMessage.vin(inAnswer: try #require(exchange.answers.last?.message)) == "WAXLE0SCANTOOL001")
    }

    @Test func theWindowEndsTheWaitUnlessTheExpectedECUsAnsweredFirst() {
        var open = FunctionalExchange(request: [0x01, 0x05], addressing: .standard, sentAt: 0)
        _ = open.receive(canID: 0x7E8, data: [0x03, 0x41, 0x05, 0x7B], now: 0.01)
        #expect(!open.isFinished(now: 0.2), "more ECUs may answer within the window")
        #expect(open.isFinished(now: 0.5))
        #expect(open.deadline == 0.5)

        var known = FunctionalExchange(request: [0x01, 0x05], addressing: .standard, sentAt: 0, expecting: [0x7E8])
        _ = known.receive(canID: 0x7E8, data: [0x03, 0x41, 0x05, 0x7B], now: 0.01)
        #expect(known.isFinished(now: 0.01))
    }

    @Test func responsePendingExtendsOneECUsWaitAndSilenceAfterItIsAFailure() {
        var settings = FunctionalExchange.Settings()
        settings.pendingTimeout = 2
        var exchange = FunctionalExchange(request: [0x04], addressing: .extended, sentAt: 0, settings: settings)
        _ = exchange.receive(canID: 0x18DA_F110, data: [0x03, 0x7F, 0x04, 0x78], now: 0.1)
        #expect(!exchange.isFinished(now: 1.0))
        #expect(exchange.deadline == 0.5, "the window still ends first")
        exchange.expire(now: 1.0)
        #expect(exchange.answers.isEmpty)
        exchange.expire(now: 2.1)
        #expect(exchange.answers.first?.failure == "no answer to clear trouble codes within 2000 ms after \"response pending\" (1 times)")
        #expect(exchange.answers.first?.pendingCount == 1)
        #expect(exchange.isFinished(now: 2.1))
    }

    @Test func aBrokenTransferIsThatECUsFailureWithTheReason() {
        var exchange = FunctionalExchange(request: [0x03], addressing: .standard, sentAt: 0)
        _ = exchange.receive(canID: 0x7E8, data: [0x10, 0x34, 0x43, 0x19, 0x02, 0x17, 0x01, 0x00], now: 0.01)
        _ = exchange.receive(canID: 0x7E8, data: [0x23, 1, 2, 3, 4, 5, 6, 7], now: 0.02)
        #expect(exchange.answers.first?.failure?.hasPrefix("ISO-TP: consecutive frame 3 where 1 was due") == true, "\(exchange.answers)")

        var silent = FunctionalExchange(request: [0x03], addressing: .standard, sentAt: 0)
        _ = silent.receive(canID: 0x7E9, data: [0x10, 0x34, 0x43, 0x19, 0x02, 0x17, 0x01, 0x00], now: 0.01)
        silent.expire(now: 0.9)
        #expect(silent.answers.isEmpty && !silent.isFinished(now: 0.9))
        silent.expire(now: 1.01)
        #expect(silent.answers.first?.failure?.hasPrefix("ISO-TP: consecutive frame 1 did not come within 1000 ms") == true)
        #expect(silent.isFinished(now: 1.01))
    }
}
