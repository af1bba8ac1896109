import MQTTUplink
import Outbox
import TelemetryPayload

/// Where the agent's frames come from.
public enum FrameSourceKind: Sendable, Equatable {
    /// The in-process simulated vehicle: a scenario at `speed` times real time (nil: as fast as possible), for
    /// `duration` simulated seconds (nil: until stopped).
    case simulate(scenario: String, speed: Double?, duration: Double?)
    /// A candump log at `speed` times its recorded pace (nil: as fast as possible).
    case replay(path: String, speed: Double?)
}

/// Everything `axled` runs with (flags today; the configuration file of docs/agent.md later).
public struct AgentConfiguration: Sendable {
    public var vehicleID: String
    /// The firmware profile's name, as the status and the payload name it.
    public var profileName: String
    public var dbcPath: String
    public var source: FrameSourceKind
    /// Holds `outbox.db` (and its sidecar files).
    public var dataDirectory: String
    public var outboxCapBytes: Int64
    public var mqtt: MQTTConfiguration
    public var topicPrefix: String
    public var uplink: UplinkPolicy
    public var payloadFormat: PayloadFormat
    /// After the source ends, wait until the outbox is empty, then exit (replays, benchmarks, tests).
    public var exitWhenDrained: Bool
    /// Watch the vehicle's network (netlink) and reconnect at once when it changes.
    public var watchLink: Bool
    public var logLevel: LogLevel

    public init(
        vehicleID: String, profileName: String, dbcPath: String, source: FrameSourceKind, dataDirectory: String,
        outboxCapBytes: Int64 = AgentConfiguration.defaultOutboxCapBytes, mqtt: MQTTConfiguration,
        topicPrefix: String = "axle/v1", uplink: UplinkPolicy = .standard, payloadFormat: PayloadFormat = .protobufZstd,
        exitWhenDrained: Bool = false, watchLink: Bool = true, logLevel: LogLevel = .info
    ) {
        self.vehicleID = vehicleID
        self.profileName = profileName
        self.dbcPath = dbcPath
        self.source = source
        self.dataDirectory = dataDirectory
        self.outboxCapBytes = outboxCapBytes
        self.mqtt = mqtt
        self.topicPrefix = topicPrefix
        self.uplink = uplink
        self.payloadFormat = payloadFormat
        self.exitWhenDrained = exitWhenDrained
        self.watchLink = watchLink
        self.logLevel = logLevel
    }

    /// The outbox's own default (docs/outbox.md gives how many hours of the demo profile it holds).
    public static let defaultOutboxCapBytes: Int64 = OutboxConfiguration.defaultCapBytes
}
