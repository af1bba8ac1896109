/// What MQTT carries for a record besides its topic, QoS and payload: the retain flag and the MQTT 5 properties a
/// command answer echoes (docs/mqtt.md). Telemetry records have none; command answers carry their content type and
/// the request's Correlation Data, the feature state is retained.
public struct RecordProperties: Sendable, Equatable {
    /// Published with the retain flag: the broker keeps the last one for subscribers that come later.
    public var retain: Bool
    /// MQTT 5 Content Type, e.g. "application/json".
    public var contentType: String?
    /// MQTT 5 Correlation Data, echoed from a request.
    public var correlationData: [UInt8]?

    /// Properties as given; the defaults are none.
    public init(retain: Bool = false, contentType: String? = nil, correlationData: [UInt8]? = nil) {
        self.retain = retain
        self.contentType = contentType
        self.correlationData = correlationData
    }

    /// No retain flag and no properties: what every telemetry record has.
    public static let none = RecordProperties()
}

/// What a producer hands to `OutboxStore.append`: the outbox assigns the sequence number, then asks for the bytes.
public struct RecordDraft: Sendable {
    public var priority: PriorityClass
    /// When the record was made, in unix milliseconds.
    public var createdAtMillis: Int64
    /// After this time (unix milliseconds) the record is worthless and dropped unsent; nil keeps it until sent.
    public var expiresAtMillis: Int64?
    public var topic: String
    public var qos: UInt8
    /// The retain flag and MQTT 5 properties it is published with.
    public var properties: RecordProperties
    /// The ready-to-publish bytes, given the record's sequence number (which the payload usually embeds). Called
    /// once per append, while the store is locked: it must not call back into the store. If it throws, the append
    /// stores nothing and throws `OutboxError` with code `.payload`.
    public var payload: @Sendable (_ sequence: UInt64) throws -> [UInt8]
    /// How many samples the record carries, as the producer counted them (0 when it did not): if the draft is
    /// refused, the refusal report says how many samples were lost (`RefusalTally.samples`).
    public var sampleCount: Int

    /// A draft; `payload` is called with the sequence number the outbox assigns.
    public init(
        priority: PriorityClass, createdAtMillis: Int64, expiresAtMillis: Int64?, topic: String, qos: UInt8,
        properties: RecordProperties = .none, sampleCount: Int = 0,
        payload: @escaping @Sendable (_ sequence: UInt64) throws -> [UInt8]
    ) {
        self.priority = priority
        self.createdAtMillis = createdAtMillis
        self.expiresAtMillis = expiresAtMillis
        self.topic = topic
        self.qos = qos
        self.properties = properties
        self.sampleCount = sampleCount
        self.payload = payload
    }
}

/// Drafts the outbox refused (a full disk, the cap reached with nothing it may evict, a storage error) that no
/// report has named yet. Refused drafts never get a sequence number, so without a report the backend could not
/// notice they are missing (docs/outbox.md, "Refusal reports").
public struct RefusalTally: Sendable, Equatable {
    /// Why appends were refused; a tally may hold several.
    public struct Reasons: OptionSet, Sendable, Hashable {
        public let rawValue: Int64
        public init(rawValue: Int64) { self.rawValue = rawValue }

        /// The filesystem was full (SQLITE_FULL), or intake was paused because it was.
        public static let diskFull = Reasons(rawValue: 1)
        /// The cap was reached and every stored record was more important than the drafts.
        public static let outboxFull = Reasons(rawValue: 2)
        /// SQLite or the storage failed otherwise (an I/O error, a read-only or damaged file).
        public static let storageError = Reasons(rawValue: 4)

        /// The names used on the wire (`outbox.intake_refused`'s `reasons` attribute), in this order.
        public var names: [String] {
            [(Reasons.diskFull, "disk_full"), (.outboxFull, "outbox_full"), (.storageError, "storage_error")]
                .filter { contains($0.0) }.map(\.1)
        }
    }

    /// Refused drafts per class (only classes with refusals).
    public var records: [PriorityClass: Int]
    /// The samples those drafts carried, as their producers counted them (`RecordDraft.sampleCount`).
    public var samples: Int
    /// When the first and the last of them were refused (unix milliseconds, the outbox's wall clock).
    public var firstAtMillis: Int64
    public var lastAtMillis: Int64
    public var reasons: Reasons

    /// A tally as counted.
    public init(records: [PriorityClass: Int], samples: Int, firstAtMillis: Int64, lastAtMillis: Int64, reasons: Reasons) {
        self.records = records
        self.samples = samples
        self.firstAtMillis = firstAtMillis
        self.lastAtMillis = lastAtMillis
        self.reasons = reasons
    }

    /// Refused drafts of every class.
    public var totalRecords: Int { records.values.reduce(0, +) }

    /// Adds refusals (`other` may be earlier or later than this tally).
    mutating func merge(_ other: RefusalTally) {
        for (priority, count) in other.records { records[priority, default: 0] += count }
        samples += other.samples
        firstAtMillis = min(firstAtMillis, other.firstAtMillis)
        lastAtMillis = max(lastAtMillis, other.lastAtMillis)
        reasons.formUnion(other.reasons)
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
    public var properties: RecordProperties
    public var payload: [UInt8]

    /// A record as stored.
    public init(
        sequence: UInt64, priority: PriorityClass, createdAtMillis: Int64, expiresAtMillis: Int64?, topic: String,
        qos: UInt8, properties: RecordProperties = .none, payload: [UInt8]
    ) {
        self.sequence = sequence
        self.priority = priority
        self.createdAtMillis = createdAtMillis
        self.expiresAtMillis = expiresAtMillis
        self.topic = topic
        self.qos = qos
        self.properties = properties
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
