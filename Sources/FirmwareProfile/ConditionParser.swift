import AxleBase
import DBC
import TOML

/// What a condition may name: the catalog's signals (with their DBC value labels, so that `"P"` can be resolved) and
/// the profile's areas.
public struct ConditionVocabulary: Sendable {
    /// A DBC value label with the physical value it stands for (raw × factor + offset).
    public struct Label: Sendable, Equatable {
        public var label: String
        public var value: Double

        public init(label: String, value: Double) {
            self.label = label
            self.value = value
        }
    }

    /// Catalog (VSS) name → its value labels, in DBC order (empty when the signal has none).
    public var signals: [String: [Label]]
    /// Area names, in file order.
    public var areas: [String]

    public init(signals: [String: [Label]], areas: [String] = []) {
        self.signals = signals
        self.areas = areas
    }
}

/// A condition that cannot be used: the 1-based character position in the condition's text, and why.
public struct ConditionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: Int
    public var message: String

    public init(position: Int, message: String) {
        self.position = position
        self.message = message
    }

    /// `at character 37: expected …`, to follow "in 'when' " in a profile problem.
    public var description: String { "at character \(position): \(message)" }
}

/// Parses the condition language of `when`, `precondition` and `confirm` (docs/profiles.md, "Conditions").
///
/// Precedence from lowest to highest: `or`, `and`, `not`, postfix `for DURATION`, primary. A primary is `( expr )`,
/// `rising(expr)`, `falling(expr)`, `inside(AREA)`, `true`, `false`, a comparison
/// `operand OP operand [hysteresis NUMBER]`, or a bare signal name (true while non-zero). Names are checked against
/// the vocabulary and value labels are resolved while parsing, so a parsed condition needs no further checks.
///
/// Nesting is limited to `maximumNestingDepth` levels: the parser and everything that walks a condition recurse, and a
/// condition of 10,000 `(` would otherwise overflow the stack and take the agent down.
public struct ConditionParser {
    /// How deeply a condition may nest: each `(`, `rising(`, `falling(`, `not` and `for` counts one level. Measured in
    /// a debug build: 32 levels of `(` use about 150 KiB of stack (ConditionNestingTests), under a third of a 512 KiB
    /// stack and far under the 8 MiB the agent's threads get.
    public static let maximumNestingDepth = 32

    private let vocabulary: ConditionVocabulary
    private let tokens: [Token]
    private var position = 0
    /// Levels open at the current token; see `maximumNestingDepth`.
    private var depth = 0

    /// Parses `text`; the first problem is thrown with its character position.
    public static func parse(_ text: String, vocabulary: ConditionVocabulary) throws(ConditionError) -> Condition {
        var lexer = Lexer(text)
        var parser = ConditionParser(vocabulary: vocabulary, tokens: try lexer.tokens())
        return try parser.parseCondition()
    }

    private init(vocabulary: ConditionVocabulary, tokens: [Token]) {
        self.vocabulary = vocabulary
        self.tokens = tokens
    }

    static let keywords: Set<String> = [
        "and", "or", "not", "for", "hysteresis", "rising", "falling", "inside", "true", "false", "error", "not_available",
    ]

    // MARK: Grammar

    private mutating func parseCondition() throws(ConditionError) -> Condition {
        if case .end = current.kind {
            throw ConditionError(position: current.position, message: "the condition is empty")
        }
        let condition = try parseOr()
        guard case .end = current.kind else {
            throw error(at: current, "expected 'and', 'or' or the end of the condition, found \(current.shown)\(operatorHint(current))")
        }
        return condition
    }

