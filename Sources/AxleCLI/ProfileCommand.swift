import ArgumentParser
import AxleBase
import DBC
import FirmwareProfile
import TOML

/// `axle profile …`: check and show firmware profiles.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Validate and show firmware profiles (a folder with profile.toml and its DBC files).",
        discussion: "docs/profiles.md describes every key of profile.toml and every check.",
        subcommands: [ProfileValidateCommand.self, ProfileShowCommand.self]
    )
}

/// `axle profile validate`: every problem of a profile folder, with file:line, or one line saying it is valid.
struct ProfileValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a firmware profile and list every problem with its file and line.",
        discussion: "Exit codes: 0 the profile is valid (warnings allowed); 1 it has errors."
    )

    @Argument(help: ArgumentHelp("The profile folder (it holds profile.toml).", valueName: "dir"))
    var directory: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let report = ProfileLoader.validate(directory: directory)
        let output = TextOutput()
        if json {
            output.write(ProfileDescription.validationJSON(report).rendered(indent: 2) + "\n")
        } else {
            output.write(ProfileDescription.validationText(report))
        }
        output.flush()
        if !report.isValid { throw ExitCode(1) }
    }
}

/// `axle profile show`: what a profile holds, as tables (or JSON).
struct ProfileShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a firmware profile's buses, signal catalog, rules, events, commands and features.",
        discussion: "A profile with errors is not shown; its problems are listed as by 'axle profile validate'."
    )

    @Argument(help: ArgumentHelp("The profile folder (it holds profile.toml).", valueName: "dir"))
    var directory: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let report = ProfileLoader.validate(directory: directory)
        let output = TextOutput()
        guard let profile = report.profile, report.isValid else {
            output.write(ProfileDescription.validationText(report))
            output.flush()
            throw ExitCode(1)
        }
        if json {
            output.write(ProfileDescription.json(profile).rendered(indent: 2) + "\n")
        } else {
            output.write(ProfileDescription.text(profile))
            for warning in report.warnings { output.write("\(warning)\n") }
        }
    }
}

/// Renders profiles and validation reports for people (text) and for programs (JSON).
enum ProfileDescription {
    // MARK: Validation

    static func validationText(_ report: ProfileValidationReport) -> String {
        var out = ""
        if let profile = report.profile, report.isValid {
            out += "\(profile.name) \(profile.firmware): valid — \(counts(profile))"
            if !report.warnings.isEmpty { out += " (\(plural(report.warnings.count, "warning")))" }
            out += "\n"
            for warning in report.warnings { out += "\(warning)\n" }
            return out
        }
        for problem in report.problems { out += "\(problem)\n" }
        var tally = plural(report.errors.count, "error")
        if !report.warnings.isEmpty { tally += ", " + plural(report.warnings.count, "warning") }
        out += "\(tally): the profile in \(report.directory) cannot be used until the errors are fixed\n"
        return out
    }

    static func validationJSON(_ report: ProfileValidationReport) -> JSONValue {
        .object([
            ("valid", .bool(report.isValid)),
            ("profile", report.profile.map(summaryJSON) ?? .null),
            ("problems", .array(report.problems.map { problem in
                .object([
                    ("path", .string(problem.path)),
                    ("line", .integer(Int128(problem.line))),
                    ("severity", .string(problem.severity)),
                    ("message", .string(problem.message)),
                ])
            })),
        ])
    }

    static func summaryJSON(_ profile: FirmwareProfile) -> JSONValue {
        .object([
            ("name", .string(profile.name)),
            ("platform", .string(profile.platform)),
            ("firmware", .string(profile.firmware)),
            ("directory", .string(profile.directory)),
            ("buses", .integer(Int128(profile.buses.count))),
            ("signals", .integer(Int128(profile.catalog.count))),
            ("rules", .integer(Int128(profile.rules.count))),
            ("events", .integer(Int128(profile.events.count))),
            ("commands", .integer(Int128(profile.commands.count))),
            ("areas", .integer(Int128(profile.areas.count))),
        ])
    }

