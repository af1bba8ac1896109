import AxleBase
import CANFrames
import Diagnostics

/// A J1939 diagnostic tool's place on a raw CAN socket: listening for diagnostic messages (DM1 by single frame or
/// BAM), and asking for parameter groups with the request PGN, taking part in the RTS/CTS transfer an answer to this
/// node comes by. The socket and the clock around `DiagnosticTrafficDecoder` and `J1939RequestExchange`.
///
/// Not thread-safe: one tool, one thread.
public final class J1939Channel {
    public let interface: String
    private let link: any CANFrameLink
    private let ownedSocket: CANSocket?
    private var batch = CANSocket.Batch()

    /// A channel on a raw socket of `interface` that receives every 29-bit frame (J1939 uses no other).
    public convenience init(interface: String) throws(CANBusError) {
        let socket = try CANSocket(interface: interface, enableFD: false)
        do {
            try socket.setFilters([CANFilter(id: CANFilter.extendedFlag, mask: CANFilter.extendedFlag | CANFilter.remoteFlag)])
        } catch {
            socket.close()
            throw error
        }
        self.init(link: socket, interface: interface, ownedSocket: socket)
    }

    /// A channel on any frame link.
    public convenience init(link: any CANFrameLink, interface: String) {
        self.init(link: link, interface: interface, ownedSocket: nil)
    }

    private init(link: any CANFrameLink, interface: String, ownedSocket: CANSocket?) {
        self.link = link
        self.interface = interface
        self.ownedSocket = ownedSocket
    }

    deinit { ownedSocket?.close() }

    /// Reads diagnostic messages until `deadline` (monotonic seconds) or until `handle` returns false; every J1939
    /// finding (DM1, DM2, requests, transfers and their errors) is handed to `handle` as it completes.
    public func listen(until deadline: Double, _ handle: (DiagnosticTrafficDecoder.Event) -> Bool) throws(CANBusError) {
        var decoder = DiagnosticTrafficDecoder()
        while true {
            let now = monotonicSeconds()
            if now >= deadline { return }
            let milliseconds = Int32(max(1, min((deadline - now) * 1000, 1000)).rounded(.up))
            try link.receive(timeoutMilliseconds: milliseconds, into: &batch, interfaceName: interface)
            for frame in batch.frames where frame.kind == .data && frame.isExtended {
                for event in decoder.receive(canID: frame.id, extended: true, data: frame.data, time: monotonicSeconds()) {
                    if !handle(event) { return }
                }
            }
        }
    }

    /// Asks for `pgn` (from one node, or from every node with 0xFF) as node `address`, and returns the exchange
    /// when it is over: its answers and the transfers that broke off.
    public func request(
        pgn: UInt32, destination: UInt8 = J1939Identifier.globalAddress, address: UInt8 = 0xF9,
        settings: J1939RequestExchange.Settings = .init()
    ) throws(CANBusError) -> J1939RequestExchange {
        var exchange = J1939RequestExchange(
            pgn: pgn, destination: destination, address: address, sentAt: monotonicSeconds(), settings: settings)
        try send(exchange.request)
        while true {
            let now = monotonicSeconds()
            for frame in exchange.expire(now: now) { try send(frame) }
            if exchange.isFinished(now: now) { return exchange }
            let milliseconds = Int32(max(1, min((exchange.deadline - now) * 1000, 1000)).rounded(.up))
            try link.receive(timeoutMilliseconds: milliseconds, into: &batch, interfaceName: interface)
            for frame in batch.frames where frame.kind == .data && frame.isExtended {
                for reply in exchange.receive(canID: frame.id, data: frame.data, now: monotonicSeconds()) { try send(reply) }
            }
        }
    }

    private func send(_ frame: J1939Frame) throws(CANBusError) {
        try link.send(CANFrame(id: frame.canID, isExtended: true, data: frame.data, interface: interface), timeoutMilliseconds: 1000)
    }
}
