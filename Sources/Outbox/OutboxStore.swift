import SQLiteDatabase
import Synchronization

/// The durable outbox: every record stays in SQLite until the backend acknowledged it, within a size cap, across
/// crashes and power cuts. docs/outbox.md describes the behaviour.
///
/// One SQLite connection behind a `Mutex`: the writer and drainer threads call in, and each call is short. Calls
/// block on disk I/O, so make them from dedicated threads, not from the Swift concurrency pool.
public final class OutboxStore: Sendable {
    public let configuration: OutboxConfiguration
    /// What opening found: an existing database, a new one, or a damaged one replaced.
    public let openReport: OpenReport
    private let state: Mutex<OutboxState>

    /// Opens the database at `configuration.path`, creating it, or replacing it when it is damaged.
    public init(configuration: OutboxConfiguration) throws {
        let (state, report) = try OutboxState.open(configuration)
        self.configuration = configuration
        self.openReport = report
        self.state = Mutex(state)
    }

    /// One transaction for all drafts; returns the sequence numbers assigned, in order. Durability .full if any draft
    /// is critical or `durability == .full`, else NORMAL. May evict (see cap) before inserting.
    @discardableResult
    public func append(_ drafts: [RecordDraft], durability: Durability? = nil) throws -> [UInt64] {
        try state.withLock { state throws(OutboxError) in try state.append(drafts, durability: durability) }
    }

    /// Highest class first, ascending sequence within a class, skipping `excluding` (in flight), only `classes`.
    /// Records whose expiry has passed are not returned (`dropExpired` removes them).
    public func nextRecords(limit: Int, classes: Set<PriorityClass>, excluding: Set<UInt64>) throws -> [OutboxRecord] {
        guard limit > 0 else { return [] }
        return try state.withLock { state throws(OutboxError) in
            try state.nextRecords(limit: limit, classes: classes, excluding: excluding)
        }
    }

    /// Deletes acknowledged records (one transaction for the whole list); unknown sequence numbers are ignored.
    public func acknowledge(_ sequences: [UInt64]) throws {
        try state.withLock { state throws(OutboxError) in try state.acknowledge(sequences) }
    }

    /// Moves a record to the dead-letter table with the reason (permanent publish failure); no effect when the
    /// record is no longer stored.
    public func deadLetter(sequence: UInt64, reason: String) throws {
        try state.withLock { state throws(OutboxError) in try state.deadLetter(sequence: sequence, reason: reason) }
    }

    /// The most recent `limit` dead letters, oldest first.
    public func deadLetters(limit: Int) throws -> [DeadLetter] {
        try state.withLock { state throws(OutboxError) in try state.deadLetters(limit: limit) }
    }

    /// Drops records whose expiry has passed; each run becomes a DropRange(reason: .expired). Returns how many.
    @discardableResult
    public func dropExpired() throws -> Int {
        try state.withLock { state throws(OutboxError) in try state.dropExpired() }
    }

    /// Atomically: takes every drop range not yet reported, asks `makeDraft` for an event record naming them, appends
    /// it (durability full) and marks them reported. Returns its sequence, or nil when nothing was pending.
    /// `makeDraft` runs while the store is locked: it must not call the store.
    public func appendDropReport(_ makeDraft: ([DropRange]) -> RecordDraft) throws -> UInt64? {
        // In two halves around `makeDraft`, so that the caller's closure is never handed to the locked state.
        try state.withLock { state throws(OutboxError) -> UInt64? in
            guard let ranges = try state.beginDropReport() else { return nil }
            return try state.finishDropReport(makeDraft(ranges))
        }
    }

    /// Atomically: takes the tally of refused drafts not yet reported, asks `makeDraft` for an event record naming it,
    /// appends it (durability full) and clears the tally. Returns its sequence, or nil when nothing is pending. The
    /// tally reaches the database with the first append that commits after the refusals (or at `close`), and nothing
    /// is reported while intake is paused on a full disk, so the report follows the return of space.
    /// `makeDraft` runs while the store is locked: it must not call the store.
    public func appendRefusalReport(_ makeDraft: (RefusalTally) -> RecordDraft) throws -> UInt64? {
        try state.withLock { state throws(OutboxError) -> UInt64? in
            guard let tally = try state.beginRefusalReport() else { return nil }
            return try state.finishRefusalReport(makeDraft(tally))
        }
    }

    /// Depths, drops, refusals, dead letters and size.
    public func statistics() throws -> OutboxStatistics {
        try state.withLock { state throws(OutboxError) in try state.statistics() }
    }

    /// Read-only view for the technician CLI while the agent is down: statistics without writing anything.
    public static func readStatistics(path: String) throws -> OutboxStatistics {
        let connection = try openReadOnly(path: path)
        defer { connection.close() }
        return try OutboxState.statistics(of: connection, capBytes: nil)
    }

    /// `PRAGMA integrity_check` of the database at `path`, read-only: `["ok"]`, or the problems SQLite found.
    public static func checkIntegrity(path: String) throws -> [String] {
        let connection = try openReadOnly(path: path)
        defer { connection.close() }
        return try connection.texts("PRAGMA integrity_check", step: "checking integrity")
    }

    /// Writes refusals still counted in memory (if the disk takes them) and the last sequence number to the sidecar,
    /// and closes the database; later calls throw `.closed`.
    public func close() {
        state.withLock { $0.close() }
    }

    /// A read-only connection (`SQLITE_OPEN_READONLY`), which never writes the database.
    private static func openReadOnly(path: String) throws(OutboxError) -> OutboxConnection {
        guard Files.exists(path) else {
            throw OutboxError(
                .missingDatabase, path: path, message: "there is no outbox database here (check the path)")
        }
        return try OutboxConnection(path: path, access: .readOnly)
    }
}
