/// A JSON document built in code and rendered without Foundation; object keys keep their order.
public indirect enum JSONValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
{
    case null
    case bool(Bool)
    case integer(Int128)
    /// Rendered in the shortest form that reads back identically; NaN and infinities render as null.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(Int128(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.rendered() == rhs.rendered()
    }

    /// An optional value, or null.
    public static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }

    /// A number written as an integer when it is whole and exact in a double (up to 2^53): `21`, not `21.0`, so that
    /// every language reads the same value and every signer writes the same text.
    public static func number(exactWhenWhole value: Double) -> JSONValue {
        if value == value.rounded(), value.magnitude <= 9_007_199_254_740_992 { return .integer(Int128(value)) }
        return .number(value)
    }

    /// The JSON text; `indent` > 0 pretty-prints with that many spaces per level.
    public func rendered(indent: Int = 0) -> String {
        var output = ""
        render(into: &output, indent: indent, level: 0)
        return output
    }

    private func render(into output: inout String, indent: Int, level: Int) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += value.description
        case .number(let value): output += value.isFinite ? value.description : "null"
        case .string(let value): Self.escape(value, into: &output)
        case .array(let values):
            guard !values.isEmpty else { output += "[]"; return }
            output += "["
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                newline(&output, indent: indent, level: level + 1)
                value.render(into: &output, indent: indent, level: level + 1)
            }
            newline(&output, indent: indent, level: level)
            output += "]"
        case .object(let members):
            guard !members.isEmpty else { output += "{}"; return }
            output += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { output += "," }
                newline(&output, indent: indent, level: level + 1)
                Self.escape(key, into: &output)
                output += indent > 0 ? ": " : ":"
                value.render(into: &output, indent: indent, level: level + 1)
            }
            newline(&output, indent: indent, level: level)
            output += "}"
        }
    }

    private func newline(_ output: inout String, indent: Int, level: Int) {
        guard indent > 0 else { return }
        output += "\n" + String(repeating: " ", count: indent * level)
    }

    static func escape(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            // Also DEL, the C1 controls and the line separators, which JSON allows raw: JSON text is often printed
            // to a terminal as it is (`axle … --json`, `mosquitto_sub`), and these can drive one.
            case let control where control.value < 0x20 || (0x7F...0x9F).contains(control.value)
                || control.value == 0x2028 || control.value == 0x2029:
                let hex = String(control.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
