import AgentCore
import AxleBase
import CommandStore
import MQTTUplink
import RemoteCommands

// The agent's side of AgentCore's command seams: the SQLite journal and entitlement store, the MQTT answers, the
// pipeline's rule switches.

extension CommandJournal: CommandJournaling {}

extension EntitlementStore: EntitlementStoring {}

extension CommandResponder: CommandStatusPublisher {}

/// The retained `…/features` message (QoS 1), through the outbox like the command answers: a change made while the
/// link is down (an entitlement expiring) reaches the broker after the reconnection, even across a crash; the next
/// change replaces it, and the outbox's order makes the last one made the one retained.
struct MQTTFeatureStatePublisher: FeatureStatePublisher {
    let durable: DurableMessages
    let topics: UplinkTopics

    func publishFeatures(_ document: JSONValue) {
        var properties = MQTTProperties()
        properties.contentType = "application/json"
        guard case .object(let members) = document else { return }
        durable.publish(
            MQTTMessage(
                topic: topics.features, payload: Array(document.rendered().utf8), qos: 1, retain: true,
                properties: properties),
            members: members)
    }
}

/// `collection.update` goes to the pipeline as the control socket's rule switches do: applied on its next turn.
extension AgentState: CollectionRuleSwitch {
    func requestRuleChange(name: String, enabled: Bool) {
        requestRuleChange(RuleChange(name: name, enabled: enabled))
    }
}

extension CommandLogLevel {
    var agentLevel: LogLevel {
        switch self {
        case .error: .error
        case .warning: .warning
        case .notice: .notice
        case .info: .info
        }
    }
}

extension AgentLog {
    /// The command policies' log, written here.
    var commandLog: CommandLog {
        { level, component, text in self(level.agentLevel, component, text) }
    }
}
