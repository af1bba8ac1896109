import ConfigBundle
import DBC
import TOML
import FirmwareProfile

// Whether a pushed profile may run on this vehicle (docs/configuration.md, "What a pushed profile may change"): it must
// validate exactly as `axle profile validate` says, and it must not widen what the vehicle may do. A signed bundle
// proves who sent the profile, not that the vehicle's owner agreed to new frames on its buses: that is axled.toml's
// to say, and a push cannot change axled.toml.

/// What a pushed profile may hold: the command names, the CAN ids written and the diagnostic services that
/// `[configuration]` of axled.toml allows, or, for a list it does not give, what the installed profile
/// (`axled --profile`) has. A candidate may narrow each list, never widen it; and its buses must be the installed
/// profile's, since axled.toml maps each by name to an interface.
public struct ProfileAllowList: Sendable, Equatable {
    /// Command and feature names (`[commands."NAME"]`, `[features."NAME"]`).
    public var commands: Set<String>
    /// CAN ids the agent may write, as a DBC writes them (29-bit ids with bit 31 set): the messages of command and
    /// feature definitions, and the request ids of diagnostic ECUs.
    public var writeIDs: Set<UInt32>
    /// Diagnostic request services (the first byte of a request) the profile's `[diagnostics]` may use.
    public var diagnosticServices: Set<UInt8>
    /// The installed profile's bus names.
    public var buses: Set<String>
    /// Where each list comes from, for messages: axled.toml's key, or the installed profile.
    var commandsOrigin: String
    var writeIDsOrigin: String
    var servicesOrigin: String

    /// The lists of `settings`, and for each list it leaves out, what `installed` has.
    public init(settings: ConfigurationUpdateSettings, installed: FirmwareProfile) {
        let profileOrigin = "the installed profile \(installed.name)"
        commands = Set(settings.allowedCommands ?? Self.commandNames(of: installed).map(\.name))
        commandsOrigin = settings.allowedCommands == nil ? profileOrigin : "[configuration] allow-commands"
        writeIDs = Set(settings.allowedWriteIDs ?? Self.writeIDs(of: installed).map(\.id))
        writeIDsOrigin = settings.allowedWriteIDs == nil ? profileOrigin : "[configuration] allow-write-ids"
        diagnosticServices = Set(settings.allowedDiagnosticServices ?? Self.diagnosticServices(of: installed).map(\.service))
        servicesOrigin = settings.allowedDiagnosticServices == nil ? profileOrigin : "[configuration] allow-diagnostic-services"
        buses = Set(installed.buses.map(\.name))
    }

