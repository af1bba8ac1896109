import Synchronization

/// A feature bought over the air (`feature.activate`): what it is, when it is valid, and where it stands.
public struct Entitlement: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case pending, active, expired, revoked
    }

    public var feature: String
    /// nil: valid from the grant on.
    public var validFromMillis: Int64?
    /// nil: no end.
    public var validUntilMillis: Int64?
    /// The `feature.activate` command that granted it.
    public var commandID: String
    /// The state last acted on (the agent moves it towards `desiredState`).
    public var state: State
    /// Seconds the entitlement has been active, accumulated on the monotonic clock (persisted): with validity
    /// length (until - from) it bounds the life even if the wall clock is set back.
    public var activeSeconds: Double

    public init(
        feature: String, validFromMillis: Int64? = nil, validUntilMillis: Int64? = nil, commandID: String,
        state: State = .pending, activeSeconds: Double = 0
    ) {
        self.feature = feature
        self.validFromMillis = validFromMillis
        self.validUntilMillis = validUntilMillis
        self.commandID = commandID
        self.state = state
        self.activeSeconds = activeSeconds
    }

    /// What should be true now. Revoked and expired are final; before `validFrom` pending; from `validUntil` on
    /// expired; also expired once `activeSeconds` reaches the validity length (from and until both known), so that
    /// setting the wall clock back does not extend the feature; otherwise active.
    public func desiredState(nowMillis: Int64) -> State {
        if state == .revoked || state == .expired { return state }
        if let validFromMillis, nowMillis < validFromMillis { return .pending }
        if let validUntilMillis, nowMillis >= validUntilMillis { return .expired }
        if let validFromMillis, let validUntilMillis,
            activeSeconds >= Double(validUntilMillis - validFromMillis) / 1000
        {
            return .expired
        }
        return .active
    }
}

/// Feature entitlements, durable, in the same database file as the journal (own table, own connection).
///
/// A `Mutex` around the connection; calls block on disk I/O, so make them from a dedicated thread.
public final class EntitlementStore: Sendable {
    public let path: String
    private let database: Mutex<CommandDatabase>

    /// Opens (or creates) the store at `path`, normally the journal's file.
    public init(path: String) throws(CommandJournalError) {
        let database = try CommandDatabase(path: path)
        try database.createSchema()
        self.path = path
        self.database = Mutex(database)
    }

    /// Stores `entitlement`, replacing any earlier one of the same feature.
    public func grant(_ entitlement: Entitlement) throws(CommandJournalError) {
        try database.withLock { database throws(CommandJournalError) in
            _ = try database.execute(
                """
                INSERT OR REPLACE INTO entitlements (feature, valid_from, valid_until, command_id, state, active_seconds)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [.text(entitlement.feature), entitlement.validFromMillis.map { .integer($0) } ?? .null,
                 entitlement.validUntilMillis.map { .integer($0) } ?? .null, .text(entitlement.commandID),
                 .text(entitlement.state.rawValue), .real(entitlement.activeSeconds)],
                doing: "storing the entitlement \(entitlement.feature)")
        }
    }

    /// Records the state of `feature`'s entitlement.
    public func setState(feature: String, _ state: Entitlement.State) throws(CommandJournalError) {
        try change(feature: feature, "UPDATE entitlements SET state = ? WHERE feature = ?", .text(state.rawValue))
    }

    /// Adds to the time `feature` has been active (call while it is active, with monotonic-clock seconds).
    public func addActiveSeconds(feature: String, _ seconds: Double) throws(CommandJournalError) {
        try change(
            feature: feature, "UPDATE entitlements SET active_seconds = active_seconds + ? WHERE feature = ?",
            .real(seconds))
    }

    private func change(feature: String, _ sql: String, _ value: SQLValue) throws(CommandJournalError) {
        try database.withLock { database throws(CommandJournalError) in
            try database.execute(sql, [value, .text(feature)], doing: "updating the entitlement \(feature)")
            guard database.changes == 1 else {
                throw CommandJournalError("\(path): there is no entitlement for feature \"\(feature)\"; grant it first")
            }
        }
    }

    /// Every entitlement, sorted by feature.
    public func all() throws(CommandJournalError) -> [Entitlement] {
        try database.withLock { database throws(CommandJournalError) -> [Entitlement] in
            let rows = try database.execute(
                "SELECT feature, valid_from, valid_until, command_id, state, active_seconds FROM entitlements ORDER BY feature",
                doing: "reading the entitlements")
            var entitlements: [Entitlement] = []
            for row in rows {
                guard let feature = row[0].text, let commandID = row[3].text, let stateText = row[4].text,
                    let state = Entitlement.State(rawValue: stateText), let activeSeconds = row[5].real
                else {
                    throw CommandJournalError("\(path): an entitlement row cannot be read; the file is damaged, move it away")
                }
                entitlements.append(Entitlement(
                    feature: feature, validFromMillis: row[1].integer, validUntilMillis: row[2].integer,
                    commandID: commandID, state: state, activeSeconds: activeSeconds))
            }
            return entitlements
        }
    }
}
