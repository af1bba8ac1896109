import AgentControl
import ArgumentParser
import AxleBase
import Outbox

#if canImport(Glibc)
import Glibc
#endif

// `axle status`, `signals`, `outbox`, `events` and `rules` (`features` and `commands` are in
// CommandsAndFeaturesCommands.swift): the technician's view of a running agent, over its control socket
// (docs/control.md). When the agent is down, `status` and `outbox` read the outbox database file instead.

/// The exit codes every agent command documents.
let agentExitCodes = """
    Exit codes: 0 success; 1 failure (an error answer, permission denied, an unknown rule, an unreadable answer); \
    3 the agent is not running (even when the outbox file could be shown instead); 64 the command line is wrong.
    """

/// How to reach the agent, and the output format: shared by every agent command.
struct AgentOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The agent's control socket (default: $AXLE_SOCKET, else \(ControlClient.defaultPath)).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print one JSON document instead of text.")
    var json = false

    /// `--socket`, else `$AXLE_SOCKET`, else the default path.
    var socketPath: String { Self.socketPath(socket) }

    /// `socket` when given, else `$AXLE_SOCKET`, else the default path (`axle diag` finds the agent the same way).
    static func socketPath(_ socket: String?) -> String {
        if let socket { return socket }
        if let variable = getenv("AXLE_SOCKET"), variable.pointee != 0 { return String(cString: variable) }
        return ControlClient.defaultPath
    }

    var client: ControlClient { ControlClient(path: socketPath) }
}

/// Where the agent keeps its state: read when the agent is down.
struct DataDirectoryOption: ParsableArguments {
    static let defaultDirectory = "/var/lib/axle"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The agent's data directory; its outbox.db is read when the agent is not running (default: \(defaultDirectory)).",
            valueName: "dir"))
    var dataDir: String = DataDirectoryOption.defaultDirectory

    var outboxPath: String { dataDir + "/outbox.db" }

    /// The outbox database's statistics, read-only, or why they cannot be read.
    func readOutbox() -> Result<OutboxReport, CLIError> {
        do {
            let statistics = try OutboxStore.readStatistics(path: outboxPath)
            return .success(OutboxReport(statistics: statistics, path: outboxPath, nowMillis: wallClockMillis()))
        } catch {
            return .failure(CLIError("cannot read the outbox database either: \(error)"))
        }
    }
}

/// Turns a client error into what the command reports: "not running" on standard error with exit code 3, anything
/// else as a plain sentence with exit code 1.
extension AgentOptions {
    /// Asks the agent, then prints its answer as JSON (`--json`) or as text for people.
    func show<Report>(
        _ request: (ControlClient) throws(ControlClientError) -> Report, json: (Report) -> JSONValue,
        text: (Report) -> String
    ) throws {
        let report: Report
        do throws(ControlClientError) {
            report = try request(client)
        } catch {
            throw reportFailure(error)
        }
        let output = TextOutput()
        output.write(self.json ? json(report).rendered(indent: 2) + "\n" : text(report))
        output.flush()
    }
}

private func reportFailure(_ error: ControlClientError) -> any Error {
    guard error.isAgentNotRunning else { return CLIError(error.description) }
    TextOutput.standardError().write(error.description + "\n")
    return ExitCode(3)
}

