import AxleBase
import CANFrames

/// Reads DBC text into a `DBCDatabase`.
///
/// Lenient where real files are sloppy, strict where it matters: a malformed comment, a dangling `VAL_` or a signal
/// outside its message becomes a warning with file:line; a message or signal whose layout cannot be read is an
/// error with file:line:column. See docs/dbc.md for the full policy.
public enum DBCParser {
    /// Reads the DBC file at `path`.
    public static func parse(contentsOf path: String) throws -> DBCDatabase {
        let bytes = try FileInput.readAll(path: path)
        return try parse(bytes: bytes, source: path)
    }

    /// Reads DBC text given as a string (tests, generated databases).
    public static func parse(text: String, source: String = "<text>") throws(DBCParseError) -> DBCDatabase {
        try parse(bytes: Array(text.utf8), source: source)
    }

    /// Reads DBC text; UTF-8 when the whole text is valid UTF-8, otherwise Windows-1252.
    public static func parse(bytes: [UInt8], source: String) throws(DBCParseError) -> DBCDatabase {
        let isUTF8 = String(validating: bytes, as: UTF8.self) != nil
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(DBCParseError) in
                var reader = StatementReader(scanner: DBCScanner(text: raw, isUTF8: isUTF8), source: source)
                try reader.readAll()
                var resolver = DBCResolver(reader: reader)
                return resolver.resolve()
            }
        }
        return try result.get()
    }

    /// Every statement keyword of the DBC grammar.
    static let keywords: Set<String> = [
        "VERSION", "NS_", "BS_", "BU_", "VAL_TABLE_", "BO_", "SG_", "BO_TX_BU_", "CM_", "BA_DEF_", "BA_DEF_REL_",
        "BA_DEF_DEF_", "BA_DEF_DEF_REL_", "BA_", "BA_REL_", "VAL_", "SIG_VALTYPE_", "SIG_GROUP_", "EV_",
        "ENVVAR_DATA_", "SG_MUL_VAL_", "SGTYPE_", "SGTYPE_VAL_", "SIG_TYPE_REF_", "BA_DEF_SGTYPE_", "BA_SGTYPE_",
        "CAT_DEF_", "CAT_", "FILTER", "EV_DATA_", "SIGTYPE_VALTYPE_", "BU_SG_REL_", "BU_EV_REL_", "BU_BO_REL_",
        "NS_DESC_", "SG_MUL_VAL_",
    ]

    /// Statements of the grammar that carry nothing a decoder or the agent uses; they are read past quietly.
    static let ignoredKeywords: Set<String> = [
        "SGTYPE_", "SGTYPE_VAL_", "SIG_TYPE_REF_", "BA_DEF_SGTYPE_", "BA_SGTYPE_", "CAT_DEF_", "CAT_", "FILTER",
        "EV_DATA_", "SIGTYPE_VALTYPE_", "BU_SG_REL_", "BU_EV_REL_", "BU_BO_REL_", "NS_DESC_",
    ]
}

/// A statement that refers to other objects by DBC id and name, kept until every message has been read (DBC allows
/// `CM_`, `VAL_` and `BA_` before or after the `BO_` they refer to).
enum PendingReference {
    case comment(target: AttributeTarget, text: String, line: Int)
    case valueLabels(target: AttributeTarget, labels: [(Int128, String)], line: Int)
    case attribute(name: String, target: AttributeTarget, value: RawAttributeValue, line: Int)
    case valueType(messageID: UInt32, signal: String, type: Int, line: Int)
    case multiplexValues(messageID: UInt32, signal: String, multiplexer: String, ranges: [ClosedRange<UInt64>], line: Int)
    case senders(messageID: UInt32, nodes: [String], line: Int)
    case signalGroup(messageID: UInt32, group: DBCSignalGroup, line: Int)
    case environmentData(name: String, size: Int, line: Int)
}

/// What a `CM_`, `BA_` or `VAL_` refers to.
enum AttributeTarget {
    case database
    case node(String)
    case message(UInt32)
    case signal(UInt32, String)
    case environmentVariable(String)
}

