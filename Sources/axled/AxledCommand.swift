import ArgumentParser
import AxleAgent
import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// `axled`: the in-vehicle agent. Settings come from the configuration file, then these flags (docs/axled.md).
struct AxledCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "axled",
        abstract: "The Axle in-vehicle gateway agent: CAN → decoded telemetry → durable outbox → MQTT.",
        discussion: """
            Frames come from the vehicle's CAN buses (--can LOGICAL=IFACE), the in-process simulated vehicle \
            (--simulate) or a candump log (--replay). The firmware profile's collection rules turn decoded signals \
            into telemetry and events, kept in an SQLite outbox under --data-dir until the broker has acknowledged \
            them, and published under TOPIC-PREFIX/VEHICLE/… (docs/mqtt.md). Settings: /etc/axle/axled.toml if it \
            exists (or --config FILE), then the flags below; every setting and default is in docs/axled.md.
            Exit codes: 0 stopped cleanly (SIGTERM, SIGINT, or drained with --exit-when-drained); 1 a setting, the \
            profile or the outbox is unusable (the message says which and where); 64 the command line is wrong.
            """,
        version: "axled \(AxleVersion.current)"
    )

    @Option(help: ArgumentHelp("Configuration file (default: /etc/axle/axled.toml when it exists).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The firmware profile folder (profile.toml and its DBC files).", valueName: "dir"))
    var profile: String?

    @Option(name: .customLong("vehicle-id"), help: ArgumentHelp("This vehicle's id, one MQTT topic level (default: the host name).", valueName: "id"))
    var vehicleID: String?

    @Option(help: ArgumentHelp("The broker: mqtt://host:port or mqtts://host:port (default mqtt://127.0.0.1:1883).", valueName: "url"))
    var broker: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the outbox lives (default: $STATE_DIRECTORY, else /var/lib/axle).", valueName: "dir"))
    var dataDirectory: String?

    @Option(name: .customLong("can"), help: ArgumentHelp("Map a logical bus of the profile to a CAN interface (repeatable).", valueName: "logical=iface"))
    var can: [String] = []

    @Option(help: ArgumentHelp("Run the in-process simulated vehicle with this scenario (city-drive, highway, …).", valueName: "scenario"))
    var simulate: String?

    @Option(name: .customLong("simulate-speed"), help: "Simulation speed: a factor such as 1 or 10, or 'max'.")
    var simulateSpeed: String = "1"

    @Option(name: .customLong("simulate-duration"), help: ArgumentHelp("Seconds of simulated driving (default: until stopped).", valueName: "seconds"))
    var simulateDuration: Double?

    @Option(help: ArgumentHelp("Replay a candump log instead of reading CAN.", valueName: "file"))
    var replay: String?

    @Option(name: .customLong("replay-speed"), help: "Replay speed: a factor such as 1 or 10, or 'max'.")
    var replaySpeed: String = "1"

    @Flag(name: .customLong("exit-when-drained"), help: "Exit once the source has ended and every record is acknowledged.")
    var exitWhenDrained = false

    @Option(name: .customLong("trust-key"), help: ArgumentHelp("A backend public key allowed to sign remote commands (repeatable).", valueName: "file"))
    var trustKeys: [String] = []

    @Option(name: .customLong("revoked-key"), help: ArgumentHelp("A key id no longer trusted for remote commands (repeatable).", valueName: "key-id"))
    var revokedKeys: [String] = []

    @Option(name: .customLong("config-key"), help: ArgumentHelp("A backend public key allowed to sign configuration bundles (repeatable).", valueName: "file"))
    var configKeys: [String] = []

    @Option(name: .customLong("config-trial"), help: ArgumentHelp("How long a new configuration runs on trial, 1s to 1h (default 30s).", valueName: "duration"))
    var configTrial: String?

    @Option(name: .customLong("command-rate-limit"), help: ArgumentHelp("Remote commands per second before 'rate_limited' (default 2, bursts of 10).", valueName: "n"))
    var commandRateLimit: Double?

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The control socket for 'axle' (default: $RUNTIME_DIRECTORY/axled.sock, else /run/axle/axled.sock).", valueName: "path"))
    var controlSocket: String?

    @Option(name: .customLong("topic-prefix"), help: "Topic prefix before the vehicle id (default axle/v1).")
    var topicPrefix: String?

    @Option(name: .customLong("mqtt-version"), help: "MQTT protocol: 5 (default) or 3.1.1.")
    var mqttVersion: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("CA certificate that signed the broker's (mqtts://).", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("cert-file"), help: ArgumentHelp("This vehicle's client certificate (mutual TLS).", valueName: "file"))
    var certFile: String?

    @Option(name: .customLong("key-file"), help: ArgumentHelp("The client certificate's private key.", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("client-id"), help: "MQTT client id (default: axled-VEHICLE).")
    var clientID: String?

    @Option(name: .customLong("outbox-cap"), help: ArgumentHelp("Largest outbox size on disk, in MiB (default 256).", valueName: "MiB"))
    var outboxCapMiB: Int64?

    @Option(name: .customLong("telemetry-batch"), help: ArgumentHelp("Seconds of telemetry per record (default 5).", valueName: "seconds"))
    var telemetryBatchSeconds: Double?

    @Option(name: .customLong("max-inflight"), help: "Records in flight without an acknowledgement (window).")
    var maximumInflight: Int?

    @Option(name: .customLong("reconnect-base"), help: ArgumentHelp("Reconnect backoff base (full jitter).", valueName: "seconds"))
    var reconnectBase: Double?

    @Option(name: .customLong("reconnect-cap"), help: ArgumentHelp("Reconnect backoff cap.", valueName: "seconds"))
    var reconnectCap: Double?

    @Flag(help: "Metered link: send only critical and alert records.")
    var metered = false

    @Flag(name: .customLong("aws-iot"), help: "AWS IoT Core compatible: QoS ≤ 1, payloads ≤ 128 KiB (split).")
    var awsIoT = false

    @Option(name: .customLong("payload-format"), help: "Telemetry payload: protobuf-zstd (default), protobuf or json (debugging).")
    var payloadFormat: String?

    @Option(help: ArgumentHelp("gpsd's address, over the profile's [location] gpsd.", valueName: "host:port"))
    var gpsd: String?

    @Option(name: .customLong("log-level"), help: "error, warning, notice, info (default) or debug.")
    var logLevel: String?

    func validate() throws {
        if simulate != nil, replay != nil { throw ValidationError("give --simulate or --replay, not both") }
        for (name, value) in [("--simulate-speed", simulateSpeed), ("--replay-speed", replaySpeed)] where Self.speed(value) == .invalid {
            throw ValidationError("\(name) takes a positive factor such as 1 or 10, or 'max'")
        }
        for mapping in can where Self.busMapping(mapping) == nil {
            throw ValidationError("--can takes LOGICAL=IFACE, such as body=can0, not '\(mapping)'")
        }
    }

    func run() throws {
        let configuration: AgentConfiguration
        do {
            configuration = try makeSettings().resolve()
        } catch {
            // One log record per problem: every refused setting is reported, each with its own place.
            let log = AgentLog(level: .error)
            for line in error.description.split(separator: "\n") { log(.error, "axled", String(line)) }
            throw ExitCode(1)
        }
        let status = Agent.run(configuration)
        if status != 0 { throw ExitCode(status) }
    }

    /// The configuration file's settings with the flags given on the command line laid over them.
    func makeSettings() throws(AgentConfigurationError) -> AgentSettings {
        var settings = AgentSettings()
        if let config {
            try settings.apply(configFile: config)
        } else if access(AgentSettings.defaultConfigPath, F_OK) == 0 {
            try settings.apply(configFile: AgentSettings.defaultConfigPath)
        }
        // Each flag is laid over the file's value and noted, so that a refused one is reported by the flag's name.
        func text(_ value: String) -> String { UntrustedText.quoted(value) }
        func shown(_ value: some Any) -> String { (value as? String).map(text) ?? "\(value)" }
        func lay<Value>(_ flag: String, _ value: Value?, _ keyPath: WritableKeyPath<AgentSettings, Value>, key: String) {
            guard let value else { return }
            settings[keyPath: keyPath] = value
            settings.noteFlag(flag, for: key, written: shown(value))
        }
        func layOptional<Value>(_ flag: String, _ value: Value?, _ keyPath: WritableKeyPath<AgentSettings, Value?>, key: String) {
            guard let value else { return }
            settings[keyPath: keyPath] = value
            settings.noteFlag(flag, for: key, written: shown(value))
        }
        if let profile {
            settings.profile = profile.hasSuffix("/") ? String(profile.dropLast()) : profile
            settings.noteFlag("--profile", for: "profile", written: text(profile))
        }
        layOptional("--vehicle-id", vehicleID, \.vehicleID, key: "vehicle-id")
        lay("--broker", broker, \.broker, key: "broker")
        layOptional("--data-dir", dataDirectory, \.dataDirectory, key: "data-dir")
        for mapping in can {
            if let (bus, interface) = Self.busMapping(mapping) {
                settings.can[bus] = interface
                settings.noteFlag("--can", for: "can.\(bus)", written: text(mapping))
            }
        }
        if let replay {
            settings.source = .replay(path: replay, speed: Self.speed(replaySpeed).factor)
        } else if let simulate {
            settings.source = .simulate(scenario: simulate, speed: Self.speed(simulateSpeed).factor, duration: simulateDuration)
        }
        if exitWhenDrained { settings.exitWhenDrained = true }
        for file in trustKeys {
            settings.commands.trustKeyFiles.append(file)
            settings.noteFlag("--trust-key", for: "trust-keys:\(file)", written: text(file))
        }
        if !revokedKeys.isEmpty {
            settings.commands.revokedKeyIDs += revokedKeys
            settings.noteFlag("--revoked-key", for: "revoked-keys", written: text(revokedKeys.joined(separator: " ")))
        }
        for file in configKeys {
            settings.configurationUpdates.keyFiles.append(file)
            settings.noteFlag("--config-key", for: "config-keys:\(file)", written: text(file))
        }
        if let configTrial {
            // A duration that does not read is kept as NaN, so that resolve() reports it by the flag with the others.
            settings.configurationUpdates.trialSeconds = DurationSyntax.seconds(in: configTrial, bareNumberIsSeconds: true) ?? .nan
            settings.noteFlag("--config-trial", for: "trial", written: text(configTrial))
        }
        if let commandRateLimit {
            settings.commands.ratePerSecond = commandRateLimit
            if commandRateLimit > 0, commandRateLimit < 1e9 {
                settings.commands.burst = max(settings.commands.burst, Int(commandRateLimit.rounded(.up)))
            }
            settings.noteFlag("--command-rate-limit", for: "rate-limit", written: "\(commandRateLimit)")
        }
        layOptional("--control-socket", controlSocket, \.controlSocket, key: "socket")
        lay("--topic-prefix", topicPrefix, \.topicPrefix, key: "topic-prefix")
        lay("--mqtt-version", mqttVersion, \.mqttVersion, key: "version")
        layOptional("--ca-file", caFile, \.caFile, key: "ca-file")
        layOptional("--cert-file", certFile, \.certFile, key: "cert-file")
        layOptional("--key-file", keyFile, \.keyFile, key: "key-file")
        layOptional("--client-id", clientID, \.clientID, key: "client-id")
        if let outboxCapMiB {
            // MiB to bytes without overflow: a cap past what Int64 holds is as good as no cap, and is kept huge.
            settings.outboxCapBytes = outboxCapMiB > Int64.max >> 20 ? Int64.max : outboxCapMiB << 20
            settings.noteFlag("--outbox-cap", for: "cap", written: "\(outboxCapMiB)")
        }
        layOptional("--telemetry-batch", telemetryBatchSeconds, \.telemetryBatchSeconds, key: "telemetry-batch")
        layOptional("--max-inflight", maximumInflight, \.maximumInflight, key: "max-inflight")
        layOptional("--reconnect-base", reconnectBase, \.reconnectBase, key: "reconnect-base")
        layOptional("--reconnect-cap", reconnectCap, \.reconnectCap, key: "reconnect-cap")
        if metered { settings.metered = true }
        if awsIoT { settings.awsIoT = true }
        lay("--payload-format", payloadFormat, \.payloadFormat, key: "payload-format")
        lay("--log-level", logLevel, \.logLevel, key: "log-level")
        layOptional("--gpsd", gpsd, \.gpsd, key: "gpsd")
        return settings
    }

    static func busMapping(_ text: String) -> (String, String)? {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }

    enum Speed: Equatable {
        case factor(Double?)
        case invalid
        var factor: Double? { if case .factor(let value) = self { value } else { nil } }
    }

    static func speed(_ text: String) -> Speed {
        if text == "max" { return .factor(nil) }
        guard let value = Double(text), value > 0, value.isFinite else { return .invalid }
        return .factor(value)
    }
}
