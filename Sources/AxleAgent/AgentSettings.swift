import AxleBase
import FirmwareProfile
import MQTTUplink
import Outbox
import TOML
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// The agent's settings as a person writes them: the configuration file (`/etc/axle/axled.toml`, docs/axled.md)
/// and then the command line, each setting with its default. `resolve()` turns them into an `AgentConfiguration`,
/// loading the firmware profile and checking everything, so that a bad setting stops the daemon at start with the
/// file and line, never later.
public struct AgentSettings: Sendable {
    public static let defaultConfigPath = "/etc/axle/axled.toml"

    public var vehicleID: String?
    public var profile: String?
    public var broker = "mqtt://127.0.0.1:1883"
    public var dataDirectory: String?
    /// Logical bus → OS interface.
    public var can: [String: String] = [:]
    public var logLevel = "info"
    public var topicPrefix = "axle/v1"
    public var mqttVersion = "5"
    public var clientID: String?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var keepAliveSeconds: Int?
    public var maximumInflight: Int?
    public var reconnectBase: Double?
    public var reconnectCap: Double?
    public var outboxCapBytes: Int64?
    public var telemetryBatchSeconds: Double?
    public var metered = false
    public var awsIoT = false
    public var payloadFormat = "protobuf-zstd"
    public var controlSocket: String?
    public var controlGroup = "axle"
    /// `[commands]`: trust keys (paths resolved against the configuration file), revocations, limits.
    public var commands = CommandSettings()
    /// Where the frames come from: flags only (`--simulate`, `--replay`); SocketCAN otherwise.
    public var source: FrameSourceKind = .socketCAN
    public var exitWhenDrained = false

    public init() {}