/// An attribute value before its definition is known: a number or a string as written.
enum RawAttributeValue {
    case number(DBCNumber)
    case string(String)
}

/// A message as read, with its DBC id as written (bit 31 included) for matching references.
struct ParsedMessage {
    var dbcID: UInt32
    var message: DBCMessage
    var markers: [String?]
}

/// Reads statements one after another and records them; `DBCResolver` then links them together.
struct StatementReader {
    var scanner: DBCScanner
    let source: String
    var database: DBCDatabase
    var messages: [ParsedMessage] = []
    var independentSignals: [DBCSignal] = []
    var pending: [PendingReference] = []
    var warnings: [DBCDiagnostic] = []
    /// Where `SG_` lines go: the last `BO_`, until another statement intervenes.
    private var signalOwner: SignalOwner = .none

    private enum SignalOwner {
        case none
        case message(Int)
        case independent
        /// A message that was reported and left out: its signals go with it.
        case leftOut
    }

    init(scanner: DBCScanner, source: String) {
        self.scanner = scanner
        self.source = source
        self.database = DBCDatabase(source: source)
    }

    mutating func readAll() throws(DBCParseError) {
        while true {
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            let line = scanner.line
            let column = scanner.column
            guard let keyword = scanner.scanIdentifier() else {
                warn(line: line, "unexpected \(scanner.excerpt()) where a DBC keyword was expected; skipped")
                scanner.skipStatement()
                continue
            }
            if keyword != "SG_" { signalOwner = .none }
            do {
                try readStatement(keyword, line: line, column: column)
            } catch {
                switch error {
                case .recoverable(let reason):
                    warn(line: line, "\(keyword): \(reason); statement skipped")
                    scanner.skipStatement()
                case .fatal(let diagnostic):
                    throw DBCParseError(diagnostic: diagnostic, warnings: warnings)
                }
            }
        }
        database.warnings = warnings
    }

    private mutating func readStatement(_ keyword: String, line: Int, column: Int) throws(StatementFailure) {
        switch keyword {
        case "VERSION":
            database.version = scanner.scanString()
        case "NS_":
            skipNewSymbols()
        case "BS_":
            scanner.skipLine()
        case "BU_":
            _ = scanner.take(UInt8(ascii: ":"))
            while !scanner.lineStartsWithKeywordAfterWhitespace(), let name = scanner.scanIdentifier() {
                database.nodes.append(DBCNode(name: name, shortName: name))
            }
        case "VAL_TABLE_":
            let name = try expectIdentifier("a value table name")
            let labels = try readValueLabels(line: line)
            database.valueTables[name] = DBCValueLabels(labels)
        case "BO_":
            try readMessage(line: line)
        case "SG_":
            try readSignal(line: line)
        case "BO_TX_BU_":
            let id = try expectMessageID()
            _ = scanner.take(UInt8(ascii: ":"))
            let nodes = readNameList()
            try expectSemicolon()
            pending.append(.senders(messageID: id, nodes: nodes, line: line))
        case "CM_":
            try readComment(line: line)
        case "BA_DEF_":
            try readAttributeDefinition(relation: false)
        case "BA_DEF_REL_":
            try readAttributeDefinition(relation: true)
        case "BA_DEF_DEF_", "BA_DEF_DEF_REL_":
            let name = try expectAttributeName()
            let value = try readRawAttributeValue()
            try expectSemicolon()
            defaults.append((name, value, line))
        case "BA_":
            try readAttribute(line: line)
        case "BA_REL_":
            try readRelationAttribute(line: line)
        case "VAL_":
            try readValueDescription(line: line)
        case "SIG_VALTYPE_":
            let id = try expectMessageID()
            let signal = try expectIdentifier("a signal name")
            _ = scanner.take(UInt8(ascii: ":"))
            guard let type = scanner.scanUnsigned(), type <= 2 else {
                throw .recoverable("expected 0 (integer), 1 (float32) or 2 (float64) at \(scanner.excerpt())")
            }
            try expectSemicolon()
            pending.append(.valueType(messageID: id, signal: signal, type: Int(type), line: line))
        case "SIG_GROUP_":
            let id = try expectMessageID()
            let name = try expectIdentifier("a signal group name")
            let repetitions = scanner.scanUnsigned() ?? 1
            _ = scanner.take(UInt8(ascii: ":"))
            let names = readNameList()
            try expectSemicolon()
            let group = DBCSignalGroup(name: name, repetitions: Int(clamping: repetitions), signalNames: names)
            pending.append(.signalGroup(messageID: id, group: group, line: line))
        case "EV_":
            try readEnvironmentVariable()
        case "ENVVAR_DATA_":
            let name = try expectIdentifier("an environment variable name")
            _ = scanner.take(UInt8(ascii: ":"))
            let size = scanner.scanUnsigned() ?? 0
            try expectSemicolon()
            pending.append(.environmentData(name: name, size: Int(clamping: size), line: line))
        case "SG_MUL_VAL_":
            try readMultiplexValues(line: line)
        default:
            if DBCParser.ignoredKeywords.contains(keyword) {
                scanner.skipStatement()
            } else {
                throw .recoverable("unknown keyword")
            }
        }
    }

