import AxleBase

/// One problem in a checked file: where it is (path:line) and what to do about it.
public struct TOMLProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// 1-based; 0 when the problem is about the file as a whole.
    public var line: Int
    /// 1-based column when known (problems passed on from other parsers, such as the DBC parser), else 0.
    public var column: Int
    public var message: String
    public var isWarning: Bool

    public init(path: String, line: Int, column: Int = 0, message: String, isWarning: Bool = false) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.isWarning = isWarning
    }

    /// "error" or "warning".
    public var severity: String { isWarning ? "warning" : "error" }

    /// `path:line: error: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        var place = path
        if line > 0 { place += ":\(line)" }
        if line > 0, column > 0 { place += ":\(column)" }
        return "\(place): \(severity): \(message)"
    }
}

/// Problems collected while checking a file: every one is reported, not just the first.
///
/// A class so that the readers of nested tables all add to the same list.
public final class TOMLProblems {
    public private(set) var all: [TOMLProblem] = []

    public init() {}

    public func append(_ problem: TOMLProblem) {
        all.append(problem)
    }

    public func append(contentsOf problems: some Sequence<TOMLProblem>) {
        all.append(contentsOf: problems)
    }

    public func error(path: String, line: Int, _ message: String) {
        all.append(TOMLProblem(path: path, line: line, message: message))
    }

    public func warning(path: String, line: Int, _ message: String) {
        all.append(TOMLProblem(path: path, line: line, message: message, isWarning: true))
    }

    public var errors: [TOMLProblem] { all.filter { !$0.isWarning } }
    public var warnings: [TOMLProblem] { all.filter(\.isWarning) }
    public var hasErrors: Bool { all.contains { !$0.isWarning } }
    /// Neither errors nor warnings.
    public var isEmpty: Bool { all.isEmpty }
}

/// Reads typed values out of a table, recording a problem for each missing key, wrong type or bad value instead of
/// stopping, and (in `finish()`) for each key that nothing read, so that a misspelt key does not pass silently.
///
/// A reader of a sub-table (`table(_:)`, `tableArray(_:)`) is finished together with its parent.
public struct TOMLTableReader {
    /// Which keys were asked for and which were read, shared by copies of the reader.
    private final class State {
        var asked: [String] = []
        var read: Set<String> = []
        var children: [TOMLTableReader] = []
        var finished = false
    }

    public let table: TOMLTable
    public let path: String
    public let problems: TOMLProblems
    /// How messages name this table: `[profile]`, `[rules] #2`, `[commands."trunk.open"]`.
    public let context: String
    private let state = State()

    public init(table: TOMLTable, path: String, problems: TOMLProblems, context: String) {
        self.table = table
        self.path = path
        self.problems = problems
        self.context = context
    }

    /// Line of the table's header (or of the key that holds it).
    public var line: Int { table.line }

    /// The line of `key`'s value, or the table's line when the key is absent.
    public func line(of key: String) -> Int {
        table[key]?.line ?? table.line
    }

    /// The table's keys in file order (for tables whose keys are names chosen by the user; reading each marks it).
    public var keys: [String] { table.keys }

    public func contains(_ key: String) -> Bool {
        table[key] != nil
    }

    /// Records an error at `line` (the table's line by default). Messages quote keys and values from the file, so
    /// control characters in them are escaped (UntrustedText): a key or string cannot rewrite the terminal or the log.
    public func error(_ message: String, line: Int? = nil) {
        problems.error(path: path, line: line ?? table.line, UntrustedText.printable(message))
    }

    public func warning(_ message: String, line: Int? = nil) {
        problems.warning(path: path, line: line ?? table.line, UntrustedText.printable(message))
    }

    // MARK: Typed values

    /// The raw value of `key`, marking it read; reports it missing when `required`.
    public func value(_ key: String, required: Bool = false) -> TOMLValue? {
        if !state.asked.contains(key) { state.asked.append(key) }
        guard let value = table[key] else {
            if required { error("missing required key '\(key)' in \(context)") }
            return nil
        }
        state.read.insert(key)
        return value
    }

    public func string(_ key: String, required: Bool = false) -> String? {
        guard let value = value(key, required: required) else { return nil }
        guard let string = value.stringValue else { return typeError(key, value, expected: "a string") }
        return string
    }

