import AgentControl
import ArgumentParser
import AxleBase
import ConfigBundle

// `axle config`: the vehicle's configuration state beside the car (docs/configuration.md, "The state report"), as the
// agent publishes it on `…/config/state` and answers `config` on its control socket (docs/control.md).

/// `axle config`: which configuration version the vehicle runs, which it ran before, and what became of the last one
/// it received.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the configuration version the agent runs, the previous one, and the last one received.",
        discussion: """
            Version 0 is the profile installed on disk (axled --profile). STATUS of the last version received is \
            APPLYING, TRIAL (running until its health check decides), APPLIED, FAILED (never ran; REASON says why) or \
            ROLLED_BACK (ran and was switched back). A push must be above the high-water mark. --json prints the \
            report as the agent publishes it (null before the agent has one).

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions

    func run() throws {
        try options.show(
            { client throws(ControlClientError) in
                do throws(ControlClientError) {
                    return try client.configuration()
                } catch where error.failure?.code == .unknownRequest {
                    throw ControlClientError(
                        error.code, path: error.path,
                        message: "the agent does not know 'config': it is older than this axle (\(AxleVersion.current)); "
                            + "update axled to see its configuration state",
                        failure: error.failure)
                }
            },
            json: { $0.toJSON() }, text: AgentText.configuration)
    }
}

extension AgentText {
    /// How many hex digits of a bundle's SHA-256 are shown: enough to tell bundles apart, as `git` shortens commits.
    static let shortHashDigits = 12

    /// `axle config`'s text.
    static func configuration(_ state: ConfigurationState) -> String {
        guard let document = state.report else { return "no configuration report yet\n" }
        let report: ConfigurationReport
        do {
            report = try ConfigurationReport.parse(document)
        } catch {
            return "the agent's configuration report cannot be read: \(shown(error.description))\n"
        }
        var out = "active          " + installed(report.active) + "\n"
        out += "previous        " + (report.previous.map(installed) ?? "none") + "\n"
        if let last = report.last {
            out += "last received   version \(last.version), bundle \(shortHash(last.bundleSHA256)): \(last.status.rawValue)"
            if let reason = last.reason { out += " (\(shown(reason)))" }
            out += "\n"
            if let text = last.text {
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) { out += "                \(shown(String(line)))\n" }
            }
        } else {
            out += "last received   none\n"
        }
        out += "high-water mark \(report.highWaterMark) (a push must be above it)\n"
        if report.atMillis > 0 { out += "reported        \(time(report.atMillis))\n" }
        return out
    }

    /// `axle status`'s line: "version 2 (demo-sedan), previous 0; last received 3: ROLLED_BACK (health_check_failed)".
    static func configurationSummary(_ document: JSONValue) -> String {
        guard let report = try? ConfigurationReport.parse(document) else { return "the agent's report cannot be read" }
        var out = "version \(report.active.version) (\(shown(report.active.profile)))"
        if let previous = report.previous { out += ", previous \(previous.version)" }
        if let last = report.last, last.version != report.active.version || last.status != .applied {
            out += "; last received \(last.version): \(last.status.rawValue)"
            if let reason = last.reason { out += " (\(shown(reason)))" }
        }
        return out
    }

    /// "version 2, profile demo-sedan, bundle 3fa2c1d0e5b7", or for version 0 "…, installed on disk".
    private static func installed(_ version: ConfigurationReport.Installed) -> String {
        "version \(version.version), profile \(shown(version.profile)), "
            + (version.bundleSHA256.map { "bundle \(shortHash($0))" } ?? "installed on disk")
    }

    private static func shortHash(_ digest: String) -> String {
        shown(String(digest.prefix(shortHashDigits)))
    }
}