    var defaults: [(name: String, value: RawAttributeValue, line: Int)] = []

    /// `NS_ :` lists the symbols a file may use, one per indented line; it ends at the first unindented line.
    private mutating func skipNewSymbols() {
        _ = scanner.take(UInt8(ascii: ":"))
        while let byte = scanner.peek {
            if byte == 0x0A {
                scanner.advance()
                // Blank lines do not end the list; the first line that starts with a non-blank character does.
                while let next = scanner.peek, next == 0x0D || next == 0x0A { scanner.advance() }
                guard let next = scanner.peek, next == 0x20 || next == 0x09 else { return }
            } else {
                scanner.advance()
            }
        }
    }

    // MARK: Messages and signals

    private mutating func readMessage(line: Int) throws(StatementFailure) {
        scanner.skipWhitespace()
        let idColumn = scanner.column
        guard let written = scanner.scanUnsigned(), written <= UInt64(UInt32.max) else {
            throw fatal("expected a message id (a decimal number up to 4294967295) after BO_, found \(scanner.excerpt())")
        }
        let name = try expectIdentifier("a message name", fatal: true)
        guard scanner.take(UInt8(ascii: ":")) else {
            throw fatal("expected ':' after the message name \(name)")
        }
        scanner.skipWhitespace()
        let sizeColumn = scanner.column
        guard let size = scanner.scanUnsigned() else {
            throw fatal("expected the length of message \(name) in bytes")
        }
        var transmitter: String?
        if !scanner.atLineEnd() { transmitter = scanner.scanIdentifier() }

        let dbcID = UInt32(written)
        if name == "VECTOR__INDEPENDENT_SIG_MSG" {
            // Vector's container for signals that belong to no message: never on a bus.
            signalOwner = .independent
            return
        }
        let hasExtendedBit = dbcID & 0x8000_0000 != 0
        let id = dbcID & 0x7FFF_FFFF
        if id > CANFrame.maxExtendedID {
            let hex = "0x" + String(written, radix: 16, uppercase: true)
            // Marked extended (bit 31) yet wider than 29 bits: the id field itself is broken (e.g. 0xFFFFFFFF).
            guard !hasExtendedBit else {
                throw StatementFailure.fatal(diagnostic(
                    line: line, column: idColumn,
                    "message \(name) has id \(written) (\(hex)): marked extended, but beyond 29 bits; no CAN frame can carry it"))
            }
            // Unmarked and wider than 29 bits (opendbc has one): some tool left flag bits in it. Keep the rest.
            warn(line: line, "message \(name) has id \(written) (\(hex)), beyond 29 bits: no CAN frame can carry it; message left out")
            signalOwner = .leftOut
            return
        }
        guard size <= 64 else {
            throw StatementFailure.fatal(diagnostic(
                line: line, column: sizeColumn, "message \(name) is \(size) bytes long; CAN FD frames carry at most 64"))
        }
        let message = DBCMessage(
            id: id, isExtended: hasExtendedBit || id > CANFrame.maxStandardID, name: name, shortName: name,
            size: Int(size), transmitters: transmitter.map { $0 == "Vector__XXX" ? [] : [$0] } ?? [], line: line)
        messages.append(ParsedMessage(dbcID: dbcID, message: message, markers: []))
        signalOwner = .message(messages.count - 1)
    }