/// `axle status`: the agent's health at a glance.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the agent's version, profile, uptime, buses, uplink, outbox and recent errors.",
        discussion: """
            When the agent is not running, says so on standard error and shows the outbox database \
            (<data-dir>/outbox.db, read-only) instead.

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup var data: DataDirectoryOption

    func run() throws {
        let output = TextOutput()
        defer { output.flush() }
        do throws(ControlClientError) {
            let report = try options.client.status()
            output.write(options.json ? report.toJSON().rendered(indent: 2) + "\n" : AgentText.status(report, nowMillis: wallClockMillis()))
        } catch {
            guard error.isAgentNotRunning else { throw reportFailure(error) }
            TextOutput.standardError().write(error.description + "\n")
            let fromFile = data.readOutbox()
            if options.json {
                let outbox = try? fromFile.get()
                output.write(JSONValue.object([
                    ("agent", "not-running"),
                    ("socket", .string(options.socketPath)),
                    ("outbox", outbox.map { $0.toJSON() } ?? .null),
                    ("outbox_error", .optional(fromFile.failureDescription)),
                ]).rendered(indent: 2) + "\n")
            } else if case .success(let outbox) = fromFile {
                output.write("outbox, read from \(outbox.path) (the agent is not running):\n")
                output.write(AgentText.outboxSummary(outbox))
                output.write(formatTable(AgentText.classTable(outbox)))
            }
            if let problem = fromFile.failureDescription { TextOutput.standardError().write(problem + "\n") }
            throw ExitCode(3)
        }
    }
}

/// `axle signals`: the latest decoded values, once or refreshing.
struct SignalsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signals",
        abstract: "Show the latest decoded signal values with their VSS names, units and ages.",
        discussion: """
            FILTER is a case-insensitive substring ("speed") or, with * or ?, a glob over the whole name \
            ("Vehicle.Body.*"); it matches the VSS name or the DBC source (Message.Signal). A value of - was not \
            received yet.

            --watch refreshes in place on a terminal until Ctrl-C; into a pipe or file it prints one block per \
            interval (with --json, one JSON document per line).

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions

    @Argument(help: ArgumentHelp("Only signals matching this substring or glob.", valueName: "filter"))
    var filter: String?

    @Flag(name: .long, help: "Refresh until interrupted.")
    var watch = false

    @Option(name: .long, help: ArgumentHelp("Seconds between refreshes with --watch.", valueName: "seconds"))
    var interval: Double = 0.5

    @Option(name: .long, help: ArgumentHelp("With --watch: stop after this many refreshes.", valueName: "n"))
    var count: Int?

    func validate() throws {
        if !(interval >= 0.1) { throw ValidationError("--interval takes at least 0.1 seconds") }
        if let count, count <= 0 { throw ValidationError("--count takes a positive number") }
        if count != nil && !watch { throw ValidationError("--count needs --watch") }
    }

    func run() throws {
        let client = options.client
        let output = TextOutput()
        defer { output.flush() }
        guard watch else {
            let report = try fetch(client)
            output.write(options.json ? report.toJSON().rendered(indent: 2) + "\n" : AgentText.signals(report, filter: filter))
            return
        }
        let inPlace = isTerminal(1)
        var refreshes = 0
        var next = monotonicSeconds()
        while count.map({ refreshes < $0 }) ?? true {
            let report = try fetch(client)
            if options.json {
                output.write(report.toJSON().rendered() + "\n")
            } else {
                let header = "axle signals\(filter.map { " " + $0 } ?? "") at \(AgentText.time(wallClockMillis())), every \(AgentText.seconds(interval))"
                // Home and clear, then the whole block: the terminal shows one table, redrawn.
                if inPlace { output.write("\u{1B}[H\u{1B}[2J") } else if refreshes > 0 { output.write("\n") }
                output.write(header + (inPlace ? " (Ctrl-C to stop)" : "") + "\n")
                output.write(AgentText.signals(report, filter: filter))
            }
            output.flush()
            refreshes += 1
            guard count.map({ refreshes < $0 }) ?? true else { break }
            next += interval
            // Behind schedule (a slow answer, a suspended terminal): start again from now instead of catching up.
            if next < monotonicSeconds() { next = monotonicSeconds() }
            sleep(untilMonotonic: next)
        }
    }

    private func fetch(_ client: ControlClient) throws -> SignalsReport {
        do throws(ControlClientError) {
            return try client.signals(filter: filter)
        } catch {
            throw reportFailure(error)
        }
    }
}

