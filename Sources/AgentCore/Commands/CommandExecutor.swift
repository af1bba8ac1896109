import AxleBase
import CANFrames
import Collection
import DBC
import FirmwareProfile
import RemoteCommands

/// Runs verified commands: checks the command's precondition, journals "started", sends its frames on the profile's
/// bus and waits for its confirmation (docs/commands.md, "Execution on the vehicle").
///
/// Preconditions and confirmations are read from `LiveValues`, which the pipeline publishes at the end of a batch of
/// frames: the engine's three-valued result (unknown when a signal is stale, missing or not a reading).
///
/// Not `Sendable`: the command service's thread owns it (the unit tests drive it directly, with a fake clock).
public final class CommandExecutor {
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
        /// Index into `LiveValues.conditions`.
        let confirmation: Int?
        let confirmationSignals: [String]
        let confirmationText: String?
        /// The confirmation held before the first frame: success is then reported as already_satisfied.
        var confirmationHeldBefore = false
        let deadline: Double
        let timeout: Double
    }

    private let profile: FirmwareProfile
    private var sink: any CommandFrameSink
    private let journal: any CommandJournaling
    private let responder: any CommandStatusPublisher
    private let rules: any CollectionRuleSwitch
    private let clock: any AgentClock
    private let log: CommandLog
    private let encoders: [String: SignalEncoder]
    private let catalogIndex: [String: Int]
    /// Per catalog signal: its DBC signal, for value labels in the texts a command's sender reads.
    private let dbcSignals: [DBCSignal?]
    private let commandsByName: [String: CommandDefinition]
    /// Per profile command: where its precondition and confirmation are in `LiveValues.conditions`.
    private let conditionSlots: [String: (precondition: Int?, confirmation: Int?)]
    /// Every collection rule and event name, for `collection.update`'s check and its error text.
    private let ruleNames: [String]
    private var executions: [Execution] = []
    /// Rolling counter per (bus, message): the next value its counter signal takes.
    private var counters: [String: UInt64] = [:]
    /// Called after a command is journaled as started and before its first frame (the agent's crash test hook).
    private let afterJournalingStart: (() -> Void)?
    public var features: FeatureManager?
    /// Where remote diagnostic commands are run; nil: the agent runs no diagnostics service (a replay, or a profile
    /// without `[diagnostics]`), and they are refused.
    public var diagnostics: (any DiagnosticCommandRunning)?
    /// Remote diagnostic commands under way, by command id, with the monotonic time they give up.
    private var diagnosticCommands: [String: (command: AcceptedCommand, deadline: Double)] = [:]
    /// How long a remote diagnostic command may take in all: each ECU's P2, 5 s for each "response pending", and
    /// the requests before it in the diagnostics service's queue.
    public static let diagnosticCommandSeconds = 60.0

    public init(
        profile: FirmwareProfile, sink: any CommandFrameSink, journal: any CommandJournaling,
        responder: any CommandStatusPublisher, rules: any CollectionRuleSwitch, clock: any AgentClock,
        log: @escaping CommandLog, afterJournalingStart: (() -> Void)? = nil
    ) {
        self.profile = profile
        self.sink = sink
        self.journal = journal
        self.responder = responder
        self.rules = rules
        self.clock = clock
        self.log = log
        self.afterJournalingStart = afterJournalingStart
        self.encoders = Dictionary(uniqueKeysWithValues: profile.buses.map { ($0.name, SignalEncoder(database: $0.database)) })
        self.catalogIndex = Dictionary(profile.catalog.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.dbcSignals = profile.catalogDBCSignals()
        self.commandsByName = Dictionary(profile.commands.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var slots: [String: (precondition: Int?, confirmation: Int?)] = [:]
        var next = 0
        // The same order as LiveValues.watchedConditions(of:).
        for command in profile.commands {
            var slot: (precondition: Int?, confirmation: Int?) = (nil, nil)
            if command.precondition != nil {
                slot.precondition = next
                next += 1
            }
            if command.confirmation != nil {
                slot.confirmation = next
                next += 1
            }
            if slots[command.name] == nil { slots[command.name] = slot }
        }
        self.conditionSlots = slots
        self.ruleNames = profile.rules.map(\.name) + profile.events.map(\.name)
    }

    /// The earliest moment something is due (a repeat frame, a confirmation deadline), on the monotonic clock.
    public var nextDue: Double? {
        (executions.map { $0.sent < $0.frames.count ? $0.nextFrameAt : $0.deadline } + diagnosticCommands.values.map(\.deadline)).min()
    }

    /// Whether a command waits for its confirmation: the pipeline should publish live values.
    public var isWatching: Bool {
        executions.contains { $0.command != nil && $0.confirmation != nil }
    }

    /// Sends frames that are due and settles confirmations and timeouts, reading `live` (nil: nothing published yet,
    /// every condition unknown).
    public func advance(live: LiveValues?) {
        if !diagnosticCommands.isEmpty { settleDiagnosticCommands() }
        guard !executions.isEmpty else { return }
        let now = clock.monotonicSeconds()
        var index = 0
        while index < executions.count {
            if advance(&executions[index], live: live, now: now) {
                executions.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    // MARK: - Starting

    /// Starts a command, judging its precondition on `live`: values the pipeline published after the command arrived.
    public func start(_ accepted: AcceptedCommand, live: LiveValues?) {
        let request = accepted.command.request
        // A command that waited (a busy agent) must still be alive, on both clocks.
        if clock.monotonicSeconds() >= accepted.command.monotonicDeadline || clock.wallClockMillis() >= request.expiresAtMillis {
            return reject(accepted, .expired, "the command expired before it could start: send a new one")
        }
        switch request.name {
        case "collection.update":
            return updateCollection(accepted)
        case "diagnostics.snapshot":
            return snapshot(accepted, live: live)
        case let name where DiagnosticCommandPlan.names.contains(name):
            return startDiagnostic(accepted, live: live)
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
        let slots = conditionSlots[definition.name] ?? (nil, nil)
        if let precondition = definition.precondition {
            switch truth(slots.precondition, in: live) {
            case true?:
                break
            case false?:
                return reject(
                    accepted, .preconditionFailed,
                    "precondition not met: \(definition.preconditionText ?? "?") (\(describe(precondition.signals, live: live)))")
            case nil:
                return reject(
                    accepted, .preconditionFailed,
                    "precondition cannot be checked: \(describe(precondition.signals, live: live)); a stale or unknown signal never counts as safe")
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
        do {
            // Durably before the first frame: after a crash from here on, the command is reported INTERRUPTED and
            // never sent again.
            try journal.markStarted(id: request.id, atMillis: clock.wallClockMillis())
        } catch {
            return finish(accepted, .failed, nil, "the journal cannot record the start, so the command was not sent: \(error)")
        }
        afterJournalingStart?()
        respond(accepted, .accepted, nil, nil)
        let started = clock.monotonicSeconds()
        var execution = Execution(
            command: accepted, label: request.name, bus: definition.bus, message: definition.message, frames: frames,
            nextFrameAt: started, interval: definition.intervalSeconds, confirmation: slots.confirmation,
            confirmationSignals: definition.confirmation?.signals ?? [], confirmationText: definition.confirmationText,
            deadline: started + definition.timeoutSeconds, timeout: definition.timeoutSeconds)
        // Judged on the same values the precondition just read, before any frame can change them.
        if slots.confirmation != nil { execution.confirmationHeldBefore = truth(slots.confirmation, in: live) == true }
        if !advance(&execution, live: live, now: started) { executions.append(execution) }
    }

    /// Starts a feature's frames (no sender to answer; failures are logged). False when they cannot be built.
    @discardableResult
    public func switchFeature(_ definition: FeatureDefinition, enabled: Bool) -> Bool {
        let action = definition.action
        do {
            let frames = try buildFrames(action, parameters: ["enabled": enabled ? 1 : 0])
            let now = clock.monotonicSeconds()
            executions.append(Execution(
                command: nil, label: "feature \(definition.name) \(enabled ? "on" : "off")", bus: action.bus,
                message: action.message, frames: frames, nextFrameAt: now, interval: action.intervalSeconds, confirmation: nil,
                confirmationSignals: [], confirmationText: nil, deadline: now + action.timeoutSeconds,
                timeout: action.timeoutSeconds))
            return true
        } catch {
            log(.error, "commands", "feature \(definition.name): cannot build its frames: \(error)")
            return false
        }
    }

    // MARK: - Running

    /// Sends what is due and checks the confirmation. True when the execution has ended.
    private func advance(_ execution: inout Execution, live: LiveValues?, now: Double) -> Bool {
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
        if truth(confirmation, in: live) == true {
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
                "frames sent, but \(execution.confirmationText ?? "the confirmation") did not hold within \(formatted(execution.timeout)) s (\(describe(execution.confirmationSignals, live: live)))")
            return true
        }
        return false
    }

    private func truth(_ slot: Int?, in live: LiveValues?) -> Bool? {
        guard let slot, let live, slot < live.conditions.count else { return nil }
        return live.conditions[slot]
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

    private func updateCollection(_ accepted: AcceptedCommand) {
        let parameters = accepted.command.request.parameters
        guard case .string(let rule)? = parameters["rule"], case .bool(let enabled)? = parameters["enabled"] else {
            return reject(accepted, .badParameters, "collection.update needs rule (a rule's name) and enabled (true or false)")
        }
        guard ruleNames.contains(rule) else {
            let error = CollectionError(.unknownRule, name: rule, knownNames: ruleNames, profile: profile.name)
            return reject(accepted, .badParameters, "\(error)")
        }
        // The engine is the pipeline's: the switch takes effect on its next turn (within a fraction of a second).
        rules.requestRuleChange(name: rule, enabled: enabled)
        begin(accepted)
        finish(
            accepted, .succeeded, nil, "rule \(rule) \(enabled ? "enabled" : "disabled")",
            result: .object([("rule", .string(rule)), ("enabled", .bool(enabled))]))
    }

    private func snapshot(_ accepted: AcceptedCommand, live: LiveValues?) {
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
            if let reading = live?.readings[index], let value = reading.latestValue {
                members.append((name, .object([
                    ("value", .number(value)), ("t", .integer(Int128(reading.latestMicros / 1000))),
                    ("fresh", .bool(reading.isFresh)),
                ])))
            } else {
                members.append((name, .null))
            }
        }
        begin(accepted)
        finish(accepted, .succeeded, nil, "\(names.count) signals", result: .object(members))
    }

    // MARK: - Remote diagnostics

    /// The speed and engine-speed signals `diagnostics.clear_dtc` reads: codes are cleared only on a vehicle that
    /// stands with its engine off, as SAE J1979 asks for mode 04 (clearing also resets the readiness monitors).
    public static let clearPreconditionSignals = ["Vehicle.Speed", "Vehicle.Powertrain.CombustionEngine.Speed"]

    private func startDiagnostic(_ accepted: AcceptedCommand, live: LiveValues?) {
        let request = accepted.command.request
        guard let diagnostics else {
            return reject(
                accepted, .unknownCommand,
                "this agent runs no diagnostics service (its profile has no [diagnostics] ECU, or it replays a log)")
        }
        let plan: DiagnosticCommandPlan
        do {
            plan = try DiagnosticCommandPlan.plan(name: request.name, parameters: request.parameters, profile: profile)
        } catch {
            return reject(accepted, error.reason, error.text)
        }
        if plan.action == .clearTroubleCodes, let refusal = clearPreconditionRefusal(live: live) {
            return reject(accepted, .preconditionFailed, refusal)
        }
        begin(accepted)
        guard diagnostics.submit(id: request.id, plan: plan) else {
            return finish(accepted, .rejected, .busy, "other diagnostic commands are waiting; try again when they have finished")
        }
        respond(accepted, .inProgress, nil, nil)
        diagnosticCommands[request.id] = (accepted, clock.monotonicSeconds() + Self.diagnosticCommandSeconds)
    }

    /// Why codes may not be cleared now, or nil: the vehicle stands (Vehicle.Speed = 0) and the engine is off
    /// (Vehicle.Powertrain.CombustionEngine.Speed = 0, when the catalog has it), both fresh. Unknown never counts
    /// as safe.
    private func clearPreconditionRefusal(live: LiveValues?) -> String? {
        let present = Self.clearPreconditionSignals.filter { catalogIndex[$0] != nil }
        guard present.contains("Vehicle.Speed") else {
            return "precondition cannot be checked: the profile has no Vehicle.Speed, and codes are cleared only on a vehicle that stands"
        }
        for name in present {
            guard let index = catalogIndex[name], let reading = live?.readings[index], reading.isFresh,
                let value = reading.latestValue
            else {
                return "precondition cannot be checked: \(describe(present, live: live)); a stale or unknown signal never counts as safe"
            }
            if value != 0 {
                return "precondition not met: the vehicle must stand with its engine off (\(describe(present, live: live)))"
            }
        }
        return nil
    }

    /// Finishes the remote diagnostic commands whose answers came, and those that waited too long.
    private func settleDiagnosticCommands() {
        for (id, outcome) in diagnostics?.takeFinished() ?? [] {
            guard let entry = diagnosticCommands.removeValue(forKey: id) else { continue }
            finish(entry.command, outcome.status, outcome.reason, outcome.text, result: outcome.result)
        }
        let now = clock.monotonicSeconds()
        for (id, entry) in diagnosticCommands where now >= entry.deadline {
            diagnosticCommands[id] = nil
            finish(
                entry.command, .failed, .ecuNoAnswer,
                "no answer within \(formatted(Self.diagnosticCommandSeconds)) s: the diagnostics service is stuck or the ECUs are silent")
        }
    }

    // MARK: - Answers

    /// "Vehicle.Speed = 42, Vehicle.Powertrain.Transmission.CurrentGear = unknown": what the condition read.
    private func describe(_ signals: [String], live: LiveValues?) -> String {
        signals.map { name in
            guard let index = catalogIndex[name], let reading = live?.readings[index] else { return "\(name) = unknown" }
            // The vehicle sent "not available" or an error indicator: say that, not the last reading as stale.
            if let newest = reading.newestAvailability, newest != .valid {
                return "\(name) = \(newest.text)"
            }
            guard let value = reading.latestValue else { return "\(name) = unknown" }
            let stale = reading.isFresh ? "" : " (stale)"
            // With its label, as `axle signals` shows it: "CurrentGear = 3 (D)" is what a person can check.
            let label = dbcSignals[index]?.label(forPhysical: value).map { " (\($0))" } ?? ""
            return "\(name) = \(Self.number(value))\(label)\(stale)"
        }.joined(separator: ", ")
    }

    /// For a command that completes at once (built-ins, features): journals its start and answers ACCEPTED.
    public func begin(_ accepted: AcceptedCommand) {
        do {
            try journal.markStarted(id: accepted.command.request.id, atMillis: clock.wallClockMillis())
        } catch {
            log(.error, "commands", "\(accepted.command.request.id): cannot journal the start: \(error)")
        }
        respond(accepted, .accepted, nil, nil)
    }

    public func reject(_ accepted: AcceptedCommand, _ reason: CommandReason, _ text: String) {
        finish(accepted, .rejected, reason, text)
    }

    /// Journals the status, then publishes it: the journal holds the truth even when the answer is lost.
    public func finish(
        _ accepted: AcceptedCommand, _ status: CommandStatus, _ reason: CommandReason?, _ text: String, result: JSONValue? = nil
    ) {
        let id = accepted.command.request.id
        do {
            try journal.finish(id: id, status: status, reason: reason, text: text, atMillis: clock.wallClockMillis())
        } catch {
            log(.error, "commands", "\(id): cannot journal \(status.rawValue): \(error)")
        }
        let level: CommandLogLevel = status == .succeeded ? .info : .warning
        log(level, "commands", "\(accepted.command.request.name) \(id) \(status.rawValue)\(reason.map { " \($0.rawValue)" } ?? ""): \(text)")
        respond(accepted, status, reason, text, result: result)
    }

    func respond(_ accepted: AcceptedCommand, _ status: CommandStatus, _ reason: CommandReason?, _ text: String?, result: JSONValue? = nil) {
        responder.send(
            id: accepted.command.request.id, name: accepted.command.request.name, status: status, reason: reason, text: text,
            result: result, to: accepted.reply)
    }

    /// A number as the command texts and JSON write it: whole numbers without a fraction.
    public static func number(_ value: Double) -> String { JSONValue.number(exactWhenWhole: value).rendered() }

    private func formatted(_ seconds: Double) -> String { String((seconds * 10).rounded() / 10) }
}

/// One thread owns an executor; sharing one between threads is a compile-time error.
@available(*, unavailable)
extension CommandExecutor: Sendable {}