    /// What `candidate` holds beyond this allow-list, one sentence each with the profile's file and line; empty when
    /// it may run.
    public func problems(in candidate: FirmwareProfile) -> [String] {
        let file = candidate.directory + "/" + ProfileLoader.fileName
        var problems: [String] = []
        let candidateBuses = Set(candidate.buses.map(\.name))
        if candidateBuses != buses {
            let line = candidate.buses.first { !buses.contains($0.name) }?.line ?? 0
            problems.append(
                "\(file):\(line): error: the buses \(Self.list(candidateBuses.sorted())) are not the installed profile's "
                    + "(\(Self.list(buses.sorted()))): buses are wiring, mapped to interfaces by axled.toml, and a pushed "
                    + "profile cannot rename, add or remove them")
        }
        for (name, line) in Self.commandNames(of: candidate) where !commands.contains(name) {
            problems.append(
                "\(file):\(line): error: the command \"\(name)\" is not allowed: a pushed profile may only hold the commands "
                    + "of \(commandsOrigin) (\(Self.list(commands.sorted().map { "\"\($0)\"" })))")
        }
        var reported: Set<UInt32> = []
        for (id, line, user) in Self.writeIDs(of: candidate) where !writeIDs.contains(id) && reported.insert(id).inserted {
            problems.append(
                "\(file):\(line): error: \(user) would write the CAN id \(Self.hex(id)), which is not allowed: a pushed "
                    + "profile may only write the CAN ids of \(writeIDsOrigin) (\(Self.list(writeIDs.sorted().map(Self.hex))))")
        }
        var reportedServices: Set<UInt8> = []
        for (service, line, user) in Self.diagnosticServices(of: candidate)
        where !diagnosticServices.contains(service) && reportedServices.insert(service).inserted {
            problems.append(
                "\(file):\(line): error: \(user) would use the diagnostic service \(Self.serviceText(service)), which is "
                    + "not allowed: a pushed profile may only use the services of \(servicesOrigin) "
                    + "(\(Self.list(diagnosticServices.sorted().map(Self.serviceHex))))")
        }
        return problems
    }

    // MARK: What a profile holds

    /// Every command and feature name, with its line.
    static func commandNames(of profile: FirmwareProfile) -> [(name: String, line: Int)] {
        profile.commands.map { ($0.name, $0.line) } + profile.features.map { ($0.name, $0.action.line) }
    }

    /// Every CAN id the profile makes the agent write, with its line and what writes it.
    static func writeIDs(of profile: FirmwareProfile) -> [(id: UInt32, line: Int, user: String)] {
        var ids: [(id: UInt32, line: Int, user: String)] = []
        let definitions = profile.commands.map { ("the command \"\($0.name)\"", $0) }
            + profile.features.map { ("the feature \"\($0.name)\"", $0.action) }
        for (user, definition) in definitions {
            // A validated profile's command names a message of its bus's DBC; the loader has checked that.
            guard let message = profile.bus(named: definition.bus)?.database.message(named: definition.message) else { continue }
            ids.append((dbcID(message.id, extended: message.isExtended), definition.line, "\(user) (message \(message.name))"))
        }
        for ecu in profile.diagnostics?.ecus ?? [] {
            ids.append((dbcID(ecu.requestID, extended: ecu.isExtended), ecu.line, "the diagnostic ECU \"\(ecu.name)\" (its request id)"))
        }
        return ids
    }

    /// Every diagnostic request service the profile's `[diagnostics]` makes the agent send (what
    /// DiagnosticScheduler and DiagnosticsEngine send for it), with its line and what uses it. J1939 DM1 listening
    /// sends nothing.
    static func diagnosticServices(of profile: FirmwareProfile) -> [(service: UInt8, line: Int, user: String)] {
        guard let diagnostics = profile.diagnostics else { return [] }
        var services: [(service: UInt8, line: Int, user: String)] = []
        for parameter in diagnostics.parameters {
            let service: UInt8 =
                switch parameter.source {
                case .pid: 0x01
                case .did: 0x22
                }
            services.append((service, parameter.line, "the polled signal \"\(parameter.name)\""))
        }
        for ecu in diagnostics.ecus {
            guard let faults = ecu.faults else { continue }
            let user = "fault polling of the ECU \"\(ecu.name)\""
            switch ecu.diagnosticProtocol {
            case .obd:
                // The MIL (mode 01 PID 01), then the stored codes (mode 03) and the pending ones (mode 07).
                services += [(0x01, ecu.line, user), (0x03, ecu.line, user)]
                if faults.includePending { services.append((0x07, ecu.line, user)) }
            case .uds:
                services.append((0x19, ecu.line, user))
            }
        }
        return services
    }

    // MARK: Text

    /// A CAN id as the DBC writes it: bit 31 set for a 29-bit id.
    static func dbcID(_ id: UInt32, extended: Bool) -> UInt32 {
        extended ? id | 0x8000_0000 : id
    }

    /// "0x200", or "0x18DA10F1 (29-bit)".
    static func hex(_ id: UInt32) -> String {
        let extended = id & 0x8000_0000 != 0
        return "0x" + String(id & 0x1FFF_FFFF, radix: 16, uppercase: true) + (extended ? " (29-bit)" : "")
    }

    static func serviceHex(_ service: UInt8) -> String {
        "0x" + (service < 0x10 ? "0" : "") + String(service, radix: 16, uppercase: true)
    }

    /// "0x22 (UDS ReadDataByIdentifier)".
    static func serviceText(_ service: UInt8) -> String {
        let names: [UInt8: String] = [
            0x01: "OBD-II current data", 0x03: "OBD-II stored fault codes", 0x07: "OBD-II pending fault codes",
            0x19: "UDS ReadDTCInformation", 0x22: "UDS ReadDataByIdentifier",
        ]
        return serviceHex(service) + (names[service].map { " (\($0))" } ?? "")
    }

    static func list(_ items: [String]) -> String {
        items.isEmpty ? "none" : items.joined(separator: ", ")
    }
}

/// Why a staged profile may not run: the `reason` of the FAILED report (`invalid` or `not_allowed`) and what is
/// wrong, with file:line.
public struct StagedProfileProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var failure: ConfigurationFailure
    public var text: String

    public init(_ failure: ConfigurationFailure, _ text: String) {
        self.failure = failure
        self.text = text
    }

    public var description: String { "\(failure.rawValue): \(text)" }
}

/// The check of a staged profile before the agent switches to it.
public enum StagedProfileCheck {
    /// The most problems a report's text carries: it travels on a retained MQTT message, and the first few say
    /// what to fix (`axle profile validate` on the same folder lists all of them).
    static let maximumProblems = 10

    /// The profile staged in `directory` when it validates exactly as `axle profile validate` checks it
    /// (`ProfileLoader.validate`) and stays within `allowList`; else why not. `installed` is the profile the vehicle
    /// started with, for the allow-list's defaults (already in `allowList`) and its buses. The problem's text names
    /// files relative to the profile (`profile.toml:42: error: …`), as the bundle's sender knows them: the staging
    /// folder is the vehicle's and is removed.
    public static func check(
        directory: String, installed: FirmwareProfile, allowList: ProfileAllowList
    ) -> Result<FirmwareProfile, StagedProfileProblem> {
        let report = ProfileLoader.validate(directory: directory)
        guard let candidate = report.profile, report.isValid else {
            let errors = report.errors.map { relative($0.description, to: directory) }
            return .failure(StagedProfileProblem(
                .invalid,
                "the profile does not validate (as 'axle profile validate' checks it): " + summary(errors, noun: "error")))
        }
        let problems = allowList.problems(in: candidate).map { relative($0, to: candidate.directory) }
        guard problems.isEmpty else {
            return .failure(StagedProfileProblem(
                .notAllowed,
                "the profile would widen what this vehicle allows (axled.toml's [configuration]): "
                    + summary(problems, noun: "problem")))
        }
        return .success(candidate)
    }

    /// `line` without the leading `directory/`.
    static func relative(_ line: String, to directory: String) -> String {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : line
    }

    /// The first `maximumProblems` lines, and how many more there are.
    static func summary(_ lines: [String], noun: String) -> String {
        var text = lines.prefix(maximumProblems).joined(separator: "\n")
        if lines.count > maximumProblems {
            text += "\n… and \(lines.count - maximumProblems) more \(noun)\(lines.count - maximumProblems == 1 ? "" : "s")"
        }
        return text
    }
}
