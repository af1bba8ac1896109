import AxleBase
import Outbox

/// What the outbox holds and what it lost: the result of `outbox`, part of `status`, and what `axle outbox` reads
/// from the database file itself when the agent is down.
public struct OutboxReport: Sendable, Equatable {
    /// The waiting records of one priority class.
    public struct ClassReport: Sendable, Equatable {
        /// The class's name: "critical", "alert", "telemetry" or "bulk".
        public var name: String
        /// Records waiting to be sent.
        public var records: Int
        /// Their payload bytes.
        public var bytes: Int64
        /// Age of the class's next record in line, in seconds; nil when the class is empty.
        public var oldestAgeSeconds: Double?
        /// Records evicted or expired unsent, all time.
        public var dropped: Int
        /// Records refused because the disk or the outbox was full, all time.
        public var refusedWhileFull: Int

        /// A class's numbers.
        public init(
            name: String, records: Int, bytes: Int64, oldestAgeSeconds: Double?, dropped: Int, refusedWhileFull: Int
        ) {
            self.name = name
            self.records = records
            self.bytes = bytes
            self.oldestAgeSeconds = oldestAgeSeconds
            self.dropped = dropped
            self.refusedWhileFull = refusedWhileFull
        }

        func toJSON() -> JSONValue {
            .object([
                ("class", .string(name)),
                ("records", .count(records)),
                ("bytes", .count(bytes)),
                ("oldest_age_seconds", .optional(oldestAgeSeconds)),
                ("dropped", .count(dropped)),
                ("refused_while_full", .count(refusedWhileFull)),
            ])
        }

        init(reader: JSONObjectReader) throws(ControlDecodingError) {
            self.init(
                name: try reader.string("class"),
                records: try reader.integer("records"),
                bytes: try reader.integer("bytes"),
                oldestAgeSeconds: try reader.optionalDouble("oldest_age_seconds"),
                dropped: try reader.integer("dropped"),
                refusedWhileFull: try reader.integer("refused_while_full"))
        }
    }

    /// A run of records of one class the backend will never receive (`DropRange`).
    public struct EvictedRange: Sendable, Equatable {
        /// The class's name.
        public var className: String
        /// The first and last sequence numbers of the run (other classes' records may lie between).
        public var first: UInt64
        public var last: UInt64
        public var count: Int
        /// "evicted" (to stay within the cap or on a full disk) or "expired" (unsent past their expiry).
        public var reason: String
        /// When the run's last record was dropped (unix milliseconds).
        public var atMillis: Int64

        /// A range as reported.
        public init(className: String, first: UInt64, last: UInt64, count: Int, reason: String, atMillis: Int64) {
            self.className = className
            self.first = first
            self.last = last
            self.count = count
            self.reason = reason
            self.atMillis = atMillis
        }

        func toJSON() -> JSONValue {
            .object([
                ("class", .string(className)),
                ("first", .count(first)),
                ("last", .count(last)),
                ("count", .count(count)),
                ("reason", .string(reason)),
                ("at_millis", .count(atMillis)),
            ])
        }

        init(reader: JSONObjectReader) throws(ControlDecodingError) {
            self.init(
                className: try reader.string("class"),
                first: try reader.integer("first"),
                last: try reader.integer("last"),
                count: try reader.integer("count"),
                reason: try reader.string("reason"),
                atMillis: try reader.integer("at_millis"))
        }
    }

    /// The database file.
    public var path: String
    /// Bytes the database uses, as the cap counts them.
    public var databaseBytes: Int64
    /// The size cap.
    public var capBytes: Int64
    /// Every class, most important first.
    public var classes: [ClassReport]
    /// Records the broker refused for good, kept for inspection.
    public var deadLetters: Int
    /// The highest sequence number ever assigned.
    public var lastSequence: UInt64
    /// The disk is full: non-critical records are refused.
    public var intakePaused: Bool
    /// The most recent drop ranges, newest last.
    public var evictedRanges: [EvictedRange]

    /// A report as gathered.
    public init(
        path: String, databaseBytes: Int64, capBytes: Int64, classes: [ClassReport], deadLetters: Int,
        lastSequence: UInt64, intakePaused: Bool, evictedRanges: [EvictedRange]
    ) {
        self.path = path
        self.databaseBytes = databaseBytes
        self.capBytes = capBytes
        self.classes = classes
        self.deadLetters = deadLetters
        self.lastSequence = lastSequence
        self.intakePaused = intakePaused
        self.evictedRanges = evictedRanges
    }

    /// The report for `OutboxStore.statistics()` or `OutboxStore.readStatistics(path:)`; ages are counted up to
    /// `nowMillis` (a record from the future, after a clock jump, has age 0).
    public init(statistics: OutboxStatistics, path: String, nowMillis: Int64) {
        self.init(
            path: path,
            databaseBytes: statistics.databaseBytes,
            capBytes: statistics.capBytes,
            classes: PriorityClass.allCases.sorted().map { priority in
                let depth = statistics.depth[priority]
                return ClassReport(
                    name: priority.description,
                    records: depth?.records ?? 0,
                    bytes: depth?.payloadBytes ?? 0,
                    oldestAgeSeconds: depth?.oldestCreatedAtMillis.map { Double(max(0, nowMillis - $0)) / 1000 },
                    dropped: statistics.dropped[priority] ?? 0,
                    refusedWhileFull: statistics.refusedWhileFull[priority] ?? 0)
            },
            deadLetters: statistics.deadLetters,
            lastSequence: statistics.lastSequence,
            intakePaused: statistics.intakePaused,
            evictedRanges: statistics.recentDrops.map {
                EvictedRange(
                    className: $0.priority.description, first: $0.first, last: $0.last, count: $0.count,
                    reason: $0.reason.rawValue, atMillis: $0.atMillis)
            })
    }

    /// Records waiting in every class.
    public var totalRecords: Int { classes.reduce(0) { $0 + $1.records } }

    /// The oldest waiting record's age over all classes, nil when the outbox is empty.
    public var oldestAgeSeconds: Double? { classes.compactMap(\.oldestAgeSeconds).max() }

    /// The report as sent on the socket and printed by `axle outbox --json`.
    public func toJSON() -> JSONValue {
        .object([
            ("path", .string(path)),
            ("database_bytes", .count(databaseBytes)),
            ("cap_bytes", .count(capBytes)),
            ("classes", .array(classes.map { $0.toJSON() })),
            ("dead_letters", .count(deadLetters)),
            ("last_sequence", .count(lastSequence)),
            ("intake_paused", .bool(intakePaused)),
            ("evicted_ranges", .array(evictedRanges.map { $0.toJSON() })),
        ])
    }

    /// Reads a report; the error names the field that does not fit.
    public init(json: JSONValue) throws(ControlDecodingError) {
        try self.init(reader: try JSONObjectReader(json))
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            path: try reader.string("path"),
            databaseBytes: try reader.integer("database_bytes"),
            capBytes: try reader.integer("cap_bytes"),
            classes: try reader.objects("classes", ClassReport.init(reader:)),
            deadLetters: try reader.integer("dead_letters"),
            lastSequence: try reader.integer("last_sequence"),
            intakePaused: try reader.bool("intake_paused"),
            evictedRanges: try reader.objects("evicted_ranges", EvictedRange.init(reader:)))
    }
}