/// `axle outbox`: what the outbox holds and what it lost.
struct OutboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Show the outbox: size, records waiting per class, oldest age, drops and evicted ranges.",
        discussion: """
            Asks the agent; when it is not running, says so on standard error and reads <data-dir>/outbox.db \
            read-only instead (the output then says so; with --json, "source" is "file" instead of "agent").

            \(agentExitCodes)
            """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup var data: DataDirectoryOption

    func run() throws {
        let output = TextOutput()
        defer { output.flush() }
        let report: OutboxReport
        let fromFile: Bool
        do throws(ControlClientError) {
            report = try options.client.outbox()
            fromFile = false
        } catch {
            guard error.isAgentNotRunning else { throw reportFailure(error) }
            TextOutput.standardError().write(error.description + "\n")
            switch data.readOutbox() {
            case .success(let read): report = read
            case .failure(let problem):
                TextOutput.standardError().write(problem.description + "\n")
                throw ExitCode(3)
            }
            fromFile = true
        }
        if options.json {
            guard case .object(let members) = report.toJSON() else { return }
            output.write(JSONValue.object([("source", .string(fromFile ? "file" : "agent"))] + members).rendered(indent: 2) + "\n")
        } else {
            if fromFile { output.write("read from \(report.path) (the agent is not running)\n") }
            output.write(AgentText.outbox(report))
        }
        if fromFile { throw ExitCode(3) }
    }
}

/// `axle events`: the most recent triggered events.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the most recent triggered events, newest first.",
        discussion: agentExitCodes
    )

    @OptionGroup var options: AgentOptions

    @Option(name: .long, help: ArgumentHelp("How many events (1-\(ControlRequest.maximumEventLimit)).", valueName: "n"))
    var limit: Int = ControlRequest.defaultEventLimit

    func validate() throws {
        guard (1...ControlRequest.maximumEventLimit).contains(limit) else {
            throw ValidationError("--limit takes a number from 1 to \(ControlRequest.maximumEventLimit)")
        }
    }

    func run() throws {
        try options.show({ client throws(ControlClientError) in try client.events(limit: limit) }, json: { $0.toJSON() }, text: AgentText.events)
    }
}

/// `axle rules`: the collection rules, and switching them at runtime.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List the collection rules, or switch one on or off at runtime.",
        discussion: """
            Switching a rule lasts until the agent restarts; it is allowed for root only.

            \(agentExitCodes)
            """,
        subcommands: [RulesListCommand.self, RulesEnableCommand.self, RulesDisableCommand.self],
        defaultSubcommand: RulesListCommand.self
    )
}

/// `axle rules list` (also plain `axle rules`).
struct RulesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the collection rules and whether each is on.",
        discussion: agentExitCodes
    )

    @OptionGroup var options: AgentOptions

    func run() throws {
        try options.show({ client throws(ControlClientError) in try client.rules() }, json: { $0.toJSON() }, text: AgentText.rules)
    }
}

/// `axle rules enable NAME`.
struct RulesEnableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Switch a collection rule on (root only).",
        discussion: agentExitCodes
    )

    @OptionGroup var options: AgentOptions

    @Argument(help: ArgumentHelp("The rule, as 'axle rules' lists it.", valueName: "name"))
    var name: String

    func run() throws {
        try switchRule(name, enabled: true, options: options)
    }
}

/// `axle rules disable NAME`.
struct RulesDisableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Switch a collection rule off (root only).",
        discussion: agentExitCodes
    )

    @OptionGroup var options: AgentOptions

    @Argument(help: ArgumentHelp("The rule, as 'axle rules' lists it.", valueName: "name"))
    var name: String

    func run() throws {
        try switchRule(name, enabled: false, options: options)
    }
}

private func switchRule(_ name: String, enabled: Bool, options: AgentOptions) throws {
    let rule: RuleSummary
    do throws(ControlClientError) {
        rule = try options.client.setRule(name: name, enabled: enabled)
    } catch {
        throw reportFailure(error)
    }
    let output = TextOutput()
    output.write(options.json ? rule.toJSON().rendered(indent: 2) + "\n" : "rule \(rule.name) is now \(rule.enabled ? "enabled" : "disabled")\n")
    output.flush()
}

