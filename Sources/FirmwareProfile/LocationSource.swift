/// What a GNSS receiver reports through gpsd, each quantity in the unit the catalog publishes it in.
public enum LocationQuantity: String, Sendable, Equatable, CaseIterable {
    /// Degrees north, WGS 84.
    case latitude
    /// Degrees east, WGS 84.
    case longitude
    /// Metres above the WGS 84 ellipsoid (gpsd's `altHAE`), only with a 3D fix.
    case altitude
    /// Degrees from true north, the course over ground (gpsd's `track`).
    case heading
    /// Speed over ground in km/h (gpsd gives m/s; km/h is VSS's unit for speeds).
    case speed
    /// Metres: the estimated horizontal error (gpsd's `eph`).
    case horizontalAccuracy = "horizontal-accuracy"
    /// Metres: the estimated vertical error (gpsd's `epv`).
    case verticalAccuracy = "vertical-accuracy"
    /// gpsd's fix mode as a number: 0 unknown, 1 no fix, 2 a 2D fix, 3 a 3D fix.
    case fixMode = "fix-mode"

    /// The unit a catalog entry of this quantity has ("" for none).
    public var unit: String {
        switch self {
        case .latitude, .longitude, .heading: "degrees"
        case .altitude, .horizontalAccuracy, .verticalAccuracy: "m"
        case .speed: "km/h"
        case .fixMode: ""
        }
    }

    /// Whether the quantity exists only while the receiver has a fix (every one but the fix mode).
    public var needsFix: Bool { self != .fixMode }
}

/// The profile's `[location]`: where gpsd listens, which catalog signals the receiver feeds, and which source wins
/// for a signal the bus also carries (docs/location.md).
public struct LocationSource: Sendable, Equatable {
    /// gpsd's address; `axled --gpsd HOST:PORT` overrides it.
    public var host: String
    public var port: Int
    /// Catalog name → what the receiver gives it, in file order.
    public var signals: [Signal]
    /// Which source feeds a catalog name that both the receiver and a bus give.
    public var prefer: Preference
    public var line: Int

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 2947

    public struct Signal: Sendable, Equatable {
        public var name: String
        public var quantity: LocationQuantity
        public var line: Int

        public init(name: String, quantity: LocationQuantity, line: Int) {
            self.name = name
            self.quantity = quantity
            self.line = line
        }
    }

    public enum Preference: String, Sendable, Equatable, CaseIterable {
        /// The receiver's value while it has a fix, the bus's while it has none (the default).
        case gpsd
        /// The bus's value always: the receiver feeds only the names no bus gives.
        case can
    }

    public init(host: String, port: Int, signals: [Signal], prefer: Preference, line: Int) {
        self.host = host
        self.port = port
        self.signals = signals
        self.prefer = prefer
        self.line = line
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `HOST` (port 2947); nil when it is not an address.
    public static func address(_ text: String) -> (host: String, port: Int)? {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard host.firstIndex(of: ":") == colon else { return nil }
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "/" }) else { return nil }
        var port = defaultPort
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else { return nil }
            port = number
        }
        return (String(host), port)
    }
}
