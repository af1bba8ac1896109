import ArgumentParser

/// `axle-bench`: times Axle's DBC parser, decoder and candump replay, one JSON object per result on standard output.
///
/// Results are figures to read, never assertions: `scripts/bench.sh` runs every benchmark next to cantools on the
/// same inputs and prints them against the targets.
@main
struct AxleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "axle-bench",
        abstract: "Times Axle's DBC parser, decoder and candump replay; prints one JSON object per result.",
        subcommands: [
            DecodeBenchmark.self, ParseBenchmark.self, ReplayBenchmark.self, OutboxBenchmark.self, DiagnosticsBenchmark.self,
        ]
    )
}