    private mutating func readSignal(line: Int) throws(StatementFailure) {
        guard let name = scanner.scanIdentifier() else { throw fatal("expected a signal name after SG_") }
        var marker: String?
        if !scanner.take(UInt8(ascii: ":")) {
            marker = scanner.scanIdentifier()
            guard scanner.take(UInt8(ascii: ":")) else {
                throw fatal("expected ':' after signal \(name)\(marker.map { " " + $0 } ?? "")")
            }
        }
        guard let start = scanner.scanUnsigned() else { throw fatal("expected the start bit of signal \(name)") }
        guard scanner.take(UInt8(ascii: "|")) else { throw fatal("expected '|' between start bit and length of signal \(name)") }
        guard let length = scanner.scanUnsigned() else { throw fatal("expected the length of signal \(name)") }
        guard scanner.take(UInt8(ascii: "@")) else { throw fatal("expected '@' and a byte order after the length of signal \(name)") }
        let byteOrder: DBCByteOrder
        if scanner.take(UInt8(ascii: "1")) {
            byteOrder = .littleEndian
        } else if scanner.take(UInt8(ascii: "0")) {
            byteOrder = .bigEndian
        } else {
            throw fatal("byte order of signal \(name) must be @1 (Intel) or @0 (Motorola)")
        }
        let isSigned: Bool
        if scanner.take(UInt8(ascii: "-")) {
            isSigned = true
        } else if scanner.take(UInt8(ascii: "+")) {
            isSigned = false
        } else {
            throw fatal("expected '+' (unsigned) or '-' (signed) after the byte order of signal \(name)")
        }
        guard scanner.take(UInt8(ascii: "(")), let factor = scanner.scanNumber(), scanner.take(UInt8(ascii: ",")),
            let offset = scanner.scanNumber(), scanner.take(UInt8(ascii: ")"))
        else { throw fatal("expected (factor,offset) for signal \(name)") }
        var minimum = 0.0
        var maximum = 0.0
        if scanner.take(UInt8(ascii: "[")) {
            guard let low = scanner.scanNumber(), scanner.take(UInt8(ascii: "|")), let high = scanner.scanNumber(),
                scanner.take(UInt8(ascii: "]"))
            else { throw fatal("expected [minimum|maximum] for signal \(name)") }
            minimum = low.value
            maximum = high.value
        }
        let unit = scanner.scanString() ?? ""
        var receivers: [String] = []
        while !scanner.atLineEnd(), !scanner.lineStartsWithKeyword() {
            if scanner.take(UInt8(ascii: ",")) { continue }
            if scanner.peek == UInt8(ascii: ";") { scanner.advance(); continue }
            guard let receiver = scanner.scanIdentifier() else { break }
            if receiver != "Vector__XXX" { receivers.append(receiver) }
        }

        guard length > 0, length <= 64 else {
            warn(line: line, "signal \(name) has length \(length); a signal has 1 to 64 bits; signal ignored")
            return
        }
        guard factor.value.isFinite, offset.value.isFinite else {
            warn(line: line, "signal \(name) has a factor or offset that is not a finite number; signal ignored")
            return
        }
        let signal = DBCSignal(
            name: name, shortName: name, startBit: Int(min(start, 4096)), length: Int(length), byteOrder: byteOrder,
            isSigned: isSigned, factor: factor.value, offset: offset.value, minimum: minimum, maximum: maximum,
            unit: unit, receivers: receivers, multiplexMarker: marker, line: line)
        switch signalOwner {
        case .message(let index):
            messages[index].message.signals.append(signal)
            messages[index].markers.append(marker)
        case .independent:
            independentSignals.append(signal)
        case .leftOut:
            break
        case .none:
            warn(line: line, "signal \(name) does not follow a BO_ message; signal ignored")
        }
    }

