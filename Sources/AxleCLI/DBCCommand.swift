import ArgumentParser
import AxleBase
import CANFrames
import DBC

/// `axle dbc …`: work with DBC files.
struct DBCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbc",
        abstract: "Inspect DBC files and decode or encode frames with them.",
        subcommands: [DBCInspectCommand.self, DBCDecodeCommand.self, DBCEncodeCommand.self]
    )
}

/// Loads a DBC file for a command: warnings go to standard error unless `quiet`, failures become `CLIError`.
func loadDatabase(_ path: String, quiet: Bool = false) throws -> DBCDatabase {
    let database: DBCDatabase
    do {
        database = try DBCParser.parse(contentsOf: path)
    } catch let error as SystemError {
        throw CLIError("cannot read DBC file \(error)")
    } catch let error as DBCParseError {
        throw CLIError("\(error)\nThe DBC file cannot be used; fix the line above.")
    }
    if !quiet, !database.warnings.isEmpty {
        let stderr = TextOutput.standardError()
        let shown = database.warnings.prefix(20)
        for warning in shown { stderr.write("\(warning)\n") }
        if database.warnings.count > shown.count {
            stderr.write("\(path): \(database.warnings.count - shown.count) more warnings (axle dbc inspect \(path) lists them all)\n")
        }
    }
    return database
}
