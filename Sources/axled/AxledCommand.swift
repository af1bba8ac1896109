import ArgumentParser
import AxleAgent
import AxleBase
import MQTTUplink
import Outbox
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// `axled`: the in-vehicle agent. Flags only for now; the configuration file arrives with the agent issue.
struct AxledCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "axled",
        abstract: "The Axle in-vehicle gateway agent: CAN → decoded telemetry → durable outbox → MQTT.",
        discussion: """
            Frames come from the in-process simulated vehicle (--simulate) or a candump log (--replay). Every decoded \
            signal is recorded into telemetry batches, kept in an SQLite outbox under --data-dir until the broker \
            has acknowledged them, and published under TOPIC-PREFIX/VEHICLE/… (docs/mqtt.md, docs/outbox.md).
            """,
        version: "axled \(AxleVersion.current)"
    )

    @Option(help: ArgumentHelp("The firmware profile folder (its DBC file and name).", valueName: "dir"))
    var profile: String = "Firmware-Profiles/demo-sedan"

    @Option(name: .customLong("vehicle-id"), help: ArgumentHelp("This vehicle's id, one MQTT topic level (default: the host name).", valueName: "id"))
    var vehicleID: String?

    @Option(help: ArgumentHelp("The broker: mqtt://host:port or mqtts://host:port.", valueName: "url"))
    var broker: String = "mqtt://127.0.0.1:1883"

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the outbox lives (default: $STATE_DIRECTORY, else /var/lib/axle).", valueName: "dir"))
    var dataDirectory: String?

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

    @Option(name: .customLong("topic-prefix"), help: "Topic prefix before the vehicle id.")
    var topicPrefix: String = "axle/v1"

    @Option(name: .customLong("mqtt-version"), help: "MQTT protocol: 5 or 3.1.1.")
    var mqttVersion: String = "5"

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("CA certificate that signed the broker's (mqtts://).", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("cert-file"), help: ArgumentHelp("This vehicle's client certificate (mutual TLS).", valueName: "file"))
    var certFile: String?

    @Option(name: .customLong("key-file"), help: ArgumentHelp("The client certificate's private key.", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("client-id"), help: "MQTT client id (default: axled-VEHICLE).")
    var clientID: String?

    @Option(name: .customLong("outbox-cap"), help: ArgumentHelp("Largest outbox size on disk, in MiB.", valueName: "MiB"))
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
    var payloadFormat: String = "protobuf-zstd"

    @Option(name: .customLong("log-level"), help: "error, warning, notice, info or debug.")
    var logLevel: String = "info"

    func validate() throws {
        if simulate != nil, replay != nil { throw ValidationError("give --simulate or --replay, not both") }
        for (name, value) in [("--simulate-speed", simulateSpeed), ("--replay-speed", replaySpeed)] where Self.speed(value) == .invalid {
            throw ValidationError("\(name) takes a positive factor such as 1 or 10, or 'max'")
        }
        if !["5", "3.1.1"].contains(mqttVersion) { throw ValidationError("--mqtt-version takes 5 or 3.1.1") }
        if LogLevel(name: logLevel) == nil { throw ValidationError("--log-level takes error, warning, notice, info or debug") }
        if Self.format(payloadFormat) == nil { throw ValidationError("--payload-format takes protobuf-zstd, protobuf or json") }
        if (certFile == nil) != (keyFile == nil) { throw ValidationError("--cert-file and --key-file go together") }
    }

    func run() throws {
        let configuration = try makeConfiguration()
        let status = Agent.run(configuration)
        if status != 0 { throw ExitCode(status) }
    }

    func makeConfiguration() throws -> AgentConfiguration {
        let address: (host: String, port: Int, tls: Bool)
        do {
            address = try MQTTConfiguration.brokerAddress(broker)
        } catch {
            throw ValidationError("\(error)")
        }
        let vehicle = vehicleID ?? Self.hostName()
        var mqtt = MQTTConfiguration(host: address.host, port: address.port, clientID: clientID ?? "axled-\(vehicle)")
        mqtt.protocolVersion = mqttVersion == "5" ? .v5 : .v311
        if address.tls {
            guard let caFile else { throw ValidationError("mqtts:// needs --ca-file, the CA that signed the broker's certificate") }
            mqtt.tls = TLSSettings(caFile: caFile, certificateFile: certFile, keyFile: keyFile)
        }
        if let maximumInflight { mqtt.maximumInflight = maximumInflight }
        if let reconnectBase { mqtt.reconnect.baseSeconds = reconnectBase }
        if let reconnectCap { mqtt.reconnect.capSeconds = reconnectCap }

        var uplink = UplinkPolicy.standard
        uplink.metered = metered
        uplink.awsIoTCompatible = awsIoT
        if let maximumInflight { uplink.window = max(maximumInflight, 1) * 2 }
        if let telemetryBatchSeconds { uplink.classes[.telemetry]?.batchSeconds = telemetryBatchSeconds }

        let source: FrameSourceKind
        if let replay {
            source = .replay(path: replay, speed: Self.speed(replaySpeed).factor)
        } else {
            source = .simulate(scenario: simulate ?? "city-drive", speed: Self.speed(simulateSpeed).factor, duration: simulateDuration)
        }
        let profileFolder = profile.hasSuffix("/") ? String(profile.dropLast()) : profile
        let profileName = String(profileFolder.split(separator: "/").last ?? "profile")
        return AgentConfiguration(
            vehicleID: vehicle, profileName: profileName, dbcPath: try Self.dbcFile(in: profileFolder), source: source,
            dataDirectory: dataDirectory ?? Self.defaultDataDirectory(),
            outboxCapBytes: outboxCapMiB.map { $0 << 20 } ?? AgentConfiguration.defaultOutboxCapBytes, mqtt: mqtt,
            topicPrefix: topicPrefix, uplink: uplink, payloadFormat: Self.format(payloadFormat)!,
            exitWhenDrained: exitWhenDrained, logLevel: LogLevel(name: logLevel)!)
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

    static func format(_ text: String) -> PayloadFormat? {
        switch text {
        case "protobuf-zstd": .protobufZstd
        case "protobuf": .protobuf
        case "json": .json
        default: nil
        }
    }

    /// The profile's DBC: the one `.dbc` file in the folder (profiles with several buses arrive with the profile file).
    static func dbcFile(in folder: String) throws -> String {
        guard let directory = opendir(folder) else {
            throw ValidationError("cannot open the profile folder \(folder): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var found: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".dbc") { found.append(folder + "/" + name) }
        }
        guard found.count == 1 else {
            throw ValidationError("the profile folder \(folder) must hold exactly one .dbc file (found \(found.count))")
        }
        return found[0]
    }

    static func defaultDataDirectory() -> String {
        if let state = getenv("STATE_DIRECTORY") { return String(cString: state) }
        return "/var/lib/axle"
    }

    static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let name = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        return name.isEmpty ? "vehicle" : name
    }
}
