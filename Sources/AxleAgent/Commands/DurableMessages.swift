import AxleBase
import MQTTUplink
import Outbox

/// Messages the backend must receive even when the link is down when they are made, or the agent crashes before it
/// comes back: command answers and the retained feature state. Each becomes a critical outbox record (fsynced,
/// drained first, never evicted while a lower class holds a record), carrying its topic, QoS, retain flag and MQTT 5
/// properties, and the drainer publishes it as it publishes telemetry: in sequence order, deleted on PUBACK, sent
/// again after a reconnection without one. So an answer arrives at least once and in the order it was made; the
/// backend drops repeats by command id and status (docs/commands.md, "Answers that are never lost").
///
/// Appends run on the caller's thread (the command service's, or the MQTT client's for refusals made on arrival):
/// one small transaction with an fsync each.
struct DurableMessages: Sendable {
    let outbox: OutboxStore
    /// Used only when the outbox refuses a message (a full disk, a damaged file): published straight away, so that
    /// the answer still goes out while the link is up, as before the outbox carried answers.
    let client: MQTTClient
    /// Wakes the drainer.
    let onAppended: @Sendable () -> Void
    let log: AgentLog

    /// Stores `message` durably for the drainer, or, if the outbox refuses it, publishes it directly. Its payload is
    /// the JSON object of `members` followed by `"seq"`, the record's sequence number: every record of the outbox
    /// carries its number, so that the backend's gap check (docs/mqtt.md) sees answers as it sees telemetry. The
    /// direct fallback has no record and so no `seq`.
    func publish(_ message: MQTTMessage, members: [(String, JSONValue)]) {
        let draft = RecordDraft(
            priority: .critical, createdAtMillis: wallClockMillis(), expiresAtMillis: nil, topic: message.topic,
            qos: message.qos,
            properties: RecordProperties(
                retain: message.retain, contentType: message.properties.contentType,
                correlationData: message.properties.correlationData)
        ) { sequence in
            Array(JSONValue.object(members + [("seq", .integer(Int128(sequence)))]).rendered().utf8)
        }
        do {
            try outbox.append([draft])
            onAppended()
        } catch {
            log(.warning, "commands", "cannot store a message for \(message.topic) in the outbox (\(error)): published directly, and lost if the link is down")
            _ = client.publish(message)
        }
    }
}