    // MARK: Comments, labels, attributes

    private mutating func readTarget() throws(StatementFailure) -> AttributeTarget {
        if scanner.takeKeyword("BU_") { return .node(try expectIdentifier("a node name")) }
        if scanner.takeKeyword("BO_") { return .message(try expectMessageID()) }
        if scanner.takeKeyword("SG_") {
            let id = try expectMessageID()
            return .signal(id, try expectIdentifier("a signal name"))
        }
        if scanner.takeKeyword("EV_") { return .environmentVariable(try expectIdentifier("an environment variable name")) }
        return .database
    }

    private mutating func readComment(line: Int) throws(StatementFailure) {
        let target = try readTarget()
        guard let text = scanner.scanString() else {
            throw .recoverable("expected a quoted comment, found \(scanner.excerpt())")
        }
        if !scanner.take(UInt8(ascii: ";")) {
            warn(line: line, "CM_: missing ';' after the comment")
        }
        pending.append(.comment(target: target, text: text, line: line))
    }

    private mutating func readValueDescription(line: Int) throws(StatementFailure) {
        let target: AttributeTarget
        if let id = scanner.scanUnsigned() {
            guard id <= UInt64(UInt32.max) else { throw .recoverable("message id \(id) is out of range") }
            target = .signal(UInt32(id), try expectIdentifier("a signal name"))
        } else {
            target = .environmentVariable(try expectIdentifier("a signal or environment variable"))
        }
        pending.append(.valueLabels(target: target, labels: try readValueLabels(line: line), line: line))
    }

    /// `value "label" value "label" … ;`
    private mutating func readValueLabels(line: Int) throws(StatementFailure) -> [(Int128, String)] {
        var labels: [(Int128, String)] = []
        while !scanner.take(UInt8(ascii: ";")) {
            guard let number = scanner.scanNumber() else {
                if scanner.atEnd || scanner.lineStartsWithKeywordAfterWhitespace() {
                    warn(line: line, "missing ';' after value labels")
                    return labels
                }
                throw .recoverable("expected a value or ';', found \(scanner.excerpt())")
            }
            guard let label = scanner.scanString() else {
                throw .recoverable("expected a quoted label after value \(number.literal)")
            }
            if let exact = number.integer {
                labels.append((exact, label))
            } else if number.value.rounded() == number.value, abs(number.value) < 1.8e19 {
                labels.append((Int128(number.value), label))
            } else {
                warn(line: line, "value label \"\(label)\" is for \(number.literal), which is not a whole number; ignored")
            }
        }
        return labels
    }

    private mutating func readAttributeDefinition(relation: Bool) throws(StatementFailure) {
        var kind: DBCObjectKind = .database
        let kinds: [(StaticString, DBCObjectKind)] = relation
            ? [("BU_SG_REL_", .nodeSignalRelation), ("BU_BO_REL_", .nodeMessageRelation), ("BU_EV_REL_", .nodeEnvironmentRelation)]
            : [("BU_", .node), ("BO_", .message), ("SG_", .signal), ("EV_", .environmentVariable)]
        for (word, objectKind) in kinds where scanner.takeKeyword(word) {
            kind = objectKind
            break
        }
        let name = try expectAttributeName()
        guard let typeName = scanner.scanIdentifier() else { throw .recoverable("expected an attribute type for \(name)") }
        let type: DBCAttributeType
        switch typeName {
        case "INT", "HEX":
            let low = scanner.scanNumber().map { $0.integer.map { Int64(clamping: $0) } ?? Int64(clampingDouble: $0.value) } ?? 0
            let high = scanner.scanNumber().map { $0.integer.map { Int64(clamping: $0) } ?? Int64(clampingDouble: $0.value) } ?? 0
            type = typeName == "INT" ? .integer(minimum: low, maximum: high) : .hex(minimum: low, maximum: high)
        case "FLOAT":
            type = .float(minimum: scanner.scanNumber()?.value ?? 0, maximum: scanner.scanNumber()?.value ?? 0)
        case "STRING":
            type = .string
        case "ENUM":
            var values: [String] = []
            while let value = scanner.scanString() {
                values.append(value)
                _ = scanner.take(UInt8(ascii: ","))
            }
            type = .enumeration(values)
        default:
            throw .recoverable("unknown attribute type \(typeName) for \(name)")
        }
        try expectSemicolon()
        database.attributeDefinitions.append(DBCAttributeDefinition(name: name, objectKind: kind, type: type))
    }

