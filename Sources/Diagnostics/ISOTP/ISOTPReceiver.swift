/// Reassembles the ISO-TP messages of one sender (one CAN id, and one address byte with extended addressing) and
/// says when to answer with flow control. A pure state machine: the caller feeds it frames with the time they arrived,
/// sends the flow control frames it returns, and calls `expire(now:)` at `deadline` (N_Cr).
///
/// Malformed or unexpected frames end the transfer under way (if the standard says so) and are reported with a reason;
/// the receiver is then ready for the next message. Never more than `settings.maximumMessageLength` bytes are held.
public struct ISOTPReceiver: Sendable {
    public struct Settings: Sendable {
        /// Consecutive frames the sender may send before waiting for the next flow control (0: all of them).
        public var blockSize: UInt8 = 0
        /// The gap the sender must leave between consecutive frames.
        public var separationTime: SeparationTime = .none
        /// N_Cr: how long to wait for the next consecutive frame.
        public var consecutiveFrameTimeout: Double = 1.0
        /// Longer messages are refused with an overflow flow control.
        public var maximumMessageLength = ISOTPFrame.maximumMessageLength

        public init() {}
    }

    /// What one frame brought.
    public struct Step: Sendable, Equatable {
        /// A whole message, when this frame completed one.
        public var message: [UInt8]?
        /// A flow control frame to send to the sender now.
        public var flowControl: ISOTPFrame?
        /// Why a transfer ended without a message, or why this frame was refused.
        public var error: ISOTPError?

        public init(message: [UInt8]? = nil, flowControl: ISOTPFrame? = nil, error: ISOTPError? = nil) {
            self.message = message
            self.flowControl = flowControl
            self.error = error
        }
    }

    private struct Transfer {
        var expectedLength: Int
        var bytes: [UInt8]
        var nextSequence: UInt8
        /// Consecutive frames still expected in this block before we send flow control again (0: no limit).
        var remainingInBlock: Int
        var deadline: Double
    }

    public let settings: Settings
    private var transfer: Transfer?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// When `expire(now:)` must be called if no frame comes first: the N_Cr deadline of a transfer under way.
    public var deadline: Double? { transfer?.deadline }

    /// True while a multi-frame message is being received.
    public var isReceiving: Bool { transfer != nil }

    /// Feeds one frame of this sender (parsed with `ISOTPFrame.parse`).
    public mutating func receive(_ frame: ISOTPFrame, now: Double) -> Step {
        switch frame {
        case .single(let payload):
            return Step(message: payload, error: abandonTransfer(because: "a single frame arrived"))
        case .first(let length, let payload):
            let interrupted = abandonTransfer(because: "a new first frame arrived")
            guard length <= settings.maximumMessageLength else {
                return Step(
                    flowControl: .flowControl(.overflow, blockSize: 0, separationTime: .none),
                    error: interrupted ?? ISOTPError(
                        .invalidMessageLength,
                        "a first frame announces \(length) bytes, more than the \(settings.maximumMessageLength) taken here"))
            }
            guard length > payload.count else {
                return Step(error: interrupted ?? ISOTPError(
                    .invalidMessageLength, "a first frame announces \(length) bytes, which fit in the frame itself"))
            }
            var bytes = payload
            bytes.reserveCapacity(length)
            transfer = Transfer(
                expectedLength: length, bytes: bytes, nextSequence: 1, remainingInBlock: Int(settings.blockSize),
                deadline: now + settings.consecutiveFrameTimeout)
            return Step(
                flowControl: .flowControl(.continueToSend, blockSize: settings.blockSize, separationTime: settings.separationTime),
                error: interrupted)
        case .consecutive(let sequence, let payload):
            guard var current = transfer else {
                return Step(error: ISOTPError(
                    .unexpectedConsecutiveFrame, "a consecutive frame (sequence \(sequence)) with no first frame before it"))
            }
            guard sequence == current.nextSequence else {
                transfer = nil
                return Step(error: ISOTPError(
                    .wrongSequenceNumber,
                    "consecutive frame \(sequence) where \(current.nextSequence) was due, after \(current.bytes.count) of \(current.expectedLength) bytes: the message is dropped"))
            }
            current.bytes += payload.prefix(current.expectedLength - current.bytes.count)
            if current.bytes.count >= current.expectedLength {
                transfer = nil
                return Step(message: current.bytes)
            }
            current.nextSequence = (current.nextSequence + 1) & 0x0F
            current.deadline = now + settings.consecutiveFrameTimeout
            var step = Step()
            if current.remainingInBlock > 0 {
                current.remainingInBlock -= 1
                if current.remainingInBlock == 0 {
                    current.remainingInBlock = Int(settings.blockSize)
                    step.flowControl = .flowControl(
                        .continueToSend, blockSize: settings.blockSize, separationTime: settings.separationTime)
                }
            }
            transfer = current
            return step
        case .flowControl:
            // Flow control is for the sending side of the conversation.
            return Step()
        }
    }

    /// Ends a transfer whose next consecutive frame is overdue; nil when nothing was overdue.
    public mutating func expire(now: Double) -> ISOTPError? {
        guard let current = transfer, now >= current.deadline else { return nil }
        transfer = nil
        return ISOTPError(
            .consecutiveFrameTimeout,
            "consecutive frame \(current.nextSequence) did not come within \(Self.milliseconds(settings.consecutiveFrameTimeout)) ms, after \(current.bytes.count) of \(current.expectedLength) bytes: the message is dropped")
    }

    private mutating func abandonTransfer(because reason: String) -> ISOTPError? {
        guard let current = transfer else { return nil }
        transfer = nil
        return ISOTPError(
            .transferInterrupted,
            "\(reason) after \(current.bytes.count) of \(current.expectedLength) bytes of a message: that message is dropped")
    }

    static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
}
