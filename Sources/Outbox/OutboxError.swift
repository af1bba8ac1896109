import SQLiteDatabase

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

    /// An SQLite failure, with the SQLite layer's advice, under the outbox's code for it.
    init(_ error: SQLiteError) {
        let code: Code
        var message = error.explanation
        switch error.code {
        case .diskFull:
            code = .diskFull
            message += " (non-critical records are refused until then)"
        case .damaged: code = .damaged
        case .tooLarge: code = .tooLarge
        default: code = .database
        }
        self.init(
            code, path: error.path, message: message, sqliteCode: error.primaryResultCode,
            detail: "\(error.step): \(error.message)")
    }
}
