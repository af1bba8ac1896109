import AxleBase
import CANFrames
import Diagnostics

#if canImport(Glibc)
import Glibc
#endif

/// OBD-II requests to every ECU at once (functional addressing) on a raw CAN socket, and the answers of all that
/// answer: the socket and the clock around `FunctionalExchange`. The request goes out as one single frame on 0x7DF (or
/// 0x18DB33F1); answers are read on 0x7E8-0x7EF and 0x18DAF1xx, each ECU's reassembled on its own, and the flow
/// control for an ECU's first frame goes to that ECU's physical id as soon as the frame is read.
///
/// Not thread-safe: one tester, one thread.
public final class FunctionalISOTPChannel {
    public let interface: String
    /// The byte frames are padded to 8 bytes with (nil: frames as short as their content).
    public let padding: UInt8?
    private let link: any CANFrameLink
    private let ownedSocket: CANSocket?
    private var batch = CANSocket.Batch()

    /// A channel on a raw socket of `interface`, which receives only OBD-II answer ids.
    public convenience init(interface: String, padding: UInt8? = 0xCC) throws(CANBusError) {
        let socket = try CANSocket(interface: interface, enableFD: false)
        do {
            try socket.setFilters([
                CANFilter(id: 0x7E8, mask: 0x7F8 | CANFilter.extendedFlag | CANFilter.remoteFlag),
                CANFilter(id: 0x18DA_F100 | CANFilter.extendedFlag, mask: 0x1FFF_FF00 | CANFilter.extendedFlag | CANFilter.remoteFlag),
            ])
        } catch {
            socket.close()
            throw error
        }
        self.init(link: socket, interface: interface, padding: padding, ownedSocket: socket)
    }

    /// A channel on any frame link (the benchmarks' in-memory bus).
    public init(link: any CANFrameLink, interface: String, padding: UInt8? = 0xCC) {
        self.link = link
        self.interface = interface
        self.padding = padding
        ownedSocket = nil
    }

    private init(link: any CANFrameLink, interface: String, padding: UInt8?, ownedSocket: CANSocket) {
        self.link = link
        self.interface = interface
        self.padding = padding
        self.ownedSocket = ownedSocket
    }

    deinit { ownedSocket?.close() }

    /// Sends `request` (1 to 7 bytes) to every ECU of `addressing` and returns the answers, ordered by answer id,
    /// once the exchange is over (see `FunctionalExchange`). `expecting`: the answer ids known to answer, so that the
    /// wait ends when they have.
    public func request(
        _ request: [UInt8], addressing: OBDAddressing, expecting: Set<UInt32> = [],
        settings: FunctionalExchange.Settings = .init()
    ) throws(CANBusError) -> [FunctionalExchange.Answer] {
        // Answers to an earlier request that came after its window are not answers to this one.
        try drain()
        var exchange = FunctionalExchange(
            request: request, addressing: addressing, sentAt: monotonicSeconds(), expecting: expecting, settings: settings)
        try transmit(.single(request), to: addressing.functionalRequestID)
        while true {
            let now = monotonicSeconds()
            exchange.expire(now: now)
            if exchange.isFinished(now: now) { break }
            let milliseconds = Int32(max(0, min((exchange.deadline - now) * 1000, 1000)).rounded(.up))
            try link.receive(timeoutMilliseconds: max(milliseconds, 1), into: &batch, interfaceName: interface)
            for frame in batch.frames where frame.kind == .data {
                if let flowControl = exchange.receive(canID: frame.id, data: frame.data, now: monotonicSeconds()) {
                    try transmit(flowControl.frame, to: flowControl.canID)
                }
            }
        }
        return exchange.answers.sorted { $0.responder < $1.responder }
    }

    private func drain() throws(CANBusError) {
        repeat {
            try link.receive(timeoutMilliseconds: 0, into: &batch, interfaceName: interface)
        } while !batch.frames.isEmpty
    }

    private func transmit(_ frame: ISOTPFrame, to id: UInt32) throws(CANBusError) {
        try link.send(
            CANFrame(id: id, isExtended: id > CANFrame.maxStandardID, data: frame.encoded(padding: padding), interface: interface),
            timeoutMilliseconds: 1000)
    }
}
