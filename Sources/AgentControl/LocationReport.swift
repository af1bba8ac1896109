import AxleBase

/// The GNSS receiver as `axle status` shows it: gpsd's connection, the fix mode and satellites, and the last good
/// position with its age (kept when the fix is lost). Absent from a status report when the profile has no
/// `[location]`.
public struct LocationReport: Sendable, Equatable {
    /// gpsd's address, `host:port`.
    public var gpsd: String
    public var connected: Bool
    /// The receiver's device path, when gpsd reported one.
    public var receiver: String?
    /// gpsd's fix mode: 0 unknown, 1 no fix, 2 2D, 3 3D.
    public var mode: Int
    public var satellitesUsed: Int?
    public var satellitesSeen: Int?
    public var lastFix: Fix?
    /// Connections made to gpsd since the agent started, and lines that were no gpsd report (cut, damaged).
    public var connections: Int
    public var skippedLines: Int

    public struct Fix: Sendable, Equatable {
        public var latitude: Double
        public var longitude: Double
        public var altitude: Double?
        public var mode: Int
        /// The receiver's own time of the fix, as gpsd wrote it (data, not the agent's clock).
        public var gpsTime: String?
        /// Seconds since the agent received it.
        public var ageSeconds: Double

        public init(latitude: Double, longitude: Double, altitude: Double?, mode: Int, gpsTime: String?, ageSeconds: Double) {
            self.latitude = latitude
            self.longitude = longitude
            self.altitude = altitude
            self.mode = mode
            self.gpsTime = gpsTime
            self.ageSeconds = ageSeconds
        }
    }

    public init(
        gpsd: String, connected: Bool, receiver: String?, mode: Int, satellitesUsed: Int?, satellitesSeen: Int?,
        lastFix: Fix?, connections: Int = 0, skippedLines: Int = 0
    ) {
        self.gpsd = gpsd
        self.connected = connected
        self.receiver = receiver
        self.mode = mode
        self.satellitesUsed = satellitesUsed
        self.satellitesSeen = satellitesSeen
        self.lastFix = lastFix
        self.connections = connections
        self.skippedLines = skippedLines
    }

    /// The fix mode in words: `3D`, `2D`, `no fix`, `unknown`.
    public var modeName: String {
        switch mode {
        case 3: "3D"
        case 2: "2D"
        case 1: "no fix"
        default: "unknown"
        }
    }

    public func toJSON() -> JSONValue {
        .object([
            ("gpsd", .string(gpsd)),
            ("connected", .bool(connected)),
            ("receiver", .optional(receiver)),
            ("mode", .integer(Int128(mode))),
            ("satellites_used", JSONValue.optional(satellitesUsed)),
            ("satellites_seen", JSONValue.optional(satellitesSeen)),
            ("last_fix", lastFix.map { fix in
                .object([
                    ("latitude", .number(fix.latitude)), ("longitude", .number(fix.longitude)),
                    ("altitude", JSONValue.optional(fix.altitude)), ("mode", .integer(Int128(fix.mode))),
                    ("gps_time", .optional(fix.gpsTime)), ("age_seconds", .number(fix.ageSeconds)),
                ])
            } ?? .null),
            ("connections", .integer(Int128(connections))),
            ("skipped_lines", .integer(Int128(skippedLines))),
        ])
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        var fix: Fix?
        if reader.optionalValue("last_fix") != nil {
            let fixReader = try reader.object("last_fix")
            fix = Fix(
                latitude: try fixReader.double("latitude"), longitude: try fixReader.double("longitude"),
                altitude: try fixReader.optionalDouble("altitude"), mode: try fixReader.integer("mode"),
                gpsTime: try fixReader.optionalString("gps_time"), ageSeconds: try fixReader.double("age_seconds"))
        }
        self.init(
            gpsd: try reader.string("gpsd"), connected: try reader.bool("connected"),
            receiver: try reader.optionalString("receiver"), mode: try reader.integer("mode"),
            satellitesUsed: try reader.optionalInteger("satellites_used"),
            satellitesSeen: try reader.optionalInteger("satellites_seen"), lastFix: fix,
            connections: try reader.optionalInteger("connections") ?? 0,
            skippedLines: try reader.optionalInteger("skipped_lines") ?? 0)
    }
}
