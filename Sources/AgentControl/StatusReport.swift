import AxleBase

/// The agent's health at a glance: the result of `status` (docs/control.md lists every field).
public struct StatusReport: Sendable, Equatable {
    /// The most recent errors a report carries.
    public static let maximumLastErrors = 10

    /// The agent's version (`AxleVersion.current` of `axled`).
    public var version: String
    /// The firmware profile in use, e.g. "demo-sedan".
    public var profile: String
    /// The vehicle firmware version the profile describes.
    public var firmware: String
    public var vehicleID: String
    /// The process id of `axled`.
    public var pid: Int32
    /// Seconds since the agent started.
    public var uptimeSeconds: Double
    /// Where the agent keeps its state (the outbox database, …).
    public var dataDirectory: String
    public var buses: [BusStatus]
    public var uplink: UplinkStatus
    public var outbox: OutboxReport
    public var collection: CollectionStatus
    /// The GNSS receiver; nil when the profile reads none.
    public var location: LocationReport?
    /// The diagnostics service; nil when none runs.
    public var diagnostics: DiagnosticsReport?
    /// The configuration report (`ConfigurationState.report`, the document `config` answers); nil before the agent
    /// has one, and from agents older than configuration updates.
    public var configuration: JSONValue?
    /// The most recent errors, newest first (at most `maximumLastErrors`; the initializer keeps the newest).
    public var lastErrors: [RecentError]

    /// A report; `lastErrors` is cut to the newest `maximumLastErrors`.
    public init(
        version: String, profile: String, firmware: String, vehicleID: String, pid: Int32, uptimeSeconds: Double,
        dataDirectory: String, buses: [BusStatus], uplink: UplinkStatus, outbox: OutboxReport,
        collection: CollectionStatus, lastErrors: [RecentError], location: LocationReport? = nil,
        diagnostics: DiagnosticsReport? = nil, configuration: JSONValue? = nil
    ) {
        self.version = version
        self.profile = profile
        self.firmware = firmware
        self.vehicleID = vehicleID
        self.pid = pid
        self.uptimeSeconds = uptimeSeconds
        self.dataDirectory = dataDirectory
        self.buses = buses
        self.uplink = uplink
        self.outbox = outbox
        self.collection = collection
        self.location = location
        self.diagnostics = diagnostics
        self.configuration = configuration
        self.lastErrors = Array(lastErrors.prefix(Self.maximumLastErrors))
    }

    /// The report as sent on the socket and printed by `axle status --json`.
    public func toJSON() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("version", .string(version)),
            ("profile", .string(profile)),
            ("firmware", .string(firmware)),
            ("vehicle_id", .string(vehicleID)),
            ("pid", .count(pid)),
            ("uptime_seconds", .number(uptimeSeconds)),
            ("data_directory", .string(dataDirectory)),
            ("buses", .array(buses.map { $0.toJSON() })),
            ("uplink", uplink.toJSON()),
            ("outbox", outbox.toJSON()),
            ("collection", collection.toJSON()),
        ]
        if let location { members.append(("location", location.toJSON())) }
        if let diagnostics { members.append(("diagnostics", diagnostics.toJSON())) }
        if let configuration { members.append(("configuration", configuration)) }
        members.append(("last_errors", .array(lastErrors.map { $0.toJSON() })))
        return .object(members)
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        self.init(
            version: try reader.string("version"),
            profile: try reader.string("profile"),
            firmware: try reader.string("firmware"),
            vehicleID: try reader.string("vehicle_id"),
            pid: try reader.integer("pid"),
            uptimeSeconds: try reader.double("uptime_seconds"),
            dataDirectory: try reader.string("data_directory"),
            buses: try reader.objects("buses", BusStatus.init(reader:)),
            uplink: try UplinkStatus(reader: try reader.object("uplink")),
            outbox: try OutboxReport(reader: try reader.object("outbox")),
            collection: try CollectionStatus(reader: try reader.object("collection")),
            lastErrors: try reader.objects("last_errors", RecentError.init(reader:)),
            location: reader.optionalValue("location") == nil ? nil : try LocationReport(reader: try reader.object("location")),
            diagnostics: reader.optionalValue("diagnostics") == nil ? nil : try DiagnosticsReport(reader: try reader.object("diagnostics")),
            configuration: reader.optionalValue("configuration") == nil ? nil : try ConfigurationState(json: try reader.value("configuration")).report)
    }
}

