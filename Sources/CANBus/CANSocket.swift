import AxleBase
import CANFrames
import CSocketCAN

#if canImport(Glibc)
import Glibc
#endif

/// A kernel id filter: a frame passes when `frame.id & mask == id & mask` (flags included, as `CAN_RAW_FILTER`).
public struct CANFilter: Sendable, Hashable {
    public var id: UInt32
    public var mask: UInt32

    public static let extendedFlag: UInt32 = 0x8000_0000
    public static let remoteFlag: UInt32 = 0x4000_0000

    public init(id: UInt32, mask: UInt32) {
        self.id = id
        self.mask = mask
    }

    /// Exactly one 11-bit or 29-bit id (data frames only).
    public static func exact(id: UInt32, isExtended: Bool) -> CANFilter {
        isExtended
            ? CANFilter(id: id | extendedFlag, mask: 0x1FFF_FFFF | extendedFlag | remoteFlag)
            : CANFilter(id: id, mask: 0x7FF | extendedFlag | remoteFlag)
    }

    /// Every 29-bit id with this J1939 parameter group number, whatever the priority and source address (and, for
    /// PDU1 groups, the destination address).
    public static func j1939(pgn: UInt32) -> CANFilter {
        let isPDU1 = (pgn >> 8) & 0xFF < 240
        let pgnMask: UInt32 = isPDU1 ? 0x3FF00 : 0x3FFFF
        return CANFilter(id: (pgn << 8) | extendedFlag, mask: (pgnMask << 8) | extendedFlag | remoteFlag)
    }
}

/// One raw CAN socket on one interface (or all, with an empty name): the blocking primitive under the readers,
/// the technician commands and the command executor.
///
/// `@unchecked Sendable`: the descriptor is only read by one thread at a time (the owner's reader thread), and
/// the kernel serialises concurrent writes to a socket; `close()` must be the last call.
public final class CANSocket: @unchecked Sendable {
    public let interface: String
    public let supportsFD: Bool
    private var fd: Int32
    /// The kernel's overflow counter as last seen, to turn the cumulative count into per-batch drops.
    private var lastDroppedTotal: UInt32 = 0
    private var buffer = [CSocketCAN_Frame](repeating: CSocketCAN_Frame(), count: 64)
    /// Interface names by index, for sockets bound to every interface.
    private var interfaceNames: [Int32: String] = [:]

    /// Opens and binds a raw socket. `enableFD` asks for CAN FD frames (fine on classic interfaces too).
    public init(interface: String, enableFD: Bool = true) throws(CANBusError) {
        let result = CSocketCAN_open(interface, enableFD ? 1 : 0)
        guard result >= 0 else { throw CANBusError(interface: interface, operation: "open a CAN socket", code: -result) }
        self.interface = interface
        self.fd = result
        self.supportsFD = enableFD
    }

    deinit {
        if fd >= 0 { CSocketCAN_close(fd) }
    }

    /// Closes the socket; later calls fail.
    public func close() {
        if fd >= 0 { CSocketCAN_close(fd) }
        fd = -1
    }

    /// The most filters `setFilters` passes to the kernel (the C shim's bound on what it copies); a caller with more
    /// should capture everything instead.
    public static let maximumFilters = 4096

    /// Receives only frames that pass one of `filters` (empty: none but error frames).
    public func setFilters(_ filters: [CANFilter]) throws(CANBusError) {
        let ids = filters.map(\.id)
        let masks = filters.map(\.mask)
        let result = CSocketCAN_setFilters(fd, ids, masks, Int32(filters.count))
        guard result == 0 else { throw CANBusError(interface: interface, operation: "set id filters", code: -result) }
    }

    /// Receives controller error frames (bus-off, error-passive, …) as `.error` frames.
    public func receiveErrorFrames(_ enabled: Bool = true) throws(CANBusError) {
        let result = CSocketCAN_setErrorFilter(fd, enabled ? 0x1FFF_FFFF : 0)
        guard result == 0 else { throw CANBusError(interface: interface, operation: "set the error filter", code: -result) }
    }

    /// What one batch read brought.
    public struct Batch: Sendable {
        public var frames: [CANFrame] = []
        /// Frames the kernel dropped since the previous batch because this socket's queue was full.
        public var kernelDrops: UInt32 = 0

        public init() {}
    }

