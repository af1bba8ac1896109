import AxleBase
import Diagnostics
import FirmwareProfile
import RemoteCommands

/// The remote diagnostic commands (docs/commands.md, "Remote diagnostics"): `diagnostics.read_dtc`,
/// `diagnostics.clear_dtc`, `diagnostics.read_vin` and `diagnostics.read`. A plan is made on the command service's
/// thread, where the parameters are checked against the profile's `[diagnostics]`; it is run where blocking is allowed
/// (the agent's diagnostic-command thread), each question going through the diagnostics service's request queue so
/// that the poll schedule and `axle diag` never talk to the same ECU at the same moment.
///
/// Its answer is the command's result, an object any backend can read (docs/commands.md gives each shape).
public struct DiagnosticCommandPlan: Sendable {
    /// The command names this plan serves.
    public static let names: Set<String> = [
        "diagnostics.read_dtc", "diagnostics.clear_dtc", "diagnostics.read_vin", "diagnostics.read",
    ]

    /// One value `diagnostics.read` asks for.
    public struct Reading: Sendable, Equatable {
        /// The catalog name (a `[diagnostics.signals]` entry) or the standard OBD-II PID name asked for.
        public var name: String
        public var ecu: DiagnosticECU
        public var source: DiagnosticParameter.Source
        public var unit: String
    }

    public enum Action: Sendable, Equatable {
        case readTroubleCodes
        case clearTroubleCodes
        case readVIN
        case read([Reading])
    }

    public let name: String
    public let action: Action
    /// The ECUs asked, in the profile's order.
    public let ecus: [DiagnosticECU]

    /// What `run` asks: the ECU's `[diagnostics.ecus]` name, the request (service byte first) and P2 in seconds.
    public typealias Ask = (_ ecu: String, _ request: [UInt8], _ timeoutSeconds: Double) -> DiagnosticAnswer

    /// The plan for command `name` with its (verified) parameters; throws a text for the sender when the profile
    /// cannot serve it (no `[diagnostics]`, an unknown ECU or value name).
    public static func plan(
        name: String, parameters: [String: CommandValue], profile: FirmwareProfile
    ) throws(DiagnosticCommandError) -> DiagnosticCommandPlan {
        guard let diagnostics = profile.diagnostics, !diagnostics.ecus.isEmpty else {
            throw DiagnosticCommandError(.unknownCommand, "the profile \(profile.name) defines no ECU to ask ([diagnostics] has none)")
        }
        var ecus = diagnostics.ecus
        if case .string(let wanted)? = parameters["ecu"] {
            guard let ecu = diagnostics.ecu(named: wanted) else {
                throw DiagnosticCommandError(
                    .badParameters, "no ECU \(UntrustedText.quoted(wanted)); the profile's ECUs are \(diagnostics.ecus.map(\.name).joined(separator: ", "))")
            }
            ecus = [ecu]
        }
        switch name {
        case "diagnostics.read_dtc":
            return DiagnosticCommandPlan(name: name, action: .readTroubleCodes, ecus: ecus)
        case "diagnostics.clear_dtc":
            return DiagnosticCommandPlan(name: name, action: .clearTroubleCodes, ecus: ecus)
        case "diagnostics.read_vin":
            return DiagnosticCommandPlan(name: name, action: .readVIN, ecus: ecus)
        case "diagnostics.read":
            guard case .string(let list)? = parameters["names"] else {
                throw DiagnosticCommandError(.badParameters, "give the values to read as names=NAME,NAME")
            }
            let wanted = list.split(separator: ",").map { $0.trimmedOfWhitespace() }.filter { !$0.isEmpty }
            guard !wanted.isEmpty else { throw DiagnosticCommandError(.badParameters, "names is empty") }
            var readings: [Reading] = []
            for text in wanted {
                readings.append(try reading(named: text, diagnostics: diagnostics, ecus: ecus))
            }
            let asked = Set(readings.map(\.ecu.name))
            return DiagnosticCommandPlan(name: name, action: .read(readings), ecus: ecus.filter { asked.contains($0.name) })
        default:
            throw DiagnosticCommandError(.unknownCommand, "'\(name)' is no diagnostic command")
        }
    }

