/// A problem found in a DBC file, with where it is and why it matters.
public struct DBCDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case warning
        case error
    }

    public var severity: Severity
    public var file: String
    public var line: Int
    /// 1-based column, or 0 when only the line is known.
    public var column: Int
    public var message: String

    public init(severity: Severity, file: String, line: Int, column: Int = 0, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: severity: message`, the format compilers use, so editors can jump to it.
    public var description: String {
        let place = column > 0 ? "\(file):\(line):\(column)" : "\(file):\(line)"
        return "\(place): \(severity.rawValue): \(message)"
    }
}

/// A DBC file that cannot be used: the first unrecoverable problem, with file:line:column.
public struct DBCParseError: Error, Sendable, CustomStringConvertible {
    public var diagnostic: DBCDiagnostic
    /// Warnings found before the error.
    public var warnings: [DBCDiagnostic]

    public var description: String { diagnostic.description }
}
