// The drainer's view of the world around it: the durable store it drains (the SQLite outbox) and the connection it
// publishes on (MQTT). The agent wires them to `OutboxStore` and `MQTTClient` (Sources/AxleAgent/DrainerAdapters.swift);
// the unit tests fill them with fakes.

/// A stored record waiting to be sent, as the drainer needs it.
public struct PendingRecord: Sendable, Equatable {
    /// The outbox's sequence number: what an acknowledgement deletes and a dead letter moves.
    public var sequence: UInt64
    public var priority: RecordClass
    public var topic: String
    public var qos: UInt8
    public var payload: [UInt8]
    /// Published with the retain flag (the feature state).
    public var retain: Bool
    /// MQTT 5 properties a command answer carries: its content type and the request's Correlation Data.
    public var contentType: String?
    public var correlationData: [UInt8]?

    public init(
        sequence: UInt64, priority: RecordClass, topic: String, qos: UInt8, payload: [UInt8], retain: Bool = false,
        contentType: String? = nil, correlationData: [UInt8]? = nil
    ) {
        self.sequence = sequence
        self.priority = priority
        self.topic = topic
        self.qos = qos
        self.payload = payload
        self.retain = retain
        self.contentType = contentType
        self.correlationData = correlationData
    }
}

/// The durable store the drainer empties (docs/outbox.md). Every call is a blocking transaction: the drainer calls
/// from its own thread only.
public protocol RecordStore {
    /// Up to `limit` records of `classes`, most important class first and ascending sequence numbers within a class,
    /// skipping `excluding` (records in flight) and expired records.
    func nextRecords(limit: Int, classes: Set<RecordClass>, excluding: Set<UInt64>) throws -> [PendingRecord]
    /// Deletes acknowledged records; sequence numbers no longer stored are ignored.
    func acknowledge(_ sequences: [UInt64]) throws
    /// Moves a record that will never be taken into the dead-letter table; a record no longer stored is ignored.
    func deadLetter(sequence: UInt64, reason: String) throws
}

/// What became of one publish (mirrors `MQTTUplink.PublishOutcome`, which the core cannot name).
public enum RecordPublishOutcome: Sendable, Equatable {
    /// Handed over on a live connection: an acknowledgement with this id will follow.
    case sent(messageID: Int32)
    /// No connection; the MQTT library may still send it after reconnecting, so an acknowledgement may still come.
    case notConnected(messageID: Int32)
    /// The message can never be sent (bad topic, too large): retrying cannot help.
    case permanentFailure(reason: String)
    /// Anything else (out of memory): try again later.
    case transientFailure(reason: String)
}

/// The connection records are published on, acknowledged later by message id.
public protocol RecordPublisher {
    /// Publishes `record` at `qos`, with its retain flag and properties; returns at once.
    func publish(_ record: PendingRecord, qos: UInt8) -> RecordPublishOutcome
}

/// An acknowledgement from the broker: PUBACK (QoS 1) or PUBCOMP (QoS 2) for `messageID`.
public struct RecordAcknowledgement: Sendable, Equatable {
    public var messageID: Int32
    /// The MQTT 5 reason code: 0x80 or more means the broker refused the message for good.
    public var reasonCode: Int32

    public init(messageID: Int32, reasonCode: Int32) {
        self.messageID = messageID
        self.reasonCode = reasonCode
    }
}