    private mutating func readAttribute(line: Int) throws(StatementFailure) {
        let name = try expectAttributeName()
        let target = try readTarget()
        let value = try readRawAttributeValue()
        try expectSemicolon()
        pending.append(.attribute(name: name, target: target, value: value, line: line))
    }

    private mutating func readRelationAttribute(line: Int) throws(StatementFailure) {
        let name = try expectAttributeName()
        var relation: DBCRelationAttribute
        if scanner.takeKeyword("BU_SG_REL_") {
            let node = try expectIdentifier("a node name")
            _ = scanner.takeKeyword("SG_")
            let id = try expectMessageID()
            let signal = try expectIdentifier("a signal name")
            relation = DBCRelationAttribute(name: name, kind: .nodeSignalRelation, node: node, messageID: id, signal: signal, value: .integer(0))
        } else if scanner.takeKeyword("BU_BO_REL_") {
            let node = try expectIdentifier("a node name")
            let id = try expectMessageID()
            relation = DBCRelationAttribute(name: name, kind: .nodeMessageRelation, node: node, messageID: id, value: .integer(0))
        } else if scanner.takeKeyword("BU_EV_REL_") {
            let node = try expectIdentifier("a node name")
            let variable = try expectIdentifier("an environment variable name")
            relation = DBCRelationAttribute(name: name, kind: .nodeEnvironmentRelation, node: node, environmentVariable: variable, value: .integer(0))
        } else {
            throw .recoverable("expected BU_SG_REL_, BU_BO_REL_ or BU_EV_REL_ after \"\(name)\"")
        }
        switch try readRawAttributeValue() {
        case .string(let text): relation.value = .string(text)
        case .number(let number): relation.value = number.integer.map { .integer(Int64(clamping: $0)) } ?? .float(number.value)
        }
        try expectSemicolon()
        database.relationAttributes.append(relation)
    }

    private mutating func readRawAttributeValue() throws(StatementFailure) -> RawAttributeValue {
        if let text = scanner.scanString() { return .string(text) }
        if let number = scanner.scanNumber() { return .number(number) }
        throw .recoverable("expected a number or a quoted string as the attribute value, found \(scanner.excerpt())")
    }

    private mutating func readEnvironmentVariable() throws(StatementFailure) {
        let name = try expectIdentifier("an environment variable name")
        _ = scanner.take(UInt8(ascii: ":"))
        let type = Int(clamping: scanner.scanUnsigned() ?? 0)
        var minimum = 0.0
        var maximum = 0.0
        if scanner.take(UInt8(ascii: "[")) {
            minimum = scanner.scanNumber()?.value ?? 0
            _ = scanner.take(UInt8(ascii: "|"))
            maximum = scanner.scanNumber()?.value ?? 0
            _ = scanner.take(UInt8(ascii: "]"))
        }
        let unit = scanner.scanString() ?? ""
        let initial = scanner.scanNumber()?.value ?? 0
        let id = Int(clampingDouble: scanner.scanNumber()?.value ?? 0)
        let access = scanner.scanIdentifier() ?? ""
        let nodes = readNameList()
        try expectSemicolon()
        database.environmentVariables.append(DBCEnvironmentVariable(
            name: name, type: type, minimum: minimum, maximum: maximum, unit: unit, initialValue: initial, id: id,
            accessType: access, accessNodes: nodes))
    }

