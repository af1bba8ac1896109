import CANFrames

/// Where frames go out and come in for a diagnostic conversation: a raw CAN socket (`CANSocket`), or, where there is
/// no CAN bus (the benchmarks on a kernel without CAN), a link in memory. Only one thread uses a link at a time.
public protocol CANFrameLink: AnyObject {
    /// Sends one frame, waiting at most `timeoutMilliseconds` for room.
    func send(_ frame: CANFrame, timeoutMilliseconds: Int32) throws(CANBusError)
    /// Replaces `batch.frames` with the frames that came, waiting at most `timeoutMilliseconds` for the first; an
    /// empty batch means the wait timed out.
    func receive(timeoutMilliseconds: Int32, into batch: inout CANSocket.Batch, interfaceName: String?) throws(CANBusError)
}

extension CANSocket: CANFrameLink {}
