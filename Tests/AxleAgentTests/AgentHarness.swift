import AxleBase
import AxleTestSupport
import Outbox
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `axled` against a test broker, as a vehicle integrator would.
struct AgentHarness {
    static let axled = AxleProcess.builtExecutable("axled")
    static let demoProfile = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan"

    let directory: String
    let vehicleID: String
    var dataDirectory: String { directory + "/data" }
    var outboxPath: String { dataDirectory + "/outbox.db" }
    /// Each agent its own control socket: tests run side by side.
    var controlSocket: String { directory + "/axled.sock" }

    init(vehicleID: String) throws {
        self.vehicleID = vehicleID
        directory = try makeTestDirectory(prefix: "axle-agent")
    }

    /// Starts `axled` with the demo profile, this harness's data directory and `arguments`; its log goes to
    /// `axled-<run>.log` in the harness directory.
    /// `environment`: extra variables (`NAME=value`), set through env(1).
    func start(broker: String, run: Int = 0, environment: [String] = [], _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(
            executable: environment.isEmpty ? Self.axled : "/usr/bin/env",
            arguments: (environment.isEmpty ? [] : environment + [Self.axled]) + [
                "--profile", Self.demoProfile, "--vehicle-id", vehicleID, "--data-dir", dataDirectory, "--broker", broker,
                "--reconnect-base", "0.05", "--reconnect-cap", "0.5", "--control-socket", controlSocket,
            ] + arguments,
            stderrPath: directory + "/axled-\(run).log")
    }

    func log(run: Int = 0) -> String { AxleProcess.readText(directory + "/axled-\(run).log") }

    /// Drains whatever the outbox holds and exits (no new data: an empty replay).
    func drain(broker: String, run: Int, timeout: Double = 120) throws -> Int32? {
        let agent = try start(broker: broker, run: run, ["--replay", "/dev/null", "--exit-when-drained"])
        return agent.wait(timeoutSeconds: timeout)
    }

    func cleanUp() { removeTree(directory) }

    /// The latest value of each signal the running agent has received, by VSS name (`axle signals --json`).
    func signalValues() -> [String: Double] {
        guard let result = try? AxleProcess.run(["signals", "--socket", controlSocket, "--json"]),
            let list = (try? JSONValue.parse(result.stdout))?["signals"]?.arrayValue
        else { return [:] }
        var values: [String: Double] = [:]
        for signal in list {
            if let name = signal["name"]?.stringValue, let value = signal["value"]?.doubleValue { values[name] = value }
        }
        return values
    }

    /// The signals the demo sedan's command preconditions read (Firmware-Profiles/demo-sedan/profile.toml).
    static let preconditionSignals = [
        "Vehicle.Speed", "Vehicle.Powertrain.Transmission.CurrentGear", "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen",
        "Vehicle.LowVoltageSystemState", "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
    ]

    /// Waits until the running agent has a value for each of `signals`: the vehicle's first frames have been decoded,
    /// so command preconditions have fresh values to read. False after `timeoutSeconds`.
    func waitForValues(_ signals: [String] = preconditionSignals, timeoutSeconds: Double = 20) -> Bool {
        waitUntil(timeoutSeconds: timeoutSeconds, pollSeconds: 0.1) {
            let values = signalValues()
            return signals.allSatisfy { values[$0] != nil }
        }
    }
}

/// What the backend subscriber received on one vehicle's topics, decoded.
struct Received {
    var telemetry: [(sequence: UInt64, payload: [UInt8])] = []
    var events: [(sequence: UInt64, batch: DecodedBatch)] = []
    var status: [String] = []
    /// The retained feature-entitlement messages (JSON; the agent publishes one at every start).
    var features: [String] = []
    var undecodable = 0

    init(_ messages: [(topic: String, payload: [UInt8])]) {
        for message in messages {
            if message.topic.hasSuffix("/status") {
                status.append(String(decoding: message.payload, as: UTF8.self))
                continue
            }
            if message.topic.hasSuffix("/features") {
                features.append(String(decoding: message.payload, as: UTF8.self))
                answerSequences.append(contentsOf: Self.sequence(ofJSON: message.payload).map { [$0] } ?? [])
                continue
            }
            if message.topic.hasSuffix("/config/state") {
                // The configuration report (docs/configuration.md): an outbox record, so it carries `seq`.
                configurationReports.append(String(decoding: message.payload, as: UTF8.self))
                answerSequences.append(contentsOf: Self.sequence(ofJSON: message.payload).map { [$0] } ?? [])
                continue
            }
            if message.topic.contains("/cmd/res") {
                answerSequences.append(contentsOf: Self.sequence(ofJSON: message.payload).map { [$0] } ?? [])
                continue
            }
            guard let batch = try? TelemetryPayloadDecoder.decode(message.payload) else {
                undecodable += 1
                continue
            }
            if message.topic.hasSuffix("/events") {
                events.append((batch.sequence, batch))
            } else {
                telemetry.append((batch.sequence, message.payload))
            }
        }
    }

    /// The retained configuration reports (JSON; the agent publishes one at start and on every connect).
    var configurationReports: [String] = []

    /// Sequence numbers of command answers and feature states (their JSON's `seq`: they are outbox records too).
    var answerSequences: [UInt64] = []

    /// Every sequence number seen, on any topic.
    var sequences: Set<UInt64> {
        Set(telemetry.map(\.sequence)).union(events.map(\.sequence)).union(answerSequences)
    }

    /// The `seq` member of a JSON answer or feature state.
    static func sequence(ofJSON payload: [UInt8]) -> UInt64? {
        guard let document = try? JSONValue.parse(String(decoding: payload, as: UTF8.self)),
            let sequence = document["seq"]?.intValue, sequence > 0
        else { return nil }
        return UInt64(sequence)
    }

    /// Sequence numbers that arrived more than once with different bytes (a re-created record, not a re-sent one).
    var conflictingDuplicates: [UInt64] {
        var first: [UInt64: [UInt8]] = [:]
        var conflicts: [UInt64] = []
        for (sequence, payload) in telemetry {
            if let earlier = first[sequence] {
                if earlier != payload { conflicts.append(sequence) }
            } else {
                first[sequence] = payload
            }
        }
        return conflicts
    }

    var duplicateCount: Int { telemetry.count + events.count + answerSequences.count - sequences.count }
}

/// The sequence numbers missing from 1...last.
func gaps(in sequences: Set<UInt64>, upTo last: UInt64) -> [UInt64] {
    guard last > 0 else { return [] }
    return (1...last).filter { !sequences.contains($0) }
}
