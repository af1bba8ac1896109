import FirmwareProfile
import MQTTUplink
import Outbox
import TelemetryPayload

/// Where the agent's frames come from.
public enum FrameSourceKind: Sendable, Equatable {
    /// The vehicle's CAN buses through SocketCAN: each logical bus of the profile on the interface the configuration
    /// maps it to (`AgentConfiguration.canInterfaces`).
    case socketCAN
    /// The in-process simulated vehicle: a scenario at `speed` times real time (nil: as fast as possible), for
    /// `duration` simulated seconds (nil: until stopped).
    case simulate(scenario: String, speed: Double?, duration: Double?)
    /// A candump log at `speed` times its recorded pace (nil: as fast as possible).
    case replay(path: String, speed: Double?)

    /// What keeps the frames off the agent's wall clock (a replay's logged times, a simulation faster or slower than
    /// real time), for the values stamped on it (the GNSS receiver's); nil when they share it.
    var frameClockDiffers: String? {
        switch self {
        case .socketCAN: nil
        case .simulate(_, let speed, _): speed == 1 ? nil : "a simulation at \(speed.map { "\($0)x" } ?? "full") speed"
        case .replay: "a replay"
        }
    }
}

/// Everything `axled` runs with: the configuration file (docs/axled.md) with the command line's overrides applied.
public struct AgentConfiguration: Sendable {
    public var vehicleID: String
    public var profile: FirmwareProfile
    /// Logical bus name → OS interface (`body` → `can0`).
    public var canInterfaces: [String: String]
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
    /// The control socket `axle` talks to; nil: none.
    public var controlSocketPath: String?
    /// The group allowed to read status through the control socket.
    public var controlSocketGroup: String
    /// Backend public keys that may sign remote commands, key ids no longer trusted, and the command limits.
    public var commands: CommandSettings
    /// Where gpsd listens: the profile's `[location] gpsd`, or `--gpsd` / `[location] gpsd` of the configuration;
    /// nil when the profile has no `[location]` (no location service runs).
    public var gpsd: GPSDAddress?
    /// Configuration over the air: the keys trusted to sign bundles, the trial, and the allow-list a pushed profile
    /// cannot widen (docs/configuration.md).
    public var configurationUpdates: ConfigurationUpdateSettings

    public init(
        vehicleID: String, profile: FirmwareProfile, canInterfaces: [String: String] = [:], source: FrameSourceKind,
        dataDirectory: String, outboxCapBytes: Int64 = AgentConfiguration.defaultOutboxCapBytes, mqtt: MQTTConfiguration,
        topicPrefix: String = "axle/v1", uplink: UplinkPolicy = .standard, payloadFormat: PayloadFormat = .protobufZstd,
        exitWhenDrained: Bool = false, watchLink: Bool = true, logLevel: LogLevel = .info,
        controlSocketPath: String? = nil, controlSocketGroup: String = "axle", commands: CommandSettings = CommandSettings(),
        gpsd: GPSDAddress? = nil, configurationUpdates: ConfigurationUpdateSettings = ConfigurationUpdateSettings()
    ) {
        self.vehicleID = vehicleID
        self.profile = profile
        self.canInterfaces = canInterfaces
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
        self.controlSocketPath = controlSocketPath
        self.controlSocketGroup = controlSocketGroup
        self.commands = commands
        self.gpsd = gpsd ?? profile.location.map { GPSDAddress(host: $0.host, port: $0.port) }
        self.configurationUpdates = configurationUpdates
    }

    /// The outbox's own default (docs/outbox.md gives how many hours of the demo profile it holds).
    public static let defaultOutboxCapBytes: Int64 = OutboxConfiguration.defaultCapBytes
}

/// How the agent accepts remote commands (docs/commands.md).
public struct CommandSettings: Sendable, Equatable {
    /// Backend public key files (`axle-fleet keygen` writes them). No keys: every command is rejected (unknown key).
    public var trustKeyFiles: [String] = []
    /// Key ids that are no longer trusted even though their file is still listed (a revocation list).
    public var revokedKeyIDs: [String] = []
    /// A command may be valid for at most this long from when it arrives (its expires_at).
    public var maximumLifetimeSeconds: Double = 300
    /// Sustained commands per second, and how many may come at once, before `rate_limited`.
    public var ratePerSecond: Double = 2
    public var burst: Int = 10

    public init() {}
}

/// How the agent takes configuration bundles (`[configuration]` in axled.toml, `--config-key`; docs/configuration.md).
public struct ConfigurationUpdateSettings: Sendable, Equatable {
    /// Public configuration key files (`axle-fleet config keygen`). None: every bundle is refused (`unknown_key`).
    public var keyFiles: [String] = []
    /// How long a new version runs on trial before its health check decides (frames decoding, no errors).
    public var trialSeconds: Double = 30
    /// The allow-list a pushed profile cannot widen; nil: what the profile installed on disk (`--profile`) has.
    /// Command definitions a pushed profile may hold, by name.
    public var allowedCommands: [String]?
    /// CAN ids (as the DBC writes them, extended ids with their flag bit) the commands of a pushed profile may write.
    public var allowedWriteIDs: [UInt32]?
    /// Diagnostic services (UDS/OBD-II service ids) a pushed profile may use.
    public var allowedDiagnosticServices: [UInt8]?

    public init() {}
}

/// gpsd's TCP address.
public struct GPSDAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}