    /// A `[diagnostics.signals]` entry by its catalog name, else a standard OBD-II PID by name (`coolant_temperature`)
    /// or number (`0x05`), asked of the first OBD ECU among `ecus`.
    private static func reading(
        named text: String, diagnostics: DiagnosticsConfiguration, ecus: [DiagnosticECU]
    ) throws(DiagnosticCommandError) -> Reading {
        let allowed = Set(ecus.map(\.name))
        if let parameter = diagnostics.parameters.first(where: { $0.name == text }) {
            guard allowed.contains(parameter.ecu), let ecu = diagnostics.ecu(named: parameter.ecu) else {
                throw DiagnosticCommandError(.badParameters, "\(text) is read from the ECU \(parameter.ecu), not the one asked")
            }
            return Reading(name: text, ecu: ecu, source: parameter.source, unit: parameter.unit)
        }
        let pid: UInt8? =
            if text.lowercased().hasPrefix("0x") { UInt8(text.dropFirst(2), radix: 16) }
            else { OBDParameter.standard.first(where: { $0.value.name == text })?.key }
        guard let pid, let standard = OBDParameter.standard[pid] else {
            throw DiagnosticCommandError(
                .badParameters,
                "\(UntrustedText.quoted(text)) is neither a [diagnostics.signals] name of the profile nor a standard OBD-II PID (by name, such as coolant_temperature, or number, such as 0x05)")
        }
        guard let ecu = ecus.first(where: { $0.diagnosticProtocol == .obd }) else {
            throw DiagnosticCommandError(.badParameters, "\(text) is an OBD-II PID, and no OBD-II ECU is asked")
        }
        return Reading(name: text, ecu: ecu, source: .pid(pid), unit: standard.unit)
    }

    // MARK: - Running

    /// Asks every question (blocking) and returns the command's final status, text and result.
    public func run(ask: Ask) -> DiagnosticCommandOutcome {
        switch action {
        case .readTroubleCodes: readTroubleCodes(ask)
        case .clearTroubleCodes: clearTroubleCodes(ask)
        case .readVIN: readVIN(ask)
        case .read(let readings): read(readings, ask)
        }
    }

    private func readTroubleCodes(_ ask: Ask) -> DiagnosticCommandOutcome {
        var members: [(String, JSONValue)] = []
        var answered = 0
        var summary: [String] = []
        var problems: [String] = []
        for ecu in ecus {
            switch ecu.diagnosticProtocol {
            case .obd:
                // Mode 03: stored (confirmed) codes; mode 07: pending codes of this or the last driving cycle.
                let stored = ask(ecu.name, [0x03], ecu.responseTimeoutSeconds)
                guard let storedCodes = stored.positive.flatMap(OBDTroubleCode.codes(inAnswer:)) else {
                    problems.append("\(ecu.name): \(Self.problem(stored, expected: "a mode 03 answer"))")
                    members.append((ecu.name, Self.errorObject(stored, expected: "a mode 03 answer")))
                    continue
                }
                let pending = ask(ecu.name, [0x07], ecu.responseTimeoutSeconds)
                let pendingCodes = pending.positive.flatMap(OBDTroubleCode.codes(inAnswer:))
                answered += 1
                var object: [(String, JSONValue)] = [
                    ("protocol", "obd"), ("stored", .array(storedCodes.map { .string($0.description) })),
                ]
                if let pendingCodes {
                    object.append(("pending", .array(pendingCodes.map { .string($0.description) })))
                } else {
                    object.append(("pending_error", .string(Self.problem(pending, expected: "a mode 07 answer"))))
                }
                members.append((ecu.name, .object(object)))
                summary.append("\(ecu.name): " + (storedCodes.isEmpty ? "no stored code" : storedCodes.map(\.description).joined(separator: ", ")))
            case .uds:
                // Every status, so that the backend sees pending and confirmed codes with their status bits.
                let answer = ask(ecu.name, UDSMessage.readDTCsByStatusMask(0xFF), ecu.responseTimeoutSeconds)
                guard let codes = answer.positive.flatMap(UDSMessage.troubleCodes(inAnswer:)) else {
                    problems.append("\(ecu.name): \(Self.problem(answer, expected: "a 0x59 0x02 answer"))")
                    members.append((ecu.name, Self.errorObject(answer, expected: "a 0x59 0x02 answer")))
                    continue
                }
                answered += 1
                members.append((ecu.name, .object([
                    ("protocol", "uds"),
                    ("codes", .array(codes.map { code in
                        .object([
                            ("code", .string(code.text)), ("dtc", .integer(Int128(code.code))),
                            ("status", .integer(Int128(code.status))),
                            ("status_bits", .array(code.statusNames.map { .string($0) })),
                        ])
                    })),
                ])))
                summary.append("\(ecu.name): " + (codes.isEmpty ? "no code" : codes.map(\.text).joined(separator: ", ")))
            }
        }
        return outcome(answered: answered, members: members, summary: summary, problems: problems)
    }

