/// The database layout and the arithmetic of record positions.
enum Schema {
    /// `PRAGMA application_id`: "AXLE", so that a foreign database at the path is refused rather than used.
    static let applicationID: Int64 = 0x4158_4C45
    /// `PRAGMA user_version` of this layout. Version 2 added each record's retain flag and MQTT 5 properties
    /// (`RecordProperties`), so that command answers can travel through the outbox; `migrateFromVersion1` adds them
    /// to a version 1 file in place.
    static let version: Int64 = 2

    /// Sequence numbers fit in 56 bits; the top byte of a record's position is its class.
    static let sequenceBits: Int64 = 56
    static let sequenceMask: Int64 = (1 << 56) - 1
    static let maximumSequence = UInt64(sequenceMask)

    /// A record's row id: its class in the top byte, so that each class's records are contiguous and oldest first.
    /// Draining reads a range, and evicting a class's oldest records frees whole pages instead of leaving holes in
    /// pages shared with other classes.
    static func position(_ priority: PriorityClass, _ sequence: UInt64) -> Int64 {
        Int64(priority.rawValue) << sequenceBits | Int64(sequence)
    }

    /// The first position of a class, and the first past it.
    static func range(_ priority: PriorityClass) -> (lower: Int64, upper: Int64) {
        (Int64(priority.rawValue) << sequenceBits, Int64(priority.rawValue + 1) << sequenceBits)
    }

    static func sequence(_ position: Int64) -> UInt64 { UInt64(position & sequenceMask) }

    static func priority(_ position: Int64) -> PriorityClass {
        PriorityClass(rawValue: UInt8(truncatingIfNeeded: position >> sequenceBits)) ?? .bulk
    }

    /// The tables. `classes` keeps per-class totals in the same transactions that change the records, so that
    /// statistics never scan the records; `drops` holds drop ranges until they are reported (then the last 100);
    /// `meta` holds the last sequence number (which only grows) and the cap, for the read-only CLI view.
    static let create = """
        CREATE TABLE IF NOT EXISTS records(
            position INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            topic TEXT NOT NULL,
            qos INTEGER NOT NULL,
            payload BLOB NOT NULL,
            retain INTEGER NOT NULL DEFAULT 0,
            content_type TEXT,
            correlation BLOB
        );
        CREATE INDEX IF NOT EXISTS records_by_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS classes(
            priority INTEGER PRIMARY KEY,
            records INTEGER NOT NULL DEFAULT 0,
            payload_bytes INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0,
            refused INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0
        );
        INSERT OR IGNORE INTO classes(priority) VALUES (0), (1), (2), (3);
        CREATE TABLE IF NOT EXISTS dead_letters(
            sequence INTEGER PRIMARY KEY,
            priority INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            topic TEXT NOT NULL,
            qos INTEGER NOT NULL,
            payload BLOB NOT NULL,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL,
            retain INTEGER NOT NULL DEFAULT 0,
            content_type TEXT,
            correlation BLOB
        );
        CREATE TABLE IF NOT EXISTS drops(
            id INTEGER PRIMARY KEY,
            priority INTEGER NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            count INTEGER NOT NULL,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL,
            reported INTEGER NOT NULL DEFAULT 0,
            delivered_mark INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO meta(key, value) VALUES ('last_sequence', 0), ('cap_bytes', 0);
        """

    /// Version 1 to 2: the columns of `RecordProperties`, empty for the records already stored (telemetry and the
    /// agent's events, which have none). `ADD COLUMN` with a constant default rewrites no rows, only the schema.
    static let migrateFromVersion1 = """
        ALTER TABLE records ADD COLUMN retain INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE records ADD COLUMN content_type TEXT;
        ALTER TABLE records ADD COLUMN correlation BLOB;
        ALTER TABLE dead_letters ADD COLUMN retain INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE dead_letters ADD COLUMN content_type TEXT;
        ALTER TABLE dead_letters ADD COLUMN correlation BLOB;
        """

    /// Dead letters kept at most; older ones are deleted as new ones arrive.
    static let deadLetterLimit = 1000
    /// Reported drop ranges kept for statistics.
    static let recentDropLimit = 100
}
