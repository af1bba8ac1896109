/// A table while the document is being read: it remembers how it came to exist, because TOML allows a table to be
/// extended or defined only in some of those cases (a `[header]` may define a table that an earlier header created
/// implicitly, but not one that dotted keys created).
private final class TableBuilder {
    enum Origin {
        /// Created as the parent of a `[a.b]` or `[[a.b]]` header; a later `[a]` may still define it once.
        case implicit
        /// Defined by its own `[header]` (or an element of `[[header]]`).
        case header
        /// Created by a dotted key (`a.b = 1`); only more dotted keys of the same table may extend it.
        case dotted
        /// Part of an inline table, complete once its `}` is read.
        case inline
    }

    enum Slot {
        case value(TOMLValue, line: Int)
        case table(TableBuilder, line: Int)
        case tableArray(TableArrayBuilder, line: Int)

        var line: Int {
            switch self {
            case .value(_, let line), .table(_, let line), .tableArray(_, let line): line
            }
        }
    }

    var origin: Origin
    var line: Int
    var keys: [String] = []
    var slots: [String: Slot] = [:]

    init(origin: Origin, line: Int) {
        self.origin = origin
        self.line = line
    }

    func set(_ key: String, _ slot: Slot) {
        if slots[key] == nil { keys.append(key) }
        slots[key] = slot
    }

    func build() -> TOMLTable {
        var table = TOMLTable(line: line)
        for key in keys {
            switch slots[key]! {
            case .value(let value, let line):
                table.set(key, value, line: line)
            case .table(let sub, let line):
                table.set(key, TOMLValue(.table(sub.build()), line: sub.line), line: line)
            case .tableArray(let array, let line):
                let elements = array.tables.map { TOMLValue(.table($0.build()), line: $0.line) }
                table.set(key, TOMLValue(.array(elements), line: line), line: line)
            }
        }
        return table
    }
}

/// The elements of a `[[name]]` array of tables, appended to by each header.
private final class TableArrayBuilder {
    var tables: [TableBuilder] = []
}