    private func clearTroubleCodes(_ ask: Ask) -> DiagnosticCommandOutcome {
        var members: [(String, JSONValue)] = []
        var cleared: [String] = []
        var problems: [String] = []
        for ecu in ecus {
            let request: [UInt8] = ecu.diagnosticProtocol == .obd ? [0x04] : [0x14, 0xFF, 0xFF, 0xFF]
            let answer = ask(ecu.name, request, ecu.responseTimeoutSeconds)
            if answer.positive?.first == request[0] &+ 0x40 {
                cleared.append(ecu.name)
                members.append((ecu.name, .object([("cleared", true)])))
            } else {
                problems.append("\(ecu.name): \(Self.problem(answer, expected: "a positive answer"))")
                members.append((ecu.name, Self.errorObject(answer, expected: "a positive answer")))
            }
        }
        // Clearing is all or nothing for the sender: an ECU that kept its codes is a failure to look at.
        guard problems.isEmpty else {
            let done = cleared.isEmpty ? "" : "; cleared on \(cleared.joined(separator: ", "))"
            return DiagnosticCommandOutcome(
                status: .failed, reason: Self.reason(problems), text: "not cleared: \(problems.joined(separator: "; "))\(done)",
                result: .object(members))
        }
        return DiagnosticCommandOutcome(
            status: .succeeded, reason: nil, text: "fault codes cleared on \(cleared.joined(separator: ", "))", result: .object(members))
    }

    private func readVIN(_ ask: Ask) -> DiagnosticCommandOutcome {
        var problems: [String] = []
        for ecu in ecus {
            let answer: DiagnosticAnswer
            let vin: String?
            switch ecu.diagnosticProtocol {
            case .obd:
                answer = ask(ecu.name, [0x09, 0x02], ecu.responseTimeoutSeconds)
                vin = answer.positive.flatMap(OBDMessage.vin(inAnswer:))
            case .uds:
                answer = ask(ecu.name, UDSMessage.readDataByIdentifier([0xF190]), ecu.responseTimeoutSeconds)
                vin = answer.positive.flatMap { UDSMessage.data(of: 0xF190, inAnswer: $0) }.flatMap(Self.vinText)
            }
            if let vin {
                return DiagnosticCommandOutcome(
                    status: .succeeded, reason: nil, text: "VIN \(vin) from \(ecu.name)",
                    result: .object([("vin", .string(vin)), ("ecu", .string(ecu.name))]))
            }
            problems.append("\(ecu.name): \(Self.problem(answer, expected: "a VIN of 17 characters"))")
        }
        return DiagnosticCommandOutcome(
            status: .failed, reason: Self.reason(problems), text: "no VIN: \(problems.joined(separator: "; "))", result: nil)
    }

