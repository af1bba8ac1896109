import AxleBase
import CANFrames
import RemoteCommands

// The command executor's and feature manager's view of the world around them: small protocols that the agent wires
// to SocketCAN, SQLite and MQTT (Sources/AxleAgent/Commands), and that the unit tests fill with fakes.

/// A verified command the journal has claimed, on its way from the intake to the executor.
public struct AcceptedCommand: Sendable {
    public let command: VerifiedCommand
    public let reply: ReplyAddress

    public init(command: VerifiedCommand, reply: ReplyAddress) {
        self.command = command
        self.reply = reply
    }
}

/// Where command frames go: the bus's SocketCAN interface, the in-process simulated vehicle, or nowhere (a replay).
public protocol CommandFrameSink {
    /// Sends one frame on the profile's logical bus `bus`; throws a text the command's sender can read.
    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError)
}

public struct CommandSendError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The durable record of each command's progress (`CommandJournal`): written before the status is published.
public protocol CommandJournaling: Sendable {
    /// Marks the command IN_PROGRESS, durably, before its first frame.
    func markStarted(id: String, atMillis: Int64) throws
    /// Records a later (usually the final) status.
    func finish(id: String, status: CommandStatus, reason: CommandReason?, text: String?, atMillis: Int64) throws
}

/// The durable feature entitlements (`EntitlementStore`).
public protocol EntitlementStoring: Sendable {
    func all() throws -> [Entitlement]
    func grant(_ entitlement: Entitlement) throws
    func setState(feature: String, _ state: Entitlement.State) throws
    func addActiveSeconds(feature: String, _ seconds: Double) throws
}

/// Publishes a command's status to its sender (MQTT, `…/cmd/res`).
public protocol CommandStatusPublisher: Sendable {
    func send(
        id: String, name: String?, status: CommandStatus, reason: CommandReason?, text: String?, result: JSONValue?,
        to reply: ReplyAddress)
}

/// Publishes the retained feature state (MQTT, `…/features`).
public protocol FeatureStatePublisher: Sendable {
    func publishFeatures(_ document: JSONValue)
}

/// Switches collection rules and events on or off on the thread that owns the collection engine.
public protocol CollectionRuleSwitch: Sendable {
    func requestRuleChange(name: String, enabled: Bool)
}

/// How severe a command log line is; the agent maps it onto its log levels.
public enum CommandLogLevel: Sendable {
    case error, warning, notice, info
}

/// Where the command policies write their log lines: level, component, text.
public typealias CommandLog = @Sendable (CommandLogLevel, _ component: String, _ text: String) -> Void

/// Runs remote diagnostic commands off the command service's thread: asking an ECU takes from milliseconds to
/// seconds (P2, and P2* for each "response pending"), and other commands must not wait for it.
public protocol DiagnosticCommandRunning: AnyObject {
    /// Queues `plan` for the command `id`; false when too many are waiting already.
    func submit(id: String, plan: DiagnosticCommandPlan) -> Bool
    /// The commands finished since the last call, oldest first.
    func takeFinished() -> [(id: String, outcome: DiagnosticCommandOutcome)]
}
