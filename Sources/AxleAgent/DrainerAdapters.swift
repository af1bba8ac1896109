import AgentCore
import MQTTUplink
import Outbox

// The drainer's seams (Sources/AgentCore/Uplink/DrainerSeams.swift) wired to the real outbox and MQTT client.

extension RecordClass {
    /// The same class as the outbox's (the raw values are shared by design).
    init(_ priority: PriorityClass) { self = RecordClass(rawValue: priority.rawValue)! }
}

extension PriorityClass {
    init(_ recordClass: RecordClass) { self = PriorityClass(rawValue: recordClass.rawValue)! }
}

/// The SQLite outbox as the drainer's `RecordStore`.
struct OutboxRecordStore: RecordStore {
    let outbox: OutboxStore

    func nextRecords(limit: Int, classes: Set<RecordClass>, excluding: Set<UInt64>) throws -> [PendingRecord] {
        try outbox.nextRecords(limit: limit, classes: Set(classes.map(PriorityClass.init)), excluding: excluding).map {
            PendingRecord(
                sequence: $0.sequence, priority: RecordClass($0.priority), topic: $0.topic, qos: $0.qos, payload: $0.payload,
                retain: $0.properties.retain, contentType: $0.properties.contentType,
                correlationData: $0.properties.correlationData)
        }
    }

    func acknowledge(_ sequences: [UInt64]) throws { try outbox.acknowledge(sequences) }

    func deadLetter(sequence: UInt64, reason: String) throws { try outbox.deadLetter(sequence: sequence, reason: reason) }
}

/// The MQTT client as the drainer's `RecordPublisher`.
struct MQTTRecordPublisher: RecordPublisher {
    let client: MQTTClient

    func publish(_ record: PendingRecord, qos: UInt8) -> RecordPublishOutcome {
        var properties = MQTTProperties()
        properties.contentType = record.contentType
        properties.correlationData = record.correlationData
        let message = MQTTMessage(
            topic: record.topic, payload: record.payload, qos: qos, retain: record.retain, properties: properties)
        switch client.publish(message) {
        case .sent(let messageID): return .sent(messageID: messageID)
        case .notConnected(let messageID): return .notConnected(messageID: messageID)
        case .permanentFailure(let reason): return .permanentFailure(reason: reason)
        case .transientFailure(let reason): return .transientFailure(reason: reason)
        }
    }
}

extension DrainSettings {
    /// The drainer's part of the uplink policy.
    init(_ policy: UplinkPolicy, acknowledgementTimeoutSeconds: Double, housekeepingSeconds: Double) {
        var intervals: [RecordClass: Double] = [:]
        for priority in PriorityClass.allCases {
            intervals[RecordClass(priority)] = policy.policy(for: priority).publishIntervalSeconds
        }
        self.init(
            window: policy.window, publishIntervalSeconds: intervals, qosAtMostOne: policy.awsIoTCompatible,
            acknowledgementTimeoutSeconds: acknowledgementTimeoutSeconds, housekeepingSeconds: housekeepingSeconds)
    }
}
