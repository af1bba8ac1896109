import ArgumentParser
import AxleBase

/// `axle`, the technician CLI. Each subcommand is thin: the work happens in library targets with their own tests.
public struct AxleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "axle",
        abstract: "Axle technician CLI: the running agent, firmware profiles, CAN capture and sending, bus health, DBC decoding and encoding.",
        discussion: """
            Exit codes: 0 success; 1 the work failed (unreadable or invalid input; see the message); \
            3 the agent is not running (status, signals, outbox, events, rules, features, commands; docs/control.md); 64 the command \
            line is wrong.
            """,
        version: AxleVersion.current,
        subcommands: [
            StatusCommand.self, SignalsCommand.self, OutboxCommand.self, EventsCommand.self, RulesCommand.self,
            FeaturesCommand.self, CommandsCommand.self, ConfigCommand.self,
            ProfileCommand.self, DBCCommand.self, CandumpCommand.self, CansendCommand.self, RecordCommand.self, ReplayCommand.self,
            BusCommand.self, SimulateCommand.self, DiagCommand.self,
        ]
    )

    public init() {}
}

/// A failure reported to the user as one plain sentence, with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
