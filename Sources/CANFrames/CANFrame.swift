/// One CAN frame as the whole project sees it: from a bus, a log, the simulator, or built by the encoder.
///
/// Classic and FD, 11- and 29-bit identifiers, remote and error frames. The payload is stored inline (no heap
/// allocation per frame), so frames can be passed through hot loops and bounded buffers by value.
public struct CANFrame: Sendable, Hashable {
    /// What the frame carries.
    public enum Kind: UInt8, Sendable {
        case data
        /// A remote transmission request (classic CAN only); `length` is the requested DLC.
        case remote
        /// An error frame from the controller; `id` holds the error class bits (`CAN_ERR_*`), `payload` the details.
        case error
    }

    /// Whether the frame was received or sent by this host, where the source says (`candump -x`, python-can).
    public enum Direction: UInt8, Sendable {
        case received
        case transmitted
    }

    /// 11-bit or 29-bit identifier, without flag bits (for error frames: the error class).
    public var id: UInt32
    /// A 29-bit identifier (CAN 2.0B).
    public var isExtended: Bool
    public var kind: Kind
    /// A CAN FD frame (up to 64 bytes, the `##` form in candump logs).
    public var isFD: Bool
    /// CAN FD flags as the kernel reports them (`CANFD_BRS` 0x1, `CANFD_ESI` 0x2, `CANFD_FDF` 0x4).
    public var fdFlags: UInt8
    /// Payload length in bytes (0...8 classic, up to 64 FD); for remote frames the requested DLC.
    public var length: UInt8
    /// For classic frames of 8 bytes, a raw DLC of 9...15 when the sender used one (`_X` in candump logs), else 0.
    public var len8DLC: UInt8
    public var payload: CANPayload
    /// Receive time: from the kernel for live frames, from the log for replayed ones.
    public var timestamp: CANTimestamp
    /// The interface the frame was seen on or is meant for, such as `can0`.
    public var interface: String
    public var direction: Direction?

    public static let maxStandardID: UInt32 = 0x7FF
    public static let maxExtendedID: UInt32 = 0x1FFF_FFFF
    public static let fdFlagBRS: UInt8 = 0x1
    public static let fdFlagESI: UInt8 = 0x2

    public init(
        id: UInt32, isExtended: Bool? = nil, kind: Kind = .data, isFD: Bool = false, fdFlags: UInt8 = 0,
        data: some Collection<UInt8> = [], timestamp: CANTimestamp = CANTimestamp(), interface: String = "can0",
        direction: Direction? = nil
    ) {
        self.id = id
        self.isExtended = isExtended ?? (id > Self.maxStandardID)
        self.kind = kind
        self.isFD = isFD
        self.fdFlags = fdFlags
        self.payload = CANPayload(data)
        self.length = UInt8(min(data.count, CANPayload.capacity))
        self.len8DLC = 0
        self.timestamp = timestamp
        self.interface = interface
        self.direction = direction
    }

    /// The payload bytes actually carried (none for remote frames).
    public var data: [UInt8] {
        kind == .remote ? [] : payload.bytes(count: Int(length))
    }

    /// Calls `body` with the carried payload bytes, without copying them.
    @inlinable
    public func withData<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try payload.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<(kind == .remote ? 0 : Int(length))]))
        }
    }

    public static func == (lhs: CANFrame, rhs: CANFrame) -> Bool {
        lhs.id == rhs.id && lhs.isExtended == rhs.isExtended && lhs.kind == rhs.kind && lhs.isFD == rhs.isFD
            && lhs.fdFlags == rhs.fdFlags && lhs.length == rhs.length && lhs.len8DLC == rhs.len8DLC
            && lhs.data == rhs.data && lhs.timestamp == rhs.timestamp && lhs.interface == rhs.interface
            && lhs.direction == rhs.direction
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(isExtended)
        hasher.combine(kind)
        hasher.combine(data)
        hasher.combine(timestamp)
    }
}

/// Up to 64 payload bytes stored inline: eight words instead of an array, so a frame never allocates.
public struct CANPayload: Sendable {
    public static let capacity = 64
    @usableFromInline
    var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    public init(_ bytes: some Collection<UInt8>) {
        withUnsafeMutableBytes { raw in
            for (index, byte) in bytes.prefix(Self.capacity).enumerated() { raw[index] = byte }
        }
    }

    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    @inlinable
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeMutableBytes(of: &words, body)
    }

    public subscript(index: Int) -> UInt8 {
        get { withUnsafeBytes { $0[index] } }
        set { withUnsafeMutableBytes { $0[index] = newValue } }
    }

    public func bytes(count: Int) -> [UInt8] {
        withUnsafeBytes { Array($0[0..<count]) }
    }
}

/// A receive time as whole seconds since the Unix epoch plus nanoseconds.
///
/// `fractionDigits` remembers how a log wrote it (6 digits by default, 9 with `candump -N`), so a log read and
/// written again comes out byte-identical.
public struct CANTimestamp: Sendable, Hashable, Comparable {
    public var seconds: Int64
    public var nanoseconds: UInt32
    public var fractionDigits: UInt8

    public init(seconds: Int64 = 0, nanoseconds: UInt32 = 0, fractionDigits: UInt8 = 6) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.fractionDigits = fractionDigits
    }

    /// Seconds as a floating-point number, for arithmetic such as replay pacing.
    public var timeInterval: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    public static func < (lhs: CANTimestamp, rhs: CANTimestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    /// `1436509052.249713`: the candump text form, also used as a JSON number.
    public var text: String {
        var bytes: [UInt8] = []
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public func append(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(seconds).utf8)
        let digits = Int(min(max(fractionDigits, 1), 9))
        bytes.append(UInt8(ascii: "."))
        var fraction = nanoseconds
        for _ in digits..<9 { fraction /= 10 }
        var out = [UInt8](repeating: UInt8(ascii: "0"), count: digits)
        for index in stride(from: digits - 1, through: 0, by: -1) {
            out[index] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        bytes.append(contentsOf: out)
    }
}