    /// Reads up to 64 frames with one system call, waiting at most `timeoutMilliseconds` (-1: forever) for the first.
    /// An empty batch means the wait timed out.
    public func receive(timeoutMilliseconds: Int32, into batch: inout Batch, interfaceName: String? = nil) throws(CANBusError) {
        batch.frames.removeAll(keepingCapacity: true)
        batch.kernelDrops = 0
        let count = buffer.withUnsafeMutableBufferPointer { CSocketCAN_receiveBatch(fd, $0.baseAddress, Int32($0.count), timeoutMilliseconds) }
        guard count >= 0 else { throw CANBusError(interface: interface, operation: "receive", code: -count) }
        for index in 0..<Int(count) {
            let raw = buffer[index]
            let name = interfaceName ?? (interface.isEmpty ? name(ofInterface: raw.interface_index) : interface)
            if raw.dropped_total != lastDroppedTotal {
                batch.kernelDrops &+= raw.dropped_total &- lastDroppedTotal
                lastDroppedTotal = raw.dropped_total
            }
            batch.frames.append(Self.frame(from: raw, interface: name))
        }
    }

    private func name(ofInterface index: Int32) -> String {
        if let known = interfaceNames[index] { return known }
        var bytes = [CChar](repeating: 0, count: 32)
        let found = CSocketCAN_interfaceName(index, &bytes) == 0
        let name = found ? String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "if\(index)"
        interfaceNames[index] = name
        return name
    }

    /// Sends one frame, waiting at most `timeoutMilliseconds` for room; a full driver queue (`ENOBUFS`) is retried
    /// with short pauses until the timeout.
    public func send(_ frame: CANFrame, timeoutMilliseconds: Int32 = 1000) throws(CANBusError) {
        var raw = Self.raw(from: frame)
        var waited: Int32 = 0
        while true {
            let result = CSocketCAN_send(fd, &raw, max(timeoutMilliseconds - waited, 0))
            if result == 0 { return }
            if result == -ENOBUFS && waited < timeoutMilliseconds {
                // The driver's queue drains at bus speed: a millisecond holds several frames at 500 kbit/s.
                usleep(1000)
                waited += 1
                continue
            }
            throw CANBusError(interface: interface, operation: "send", code: -result)
        }
    }

    /// Sends frames one after another, `interval` seconds apart (measured on the monotonic clock from the first,
    /// so that the spacing does not drift), as remote commands do with their repeats.
    public func send(sequence frames: [CANFrame], interval: Double, timeoutMilliseconds: Int32 = 1000) throws(CANBusError) {
        let start = monotonicSeconds()
        for (index, frame) in frames.enumerated() {
            let wait = Double(index) * interval - (monotonicSeconds() - start)
            if index > 0, wait > 0 { usleep(UInt32(min(wait, 60) * 1_000_000)) }
            try send(frame, timeoutMilliseconds: timeoutMilliseconds)
        }
    }

    static func frame(from raw: CSocketCAN_Frame, interface: String) -> CANFrame {
        var frame = CANFrame(id: 0)
        let flags = raw.can_id & 0xE000_0000
        if flags & 0x2000_0000 != 0 {
            frame.kind = .error
            frame.id = raw.can_id & 0x1FFF_FFFF
            frame.isExtended = false
        } else {
            frame.isExtended = flags & CANFilter.extendedFlag != 0
            frame.id = raw.can_id & (frame.isExtended ? 0x1FFF_FFFF : 0x7FF)
            if flags & CANFilter.remoteFlag != 0 { frame.kind = .remote }
        }
        frame.isFD = raw.is_fd != 0
        frame.fdFlags = raw.flags
        frame.length = raw.len
        frame.len8DLC = raw.len8_dlc
        withUnsafeBytes(of: raw.data) { source in
            frame.payload.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<Int(raw.len)])) }
        }
        frame.timestamp = CANTimestamp(seconds: raw.timestamp_sec, nanoseconds: UInt32(max(raw.timestamp_nsec, 0)), fractionDigits: 6)
        frame.interface = interface
        return frame
    }

    static func raw(from frame: CANFrame) -> CSocketCAN_Frame {
        var raw = CSocketCAN_Frame()
        switch frame.kind {
        case .data: raw.can_id = frame.id | (frame.isExtended ? CANFilter.extendedFlag : 0)
        case .remote: raw.can_id = frame.id | (frame.isExtended ? CANFilter.extendedFlag : 0) | CANFilter.remoteFlag
        case .error: raw.can_id = frame.id | 0x2000_0000
        }
        raw.len = frame.length
        raw.flags = frame.fdFlags
        raw.len8_dlc = frame.len8DLC
        raw.is_fd = frame.isFD ? 1 : 0
        frame.payload.withUnsafeBytes { source in
            withUnsafeMutableBytes(of: &raw.data) { $0.copyMemory(from: source) }
        }
        return raw
    }
}
