/// Sends one ISO-TP message: a single frame, or a first frame and then consecutive frames paced by the receiver's
/// flow control (block size and STmin). A pure state machine: the caller sends the frames `next(now:)` hands out,
/// feeds it the flow control frames that arrive, and calls `next(now:)` again at the time it names.
public struct ISOTPSender: Sendable {
    public struct Settings: Sendable {
        /// N_Bs: how long to wait for the receiver's flow control.
        public var flowControlTimeout: Double = 1.0
        /// How many "wait" flow control frames in a row are accepted before giving up (N_WFTmax).
        public var maximumWaits = 10
        /// Extended addressing: one address byte before every frame's header.
        public var extendedAddressing = false

        public init() {}
    }

    /// What to do next.
    public enum Step: Sendable, Equatable {
        /// Send this frame now.
        case send(ISOTPFrame)
        /// Nothing may go out before this time (STmin): call `next(now:)` then.
        case waitUntil(Double)
        /// Waiting for the receiver's flow control, at the latest until this time (N_Bs): call `next(now:)` then.
        case awaitFlowControl(deadline: Double)
        /// The whole message has been handed out.
        case done
        /// The transfer ended without the whole message.
        case failed(ISOTPError)
    }

    private enum State {
        case notStarted
        case awaitingFlowControl(deadline: Double, waits: Int)
        /// Sending consecutive frames: `remainingInBlock` 0 means no limit.
        case sending(remainingInBlock: Int, gap: Double, notBefore: Double)
        case done
        case failed(ISOTPError)
    }

    public let settings: Settings
    private let message: [UInt8]
    private var offset = 0
    private var sequence: UInt8 = 1
    private var state = State.notStarted

    /// A sender for `message` (1 to 4095 bytes).
    public init(message: [UInt8], settings: Settings = Settings()) throws(ISOTPError) {
        guard !message.isEmpty, message.count <= ISOTPFrame.maximumMessageLength else {
            throw ISOTPError(
                .invalidMessage, "an ISO-TP message has 1 to \(ISOTPFrame.maximumMessageLength) bytes, not \(message.count)")
        }
        self.message = message
        self.settings = settings
    }

    /// The next thing to do at `now`.
    public mutating func next(now: Double) -> Step {
        let extended = settings.extendedAddressing
        switch state {
        case .notStarted:
            if message.count <= ISOTPFrame.singleCapacity(extended: extended) {
                state = .done
                return .send(.single(message))
            }
            offset = ISOTPFrame.firstCapacity(extended: extended)
            state = .awaitingFlowControl(deadline: now + settings.flowControlTimeout, waits: 0)
            return .send(.first(messageLength: message.count, Array(message[0..<offset])))
        case .awaitingFlowControl(let deadline, _):
            if now >= deadline {
                return fail(ISOTPError(
                    .flowControlTimeout,
                    "no flow control within \(ISOTPReceiver.milliseconds(settings.flowControlTimeout)) ms after \(offset) of \(message.count) bytes"))
            }
            return .awaitFlowControl(deadline: deadline)
        case .sending(var remaining, let gap, let notBefore):
            if now < notBefore { return .waitUntil(notBefore) }
            let end = min(offset + ISOTPFrame.consecutiveCapacity(extended: extended), message.count)
            let frame = ISOTPFrame.consecutive(sequence: sequence, Array(message[offset..<end]))
            offset = end
            sequence = (sequence + 1) & 0x0F
            if offset == message.count {
                state = .done
            } else if remaining == 1 {
                state = .awaitingFlowControl(deadline: now + settings.flowControlTimeout, waits: 0)
            } else {
                if remaining > 1 { remaining -= 1 }
                state = .sending(remainingInBlock: remaining, gap: gap, notBefore: now + gap)
            }
            return .send(frame)
        case .done:
            return .done
        case .failed(let error):
            return .failed(error)
        }
    }

    /// Feeds a flow control frame from the receiver; other frames, and flow control when none is awaited, are ignored.
    public mutating func receive(_ frame: ISOTPFrame, now: Double) {
        guard case .flowControl(let status, let blockSize, let separationTime) = frame,
            case .awaitingFlowControl(_, let waits) = state
        else { return }
        switch status {
        case .continueToSend:
            state = .sending(remainingInBlock: Int(blockSize), gap: separationTime.seconds, notBefore: now)
        case .wait:
            if waits >= settings.maximumWaits {
                _ = fail(ISOTPError(.tooManyWaits, "the receiver asked to wait \(waits + 1) times in a row (at most \(settings.maximumWaits))"))
            } else {
                state = .awaitingFlowControl(deadline: now + settings.flowControlTimeout, waits: waits + 1)
            }
        case .overflow:
            _ = fail(ISOTPError(.receiverOverflow, "the receiver cannot take a message of \(message.count) bytes (overflow)"))
        }
    }

    /// True once the whole message has been handed out.
    public var isDone: Bool {
        if case .done = state { true } else { false }
    }

    private mutating func fail(_ error: ISOTPError) -> Step {
        state = .failed(error)
        return .failed(error)
    }
}
