/// Why an ISO-TP transfer failed or a frame was refused; `description` says it for people, with the numbers.
public struct ISOTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Bytes that are not an ISO-TP frame (bad header, lengths that do not fit).
        case malformedFrame
        /// A consecutive frame with no transfer under way.
        case unexpectedConsecutiveFrame
        /// A consecutive frame out of order: the transfer is abandoned.
        case wrongSequenceNumber
        /// A single or first frame arrived while a transfer was under way: that transfer is abandoned.
        case transferInterrupted
        /// A first frame announcing more than the receiver takes (or less than needs a first frame).
        case invalidMessageLength
        /// N_Cr: the next consecutive frame did not come in time.
        case consecutiveFrameTimeout
        /// N_Bs: the receiver's flow control did not come in time.
        case flowControlTimeout
        /// The receiver answered "wait" more times than allowed.
        case tooManyWaits
        /// The receiver answered "overflow": the message is too long for it.
        case receiverOverflow
        /// A flow control status other than continue, wait or overflow.
        case invalidFlowStatus
        /// A message to send that is empty or longer than 4095 bytes.
        case invalidMessage
    }

    public let code: Code
    public let description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