    private func read(_ readings: [Reading], _ ask: Ask) -> DiagnosticCommandOutcome {
        var values: [String: JSONValue] = [:]
        var problems: [String] = []
        for ecu in ecus {
            let mine = readings.filter { $0.ecu.name == ecu.name }
            // OBD-II PIDs six to a request, as the poll schedule asks them; each DID on its own.
            var pids: [UInt8] = []
            for reading in mine { if case .pid(let pid) = reading.source, !pids.contains(pid) { pids.append(pid) } }
            var pidData: [UInt8: [UInt8]] = [:]
            var pidProblem: [UInt8: String] = [:]
            for request in OBDMessage.currentDataRequests(for: pids) {
                let answer = ask(ecu.name, request, ecu.responseTimeoutSeconds)
                let data = answer.positive.flatMap(OBDMessage.currentData(inAnswer:)) ?? []
                for entry in data { pidData[entry.pid] = entry.data }
                for pid in request.dropFirst() where pidData[pid] == nil {
                    pidProblem[pid] = data.isEmpty ? Self.problem(answer, expected: "a mode 01 answer") : "the ECU left it out of its answer"
                }
            }
            for reading in mine {
                switch reading.source {
                case .pid(let pid):
                    if let data = pidData[pid], let standard = OBDParameter.standard[pid] {
                        values[reading.name] = Self.valueObject(standard.decode(data), unit: reading.unit, ecu: ecu.name)
                    } else {
                        let text = pidProblem[pid] ?? "no value"
                        problems.append("\(reading.name): \(text)")
                        values[reading.name] = .object([("error", .string(text)), ("ecu", .string(ecu.name))])
                    }
                case .did(let did, let layout):
                    let answer = ask(ecu.name, UDSMessage.readDataByIdentifier([did]), ecu.responseTimeoutSeconds)
                    if let data = answer.positive.flatMap({ UDSMessage.data(of: did, inAnswer: $0) }), let value = layout.value(in: data) {
                        values[reading.name] = Self.valueObject(value, unit: reading.unit, ecu: ecu.name)
                    } else {
                        let text = Self.problem(answer, expected: "a 0x62 answer with DID 0x\(DiagnosticsHex.word(did)) long enough")
                        problems.append("\(reading.name): \(text)")
                        values[reading.name] = .object([("error", .string(text)), ("ecu", .string(ecu.name))])
                    }
                }
            }
        }
        let members = readings.map { ($0.name, values[$0.name] ?? .null) }
        let read = readings.count - problems.count
        guard read > 0 else {
            return DiagnosticCommandOutcome(
                status: .failed, reason: Self.reason(problems), text: "nothing read: \(problems.joined(separator: "; "))",
                result: .object(members))
        }
        let text = "\(read) of \(readings.count) values read" + (problems.isEmpty ? "" : "; \(problems.joined(separator: "; "))")
        return DiagnosticCommandOutcome(status: .succeeded, reason: nil, text: text, result: .object(members))
    }

    // MARK: - Answers

    /// SUCCEEDED when at least one ECU answered (the others carry an `error` in the result); FAILED otherwise.
    private func outcome(answered: Int, members: [(String, JSONValue)], summary: [String], problems: [String]) -> DiagnosticCommandOutcome {
        guard answered > 0 else {
            return DiagnosticCommandOutcome(
                status: .failed, reason: Self.reason(problems), text: "no ECU answered: \(problems.joined(separator: "; "))",
                result: .object(members))
        }
        let text = (summary + problems).joined(separator: "; ")
        return DiagnosticCommandOutcome(status: .succeeded, reason: nil, text: text, result: .object(members))
    }

    static func valueObject(_ value: Double, unit: String, ecu: String) -> JSONValue {
        var object: [(String, JSONValue)] = [("value", .number(exactWhenWhole: value))]
        if !unit.isEmpty { object.append(("unit", .string(unit))) }
        object.append(("ecu", .string(ecu)))
        return .object(object)
    }

    static func errorObject(_ answer: DiagnosticAnswer, expected: String) -> JSONValue {
        var object: [(String, JSONValue)] = [("error", .string(problem(answer, expected: expected)))]
        if case .negative(let code, let name) = answer.outcome {
            object.append(("nrc", .integer(Int128(code))))
            object.append(("nrc_name", .string(name)))
        }
        return .object(object)
    }

    /// What went wrong with one answer, for people: the ECU's refusal by name, a timeout, or an answer of the wrong
    /// shape.
    static func problem(_ answer: DiagnosticAnswer, expected: String) -> String {
        answer.problem ?? "the answer is not \(expected)"
    }

    /// ecu_refused when an ECU said no (a negative response), ecu_no_answer otherwise.
    static func reason(_ problems: [String]) -> CommandReason {
        problems.contains { $0.contains("refused:") } ? .ecuRefused : .ecuNoAnswer
    }

    /// A UDS 0xF190 answer's data as a VIN: 17 printable characters (zero padding at the front dropped).
    static func vinText(_ data: [UInt8]) -> String? {
        let characters = data.drop { $0 == 0 }
        guard characters.count == 17, characters.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// How a remote diagnostic command ended: its final status, reason, text and result.
public struct DiagnosticCommandOutcome: Sendable, Equatable {
    public var status: CommandStatus
    public var reason: CommandReason?
    public var text: String
    public var result: JSONValue?

    public init(status: CommandStatus, reason: CommandReason?, text: String, result: JSONValue?) {
        self.status = status
        self.reason = reason
        self.text = text
        self.result = result
    }
}

/// Why a remote diagnostic command cannot be planned: its reason code and a text for the sender.
public struct DiagnosticCommandError: Error, Sendable, Equatable {
    public let reason: CommandReason
    public let text: String

    public init(_ reason: CommandReason, _ text: String) {
        self.reason = reason
        self.text = text
    }
}