    /// A catalog entry's source: `Message.Signal` (after its bus when the profile has several), or `gpsd QUANTITY`;
    /// `Message.Signal + gpsd QUANTITY` for a name both feed.
    static func source(of entry: CatalogSignal, showBus: Bool) -> String {
        if entry.bus.isEmpty { return entry.sourceDescription }
        let bus = (showBus ? entry.bus + " " : "") + entry.message + "." + entry.signal
        return entry.location.map { bus + " + gpsd " + $0.rawValue } ?? bus
    }

    /// "1 bus, 28 signals, 9 rules, 5 events, 7 commands" (and areas when there are any).
    static func counts(_ profile: FirmwareProfile) -> String {
        var parts = [
            plural(profile.buses.count, "bus", "buses"), plural(profile.catalog.count, "signal"),
            plural(profile.rules.count, "rule"), plural(profile.events.count, "event"),
            plural(profile.commands.count, "command"),
        ]
        if !profile.areas.isEmpty { parts.append(plural(profile.areas.count, "area")) }
        return parts.joined(separator: ", ")
    }

    // MARK: Show as text

    static func text(_ profile: FirmwareProfile) -> String {
        var out = "\(profile.name) \(profile.firmware) — \(profile.platform)\n\(profile.directory): \(counts(profile))\n"

        out += "\nBuses\n"
        out += table(["NAME", "DBC", "FD", "MESSAGES"], profile.buses.map { bus in
            [bus.name, bus.dbcPath, bus.isFD ? "yes" : "no", String(bus.database.messages.count)]
        })

        out += "\nSignals\n"
        let showBus = profile.buses.count > 1
        // The RANGE column only when an entry departs from the default, so that most profiles show no column of "check".
        let showRange = profile.catalog.contains { $0.range != .check }
        out += table(["VSS NAME", "SOURCE", "UNIT", "STALE AFTER"] + (showRange ? ["RANGE"] : []), profile.catalog.map { entry in
            [entry.name, Self.source(of: entry, showBus: showBus), entry.unit.isEmpty ? "-" : entry.unit,
             duration(entry.staleAfterSeconds)] + (showRange ? [entry.range.rawValue] : [])
        })

        if let location = profile.location {
            out += "\nLocation (gpsd \(location.host):\(location.port), prefer \(location.prefer.rawValue))\n"
            out += table(["VSS NAME", "QUANTITY"], location.signals.map { [$0.name, $0.quantity.rawValue] })
        }

        if let diagnostics = profile.diagnostics {
            out += diagnosticsText(diagnostics)
        }

        if !profile.areas.isEmpty {
            out += "\nAreas\n"
            out += table(["NAME", "POSITION", "CIRCLES"], profile.areas.map { area in
                [area.name, area.latitudeSignal + ", " + area.longitudeSignal,
                 area.circles.map { "\($0.latitude),\($0.longitude) r=\(number($0.radiusMetres))m" }.joined(separator: "; ")]
            })
        }

        out += "\nRules\n"
        out += table(["NAME", "MODE", "ENABLED", "SIGNALS"], profile.rules.map { rule in
            [rule.name, mode(rule.mode), rule.enabled ? "yes" : "no", rule.signals.joined(separator: ", ")]
        })

        out += "\nEvents\n"
        out += table(["NAME", "PRIORITY", "WINDOW", "WHEN"], profile.events.map { event in
            [event.name, event.priority.rawValue + (event.enabled ? "" : " (disabled)"),
             "-\(duration(event.preTriggerSeconds)) +\(duration(event.postTriggerSeconds))", profile.text(of: event.condition)]
        })

        out += "\nCommands\n"
        out += table(["NAME", "FRAME", "SET", "PRECONDITION", "CONFIRM"], profile.commands.map { command in
            [command.name, frame(of: command), settings(of: command, in: profile), command.precondition.map(profile.text(of:)) ?? "-",
             (command.confirmation.map(profile.text(of:)) ?? "-") + " within \(duration(command.timeoutSeconds))"]
        })
        let parameters = profile.commands.flatMap { command in command.parameters.map { (command.name, $0) } }
        if !parameters.isEmpty {
            out += "\nCommand parameters\n"
            out += table(["COMMAND", "PARAMETER", "RANGE", "DEFAULT"], parameters.map { command, parameter in
                let unit = parameter.unit.isEmpty ? "" : " " + parameter.unit
                return [command, parameter.name, "\(number(parameter.minimum))…\(number(parameter.maximum))\(unit)",
                        parameter.defaultValue.map { number($0) + unit } ?? "required"]
            })
        }

        // No PRECONDITION or CONFIRM column: the agent sends a feature's frames whenever its entitlement turns on or
        // off and checks neither (FeatureManager, CommandExecutor.switchFeature).
        out += "\nFeatures\n"
        out += table(["NAME", "FRAME", "SET"], profile.features.map { feature in
            [feature.name, frame(of: feature.action), settings(of: feature.action, in: profile)]
        })
        return out
    }