    /// `SG_MUL_VAL_ id signal multiplexer 1-1, 3-5 ;`
    private mutating func readMultiplexValues(line: Int) throws(StatementFailure) {
        let id = try expectMessageID()
        let signal = try expectIdentifier("a multiplexed signal name")
        let multiplexer = try expectIdentifier("a multiplexer signal name")
        var ranges: [ClosedRange<UInt64>] = []
        while !scanner.take(UInt8(ascii: ";")) {
            guard let low = scanner.scanUnsigned(), scanner.take(UInt8(ascii: "-")), let high = scanner.scanUnsigned() else {
                throw .recoverable("expected a value range such as 3-5, found \(scanner.excerpt())")
            }
            guard low <= high else { throw .recoverable("value range \(low)-\(high) is empty") }
            ranges.append(low...high)
            _ = scanner.take(UInt8(ascii: ","))
        }
        pending.append(.multiplexValues(messageID: id, signal: signal, multiplexer: multiplexer, ranges: ranges, line: line))
    }

    // MARK: Helpers

    /// Names separated by commas or spaces, up to the `;` (not consumed).
    private mutating func readNameList() -> [String] {
        var names: [String] = []
        while let name = scanner.scanIdentifier() {
            names.append(name)
            _ = scanner.take(UInt8(ascii: ","))
        }
        return names
    }

    private mutating func expectIdentifier(_ what: String, fatal isFatal: Bool = false) throws(StatementFailure) -> String {
        guard let name = scanner.scanIdentifier() else {
            let text = "expected \(what), found \(scanner.excerpt())"
            throw isFatal ? fatal(text) : .recoverable(text)
        }
        return name
    }

    private mutating func expectAttributeName() throws(StatementFailure) -> String {
        if let name = scanner.scanString() { return name }
        // Some generators leave attribute names unquoted.
        return try expectIdentifier("a quoted attribute name")
    }

    private mutating func expectMessageID() throws(StatementFailure) -> UInt32 {
        guard let id = scanner.scanUnsigned(), id <= UInt64(UInt32.max) else {
            throw .recoverable("expected a message id, found \(scanner.excerpt())")
        }
        return UInt32(id)
    }

    private mutating func expectSemicolon() throws(StatementFailure) {
        guard scanner.take(UInt8(ascii: ";")) else {
            throw .recoverable("expected ';', found \(scanner.excerpt())")
        }
    }

    private func diagnostic(line: Int, column: Int, _ message: String) -> DBCDiagnostic {
        DBCDiagnostic(severity: .error, file: source, line: line, column: column, message: message)
    }

    private func fatal(_ message: String) -> StatementFailure {
        .fatal(diagnostic(line: scanner.line, column: scanner.column, message))
    }

    mutating func warn(line: Int, _ message: String) {
        warnings.append(DBCDiagnostic(severity: .warning, file: source, line: line, message: message))
    }
}

/// Inside the reader a statement either fails for good (the file is unusable) or only itself (a warning).
enum StatementFailure: Error {
    case fatal(DBCDiagnostic)
    case recoverable(String)
}

extension DBCScanner {
    /// After skipping white space, the next word is a DBC keyword (used to end lists that have no terminator).
    mutating func lineStartsWithKeywordAfterWhitespace() -> Bool {
        skipWhitespace()
        return lineStartsWithKeyword()
    }

}

extension FixedWidthInteger where Self: SignedInteger {
    /// The nearest value for a double, saturating at the type's bounds (0 for NaN): DBC numbers are untrusted input,
    /// and a plain conversion traps on out-of-range values.
    init(clampingDouble value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= Double(Self.max) {
            self = .max
        } else if value <= Double(Self.min) {
            self = .min
        } else {
            self = Self(value)
        }
    }
}
