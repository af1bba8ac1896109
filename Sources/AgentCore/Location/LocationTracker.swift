import FirmwareProfile

/// What the receiver now says about one quantity: a value, or nil when it is no longer known (the fix was lost, the
/// receiver or gpsd went away). nil is sent once per loss, for quantities that had a value.
public struct LocationReading: Sendable, Equatable {
    public var quantity: LocationQuantity
    public var value: Double?

    public init(_ quantity: LocationQuantity, _ value: Double?) {
        self.quantity = quantity
        self.value = value
    }
}

/// The receiver as `axle status` shows it.
public struct LocationStatus: Sendable, Equatable {
    /// gpsd's address, `host:port`.
    public var gpsd: String
    /// Whether the connection to gpsd is up.
    public var connected = false
    /// The receiver gpsd last reported (its device path); nil before the first or after it went away.
    public var receiver: String?
    /// gpsd's fix mode: 0 unknown, 1 no fix, 2 2D, 3 3D.
    public var mode = 0
    public var satellitesUsed: Int?
    public var satellitesSeen: Int?
    /// The last position with a fix, kept when the fix is lost (never replaced by a made-up one).
    public var lastFix: Fix?
    /// Connections made to gpsd, and lines that were not gpsd reports.
    public var connections = 0
    public var skippedLines = 0

    public struct Fix: Sendable, Equatable {
        public var latitude: Double
        public var longitude: Double
        /// Only with a 3D fix.
        public var altitude: Double?
        public var mode: Int
        /// The receiver's time of the fix, as gpsd wrote it (data, not the clock).
        public var gpsTime: String?
        /// When the agent received it: the monotonic clock for its age, the wall clock for people.
        public var receivedMonotonicSeconds: Double
        public var receivedWallMillis: Int64

        public init(
            latitude: Double, longitude: Double, altitude: Double?, mode: Int, gpsTime: String?,
            receivedMonotonicSeconds: Double, receivedWallMillis: Int64
        ) {
            self.latitude = latitude
            self.longitude = longitude
            self.altitude = altitude
            self.mode = mode
            self.gpsTime = gpsTime
            self.receivedMonotonicSeconds = receivedMonotonicSeconds
            self.receivedWallMillis = receivedWallMillis
        }
    }

    public init(gpsd: String) {
        self.gpsd = gpsd
    }

    /// Whether the receiver has a fix now.
    public var hasFix: Bool { connected && mode >= 2 }
}

/// Turns gpsd's reports into readings and keeps the fix state: a position only with a 2D or 3D fix and both
/// coordinates; no altitude in 2D; when the fix, the receiver or gpsd is lost, each quantity that had a value is
/// marked unknown once, and the last good position stays in the status with its age. The receiver's time is kept as
/// a field; readings are stamped by the caller on the agent's clock.
public struct LocationTracker: Sendable {
    public private(set) var status: LocationStatus
    private let clock: any AgentClock
    /// Quantities whose last reading was a value (so a loss marks exactly these).
    private var known: Set<LocationQuantity> = []

    public init(gpsd: String, clock: any AgentClock) {
        self.status = LocationStatus(gpsd: gpsd)
        self.clock = clock
    }

    /// Seconds since the last fix was received; nil before the first.
    public func fixAgeSeconds() -> Double? {
        status.lastFix.map { max(0, clock.monotonicSeconds() - $0.receivedMonotonicSeconds) }
    }

    /// A new connection to gpsd.
    public mutating func connected() {
        status.connected = true
        status.connections += 1
    }

    /// A line that was not a gpsd report (cut at gpsd's limit, damaged).
    public mutating func skippedLine() {
        status.skippedLines += 1
    }

    /// The connection to gpsd ended: nothing is known until it is back.
    public mutating func connectionLost() -> [LocationReading] {
        status.connected = false
        status.receiver = nil
        return lose(includingMode: true)
    }

    public mutating func receive(_ report: GPSDReport) -> [LocationReading] {
        switch report {
        case .position(let tpv):
            return position(tpv)
        case .sky(let used, let seen):
            if let used { status.satellitesUsed = used }
            if let seen { status.satellitesSeen = seen }
            return []
        case .device(let path, let activated):
            if activated {
                status.receiver = path
                return []
            }
            // Another receiver closing does not end the fix of the one in use.
            guard status.receiver == nil || status.receiver == path else { return [] }
            status.receiver = nil
            status.satellitesUsed = nil
            status.satellitesSeen = nil
            return lose(includingMode: true)
        case .version, .other:
            return []
        }
    }

    private mutating func position(_ tpv: GPSDReport.TPV) -> [LocationReading] {
        if let device = tpv.device { status.receiver = device }
        status.mode = tpv.mode
        guard tpv.hasPosition, let latitude = tpv.latitude, let longitude = tpv.longitude else {
            var readings = lose(includingMode: false)
            readings.append(LocationReading(.fixMode, Double(tpv.mode)))
            known.insert(.fixMode)
            return readings
        }
        let altitude = tpv.mode >= 3 ? tpv.altitudeHAE : nil
        status.lastFix = LocationStatus.Fix(
            latitude: latitude, longitude: longitude, altitude: altitude, mode: tpv.mode, gpsTime: tpv.time,
            receivedMonotonicSeconds: clock.monotonicSeconds(), receivedWallMillis: clock.wallClockMillis())
        var readings = [LocationReading(.latitude, latitude), LocationReading(.longitude, longitude)]
        if let altitude {
            readings.append(LocationReading(.altitude, altitude))
        } else if known.contains(.altitude) {
            // 3D → 2D: the altitude is no longer measured, and an old one must not pass for current.
            readings.append(LocationReading(.altitude, nil))
        }
        if let track = tpv.track { readings.append(LocationReading(.heading, track)) }
        if let speed = tpv.speedMetresPerSecond { readings.append(LocationReading(.speed, speed * 3.6)) }
        if let error = tpv.horizontalError { readings.append(LocationReading(.horizontalAccuracy, error)) }
        if tpv.mode >= 3, let error = tpv.verticalError {
            readings.append(LocationReading(.verticalAccuracy, error))
        } else if known.contains(.verticalAccuracy) {
            readings.append(LocationReading(.verticalAccuracy, nil))
        }
        readings.append(LocationReading(.fixMode, Double(tpv.mode)))
        for reading in readings {
            if reading.value == nil { known.remove(reading.quantity) } else { known.insert(reading.quantity) }
        }
        return readings
    }

    /// Marks every quantity that had a value as unknown (the fix mode too when the receiver or gpsd is gone).
    private mutating func lose(includingMode: Bool) -> [LocationReading] {
        if includingMode { status.mode = 0 }
        let lost = LocationQuantity.allCases.filter { known.contains($0) && ($0.needsFix || includingMode) }
        for quantity in lost { known.remove(quantity) }
        return lost.map { LocationReading($0, nil) }
    }
}
