/// Reads DBC text byte by byte, tracking line and column for diagnostics.
///
/// The parser asks for the token it expects next (an identifier, a number, a string), rather than splitting the
/// text into tokens up front: DBC has no single token grammar (`8@1+` is a length, a byte order and a sign; `1-3`
/// in `SG_MUL_VAL_` is a range), so expectations are what keep it unambiguous.
struct DBCScanner {
    let text: UnsafeRawBufferPointer
    private(set) var position = 0
    private(set) var line = 1
    private var lineStart = 0
    /// The file is valid UTF-8; otherwise strings are read as Windows-1252.
    let isUTF8: Bool

    init(text: UnsafeRawBufferPointer, isUTF8: Bool) {
        self.text = text
        self.isUTF8 = isUTF8
        // A UTF-8 byte-order mark says nothing to the grammar.
        if text.count >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF { position = 3; lineStart = 3 }
    }

    var atEnd: Bool { position >= text.count }
    var column: Int { position - lineStart + 1 }
    var peek: UInt8? { position < text.count ? text[position] : nil }

    func peek(at offset: Int) -> UInt8? {
        position + offset < text.count ? text[position + offset] : nil
    }

    mutating func advance() {
        if text[position] == 0x0A {
            line += 1
            lineStart = position + 1
        }
        position += 1
    }

    /// Skips spaces, tabs, line breaks (LF, CRLF, lone CR) and `//` comments.
    mutating func skipWhitespace() {
        while let byte = peek {
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C || byte == 0x0B {
                advance()
            } else if byte == UInt8(ascii: "/"), peek(at: 1) == UInt8(ascii: "/") {
                while let byte = peek, byte != 0x0A { _ = byte; advance() }
            } else {
                return
            }
        }
    }

    /// Skips spaces and tabs only: the caller cares where the line ends.
    mutating func skipInlineSpaces() {
        while let byte = peek, byte == 0x20 || byte == 0x09 { advance() }
    }

