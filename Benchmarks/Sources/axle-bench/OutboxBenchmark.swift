import ArgumentParser
import AxleAgent
import CANFrames
import DBC
import Outbox
import TelemetryPayload
import VehicleSimulator

#if canImport(Glibc)
import Glibc
#endif

/// Issue 4's (a) and (c): hours of the demo profile's telemetry recorded into a fresh outbox, as the agent records
/// them (decode → batch → protobuf → zstd → SQLite), and the bytes each sample costs on the wire against one JSON
/// message per sample. The outbox is left in `--data-dir` for the drain benchmark (scripts/bench/uplink.sh).
struct OutboxBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Record simulated hours into an outbox; report samples/s appended and wire bytes per sample."
    )

    @Option(help: "The DBC file (the demo profile's).")
    var dbc: String

    @Option(help: "The simulator profile.")
    var profile: String = "demo-sedan"

    @Option(help: "The scenario.")
    var scenario: String = "city-drive"

    @Option(help: "Simulated hours.")
    var hours: Double = 1

    @Option(name: .customLong("telemetry-batch"), help: "Seconds of telemetry per record.")
    var batchSeconds: Double = 5

    @Option(name: .customLong("data-dir"), help: "Where to write outbox.db (emptied first).")
    var dataDirectory: String

    @Option(name: .customLong("vehicle-id"), help: "Vehicle id in topics and payloads.")
    var vehicleID: String = "bench-car"

    func run() throws {
        let database = try DBCParser.parse(contentsOf: dbc)
        let decoder = CompiledDecoder(database: database)
        guard let simulatorProfile = SimulatorProfile.builtIn(named: profile) else {
            throw ValidationError("no simulator profile \(profile)")
        }
        var simulator = try VehicleSimulator(
            database: database, scenario: Scenario(rawValue: scenario) ?? .cityDrive, profile: simulatorProfile,
            start: CANTimestamp(seconds: 1_767_225_600))
        var frames: [CANFrame] = []
        var second = 0.0
        while second < hours * 3600 {
            second += 1
            frames.append(contentsOf: simulator.advance(to: second))
        }

        mkdir(dataDirectory, 0o755)
        for suffix in ["", "-wal", "-shm", ".sequence"] { unlink(dataDirectory + "/outbox.db" + suffix) }
        let outbox = try OutboxStore(configuration: OutboxConfiguration(path: dataDirectory + "/outbox.db", capBytes: 4 << 30))
        let topics = try UplinkTopics(vehicleID: vehicleID)
        var policy = UplinkPolicy.standard
        policy.classes[.telemetry]?.batchSeconds = batchSeconds
        let recorder = TelemetryRecorder(
            series: TelemetryRecorder.signalDescriptions(of: decoder), outbox: outbox, topics: topics, profile: profile,
            policy: policy,
            // Now, not the frames' 2026-01-01: records carry an expiry that the drain benchmark must not hit.
            wallClockMillis: OutboxConfiguration.systemClock)
        // Every decoded signal is recorded (no collection rules): this measures the storage path alone.
        var decoded = DecodedFrame(capacity: max(decoder.maximumSignalsPerMessage, 1))
        let start = ClockSample.now()
        for frame in frames where decoder.decode(frame, into: &decoded) == .decoded {
            let micros = frame.timestamp.seconds &* 1_000_000 &+ Int64(frame.timestamp.nanoseconds / 1000)
            for signal in decoded.signals {
                let index = Int(signal.signalIndex)
                switch decoder.signals[index].rawValue(signal.rawBits) {
                case .integer(let raw): recorder.append(series: index, timeMicros: micros, raw: Int64(clamping: raw))
                case .float: recorder.append(series: index, timeMicros: micros, value: signal.value)
                }
            }
        }
        recorder.flush()
        let elapsed = Elapsed(from: start, to: .now())
        let statistics = try outbox.statistics()
        let records = statistics.depth[.telemetry]?.records ?? 0
        let payloadBytes = Int(statistics.depth[.telemetry]?.payloadBytes ?? 0)
        outbox.close()

        // MQTT 5 PUBLISH, QoS 1: fixed header, remaining length, topic, packet id, empty properties.
        let samples = recorder.statistics.samples
        let wireBytes = payloadBytes + records * Self.publishOverhead(topic: topics.telemetry, payload: payloadBytes / max(records, 1))
        let jsonBytes = try jsonBaselineBytes(frames: frames, decoder: decoder, topics: topics)

        var line = ResultLine(benchmark: "outbox-append")
        line.add("profile", .string(profile))
        line.add("simulated_hours", .number(hours))
        line.add("frames", .integer(frames.count))
        line.add("samples", .integer(samples))
        line.add("records", .integer(records))
        line.add("batch_seconds", .number(batchSeconds))
        line.add("seconds", .number(elapsed.wallSeconds))
        line.add("cpu_seconds", .number(elapsed.cpuSeconds))
        line.add("samples_per_second", .number(Double(samples) / elapsed.wallSeconds))
        line.add("payload_bytes", .integer(payloadBytes))
        line.add("wire_bytes", .integer(wireBytes))
        line.add("wire_bytes_per_sample", .number(Double(wireBytes) / Double(max(samples, 1))))
        line.add("json_wire_bytes_per_sample", .number(Double(jsonBytes) / Double(max(samples, 1))))
        line.add("database_bytes", .integer(Int(statistics.databaseBytes)))
        line.add("hours_in_default_cap", .number(Double(OutboxConfiguration.defaultCapBytes) / Double(max(statistics.databaseBytes, 1)) * hours))
        line.print()
    }

    /// Bytes of one MQTT 5 QoS 1 PUBLISH packet around a payload (TCP/IP headers not counted).
    static func publishOverhead(topic: String, payload: Int) -> Int {
        let remaining = 2 + topic.utf8.count + 2 + 1 + payload
        let lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4
        return 1 + lengthBytes + 2 + topic.utf8.count + 2 + 1
    }

    /// The baseline: one JSON message per sample, such as
    /// `{"vehicle":"bench-car","signal":"EngineStatus.EngineSpeed","t":1767225600.02,"value":812.5}`.
    private func jsonBaselineBytes(frames: [CANFrame], decoder: CompiledDecoder, topics: UplinkTopics) throws -> Int {
        let names = TelemetryRecorder.signalDescriptions(of: decoder).map(\.name)
        var decoded = DecodedFrame(capacity: max(decoder.maximumSignalsPerMessage, 1))
        var total = 0
        for frame in frames where decoder.decode(frame, into: &decoded) == .decoded {
            let time = String(Double(frame.timestamp.seconds) + Double(frame.timestamp.nanoseconds / 1_000_000) / 1000)
            for signal in decoded.signals {
                let json = "{\"vehicle\":\"\(vehicleID)\",\"signal\":\"\(names[Int(signal.signalIndex)])\",\"t\":\(time),\"value\":\(signal.value)}"
                total += json.utf8.count + Self.publishOverhead(topic: topics.telemetry, payload: json.utf8.count)
            }
        }
        return total
    }
}
