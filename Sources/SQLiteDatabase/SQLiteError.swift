import AxleBase
import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// An SQLite failure: on which file, while doing what, SQLite's own message, and what the user can do about it.
/// `code` says which kind of remedy applies, so that callers react to it (pause intake on a full disk, replace a
/// damaged file) without reading SQLite result codes.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, grouped by what can be done about it; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case diskFull, readOnly, damaged, busy, cannotOpen, ioError, tooLarge, closed, other
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The filesystem (or the database's page limit) is full (SQLITE_FULL): free space, then retry.
        public static let diskFull = Code(.diskFull)
        /// The file, its directory or its filesystem is read-only, or the connection was opened read-only
        /// (SQLITE_READONLY).
        public static let readOnly = Code(.readOnly)
        /// The file is damaged or is not an SQLite database (SQLITE_CORRUPT, SQLITE_NOTADB): move it aside.
        public static let damaged = Code(.damaged)
        /// Another connection holds the lock past the busy timeout (SQLITE_BUSY, SQLITE_LOCKED).
        public static let busy = Code(.busy)
        /// The file cannot be opened or created (SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH); the message carries the
        /// operating system's reason.
        public static let cannotOpen = Code(.cannotOpen)
        /// The storage reported an I/O error (SQLITE_IOERR).
        public static let ioError = Code(.ioError)
        /// A value is larger than SQLite takes (SQLITE_TOOBIG, or more than 2 GiB of bytes).
        public static let tooLarge = Code(.tooLarge)
        /// The connection was closed before the call.
        public static let closed = Code(.closed)
        /// Any other SQLite error (SQLite's message says what).
        public static let other = Code(.other)

        public var description: String {
            switch base {
            case .diskFull: "diskFull"
            case .readOnly: "readOnly"
            case .damaged: "damaged"
            case .busy: "busy"
            case .cannotOpen: "cannotOpen"
            case .ioError: "ioError"
            case .tooLarge: "tooLarge"
            case .closed: "closed"
            case .other: "other"
            }
        }

        /// The code for an SQLite result code (primary or extended).
        init(resultCode: Int32) {
            switch resultCode & 0xFF {
            case SQLITE_FULL: self = .diskFull
            case SQLITE_READONLY: self = .readOnly
            case SQLITE_CORRUPT, SQLITE_NOTADB: self = .damaged
            case SQLITE_BUSY, SQLITE_LOCKED: self = .busy
            case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: self = .cannotOpen
            case SQLITE_IOERR: self = .ioError
            case SQLITE_TOOBIG: self = .tooLarge
            default: self = .other
            }
        }
    }

    public let code: Code
    /// The database file.
    public let path: String
    /// What was being done ("opening the database", "storing a record").
    public let step: String
    /// What failed: SQLite's message, with the operating system's reason where SQLite had one.
    public let message: String
    /// SQLite's extended result code, when SQLite reported the failure.
    public let resultCode: Int32?

    public init(_ code: Code, path: String, step: String, message: String, resultCode: Int32? = nil) {
        self.code = code
        self.path = path
        self.step = step
        self.message = message
        self.resultCode = resultCode
    }

    /// SQLite's primary result code (`SQLITE_FULL`, …), when SQLite reported the failure.
    public var primaryResultCode: Int32? { resultCode.map { $0 & 0xFF } }

    /// What the user can do about it.
    public var advice: String {
        switch code {
        case .diskFull: "the filesystem is full: free space on it"
        case .readOnly:
            "the file, its directory or its filesystem is read-only (SQLite also writes the -wal and -shm files "
                + "beside it): make them writable, or give a path on a writable filesystem"
        case .damaged:
            "the file is damaged or is not an SQLite database: move it aside (the agent does so itself for its own "
                + "databases when it starts) or give another path"
        case .busy: "another process holds the database locked (a second agent, or a long-running reader): stop it"
        case .cannotOpen: "check that the directory exists and that the agent may read and write it"
        case .ioError: "the storage reported an I/O error: check the filesystem and the flash device (dmesg)"
        case .tooLarge: "the value is larger than SQLite stores: make it smaller"
        case .closed: "the database was closed; open it again"
        default: "see SQLite's message"
        }
    }

    /// The failure and the advice, without the path: "<step> failed: <message> (SQLite error N); <advice>".
    public var explanation: String {
        let number = resultCode.map { " (SQLite error \($0))" } ?? ""
        return "\(step) failed: \(message)\(number); \(advice)"
    }

    public var description: String { "\(path): \(explanation)" }

    /// The failure `resultCode` reported by SQLite on `handle` (nil: no connection) during `step`.
    ///
    /// Where SQLite gives up because of the operating system (cannot open, I/O error, read-only), its message alone
    /// ("unable to open database file") does not say why, so the `errno` it saw is added, formatted by `SystemError`.
    static func sqlite(_ resultCode: Int32, handle: OpaquePointer?, path: String, step: String) -> SQLiteError {
        var message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(resultCode))
        let code = Code(resultCode: resultCode)
        if let handle, [.cannotOpen, .ioError, .readOnly].contains(code) {
            let systemErrno = sqlite3_system_errno(handle)
            if systemErrno != 0 {
                // SQLite does not say which call failed; opening is the one that matters for `.cannotOpen`.
                let call = code == .cannotOpen ? "open" : "file access"
                message += ": " + SystemError(call: call, subject: path, errno: systemErrno).description
            }
        }
        return SQLiteError(code, path: path, step: step, message: message, resultCode: resultCode)
    }
}