/// One CAN bus (or simulated or replayed source) the agent reads.
public struct BusStatus: Sendable, Equatable {
    /// A bus's state: the controller's (`up`, `error-active`, `error-passive`, `bus-off`, `down`) or the source's
    /// (`simulated`, `replay`, `ended`). Other values may appear in newer agents.
    public struct State: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Reading, and the controller reports no error state.
        public static let up = State(rawValue: "up")
        public static let errorActive = State(rawValue: "error-active")
        /// The controller saw many errors; it still receives but sends only passive error flags.
        public static let errorPassive = State(rawValue: "error-passive")
        /// The controller left the bus after too many errors: nothing is received.
        public static let busOff = State(rawValue: "bus-off")
        /// The interface is down or missing.
        public static let down = State(rawValue: "down")
        /// Frames come from the built-in vehicle simulator.
        public static let simulated = State(rawValue: "simulated")
        /// Frames come from a recorded log being replayed.
        public static let replay = State(rawValue: "replay")
        /// The replayed log has ended.
        public static let ended = State(rawValue: "ended")

        public var description: String { rawValue }
    }

    /// The bus's name in the profile, e.g. "body".
    public var name: String
    /// The interface or source, e.g. "can0", "simulator", a log file.
    public var interface: String
    public var state: State
    /// Frames received since the agent started.
    public var frames: UInt64
    /// Frames per second, over the last few seconds.
    public var framesPerSecond: Double
    /// Estimated bus load in percent of the bitrate; nil when the bitrate is unknown (virtual buses, replays).
    public var loadPercent: Double?
    /// Error frames and controller errors counted since the agent started.
    public var errors: UInt64

    /// A bus's status.
    public init(
        name: String, interface: String, state: State, frames: UInt64, framesPerSecond: Double, loadPercent: Double?,
        errors: UInt64
    ) {
        self.name = name
        self.interface = interface
        self.state = state
        self.frames = frames
        self.framesPerSecond = framesPerSecond
        self.loadPercent = loadPercent
        self.errors = errors
    }

    /// The bus as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("name", .string(name)),
            ("interface", .string(interface)),
            ("state", .string(state.rawValue)),
            ("frames", .count(frames)),
            ("frames_per_second", .number(framesPerSecond)),
            ("load_percent", .optional(loadPercent)),
            ("errors", .count(errors)),
        ])
    }

    /// Reads a bus; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            name: try reader.string("name"),
            interface: try reader.string("interface"),
            state: State(rawValue: try reader.string("state")),
            frames: try reader.integer("frames"),
            framesPerSecond: try reader.double("frames_per_second"),
            loadPercent: try reader.optionalDouble("load_percent"),
            errors: try reader.integer("errors"))
    }
}

/// The MQTT connection to the backend.
public struct UplinkStatus: Sendable, Equatable {
    /// `connected`, `connecting` or `disconnected`; other values may appear in newer agents.
    public struct State: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let connected = State(rawValue: "connected")
        /// Trying to (re)connect, after a jittered back-off.
        public static let connecting = State(rawValue: "connecting")
        public static let disconnected = State(rawValue: "disconnected")

