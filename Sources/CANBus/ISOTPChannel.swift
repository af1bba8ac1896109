import AxleBase
import CANFrames
import Diagnostics

#if canImport(Glibc)
import Glibc
#endif

/// One ISO-TP conversation on a raw CAN socket: messages go out on `transmitID`, come back on `receiveID`. The
/// protocol is `Diagnostics`' state machines; this is the socket and the clock around them. Flow control is sent as
/// soon as a first frame has been read, on the reading thread, so an ECU is never kept waiting by the tester.
///
/// Not thread-safe: one conversation, one thread (as `CANSocket`'s reader).
public final class ISOTPChannel {
    public let interface: String
    public let transmitID: UInt32
    public let receiveID: UInt32
    /// The byte frames are padded to 8 bytes with (nil: frames as short as their content).
    public let padding: UInt8?
    private let socket: CANSocket
    private var receiver: ISOTPReceiver
    private let senderSettings: ISOTPSender.Settings
    private var batch = CANSocket.Batch()
    /// Messages reassembled while waiting for something else (flow control during a send), in order.
    private var early: [[UInt8]] = []

    public init(
        interface: String, transmitID: UInt32, receiveID: UInt32, padding: UInt8? = 0xCC,
        receiver settings: ISOTPReceiver.Settings = .init(), sender senderSettings: ISOTPSender.Settings = .init()
    ) throws(CANBusError) {
        self.interface = interface
        self.transmitID = transmitID
        self.receiveID = receiveID
        self.padding = padding
        self.senderSettings = senderSettings
        receiver = ISOTPReceiver(settings: settings)
        socket = try CANSocket(interface: interface, enableFD: false)
        try socket.setFilters([.exact(id: receiveID, isExtended: receiveID > CANFrame.maxStandardID)])
    }

    deinit { socket.close() }

    /// Sends one message (1 to 4095 bytes), paced by the receiver's flow control.
    public func send(_ message: [UInt8]) throws(ISOTPChannelError) {
        var sender: ISOTPSender
        do {
            sender = try ISOTPSender(message: message, settings: senderSettings)
        } catch {
            throw ISOTPChannelError.protocolError(error)
        }
        while true {
            let now = monotonicSeconds()
            switch sender.next(now: now) {
            case .send(let frame):
                try transmit(frame)
            case .waitUntil(let time):
                Self.sleep(until: time)
            case .awaitFlowControl(let deadline):
                try readFrames(until: deadline) { frame, time in
                    if case .flowControl = frame {
                        sender.receive(frame, now: time)
                        return true
                    }
                    return false
                }
            case .done:
                return
            case .failed(let error):
                throw ISOTPChannelError.protocolError(error)
            }
        }
    }

    /// The next whole message from the other side, waiting at most `timeoutSeconds`; nil when none came. A transfer
    /// that breaks off (out of order, silent past N_Cr) throws with the reason.
    public func receive(timeoutSeconds: Double) throws(ISOTPChannelError) -> [UInt8]? {
        if !early.isEmpty { return early.removeFirst() }
        var result: [UInt8]?
        let deadline = monotonicSeconds() + timeoutSeconds
        try readFrames(until: deadline) { _, _ in
            if !early.isEmpty { result = early.removeFirst() }
            return result != nil
        }
        return result
    }

    /// Reads frames from `receiveID` until `done` says so or the deadline (and a transfer under way, N_Cr) passes;
    /// every frame goes through the receiver first, which may answer with flow control at once.
    private func readFrames(until deadline: Double, _ done: (ISOTPFrame, Double) -> Bool) throws(ISOTPChannelError) {
        while true {
            let now = monotonicSeconds()
            if let error = receiver.expire(now: now) { throw .protocolError(error) }
            let wakeAt = min(deadline, receiver.deadline ?? deadline)
            if now >= deadline, !receiver.isReceiving { return }
            let milliseconds = Int32(max(0, min((wakeAt - now) * 1000, 1000)).rounded(.up))
            do {
                try socket.receive(timeoutMilliseconds: milliseconds, into: &batch)
            } catch {
                throw .socket(error)
            }
            for frame in batch.frames where frame.kind == .data && frame.id == receiveID {
                let parsed: ISOTPFrame?
                do {
                    parsed = try ISOTPFrame.parse(frame.data)
                } catch {
                    throw .protocolError(error)
                }
                guard let parsed else { continue }
                let time = monotonicSeconds()
                let step = receiver.receive(parsed, now: time)
                if let flowControl = step.flowControl { try transmit(flowControl) }
                if let error = step.error { throw .protocolError(error) }
                if let message = step.message { early.append(message) }
                if done(parsed, time) { return }
            }
        }
    }

    private func transmit(_ frame: ISOTPFrame) throws(ISOTPChannelError) {
        let data = frame.encoded(padding: padding)
        do {
            try socket.send(CANFrame(id: transmitID, isExtended: transmitID > CANFrame.maxStandardID, data: data, interface: interface))
        } catch {
            throw .socket(error)
        }
    }

    private static func sleep(until time: Double) {
        let seconds = time - monotonicSeconds()
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// Why an ISO-TP conversation failed.
public enum ISOTPChannelError: Error, CustomStringConvertible {
    case protocolError(ISOTPError)
    case socket(CANBusError)

    public var description: String {
        switch self {
        case .protocolError(let error): "ISO-TP: \(error.description)"
        case .socket(let error): "\(error)"
        }
    }
}
