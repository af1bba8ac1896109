import CSQLite

/// An outbox failure: what failed, on which database, why, and what to do. `code` lets callers react (`isDiskFull`).
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case diskFull, outboxFull, tooLarge, database, damaged, closed, invalidConfiguration, missingDatabase, payload
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The filesystem is full (SQLITE_FULL): non-critical intake is paused.
        public static let diskFull = Code(.diskFull)
        /// The cap is reached and every stored record is more important than the drafts.
        public static let outboxFull = Code(.outboxFull)
        /// One append is larger than the whole cap.
        public static let tooLarge = Code(.tooLarge)
        /// SQLite reported an error.
        public static let database = Code(.database)
        /// The database is damaged (detected while in use; reopening replaces it).
        public static let damaged = Code(.damaged)
        /// The store was closed.
        public static let closed = Code(.closed)
        /// The configuration cannot work (e.g. a cap below the minimum).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// There is no database at the path (read-only access).
        public static let missingDatabase = Code(.missingDatabase)
        /// The producer could not encode a record's payload; nothing was stored.
        public static let payload = Code(.payload)

        public var description: String {
            switch base {
            case .diskFull: "diskFull"
            case .outboxFull: "outboxFull"
            case .tooLarge: "tooLarge"
            case .database: "database"
            case .damaged: "damaged"
            case .closed: "closed"
            case .invalidConfiguration: "invalidConfiguration"
            case .missingDatabase: "missingDatabase"
            case .payload: "payload"
            }
        }
    }

    public let code: Code
    /// The database file.
    public let path: String
    /// The whole explanation (what was being done, what failed, what to do).
    public let message: String
    /// SQLite's primary result code, when SQLite reported the failure.
    public let sqliteCode: Int32?
    /// The failure alone, without advice (the reason given when a damaged database is replaced).
    let detail: String

    /// An error with its explanation.
    public init(_ code: Code, path: String, message: String, sqliteCode: Int32? = nil) {
        self.init(code, path: path, message: message, sqliteCode: sqliteCode, detail: message)
    }

    init(_ code: Code, path: String, message: String, sqliteCode: Int32?, detail: String) {
        self.code = code
        self.path = path
        self.message = message
        self.sqliteCode = sqliteCode
        self.detail = detail
    }

    /// The same error with `context` (what the caller was doing) in front of its message.
    func adding(context: String) -> OutboxError {
        OutboxError(code, path: path, message: "\(context): \(message)", sqliteCode: sqliteCode, detail: detail)
    }

    /// The disk is full: the drafts were refused; retry later (the outbox paces the retries itself).
    public var isDiskFull: Bool { code == .diskFull }

    public var description: String { "outbox \(path): \(message)" }

    /// An SQLite failure during `step`, with SQLite's own message and advice for the codes a user can act on.
    static func sqlite(_ result: Int32, step: String, path: String, message: String) -> OutboxError {
        let primary = result & 0xFF
        let advice: String
        let code: Code
        switch primary {
        case SQLITE_FULL:
            code = .diskFull
            advice = "the filesystem is full: free space on it (non-critical records are refused until then)"
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            code = .damaged
            advice = "the database file is damaged: restart the agent, which moves it aside and starts a new one"
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN, SQLITE_AUTH:
            code = .database
            advice = "check that the directory exists and that the agent may read and write it"
        case SQLITE_BUSY, SQLITE_LOCKED:
            code = .database
            advice = "another process holds the database locked (a second agent, or a long-running reader)"
        case SQLITE_IOERR:
            code = .database
            advice = "the storage reported an I/O error: check the filesystem and the flash device (dmesg)"
        default:
            code = .database
            advice = "see the SQLite message above"
        }
        return OutboxError(
            code, path: path, message: "\(step) failed: \(message) (SQLite error \(result)); \(advice)",
            sqliteCode: primary, detail: "\(step): \(message)")
    }
}