extension Result {
    /// The failure's description, nil on success.
    fileprivate var failureDescription: String? {
        if case .failure(let error) = self { return "\(error)" }
        return nil
    }
}

/// The agent's reports as text for people.
enum AgentText {
    /// `3D fix, 9 of 14 satellites, 48.137154, 11.576124, 519 m (0.4s ago) from gpsd 127.0.0.1:2947`; without a fix,
    /// the last good position and its age.
    /// "diagnostics polling, 1,234 frames (budget 37/s)" and a line per ECU with its counts, faults and MIL.
    static func diagnosticsSummary(_ report: DiagnosticsReport) -> String {
        var out = "diagnostics \(report.polling ? "polling" : "stopped: ignition off"), \(report.frames) frames (budget \(Int(report.budgetFramesPerSecond.rounded()))/s)\n"
        for ecu in report.ecus {
            var line = "  \(shown(ecu.name)): \(ecu.requests) requests, \(ecu.answers) answered, \(ecu.refusals) refused, \(ecu.timeouts) timed out"
            if ecu.silent > 0 { line += " (silent \(ecu.silent) in a row: backed off)" }
            line += "; faults " + (ecu.faults.isEmpty ? "none" : ecu.faults.map(shown).joined(separator: ", "))
            if let mil = ecu.mil { line += ", MIL \(shown(mil))" }
            out += line + "\n"
            if let problem = ecu.lastProblem { out += "    last problem: \(shown(problem))\n" }
        }
        for node in report.dm1 { out += "  DM1 \(shown(node))\n" }
        return out
    }

    static func locationSummary(_ location: LocationReport) -> String {
        guard location.connected else {
            return "gpsd \(shown(location.gpsd)) not reachable" + lastPosition(location, prefix: "; last position ")
        }
        var out = location.mode >= 2 ? "\(location.modeName) fix" : location.modeName
        if let used = location.satellitesUsed {
            out += ", \(used)" + (location.satellitesSeen.map { " of \($0)" } ?? "") + " satellites"
        }
        if location.receiver == nil { out += ", no receiver" }
        out += lastPosition(location, prefix: location.mode >= 2 ? ", " : "; last position ")
        return out + " from gpsd \(shown(location.gpsd))"
    }

    private static func lastPosition(_ location: LocationReport, prefix: String) -> String {
        guard let fix = location.lastFix else { return location.mode >= 2 ? "" : "; no fix yet" }
        var out = prefix + String(format6(fix.latitude)) + ", " + format6(fix.longitude)
        if let altitude = fix.altitude { out += ", \(Int(altitude.rounded())) m" }
        return out + " (\(duration(fix.ageSeconds)) ago)"
    }

