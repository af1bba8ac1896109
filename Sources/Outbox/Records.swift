/// What a producer hands to `OutboxStore.append`: the outbox assigns the sequence number, then asks for the bytes.
public struct RecordDraft: Sendable {
    public var priority: PriorityClass
    /// When the record was made, in unix milliseconds.
    public var createdAtMillis: Int64
    /// After this time (unix milliseconds) the record is worthless and dropped unsent; nil keeps it until sent.
    public var expiresAtMillis: Int64?
    public var topic: String
    public var qos: UInt8
    /// The ready-to-publish bytes, given the record's sequence number (which the payload usually embeds). Called
    /// once per append, while the store is locked: it must not call back into the store. If it throws, the append
    /// stores nothing and throws `OutboxError` with code `.payload`.
    public var payload: @Sendable (_ sequence: UInt64) throws -> [UInt8]

    /// A draft; `payload` is called with the sequence number the outbox assigns.
    public init(
        priority: PriorityClass, createdAtMillis: Int64, expiresAtMillis: Int64?, topic: String, qos: UInt8,
        payload: @escaping @Sendable (_ sequence: UInt64) throws -> [UInt8]
    ) {
        self.priority = priority
        self.createdAtMillis = createdAtMillis
        self.expiresAtMillis = expiresAtMillis
        self.topic = topic
        self.qos = qos
        self.payload = payload
    }
}

/// A stored record, ready to publish: the uplink sends `payload` to `topic` and acknowledges `sequence` on PUBACK.
public struct OutboxRecord: Sendable, Equatable {
    public var sequence: UInt64
    public var priority: PriorityClass
    public var createdAtMillis: Int64
    public var expiresAtMillis: Int64?
    public var topic: String
    public var qos: UInt8
    public var payload: [UInt8]

    /// A record as stored.
    public init(
        sequence: UInt64, priority: PriorityClass, createdAtMillis: Int64, expiresAtMillis: Int64?, topic: String,
        qos: UInt8, payload: [UInt8]
    ) {
        self.sequence = sequence
        self.priority = priority
        self.createdAtMillis = createdAtMillis
        self.expiresAtMillis = expiresAtMillis
        self.topic = topic
        self.qos = qos
        self.payload = payload
    }
}

/// A run of records of one class that the backend will never receive: `count` records with sequence numbers in
/// `first...last` (records of other classes, and delivered ones, may lie between them).
public struct DropRange: Sendable, Equatable {
    /// Why the records went: evicted to stay within the size cap or a full disk, or expired unsent.
    public enum Reason: String, Sendable {
        case evicted
        case expired
    }

    public var priority: PriorityClass
    public var first: UInt64
    public var last: UInt64
    public var count: Int
    public var reason: Reason
    /// When the last record of the run was dropped (unix milliseconds).
    public var atMillis: Int64

    /// A drop range as recorded.
    public init(priority: PriorityClass, first: UInt64, last: UInt64, count: Int, reason: Reason, atMillis: Int64) {
        self.priority = priority
        self.first = first
        self.last = last
        self.count = count
        self.reason = reason
        self.atMillis = atMillis
    }
}

/// A record the broker refused for good, kept for inspection with the reason.
public struct DeadLetter: Sendable, Equatable {
    public var record: OutboxRecord
    public var reason: String
    /// When it was dead-lettered (unix milliseconds).
    public var atMillis: Int64

    /// A dead letter as stored.
    public init(record: OutboxRecord, reason: String, atMillis: Int64) {
        self.record = record
        self.reason = reason
        self.atMillis = atMillis
    }
}