    /// The `[diagnostics]` section: budget and ignition, the ECUs, DM1 listening (polled values are in the catalog).
    static func diagnosticsText(_ diagnostics: DiagnosticsConfiguration) -> String {
        var out = "\nDiagnostics (budget \(diagnostics.budgetText), \(number((diagnostics.framesPerSecond * 10).rounded() / 10)) frames/s; "
        out += diagnostics.ignition.map { "polls while \($0) is non-zero)\n" } ?? "polls whenever the agent runs)\n"
        out += table(["ECU", "PROTOCOL", "BUS", "REQUEST", "RESPONSE", "PADDING", "FAULTS", "POLLED"], diagnostics.ecus.map { ecu in
            let faults: String
            if let polling = ecu.faults {
                let what = ecu.diagnosticProtocol == .obd
                    ? (polling.includePending ? "modes 03+07" : "mode 03") : "0x19 mask 0x\(DiagnosticsHex.byte(polling.statusMask))"
                faults = "\(what) every \(duration(polling.intervalSeconds))"
            } else {
                faults = "-"
            }
            let polled = diagnostics.parameters.filter { $0.ecu == ecu.name }
            return [ecu.name, ecu.diagnosticProtocol.rawValue, ecu.bus,
                    "0x" + DiagnosticsHex.id(ecu.requestID, extended: ecu.isExtended),
                    "0x" + DiagnosticsHex.id(ecu.responseID, extended: ecu.isExtended),
                    ecu.padding.map { "0x" + DiagnosticsHex.byte($0) } ?? "none", faults,
                    polled.isEmpty ? "-" : "\(polled.count) (in Signals)"]
        })
        if let dm1 = diagnostics.dm1 {
            out += "  J1939 DM1 heard on bus \(dm1.bus); a node silent for \(duration(dm1.silenceSeconds)) has no active fault\n"
        }
        return out
    }

    static func diagnosticsJSON(_ diagnostics: DiagnosticsConfiguration) -> JSONValue {
        .object([
            ("ignition", .optional(diagnostics.ignition)), ("budget", .string(diagnostics.budgetText)),
            ("frames_per_s", .number(diagnostics.framesPerSecond)),
            ("ecus", .array(diagnostics.ecus.map { ecu in
                .object([
                    ("name", .string(ecu.name)), ("protocol", .string(ecu.diagnosticProtocol.rawValue)), ("bus", .string(ecu.bus)),
                    ("request_id", .integer(Int128(ecu.requestID))), ("response_id", .integer(Int128(ecu.responseID))),
                    ("extended", .bool(ecu.isExtended)), ("padding", ecu.padding.map { .integer(Int128($0)) } ?? .null),
                    ("timeout_s", .number(ecu.responseTimeoutSeconds)),
                    ("faults_s", ecu.faults.map { .number($0.intervalSeconds) } ?? .null), ("line", line(ecu.line)),
                ])
            })),
            ("signals", .array(diagnostics.parameters.map { parameter in
                .object([
                    ("name", .string(parameter.name)), ("ecu", .string(parameter.ecu)), ("source", .string(parameter.sourceText)),
                    ("unit", .string(parameter.unit)), ("every_s", .number(parameter.intervalSeconds)), ("line", line(parameter.line)),
                ])
            })),
            ("dm1", diagnostics.dm1.map { .object([("bus", .string($0.bus)), ("silence_s", .number($0.silenceSeconds))]) } ?? .null),
        ])
    }