    /// At a line break (or the end of the text), after inline spaces.
    mutating func atLineEnd() -> Bool {
        skipInlineSpaces()
        guard let byte = peek else { return true }
        return byte == 0x0A || byte == 0x0D
    }

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x00...0x20, 0x7F: false
        case UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: "|"), UInt8(ascii: "@"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\""),
             UInt8(ascii: "{"), UInt8(ascii: "}"):
            false
        default: true
        }
    }

    /// An identifier: a run of bytes other than white space and DBC punctuation. Real files use names that start
    /// with digits, so no stricter rule is applied; names are checked where they are used.
    mutating func scanIdentifier() -> String? {
        skipWhitespace()
        let start = position
        while let byte = peek, Self.isIdentifierByte(byte) { position += 1 }
        guard position > start else { return nil }
        return decode(start..<position)
    }

    /// Whether the next identifier is `word`, consuming it if so.
    mutating func takeKeyword(_ word: StaticString) -> Bool {
        skipWhitespace()
        let count = word.utf8CodeUnitCount
        guard position + count <= text.count else { return false }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { text[position + $0] == expected[$0] }
        }
        guard matches else { return false }
        if let next = peek(at: count), Self.isIdentifierByte(next) { return false }
        position += count
        return true
    }

    mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard peek == byte else { return false }
        advance()
        return true
    }

    /// A decimal number as DBC writes them: `-40`, `.25`, `+127`, `1E-3`. Integers keep their exact value.
    mutating func scanNumber() -> DBCNumber? {
        skipWhitespace()
        let start = position
        var sawDigit = false
        var isInteger = true
        if let sign = peek, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { position += 1 }
        while let byte = peek, byte >= 0x30 && byte <= 0x39 { position += 1; sawDigit = true }
        if peek == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            while let byte = peek, byte >= 0x30 && byte <= 0x39 { position += 1; sawDigit = true }
        }
        guard sawDigit else { position = start; return nil }
        if let e = peek, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            let mark = position
            position += 1
            if let sign = peek, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { position += 1 }
            var exponentDigits = false
            while let byte = peek, byte >= 0x30 && byte <= 0x39 { position += 1; exponentDigits = true }
            if exponentDigits { isInteger = false } else { position = mark }
        }
        // A number runs into a name (`1st`) only in malformed text: leave it to the caller to complain.
        let literal = String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<position]), as: UTF8.self)
        guard let value = Double(literal) else { position = start; return nil }
        var integer: Int128?
        if isInteger {
            let digits = literal.hasPrefix("+") ? String(literal.dropFirst()) : literal
            integer = Int128(digits)
        }
        return DBCNumber(value: value, integer: integer, literal: literal)
    }

    /// An unsigned decimal integer with no sign (start bits, lengths, ids).
    mutating func scanUnsigned() -> UInt64? {
        skipWhitespace()
        let start = position
        var value: UInt64 = 0
        while let byte = peek, byte >= 0x30 && byte <= 0x39 {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - 0x30))
            if overflow1 || overflow2 { position = start; return nil }
            value = sum
            position += 1
        }
        return position > start ? value : nil
    }

    /// A double-quoted string. `\"` and `\\` are escapes; line breaks inside are kept (comments span lines).
    mutating func scanString() -> String? {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { return nil }
        advance()
        var bytes: [UInt8] = []
        while let byte = peek {
            if byte == UInt8(ascii: "\"") {
                advance()
                return decode(bytes)
            }
            if byte == UInt8(ascii: "\\"), let next = peek(at: 1), next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") {
                bytes.append(next)
                advance()
                advance()
                continue
            }
            bytes.append(byte)
            advance()
        }
        return nil
    }

    /// Moves past the end of the current statement: the next `;` outside a string, or the start of a line that
    /// begins with a DBC keyword (a statement whose `;` is missing must not swallow the next one).
    mutating func skipStatement() {
        while let byte = peek {
            if byte == UInt8(ascii: ";") { advance(); return }
            if byte == UInt8(ascii: "\"") {
                let save = (position, line, lineStart)
                if scanString() == nil { (position, line, lineStart) = save; advance() }
                continue
            }
            advance()
            if byte == 0x0A, lineStartsWithKeyword() { return }
        }
    }

    /// Moves to the start of the next line.
    mutating func skipLine() {
        while let byte = peek {
            advance()
            if byte == 0x0A { return }
        }
    }

    func lineStartsWithKeyword() -> Bool {
        var offset = position
        while offset < text.count, text[offset] == 0x20 || text[offset] == 0x09 { offset += 1 }
        let start = offset
        while offset < text.count, Self.isIdentifierByte(text[offset]) { offset += 1 }
        guard offset > start else { return false }
        let word = String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<offset]), as: UTF8.self)
        return DBCParser.keywords.contains(word)
    }

    /// A short excerpt of what is at the current position, for error messages.
    func excerpt() -> String {
        guard !atEnd else { return "end of file" }
        var end = position
        while end < text.count, end - position < 20, text[end] != 0x0A, text[end] != 0x0D { end += 1 }
        return "'" + decode(position..<end) + "'"
    }

    func decode(_ range: Range<Int>) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: text[range])
        if isUTF8 || !slice.contains(where: { $0 >= 0x80 }) {
            return String(decoding: slice, as: UTF8.self)
        }
        return Windows1252.decode(slice)
    }

    func decode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { slice in
            if isUTF8 || !slice.contains(where: { $0 >= 0x80 }) {
                return String(decoding: slice, as: UTF8.self)
            }
            return Windows1252.decode(slice)
        }
    }
}

/// A number from DBC text: its double value, and its exact value when written as an integer.
struct DBCNumber {
    var value: Double
    var integer: Int128?
    var literal: String
}

/// Windows-1252, the encoding of DBC files written by Windows tools when they are not UTF-8.
enum Windows1252 {
    /// 0x80...0x9F; the other bytes are Latin-1. The five bytes Windows leaves undefined map to their C1 controls.
    private static let high: [UInt16] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
        0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x009D, 0x017E, 0x0178,
    ]

    static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            let code: UInt16 = (0x80...0x9F).contains(byte) ? high[Int(byte - 0x80)] : UInt16(byte)
            scalars.append(Unicode.Scalar(code)!)
        }
        return String(scalars)
    }
}