        public var description: String { rawValue }
    }

    public var state: State
    /// The broker, e.g. "mqtts://broker.example.com:8883".
    public var broker: String
    /// When the uplink entered its current state (unix milliseconds), when known.
    public var sinceMillis: Int64?
    /// Records handed to the broker since the agent started.
    public var published: UInt64
    /// Records the broker acknowledged (PUBACK) since the agent started.
    public var acknowledged: UInt64
    /// Records sent and not yet acknowledged.
    public var inFlight: Int
    /// The last connection or publish error, if any.
    public var lastError: String?

    /// The uplink's status.
    public init(
        state: State, broker: String, sinceMillis: Int64?, published: UInt64, acknowledged: UInt64, inFlight: Int,
        lastError: String?
    ) {
        self.state = state
        self.broker = broker
        self.sinceMillis = sinceMillis
        self.published = published
        self.acknowledged = acknowledged
        self.inFlight = inFlight
        self.lastError = lastError
    }

    /// The uplink as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("state", .string(state.rawValue)),
            ("broker", .string(broker)),
            ("since_millis", .optional(sinceMillis)),
            ("published", .count(published)),
            ("acknowledged", .count(acknowledged)),
            ("in_flight", .count(inFlight)),
            ("last_error", .optional(lastError)),
        ])
    }

    /// Reads an uplink status; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            state: State(rawValue: try reader.string("state")),
            broker: try reader.string("broker"),
            sinceMillis: try reader.optionalInteger("since_millis"),
            published: try reader.integer("published"),
            acknowledged: try reader.integer("acknowledged"),
            inFlight: try reader.integer("in_flight"),
            lastError: try reader.optionalString("last_error"))
    }
}

/// The collection engine in numbers.
public struct CollectionStatus: Sendable, Equatable {
    /// Collection rules (`[[rules]]`) switched on.
    public var rulesEnabled: Int
    /// Collection rules in the profile (`[[rules]]`; events are counted apart, as `axle profile validate` does).
    public var rulesTotal: Int
    /// Events (`[[events]]`) switched on.
    public var eventsEnabled: Int
    /// Events in the profile.
    public var eventsTotal: Int
    /// Events triggered since the agent started.
    public var eventsTriggered: UInt64

    /// The collection engine's numbers.
    public init(rulesEnabled: Int, rulesTotal: Int, eventsEnabled: Int = 0, eventsTotal: Int = 0, eventsTriggered: UInt64) {
        self.rulesEnabled = rulesEnabled
        self.rulesTotal = rulesTotal
        self.eventsEnabled = eventsEnabled
        self.eventsTotal = eventsTotal
        self.eventsTriggered = eventsTriggered
    }

    /// The numbers as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([
            ("rules_enabled", .count(rulesEnabled)),
            ("rules_total", .count(rulesTotal)),
            ("events_enabled", .count(eventsEnabled)),
            ("events_total", .count(eventsTotal)),
            ("events_triggered", .count(eventsTriggered)),
        ])
    }

    /// Reads the numbers; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            rulesEnabled: try reader.integer("rules_enabled"),
            rulesTotal: try reader.integer("rules_total"),
            // Absent from agents before events were counted apart from rules.
            eventsEnabled: try reader.optionalInteger("events_enabled") ?? 0,
            eventsTotal: try reader.optionalInteger("events_total") ?? 0,
            eventsTriggered: try reader.integer("events_triggered"))
    }
}

/// An error the agent met recently: when, in which part, and what.
public struct RecentError: Sendable, Equatable {
    /// When it happened (unix milliseconds).
    public var timeMillis: Int64
    /// The part of the agent, e.g. "uplink", "can0", "outbox".
    public var component: String
    public var message: String

    /// An error as logged.
    public init(timeMillis: Int64, component: String, message: String) {
        self.timeMillis = timeMillis
        self.component = component
        self.message = message
    }

    /// The error as sent on the socket.
    public func toJSON() -> JSONValue {
        .object([("time_millis", .count(timeMillis)), ("component", .string(component)), ("message", .string(message))])
    }

    /// Reads an error entry; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            timeMillis: try reader.integer("time_millis"), component: try reader.string("component"),
            message: try reader.string("message"))
    }
}
