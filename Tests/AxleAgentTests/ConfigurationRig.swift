import AxleBase
import AxleTestSupport
import ConfigBundle

#if canImport(Glibc)
import Glibc
#endif

/// A vehicle (the real `axled` on the simulator) and a backend that pushes configuration bundles to it over a real
/// mosquitto, as `axle-fleet config push` does: the chunks and the desired message, retained (docs/configuration.md).
/// The bundles are made by the real `axle-fleet config sign`.
final class ConfigurationRig {
    static let fleet = AxleProcess.builtExecutable("axle-fleet")
    static let demoProfile = AgentHarness.demoProfile

    let broker: MosquittoBroker
    let harness: AgentHarness
    let reports: MosquittoSubscriber
    var directory: String { harness.directory }
    var keyPrefix: String { directory + "/config-key" }
    var vehicleID: String { harness.vehicleID }

    init(vehicleID: String, broker: MosquittoBroker? = nil) throws {
        self.broker = try broker ?? MosquittoBroker()
        harness = try AgentHarness(vehicleID: vehicleID)
        reports = try MosquittoSubscriber(broker: self.broker, topics: ["axle/v1/\(vehicleID)/config/state"])
        let keygen = try ChildProcess.run(Self.fleet, ["config", "keygen", "--out", keyPrefix])
        guard keygen.status == 0 else { throw TestSupportError("config keygen: \(keygen.output)") }
    }

    func cleanUp() {
        reports.stop()
        harness.cleanUp()
    }

    /// A copy of the demo profile (its DBC and profile.toml; the sample log stays behind) in `v<version>/demo-sedan`,
    /// with `edit` applied to profile.toml, `extraFiles` (path → bytes) added, and with `movedIDs` every message of
    /// the DBC moved to another id.
    func profile(version: Int, extraFiles: [String: [UInt8]] = [:], movedIDs: Bool = false, edit: (String) -> String = { $0 }) throws -> String {
        let folder = directory + "/v\(version)/demo-sedan"
        try makeDirectories(folder)
        let toml = AxleProcess.readText(Self.demoProfile + "/profile.toml")
        try DurableFile.write(Array(edit(toml).utf8), to: folder + "/profile.toml")
        let dbc = AxleProcess.readText(Self.demoProfile + "/demo_sedan.dbc")
        try DurableFile.write(Array((movedIDs ? ConfigurationUpdateTests.movedIDs(dbc) : dbc).utf8), to: folder + "/demo_sedan.dbc")
        for (path, bytes) in extraFiles {
            if let slash = path.lastIndex(of: "/") { try makeDirectories(folder + "/" + path[..<slash]) }
            try DurableFile.write(bytes, to: folder + "/" + path)
        }
        return folder
    }

    /// Signs `profile` as version `version` with `axle-fleet config sign`, for the rig's vehicle (or, with
    /// `forEveryVehicle`, for all); returns the bundle's path.
    func sign(_ profile: String, version: Int, forEveryVehicle: Bool = false, arguments: [String] = []) throws -> String {
        let bundle = directory + "/v\(version)-\(UInt32.random(in: 0...UInt32.max)).axlecfg"
        let result = try ChildProcess.run(Self.fleet, [
            "config", "sign", "--key", keyPrefix + ".key", "--version", "\(version)", "--profile", profile, "--out", bundle,
        ] + (forEveryVehicle ? [] : ["--vehicle", vehicleID]) + arguments)
        guard result.status == 0 else { throw TestSupportError("config sign: \(result.output)") }
        return bundle
    }

    /// Publishes `bytes` as the backend does: each chunk retained on its topic (only `chunks` of them when given),
    /// then the desired message (unless `desired` is false). Returns the desired message. `topicsOf`: publish on the
    /// topics of that bundle instead (someone else's bytes on a genuine bundle's chunk topics).
    @discardableResult
    func push(
        _ bytes: [UInt8], version: Int, chunks: Range<Int>? = nil, desired publishDesired: Bool = true, topicsOf genuine: [UInt8]? = nil
    ) throws -> DesiredConfiguration {
        let desired = DesiredConfiguration(version: UInt64(version), bundle: genuine ?? bytes)
        for index in chunks ?? 0..<desired.chunks {
            let file = directory + "/chunk-\(desired.bundleSHA256.prefix(8))-\(index)"
            try DurableFile.write(Array(bytes[desired.range(ofChunk: index)]), to: file)
            try publishFile(topic: ConfigurationTopics.chunk(prefix: "axle/v1", bundleSHA256: desired.bundleSHA256, index: index), file: file)
        }
        if publishDesired {
            try broker.publish(
                topic: ConfigurationTopics(prefix: "axle/v1", vehicleID: vehicleID).desired,
                message: desired.json.rendered(), retain: true)
        }
        return desired
    }

    func push(bundle: String, version: Int) throws {
        try push(try FileInput.readAll(path: bundle), version: version)
    }

    private func publishFile(topic: String, file: String) throws {
        let result = try ChildProcess.run("/usr/bin/mosquitto_pub", [
            "-h", broker.host, "-p", "\(broker.port)", "-t", topic, "-f", file, "-q", "1", "-r", "-V", "mqttv5",
            "-i", "axle-test-chunks-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
        ], timeoutSeconds: 30)
        guard result.status == 0 else { throw TestSupportError("mosquitto_pub \(topic): \(result.output)") }
    }

    /// Starts the agent on the simulator, trusting the rig's configuration key, with a 1 s trial.
    func startAgent(run: Int = 0, scenario: String = "city-drive", environment: [String] = [], arguments: [String] = []) throws -> ChildProcess {
        try harness.start(broker: broker.url, run: run, environment: environment, [
            "--simulate", scenario, "--config-key", keyPrefix + ".pub", "--config-trial", "1s",
        ] + arguments)
    }

    /// Every configuration report received, in order.
    func receivedReports() -> [ConfigurationReport] {
        reports.messages().compactMap { message in
            guard let value = try? JSONValue.parse(String(decoding: message.payload, as: UTF8.self)) else { return nil }
            return try? ConfigurationReport.parse(value)
        }
    }

    /// Waits for a report about `version` in a final status; nil at the deadline.
    func finalReport(version: Int, timeoutSeconds: Double = 30) -> ConfigurationReport? {
        var found: ConfigurationReport?
        _ = waitUntil(timeoutSeconds: timeoutSeconds, pollSeconds: 0.05) {
            found = receivedReports().last { $0.last?.version == UInt64(version) && $0.last?.status.isFinal == true }
            return found != nil
        }
        return found
    }

    /// The rule names the running agent collects with (`axle rules --json`).
    func ruleNames() -> [String] {
        guard let output = try? AxleProcess.run(["rules", "--socket", harness.controlSocket, "--json"]).stdout,
            let rules = (try? JSONValue.parse(output))?["rules"]?.arrayValue
        else { return [] }
        return rules.compactMap { $0["name"]?.stringValue }
    }

    private func makeDirectories(_ path: some StringProtocol) throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw TestSupportError("mkdir \(prefix): \(errno)") }
        }
    }
}

/// A collection rule the installed demo profile does not have, added by a pushed version.
let addedRule = """

    [[rules]]
    name = "pushed-speed"
    signals = ["Vehicle.Speed"]
    periodic = "2s"

    """
