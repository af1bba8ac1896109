import AxleBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed TOML file: its top-level table and the path used in every message about it.
public struct TOMLDocument: Sendable {
    /// How deeply values may nest: each array, inline table and name in a dotted key or `[table.header]` counts one
    /// level. Deeper documents are refused with an error at the place that goes too deep, instead of overflowing the
    /// stack. Configuration and profiles need a few levels; a debug build needs about 4.7 KiB of stack per inline table
    /// (TOMLNestingTests), so 32 levels stay under a third of a 512 KiB stack and far under the 8 MiB threads get.
    public static let maximumNestingDepth = 32

    /// The file the document was read from (or the label given to `parse`), as messages show it.
    public let path: String
    public let root: TOMLTable

    public init(path: String, root: TOMLTable) {
        self.path = path
        self.root = root
    }

    /// Parses TOML 1.0 text; `path` names the text in errors.
    public static func parse(_ text: String, path: String) throws(TOMLError) -> TOMLDocument {
        var parser = TOMLParser(bytes: Array(text.utf8), path: path)
        return TOMLDocument(path: path, root: try parser.parseDocument())
    }

    /// Reads and parses the file at `path` (UTF-8, as TOML requires).
    public static func load(path: String) throws(TOMLError) -> TOMLDocument {
        let bytes: [UInt8]
        do {
            bytes = try FileInput.readAll(path: path)
        } catch {
            throw TOMLError(path: path, line: 0, column: 0, message: "cannot read the file: \(SystemError.text(errno: error.errno))")
        }
        if String(validating: bytes, as: UTF8.self) == nil {
            let (line, column) = TOMLParser.firstInvalidUTF8(in: bytes)
            throw TOMLError(path: path, line: line, column: column, message: "the file is not valid UTF-8 (TOML files must be UTF-8)")
        }
        var parser = TOMLParser(bytes: bytes, path: path)
        return TOMLDocument(path: path, root: try parser.parseDocument())
    }
}

/// A TOML file that cannot be read: where (path:line:column) and why.
public struct TOMLError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// 1-based; 0 when the problem is the file as a whole (it cannot be read).
    public var line: Int
    /// 1-based, in characters; 0 when unknown.
    public var column: Int
    public var message: String

    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `path:line:column: message`, the form editors jump to.
    public var description: String {
        if line == 0 { return "\(path): \(message)" }
        if column == 0 { return "\(path):\(line): \(message)" }
        return "\(path):\(line):\(column): \(message)"
    }
}

/// One TOML value and the line it starts on.
public struct TOMLValue: Sendable, Equatable {
    /// The value's type and content.
    public enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
        /// An offset or local date-time, local date or local time, kept as written (RFC 3339 text).
        case dateTime(String)
    }

    public var kind: Kind
    /// 1-based line where the value starts.
    public var line: Int

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    // Typed views: nil when the value has another type.
    public var stringValue: String? { if case .string(let value) = kind { value } else { nil } }
    public var integerValue: Int64? { if case .integer(let value) = kind { value } else { nil } }
    public var boolValue: Bool? { if case .bool(let value) = kind { value } else { nil } }
    public var arrayValue: [TOMLValue]? { if case .array(let value) = kind { value } else { nil } }
    public var tableValue: TOMLTable? { if case .table(let value) = kind { value } else { nil } }

    /// A float, or an integer as a float (where a number of either kind is meant).
    public var numberValue: Double? {
        switch kind {
        case .float(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }

    /// The value's type with an article, for messages: "a string", "an integer", "a table".
    public var typeName: String {
        switch kind {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .dateTime: "a date-time"
        }
    }

    /// What a type error shows as "found …": the type and, for short scalars, the value as written in TOML.
    public var foundDescription: String {
        switch kind {
        case .string(let value):
            let shown = value.count > 40 ? String(value.prefix(40)) + "…" : value
            return "the string \"\(shown)\""
        case .integer(let value): return "the integer \(value)"
        case .float(let value): return "the float \(value)"
        case .bool(let value): return "the boolean \(value)"
        case .array(let values): return values.isEmpty ? "an empty array" : "an array of \(values.count)"
        case .table: return "a table"
        case .dateTime(let value): return "the date-time \(value)"
        }
    }
}

/// A TOML table: entries in the order written, each with the line of its key.
public struct TOMLTable: Sendable, Equatable {
    /// One key of the table, its value, and the line the key is on.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: TOMLValue
        /// Line of the key (for a sub-table: of its `[header]`).
        public var line: Int

        public init(key: String, value: TOMLValue, line: Int) {
            self.key = key
            self.value = value
            self.line = line
        }
    }

    public private(set) var entries: [Entry] = []
    private var positions: [String: Int] = [:]
    /// Line of the table's `[header]` or of the key that created it (1 for the root table).
    public var line: Int

    public init(line: Int) {
        self.line = line
    }

    public subscript(key: String) -> TOMLValue? {
        positions[key].map { entries[$0].value }
    }

    /// The entry for `key`, with the line of the key itself.
    public func entry(_ key: String) -> Entry? {
        positions[key].map { entries[$0] }
    }

    /// Keys in the order written.
    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Adds or replaces `key` (replacing keeps the key's place).
    public mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if let position = positions[key] {
            entries[position] = Entry(key: key, value: value, line: line)
        } else {
            positions[key] = entries.count
            entries.append(Entry(key: key, value: value, line: line))
        }
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.line == rhs.line && lhs.entries == rhs.entries
    }
}
