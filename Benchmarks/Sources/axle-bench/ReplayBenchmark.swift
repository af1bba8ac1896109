import ArgumentParser
import CANFrames
import DBC

/// Replay at maximum speed: a candump log read with `CandumpReader` (text parsing) and every frame decoded into a
/// sink that only counts. Each run reads the whole file again; the first run also brings it into the page cache.
struct ReplayBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Read a candump log and decode every frame into a counting sink; report frames/s."
    )

    @Option(help: "The DBC file.")
    var dbc: String

    @Option(help: "The candump log to replay.")
    var log: String

    @Option(name: .customLong("repeat"), help: "How many times to replay the whole log.")
    var repetitions: Int = 5

    func validate() throws {
        guard repetitions > 0 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let decoder = CompiledDecoder(database: try DBCParser.parse(contentsOf: dbc))
        var result = DecodedFrame(capacity: max(decoder.maximumSignalsPerMessage, 1))
        var runs: [(elapsed: Elapsed, sink: CountingSink)] = []
        for _ in 0..<repetitions {
            let start = ClockSample.now()
            let sink = try replay(log, decoder: decoder, result: &result)
            runs.append((Elapsed(from: start, to: .now()), sink))
        }

        let sink = runs[0].sink
        let bytes = try fileSize(log)
        let framesPerSecond = runs.map { Double($0.sink.frames) / $0.elapsed.busySeconds }
        let framesPerSecondWall = runs.map { Double($0.sink.frames) / $0.elapsed.wallSeconds }
        var line = ResultLine(benchmark: "replay")
        line.add("dbc", .string(baseName(dbc)))
        line.add("log", .string(baseName(log)))
        line.add("file_bytes", .integer(bytes))
        line.add("frames", .integer(sink.frames))
        line.add("decoded", .integer(sink.decoded))
        line.add("unknown", .integer(sink.unknown))
        line.add("failed", .integer(sink.failed))
        line.add("malformed", .integer(sink.malformed))
        line.add("signals", .integer(sink.signals))
        line.add("repeat", .integer(repetitions))
        line.add("median_s", .number(median(runs.map { $0.elapsed.busySeconds })))
        line.add("frames_per_s", .number(median(framesPerSecond)))
        line.add("frames_per_s_best", .number(framesPerSecond.max()!))
        line.add("frames_per_s_worst", .number(framesPerSecond.min()!))
        line.add("frames_per_s_wall", .number(median(framesPerSecondWall)))
        line.add("ns_per_frame", .number(1e9 / median(framesPerSecond)))
        line.add("mb_per_s", .number(Double(bytes) / 1e6 * median(framesPerSecond) / Double(max(sink.frames, 1))))
        line.add("cpus", .string(allowedCPUs()))
        line.print()
    }
}

/// Where replayed frames go: counts, and nothing else, so that the figure is the cost of reading and decoding.
struct CountingSink {
    var frames = 0
    var decoded = 0
    var unknown = 0
    var failed = 0
    var malformed = 0
    var signals = 0
}

/// One replay of the whole log; kept out of line so that profiles show it as one function.
@inline(never)
func replay(_ path: String, decoder: CompiledDecoder, result: inout DecodedFrame) throws -> CountingSink {
    let reader = try CandumpReader(path: path)
    var sink = CountingSink()
    while let entry = try reader.next() {
        switch entry {
        case .frame(let frame):
            sink.frames += 1
            switch decoder.decode(frame, into: &result) {
            case .decoded:
                sink.decoded += 1
                sink.signals += result.count
            case .unknownMessage: sink.unknown += 1
            case .failed: sink.failed += 1
            }
        case .malformed:
            sink.malformed += 1
        }
    }
    return sink
}
