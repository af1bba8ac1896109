import AxleBase

/// One line of gpsd's JSON protocol, as far as the agent needs it (gpsd's `gpsd_json(5)`): positions (TPV), the
/// satellites in use (SKY), receivers coming and going (DEVICE). Fields gpsd does not know are absent from its
/// reports, never null; a report here keeps that distinction as nil.
public enum GPSDReport: Sendable, Equatable {
    case position(TPV)
    /// Satellites used in the solution and seen, when gpsd says.
    case sky(used: Int?, seen: Int?)
    /// A receiver appeared (`activated` set) or went away (`activated` 0, the receiver unplugged).
    case device(path: String, activated: Bool)
    /// The greeting gpsd sends on every new connection.
    case version(release: String)
    /// Any other class (WATCH, DEVICES, GST, ATT, …): nothing the agent uses.
    case other(className: String)

    /// A time-position-velocity report. `mode` 0 or 1 has no position, whatever else the line holds.
    public struct TPV: Sendable, Equatable {
        /// 0 unknown, 1 no fix, 2 a 2D fix, 3 a 3D fix.
        public var mode: Int
        public var latitude: Double?
        public var longitude: Double?
        /// Metres above the WGS 84 ellipsoid (`altHAE`; gpsd's older `alt` is mean sea level and is not used).
        public var altitudeHAE: Double?
        /// Course over ground, degrees from true north (`track`).
        public var track: Double?
        /// Speed over ground in m/s (`speed`).
        public var speedMetresPerSecond: Double?
        /// Estimated horizontal and vertical errors in metres (`eph`, `epv`).
        public var horizontalError: Double?
        public var verticalError: Double?
        /// The receiver's UTC time as gpsd writes it; data, never the agent's clock (receivers jump, roll over).
        public var time: String?
        /// The receiver's device path.
        public var device: String?

        public init(
            mode: Int, latitude: Double? = nil, longitude: Double? = nil, altitudeHAE: Double? = nil, track: Double? = nil,
            speedMetresPerSecond: Double? = nil, horizontalError: Double? = nil, verticalError: Double? = nil,
            time: String? = nil, device: String? = nil
        ) {
            self.mode = mode
            self.latitude = latitude
            self.longitude = longitude
            self.altitudeHAE = altitudeHAE
            self.track = track
            self.speedMetresPerSecond = speedMetresPerSecond
            self.horizontalError = horizontalError
            self.verticalError = verticalError
            self.time = time
            self.device = device
        }

        /// A position that can be published: a 2D or 3D fix with both coordinates in range.
        public var hasPosition: Bool {
            guard mode >= 2, let latitude, let longitude else { return false }
            return (-90...90).contains(latitude) && (-180...180).contains(longitude)
        }
    }

    /// The command that asks gpsd for JSON reports from every receiver, sent once per connection.
    public static let watchCommand = "?WATCH={\"enable\":true,\"json\":true}\n"

    /// The longest line read. Old clients assumed 1,536 bytes, but gpsd 3.22 writes longer reports (a SKY with 20
    /// satellites is 1,623) up to its own 4,096 (GPS_JSON_RESPONSE_MAX); a line longer than this is no report of
    /// gpsd's and is skipped, so that a peer sending no newline cannot grow the agent's memory.
    public static let maximumLineLength = 8192

    /// Reads one line (without its newline). nil for a line that is not a gpsd report (cut, damaged, no class).
    public static func parse(line: String) -> GPSDReport? {
        guard line.utf8.count <= maximumLineLength, let json = try? JSONValue.parse(line),
            let className = json["class"]?.stringValue
        else { return nil }
        switch className {
        case "TPV":
            // A number gpsd could not compute is absent; a value of another type is treated the same way.
            func number(_ key: String) -> Double? { json[key]?.doubleValue.flatMap { $0.isFinite ? $0 : nil } }
            return .position(TPV(
                mode: json["mode"]?.intValue ?? 0, latitude: number("lat"), longitude: number("lon"),
                altitudeHAE: number("altHAE"), track: number("track"), speedMetresPerSecond: number("speed"),
                horizontalError: number("eph"), verticalError: number("epv"), time: json["time"]?.stringValue,
                device: json["device"]?.stringValue))
        case "SKY":
            var used = json["uSat"]?.intValue
            var seen = json["nSat"]?.intValue
            // gpsd before 3.21 gives no counts, only the list: count it.
            if let satellites = json["satellites"]?.arrayValue {
                if used == nil { used = satellites.filter { $0["used"]?.boolValue == true }.count }
                if seen == nil { seen = satellites.count }
            }
            return .sky(used: used, seen: seen)
        case "DEVICE":
            guard let path = json["path"]?.stringValue else { return .other(className: className) }
            // `activated` is a time while the device is open, 0 when it closed; absent means no change.
            guard let activated = json["activated"] else { return .other(className: className) }
            let closed = activated.doubleValue == 0
            return .device(path: path, activated: !closed)
        case "VERSION":
            return .version(release: json["release"]?.stringValue ?? "")
        default:
            return .other(className: className)
        }
    }
}

/// Splits the bytes read from gpsd's socket into lines, keeping at most `maximumLineLength` bytes of an unfinished
/// line: a longer one (the peer is not gpsd) is dropped up to its newline and counted, so that a stream without
/// newlines cannot grow the agent's memory.
public struct GPSDLineSplitter: Sendable {
    public let maximumLineLength: Int
    private var pending: [UInt8] = []
    private var discarding = false
    /// Lines dropped for their length.
    public private(set) var overlongLines = 0

    public init(maximumLineLength: Int = GPSDReport.maximumLineLength) {
        self.maximumLineLength = maximumLineLength
    }

    /// Adds `bytes` and hands each complete line (without `\r\n` or `\n`) to `body`.
    public mutating func append(_ bytes: some Sequence<UInt8>, _ body: (String) -> Void) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if !discarding {
                    if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                    body(String(decoding: pending, as: UTF8.self))
                }
                pending.removeAll(keepingCapacity: true)
                discarding = false
            } else if !discarding {
                if pending.count >= maximumLineLength + 1 {
                    // +1: a line of exactly the maximum may still end in "\r".
                    pending.removeAll(keepingCapacity: true)
                    discarding = true
                    overlongLines += 1
                } else {
                    pending.append(byte)
                }
            }
        }
    }

    /// Forgets an unfinished line (a new connection starts afresh).
    public mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        discarding = false
    }
}
