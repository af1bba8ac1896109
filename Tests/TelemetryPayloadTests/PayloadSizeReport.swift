import AxleBase
import Testing
import TelemetryPayload

#if canImport(Glibc)
import Glibc
#endif

/// Not a test of behaviour: prints the bytes per sample and encoding times that docs/payload.md quotes.
/// Run with `AXLE_PAYLOAD_REPORT=1 swift test --filter PayloadSizeReport` (a release build gives realistic times).
@Suite("payload size report", .enabled(if: getenv("AXLE_PAYLOAD_REPORT") != nil, "set AXLE_PAYLOAD_REPORT=1 to print it"))
struct PayloadSizeReport {
    @Test("bytes per sample of a synthetic drive, by batch length and zstd level", arguments: [Int64(300), 2000])
    func sizes(jitterMicros: Int64) throws {
        let drive = SyntheticDrive(jitterMicros: jitterMicros)
        let levels: [Int32] = [1, 3, 6, 9, 19]
        var report = ["frame timing jitter ±\(jitterMicros) µs:"]
        report.append("batch  samples/batch  protobuf B/sample  " + levels.map { "zstd-\($0) B/sample" }.joined(separator: "  "))
        for seconds in [1, 5, 10] {
            var samples = 0
            var protobufBytes = 0
            var zstdBytes = [Int](repeating: 0, count: levels.count)
            // Batches spread over an hour of driving.
            for (round, start) in stride(from: 0, to: 3600, by: 300).enumerated() {
                let builder = drive.batch(seconds: seconds, startSecond: start, seed: UInt64(round + 1))
                let protobuf = try builder.encode(format: .protobuf) { _ in 1_000_000 + UInt64(round) }[0]
                samples += builder.sampleCount
                protobufBytes += protobuf.count
                for (index, level) in levels.enumerated() {
                    zstdBytes[index] += try Zstd.compress(protobuf, level: level).count
                }
            }
            func perSample(_ bytes: Int) -> String { fixed2(Double(bytes) / Double(samples)) }
            report.append("\(String(seconds).leftPadded(3)) s  \(String(samples / 12).leftPadded(13))  "
                + "\(perSample(protobufBytes).leftPadded(17))  "
                + zstdBytes.map { perSample($0).leftPadded(17) }.joined(separator: "  "))
        }
        print(report.joined(separator: "\n"))
    }

    @Test("time to append and encode a 10 s batch")
    func timing() throws {
        let drive = SyntheticDrive()
        var samples: [(Int, Int64, Int64)] = []
        drive.forEachSample(seconds: 10, startSecond: 600, seed: 1) { samples.append(($0, $1, $2)) }
        var builder = TelemetryBatchBuilder(vehicleID: "V", profile: "p", signals: drive.signals.map(\.description))
        let rounds = 50
        var appendSeconds = 0.0
        var encodeSeconds = 0.0
        var compressedSize = 0
        for _ in 0..<rounds {
            builder.removeAll()
            let start = monotonicSeconds()
            for (signal, time, raw) in samples { builder.append(signal: signal, timeMicros: time, raw: raw) }
            let appended = monotonicSeconds()
            let payload = try builder.parts(format: .protobufZstd, maximumBytes: 128 * 1024)[0].payload(sequence: 1)
            encodeSeconds += monotonicSeconds() - appended
            appendSeconds += appended - start
            compressedSize = payload.count
        }
        print("10 s batch, \(samples.count) samples, \(compressedSize) bytes: append "
            + "\(Int(appendSeconds / Double(rounds * samples.count) * 1e9)) ns/sample, parts + payload "
            + "\(Int(encodeSeconds / Double(rounds) * 1e6)) µs/batch")
        let payload = try builder.encode { _ in 1 }[0]
        let start = monotonicSeconds()
        for _ in 0..<rounds { _ = try TelemetryPayloadDecoder.decode(payload) }
        print("decode: \(Int((monotonicSeconds() - start) / Double(rounds) * 1e6)) µs/batch")
        let protobuf = try builder.encode(format: .protobuf) { _ in 1 }[0]
        for level: Int32 in [1, 3, 6, 9, 19] {
            let start = monotonicSeconds()
            for _ in 0..<rounds { _ = try Zstd.compress(protobuf, level: level) }
            print("zstd level \(level): \(Int((monotonicSeconds() - start) / Double(rounds) * 1e6)) µs per 10 s batch")
        }
    }
}

/// Two decimals, without Foundation's formatting.
private func fixed2(_ value: Double) -> String {
    let cents = Int((value * 100).rounded())
    return "\(cents / 100)." + (cents % 100 < 10 ? "0" : "") + "\(cents % 100)"
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
