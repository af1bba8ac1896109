import AxleTestSupport
import Foundation
import Testing
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// The package root, from this file's place in it.
private let packageRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

private let python = packageRoot + "/.venv/bin/python"
private let example = packageRoot + "/examples/python/decode_telemetry.py"

/// Whether the venv has what the example imports (scripts/setup.sh installs it).
private let pythonReady: Bool = {
    let command = "\(AxleProcess.shellQuote(python)) -c 'import google.protobuf, zstandard' >/dev/null 2>&1"
    return access(python, X_OK) == 0 && system(command) == 0
}()

@Suite("Python decoding example", .enabled(if: pythonReady, "needs .venv with protobuf and zstandard (run scripts/setup.sh)"))
struct PythonExampleTests {
    private struct Output {
        var status: Int32
        var lines: [[String: Any]]
        /// Each line's "value" as printed: JSONSerialization's doubles can be an ulp off, Swift's parsing is exact.
        var valueTexts: [String?]
        var stderr: String
    }

    private static func valueText(in line: Substring) -> String? {
        guard let key = line.range(of: #""value": "#) else { return nil }
        let rest = line[key.upperBound...]
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    private func runExample(on payload: [UInt8], viaStdin: Bool = false) throws -> Output {
        let directory = try AxleProcess.makeTemporaryDirectory()
        let payloadPath = directory + "/payload.bin"
        try Data(payload).write(to: URL(fileURLWithPath: payloadPath))
        let command = [python, example].map(AxleProcess.shellQuote).joined(separator: " ")
            + (viaStdin ? " <" : " ") + AxleProcess.shellQuote(payloadPath)
            + " >\(AxleProcess.shellQuote(directory + "/out")) 2>\(AxleProcess.shellQuote(directory + "/err"))"
        let status = (system(command) >> 8) & 0xFF
        let text = AxleProcess.readText(directory + "/out").split(separator: "\n")
        let lines = try text.map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        return Output(
            status: status, lines: lines, valueTexts: text.map(Self.valueText),
            stderr: AxleProcess.readText(directory + "/err"))
    }

    /// A value as the example prints it: a number, or "NaN"/"Infinity"/"-Infinity".
    private func double(_ text: String?) -> Double? {
        text.flatMap { Double($0.replacingOccurrences(of: "Infinity", with: "inf")) }
    }

    private func int64(_ value: Any?) -> Int64? { (value as? NSNumber)?.int64Value }

    @Test("the example prints every sample Swift encoded, with the same times, values and raws", arguments: [PayloadFormat.protobufZstd, .protobuf, .json])
    func decodesSwiftPayloads(format: PayloadFormat) throws {
        let drive = SyntheticDrive()
        let extra = [
            SignalDescription(name: "Extremes", unit: "", factor: 1, offset: 0),
            SignalDescription(name: "Location.Latitude", unit: "deg"),
        ]
        var builder = TelemetryBatchBuilder(
            vehicleID: "WAUZZZ8V5KA123456", profile: "demo-sedan", signals: drive.signals.map(\.description) + extra)
        drive.append(to: &builder, seconds: 1, startSecond: 30, seed: 11)
        for (index, raw) in [Int64.max, .min, -1, .max].enumerated() {
            builder.append(signal: 40, timeMicros: startMicros + Int64(index) * 1000, raw: raw)
        }
        for (index, value) in [48.137154, .nan, .infinity, -.infinity, -1e-300].enumerated() {
            builder.append(signal: 41, timeMicros: startMicros + Int64(index) * 100_000, value: value)
        }
        builder.append(TelemetryEvent(
            name: "outbox.records_dropped", timeMicros: startMicros + 5, priority: "telemetry",
            attributes: ["why": "cap"],
            droppedRanges: [DroppedRange(recordClass: "telemetry", first: 10, last: 19, count: 10, reason: "storage cap")]))

        let payload = try builder.encode(format: format) { _ in 4242 }[0]
        let swift = try TelemetryPayloadDecoder.decode(payload)
        let output = try runExample(on: payload)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.lines.count == swift.samples.count + 1)
        #expect(swift.samples.count == 1040 + 9)

        for ((line, valueText), sample) in zip(zip(output.lines, output.valueTexts), swift.samples) {
            #expect(line["vehicle_id"] as? String == "WAUZZZ8V5KA123456")
            #expect(int64(line["sequence"]) == 4242)
            #expect(line["signal"] as? String == sample.signal)
            #expect(line["unit"] as? String == sample.unit)
            #expect(int64(line["time_us"]) == sample.timeMicros)
            #expect(int64(line["raw"]) == sample.raw)
            let value = try #require(double(valueText), "\(line)")
            #expect(value.bitPattern == sample.value.bitPattern || (value.isNaN && sample.value.isNaN), "\(line) vs \(sample)")
        }
        let event = try #require(output.lines.last)
        #expect(event["event"] as? String == "outbox.records_dropped")
        #expect(int64(event["time_us"]) == startMicros + 5)
        #expect(event["attributes"] as? [String: String] == ["why": "cap"])
        let range = try #require((event["dropped_ranges"] as? [[String: Any]])?.first)
        #expect(int64(range["first"]) == 10)
        #expect(int64(range["last"]) == 19)
        #expect(range["reason"] as? String == "storage cap")
    }

    @Test("the example prints the markers of values that were not readings, with their times and kinds", arguments: [PayloadFormat.protobufZstd, .json])
    func decodesNotReadings(format: PayloadFormat) throws {
        var builder = TelemetryBatchBuilder(
            vehicleID: "truck-7", profile: "fleet-truck-j1939",
            signals: [SignalDescription(name: "Vehicle.Private.Trailer.CargoTemperature", unit: "celsius", factor: 0.03125, offset: -273)])
        builder.append(signal: 0, timeMicros: startMicros, raw: 9000)
        builder.appendNotReading(signal: 0, timeMicros: startMicros + 1_000_000, kind: .notAvailable)
        builder.appendNotReading(signal: 0, timeMicros: startMicros + 2_000_000, kind: .error)
        builder.append(signal: 0, timeMicros: startMicros + 3_000_000, raw: 9001)
        let payload = try builder.encode(format: format) { _ in 7 }[0]
        let output = try runExample(on: payload)
        #expect(output.status == 0, "\(output.stderr)")
        let statuses = output.lines.compactMap { line -> (Int64, String)? in
            guard let status = line["status"] as? String, let time = int64(line["time_us"]) else { return nil }
            return (time, status)
        }
        #expect(statuses.map(\.0) == [startMicros + 1_000_000, startMicros + 2_000_000])
        #expect(statuses.map(\.1) == ["not_available", "error"])
        #expect(output.lines.filter { $0["value"] != nil }.count == 2, "the two readings are samples: \(output.lines)")
        let swift = try TelemetryPayloadDecoder.decode(payload)
        #expect(swift.notReadings.map(\.kind) == [.notAvailable, .error])
        #expect(swift.notReadings.map(\.timeMicros) == statuses.map(\.0))
    }

    @Test("the example reads standard input, and refuses garbage and bombs with a message")
    func stdinAndErrors() throws {
        var builder = TelemetryBatchBuilder(vehicleID: "V", profile: "p", signals: [SignalDescription(name: "A")])
        builder.append(signal: 0, timeMicros: startMicros, raw: 5)
        let fromStdin = try runExample(on: try builder.encode { _ in 1 }[0], viaStdin: true)
        #expect(fromStdin.status == 0)
        #expect(fromStdin.lines.count == 1)

        let garbage = try runExample(on: Array("not a payload at all".utf8))
        #expect(garbage.status == 1)
        #expect(garbage.stderr.contains("decode_telemetry:"))

        // 64 MiB of zeros from a 2 KiB frame: stopped at the script's limit, not decompressed whole.
        let bomb = try Zstd.compress([UInt8](repeating: 0, count: 64 << 20), level: 19)
        let refused = try runExample(on: bomb)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("more than"))
    }
}
