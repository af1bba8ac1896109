import AxleTestSupport
import CANFrames
import Diagnostics
import Testing

/// ISO-TP segmentation and reassembly as pure state machines: frames in, frames and messages out, time given.
@Suite struct ISOTPTests {
    /// A message handed from a sender to a receiver frame by frame, flow control carried back, time advanced as the
    /// sender asks. Returns the frames each side sent and what the receiver got.
    static func transfer(
        _ message: [UInt8], receiver settings: ISOTPReceiver.Settings = .init(), padding: UInt8? = 0xAA
    ) throws -> (frames: [[UInt8]], flowControls: [[UInt8]], received: [UInt8]?, times: [Double]) {
        var sender = try ISOTPSender(message: message)
        var receiver = ISOTPReceiver(settings: settings)
        var now = 100.0
        var frames: [[UInt8]] = []
        var flowControls: [[UInt8]] = []
        var times: [Double] = []
        var received: [UInt8]?
        for _ in 0..<10_000 {
            switch sender.next(now: now) {
            case .send(let frame):
                let data = frame.encoded(padding: padding)
                frames.append(data)
                times.append(now)
                let step = receiver.receive(try #require(try ISOTPFrame.parse(data)), now: now)
                #expect(step.error == nil, "\(step.error!)")
                if let message = step.message { received = message }
                if let flowControl = step.flowControl {
                    let data = flowControl.encoded(padding: padding)
                    flowControls.append(data)
                    sender.receive(try #require(try ISOTPFrame.parse(data)), now: now)
                }
            case .waitUntil(let time):
                #expect(time > now)
                now = time
            case .awaitFlowControl(let deadline):
                Issue.record("the sender waits for flow control until \(deadline) that never comes")
                return (frames, flowControls, received, times)
            case .done:
                return (frames, flowControls, received, times)
            case .failed(let error):
                Issue.record("the transfer failed: \(error)")
                return (frames, flowControls, received, times)
            }
        }
        Issue.record("the transfer did not end")
        return (frames, flowControls, received, times)
    }

    @Test func aShortMessageIsOneSingleFramePaddedToEightBytes() throws {
        let result = try Self.transfer([0x22, 0xF1, 0x90])
        #expect(result.frames == [[0x03, 0x22, 0xF1, 0x90, 0xAA, 0xAA, 0xAA, 0xAA]])
        #expect(result.flowControls.isEmpty)
        #expect(result.received == [0x22, 0xF1, 0x90])
        // Without padding the frame is as short as its content; seven bytes still fit one frame.
        let seven: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        #expect(try Self.transfer(seven, padding: nil).frames == [[0x07] + seven])
    }

    @Test func aVINAnswerGoesAsFirstFrameAndConsecutiveFramesAfterFlowControl() throws {
        // Mode 09 PID 02: 49 02 01 and the 17 characters of a VIN, 20 bytes.
        let answer: [UInt8] = [0x49, 0x02, 0x01] + Array("WAXLE00000000TEST".utf8)
        let result = try Self.transfer(answer)
        #expect(result.frames.count == 3)
        #expect(result.frames[0] == [0x10, 0x14, 0x49, 0x02, 0x01] + Array("WAX".utf8))
        #expect(result.frames[1] == [0x21] + Array("LE00000".utf8))
        #expect(result.frames[2] == [0x22] + Array("000TEST".utf8))
        #expect(result.flowControls == [[0x30, 0x00, 0x00, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA]])
        #expect(result.received == answer)
    }

    @Test func blockSizeAndSeparationTimeAreHonoured() throws {
        var settings = ISOTPReceiver.Settings()
        settings.blockSize = 2
        settings.separationTime = SeparationTime(rawValue: 20)
        let message = (0..<60).map { UInt8($0) }
        let result = try Self.transfer(message, receiver: settings)
        // 6 bytes in the first frame, then 54 in eight consecutive frames: a flow control after every two.
        #expect(result.frames.count == 9)
        #expect(result.flowControls.count == 1 + 3)
        #expect(result.flowControls.allSatisfy { $0.prefix(3) == [0x30, 2, 20] })
        #expect(result.received == message)
        // Within a block the sender leaves 20 ms between consecutive frames; a new block may start at once.
        let gaps = zip(result.times.dropFirst(2), result.times.dropFirst(1)).map { $0 - $1 }
        #expect(gaps.count == 7)
        #expect(gaps.enumerated().allSatisfy { index, gap in abs(gap - (index % 2 == 0 ? 0.020 : 0)) < 1e-9 }, "\(gaps)")
    }

    @Test func a4095ByteMessageWrapsTheSequenceNumber() throws {
        let message = (0..<4095).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let result = try Self.transfer(message)
        // 6 + 7 × 585 = 4101 ≥ 4095: 585 consecutive frames, numbered 1…15, 0, 1, …
        #expect(result.frames.count == 586)
        #expect(result.frames[15][0] == 0x2F && result.frames[16][0] == 0x20 && result.frames[17][0] == 0x21)
        #expect(result.received == message)
        #expect(throws: ISOTPError.self) { try ISOTPSender(message: [UInt8](repeating: 0, count: 4096)) }
        #expect(throws: ISOTPError.self) { try ISOTPSender(message: []) }
    }

    @Test func aWrongSequenceNumberDropsTheMessageWithAReason() throws {
        var receiver = ISOTPReceiver()
        _ = receiver.receive(.first(messageLength: 20, [1, 2, 3, 4, 5, 6]), now: 0)
        _ = receiver.receive(.consecutive(sequence: 1, [7, 8, 9, 10, 11, 12, 13]), now: 0.01)
        let step = receiver.receive(.consecutive(sequence: 3, [14, 15, 16, 17, 18, 19, 20]), now: 0.02)
        #expect(step.message == nil)
        #expect(step.error?.code == .wrongSequenceNumber)
        #expect(step.error?.description == "consecutive frame 3 where 2 was due, after 13 of 20 bytes: the message is dropped")
        #expect(!receiver.isReceiving)
        // The next consecutive frame has no transfer to belong to.
        let late = receiver.receive(.consecutive(sequence: 2, [1]), now: 0.03)
        #expect(late.error?.code == .unexpectedConsecutiveFrame)
        // And the receiver takes the next message.
        #expect(receiver.receive(.single([0x7E, 0x00]), now: 0.04).message == [0x7E, 0x00])
    }

    @Test func aFirstFrameAnnouncingMoreThan4095BytesGetsAnOverflow() throws {
        var receiver = ISOTPReceiver()
        // 12-bit length 0 escapes to a 32-bit length: 5000 bytes.
        let frame = try #require(try ISOTPFrame.parse([0x10, 0x00, 0x00, 0x00, 0x13, 0x88, 0x01, 0x02]))
        let step = receiver.receive(frame, now: 0)
        #expect(step.flowControl == .flowControl(.overflow, blockSize: 0, separationTime: .none))
        #expect(step.error?.code == .invalidMessageLength)
        #expect(step.error?.description.contains("5000 bytes, more than the 4095") == true)
        #expect(!receiver.isReceiving)
        // A first frame for a message that would fit a single frame is refused too.
        #expect(receiver.receive(.first(messageLength: 5, [1, 2, 3, 4, 5]), now: 0).error?.code == .invalidMessageLength)
    }

    @Test func aNewMessageInTheMiddleOfATransferEndsItWithAReason() throws {
        var receiver = ISOTPReceiver()
        _ = receiver.receive(.first(messageLength: 30, [1, 2, 3, 4, 5, 6]), now: 0)
        let single = receiver.receive(.single([0x50, 0x01]), now: 0.01)
        #expect(single.message == [0x50, 0x01])
        #expect(single.error?.code == .transferInterrupted)
        _ = receiver.receive(.first(messageLength: 30, [1, 2, 3, 4, 5, 6]), now: 0.02)
        let first = receiver.receive(.first(messageLength: 10, [9, 9, 9, 9, 9, 9]), now: 0.03)
        #expect(first.error?.code == .transferInterrupted)
        #expect(first.flowControl != nil, "the new transfer is answered")
        #expect(receiver.receive(.consecutive(sequence: 1, [8, 8, 8, 8]), now: 0.04).message == [9, 9, 9, 9, 9, 9, 8, 8, 8, 8])
    }

    @Test func theReceiverGivesUpWhenConsecutiveFramesStop() throws {
        var receiver = ISOTPReceiver()
        _ = receiver.receive(.first(messageLength: 20, [1, 2, 3, 4, 5, 6]), now: 10)
        #expect(receiver.deadline == 11)
        #expect(receiver.expire(now: 10.999) == nil)
        _ = receiver.receive(.consecutive(sequence: 1, [7, 8, 9, 10, 11, 12, 13]), now: 10.5)
        #expect(receiver.deadline == 11.5, "each consecutive frame restarts N_Cr")
        let error = receiver.expire(now: 11.5)
        #expect(error?.code == .consecutiveFrameTimeout)
        #expect(error?.description == "consecutive frame 2 did not come within 1000 ms, after 13 of 20 bytes: the message is dropped")
        #expect(receiver.deadline == nil)
    }

    @Test func theSenderGivesUpWithoutFlowControlAfterTooManyWaitsOrOnOverflow() throws {
        let message = [UInt8](repeating: 0x55, count: 40)
        var silent = try ISOTPSender(message: message)
        guard case .send(.first) = silent.next(now: 0) else { Issue.record("no first frame"); return }
        #expect(silent.next(now: 0.5) == .awaitFlowControl(deadline: 1.0))
        guard case .failed(let timeout) = silent.next(now: 1.0) else { Issue.record("no timeout"); return }
        #expect(timeout.code == .flowControlTimeout)
        #expect(timeout.description == "no flow control within 1000 ms after 6 of 40 bytes")

        var waited = try ISOTPSender(message: message)
        _ = waited.next(now: 0)
        for index in 1...10 {
            waited.receive(.flowControl(.wait, blockSize: 0, separationTime: .none), now: Double(index) * 0.9)
            #expect(waited.next(now: Double(index) * 0.9) == .awaitFlowControl(deadline: Double(index) * 0.9 + 1), "wait \(index) restarts N_Bs")
        }
        waited.receive(.flowControl(.wait, blockSize: 0, separationTime: .none), now: 10)
        guard case .failed(let waits) = waited.next(now: 10) else { Issue.record("an eleventh wait was accepted"); return }
        #expect(waits.code == .tooManyWaits)

        var refused = try ISOTPSender(message: message)
        _ = refused.next(now: 0)
        refused.receive(.flowControl(.overflow, blockSize: 0, separationTime: .none), now: 0.1)
        guard case .failed(let overflow) = refused.next(now: 0.1) else { Issue.record("overflow ignored"); return }
        #expect(overflow.code == .receiverOverflow)
    }

    @Test(arguments: [
        (0x00, 0.0), (0x01, 0.001), (0x7F, 0.127), (0xF1, 0.0001), (0xF9, 0.0009),
        // Reserved values: the longest gap.
        (0x80, 0.127), (0xF0, 0.127), (0xFA, 0.127), (0xFF, 0.127),
    ] as [(UInt8, Double)])
    func separationTimes(raw: UInt8, seconds: Double) {
        #expect(abs(SeparationTime(rawValue: raw).seconds - seconds) < 1e-12)
    }

    @Test func separationTimesAreEncodedNeverShorterThanAsked() {
        #expect(SeparationTime(seconds: 0).rawValue == 0)
        #expect(SeparationTime(seconds: 0.00025).rawValue == 0xF3)
        #expect(SeparationTime(seconds: 0.0015).rawValue == 2)
        #expect(SeparationTime(seconds: 5).rawValue == 0x7F)
    }

    @Test func extendedAddressingCarriesTheAddressByteFirst() throws {
        var sender = try ISOTPSender(message: Array(1...10), settings: { var s = ISOTPSender.Settings(); s.extendedAddressing = true; return s }())
        guard case .send(let first) = sender.next(now: 0) else { Issue.record("no first frame"); return }
        let data = first.encoded(addressByte: 0xF1, padding: 0x00)
        #expect(data == [0xF1, 0x10, 0x0A, 1, 2, 3, 4, 5])
        #expect(try ISOTPFrame.parse(data, addressByte: 0xF1) == .first(messageLength: 10, [1, 2, 3, 4, 5]))
        #expect(try ISOTPFrame.parse(data, addressByte: 0x12) == nil, "another address: not this conversation")
    }

    @Test(arguments: [
        ([] as [UInt8], "an empty frame has no ISO-TP header"),
        ([0x00, 0x01], "a single frame announces 0 bytes but 0 is not allowed on classic CAN"),
        ([0x05, 0x01, 0x02], "a single frame announces 5 bytes but only 2 follow"),
        ([0x10], "a first frame needs two header bytes"),
        ([0x30, 0x00], "a flow control frame needs three bytes"),
        ([0x37, 0x00, 0x00], "flow control with status 7 (0 continue, 1 wait, 2 overflow)"),
        ([0x45, 0x00], "header nibble 4 is not an ISO-TP frame type (0 to 3)"),
    ])
    func malformedFramesAreRefusedWithTheReason(data: [UInt8], reason: String) {
        #expect(throws: ISOTPError.self) { try ISOTPFrame.parse(data) }
        do {
            _ = try ISOTPFrame.parse(data)
        } catch {
            #expect(error.description == reason)
        }
    }

    @Test func randomFramesNeverTrapAndNeverHoldMoreThanTheLimit() {
        var generator = SeededGenerator(seed: 0x15015765)
        var receiver = ISOTPReceiver()
        var messages = 0
        for index in 0..<200_000 {
            let count = Int.random(in: 0...8, using: &generator)
            var data = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Bias towards valid headers so that transfers get under way.
            if !data.isEmpty { data[0] = data[0] & 0x3F }
            guard let frame = try? ISOTPFrame.parse(data) else { continue }
            let step = receiver.receive(frame, now: Double(index) * 0.001)
            if let message = step.message {
                messages += 1
                #expect(message.count <= 4095)
            }
            _ = receiver.expire(now: Double(index) * 0.001)
        }
        #expect(messages > 1000, "single frames and some transfers completed: \(messages)")
    }

    /// A real diagnostic session (CSS Electronics' recording of an electric car, Tests/Resources/css-electronics): a
    /// tester on 0x79B asks service 0x21 every few seconds, the ECU answers on 0x7BB in 53- and 31-byte multi-frame
    /// answers with 0xFF padding, and the tester's flow control (`30 00 00`, zero-padded) comes some 40 ms late.
    @Test func aRealNissanSessionReassemblesEveryAnswer() throws {
        let reader = try CandumpReader(path: AxleProcess.packageRoot + "/Tests/Resources/css-electronics/uds-isotp-session-79B-7BB.log")
        var fromECU = ISOTPReceiver()
        var fromTester = ISOTPReceiver()
        var answers: [[UInt8]] = []
        var requests: [[UInt8]] = []
        var flowControlsFromTester = 0
        var flowControlsDue = 0
        while let entry = try reader.next() {
            guard case .frame(let frame) = entry else { continue }
            let now = frame.timestamp.timeInterval
            let parsed = try #require(try ISOTPFrame.parse(frame.data))
            if frame.id == 0x7BB {
                #expect(fromECU.expire(now: now) == nil)
                let step = fromECU.receive(parsed, now: now)
                #expect(step.error == nil, "\(step.error!)")
                if step.flowControl != nil { flowControlsDue += 1 }
                if let message = step.message { answers.append(message) }
            } else {
                if case .flowControl(.continueToSend, 0, .none) = parsed { flowControlsFromTester += 1 }
                if let message = fromTester.receive(parsed, now: now).message { requests.append(message) }
            }
        }
        #expect(requests.count == 26)
        #expect(Set(requests) == [[0x21, 0x01], [0x21, 0x04]])
        #expect(answers.count == 26)
        #expect(answers.allSatisfy { $0.count == ($0[1] == 0x01 ? 53 : 31) && $0[0] == 0x61 })
        #expect(flowControlsFromTester == 26)
        #expect(flowControlsDue == 26, "a flow control was due after each first frame, as the tester sent")
    }
}

/// A small deterministic generator (SplitMix64), so that a failure reproduces.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