    private mutating func parseOr() throws(ConditionError) -> Condition {
        var parts = [try parseAnd()]
        while current.isWord("or") {
            advance()
            parts.append(try parseAnd())
        }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    private mutating func parseAnd() throws(ConditionError) -> Condition {
        var parts = [try parseNot()]
        while current.isWord("and") {
            advance()
            parts.append(try parseNot())
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    /// A run of `not` is read in a loop rather than by recursion, though each still counts one level of nesting.
    private mutating func parseNot() throws(ConditionError) -> Condition {
        var negations = 0
        while current.isWord("not") {
            try enterLevel(at: current)
            negations += 1
            advance()
        }
        var condition = try parseFor()
        for _ in 0..<negations { condition = .not(condition) }
        depth -= negations
        return condition
    }

    // parseOr, parseAnd, parseNot, parseFor and parsePrimary call each other for every level of nesting, so they keep
    // their stack frames small: in a debug build each string interpolation and each case of a switch takes its own
    // stack space, so messages are built, and primaries that cannot nest are read, in other functions.

    private mutating func parseFor() throws(ConditionError) -> Condition {
        var condition = try parsePrimary()
        guard current.isWord("for") else { return condition }
        // Each `for` wraps what came before it, which is already read and closed: its levels count from the levels
        // open around it plus those inside what it wraps, or `((x for 1s) for 1s for 1s) …` could nest without bound.
        var levels = depth + condition.countedNesting
        while current.isWord("for") {
            levels += 1
            if levels > Self.maximumNestingDepth { throw nestingError(at: current) }
            condition = .sustained(condition, seconds: try parseDuration())
        }
        return condition
    }

    /// The duration after `for` (the current token).
    private mutating func parseDuration() throws(ConditionError) -> Double {
        let forToken = current
        advance()
        switch current.kind {
        case .duration(let seconds, _):
            guard seconds > 0 else { throw error(at: current, "the duration after 'for' must be longer than 0") }
            advance()
            return seconds
        case .number(_, let text):
            throw error(at: current, "the duration after 'for' needs a unit, as in \(text)s (ms, s, m or min, h, d)")
        default:
            throw error(at: current, "expected a duration such as 10s after '\(forToken.text)', found \(current.shown)")
        }
    }

    private mutating func parsePrimary() throws(ConditionError) -> Condition {
        let token = current
        switch token.kind {
        case .leftParenthesis:
            try enterLevel(at: token)
            advance()
            let inner = try parseOr()
            try expectClosing(opening: token)
            depth -= 1
            return inner
        case .word(let word) where word == "rising" || word == "falling":
            try enterLevel(at: token)
            advance()
            try expectOpening(after: token)
            let opening = tokens[position - 1]
            let inner = try parseOr()
            try expectClosing(opening: opening)
            depth -= 1
            return word == "rising" ? .rising(inner) : .falling(inner)
        default:
            return try parseAtom()
        }
    }

    /// A primary that contains no condition: `inside(AREA)`, `true`, `false`, a comparison or a bare signal.
    private mutating func parseAtom() throws(ConditionError) -> Condition {
        let token = current
        switch token.kind {
        case .word("inside"):
            advance()
            try expectOpening(after: token)
            let opening = tokens[position - 1]
            guard case .word(let area) = current.kind, !Self.keywords.contains(area) else {
                throw error(at: current, "expected an area name in inside(…), found \(current.shown)")
            }
            guard vocabulary.areas.contains(area) else {
                throw error(at: current, unknownAreaMessage(area))
            }
            advance()
            try expectClosing(opening: opening)
            return .inside(area: area)
        case .word(let word) where word == "error" || word == "not_available":
            advance()
            try expectOpening(after: token)
            let opening = tokens[position - 1]
            guard case .word(let signal) = current.kind, !Self.keywords.contains(signal) else {
                throw error(at: current, "expected a catalog signal in \(word)(…), found \(current.shown)")
            }
            guard vocabulary.signals[signal] != nil else { throw error(at: current, unknownSignalMessage(signal)) }
            advance()
            try expectClosing(opening: opening)
            return .reports(signal: signal, availability: word == "error" ? .error : .notAvailable)
        case .word(let word) where word == "true" || word == "false":
            if case .comparison = peek(1).kind { return try parseComparisonOrTruthy() }
            advance()
            return .constant(word == "true")
        case .word(let word) where Self.keywords.contains(word):
            throw error(at: token, "expected a condition, found '\(word)'")
        case .end:
            throw error(at: token, "expected a condition, found the end of the condition")
        case .rightParenthesis:
            throw error(at: token, "expected a condition, found ')'")
        default:
            return try parseComparisonOrTruthy()
        }
    }

    private mutating func parseComparisonOrTruthy() throws(ConditionError) -> Condition {
        let leftToken = current
        let left = try parseOperand()
        guard case .comparison(let op) = current.kind else {
            guard case .signal(let name) = left else {
                throw error(
                    at: leftToken,
                    "\(leftToken.shown) alone is not a condition; compare it with a signal, as in Vehicle.Speed > 50")
            }
            switch current.kind {
            case .end, .rightParenthesis: return .truthy(signal: name)
            case .word(let word) where word == "and" || word == "or" || word == "for": return .truthy(signal: name)
            default:
                throw error(
                    at: current,
                    "expected a comparison operator after '\(leftToken.text)', found \(current.shown)\(operatorHint(current))")
            }
        }
        let operatorToken = current
        advance()
        let rightToken = current
        let right = try parseOperand()
        let lhs = try resolve(left, token: leftToken, other: right, operatorToken: operatorToken)
        let rhs = try resolve(right, token: rightToken, other: left, operatorToken: operatorToken)
        if case .number = lhs, case .number = rhs {
            throw error(at: leftToken, "the comparison has no signal: one side must be a catalog signal")
        }
        var hysteresis = 0.0
        if current.isWord("hysteresis") {
            let hysteresisToken = current
            guard [.less, .lessOrEqual, .greater, .greaterOrEqual].contains(op) else {
                throw error(at: hysteresisToken, "hysteresis applies only to <, <=, > and >=, not '\(op.rawValue)'")
            }
            advance()
            guard case .number(let value, _) = current.kind else {
                throw error(at: current, "expected a number after 'hysteresis', found \(current.shown)")
            }
            guard value >= 0 else { throw error(at: current, "hysteresis must not be negative") }
            hysteresis = value
            advance()
        }
        return .comparison(lhs: lhs, op: op, rhs: rhs, hysteresis: hysteresis)
    }

    /// An operand as written, before labels are resolved (that needs the other side).
    private enum RawOperand {
        case signal(String)
        case number(Double)
        case label(String)
    }

    private mutating func parseOperand() throws(ConditionError) -> RawOperand {
        let token = current
        switch token.kind {
        case .number(let value, _):
            advance()
            return .number(value)
        case .word("true"):
            advance()
            return .number(1)
        case .word("false"):
            advance()
            return .number(0)
        case .string(let label):
            advance()
            return .label(label)
        case .word(let name) where !Self.keywords.contains(name):
            guard vocabulary.signals[name] != nil else { throw error(at: token, unknownSignalMessage(name)) }
            advance()
            return .signal(name)
        case .duration(_, let text):
            throw error(at: token, "'\(text)' is a duration; durations come only after 'for'")
        default:
            throw error(at: token, "expected a signal, a number or a \"label\", found \(token.shown)")
        }
    }

    private func resolve(_ operand: RawOperand, token: Token, other: RawOperand, operatorToken: Token) throws(ConditionError) -> Operand {
        switch operand {
        case .signal(let name): return .signal(name)
        case .number(let value): return .number(value)
        case .label(let label):
            guard case .signal(let signal) = other else {
                throw error(at: token, "the label \"\(label)\" needs a signal with value labels on the other side of '\(operatorToken.text)'")
            }
            let labels = vocabulary.signals[signal] ?? []
            guard !labels.isEmpty else {
                throw error(at: token, "signal '\(signal)' has no value labels, so \"\(label)\" cannot be resolved; compare it with a number")
            }
            guard let match = labels.first(where: { $0.label == label }) else {
                throw error(
                    at: token,
                    "signal '\(signal)' has no value labelled \"\(label)\"; its labels are \(labels.map { "\"\($0.label)\"" }.joined(separator: ", "))")
            }
            return .number(match.value)
        }
    }

    // MARK: Messages

    private func unknownSignalMessage(_ name: String) -> String {
        if vocabulary.areas.contains(name) {
            return "'\(name)' is an area, not a signal; test it with inside(\(name))"
        }
        if Self.keywords.contains(name.lowercased()) {
            return "unknown signal '\(name)'; did you mean '\(name.lowercased())'? (keywords are lowercase)"
        }
        var message = "unknown signal '\(name)': it is not in the [signals] catalog"
        if let suggestion = TOMLTableReader.nearest(to: name, in: vocabulary.signals.keys.sorted()) {
            message += "; did you mean '\(suggestion)'?"
        }
        return message
    }

    private func unknownAreaMessage(_ name: String) -> String {
        guard !vocabulary.areas.isEmpty else { return "unknown area '\(name)': the profile defines no [areas]" }
        var message = "unknown area '\(name)'; the areas are \(vocabulary.areas.joined(separator: ", "))"
        if let suggestion = TOMLTableReader.nearest(to: name, in: vocabulary.areas) {
            message += " (did you mean '\(suggestion)'?)"
        }
        return message
    }

    private func operatorHint(_ token: Token) -> String {
        switch token.text {
        case "=": " (did you mean '=='?)"
        case "=<": " (did you mean '<='?)"
        case "=>": " (did you mean '>='?)"
        case "<>": " (did you mean '!='?)"
        case "&&", "&": " (write 'and')"
        case "||", "|": " (write 'or')"
        default: ""
        }
    }

    // MARK: Tokens

    private var current: Token { tokens[position] }

    private func peek(_ offset: Int) -> Token {
        tokens[min(position + offset, tokens.count - 1)]
    }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    private mutating func expectOpening(after token: Token) throws(ConditionError) {
        guard case .leftParenthesis = current.kind else {
            throw error(at: current, "expected '(' after '\(token.text)', found \(current.shown)")
        }
        advance()
    }

    private mutating func expectClosing(opening: Token) throws(ConditionError) {
        guard case .rightParenthesis = current.kind else {
            throw error(at: current, "expected ')' to close the '(' at character \(opening.position), found \(current.shown)")
        }
        advance()
    }

    /// Opens one level of nesting at `token`, refusing one more than `maximumNestingDepth`.
    private mutating func enterLevel(at token: Token) throws(ConditionError) {
        depth += 1
        if depth > Self.maximumNestingDepth { throw nestingError(at: token) }
    }

    private func nestingError(at token: Token) -> ConditionError {
        error(
            at: token,
            "nesting deeper than \(Self.maximumNestingDepth) levels ('(', 'not', 'rising', 'falling' and 'for' count one each); split the condition or simplify it")
    }

    private func error(at token: Token, _ message: String) -> ConditionError {
        ConditionError(position: token.position, message: message)
    }
}

/// A token of the condition language with its 1-based character position.
private struct Token {
    enum Kind {
        case word(String)
        case number(Double, text: String)
        case duration(seconds: Double, text: String)
        case string(String)
        case comparison(ComparisonOperator)
        /// Something that is not part of the language but is worth a specific hint (`=`, `&&`).
        case symbol(String)
        case leftParenthesis
        case rightParenthesis
        case end
    }

    var kind: Kind
    var text: String
    var position: Int

    func isWord(_ word: String) -> Bool {
        if case .word(let value) = kind { return value == word }
        return false
    }

    /// How messages show the token: `'text'`, or "the end of the condition".
    var shown: String {
        switch kind {
        case .end: "the end of the condition"
        case .string(let value): "the label \"\(value)\""
        default: "'\(text)'"
        }
    }
}

private struct Lexer {
    let scalars: [Unicode.Scalar]
    var index = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    mutating func tokens() throws(ConditionError) -> [Token] {
        var tokens: [Token] = []
        while true {
            while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
            let start = index
            guard index < scalars.count else {
                tokens.append(Token(kind: .end, text: "", position: scalars.count + 1))
                return tokens
            }
            let scalar = scalars[index]
            let position = start + 1
            switch scalar {
            case "(":
                index += 1
                tokens.append(Token(kind: .leftParenthesis, text: "(", position: position))
            case ")":
                index += 1
                tokens.append(Token(kind: .rightParenthesis, text: ")", position: position))
            case "\"", "'":
                index += 1
                var value = ""
                while index < scalars.count, scalars[index] != scalar {
                    value.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard index < scalars.count else {
                    throw ConditionError(position: position, message: "the label is not closed with \(scalar)")
                }
                index += 1
                tokens.append(Token(kind: .string(value), text: text(from: start), position: position))
            case "<", ">", "=", "!", "&", "|":
                index += 1
                while index < scalars.count, "<>=!&|".unicodeScalars.contains(scalars[index]) { index += 1 }
                let symbol = text(from: start)
                if let op = ComparisonOperator(rawValue: symbol) {
                    tokens.append(Token(kind: .comparison(op), text: symbol, position: position))
                } else {
                    tokens.append(Token(kind: .symbol(symbol), text: symbol, position: position))
                }
            case "0"..."9", ".", "+", "-":
                if scalar == "+" || scalar == "-" || scalar == "." {
                    let next = index + 1 < scalars.count ? scalars[index + 1] : " "
                    let startsNumber = ("0"..."9").contains(next) || (next == "." && scalar != ".")
                    guard startsNumber else {
                        throw ConditionError(position: position, message: "unexpected '\(scalar)'; the condition language has no arithmetic")
                    }
                }
                tokens.append(try number(start: start))
            default:
                guard Self.isNameStart(scalar) else {
                    throw ConditionError(position: position, message: "unexpected character '\(scalar)'")
                }
                while index < scalars.count, Self.isNameContinuation(scalars[index]) { index += 1 }
                // A name does not end with a dot: `Vehicle.Speed.` is a typo worth its own message.
                let word = text(from: start)
                if word.hasSuffix(".") {
                    throw ConditionError(position: position, message: "'\(word)' ends with '.'; a signal name is Vehicle.Branch.Leaf")
                }
                tokens.append(Token(kind: .word(word), text: word, position: position))
            }
        }
    }

    private mutating func number(start: Int) throws(ConditionError) -> Token {
        if scalars[index] == "+" || scalars[index] == "-" { index += 1 }
        while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." { index += 1 }
        // An exponent: `1e3`, `2.5E-2` (but `5min` is a duration).
        if index < scalars.count, scalars[index] == "e" || scalars[index] == "E" {
            var look = index + 1
            if look < scalars.count, scalars[look] == "+" || scalars[look] == "-" { look += 1 }
            if look < scalars.count, ("0"..."9").contains(scalars[look]) {
                index = look
                while index < scalars.count, ("0"..."9").contains(scalars[index]) { index += 1 }
            }
        }
        let numberText = text(from: start)
        guard let value = Double(numberText) else {
            throw ConditionError(position: start + 1, message: "'\(numberText)' is not a number")
        }
        let unitStart = index
        while index < scalars.count, scalars[index].properties.isAlphabetic { index += 1 }
        guard index > unitStart else {
            return Token(kind: .number(value, text: numberText), text: numberText, position: start + 1)
        }
        let unit = String(String.UnicodeScalarView(scalars[unitStart..<index]))
        // The units of every other duration in Axle (DurationSyntax), so `for 5m` means what `timeout = "5m"` means.
        guard let scale = DurationSyntax.seconds(perUnit: unit) else {
            throw ConditionError(
                position: unitStart + 1,
                message: "unknown unit '\(unit)' in '\(text(from: start))'; a duration is \(DurationSyntax.forms)")
        }
        return Token(kind: .duration(seconds: value * scale, text: text(from: start)), text: text(from: start), position: start + 1)
    }

    private func text(from start: Int) -> String {
        String(String.UnicodeScalarView(scalars[start..<index]))
    }

    static func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar == "_"
    }

    static func isNameContinuation(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "." || scalar == "-"
    }
}

extension Condition {
    /// The most `not`, `rising`, `falling` and `for` on one path from here down: the levels that count towards
    /// `ConditionParser.maximumNestingDepth` inside a condition already read.
    var countedNesting: Int {
        switch self {
        case .constant, .truthy, .comparison, .inside, .reports: 0
        case .not(let inner), .rising(let inner), .falling(let inner), .sustained(let inner, _): 1 + inner.countedNesting
        case .and(let parts), .or(let parts): parts.map(\.countedNesting).max() ?? 0
        }
    }

    /// The condition written back in the language, with every compound part in parentheses so that the grouping the
    /// parser chose is visible (used by `axle profile show` and by tests). Label values appear as numbers; see
    /// `FirmwareProfile.text(of:)` for the form with labels.
    public var normalizedText: String {
        normalizedText(label: { _, _ in nil })
    }

    /// As `normalizedText`, writing a number compared with a signal as the label `label(signal, value)` gives.
    public func normalizedText(label: (_ signal: String, _ value: Double) -> String?) -> String {
        func isAtomic(_ condition: Condition) -> Bool {
            switch condition {
            case .constant, .truthy, .comparison, .rising, .falling, .inside, .reports: true
            case .not, .and, .or, .sustained: false
            }
        }
        func wrapped(_ condition: Condition) -> String {
            isAtomic(condition) ? condition.normalizedText(label: label) : "(" + condition.normalizedText(label: label) + ")"
        }
        func render(_ operand: Operand, other: Operand) -> String {
            switch operand {
            case .signal(let name): return name
            case .number(let value):
                if case .signal(let signal) = other, let text = label(signal, value) { return "\"\(text)\"" }
                return Self.format(value)
            }
        }
        switch self {
        case .constant(let value): return value ? "true" : "false"
        case .truthy(let signal): return signal
        case .comparison(let lhs, let op, let rhs, let hysteresis):
            var text = "\(render(lhs, other: rhs)) \(op.rawValue) \(render(rhs, other: lhs))"
            if hysteresis > 0 { text += " hysteresis \(Self.format(hysteresis))" }
            return text
        case .not(let inner): return "not " + wrapped(inner)
        case .and(let parts): return parts.map(wrapped).joined(separator: " and ")
        case .or(let parts): return parts.map(wrapped).joined(separator: " or ")
        case .rising(let inner): return "rising(\(inner.normalizedText(label: label)))"
        case .falling(let inner): return "falling(\(inner.normalizedText(label: label)))"
        case .sustained(let inner, let seconds): return wrapped(inner) + " for " + Self.format(seconds) + "s"
        case .inside(let area): return "inside(\(area))"
        case .reports(let signal, let availability): return "\(availability == .error ? "error" : "not_available")(\(signal))"
        }
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

extension FirmwareProfile {
    /// A condition written back with the DBC's value labels where a signal is compared with one (`CurrentGear == "P"`).
    public func text(of condition: Condition) -> String {
        condition.normalizedText { signal, value in
            guard let entry = catalogSignal(named: signal), let bus = bus(named: entry.bus),
                let dbcSignal = bus.database.message(named: entry.message)?.signal(named: entry.signal)
            else { return nil }
            return dbcSignal.valueLabels.entries.first { Double($0.value) * dbcSignal.factor + dbcSignal.offset == value }?.label
        }
    }
}