    public func int(_ key: String, required: Bool = false) -> Int? {
        guard let value = value(key, required: required) else { return nil }
        guard let integer = value.integerValue else {
            if case .float(let number) = value.kind, number.rounded() == number {
                return typeError(key, value, expected: "an integer (write \(Int64(exactly: number).map(String.init) ?? "it") without '.0')")
            }
            return typeError(key, value, expected: "an integer")
        }
        return Int(integer)
    }

    /// A number: a float, or an integer taken as a float.
    public func double(_ key: String, required: Bool = false) -> Double? {
        guard let value = value(key, required: required) else { return nil }
        guard let number = value.numberValue else { return typeError(key, value, expected: "a number") }
        guard !number.isNaN else { return typeError(key, value, expected: "a number (not nan)") }
        return number
    }

    public func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let value = value(key, required: required) else { return nil }
        guard let bool = value.boolValue else { return typeError(key, value, expected: "true or false") }
        return bool
    }

    /// An array of strings; each element that is not a string is reported on its own line.
    public func stringArray(_ key: String, required: Bool = false) -> [String]? {
        guard let value = value(key, required: required) else { return nil }
        guard let elements = value.arrayValue else {
            return typeError(key, value, expected: "an array of strings, such as [\"a\", \"b\"]")
        }
        var strings: [String] = []
        var allStrings = true
        for (position, element) in elements.enumerated() {
            if let string = element.stringValue {
                strings.append(string)
            } else {
                allStrings = false
                error("element \(position + 1) of '\(key)' in \(context) must be a string, found \(element.foundDescription)", line: element.line)
            }
        }
        return allStrings ? strings : nil
    }

    /// A duration in seconds: a string in Axle's one duration syntax (`"250ms"`, `"10s"`, `"5m"` or `"5min"`, `"2h"`,
    /// `"1d"`: `DurationSyntax`) or a plain TOML number of seconds. Negative durations are reported.
    public func duration(_ key: String, required: Bool = false) -> Double? {
        guard let value = value(key, required: required) else { return nil }
        let seconds: Double
        switch value.kind {
        case .integer, .float:
            seconds = value.numberValue!
        case .string(let text):
            guard let parsed = Self.parseDuration(text) else {
                return typeError(key, value, expected: "a duration, \(DurationSyntax.forms)")
            }
            seconds = parsed
        default:
            return typeError(key, value, expected: "a duration, \(DurationSyntax.forms) (or a number of seconds)")
        }
        guard seconds.isFinite, seconds >= 0 else {
            error("'\(key)' in \(context) must not be negative", line: value.line)
            return nil
        }
        return seconds
    }

    /// A size in bytes: a string with a unit (`"512KiB"`, `"256MiB"`, `"1GiB"`, or decimal `kB`, `MB`, `GB`) or a
    /// plain integer of bytes.
    public func byteSize(_ key: String, required: Bool = false) -> Int64? {
        guard let value = value(key, required: required) else { return nil }
        let bytes: Int64
        switch value.kind {
        case .integer(let integer):
            bytes = integer
        case .string(let text):
            guard let parsed = Self.parseByteSize(text) else {
                return typeError(key, value, expected: "a size such as \"512KiB\", \"256MiB\" or \"1GiB\" (or an integer of bytes)")
            }
            bytes = parsed
        default:
            return typeError(key, value, expected: "a size such as \"256MiB\" (or an integer of bytes)")
        }
        guard bytes >= 0 else {
            error("'\(key)' in \(context) must not be negative", line: value.line)
            return nil
        }
        return bytes
    }

    /// A reader of the sub-table `key`, named `context` in messages (by default `[<this>.key]`).
    public func table(_ key: String, required: Bool = false, context: String? = nil) -> TOMLTableReader? {
        guard let value = value(key, required: required) else { return nil }
        guard let table = value.tableValue else {
            return typeError(key, value, expected: "a table")
        }
        return child(table, context: context ?? subContext(key))
    }

    /// Readers of the tables of an array of tables (`[[key]]`, or an array of inline tables); elements are named
    /// `[key] #1`, `#2`, ….
    public func tableArray(_ key: String, required: Bool = false, context: String? = nil) -> [TOMLTableReader] {
        guard let value = value(key, required: required) else { return [] }
        guard let elements = value.arrayValue else {
            _ = typeError(key, value, expected: "an array of tables ([[\(key)]] sections, or [{ … }, { … }])") as Int?
            return []
        }
        let name = context ?? subContext(key)
        var readers: [TOMLTableReader] = []
        for (position, element) in elements.enumerated() {
            guard let table = element.tableValue else {
                error("element \(position + 1) of '\(key)' in \(self.context) must be a table, found \(element.foundDescription)", line: element.line)
                continue
            }
            readers.append(child(table, context: "\(name) #\(position + 1)"))
        }
        return readers
    }

    /// Every entry of a table whose keys are names chosen by the user (`[buses]`, `[signals]`), marking all read.
    public func entries() -> [TOMLTable.Entry] {
        for key in table.keys where !state.asked.contains(key) { state.asked.append(key) }
        state.read.formUnion(table.keys)
        return table.entries
    }

    /// A reader for a table found some other way (an entry of `entries()`), finished with this one.
    public func child(_ table: TOMLTable, context: String) -> TOMLTableReader {
        let reader = TOMLTableReader(table: table, path: path, problems: problems, context: context)
        state.children.append(reader)
        return reader
    }

    /// Reports every key that nothing read, with the keys this table knows (and the nearest one when the key looks
    /// like a typo); then finishes the readers of sub-tables. Calling it again does nothing.
    public func finish() {
        guard !state.finished else { return }
        state.finished = true
        for entry in table.entries where !state.read.contains(entry.key) {
            // A key may be any length: show its start and its size, as values are shown.
            let shownKey = entry.key.count > UntrustedText.defaultLimit
                ? "\(entry.key.prefix(UntrustedText.defaultLimit))…(\(entry.key.utf8.count) bytes)" : entry.key
            var message = "unknown key '\(shownKey)' in \(context)"
            if let suggestion = Self.nearest(to: entry.key, in: state.asked) {
                message += " (did you mean '\(suggestion)'?)"
            }
            message += state.asked.isEmpty ? "; this table takes no keys" : "; known keys: \(state.asked.joined(separator: ", "))"

            error(message, line: entry.line)
        }
        for child in state.children { child.finish() }
    }

    // MARK: Helpers

    private func typeError<T>(_ key: String, _ value: TOMLValue, expected: String) -> T? {
        error("'\(key)' in \(context) must be \(expected), found \(value.foundDescription)", line: value.line)
        return nil
    }

    private func subContext(_ key: String) -> String {
        let quoted = key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } ? key : "\"\(key)\""
        if context.hasPrefix("["), context.hasSuffix("]") {
            return "[\(context.dropFirst().dropLast()).\(quoted)]"
        }
        // The root of a file is named by its path; an element such as `[rules] #2` keeps its name in front.
        return context.hasPrefix("[") ? "'\(key)' of \(context)" : "[\(quoted)]"
    }

    /// Seconds in a duration string (`"250ms"`, `"10s"`, `"5m"`, `"1.5min"`, `"2h"`, `"1d"`); nil when it is not one.
    /// The same syntax as every other duration in Axle (`DurationSyntax`); a string without a unit is not one.
    public static func parseDuration(_ text: String) -> Double? {
        DurationSyntax.seconds(in: text)
    }

    /// Bytes in `"512KiB"`, `"256MiB"`, `"1GiB"`, `"10MB"`, `"100B"`; nil when it is not such a size.
    public static func parseByteSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingWhitespace()
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("kB", 1000), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        for (unit, scale) in units where trimmed.hasSuffix(unit) {
            let number = trimmed.dropLast(unit.count).trimmingWhitespace()
            guard !number.isEmpty, number.first != "+", let value = Double(number), value.isFinite else { return nil }
            let bytes = (value * scale).rounded(.down)
            guard abs(bytes) < 9.2e18 else { return nil }
            return Int64(bytes)
        }
        return Int64(trimmed)
    }

    /// The candidate closest to `name` when it is close enough to be a typo (case, `_` for `-`, or two edits).
    public static func nearest(to name: String, in candidates: [String]) -> String? {
        func normalized(_ text: String) -> String {
            String(text.lowercased().map { $0 == "_" ? "-" : $0 })
        }
        if let match = candidates.first(where: { normalized($0) == normalized(name) }) { return match }
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(normalized(name), normalized(candidate))
            if distance <= min(2, max(1, name.count / 3)), distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Edit distance over characters, counting a swap of two neighbours as one edit (typing slips such as `prot`).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
                }
            }
        }
        return rows[a.count][b.count]
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
