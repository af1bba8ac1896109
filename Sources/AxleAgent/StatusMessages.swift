import AxleBase
import MQTTUplink

/// The retained status messages on `…/status` (docs/mqtt.md): small JSON, readable by any tool.
struct StatusMessages: Sendable {
    let topics: UplinkTopics
    let profile: String

    /// Birth message, published on every connection.
    func online() -> MQTTMessage {
        message(state: "online", extra: [("version", .string(AxleVersion.current)), ("profile", .string(profile))])
    }

    /// Last Will (the broker publishes it when the connection dies) and the shutdown message.
    func offline(reason: String) -> MQTTMessage {
        message(state: "offline", extra: [("reason", .string(reason))])
    }

    private func message(state: String, extra: [(String, JSONValue)]) -> MQTTMessage {
        let document = JSONValue.object([("state", .string(state)), ("vehicle", .string(topics.vehicleID))] + extra)
        var properties = MQTTProperties()
        properties.contentType = "application/json"
        return MQTTMessage(
            topic: topics.status, payload: Array(document.rendered().utf8), qos: 1, retain: true, properties: properties)
    }
}
