import Diagnostics
import Testing

/// A UDS request's wait for its answer: P2, "response pending" extending it to P2*, refusals by name.
@Suite struct UDSExchangeTests {
    @Test func responsePendingThreeTimesThenThePositiveAnswer() {
        var exchange = UDSExchange(request: UDSMessage.readDataByIdentifier([0xF190]), sentAt: 10)
        #expect(exchange.outcome == .waiting(deadline: 11))
        for (index, time) in [10.05, 14.0, 18.5].enumerated() {
            exchange.receive([0x7F, 0x22, 0x78], now: time)
            #expect(exchange.outcome == .waiting(deadline: time + 5), "pending \(index + 1) extends the wait to P2*")
            exchange.expire(now: time + 4.9)
            #expect(!exchange.isFinished)
        }
        // An answer to another service is not this one's.
        exchange.receive([0x50, 0x03, 0x00, 0x32, 0x01, 0xF4], now: 19)
        #expect(!exchange.isFinished)
        let answer: [UInt8] = [0x62, 0xF1, 0x90] + Array("WAXLE00000000TEST".utf8)
        exchange.receive(answer, now: 20)
        #expect(exchange.outcome == .positive(answer))
        #expect(UDSMessage.data(of: 0xF190, inAnswer: answer).map { String(decoding: $0, as: UTF8.self) } == "WAXLE00000000TEST")
    }

    @Test func aSilentECUAndARefusalEndTheExchangeWithReasons() {
        var silent = UDSExchange(request: UDSMessage.readDTCsByStatusMask(0x08), sentAt: 0)
        silent.expire(now: 0.999)
        #expect(!silent.isFinished)
        silent.expire(now: 1.0)
        #expect(silent.outcome == .timedOut("no answer to ReadDTCInformation within 1000 ms"))

        var slow = UDSExchange(request: UDSMessage.clearAllDTCs, sentAt: 0)
        slow.receive([0x7F, 0x14, 0x78], now: 0.5)
        slow.expire(now: 5.5)
        #expect(slow.outcome == .timedOut("no answer to ClearDiagnosticInformation within 5000 ms after \"response pending\" (1 times)"))

        var refused = UDSExchange(request: UDSMessage.clearAllDTCs, sentAt: 0)
        refused.receive([0x7F, 0x14, 0x22], now: 0.02)
        guard case .negative(let negative) = refused.outcome else {
            Issue.record("not refused: \(refused.outcome)")
            return
        }
        #expect(negative.description == "ClearDiagnosticInformation refused: conditionsNotCorrect (0x22)")

        var endless = UDSExchange(request: [0x31, 0x01, 0xFF, 0x00], sentAt: 0)
        for index in 1...21 { endless.receive([0x7F, 0x31, 0x78], now: Double(index)) }
        #expect(endless.outcome == .timedOut("the ECU answered \"response pending\" 21 times in a row (at most 20)"))
    }

    @Test func troubleCodesWithTheirStatusBits() throws {
        // 59 02 FF | 02 17 00 2F | C1 00 00 08
        let answer: [UInt8] = [0x59, 0x02, 0xFF, 0x02, 0x17, 0x00, 0x2F, 0xC1, 0x00, 0x00, 0x08, 0x01]
        let codes = try #require(UDSMessage.troubleCodes(inAnswer: answer))
        #expect(codes.map(\.text) == ["P0217-00", "U0100-00"])
        #expect(codes[0].statusNames == ["testFailed", "testFailedThisOperationCycle", "pendingDTC", "confirmedDTC", "testFailedSinceLastClear"])
        #expect(codes[1].statusNames == ["confirmedDTC"])
        #expect(UDSMessage.troubleCodes(inAnswer: [0x62, 0xF1, 0x90]) == nil)
        #expect(UDSMessage.testerPresent() == [0x3E, 0x80])
        #expect(UDSMessage.sessionControl(3) == [0x10, 0x03])
    }
}