    /// "TrunkCommand ×3 every 20ms".
    static func frame(of command: CommandDefinition) -> String {
        var frame = "\(command.message) ×\(command.repeats)"
        if command.repeats > 1 { frame += " every \(duration(command.intervalSeconds))" }
        return frame
    }

    /// "FeatureEnabled=$enabled FeatureId=1": the `set` table, sorted by signal.
    static func settings(of command: CommandDefinition, in profile: FirmwareProfile) -> String {
        let message = profile.bus(named: command.bus)?.database.message(named: command.message)
        return command.signals.keys.sorted().map { key -> String in
            switch command.signals[key]! {
            case .constant(let value):
                // A value the DBC labels is shown by its label, as the profile writes it.
                if let signal = message?.signal(named: key),
                    let label = signal.valueLabels.entries.first(where: { Double($0.value) * signal.factor + signal.offset == value })?.label
                {
                    return "\(key)=\(label)"
                }
                return "\(key)=\(number(value))"
            case .parameter(let name): return "\(key)=$\(name)"
            }
        }.joined(separator: " ")
    }

    static func mode(_ mode: CollectionMode) -> String {
        switch mode {
        case .periodic(let interval): "every \(duration(interval))"
        case .onChange(let deadband, let heartbeat):
            "on change ±\(number(deadband))" + (heartbeat.map { ", at least every \(duration($0))" } ?? "")
        case .aggregate(let window, let functions):
            functions.map(\.rawValue).joined(separator: "/") + " over \(duration(window))"
        }
    }

