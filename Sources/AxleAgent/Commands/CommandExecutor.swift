import AxleBase
import CANFrames
import Collection
import CommandStore
import DBC
import FirmwareProfile
import RemoteCommands

#if canImport(Glibc)
import Glibc
#endif

/// Runs verified commands on the pipeline thread, where the live signals are: checks the command's precondition,
/// journals "started", sends its frames on the profile's bus and waits for its confirmation (docs/commands.md,
/// "Execution on the vehicle").
///
/// Not `Sendable`: the pipeline thread owns it, and calls `step` after each batch of frames has been collected, so
/// that preconditions and confirmations see the freshest values.
final class CommandExecutor {
    /// A frame sequence under way: a command's, or a feature switching on or off (which has no sender to answer).
    private struct Execution {
        var command: AcceptedCommand?
        let label: String
        let bus: String
        let message: String
        let frames: [CANFrame]
        var sent = 0
        var nextFrameAt: Double
        let interval: Double
        let confirmation: Condition?
        let confirmationText: String?
        /// The confirmation held before the first frame: success is then reported as already_satisfied.
        var confirmationHeldBefore = false
        let deadline: Double
        let timeout: Double
    }

    private let profile: FirmwareProfile
    private let vehicleID: String
    private var sink: any CommandFrameSink
    private let inbox: CommandInbox
    private let journal: CommandJournal
    private let responder: CommandResponder
    private let log: AgentLog
    private let encoders: [String: SignalEncoder]
    private let catalogIndex: [String: Int]
    /// Per catalog signal: its DBC signal, for value labels in the texts a command's sender reads.
    private let dbcSignals: [DBCSignal?]
    private let commandsByName: [String: CommandDefinition]
    private var executions: [Execution] = []
    /// Rolling counter per (bus, message): the next value its counter signal takes.
    private var counters: [String: UInt64] = [:]
    /// Set by `AXLE_FAULT_INJECTION=kill-after-journal` (tests only): the process kills itself after journaling a
    /// command as started and before its first frame, as a crash at the worst moment would.
    private let killAfterJournal: Bool
    var features: FeatureManager?

