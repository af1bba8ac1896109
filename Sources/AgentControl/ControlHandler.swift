#if canImport(Glibc)
import Glibc
#endif

/// What the agent answers on the control socket: one method per request. `axled` implements it over its running
/// components; tests use a fake.
///
/// The server calls these methods one at a time on its own thread, and no other connection is served meanwhile:
/// each must return quickly (read a snapshot under a lock; never wait for a bus, the disk or the broker).
/// Throw `ControlFailure` to choose the response's code and message (e.g. `.failed` for an unknown rule); any other
/// error becomes a `failed` response carrying its description.
public protocol ControlHandler: Sendable {
    /// `status`: the agent's health.
    func status() throws -> StatusReport
    /// `signals`: every signal's latest value; the server applies the request's filter to what this returns.
    func signals() throws -> SignalsReport
    /// `outbox`: the outbox's statistics.
    func outbox() throws -> OutboxReport
    /// `events`: the `limit` most recent triggered events, newest first.
    func events(limit: Int) throws -> EventsReport
    /// `rules`: every collection rule.
    func rules() throws -> RulesReport
    /// `set-rule`: switches a rule on or off and returns it as it now is. Only called for privileged callers.
    func setRule(name: String, enabled: Bool) throws -> RuleSummary
    /// `features`: every feature entitlement the agent holds, whatever its state.
    func features() throws -> FeaturesReport
    /// `commands`: the `limit` most recent remote commands, newest first.
    func commands(limit: Int) throws -> CommandsReport
    /// `diagnostic`: asks an ECU and returns its answer. The one method that waits (for the ECU, at most its P2 and
    /// 5 s for each "response pending"): the server calls it on a thread of its own, so other requests are served
    /// meanwhile. Only called for privileged callers when the service changes state.
    func diagnostic(ecu: String, data: [UInt8], timeoutSeconds: Double?) throws -> DiagnosticReply
    /// `config`: the latest configuration report (docs/configuration.md, "The state report").
    func configurationState() throws -> ConfigurationState
}

extension ControlHandler {
    /// An agent that cannot ask ECUs.
    public func diagnostic(ecu: String, data: [UInt8], timeoutSeconds: Double?) throws -> DiagnosticReply {
        throw ControlFailure(.failed, "this agent runs no diagnostics service")
    }

    /// An agent that takes no configuration updates: no report.
    public func configurationState() throws -> ConfigurationState {
        ConfigurationState(report: nil)
    }
}

/// Who may make which request. Opening the socket at all is decided by its file mode (0660, group `axle`): anyone who
/// can connect may make read-only requests. State-changing requests (`set-rule`) are for privileged user ids only:
/// root, and by default the daemon's own effective uid, since a process running as that user could already change
/// everything the daemon can (its configuration, its data directory), so refusing it would protect nothing.
public struct ControlPolicy: Sendable, Equatable {
    /// User ids that may make state-changing requests.
    public var privilegedUIDs: Set<UInt32>

    /// A policy with exactly these privileged user ids.
    public init(privilegedUIDs: Set<UInt32>) {
        self.privilegedUIDs = privilegedUIDs
    }

    /// Root and this process's effective uid.
    public static var standard: ControlPolicy {
        ControlPolicy(privilegedUIDs: [0, UInt32(geteuid())])
    }

    /// Whether a caller running as `peerUID` may make `request`.
    public func permits(_ request: ControlRequest, peerUID: UInt32) -> Bool {
        !request.changesState || privilegedUIDs.contains(peerUID)
    }

    /// The refusal sent to a caller who may not make `request`: what was refused and how to do it instead.
    func refusal(_ request: ControlRequest, peerUID: UInt32) -> ControlFailure {
        ControlFailure(
            .permissionDenied,
            "'\(request.name)' \(request.isDiagnostic ? "with this service changes the vehicle" : "changes what the agent does") "
                + "and is allowed for root only (you are uid \(peerUID)); run the command again with sudo")
    }
}
