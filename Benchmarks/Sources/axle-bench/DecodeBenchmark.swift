import ArgumentParser
import CANFrames
import DBC

/// Decode-only throughput: the frames of a candump log are loaded into memory first, then decoded pass after pass,
/// every signal to its physical value, until the time is up. Only the decode loop is timed.
struct DecodeBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode in-memory frames over and over; report frames/s and ns per signal."
    )

    @Option(help: "The DBC file.")
    var dbc: String

    @Option(help: "A candump log holding the frames to decode (loaded into memory before timing).")
    var frames: String

    @Option(help: "How long to keep decoding, in seconds of wall time.")
    var seconds: Double = 3

    func run() throws {
        let database = try DBCParser.parse(contentsOf: dbc)
        let decoder = CompiledDecoder(database: database)
        let loaded = try loadFrames(path: frames)
        guard !loaded.isEmpty else { throw ValidationError("\(frames) holds no frames") }
        var result = DecodedFrame(capacity: max(decoder.maximumSignalsPerMessage, 1))

        // One untimed pass: warms the caches and counts what a pass does.
        var decoded = 0
        var unknown = 0
        var failed = 0
        var signalsPerPass = 0
        for frame in loaded {
            switch decoder.decode(frame, into: &result) {
            case .decoded: decoded += 1
            case .unknownMessage: unknown += 1
            case .failed: failed += 1
            }
            signalsPerPass += result.count
        }

        var passes = 0
        var signals = 0
        var checksum = 0.0
        let start = ClockSample.now()
        repeat {
            let pass = loaded.withUnsafeBufferPointer { decodePass($0, decoder: decoder, into: &result) }
            signals += pass.signals
            checksum += pass.checksum
            passes += 1
        } while start.wallSecondsElapsed() < seconds
        let elapsed = Elapsed(from: start, to: .now())

        let frameCount = passes * loaded.count
        var line = ResultLine(benchmark: "decode")
        line.add("dbc", .string(baseName(dbc)))
        line.add("frames_file", .string(baseName(frames)))
        line.add("frames_in_set", .integer(loaded.count))
        line.add("decoded_per_pass", .integer(decoded))
        line.add("unknown_per_pass", .integer(unknown))
        line.add("failed_per_pass", .integer(failed))
        line.add("signals_per_pass", .integer(signalsPerPass))
        line.add("signals_per_frame", .number(Double(signalsPerPass) / Double(loaded.count)))
        line.add("passes", .integer(passes))
        line.add("frames", .integer(frameCount))
        line.add("signals", .integer(signals))
        line.add("wall_s", .number(elapsed.wallSeconds))
        line.add("cpu_s", .number(elapsed.cpuSeconds))
        line.add("frames_per_s", .number(Double(frameCount) / elapsed.busySeconds))
        line.add("frames_per_s_wall", .number(Double(frameCount) / elapsed.wallSeconds))
        line.add("ns_per_frame", .number(elapsed.busySeconds * 1e9 / Double(frameCount)))
        line.add("ns_per_signal", .number(signals > 0 ? elapsed.busySeconds * 1e9 / Double(signals) : .nan))
        line.add("checksum", .number(checksum))
        line.add("cpus", .string(allowedCPUs()))
        line.print()
    }
}

/// One pass over the frames; kept out of line so that profiles show the decode loop as one function.
@inline(never)
func decodePass(
    _ frames: UnsafeBufferPointer<CANFrame>, decoder: CompiledDecoder, into result: inout DecodedFrame
) -> (signals: Int, checksum: Double) {
    var signals = 0
    var checksum = 0.0
    for index in frames.indices {
        guard decoder.decode(frames[index], into: &result) == .decoded else { continue }
        signals += result.count
        // Reading a value keeps the decoded results live, so the optimiser cannot drop the work.
        if let last = result.last { checksum += last.value }
    }
    return (signals, checksum)
}

/// Every frame of a candump log, in order; a malformed line is an error (the inputs are generated).
func loadFrames(path: String) throws -> [CANFrame] {
    let reader = try CandumpReader(path: path)
    var frames: [CANFrame] = []
    while let entry = try reader.next() {
        switch entry {
        case .frame(let frame): frames.append(frame)
        case .malformed(let line, let error): throw ValidationError("\(path):\(line): \(error)")
        }
    }
    return frames
}
