import AxleBase
import ConfigBundle
import FirmwareProfile
import MQTTUplink
import Outbox
import RemoteCommands
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
    /// gpsd's address, over the profile's `[location] gpsd` (`HOST:PORT`).
    public var gpsd: String?
    /// `[commands]`: trust keys (paths resolved against the configuration file), revocations, limits.
    public var commands = CommandSettings()
    /// `[configuration]`, `--config-key` and `--config-trial`: configuration keys (paths resolved against the
    /// configuration file), the trial and the command allow-list. The CAN ids and services of the allow-list are in
    /// `allowWriteIDs` and `allowDiagnosticServices` until `resolve()` has checked them.
    public var configurationUpdates = ConfigurationUpdateSettings()
    /// `[configuration] allow-write-ids` as written: integers, each checked by `resolve()`.
    public var allowWriteIDs: [Int64]?
    /// `[configuration] allow-diagnostic-services` as written: integers, each checked by `resolve()`.
    public var allowDiagnosticServices: [Int64]?
    /// Where the frames come from: flags only (`--simulate`, `--replay`); SocketCAN otherwise.
    public var source: FrameSourceKind = .socketCAN
    public var exitWhenDrained = false

    /// Where each setting was given and how it was written there, so that a refused value is reported at its place:
    /// `file:line` and the key for the configuration file, the flag for the command line. Keyed by the configuration
    /// file's name of the setting (`max-inflight`); `can.<bus>` for `[can]` entries, `trust-keys:<path>` for each
    /// trust key file, `config-keys:<path>` for each configuration key file, `allow-write-ids:<index>` and
    /// `allow-diagnostic-services:<index>` for each number of the allow-list. A setting left at its default has none.
    public var sources: [String: SettingSource] = [:]

    public init() {}

    /// Records that `key` was set by the command-line flag `flag`; `written` is the value as messages show it (a
    /// number as it is, text through `UntrustedText.quoted`).
    public mutating func noteFlag(_ flag: String, for key: String, written: String) {
        sources[key] = SettingSource(place: flag, name: flag, written: written)
    }

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
        noteSources(of: root, section: nil, path: path)
        if let value = root.string("vehicle-id") { vehicleID = value }
        if let value = root.string("profile") { profile = Self.resolve(value, relativeTo: path) }
        if let value = root.string("data-dir") { dataDirectory = value }
        if let value = root.string("log-level") { logLevel = value }
        if let table = root.table("can") {
            noteSources(of: table, section: "can", path: path, keyPrefix: "can.")
            for key in table.keys {
                if let interface = table.string(key) { can[key] = interface }
            }
            table.finish()
        }
        if let mqtt = root.table("mqtt") {
            noteSources(of: mqtt, section: "mqtt", path: path)
            if let value = mqtt.string("broker") { broker = value }
            if let value = mqtt.string("version") { mqttVersion = value }
            if let value = mqtt.string("client-id") { clientID = value }
            if let value = mqtt.string("ca-file") { caFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("cert-file") { certFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("key-file") { keyFile = Self.resolve(value, relativeTo: path) }
            if let value = mqtt.string("topic-prefix") { topicPrefix = value }
            if let value = mqtt.duration("keepalive") {
                // Whole seconds on the wire; the range is checked in `resolve()` with the other settings.
                keepAliveSeconds = value < 1e9 ? Int(value.rounded()) : Int.max
            }
            if let value = mqtt.int("max-inflight") { maximumInflight = value }
            if let value = mqtt.duration("reconnect-base") { reconnectBase = value }
            if let value = mqtt.duration("reconnect-cap") { reconnectCap = value }
            mqtt.finish()
        }
        if let outbox = root.table("outbox") {
            noteSources(of: outbox, section: "outbox", path: path)
            if let value = outbox.byteSize("cap") { outboxCapBytes = value }
            outbox.finish()
        }
        if let uplink = root.table("uplink") {
            noteSources(of: uplink, section: "uplink", path: path)
            if let value = uplink.duration("telemetry-batch") { telemetryBatchSeconds = value }
            if let value = uplink.bool("metered") { metered = value }
            if let value = uplink.bool("aws-iot") { awsIoT = value }
            if let value = uplink.string("payload-format") { payloadFormat = value }
            uplink.finish()
        }
        if let control = root.table("control") {
            noteSources(of: control, section: "control", path: path)
            if let value = control.string("socket") { controlSocket = value }
            if let value = control.string("group") { controlGroup = value }
            control.finish()
        }
        if let location = root.table("location") {
            noteSources(of: location, section: "location", path: path)
            if let value = location.string("gpsd") { gpsd = value }
            location.finish()
        }
        if let commands = root.table("commands") {
            noteSources(of: commands, section: "commands", path: path)
            if let value = commands.stringArray("trust-keys") {
                let lines = commands.value("trust-keys")?.arrayValue?.map(\.line) ?? []
                for (index, file) in value.enumerated() {
                    let resolved = Self.resolve(file, relativeTo: path)
                    self.commands.trustKeyFiles.append(resolved)
                    // Each file its own line: an array of keys may span several.
                    sources["trust-keys:\(resolved)"] = SettingSource(
                        place: "\(path):\(index < lines.count ? lines[index] : commands.line(of: "trust-keys"))",
                        name: "[commands] trust-keys", written: UntrustedText.quoted(file))
                }
            }
            if let value = commands.stringArray("revoked-keys") { self.commands.revokedKeyIDs += value }
            if let value = commands.duration("max-lifetime") { self.commands.maximumLifetimeSeconds = value }
            if let value = commands.double("rate-limit") { self.commands.ratePerSecond = value }
            if let value = commands.int("burst") { self.commands.burst = value }
            commands.finish()
        }
        if let configuration = root.table("configuration") {
            noteSources(of: configuration, section: "configuration", path: path)
            applyConfigurationUpdates(configuration, path: path)
            configuration.finish()
        }
        root.finish()
        if !problems.errors.isEmpty {
            throw AgentConfigurationError(problems.errors.map(\.description).joined(separator: "\n"))
        }
    }

    /// `[configuration]` (docs/axled.md): each key file and each number noted at its own line, since an array may
    /// span several.
    private mutating func applyConfigurationUpdates(_ table: TOMLTableReader, path: String) {
        if let files = table.stringArray("keys") {
            let lines = table.value("keys")?.arrayValue?.map(\.line) ?? []
            for (index, file) in files.enumerated() {
                let resolved = Self.resolve(file, relativeTo: path)
                configurationUpdates.keyFiles.append(resolved)
                sources["config-keys:\(resolved)"] = SettingSource(
                    place: "\(path):\(index < lines.count ? lines[index] : table.line(of: "keys"))",
                    name: "[configuration] keys", written: UntrustedText.quoted(file))
            }
        }
        if let value = table.duration("trial") { configurationUpdates.trialSeconds = value }
        if let value = table.stringArray("allow-commands") { configurationUpdates.allowedCommands = value }
        allowWriteIDs = integers(table, "allow-write-ids", path: path) ?? allowWriteIDs
        allowDiagnosticServices = integers(table, "allow-diagnostic-services", path: path) ?? allowDiagnosticServices
    }

    /// An array of TOML integers (`0x3F1` or `1009`), each noted as `key:<index>` at its line; an element that is not
    /// an integer is reported there.
    private mutating func integers(_ table: TOMLTableReader, _ key: String, path: String) -> [Int64]? {
        guard let value = table.value(key) else { return nil }
        guard let elements = value.arrayValue else {
            table.error("'\(key)' in [configuration] must be an array of integers, such as [0x200, 0x201], found \(value.foundDescription)", line: value.line)
            return nil
        }
        var numbers: [Int64] = []
        for (index, element) in elements.enumerated() {
            guard let number = element.integerValue else {
                table.error("element \(index + 1) of '\(key)' in [configuration] must be an integer, such as 0x22, found \(element.foundDescription)", line: element.line)
                continue
            }
            sources["\(key):\(index)"] = SettingSource(
                place: "\(path):\(element.line)", name: "[configuration] \(key)", written: Self.hex(number))
            numbers.append(number)
        }
        return numbers.count == elements.count ? numbers : nil
    }

    /// A number as messages show it: hexadecimal, as CAN ids and service ids are written.
    static func hex(_ number: Int64) -> String {
        number < 0 ? "-0x" + String(number.magnitude, radix: 16, uppercase: true) : "0x" + String(number, radix: 16, uppercase: true)
    }

    /// Remembers the line and the written value of every key of `reader`'s table.
    private mutating func noteSources(of reader: TOMLTableReader, section: String?, path: String, keyPrefix: String = "") {
        for entry in reader.table.entries {
            let name = section.map { "[\($0)] \(entry.key)" } ?? entry.key
            sources[keyPrefix + entry.key] = SettingSource(
                place: "\(path):\(entry.value.line)", name: name, written: Self.written(entry.value))
        }
    }

    /// A value as the file writes it, for messages: strings quoted, escaped and cut short (UntrustedText).
    static func written(_ value: TOMLValue) -> String {
        switch value.kind {
        case .string(let text): UntrustedText.quoted(text)
        case .integer(let number): "\(number)"
        case .float(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        default: UntrustedText.printable(value.foundDescription)
        }
    }

    /// The message for a refused setting: where it was given and how it was written, then `why` (which says what
    /// is allowed). A setting nobody gave is named by its key.
    func problem(_ key: String, _ why: String) -> String {
        guard let source = sources[key] else { return "axled: error: \(key) \(why)" }
        return source.message(why)
    }

    /// Checks every setting and loads the profile. Every refused setting is reported (with its place), not only
    /// the first.
    public func resolve() throws(AgentConfigurationError) -> AgentConfiguration {
        var problems: [String] = []

        let vehicle = vehicleID ?? Self.hostName()
        if let why = UplinkTopics.vehicleIDProblem(vehicle) {
            if vehicleID == nil {
                problems.append(
                    "axled: error: the host name \(UntrustedText.quoted(vehicle)), the default vehicle id, \(why); "
                        + "give --vehicle-id or vehicle-id in the configuration file")
            } else {
                problems.append(problem("vehicle-id", why))
            }
        }
        let prefix = topicPrefix.hasSuffix("/") ? String(topicPrefix.dropLast()) : topicPrefix
        if let why = UplinkTopics.prefixProblem(prefix) { problems.append(problem("topic-prefix", why)) }
        if let dataDirectory, dataDirectory.isEmpty {
            problems.append(problem("data-dir", "is empty: give the folder that holds outbox.db"))
        }
        let level = LogLevel(name: logLevel)
        if level == nil { problems.append(problem("log-level", "is not a log level: give error, warning, notice, info or debug")) }
        let format = Self.payloadFormat(payloadFormat)
        if format == nil {
            problems.append(problem("payload-format", "is not a payload format: give protobuf-zstd, protobuf or json"))
        }
        if !["5", "3.1.1"].contains(mqttVersion) {
            problems.append(problem("version", "is not an MQTT version: give \"5\" or \"3.1.1\""))
        }
        if let clientID, clientID.isEmpty || clientID.utf8.count > 65535 || UntrustedText.printable(clientID) != clientID {
            problems.append(problem("client-id", "is not usable as an MQTT client id: give 1 to 65535 bytes without control characters"))
        }
        for (bus, interface) in can.sorted(by: { $0.key < $1.key }) where !Self.isInterfaceName(interface) {
            problems.append(problem("can.\(bus)", "is not a network interface name: give 1 to 15 bytes without '/', ':', spaces or control characters, such as \"can0\""))
        }

        var address: (host: String, port: Int, tls: Bool)?
        do {
            address = try MQTTConfiguration.brokerAddress(broker)
        } catch {
            problems.append(problem("broker", "is not a broker address: \(Self.brokerAddressReason(error, url: broker)); give mqtt://host:1883 or mqtts://host:8883 (port 1 to 65535)"))
        }
        if let keepAliveSeconds, !(5...65535).contains(keepAliveSeconds) {
            problems.append(problem("keepalive", "is outside what MQTT allows: give 5s to 65535s (about 18h)"))
        }
        if let maximumInflight, !(1...65535).contains(maximumInflight) {
            problems.append(problem("max-inflight", "is outside 1 to 65535: it counts the publishes that may wait for an acknowledgement at once (default 20)"))
        }
        if let reconnectBase, !(reconnectBase > 0 && reconnectBase <= 3600) {
            problems.append(problem("reconnect-base", "must be a duration above 0 and at most 1h (default 0.5s): the first reconnect waits up to this long"))
        }
        if let reconnectCap, !(reconnectCap > 0 && reconnectCap <= 86_400) {
            problems.append(problem("reconnect-cap", "must be a duration above 0 and at most 1d (default 60s): no reconnect waits longer"))
        } else if let reconnectCap, reconnectCap < (reconnectBase ?? BackoffPolicy().baseSeconds) {
            problems.append(problem("reconnect-cap", "is shorter than reconnect-base (\(reconnectBase ?? BackoffPolicy().baseSeconds) s): the cap must be at least the base"))
        }
        if let outboxCapBytes, outboxCapBytes < OutboxConfiguration.minimumCapBytes {
            let flagHint = sources["cap"]?.isFlag == true ? " (1 with --outbox-cap, which counts MiB)" : ""
            problems.append(problem("cap", "is below the smallest outbox, \(OutboxConfiguration.minimumCapBytes >> 10) KiB\(flagHint), which holds the schema and a few records; the default is \(AgentConfiguration.defaultOutboxCapBytes >> 20) MiB"))
        }
        if let telemetryBatchSeconds, !(telemetryBatchSeconds > 0 && telemetryBatchSeconds <= 3600) {
            problems.append(problem("telemetry-batch", "must be a duration above 0 and at most 1h (default 5s): the telemetry one record holds"))
        }
        if let controlSocket, controlSocket.isEmpty || controlSocket.utf8.count > 107 {
            // sun_path holds 108 bytes including the terminating NUL.
            problems.append(problem("socket", "is not usable as a Unix socket path: give 1 to 107 bytes"))
        }
        if controlGroup.isEmpty {
            problems.append(problem("group", "is empty: give the group allowed read-only requests, such as \"axle\""))
        }
        if !(commands.maximumLifetimeSeconds > 0) {
            problems.append(problem("max-lifetime", "must be longer than 0 (default 5m): the furthest a command's expires_at may lie ahead"))
        }
        if !(commands.ratePerSecond > 0 && commands.ratePerSecond.isFinite) {
            problems.append(problem("rate-limit", "must be above 0 (commands per second, default 2)"))
        }
        var gpsdAddress: GPSDAddress?
        if let gpsd {
            if let address = LocationSource.address(gpsd) {
                gpsdAddress = GPSDAddress(host: address.host, port: address.port)
            } else {
                problems.append(problem("gpsd", "is not an address: give HOST:PORT with a port from 1 to 65535, such as 127.0.0.1:2947 (gpsd's default)"))
            }
        }
        if commands.burst < 1 { problems.append(problem("burst", "must be at least 1 (commands at once, default 10)")) }
        for keyID in commands.revokedKeyIDs where keyID.isEmpty || UntrustedText.printable(keyID) != keyID {
            problems.append(problem("revoked-keys", "holds \(UntrustedText.quoted(keyID)), which is not a key id: give ids as 'axle-fleet keygen' prints them"))
        }
        /// Key id → the file that trusts it for commands, to refuse the same id in the configuration role.
        var commandKeyFiles: [String: String] = [:]
        for file in commands.trustKeyFiles {
            // Read here as well as when the command service starts, so that a missing, unreadable or loose key file
            // is reported at the place that names it, before anything else starts.
            do {
                commandKeyFiles[try CommandPublicKey(contentsOfFile: file).keyID] = file
            } catch {
                problems.append(problem("trust-keys:\(file)", "cannot be used as a trust key: \(UntrustedText.printable(error.description))"))
            }
        }
        let updates = checkedConfigurationUpdates(commandKeyFiles: commandKeyFiles, problems: &problems)

        for (key, file) in [("ca-file", caFile), ("cert-file", certFile), ("key-file", keyFile)] {
            // Checked here so that the message names the setting; the MQTT client would only name the file.
            if let file, access(file, R_OK) != 0 {
                problems.append(problem(key, "cannot be read: \(SystemError.text(errno: errno)) (check the path and its permissions)"))
            } else if let file, key == "key-file" {
                // The vehicle's TLS identity: a key others can read is refused as ssh refuses one.
                do {
                    _ = try KeyFileAccess.read(path: file, kind: .secret)
                } catch {
                    problems.append(problem(key, "cannot be used as a TLS client key: \(UntrustedText.printable(error.description))"))
                }
            }
        }
        if let address, address.tls, caFile == nil {
            problems.append(problem("broker", "uses TLS and needs a CA file (--ca-file or ca-file in [mqtt]): the CA that signed the broker's certificate"))
        }
        if let address, !address.tls {
            // TLS files with a plaintext address are a mistake, not a preference: the agent would send everything,
            // commands included, in the clear while the operator believes the link is protected.
            let brokerPlace = sources["broker"].map { $0.isFlag ? $0.place : "\($0.name) at \($0.place)" } ?? "the default broker address"
            let tlsAddress = "mqtts://\(address.host):\(address.port == 1883 ? 8883 : address.port)"
            for (key, file) in [("ca-file", caFile), ("cert-file", certFile), ("key-file", keyFile)] where file != nil {
                problems.append(problem(key, "is a TLS file, but the broker address \(UntrustedText.quoted(broker)) (\(brokerPlace)) is plaintext mqtt://: the connection would not use TLS. Write the broker as \(tlsAddress), or remove the TLS files"))
            }
        }
        if (certFile == nil) != (keyFile == nil) {
            problems.append(problem(certFile == nil ? "key-file" : "cert-file", "needs its partner: a client certificate and its key go together (cert-file and key-file, or neither)"))
        }
        if !problems.isEmpty { throw AgentConfigurationError(problems.joined(separator: "\n")) }

        guard let profilePath = profile else {
            throw AgentConfigurationError("axled: error: no firmware profile: give --profile DIR or 'profile = \"DIR\"' in the configuration file")
        }
        let loaded: FirmwareProfile
        do {
            loaded = try ProfileLoader.load(directory: profilePath)
        } catch {
            throw AgentConfigurationError(problem("profile", "is not a usable firmware profile (run 'axle profile validate \(profilePath)'):\n\(error)"))
        }
        for bus in can.keys.sorted() where loaded.bus(named: bus) == nil {
            let known = loaded.buses.map(\.name).joined(separator: ", ")
            problems.append(problem("can.\(bus)", "names a bus the profile \(loaded.name) does not have; its buses: \(known)"))
        }
        if gpsd != nil, loaded.location == nil {
            problems.append(problem("gpsd", "is given, but the profile \(loaded.name) has no [location]: nothing would be read from gpsd (docs/location.md says how to add one)"))
        }
        if source == .socketCAN {
            let unmapped = loaded.buses.map(\.name).filter { can[$0] == nil }
            if !unmapped.isEmpty {
                problems.append("axled: error: no CAN interface for the bus\(unmapped.count > 1 ? "es" : "") \(unmapped.joined(separator: ", ")) of \(loaded.name): give --can \(unmapped[0])=can0 (or [can] in the configuration file), or run --simulate SCENARIO / --replay FILE")
            }
        }
        if !problems.isEmpty { throw AgentConfigurationError(problems.joined(separator: "\n")) }
        guard let address, let level, let format else {
            throw AgentConfigurationError("axled: error: a setting was refused without a message (a bug)")
        }

        var mqtt = MQTTConfiguration(host: address.host, port: address.port, clientID: clientID ?? "axled-\(vehicle)")
        mqtt.protocolVersion = mqttVersion == "5" ? .v5 : .v311
        if address.tls, let caFile {
            mqtt.tls = TLSSettings(caFile: caFile, certificateFile: certFile, keyFile: keyFile)
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
            controlSocketGroup: controlGroup, commands: commands, gpsd: gpsdAddress, configurationUpdates: updates)
    }

    /// `[configuration]` checked: the trial's range, each key file read (a missing, loose or command key is reported
    /// where it was named, and so is a key id also trusted for commands: a key has one role), and the allow-list's
    /// names and numbers.
    private func checkedConfigurationUpdates(
        commandKeyFiles: [String: String], problems: inout [String]
    ) -> ConfigurationUpdateSettings {
        var updates = configurationUpdates
        if !(updates.trialSeconds >= 1 && updates.trialSeconds <= 3600) {
            problems.append(problem("trial", "is not a duration from 1s to 1h (default 30s): how long a new configuration runs before its health check decides whether it stays"))
        }
        for file in updates.keyFiles {
            do {
                let key = try ConfigurationPublicKey(contentsOfFile: file)
                if let commandFile = commandKeyFiles[key.keyID] {
                    problems.append(problem("config-keys:\(file)", "holds the key id \(UntrustedText.quoted(key.keyID)), which is also trusted for remote commands by \(placeDescription("trust-keys:\(commandFile)")): a key has one role; give configurations a key of their own ('axle-fleet config keygen')"))
                }
            } catch {
                problems.append(problem("config-keys:\(file)", "cannot be used as a configuration key: \(UntrustedText.printable(error.description))"))
            }
        }
        for name in updates.allowedCommands ?? [] where name.isEmpty || UntrustedText.printable(name) != name {
            problems.append(problem("allow-commands", "holds \(UntrustedText.quoted(name)), which is not a command name: give names as the profile writes them in [commands.\"NAME\"] and [features.\"NAME\"], such as \"trunk.open\""))
        }
        if let written = allowWriteIDs {
            updates.allowedWriteIDs = written.enumerated().compactMap { index, number in
                guard let id = Self.writeID(number) else {
                    problems.append(problem("allow-write-ids:\(index)", "is not a CAN id: give 0x0 to 0x7FF for an 11-bit id, 0x800 to 0x1FFFFFFF for a 29-bit one, or a 29-bit id with bit 31 set as a DBC writes it"))
                    return nil
                }
                return id
            }
        }
        if let written = allowDiagnosticServices {
            updates.allowedDiagnosticServices = written.enumerated().compactMap { index, number in
                guard (0x01...0x3E).contains(number) || (0x80...0xBE).contains(number) else {
                    problems.append(problem("allow-diagnostic-services:\(index)", "is not a diagnostic request service: give 0x01 to 0x3E or 0x80 to 0xBE, such as 0x01 (OBD-II current data) or 0x22 (UDS ReadDataByIdentifier)"))
                    return nil
                }
                return UInt8(number)
            }
        }
        return updates
    }

    /// A CAN id of the allow-list as the DBC writes it: 11-bit ids as they are, 29-bit ids (above 0x7FF, or with bit 31
    /// set) with bit 31 set; nil when `number` is no CAN id.
    static func writeID(_ number: Int64) -> UInt32? {
        switch number {
        case 0...0x7FF: UInt32(number)
        case 0x800...0x1FFF_FFFF: UInt32(number) | 0x8000_0000
        case 0x8000_0000...0x9FFF_FFFF: UInt32(number)
        default: nil
        }
    }

    /// Where a setting was given, for a message about another one: "[commands] trust-keys at path:line" or
    /// "--trust-key "file"".
    func placeDescription(_ key: String) -> String {
        guard let source = sources[key] else { return key }
        return source.isFlag ? "\(source.name) \(source.written)" : "\(source.name) at \(source.place)"
    }

    /// What is wrong with the broker address `url`, without the address itself (the message shows it, escaped and
    /// cut short) and without MQTTConfiguration's example (the message gives its own).
    static func brokerAddressReason(_ error: any Error, url: String) -> String {
        var reason = Substring("\(error)")
        let prefix = "broker address '\(url)': "
        let suffix = " (expected mqtt://host:1883 or mqtts://host:8883)"
        if reason.hasPrefix(prefix) { reason = reason.dropFirst(prefix.count) }
        if reason.hasSuffix(suffix) { reason = reason.dropLast(suffix.count) }
        // The reason may quote part of the address (a port of a million digits): cut it short as well.
        return UntrustedText.printable(reason.count > 120 ? reason.prefix(120) + "…" : reason)
    }

    /// 1-15 bytes (IFNAMSIZ less the NUL) without the characters Linux refuses in interface names.
    static func isInterfaceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 15 && name != "." && name != ".."
            && !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) && UntrustedText.printable(name) == name
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

/// Where one setting was given and how it was written there.
public struct SettingSource: Sendable, Equatable {
    /// `path:line` in a configuration file, or the flag (`--max-inflight`).
    public var place: String
    /// How the setting is named there: `[mqtt] max-inflight`, `vehicle-id`, `--max-inflight`.
    public var name: String
    /// The value as written: strings quoted and escaped, cut after 64 characters (UntrustedText.quoted).
    public var written: String

    public init(place: String, name: String, written: String) {
        self.place = place
        self.name = name
        self.written = written
    }

    public var isFlag: Bool { place.hasPrefix("--") }

    /// `path:line: error: [mqtt] max-inflight = -5 is outside …`, or `--max-inflight: error: --max-inflight -5 is
    /// outside …`: the place first, as compilers write it, so that editors can jump there; `why` says what is allowed.
    public func message(_ why: String) -> String {
        isFlag ? "\(place): error: \(name) \(written) \(why)" : "\(place): error: \(name) = \(written) \(why)"
    }
}