    /// Columns padded to their widest cell; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "  (none)\n" }
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        var out = ""
        for row in all {
            var line = " "
            for (column, cell) in row.enumerated() {
                line += " " + (column == row.count - 1 ? cell : DatabaseDescription.pad(cell, widths[column]))
            }
            out += line + "\n"
        }
        return out
    }

    // MARK: Show as JSON

    static func json(_ profile: FirmwareProfile) -> JSONValue {
        .object([
            ("name", .string(profile.name)),
            ("platform", .string(profile.platform)),
            ("firmware", .string(profile.firmware)),
            ("directory", .string(profile.directory)),
            ("buses", .array(profile.buses.map { bus in
                .object([("name", .string(bus.name)), ("dbc", .string(bus.dbcPath)), ("fd", .bool(bus.isFD)), ("line", line(bus.line))])
            })),
            ("signals", .array(profile.catalog.map { entry in
                .object([
                    ("name", .string(entry.name)), ("bus", .string(entry.bus)), ("message", .string(entry.message)),
                    ("signal", .string(entry.signal)), ("unit", .string(entry.unit)),
                    ("stale_after_s", .number(entry.staleAfterSeconds)), ("range", .string(entry.range.rawValue)),
                    ("location", entry.location.map { .string($0.rawValue) } ?? .null), ("line", line(entry.line)),
                ])
            })),
            ("location", profile.location.map { location in
                .object([
                    ("gpsd", .string("\(location.host):\(location.port)")), ("prefer", .string(location.prefer.rawValue)),
                    ("signals", .array(location.signals.map { .object([("name", .string($0.name)), ("quantity", .string($0.quantity.rawValue)), ("line", line($0.line))]) })),
                ])
            } ?? .null),
            ("diagnostics", profile.diagnostics.map(diagnosticsJSON) ?? .null),
            ("areas", .array(profile.areas.map { area in
                .object([
                    ("name", .string(area.name)), ("latitude", .string(area.latitudeSignal)),
                    ("longitude", .string(area.longitudeSignal)),
                    ("circles", .array(area.circles.map { circle in
                        .object([("latitude", .number(circle.latitude)), ("longitude", .number(circle.longitude)), ("radius_m", .number(circle.radiusMetres))])
                    })),
                    ("line", line(area.line)),
                ])
            })),
            ("rules", .array(profile.rules.map { rule in
                .object([
                    ("name", .string(rule.name)), ("signals", .array(rule.signals.map { .string($0) })),
                    ("mode", modeJSON(rule.mode)), ("enabled", .bool(rule.enabled)), ("line", line(rule.line)),
                ])
            })),
            ("events", .array(profile.events.map { event in
                .object([
                    ("name", .string(event.name)), ("when", .string(event.conditionText)),
                    ("parsed", .string(profile.text(of: event.condition))), ("priority", .string(event.priority.rawValue)),
                    ("capture", .array(event.capture.map { .string($0) })), ("pre_trigger_s", .number(event.preTriggerSeconds)),
                    ("post_trigger_s", .number(event.postTriggerSeconds)), ("enabled", .bool(event.enabled)),
                    ("line", line(event.line)),
                ])
            })),
            ("commands", .array(profile.commands.map { commandJSON($0, in: profile) })),
            // A feature is written as a command is (its name is the feature id); precondition, confirm and timeout_s
            // are what the profile says, though the agent does not use them for features.
            ("features", .array(profile.features.map { feature in
                var command = feature.action
                command.name = feature.name
                return commandJSON(command, in: profile)
            })),
        ])
    }

    static func commandJSON(_ command: CommandDefinition, in profile: FirmwareProfile) -> JSONValue {
        .object([
            ("name", .string(command.name)), ("bus", .string(command.bus)), ("message", .string(command.message)),
            ("set", .object(command.signals.keys.sorted().map { key in
                switch command.signals[key]! {
                case .constant(let value): (key, .number(value))
                case .parameter(let name): (key, .string("$" + name))
                }
            })),
            ("parameters", .array(command.parameters.map { parameter in
                .object([
                    ("name", .string(parameter.name)), ("min", .number(parameter.minimum)), ("max", .number(parameter.maximum)),
                    ("default", parameter.defaultValue.map { .number($0) } ?? .null), ("unit", .string(parameter.unit)),
                ])
            })),
            ("counter", .optional(command.counterSignal)), ("repeat", .integer(Int128(command.repeats))),
            ("interval_s", .number(command.intervalSeconds)),
            ("precondition", .optional(command.precondition.map(profile.text(of:)))),
            ("confirm", .optional(command.confirmation.map(profile.text(of:)))),
            ("timeout_s", .number(command.timeoutSeconds)), ("line", line(command.line)),
        ])
    }

    static func modeJSON(_ mode: CollectionMode) -> JSONValue {
        switch mode {
        case .periodic(let interval):
            .object([("periodic_s", .number(interval))])
        case .onChange(let deadband, let heartbeat):
            .object([("on_change", .object([("deadband", .number(deadband)), ("heartbeat_s", heartbeat.map { .number($0) } ?? .null)]))])
        case .aggregate(let window, let functions):
            .object([("aggregate", .object([("window_s", .number(window)), ("functions", .array(functions.map { .string($0.rawValue) }))]))])
        }
    }

    // MARK: Formatting

    static func line(_ value: Int) -> JSONValue { .integer(Int128(value)) }

    static func plural(_ count: Int, _ singular: String, _ pluralForm: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : pluralForm ?? singular + "s")"
    }

    static func number(_ value: Double) -> String {
        DatabaseDescription.format(value)
    }

    /// `250ms`, `10s`, `5min`, `2h`: the largest unit that gives a whole number, else seconds.
    static func duration(_ seconds: Double) -> String {
        if seconds == 0 { return "0s" }
        if seconds >= 3600, (seconds / 3600).rounded() == seconds / 3600 { return number(seconds / 3600) + "h" }
        if seconds >= 60, (seconds / 60).rounded() == seconds / 60 { return number(seconds / 60) + "min" }
        if seconds < 1 {
            let milliseconds = (seconds * 1000 * 1000).rounded() / 1000
            return number(milliseconds) + "ms"
        }
        return number(seconds) + "s"
    }
}
