import Testing
import TelemetryPayload

@Suite("splitting under a maximum size")
struct SplittingTests {
    /// Each signal's samples, in order.
    private func samplesBySignal(_ samples: [DecodedSample]) -> [String: [DecodedSample]] {
        var result: [String: [DecodedSample]] = [:]
        for sample in samples { result[sample.signal, default: []].append(sample) }
        return result
    }

    @Test(
        "every part stays under the maximum and together they hold every sample, in order",
        arguments: [(PayloadFormat.protobufZstd, 4096), (.protobuf, 16 * 1024), (.json, 64 * 1024)])
    func split(format: PayloadFormat, maximumBytes: Int) throws {
        var builder = SyntheticDrive().batch(seconds: 10)
        for second in 0..<10 {
            builder.append(TelemetryEvent(name: "tick\(second)", timeMicros: startMicros + Int64(second) * 1_000_000, priority: "p"))
        }
        let whole = try TelemetryPayloadDecoder.decode(try builder.encode(format: format) { _ in 1 }[0])
        #expect(whole.samples.count == 10 * 1040)

        let parts = try builder.parts(format: format, maximumBytes: maximumBytes)
        #expect(parts.count > 1)
        var concatenated: [DecodedSample] = []
        var events: [String] = []
        for part in parts {
            let sequence = 1000 + UInt64(part.index)
            let payload = try part.payload(sequence: sequence)
            #expect(payload.count <= maximumBytes)
            let decoded = try TelemetryPayloadDecoder.decode(payload)
            #expect(decoded.sequence == sequence)
            #expect(decoded.partIndex == part.index)
            #expect(decoded.partCount == parts.count)
            #expect(decoded.samples.count == part.sampleCount)
            concatenated += decoded.samples
            events += decoded.events.map(\.name)
        }
        let got = samplesBySignal(concatenated)
        let want = samplesBySignal(whole.samples)
        #expect(got.keys.sorted() == want.keys.sorted())
        for (signal, samples) in want where got[signal] != samples {
            Issue.record("\(signal): \(got[signal]?.count ?? 0) samples after splitting, \(samples.count) before, or another order")
        }
        #expect(events == (0..<10).map { "tick\($0)" })
    }

    @Test("a part's size bound holds whatever sequence number it gets")
    func anySequenceFits() throws {
        let builder = SyntheticDrive().batch(seconds: 5)
        let maximumBytes = 3000
        for part in try builder.parts(format: .protobufZstd, maximumBytes: maximumBytes) {
            for sequence in [0, 1, 127, 128, 1 << 35, UInt64.max - 1, .max] {
                #expect(try part.payload(sequence: sequence).count <= maximumBytes)
            }
        }
    }

    @Test("encode asks for one sequence number per part, in part order")
    func sequencePerPart() throws {
        let builder = SyntheticDrive().batch(seconds: 5)
        var asked: [Int] = []
        let payloads = try builder.encode(format: .protobuf, maximumBytes: 8000) { part in
            asked.append(part)
            return 500 + UInt64(part)
        }
        #expect(payloads.count > 1)
        #expect(asked == Array(0..<payloads.count))
        #expect(try payloads.map { try TelemetryPayloadDecoder.decode($0).sequence } == asked.map { 500 + UInt64($0) })
    }

    @Test("a batch under the maximum stays one message, marked as not split")
    func noSplit() throws {
        let builder = SyntheticDrive().batch(seconds: 1)
        let parts = try builder.parts(format: .protobufZstd, maximumBytes: 128 * 1024)
        #expect(parts.count == 1)
        let decoded = try TelemetryPayloadDecoder.decode(try parts[0].payload(sequence: 9))
        #expect(decoded.partIndex == 0)
        #expect(decoded.partCount == 0)
        #expect(decoded.samples.count == 1040)
    }

    @Test("a maximum too small for one sample of each signal is a clear error")
    func tooSmall() throws {
        let builder = SyntheticDrive().batch(seconds: 1)
        do {
            _ = try builder.parts(format: .protobuf, maximumBytes: 200)
            Issue.record("40 signal names cannot fit in 200 bytes")
        } catch {
            #expect(error.code == .cannotSplit)
            #expect(error.description.contains("200 bytes"))
        }
    }
}
