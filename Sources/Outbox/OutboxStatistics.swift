/// What the outbox holds and what it lost: for the agent's health report and the technician CLI.
public struct OutboxStatistics: Sendable {
    /// The records of one class waiting to be sent.
    public struct ClassDepth: Sendable, Equatable {
        public var records: Int
        public var payloadBytes: Int64
        /// Creation time of the class's next record in line (its lowest sequence number), nil when empty.
        public var oldestCreatedAtMillis: Int64?

        /// A class's depth.
        public init(records: Int, payloadBytes: Int64, oldestCreatedAtMillis: Int64?) {
            self.records = records
            self.payloadBytes = payloadBytes
            self.oldestCreatedAtMillis = oldestCreatedAtMillis
        }
    }

    /// Waiting records per class (every class present, empty ones with zero records).
    public var depth: [PriorityClass: ClassDepth]
    /// Records evicted or expired unsent, all time (persisted across restarts).
    public var dropped: [PriorityClass: Int]
    /// Drafts refused because the disk or the outbox was full, all time (persisted once the disk takes writes again).
    public var refusedWhileFull: [PriorityClass: Int]
    /// Records in the dead-letter table.
    public var deadLetters: Int
    /// The highest sequence number ever assigned (0 before the first record).
    public var lastSequence: UInt64
    /// Bytes the database uses, as the cap counts them: (page_count - freelist_count) × page_size.
    public var databaseBytes: Int64
    public var capBytes: Int64
    /// The disk is full: non-critical appends are refused (and retried at most every few seconds).
    public var intakePaused: Bool
    /// The most recent drop ranges, newest last (at most 100).
    public var recentDrops: [DropRange]

    /// Statistics as gathered.
    public init(
        depth: [PriorityClass: ClassDepth], dropped: [PriorityClass: Int], refusedWhileFull: [PriorityClass: Int],
        deadLetters: Int, lastSequence: UInt64, databaseBytes: Int64, capBytes: Int64, intakePaused: Bool,
        recentDrops: [DropRange]
    ) {
        self.depth = depth
        self.dropped = dropped
        self.refusedWhileFull = refusedWhileFull
        self.deadLetters = deadLetters
        self.lastSequence = lastSequence
        self.databaseBytes = databaseBytes
        self.capBytes = capBytes
        self.intakePaused = intakePaused
        self.recentDrops = recentDrops
    }
}

/// What opening the outbox found.
public enum OpenReport: Sendable, Equatable {
    /// An existing database, checked and in use.
    case opened
    /// No database was there; a new one was made.
    case created
    /// The database was not readable as one or failed its check: it was moved to `movedTo` (with its -wal and -shm)
    /// for inspection, and a new one was made whose sequence numbers continue above the old ones.
    case replacedDamaged(movedTo: String, reason: String)
}