    /// Reads a configuration file. Every problem in it is reported (file:line), not only the first.
    public mutating func apply(configFile path: String) throws(AgentConfigurationError) {
        let document: TOMLDocument
        do {
            document = try TOMLDocument.load(path: path)
        } catch {
            throw AgentConfigurationError("\(error)")
        }
        let problems = TOMLProblems()
        let root = TOMLTableReader(table: document.root, path: path, problems: problems, context: "the configuration")
        if let value = root.string("vehicle-id") { vehicleID = value }
        if let value = root.string("profile") { profile = Self.resolve(value, relativeTo: path) }
        if let value = root.string("data-dir") { dataDirectory = value }
        if let value = root.string("log-level") { logLevel = value }
        if let table = root.table("can") {
            for key in table.keys {
                if let interface = table.string(key) { can[key] = interface }
            }
            table.finish()
        }
        if let mqtt = root.table("mqtt") {
            if let value = mqtt.string("broker") { broker = value }
            if let value = mqtt.string("version") { mqttVersion = value }
            if let value = mqtt.string("client-id") { clientID = value }
            if let value = mqtt.string("ca-file") { caFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("cert-file") { certFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("key-file") { keyFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("topic-prefix") { topicPrefix = value }
            if let value = mqtt.duration("keepalive") { keepAliveSeconds = Int(value.rounded()) }
            if let value = mqtt.int("max-inflight") { maximumInflight = Int(value) }
            if let value = mqtt.duration("reconnect-base") { reconnectBase = value }
            if let value = mqtt.duration("reconnect-cap") { reconnectCap = value }
            mqtt.finish()
        }
        if let outbox = root.table("outbox") {
            if let value = outbox.byteSize("cap") { outboxCapBytes = value }
            outbox.finish()
        }
        if let uplink = root.table("uplink") {
            if let value = uplink.duration("telemetry-batch") { telemetryBatchSeconds = value }
            if let value = uplink.bool("metered") { metered = value }
            if let value = uplink.bool("aws-iot") { awsIoT = value }
            if let value = uplink.string("payload-format") { payloadFormat = value }
            uplink.finish()
        }
        if let control = root.table("control") {
            if let value = control.string("socket") { controlSocket = value }
            if let value = control.string("group") { controlGroup = value }
            control.finish()
        }
        if let commands = root.table("commands") {
            if let value = commands.stringArray("trust-keys") {
                self.commands.trustKeyFiles += value.map { Self.resolve($0, relativeTo: path) }
            }
            if let value = commands.stringArray("revoked-keys") { self.commands.revokedKeyIDs += value }
            if let value = commands.duration("max-lifetime") {
                if value > 0 { self.commands.maximumLifetimeSeconds = value } else {
                    commands.error("'max-lifetime' must be longer than 0", line: commands.line(of: "max-lifetime"))
                }
            }
            if let value = commands.double("rate-limit") {
                if value > 0 { self.commands.ratePerSecond = value } else {
                    commands.error("'rate-limit' (commands per second) must be above 0", line: commands.line(of: "rate-limit"))
                }
            }
            if let value = commands.int("burst") {
                if value >= 1 { self.commands.burst = value } else {
                    commands.error("'burst' must be at least 1", line: commands.line(of: "burst"))
                }
            }
            commands.finish()
        }
        root.finish()
        if !problems.errors.isEmpty {
            throw AgentConfigurationError(problems.errors.map(\.description).joined(separator: "\n"))
        }
    }

    /// Checks every setting and loads the profile.
    public func resolve() throws(AgentConfigurationError) -> AgentConfiguration {
        guard let profilePath = profile else {
            throw AgentConfigurationError("no firmware profile: give --profile DIR or 'profile = \"DIR\"' in the configuration file")
        }
        let loaded: FirmwareProfile
        do {
            loaded = try ProfileLoader.load(directory: profilePath)
        } catch {
            throw AgentConfigurationError("the firmware profile \(profilePath) is not valid (run 'axle profile validate \(profilePath)'):\n\(error)")
        }
        guard let level = LogLevel(name: logLevel) else {
            throw AgentConfigurationError("log level takes error, warning, notice, info or debug, not '\(logLevel)'")
        }
        guard let format = Self.payloadFormat(payloadFormat) else {
            throw AgentConfigurationError("payload format takes protobuf-zstd, protobuf or json, not '\(payloadFormat)'")
        }
        guard ["5", "3.1.1"].contains(mqttVersion) else {
            throw AgentConfigurationError("MQTT version takes 5 or 3.1.1, not '\(mqttVersion)'")
        }
        for bus in can.keys where loaded.bus(named: bus) == nil {
            throw AgentConfigurationError("--can \(bus)=…: the profile \(loaded.name) has no bus '\(bus)'; its buses: \(loaded.buses.map(\.name).joined(separator: ", "))")
        }
        if source == .socketCAN {
            let unmapped = loaded.buses.map(\.name).filter { can[$0] == nil }
            if !unmapped.isEmpty {
                throw AgentConfigurationError("no CAN interface for the bus\(unmapped.count > 1 ? "es" : "") \(unmapped.joined(separator: ", ")) of \(loaded.name): give --can \(unmapped[0])=can0 (or [can] in the configuration file), or run --simulate SCENARIO / --replay FILE")
            }
        }

        let address: (host: String, port: Int, tls: Bool)
        do {
            address = try MQTTConfiguration.brokerAddress(broker)
        } catch {
            throw AgentConfigurationError("\(error)")
        }
        let vehicle = vehicleID ?? Self.hostName()
        var mqtt = MQTTConfiguration(host: address.host, port: address.port, clientID: clientID ?? "axled-\(vehicle)")
        mqtt.protocolVersion = mqttVersion == "5" ? .v5 : .v311
        if address.tls {
            guard let caFile else {
                throw AgentConfigurationError("mqtts:// needs a CA file (--ca-file or ca-file in [mqtt]), the CA that signed the broker's certificate")
            }
            mqtt.tls = TLSSettings(caFile: caFile, certificateFile: certFile, keyFile: keyFile)
        }
        if (certFile == nil) != (keyFile == nil) {
            throw AgentConfigurationError("a client certificate and its key go together (cert-file and key-file)")
        }
        if let keepAliveSeconds { mqtt.keepAliveSeconds = keepAliveSeconds }
        if let maximumInflight { mqtt.maximumInflight = maximumInflight }
        if let reconnectBase { mqtt.reconnect.baseSeconds = reconnectBase }
        if let reconnectCap { mqtt.reconnect.capSeconds = reconnectCap }

        var uplink = UplinkPolicy.standard
        uplink.metered = metered
        uplink.awsIoTCompatible = awsIoT
        if let maximumInflight { uplink.window = max(maximumInflight, 1) * 2 }
        if let telemetryBatchSeconds { uplink.classes[.telemetry]?.batchSeconds = telemetryBatchSeconds }

        return AgentConfiguration(
            vehicleID: vehicle, profile: loaded, canInterfaces: can, source: source,
            dataDirectory: dataDirectory ?? Self.defaultDataDirectory(),
            outboxCapBytes: outboxCapBytes ?? AgentConfiguration.defaultOutboxCapBytes, mqtt: mqtt,
            topicPrefix: topicPrefix, uplink: uplink, payloadFormat: format, exitWhenDrained: exitWhenDrained,
            logLevel: level, controlSocketPath: controlSocket ?? Self.defaultControlSocket(),
            controlSocketGroup: controlGroup, commands: commands)
    }

    public static func payloadFormat(_ text: String) -> PayloadFormat? {
        switch text {
        case "protobuf-zstd": .protobufZstd
        case "protobuf": .protobuf
        case "json": .json
        default: nil
        }
    }

    /// `$STATE_DIRECTORY` under systemd (StateDirectory=axle), else /var/lib/axle.
    static func defaultDataDirectory() -> String {
        if let state = getenv("STATE_DIRECTORY") { return String(cString: state) }
        return "/var/lib/axle"
    }

    /// `$RUNTIME_DIRECTORY/axled.sock` under systemd (RuntimeDirectory=axle), else /run/axle/axled.sock.
    static func defaultControlSocket() -> String {
        if let runtime = getenv("RUNTIME_DIRECTORY") { return String(cString: runtime) + "/axled.sock" }
        return "/run/axle/axled.sock"
    }

    /// Paths in a configuration file are relative to the file's folder.
    static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[..<slash]) + "/" + path
    }

    static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let name = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        return name.isEmpty ? "vehicle" : name
    }
}