    init(
        profile: FirmwareProfile, vehicleID: String, sink: any CommandFrameSink, inbox: CommandInbox, journal: CommandJournal,
        responder: CommandResponder, log: AgentLog
    ) {
        self.profile = profile
        self.vehicleID = vehicleID
        self.sink = sink
        self.inbox = inbox
        self.journal = journal
        self.responder = responder
        self.log = log
        self.encoders = Dictionary(uniqueKeysWithValues: profile.buses.map { ($0.name, SignalEncoder(database: $0.database)) })
        self.catalogIndex = Dictionary(profile.catalog.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.dbcSignals = profile.catalogDBCSignals()
        self.commandsByName = Dictionary(profile.commands.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.killAfterJournal = getenv("AXLE_FAULT_INJECTION").map { String(cString: $0) } == "kill-after-journal"
    }

    /// The earliest moment something is due (a repeat frame, a confirmation deadline): the source waits no longer.
    var nextDue: Double? {
        executions.map { $0.sent < $0.frames.count ? $0.nextFrameAt : $0.deadline }.min()
    }

    /// Takes new commands, sends frames that are due, and settles confirmations and timeouts.
    func step(engine: CollectionEngine) {
        for accepted in inbox.takeAll() { start(accepted, engine: engine) }
        guard !executions.isEmpty else { return }
        let now = monotonicSeconds()
        var index = 0
        while index < executions.count {
            if advance(&executions[index], engine: engine, now: now) {
                executions.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    // MARK: - Starting

    private func start(_ accepted: AcceptedCommand, engine: CollectionEngine) {
        let request = accepted.command.request
        // A command that waited (a busy pipeline) must still be alive, on both clocks.
        if monotonicSeconds() >= accepted.command.monotonicDeadline || wallClockMillis() >= request.expiresAtMillis {
            return reject(accepted, .expired, "the command expired before it could start: send a new one")
        }
        switch request.name {
        case "collection.update":
            return updateCollection(accepted, engine: engine)
        case "diagnostics.snapshot":
            return snapshot(accepted, engine: engine)
        case "feature.activate", "feature.revoke":
            guard let features else { return reject(accepted, .unknownCommand, "this agent has no feature entitlements") }
            return features.handle(accepted, executor: self)
        default:
            break
        }
        guard let definition = commandsByName[request.name] else {
            return reject(accepted, .unknownCommand, "the profile \(profile.name) has no command '\(request.name)'")
        }
        if let running = executions.first(where: { $0.bus == definition.bus && $0.message == definition.message }) {
            return reject(
                accepted, .busy,
                "'\(running.label)' is still running on the same message (\(definition.message)); try again when it has finished")
        }
        if let precondition = definition.precondition {
            switch engine.evaluate(precondition) {
            case true?:
                break
            case false?:
                return reject(
                    accepted, .preconditionFailed,
                    "precondition not met: \(definition.preconditionText ?? "?") (\(describe(precondition.signals, engine: engine)))")
            case nil:
                return reject(
                    accepted, .preconditionFailed,
                    "precondition cannot be checked: \(describe(precondition.signals, engine: engine)); a stale or unknown signal never counts as safe")
            }
        }
        let parameters = request.parameters.mapValues { value -> Double in
            switch value {
            case .number(let number): number
            case .bool(let flag): flag ? 1 : 0
            case .string: .nan  // the verifier lets only numbers reach a profile command's parameters
            }
        }
        let frames: [CANFrame]
        do {
            frames = try buildFrames(definition, parameters: parameters)
        } catch {
            return reject(accepted, .badParameters, "\(error)")
        }
        let now = wallClockMillis()
        do {
            // Durably before the first frame: after a crash from here on, the command is reported INTERRUPTED and
            // never sent again.
            try journal.markStarted(id: request.id, atMillis: now)
        } catch {
            return finish(accepted, .failed, nil, "the journal cannot record the start, so the command was not sent: \(error)")
        }
        if killAfterJournal { kill(getpid(), SIGKILL) }
        respond(accepted, .accepted, nil, nil)
        let started = monotonicSeconds()
        var execution = Execution(
            command: accepted, label: request.name, bus: definition.bus, message: definition.message, frames: frames,
            nextFrameAt: started, interval: definition.intervalSeconds, confirmation: definition.confirmation,
            confirmationText: definition.confirmationText, deadline: started + definition.timeoutSeconds,
            timeout: definition.timeoutSeconds)
        // Judged on the same values the precondition just read, before any frame can change them.
        if let confirmation = definition.confirmation { execution.confirmationHeldBefore = engine.evaluate(confirmation) == true }
        if !advance(&execution, engine: engine, now: started) { executions.append(execution) }
    }

    /// Starts a feature's frames (no sender to answer; failures are logged). False when they cannot be built.
    @discardableResult
    func switchFeature(_ definition: FeatureDefinition, enabled: Bool) -> Bool {
        let action = definition.action
        do {
            let frames = try buildFrames(action, parameters: ["enabled": enabled ? 1 : 0])
            let now = monotonicSeconds()
            executions.append(Execution(
                command: nil, label: "feature \(definition.name) \(enabled ? "on" : "off")", bus: action.bus,
                message: action.message, frames: frames, nextFrameAt: now, interval: action.intervalSeconds, confirmation: nil,
                confirmationText: nil, deadline: now + action.timeoutSeconds, timeout: action.timeoutSeconds))
            return true
        } catch {
            log(.error, "commands", "feature \(definition.name): cannot build its frames: \(error)")
            return false
        }
    }

    // MARK: - Running

    /// Sends what is due and checks the confirmation. True when the execution has ended.
    private func advance(_ execution: inout Execution, engine: CollectionEngine, now: Double) -> Bool {
        while execution.sent < execution.frames.count && execution.nextFrameAt <= now {
            do {
                try sink.send(execution.frames[execution.sent], bus: execution.bus)
            } catch {
                if let command = execution.command {
                    finish(command, .failed, .sendFailed, "frame \(execution.sent + 1) of \(execution.frames.count) not sent: \(error)")
                } else {
                    log(.error, "commands", "\(execution.label): frame not sent: \(error)")
                }
                return true
            }
            execution.sent += 1
            execution.nextFrameAt += execution.interval
            if execution.sent == 1, let command = execution.command { respond(command, .inProgress, nil, nil) }
        }
        guard execution.sent == execution.frames.count else { return false }
        guard let command = execution.command else { return true }
        guard let confirmation = execution.confirmation else {
            finish(command, .succeeded, nil, "\(execution.frames.count) frames sent (no confirmation defined)")
            return true
        }
        if engine.evaluate(confirmation) == true {
            if execution.confirmationHeldBefore {
                finish(
                    command, .succeeded, .alreadySatisfied,
                    "already so before the command: \(execution.confirmationText ?? "") held before the first frame; the frames were sent anyway")
            } else {
                finish(command, .succeeded, nil, "confirmed: \(execution.confirmationText ?? "")")
            }
            return true
        }
        if now >= execution.deadline {
            finish(
                command, .timedOut, .noConfirmation,
                "frames sent, but \(execution.confirmationText ?? "the confirmation") did not hold within \(formatted(execution.timeout)) s (\(describe(confirmation.signals, engine: engine)))")
            return true
        }
        return false
    }

    /// The command's frames: its `set` values (parameters filled in) and its rolling counter, once per repeat.
    private func buildFrames(_ definition: CommandDefinition, parameters: [String: Double]) throws -> [CANFrame] {
        guard let encoder = encoders[definition.bus] else { throw CommandSendError("no DBC for bus \(definition.bus)") }
        var values: [String: SignalEncoder.Value] = [:]
        for (signal, setting) in definition.signals {
            switch setting {
            case .constant(let value):
                values[signal] = .number(value)
            case .parameter(let name):
                guard let value = parameters[name] ?? definition.parameters.first(where: { $0.name == name })?.defaultValue,
                    !value.isNaN
                else { throw CommandSendError("parameter '\(name)' has no value") }
                values[signal] = .number(value)
            }
        }
        var frames: [CANFrame] = []
        let counterKey = "\(definition.bus)/\(definition.message)"
        let counterModulus: UInt64? = definition.counterSignal.flatMap { name in
            encoder.database.messages.first { $0.name == definition.message }?.signal(named: name).map { 1 << UInt64(min($0.length, 63)) }
        }
        for _ in 0..<definition.repeats {
            if let counter = definition.counterSignal, let modulus = counterModulus {
                let value = counters[counterKey, default: 0] % modulus
                values[counter] = .number(Double(value))
                counters[counterKey] = (value + 1) % modulus
            }
            var frame = try encoder.encode(message: definition.message, values: values)
            frame.interface = definition.bus
            frames.append(frame)
        }
        return frames
    }

    // MARK: - Built-in commands

    private func updateCollection(_ accepted: AcceptedCommand, engine: CollectionEngine) {
        let parameters = accepted.command.request.parameters
        guard case .string(let rule)? = parameters["rule"], case .bool(let enabled)? = parameters["enabled"] else {
            return reject(accepted, .badParameters, "collection.update needs rule (a rule's name) and enabled (true or false)")
        }
        do {
            try engine.setEnabled(enabled, rule: rule)
        } catch {
            return reject(accepted, .badParameters, "\(error)")
        }
        begin(accepted)
        finish(
            accepted, .succeeded, nil, "rule \(rule) \(enabled ? "enabled" : "disabled")",
            result: .object([("rule", .string(rule)), ("enabled", .bool(enabled))]))
    }

    private func snapshot(_ accepted: AcceptedCommand, engine: CollectionEngine) {
        var names = profile.catalog.map(\.name)
        if case .string(let list)? = accepted.command.request.parameters["signals"] {
            names = list.split(separator: ",").map { $0.trimmedOfWhitespace() }.filter { !$0.isEmpty }
            let unknown = names.filter { catalogIndex[$0] == nil }
            if !unknown.isEmpty {
                return reject(accepted, .badParameters, "not in the profile's catalog: \(unknown.joined(separator: ", "))")
            }
        }
        var members: [(String, JSONValue)] = []
        for name in names {
            guard let index = catalogIndex[name] else { continue }
            if let latest = engine.latest(signal: index) {
                members.append((name, .object([
                    ("value", .number(latest.value)), ("t", .integer(Int128(latest.timeMicros / 1000))),
                    ("fresh", .bool(engine.isFresh(signal: index, atMicros: engine.nowMicros))),
                ])))
            } else {
                members.append((name, .null))
            }
        }
        begin(accepted)
        finish(accepted, .succeeded, nil, "\(names.count) signals", result: .object(members))
    }

    // MARK: - Answers

    /// "Vehicle.Speed = 42, Vehicle.Powertrain.Transmission.CurrentGear = unknown": what the condition read.
    private func describe(_ signals: [String], engine: CollectionEngine) -> String {
        signals.map { name in
            guard let index = catalogIndex[name] else { return "\(name) = unknown" }
            // The vehicle sent "not available" or an error indicator: say that, not the last reading as stale.
            if let newest = engine.latestAvailability(signal: index), newest.availability != .valid {
                return "\(name) = \(newest.availability.text)"
            }
            guard let latest = engine.latest(signal: index) else { return "\(name) = unknown" }
            let stale = engine.isFresh(signal: index, atMicros: engine.nowMicros) ? "" : " (stale)"
            // With its label, as `axle signals` shows it: "CurrentGear = 3 (D)" is what a person can check.
            let label = dbcSignals[index]?.label(forPhysical: latest.value).map { " (\($0))" } ?? ""
            return "\(name) = \(Self.number(latest.value))\(label)\(stale)"
        }.joined(separator: ", ")
    }

    /// For a command that completes at once (built-ins, features): journals its start and answers ACCEPTED.
    func begin(_ accepted: AcceptedCommand) {
        do {
            try journal.markStarted(id: accepted.command.request.id, atMillis: wallClockMillis())
        } catch {
            log(.error, "commands", "\(accepted.command.request.id): cannot journal the start: \(error)")
        }
        respond(accepted, .accepted, nil, nil)
    }

    func reject(_ accepted: AcceptedCommand, _ reason: CommandReason, _ text: String) {
        finish(accepted, .rejected, reason, text)
    }

    func finish(_ accepted: AcceptedCommand, _ status: CommandStatus, _ reason: CommandReason?, _ text: String, result: JSONValue? = nil) {
        let id = accepted.command.request.id
        do {
            try journal.finish(id: id, status: status, reason: reason, text: text, atMillis: wallClockMillis())
        } catch {
            log(.error, "commands", "\(id): cannot journal \(status.rawValue): \(error)")
        }
        let level: LogLevel = status == .succeeded ? .info : .warning
        log(level, "commands", "\(accepted.command.request.name) \(id) \(status.rawValue)\(reason.map { " \($0.rawValue)" } ?? ""): \(text)")
        respond(accepted, status, reason, text, result: result)
    }

    func respond(_ accepted: AcceptedCommand, _ status: CommandStatus, _ reason: CommandReason?, _ text: String?, result: JSONValue? = nil) {
        responder.send(
            id: accepted.command.request.id, name: accepted.command.request.name, status: status, reason: reason, text: text,
            result: result, to: accepted.reply)
    }

    static func number(_ value: Double) -> String { JSONValue.number(exactWhenWhole: value).rendered() }

    private func formatted(_ seconds: Double) -> String { String((seconds * 10).rounded() / 10) }
}
