import AxleBase
import CSocketCAN

#if canImport(Glibc)
import Glibc
#endif

/// What the controller says about a bus, where the driver supports it (real controllers do; vcan does not, and then
/// every field is nil rather than an error).
public struct BusHealth: Sendable, Equatable {
    public enum ControllerState: String, Sendable {
        case errorActive = "error-active"
        case errorWarning = "error-warning"
        case errorPassive = "error-passive"
        case busOff = "bus-off"
        case stopped
        case sleeping
    }

    public var interface: String
    public var exists: Bool
    /// Whether the interface is a CAN interface at all (link type 280, ARPHRD_CAN): `eth0` or `lo` exist and are up,
    /// and are no bus.
    public var isCAN: Bool = false
    public var isUp: Bool
    public var isRunning: Bool
    /// 72 for a CAN FD capable interface, 16 for classic CAN.
    public var mtu: Int?
    public var state: ControllerState?
    public var transmitErrors: Int?
    public var receiveErrors: Int?
    public var bitrate: Int?
    public var samplePoint: Double?

    /// Reads the interface's flags and, where supported, its controller state, error counters and bit timing.
    public static func read(interface: String) -> BusHealth {
        var health = BusHealth(interface: interface, exists: false, isUp: false, isRunning: false)
        var up: Int32 = 0
        var running: Int32 = 0
        var mtu: Int32 = 0
        guard CSocketCAN_interfaceFlags(interface, &up, &running, &mtu) == 0 else { return health }
        health.exists = true
        health.isCAN = linkType(interface) == Self.canLinkType
        health.isUp = up != 0
        health.isRunning = running != 0
        health.mtu = mtu > 0 ? Int(mtu) : nil
        // Only a real controller (with a device behind it) has a state, counters and bit timing; libsocketcan
        // prints "no link data found" on stderr when asked about a virtual interface, so it is not asked.
        guard hasController(interface) else { return health }
        var state: Int32 = 0
        if CSocketCAN_getState(interface, &state) == 0 {
            health.state = [.errorActive, .errorWarning, .errorPassive, .busOff, .stopped, .sleeping][Int(max(0, min(state, 5)))]
        }
        var tx: UInt16 = 0
        var rx: UInt16 = 0
        if CSocketCAN_getErrorCounters(interface, &tx, &rx) == 0 {
            health.transmitErrors = Int(tx)
            health.receiveErrors = Int(rx)
        }
        var bitrate: UInt32 = 0
        var samplePoint: UInt32 = 0
        if CSocketCAN_getBitrate(interface, &bitrate, &samplePoint) == 0, bitrate > 0 {
            health.bitrate = Int(bitrate)
            health.samplePoint = Double(samplePoint) / 1000
        }
        return health
    }

    /// ARPHRD_CAN, the link type of CAN interfaces (real controllers, vcan, vxcan, slcan).
    public static let canLinkType = 280

    /// The interface's link type (`/sys/class/net/NAME/type`), nil when it cannot be read.
    public static func linkType(_ interface: String) -> Int? {
        guard !interface.contains("/"), let bytes = try? FileInput.readAll(path: "/sys/class/net/\(interface)/type") else { return nil }
        return Int(String(decoding: bytes, as: UTF8.self).trimmedOfWhitespace())
    }

    /// The CAN interfaces the kernel knows, sorted by name.
    public static func canInterfaces() -> [String] {
        guard let directory = opendir("/sys/class/net") else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix("."), linkType(name) == canLinkType { names.append(name) }
        }
        return names.sorted()
    }

    static func hasController(_ interface: String) -> Bool {
        var info = stat()
        return stat("/sys/class/net/\(interface)/device", &info) == 0
    }

    /// Asks the controller to leave bus-off (needs CAN_NET_ADMIN; unsupported on vcan). Returns whether it worked.
    @discardableResult
    public static func restart(interface: String) -> Bool {
        hasController(interface) && CSocketCAN_restart(interface) == 0
    }
}

/// Frames and bits per second over a sliding window, against the nominal bitrate when it is known.
public struct BusLoadEstimator: Sendable {
    private var windowStart: Double
    private var frames = 0
    private var bits = 0
    public private(set) var framesPerSecond: Double = 0
    public private(set) var bitsPerSecond: Double = 0
    let window: Double

    public init(now: Double, window: Double = 1) {
        self.windowStart = now
        self.window = window
    }

    /// Bits a frame occupies on the wire, approximately: header, payload, CRC, stuffing allowance.
    /// (Classic: 47 bits of overhead for 11-bit ids, 67 for 29-bit, plus ~20% stuffing on the stuffable part;
    /// CAN FD data phases run faster and are counted at the nominal rate, which overestimates load.)
    public static func wireBits(payloadBytes: Int, isExtended: Bool) -> Int {
        let raw = (isExtended ? 67 : 47) + 8 * payloadBytes
        return raw + (raw - 13) / 5
    }

    public mutating func record(payloadBytes: Int, isExtended: Bool, now: Double) {
        roll(now: now)
        frames += 1
        bits += Self.wireBits(payloadBytes: payloadBytes, isExtended: isExtended)
    }

    public mutating func roll(now: Double) {
        let elapsed = now - windowStart
        guard elapsed >= window else { return }
        framesPerSecond = Double(frames) / elapsed
        bitsPerSecond = Double(bits) / elapsed
        frames = 0
        bits = 0
        windowStart = now
    }

    /// Load as a fraction of `bitrate` (0...1+), when the bitrate is known.
    public func load(bitrate: Int?) -> Double? {
        guard let bitrate, bitrate > 0 else { return nil }
        return bitsPerSecond / Double(bitrate)
    }
}
