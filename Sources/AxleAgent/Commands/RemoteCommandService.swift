import AgentCore
import AxleBase
import CommandStore
import Dispatch
import FirmwareProfile
import MQTTUplink
import RemoteCommands

/// The remote-command side of the agent, built at start: the trust store from the configured key files, the
/// verifier with the profile's commands, the journal and entitlements (`commands.db` in the data directory), and the
/// intake that subscribes to `…/cmd/req`. A key file that cannot be read stops the agent at start, with the file and
/// why — never a silent agent that rejects every command. The journal never stops the agent: a damaged one is
/// replaced (reported on `…/events`), and one that cannot be opened at all disables commands, logged as an error
/// and reported, while telemetry goes on.
struct RemoteCommandService: Sendable {
    let intake: CommandIntake
    /// Wakes the command service: a verified command is waiting, live values were published, or it is to stop.
    let wakeup: DispatchSemaphore
    let journal: CommandJournal
    let entitlements: EntitlementStore
    let responder: CommandResponder
    let databasePath: String

    init(
        configuration: AgentConfiguration, topics: UplinkTopics, client: MQTTClient, durable: DurableMessages,
        events: AgentEvents, log: AgentLog
    ) throws {
        var keys: [CommandPublicKey] = []
        for path in configuration.commands.trustKeyFiles {
            do {
                keys.append(try CommandPublicKey(contentsOfFile: path))
            } catch {
                throw AgentConfigurationError("trust key: \(error)")
            }
        }
        var limits = VerificationLimits()
        limits.maximumLifetimeMillis = Int64(configuration.commands.maximumLifetimeSeconds * 1000)
        let verifier = CommandVerifier(
            vehicleID: configuration.vehicleID,
            trustStore: TrustStore(keys: keys, revokedKeyIDs: Set(configuration.commands.revokedKeyIDs)),
            catalog: Self.catalog(of: configuration.profile), limits: limits)
        databasePath = configuration.dataDirectory + "/commands.db"
        do {
            let opened = try CommandJournal(path: databasePath, clockSkewMillis: limits.clockSkewMillis)
            entitlements = EntitlementStore(journal: opened)
            journal = opened
        } catch {
            let reason = "cannot open the command journal \(databasePath): \(error)"
            log(.error, "commands", "\(reason); remote commands are disabled, telemetry goes on")
            events.commandsDisabled(reason: reason)
            journal = try CommandJournal(disabledBecause: reason)
            entitlements = EntitlementStore(journal: journal)
        }
        if case .replacedDamaged(let movedTo, let reason, let lostFeatures, let cutoff) = journal.openReport {
            let lost = lostFeatures.isEmpty ? "" : "; entitlements lost, to be sent again: \(lostFeatures.joined(separator: ", "))"
            log(.warning, "commands", "the command journal was damaged (\(reason)); it was moved to \(movedTo) and a new one started; commands issued before \(cutoff) ms are refused as possible replays\(lost)")
            events.commandJournalReplaced(
                movedTo: movedTo, reason: reason, lostFeatures: lostFeatures, refusesIssuedBeforeMillis: cutoff)
        }
        responder = CommandResponder(client: client, topics: topics, durable: durable)
        let wakeup = DispatchSemaphore(value: 0)
        self.wakeup = wakeup
        intake = CommandIntake(
            verifier: verifier, journal: journal, responder: responder, settings: configuration.commands, log: log,
            onWaiting: { wakeup.signal() })
        let trusted = keys.map(\.keyID).filter { !configuration.commands.revokedKeyIDs.contains($0) }
        if trusted.isEmpty {
            log(.notice, "commands", "no trusted backend key (--trust-key): every remote command will be rejected")
        } else {
            log(.info, "commands", "trusting keys \(trusted.joined(separator: ", ")); journal \(databasePath)")
        }
    }

    /// The profile's commands (numeric parameters with their ranges and defaults) and the built-in ones.
    static func catalog(of profile: FirmwareProfile) -> CommandCatalog {
        var commands = CommandCatalog.builtIn
        for command in profile.commands {
            commands[command.name] = command.parameters.map { parameter in
                ParameterSpec(
                    name: parameter.name, kind: .number(min: parameter.minimum, max: parameter.maximum),
                    defaultValue: parameter.defaultValue.map { .number($0) })
            }
        }
        return CommandCatalog(commands)
    }

    /// Subscribes to the request topic (renewed on every reconnect by the client) and answers INTERRUPTED for every
    /// command a previous run started and never finished: none of them is run again. The journal marks them
    /// interrupted as it opens, so this is the one chance to say so: the answers are in the outbox before this
    /// returns, and survive a crash before the link comes up. The `commands` service
    /// (`CommandService`) then claims and executes what arrives.
    func subscribe(client: MQTTClient, topics: UplinkTopics, log: AgentLog) {
        _ = client.subscribe(topics.commandRequests, qos: 1)
        for entry in journal.interruptedAtOpen {
            log(.warning, "commands", "\(entry.name) \(entry.id) was interrupted by the agent's restart: it is not run again")
            responder.send(
                id: entry.id, name: entry.name, status: .interrupted, reason: .agentRestarted,
                text: entry.text ?? "the agent stopped while the command was running; it was not run again", to: entry.reply)
        }
    }
}