    /// Six decimals: about 0.1 m, what a receiver resolves.
    private static func format6(_ value: Double) -> String {
        let scaled = (value * 1_000_000).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Int64(abs(scaled))
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    static func status(_ report: StatusReport, nowMillis: Int64) -> String {
        var out = "axled \(shown(report.version)) (pid \(report.pid)), up \(duration(report.uptimeSeconds))\n"
        out += "profile     \(shown(report.profile)) (firmware \(shown(report.firmware))), vehicle \(shown(report.vehicleID))\n"
        out += "data        \(shown(report.dataDirectory))\n"

        out += "\n"
        if report.buses.isEmpty {
            out += "no buses configured\n"
        } else {
            var table = [["BUS", "INTERFACE", "STATE", "FRAMES", "FRAMES/S", "LOAD", "ERRORS"]]
            for bus in report.buses {
                table.append([
                    bus.name, bus.interface, bus.state.rawValue, String(bus.frames),
                    String(Int(bus.framesPerSecond.rounded())),
                    bus.loadPercent.map { "\(Int($0.rounded()))%" } ?? "-", String(bus.errors),
                ])
            }
            out += formatTable(table)
        }

        let uplink = report.uplink
        out += "\nuplink      " + (uplink.state == .connected ? "connected to \(shown(uplink.broker))" : "\(shown(uplink.state.description)) (\(shown(uplink.broker)))")
        if let since = uplink.sinceMillis { out += " since \(time(since))" }
        out += "; \(uplink.published) published, \(uplink.acknowledged) acknowledged, \(uplink.inFlight) in flight\n"
        if let lastError = uplink.lastError { out += "            last error: \(shown(lastError))\n" }
        let collection = report.collection
        out += "collection  \(collection.rulesEnabled) of \(collection.rulesTotal) rules and "
            + "\(collection.eventsEnabled) of \(collection.eventsTotal) events enabled, "
            + "\(collection.eventsTriggered) event\(collection.eventsTriggered == 1 ? "" : "s") triggered\n"
        if let location = report.location { out += "location    " + locationSummary(location) + "\n" }
        if let diagnostics = report.diagnostics { out += diagnosticsSummary(diagnostics) }
        if let configuration = report.configuration { out += "config      " + configurationSummary(configuration) + "\n" }
        out += "outbox      " + outboxSummary(report.outbox)
        out += formatTable(classTable(report.outbox))

        out += "\n"
        if report.lastErrors.isEmpty {
            out += "no recent errors\n"
        } else {
            out += "last errors, newest first:\n"
            let rows = report.lastErrors.map { ["  " + time($0.timeMillis), $0.component, $0.message] }
            out += formatTable(rows)
        }
        return out
    }

    /// Text from the agent (names, paths, messages, some from outside the vehicle) with control characters escaped,
    /// for the lines that are not tables (`formatTable` escapes its cells).
    static func shown(_ text: String) -> String {
        UntrustedText.printable(text)
    }

    /// One line: path, size against the cap, records waiting, oldest, losses.
    static func outboxSummary(_ report: OutboxReport) -> String {
        let dropped = report.classes.reduce(0) { $0 + $1.dropped }
        let refused = report.classes.reduce(0) { $0 + $1.refusedWhileFull }
        var facts = [
            "\(bytes(report.databaseBytes)) of \(bytes(report.capBytes))",
            "\(report.totalRecords) record\(report.totalRecords == 1 ? "" : "s") waiting",
        ]
        if let oldest = report.oldestAgeSeconds { facts.append("oldest \(duration(oldest))") }
        facts.append("\(dropped) dropped")
        if refused > 0 { facts.append("\(refused) refused while full") }
        if report.deadLetters > 0 { facts.append("\(report.deadLetters) dead letter\(report.deadLetters == 1 ? "" : "s")") }
        if report.intakePaused { facts.append("INTAKE PAUSED (disk full)") }
        return facts.joined(separator: ", ") + "\n"
    }

    static func classTable(_ report: OutboxReport) -> [[String]] {
        [["CLASS", "RECORDS", "BYTES", "OLDEST", "DROPPED", "REFUSED"]] + report.classes.map {
            [
                $0.name, String($0.records), bytes($0.bytes), $0.oldestAgeSeconds.map(duration) ?? "-", String($0.dropped),
                String($0.refusedWhileFull),
            ]
        }
    }

    static func outbox(_ report: OutboxReport) -> String {
        let percent = report.capBytes > 0 ? " (\(Int((Double(report.databaseBytes) * 100 / Double(report.capBytes)).rounded()))%)" : ""
        var out = "path           \(shown(report.path))\n"
        out += "size           \(bytes(report.databaseBytes)) of \(bytes(report.capBytes))\(percent)\n"
        out += "waiting        \(report.totalRecords) record\(report.totalRecords == 1 ? "" : "s")"
        if let oldest = report.oldestAgeSeconds { out += ", oldest \(duration(oldest))" }
        out += "\n"
        out += "last sequence  \(report.lastSequence)\n"
        out += "dead letters   \(report.deadLetters)\n"
        out += "intake         "
            + (report.intakePaused ? "PAUSED: the disk is full, non-critical records are refused\n" : "accepting\n")
        out += "\n" + formatTable(classTable(report))
        out += "\n"
        if report.evictedRanges.isEmpty {
            out += "no records were evicted or expired\n"
        } else {
            out += "evicted or expired, newest last:\n"
            var table = [["CLASS", "FIRST", "LAST", "COUNT", "REASON", "AT"]]
            for range in report.evictedRanges {
                table.append([
                    range.className, String(range.first), String(range.last), String(range.count), range.reason,
                    time(range.atMillis),
                ])
            }
            out += formatTable(table)
        }
        return out
    }

    static func signals(_ report: SignalsReport, filter: String?) -> String {
        guard !report.signals.isEmpty else {
            return filter.map { "no signal matches '\($0)'\n" } ?? "the agent has no signals\n"
        }
        var table = [["NAME", "VALUE", "UNIT", "AGE", "BUS", "SOURCE"]]
        for signal in report.signals {
            var value = signal.value.map(number) ?? "-"
            if let label = signal.label { value += " (\(label))" }
            // The newest value is not a reading: say what the vehicle sent instead of a number.
            switch signal.availability {
            case "not_available": value = "not available"
            case "error": value = "error"
            default: break
            }
            table.append([signal.name, value, signal.unit, signal.ageSeconds.map(seconds) ?? "-", signal.bus, signal.source])
        }
        return formatTable(table)
    }

    static func events(_ report: EventsReport) -> String {
        guard !report.events.isEmpty else { return "no events triggered yet\n" }
        var table = [["TIME", "EVENT", "PRIORITY", "SAMPLES", "SEQUENCE", "CONDITION"]]
        for event in report.events {
            table.append([
                time(event.timeMillis), event.name, event.priority, String(event.samples),
                event.sequence.map(String.init) ?? "-", event.condition,
            ])
        }
        return formatTable(table)
    }

    static func rules(_ report: RulesReport) -> String {
        guard !report.rules.isEmpty else { return "the profile has no collection rules\n" }
        return formatTable([["RULE", "KIND", "ENABLED"]] + report.rules.map { [$0.name, $0.kind, $0.enabled ? "yes" : "no"] })
    }

    /// A value for people: whole numbers without ".0", others rounded to 6 decimals.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.description }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return ((value * 1e6).rounded() / 1e6).description
    }

