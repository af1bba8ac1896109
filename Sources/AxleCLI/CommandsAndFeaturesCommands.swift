import AgentControl
import ArgumentParser
import AxleBase

// `axle features` and `axle commands`: what the backend bought and asked for, as the agent saw it, over the control
// socket (docs/control.md).

/// `axle features`: the feature entitlements the agent holds.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Show the feature entitlements bought over the air: state, validity, time active, granting command.",
        discussion: """
            STATE is active, pending (not valid yet), expired or revoked. COMMAND is the start of the id of the \
            feature.activate command that granted it, as 'axle commands' shows it. A VALID-UNTIL of - means no end.

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions

    func run() throws {
        try options.show(
            { client throws(ControlClientError) in
                try explainingOlderAgent(.features) { () throws(ControlClientError) in try client.features() }
            },
            json: { $0.toJSON() }, text: AgentText.features)
    }
}

/// `axle commands`: the most recent remote commands and what became of them.
struct CommandsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commands",
        abstract: "Show the most recent remote commands, newest first: status, and why one was rejected or failed.",
        discussion: """
            STATUS is ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED (never executed; REASON says \
            why) or INTERRUPTED (the agent stopped while it ran; it is never run again). The agent's explanation is \
            printed indented below each command that did not succeed. ID is the start of the command's id; --json \
            has it whole, with the signing key's id.

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions

    @Option(name: .long, help: ArgumentHelp("How many commands (1-\(ControlRequest.maximumCommandLimit)).", valueName: "n"))
    var limit: Int = ControlRequest.defaultCommandLimit

    func validate() throws {
        guard (1...ControlRequest.maximumCommandLimit).contains(limit) else {
            throw ValidationError("--limit takes a number from 1 to \(ControlRequest.maximumCommandLimit)")
        }
    }

    func run() throws {
        try options.show(
            { client throws(ControlClientError) in
                try explainingOlderAgent(.commands(limit: limit)) { () throws(ControlClientError) in
                    try client.commands(limit: limit)
                }
            },
            json: { $0.toJSON() }, text: AgentText.commands)
    }
}

/// Runs `ask`; when the agent does not know `request` (an `axled` older than remote commands), says that instead of
/// the agent's generic "unknown request".
private func explainingOlderAgent<Report>(
    _ request: ControlRequest, _ ask: () throws(ControlClientError) -> Report
) throws(ControlClientError) -> Report {
    do throws(ControlClientError) {
        return try ask()
    } catch where error.failure?.code == .unknownRequest {
        throw ControlClientError(
            error.code, path: error.path,
            message: "the agent does not know '\(request.name)': it is older than this axle (\(AxleVersion.current)); "
                + "update axled to see remote commands and features",
            failure: error.failure)
    }
}

extension AgentText {
    /// Statuses after which the agent's explanation is printed below the command's row.
    static let explainedStatuses: Set<String> = ["REJECTED", "FAILED", "TIMED_OUT", "INTERRUPTED"]

    static func features(_ report: FeaturesReport) -> String {
        guard !report.features.isEmpty else { return "no feature entitlements\n" }
        var table = [["FEATURE", "STATE", "VALID-FROM", "VALID-UNTIL", "ACTIVE", "COMMAND"]]
        for feature in report.features {
            table.append([
                printable(feature.feature), printable(feature.state), feature.validFromMillis.map(time) ?? "-",
                feature.validUntilMillis.map(time) ?? "-", duration(feature.activeSeconds),
                printable(shortID(feature.commandID)),
            ])
        }
        return formatTable(table)
    }

    static func commands(_ report: CommandsReport) -> String {
        guard !report.commands.isEmpty else { return "no remote commands received yet\n" }
        var table = [["RECEIVED", "ID", "NAME", "STATUS", "REASON"]]
        for command in report.commands {
            table.append([
                time(command.receivedMillis), printable(shortID(command.id)), printable(command.name),
                printable(command.status), command.reason.map(printable) ?? "-",
            ])
        }
        // The explanation goes under the ID column, so the rows stay easy to scan.
        let indent = String(repeating: " ", count: (table.map { $0[0].count }.max() ?? 0) + 2)
        let lines = formatTable(table).split(separator: "\n", omittingEmptySubsequences: false)
        var out = String(lines[0]) + "\n"
        for (command, line) in zip(report.commands, lines.dropFirst()) {
            out += line + "\n"
            if explainedStatuses.contains(command.status), let text = command.text, !text.isEmpty {
                out += indent + printable(text) + "\n"
            }
        }
        return out
    }

    /// The first 8 characters of a UUID: enough to tell recent commands apart, short enough for the table.
    static func shortID(_ id: String) -> String {
        String(id.prefix(8))
    }

    /// `text` with control and format characters (escape sequences, newlines, bidirectional overrides) escaped: a
    /// rejected command's id and name come from whoever sent it, signed or not, and must not be able to drive the
    /// technician's terminal or disguise what is shown.
    static func printable(_ text: String) -> String {
        UntrustedText.printable(text)
    }
}