/// A TOML 1.0 reader over UTF-8 bytes, tracking line and column for every error.
///
/// Values nest at most `TOMLDocument.maximumNestingDepth` levels deep: arrays and inline tables are read by
/// recursion, and the tables built from the document are walked by recursion afterwards, so 10,000 `[` would
/// otherwise overflow the stack.
struct TOMLParser {
    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private let root = TableBuilder(origin: .header, line: 1)
    private var current: TableBuilder
    /// Levels below the root of the table the last header opened: the number of names in it.
    private var currentTableDepth = 0
    /// Levels open at the value being read: the table's, plus dotted key parts, arrays and inline tables around it.
    private var depth = 0

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
        current = root
        // A byte-order mark is not TOML, but editors on some systems write one; it carries no meaning.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            index = 3
            lineStart = 3
        }
    }

    /// Line and column of the first byte that is not valid UTF-8.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        var position = 0
        while position < bytes.count {
            let byte = bytes[position]
            let length: Int
            switch byte {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: length = 0
            }
            let valid = length > 0 && position + length <= bytes.count
                && String(validating: bytes[position..<(position + length)], as: UTF8.self) != nil
            if !valid { return (line, position - lineStart + 1) }
            if byte == 0x0A {
                line += 1
                lineStart = position + 1
            }
            position += length
        }
        return (line, 1)
    }

    // MARK: Document structure

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "#"):
                try skipComment()
            case 0x0A, 0x0D:
                try consumeNewline()
            case UInt8(ascii: "["):
                try parseHeader()
                try expectEndOfLine(after: "the table header")
            default:
                depth = currentTableDepth
                try parseKeyValue(into: current, inline: false)
                try expectEndOfLine(after: "the value")
            }
        }
        return root.build()
    }

    private mutating func expectEndOfLine(after what: String) throws(TOMLError) {
        skipWhitespace()
        guard let byte = peek() else { return }
        switch byte {
        case UInt8(ascii: "#"): try skipComment()
        case 0x0A, 0x0D: try consumeNewline()
        default:
            throw error("expected the end of the line after \(what), found \(describeHere()); put each key = value on its own line")
        }
    }

    private mutating func parseHeader() throws(TOMLError) {
        let headerLine = line
        advance()  // [
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { advance() }
        skipWhitespace()
        let keyStart = index
        let keys = try parseKey()
        depth = 0
        try enterLevels(keys.count, at: keyStart)
        currentTableDepth = keys.count
        skipWhitespace()
        guard peek() == UInt8(ascii: "]") else {
            throw error("expected '\(isArray ? "]]" : "]")' to close the table header, found \(describeHere())")
        }
        advance()
        if isArray {
            guard peek() == UInt8(ascii: "]") else {
                throw error("expected ']]' to close the array-of-tables header, found \(describeHere())")
            }
            advance()
        }
        let name = Self.dotted(keys)
        var table = root
        for (position, key) in keys.dropLast().enumerated() {
            let prefix = Self.dotted(keys[...position])
            switch table.slots[key] {
            case nil:
                let created = TableBuilder(origin: .implicit, line: headerLine)
                table.set(key, .table(created, line: headerLine))
                table = created
            case .table(let sub, _):
                table = sub
            case .tableArray(let array, _):
                table = array.tables[array.tables.count - 1]
            case .value(let value, let line):
                throw error(
                    "cannot define [\(name)]: '\(prefix)' is already \(Self.describe(value)) (line \(line))",
                    line: headerLine)
            }
        }
        let last = keys[keys.count - 1]
        switch table.slots[last] {
        case nil:
            let created = TableBuilder(origin: .header, line: headerLine)
            if isArray {
                let array = TableArrayBuilder()
                array.tables.append(created)
                table.set(last, .tableArray(array, line: headerLine))
            } else {
                table.set(last, .table(created, line: headerLine))
            }
            current = created
        case .table(let sub, let line):
            if isArray {
                throw error("cannot use [[\(name)]]: [\(name)] is a table (line \(line)), not an array of tables", line: headerLine)
            }
            switch sub.origin {
            case .implicit:
                // A parent created by an earlier header: this is its one explicit definition.
                sub.origin = .header
                sub.line = headerLine
                table.set(last, .table(sub, line: headerLine))
                current = sub
            case .header, .inline:
                throw error("table [\(name)] is defined twice: first at line \(sub.line)", line: headerLine)
            case .dotted:
                throw error(
                    "cannot define table [\(name)]: the dotted key at line \(line) already created it; add its keys there",
                    line: headerLine)
            }
        case .tableArray(let array, let line):
            if !isArray {
                throw error(
                    "cannot define table [\(name)]: it is an array of tables ([[\(name)]] at line \(line)); write [[\(name)]] to add an element",
                    line: headerLine)
            }
            let created = TableBuilder(origin: .header, line: headerLine)
            array.tables.append(created)
            current = created
        case .value(let value, let line):
            throw error(
                isArray
                    ? "cannot append to '\(name)' with [[\(name)]]: it is already \(value.typeName) (line \(line)); an array value cannot be extended by headers"
                    : "cannot define table [\(name)]: '\(name)' is already \(Self.describe(value)) (line \(line))",
                line: headerLine)
        }
    }

    private mutating func parseKeyValue(into table: TableBuilder, inline: Bool) throws(TOMLError) {
        let keyLine = line
        let keyStart = index
        let keys = try parseKey()
        // `a.b.c = 1` puts the value two tables deeper than `c = 1` would be.
        try enterLevels(keys.count - 1, at: keyStart)
        defer { depth -= keys.count - 1 }
        skipWhitespace()
        guard peek() == UInt8(ascii: "=") else { throw missingEquals(after: keys) }
        advance()
        skipWhitespace()
        let value = try parseValue()
        try insert(value, at: keys, into: table, keyLine: keyLine, inline: inline)
    }

    private func missingEquals(after keys: [String]) -> TOMLError {
        if peek() == nil || peek() == 0x0A || peek() == 0x0D || peek() == UInt8(ascii: "#") {
            return error("expected '=' and a value after the key '\(Self.dotted(keys))'")
        }
        return error("expected '=' after the key '\(Self.dotted(keys))', found \(describeHere())")
    }

    private mutating func insert(
        _ value: TOMLValue, at keys: [String], into table: TableBuilder, keyLine: Int, inline: Bool
    ) throws(TOMLError) {
        var table = table
        for (position, key) in keys.dropLast().enumerated() {
            let prefix = Self.dotted(keys[...position])
            switch table.slots[key] {
            case nil:
                let created = TableBuilder(origin: inline ? .inline : .dotted, line: keyLine)
                table.set(key, .table(created, line: keyLine))
                table = created
            case .table(let sub, _) where sub.origin == (inline ? .inline : .dotted):
                table = sub
            case .table(let sub, _):
                throw error(
                    "cannot add '\(Self.dotted(keys))' with a dotted key: table '\(prefix)' is defined by a header (line \(sub.line)); add the key under that header",
                    line: keyLine)
            case .tableArray(_, let line):
                throw error(
                    "cannot add '\(Self.dotted(keys))' with a dotted key: '\(prefix)' is an array of tables (line \(line))",
                    line: keyLine)
            case .value(let existing, let line):
                throw error(
                    "cannot add '\(Self.dotted(keys))': '\(prefix)' is already \(Self.describe(existing)) (line \(line))",
                    line: keyLine)
            }
        }
        let last = keys[keys.count - 1]
        if let existing = table.slots[last] {
            throw error("duplicate key '\(Self.dotted(keys))': already defined at line \(existing.line)", line: keyLine)
        }
        table.set(last, .value(value, line: keyLine))
    }

    /// A key: simple keys joined by dots, with whitespace allowed around the dots.
    private mutating func parseKey() throws(TOMLError) -> [String] {
        var keys = [try parseSimpleKey()]
        while true {
            let save = (index, line, lineStart)
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else {
                (index, line, lineStart) = save
                return keys
            }
            advance()
            skipWhitespace()
            keys.append(try parseSimpleKey())
        }
    }

    private mutating func parseSimpleKey() throws(TOMLError) -> String {
        guard let byte = peek() else { throw error("expected a key, found the end of the file") }
        if byte == UInt8(ascii: "\"") {
            if matches("\"\"\"") { throw error("a key cannot be a multi-line string") }
            return try parseBasicString()
        }
        if byte == UInt8(ascii: "'") {
            if matches("'''") { throw error("a key cannot be a multi-line string") }
            return try parseLiteralString()
        }
        let start = index
        while let byte = peek(), Self.isBareKeyByte(byte) { advance() }
        guard index > start else {
            if byte == UInt8(ascii: "=") { throw error("expected a key before '='") }
            throw error("expected a key, found \(describeHere()); keys are bare (A-Z a-z 0-9 _ -) or quoted")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // MARK: Values

    // parseValue, parseArray, parseInlineTable and parseKeyValue call each other for every level of nesting, so they
    // keep their stack frames small: in a debug build each string interpolation and each case of a switch takes its
    // own stack space, so messages are built, and values that cannot nest are read, in other functions.

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        switch peek() {
        case UInt8(ascii: "["):
            let valueLine = line
            return TOMLValue(.array(try parseArray()), line: valueLine)
        case UInt8(ascii: "{"):
            let valueLine = line
            return TOMLValue(.table(try parseInlineTable()), line: valueLine)
        default:
            return try parseScalarValue()
        }
    }

    /// A value that contains no other values: a string, number, boolean or date-time.
    private mutating func parseScalarValue() throws(TOMLError) -> TOMLValue {
        let valueLine = line
        guard let byte = peek(), byte != 0x0A, byte != 0x0D, byte != UInt8(ascii: "#") else {
            throw error("expected a value after '='")
        }
        switch byte {
        case UInt8(ascii: "\""):
            if matches("\"\"\"") { return TOMLValue(.string(try parseMultilineBasicString()), line: valueLine) }
            return TOMLValue(.string(try parseBasicString()), line: valueLine)
        case UInt8(ascii: "'"):
            if matches("'''") { return TOMLValue(.string(try parseMultilineLiteralString()), line: valueLine) }
            return TOMLValue(.string(try parseLiteralString()), line: valueLine)
        case UInt8(ascii: "t") where matchesWord("true"):
            index += 4
            return TOMLValue(.bool(true), line: valueLine)
        case UInt8(ascii: "f") where matchesWord("false"):
            index += 5
            return TOMLValue(.bool(false), line: valueLine)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "i"),
            UInt8(ascii: "n"):
            return try parseNumberOrDateTime()
        default:
            let word = wordHere()
            if !word.isEmpty, Self.isBareKeyByte(byte) {
                if word == "True" || word == "False" || word == "TRUE" || word == "FALSE" {
                    throw error("'\(word)' is not a value: booleans are lowercase (true, false)")
                }
                throw error("'\(word)' is not a value: strings must be quoted, as in \"\(word)\"")
            }
            throw error("expected a value, found \(describeHere())")
        }
    }

    private mutating func parseArray() throws(TOMLError) -> [TOMLValue] {
        let startLine = line
        try enterLevels(1, at: index)
        defer { depth -= 1 }
        advance()  // [
        var values: [TOMLValue] = []
        while true {
            try skipWhitespaceCommentsAndNewlines()
            guard let byte = peek() else { throw arrayError(startLine: startLine, afterValue: false, isEmpty: values.isEmpty) }
            if byte == UInt8(ascii: "]") {
                advance()
                return values
            }
            if byte == UInt8(ascii: ",") { throw arrayError(startLine: startLine, afterValue: false, isEmpty: values.isEmpty) }
            values.append(try parseValue())
            try skipWhitespaceCommentsAndNewlines()
            if peek() == UInt8(ascii: ",") {
                advance()
            } else if peek() == UInt8(ascii: "]") {
                advance()
                return values
            } else {
                throw arrayError(startLine: startLine, afterValue: true, isEmpty: false)
            }
        }
    }

    /// What is wrong where an array expects a value (`afterValue` false) or a `,` or `]` (true).
    private func arrayError(startLine: Int, afterValue: Bool, isEmpty: Bool) -> TOMLError {
        guard peek() != nil else { return error("the array started at line \(startLine) is not closed with ']'") }
        if afterValue { return error("expected ',' or ']' in the array started at line \(startLine), found \(describeHere())") }
        return error(isEmpty ? "expected a value or ']' in the array, found ','" : "expected a value after ',' in the array, found ','")
    }

    private mutating func parseInlineTable() throws(TOMLError) -> TOMLTable {
        let startLine = line
        try enterLevels(1, at: index)
        defer { depth -= 1 }
        advance()  // {
        let table = TableBuilder(origin: .inline, line: startLine)
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            advance()
            return table.build()
        }
        while true {
            skipWhitespace()
            try checkInlineLineBreak(startLine)
            try parseKeyValue(into: table, inline: true)
            skipWhitespace()
            try checkInlineLineBreak(startLine)
            if peek() == UInt8(ascii: "}") {
                advance()
                return table.build()
            }
            guard peek() == UInt8(ascii: ",") else { throw inlineTableError(startLine: startLine) }
            advance()
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { throw inlineTableError(startLine: startLine) }
        }
    }

    /// Opens `count` levels of nesting for what starts at byte `position`, refusing more than the maximum.
    private mutating func enterLevels(_ count: Int, at position: Int) throws(TOMLError) {
        depth += count
        guard depth <= TOMLDocument.maximumNestingDepth else {
            throw error(
                "nesting deeper than \(TOMLDocument.maximumNestingDepth) levels (each array, inline table and name in a dotted key or [table.header] counts one); flatten the structure",
                at: position)
        }
    }

    /// What is wrong where an inline table expects a `,` or `}`, or (after a comma) a key.
    private func inlineTableError(startLine: Int) -> TOMLError {
        switch peek() {
        case nil: error("the inline table started at line \(startLine) is not closed with '}'")
        case UInt8(ascii: "}"): error("a trailing comma is not allowed in an inline table (TOML 1.0); remove it")
        default: error("expected ',' or '}' in the inline table, found \(describeHere())")
        }
    }

    private func checkInlineLineBreak(_ startLine: Int) throws(TOMLError) {
        switch peek() {
        case nil:
            throw error("the inline table started at line \(startLine) is not closed with '}'")
        case 0x0A, 0x0D, UInt8(ascii: "#"):
            throw error(
                "an inline table must be on one line (TOML 1.0); close it with '}' or use a [table] for longer ones")
        default:
            break
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLError) -> String {
        let startColumn = index
        advance()  // "
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error("the string is not closed with '\"' before the end of the file", at: startColumn)
            }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0x0A, 0x0D:
                throw error("the string is not closed with '\"' on its line; use \"\"\" for a multi-line string", at: startColumn)
            default:
                try checkAllowedInString(byte)
                out.append(byte)
                advance()
            }
        }
    }

    private mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        let startLine = line
        index += 3
        try skipNewlineAfterOpeningDelimiter()
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error("the multi-line string started at line \(startLine) is not closed with '\"\"\"'")
            }
            switch byte {
            case UInt8(ascii: "\""):
                if try closeMultilineString(quote: byte, into: &out) { return String(decoding: out, as: UTF8.self) }
                out.append(byte)
                advance()
            case UInt8(ascii: "\\"):
                // A backslash at the end of a line joins the lines, dropping the whitespace between.
                var look = index + 1
                while let next = peek(at: look), next == 0x20 || next == 0x09 { look += 1 }
                if peek(at: look) == 0x0A || (peek(at: look) == 0x0D && peek(at: look + 1) == 0x0A) {
                    index = look
                    while let next = peek() {
                        if next == 0x20 || next == 0x09 {
                            advance()
                        } else if next == 0x0A || next == 0x0D {
                            try consumeNewline()
                        } else {
                            break
                        }
                    }
                } else {
                    try parseEscape(into: &out)
                }
            case 0x0A, 0x0D:
                try consumeNewline()
                out.append(0x0A)
            default:
                try checkAllowedInString(byte)
                out.append(byte)
                advance()
            }
        }
    }

    /// At a quote inside a multi-line string: when three or more quotes follow, consumes them and returns true. Up to
    /// two quotes right before the closing delimiter belong to the string (`""""` ends in one `"`).
    private mutating func closeMultilineString(quote: UInt8, into out: inout [UInt8]) throws(TOMLError) -> Bool {
        var quotes = 0
        while peek(at: index + quotes) == quote { quotes += 1 }
        guard quotes >= 3 else { return false }
        let delimiter = quote == UInt8(ascii: "'") ? "\"'''\"" : "'\"\"\"'"
        guard quotes <= 5 else { throw error("too many quotes: at most two may come right before the closing \(delimiter)") }
        out.append(contentsOf: repeatElement(quote, count: quotes - 3))
        index += quotes
        return true
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        let startColumn = index
        advance()  // '
        let start = index
        while true {
            guard let byte = peek() else {
                throw error("the string is not closed with \"'\" before the end of the file", at: startColumn)
            }
            if byte == UInt8(ascii: "'") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                advance()
                return text
            }
            if byte == 0x0A || byte == 0x0D {
                throw error("the string is not closed with \"'\" on its line; use ''' for a multi-line string", at: startColumn)
            }
            try checkAllowedInString(byte)
            advance()
        }
    }

    private mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        let startLine = line
        index += 3
        try skipNewlineAfterOpeningDelimiter()
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error("the multi-line string started at line \(startLine) is not closed with \"'''\"")
            }
            switch byte {
            case UInt8(ascii: "'"):
                if try closeMultilineString(quote: byte, into: &out) { return String(decoding: out, as: UTF8.self) }
                out.append(byte)
                advance()
            case 0x0A, 0x0D:
                try consumeNewline()
                out.append(0x0A)
            default:
                try checkAllowedInString(byte)
                out.append(byte)
                advance()
            }
        }
    }

    private mutating func skipNewlineAfterOpeningDelimiter() throws(TOMLError) {
        if peek() == 0x0A || peek() == 0x0D { try consumeNewline() }
    }

    private func checkAllowedInString(_ byte: UInt8) throws(TOMLError) {
        if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            throw error("control character U+\(Self.hex(UInt32(byte), 4)) must be written as an escape (\\u\(Self.hex(UInt32(byte), 4)))")
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        let escapeStart = index
        advance()  // backslash
        guard let byte = peek() else { throw error("the string ends inside an escape sequence") }
        advance()
        switch byte {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = byte == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<digits {
                guard let digit = peek(), let nibble = Self.hexValue(digit) else {
                    throw error("\\\(Character(Unicode.Scalar(byte))) needs exactly \(digits) hexadecimal digits", at: escapeStart)
                }
                value = value << 4 | UInt32(nibble)
                advance()
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("\\\(Character(Unicode.Scalar(byte)))\(Self.hex(value, digits)) is not a Unicode scalar value", at: escapeStart)
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            let shown = byte < 0x80 && byte >= 0x20 ? "\\\(Character(Unicode.Scalar(byte)))" : "\\ followed by byte 0x\(Self.hex(UInt32(byte), 2))"
            throw error(
                "unknown escape sequence \(shown); TOML knows \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX (use a 'literal string' for backslashes)",
                at: escapeStart)
        }
    }

    // MARK: Numbers and date-times

    private mutating func parseNumberOrDateTime() throws(TOMLError) -> TOMLValue {
        let valueLine = line
        let start = index
        while let byte = peek(), Self.isNumberByte(byte) { advance() }
        // `1979-05-27 07:32:00`: RFC 3339 allows a space between date and time.
        if index - start == 10, Self.looksLikeDate(bytes[start..<index]), peek() == 0x20,
            let h1 = peek(at: index + 1), let h2 = peek(at: index + 2), peek(at: index + 3) == UInt8(ascii: ":"),
            Self.isDigit(h1), Self.isDigit(h2)
        {
            advance()
            while let byte = peek(), Self.isNumberByte(byte) { advance() }
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        let tokenBytes = Array(bytes[start..<index])
        if Self.looksLikeDate(tokenBytes[...]) || Self.looksLikeTime(tokenBytes[...]) {
            guard DateTimeSyntax.isValid(tokenBytes) else {
                throw error("'\(token)' is not a valid date-time (RFC 3339: 1979-05-27T07:32:00Z, 1979-05-27, 07:32:00)", at: start)
            }
            return TOMLValue(.dateTime(token), line: valueLine)
        }
        if let kind = try numberKind(token, start: start) {
            return TOMLValue(kind, line: valueLine)
        }
        if let first = token.first, first.isLetter {
            throw error("'\(token)' is not a value: strings must be quoted, as in \"\(token)\"", at: start)
        }
        throw error("'\(token)' is not a number", at: start)
    }

    private func numberKind(_ token: String, start: Int) throws(TOMLError) -> TOMLValue.Kind? {
        var text = Substring(token)
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            let radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            let digits = text.dropFirst(2)
            guard Self.hasValidUnderscores(digits), !digits.isEmpty,
                digits.allSatisfy({ $0 == "_" || ($0.hexDigitValue.map { $0 < radix } ?? false) })
            else {
                throw error("'\(token)' is not a valid \(radix == 16 ? "hexadecimal" : radix == 8 ? "octal" : "binary") integer", at: start)
            }
            guard let value = UInt64(digits.filter { $0 != "_" }, radix: radix), value <= UInt64(Int64.max) else {
                throw error("the integer \(token) does not fit in 64 bits", at: start)
            }
            return .integer(Int64(value))
        }
        var sign = ""
        if text.first == "+" || text.first == "-" {
            sign = text.first == "-" ? "-" : ""
            text = text.dropFirst()
        }
        guard let first = text.first, first.isASCII, first.isNumber else { return nil }
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            throw error("'\(token)': a sign is not allowed on hexadecimal, octal or binary integers", at: start)
        }
        let isFloat = text.contains(".") || text.contains("e") || text.contains("E")
        if !isFloat {
            guard text.allSatisfy({ $0 == "_" || ($0.isASCII && $0.isNumber) }), Self.hasValidUnderscores(text) else { return nil }
            let digits = text.filter { $0 != "_" }
            if digits.count > 1, digits.first == "0" {
                throw error("'\(token)' has a leading zero, which TOML does not allow in decimal integers (use 0o for octal)", at: start)
            }
            guard let value = Int64(sign + digits) else {
                throw error("the integer \(token) does not fit in 64 bits", at: start)
            }
            return .integer(value)
        }
        // Float: integer part, optional fraction, optional exponent; each a run of digits with inner underscores.
        var mantissa = text
        var exponent: Substring?
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = text[text.index(after: e)...]
        }
        var integerPart = mantissa
        var fraction: Substring?
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fraction = mantissa[mantissa.index(after: dot)...]
        }
        func isDigits(_ part: Substring) -> Bool {
            !part.isEmpty && part.allSatisfy { $0 == "_" || ($0.isASCII && $0.isNumber) } && Self.hasValidUnderscores(part)
        }
        var exponentDigits = exponent
        if let exp = exponent, exp.first == "+" || exp.first == "-" { exponentDigits = exp.dropFirst() }
        guard isDigits(integerPart), fraction.map(isDigits) ?? true, exponentDigits.map(isDigits) ?? true else {
            throw error("'\(token)' is not a valid float: write digits on both sides of '.', as in 0.5 or 1e-3", at: start)
        }
        let integerDigits = integerPart.filter { $0 != "_" }
        if integerDigits.count > 1, integerDigits.first == "0" {
            throw error("'\(token)' has a leading zero, which TOML does not allow", at: start)
        }
        guard let value = Double(sign + text.filter { $0 != "_" }) else {
            throw error("'\(token)' is not a valid float", at: start)
        }
        return .float(value)
    }

    private static func hasValidUnderscores(_ text: Substring) -> Bool {
        // Each underscore must sit between two digits.
        let characters = Array(text)
        for (position, character) in characters.enumerated() where character == "_" {
            guard position > 0, position < characters.count - 1, characters[position - 1].isHexDigit,
                characters[position + 1].isHexDigit
            else { return false }
        }
        return true
    }

    private static func looksLikeDate(_ token: ArraySlice<UInt8>) -> Bool {
        let token = Array(token)
        return token.count >= 10 && token[0..<4].allSatisfy(isDigit) && token[4] == UInt8(ascii: "-")
            && token[5..<7].allSatisfy(isDigit) && token[7] == UInt8(ascii: "-")
    }

    private static func looksLikeTime(_ token: ArraySlice<UInt8>) -> Bool {
        let token = Array(token)
        return token.count >= 5 && token[0..<2].allSatisfy(isDigit) && token[2] == UInt8(ascii: ":")
    }

    // MARK: Low-level reading

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
    private func peek(at position: Int) -> UInt8? { position < bytes.count ? bytes[position] : nil }
    private mutating func advance() { index += 1 }

    private func matches(_ text: StaticString) -> Bool {
        let length = text.utf8CodeUnitCount
        guard index + length <= bytes.count else { return false }
        return text.withUTF8Buffer { buffer in
            for offset in 0..<length where bytes[index + offset] != buffer[offset] { return false }
            return true
        }
    }

    /// `true`/`false` followed by something that cannot continue a word.
    private func matchesWord(_ word: String) -> Bool {
        let utf8 = Array(word.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<(index + utf8.count)]) == utf8 else { return false }
        guard let next = peek(at: index + utf8.count) else { return true }
        return !Self.isBareKeyByte(next)
    }

    private func wordHere() -> String {
        var end = index
        while end < bytes.count, Self.isBareKeyByte(bytes[end]) || bytes[end] == UInt8(ascii: ".") { end += 1 }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 { advance() }
    }

    private mutating func skipComment() throws(TOMLError) {
        while let byte = peek(), byte != 0x0A {
            if byte == 0x0D, peek(at: index + 1) == 0x0A { break }
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                throw error("control character U+\(Self.hex(UInt32(byte), 4)) is not allowed in a comment")
            }
            advance()
        }
    }

    private mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLError) {
        while let byte = peek() {
            switch byte {
            case 0x20, 0x09: advance()
            case 0x0A, 0x0D: try consumeNewline()
            case UInt8(ascii: "#"): try skipComment()
            default: return
            }
        }
    }

    private mutating func consumeNewline() throws(TOMLError) {
        if peek() == 0x0D {
            guard peek(at: index + 1) == 0x0A else {
                throw error("a carriage return (CR) must be followed by a line feed (LF)")
            }
            advance()
        }
        advance()
        line += 1
        lineStart = index
    }

    /// What is at the current position, for "found …" in messages.
    private func describeHere() -> String {
        guard let byte = peek() else { return "the end of the file" }
        switch byte {
        case 0x0A, 0x0D: return "the end of the line"
        case 0x20..<0x7F:
            let word = wordHere()
            return word.count > 1 ? "'\(word)'" : "'\(Character(Unicode.Scalar(byte)))'"
        default:
            var end = index + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            return "'\(String(decoding: bytes[index..<end], as: UTF8.self))'"
        }
    }

    private func column(of position: Int) -> Int {
        // Characters, not bytes: count the bytes that start a UTF-8 sequence.
        var column = 1
        var offset = lineStart
        while offset < position, offset < bytes.count {
            if bytes[offset] & 0xC0 != 0x80 { column += 1 }
            offset += 1
        }
        return column
    }

    private func error(_ message: String, at position: Int? = nil) -> TOMLError {
        TOMLError(path: path, line: line, column: column(of: position ?? index), message: message)
    }

    /// An error about an earlier line (a header or key already read): no column.
    private func error(_ message: String, line: Int) -> TOMLError {
        TOMLError(path: path, line: line, column: 0, message: message)
    }

    /// A value that a header or dotted key tried to extend, for the message.
    private static func describe(_ value: TOMLValue) -> String {
        if case .table = value.kind { return "an inline table, complete as written" }
        return value.typeName + ", not a table"
    }

    private static func dotted(_ keys: some Collection<String>) -> String {
        keys.map { key in
            key.utf8.allSatisfy(isBareKeyByte) && !key.isEmpty ? key : "\"" + key + "\""
        }.joined(separator: ".")
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    fileprivate static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hex(_ value: UInt32, _ digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// RFC 3339 date-times as TOML 1.0 allows them: offset or local date-time, local date, local time.
enum DateTimeSyntax {
    static func isValid(_ token: [UInt8]) -> Bool {
        var position = 0
        func digits(_ count: Int) -> Int? {
            guard position + count <= token.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let byte = token[position + offset]
                guard TOMLParser.isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += count
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard position < token.count, token[position] == character.asciiValue! else { return false }
            position += 1
            return true
        }
        func time() -> Bool {
            guard let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2),
                hour < 24, minute < 60, second <= 60
            else { return false }
            if position < token.count, token[position] == UInt8(ascii: ".") {
                position += 1
                let start = position
                while position < token.count, TOMLParser.isDigit(token[position]) { position += 1 }
                if position == start { return false }
            }
            return true
        }
        if token.count >= 3, token[2] == UInt8(ascii: ":") {
            return time() && position == token.count
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            (1...12).contains(month), day >= 1
        else { return false }
        let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day <= days else { return false }
        if position == token.count { return true }
        let separator = token[position]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == 0x20 else { return false }
        position += 1
        guard time() else { return false }
        if position == token.count { return true }
        if token[position] == UInt8(ascii: "Z") || token[position] == UInt8(ascii: "z") {
            return position + 1 == token.count
        }
        guard token[position] == UInt8(ascii: "+") || token[position] == UInt8(ascii: "-") else { return false }
        position += 1
        guard let hours = digits(2), expect(":"), let minutes = digits(2), hours < 24, minutes < 60 else { return false }
        return position == token.count
    }
}
