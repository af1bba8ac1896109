import RemoteCommands
import SQLiteDatabase

/// Feature entitlements, durable, in the journal's database file (a table of their own) and on the journal's
/// connection: one connection per database.
///
/// Calls take the journal's lock and block on disk I/O, so make them from a dedicated thread.
public final class EntitlementStore: Sendable {
    public let path: String
    let database: SharedCommandDatabase

    /// The entitlements in `journal`'s database (its file, or its memory for a disabled journal), on its connection.
    public init(journal: CommandJournal) {
        path = journal.path
        database = journal.database
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

    private func change(feature: String, _ sql: String, _ value: SQLiteValue) throws(CommandJournalError) {
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
