import ArgumentParser
import CANFrames
import DBC

/// DBC parse time: the same file read and parsed again and again (reading the file is part of each run).
struct ParseBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse a DBC file repeatedly; report the minimum and median time."
    )

    @Option(help: "The DBC file.")
    var dbc: String

    @Option(name: .customLong("repeat"), help: "How many times to parse it.")
    var repetitions: Int = 20

    func validate() throws {
        guard repetitions > 0 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        var wallMilliseconds: [Double] = []
        var cpuMilliseconds: [Double] = []
        var database: DBCDatabase?
        for _ in 0..<repetitions {
            let start = ClockSample.now()
            database = try DBCParser.parse(contentsOf: dbc)
            let elapsed = Elapsed(from: start, to: .now())
            wallMilliseconds.append(elapsed.wallSeconds * 1000)
            cpuMilliseconds.append(elapsed.cpuSeconds * 1000)
        }
        guard let database else { return }

        // Compiling is what a decoder pays once after parsing; shown for completeness.
        let compileStart = ClockSample.now()
        let decoder = CompiledDecoder(database: database)
        let compile = Elapsed(from: compileStart, to: .now())

        let bytes = try fileSize(dbc)
        var line = ResultLine(benchmark: "parse")
        line.add("dbc", .string(baseName(dbc)))
        line.add("file_bytes", .integer(bytes))
        line.add("messages", .integer(database.messages.count))
        line.add("signals", .integer(database.messages.reduce(0) { $0 + $1.signals.count }))
        line.add("warnings", .integer(database.warnings.count))
        line.add("repeat", .integer(repetitions))
        line.add("first_ms", .number(wallMilliseconds[0]))
        line.add("min_ms", .number(wallMilliseconds.min()!))
        line.add("median_ms", .number(median(wallMilliseconds)))
        line.add("max_ms", .number(wallMilliseconds.max()!))
        line.add("median_cpu_ms", .number(median(cpuMilliseconds)))
        line.add("mb_per_s", .number(Double(bytes) / 1e6 / (wallMilliseconds.min()! / 1000)))
        line.add("compile_ms", .number(compile.wallSeconds * 1000))
        line.add("compiled_signals", .integer(decoder.signals.count))
        line.add("cpus", .string(allowedCPUs()))
        line.print()
    }
}