    /// Seconds with one decimal below a minute ("0.1s", "42.0s"), else as a duration.
    static func seconds(_ value: Double) -> String {
        value < 60 ? "\((value * 10).rounded() / 10)s" : duration(value)
    }

    /// "3.5s", "12m 34s", "3h 12m", "2d 4h".
    static func duration(_ value: Double) -> String {
        if value < 10 { return "\((max(0, value) * 10).rounded() / 10)s" }
        let total = Int(value.rounded())
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return "\(total / 60)m \(total % 60)s"
        case ..<86_400: return "\(total / 3600)h \(total % 3600 / 60)m"
        default: return "\(total / 86_400)d \(total % 86_400 / 3600)h"
        }
    }

    /// Binary units, as `du -h` counts: "512 B", "1.3 MiB".
    static func bytes(_ value: Int64) -> String {
        guard value >= 1024 else { return "\(value) B" }
        var scaled = Double(value)
        for unit in ["KiB", "MiB", "GiB", "TiB"] {
            scaled /= 1024
            if scaled < 1024 || unit == "TiB" {
                let rounded = (scaled * 10).rounded() / 10
                return (rounded == rounded.rounded() ? String(Int64(rounded)) : rounded.description) + " " + unit
            }
        }
        return "\(value) B"
    }

    /// Unix milliseconds as UTC, "2026-01-01 00:00:00Z": the agent's and the laptop's time zones may differ.
    static func time(_ millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return String(millis) }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
