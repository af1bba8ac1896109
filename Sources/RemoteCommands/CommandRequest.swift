import AxleBase

/// A parameter value of a command: JSON number, string or bool (the envelope allows no nesting).
public enum CommandValue: Sendable, Hashable {
    case number(Double)
    case string(String)
    case bool(Bool)

    /// The JSON form: whole numbers up to 2^53 without a fraction (`21`, not `21.0`), so that other signers write
    /// the same text.
    public var json: JSONValue {
        switch self {
        case .number(let value): .number(exactWhenWhole: value)
        case .string(let value): .string(value)
        case .bool(let value): .bool(value)
        }
    }

    /// How the value reads in a message: `21`, `"text"`, `true`.
    var display: String { json.rendered() }

    /// The kind's name for messages ("number", "string", "bool").
    var kindName: String {
        switch self {
        case .number: "number"
        case .string: "string"
        case .bool: "bool"
        }
    }
}

/// A body or envelope that is not what docs/commands.md describes; `description` says which part and why.
public struct CommandFormatError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What a command asks of one vehicle: the signed body of the envelope (docs/commands.md, "The body").
public struct CommandRequest: Sendable, Equatable {
    /// A UUID, lowercase 8-4-4-4-12; the journal refuses a second command with the same id.
    public var id: String
    public var vehicle: String
    public var name: String
    public var parameters: [String: CommandValue]
    public var issuedAtMillis: Int64
    public var expiresAtMillis: Int64
    /// Per signing key, increasing: the journal refuses a counter it has seen (or one at or below a pruned floor).
    public var counter: UInt64

    /// Most parameters of a command; more is malformed.
    public static let maximumParameterCount = 32
    /// Largest body in bytes; larger is malformed.
    public static let maximumBodyBytes = 8192

    public init(
        id: String = CommandRequest.newID(), vehicle: String, name: String, parameters: [String: CommandValue] = [:],
        issuedAtMillis: Int64, expiresAtMillis: Int64, counter: UInt64
    ) {
        self.id = id
        self.vehicle = vehicle
        self.name = name
        self.parameters = parameters
        self.issuedAtMillis = issuedAtMillis
        self.expiresAtMillis = expiresAtMillis
        self.counter = counter
    }

    /// A random (version 4) UUID in lowercase, from the system's cryptographic random source.
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 4122 variant
        let hex = bytes.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
        var id = ""
        for (index, character) in hex.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { id += "-" }
            id.append(character)
        }
        return id
    }

    /// Whether `text` is a UUID as the body requires: lowercase hexadecimal, 8-4-4-4-12.
    public static func isValidID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                else { return false }
            }
        }
        return true
    }

    /// The body as signers write it: compact JSON, members in the documented order, parameters sorted by name.
    public func bodyBytes() -> [UInt8] {
        let params = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) }
        let body: JSONValue = .object([
            ("id", .string(id)),
            ("vehicle", .string(vehicle)),
            ("name", .string(name)),
            ("params", .object(params)),
            ("issued_at", .integer(Int128(issuedAtMillis))),
            ("expires_at", .integer(Int128(expiresAtMillis))),
            ("counter", .integer(Int128(counter))),
        ])
        return Array(body.rendered().utf8)
    }

    /// Reads a body. Strict: every member present once with its type, no others, finite numbers, at most
    /// `maximumParameterCount` flat parameters. Member order is not checked (the signature covers the bytes anyway).
    public static func parse(body: [UInt8]) throws(CommandFormatError) -> CommandRequest {
        guard body.count <= maximumBodyBytes else {
            throw CommandFormatError("the body is \(body.count) bytes, more than the \(maximumBodyBytes) allowed")
        }
        let members = try objectMembers(of: body, what: "the body")
        var fields: [String: JSONValue] = [:]
        for (key, value) in members {
            guard ["id", "vehicle", "name", "params", "issued_at", "expires_at", "counter"].contains(key) else {
                throw CommandFormatError("the body has an unknown member \"\(key)\"")
            }
            guard fields.updateValue(value, forKey: key) == nil else {
                throw CommandFormatError("the body has the member \"\(key)\" twice")
            }
        }
        func string(_ key: String) throws(CommandFormatError) -> String {
            guard let value = fields[key] else { throw CommandFormatError("the body has no \"\(key)\"") }
            guard let text = value.stringValue, !text.isEmpty else {
                throw CommandFormatError("the body's \"\(key)\" must be a non-empty string, not \(value.shownInMessage)")
            }
            return text
        }
        func integer(_ key: String) throws(CommandFormatError) -> Int128 {
            guard let value = fields[key] else { throw CommandFormatError("the body has no \"\(key)\"") }
            guard case .integer(let number) = value else {
                throw CommandFormatError("the body's \"\(key)\" must be a whole number in range, not \(value.shownInMessage)")
            }
            return number
        }
        func millis(_ key: String) throws(CommandFormatError) -> Int64 {
            let number = try integer(key)
            guard let value = Int64(exactly: number), value >= 0 else {
                throw CommandFormatError("the body's \"\(key)\" must be unix time in milliseconds, not \(number)")
            }
            return value
        }
        let id = try string("id")
        guard isValidID(id) else {
            throw CommandFormatError("the body's \"id\" must be a lowercase UUID (8-4-4-4-12 hexadecimal), not \"\(id)\"")
        }
        let counterNumber = try integer("counter")
        guard let counter = UInt64(exactly: counterNumber) else {
            throw CommandFormatError("the body's \"counter\" must be a whole number from 0 to 2^64-1, not \(counterNumber)")
        }
        guard let paramsValue = fields["params"] else { throw CommandFormatError("the body has no \"params\"") }
        guard case .object(let params) = paramsValue else {
            throw CommandFormatError("the body's \"params\" must be an object, not \(paramsValue.rendered())")
        }
        guard params.count <= maximumParameterCount else {
            throw CommandFormatError("the body has \(params.count) parameters, more than the \(maximumParameterCount) allowed")
        }
        var parameters: [String: CommandValue] = [:]
        for (key, value) in params {
            let parameter: CommandValue
            switch value {
            case .bool(let flag): parameter = .bool(flag)
            case .string(let text): parameter = .string(text)
            case .integer, .number:
                guard let number = value.doubleValue, number.isFinite else {
                    throw CommandFormatError("parameter \"\(key)\" is not a finite number")
                }
                parameter = .number(number)
            default:
                throw CommandFormatError(
                    "parameter \"\(key)\" must be a number, string or bool, not \(value.rendered()) (no nesting, no null)")
            }
            guard parameters.updateValue(parameter, forKey: key) == nil else {
                throw CommandFormatError("the body has the parameter \"\(key)\" twice")
            }
        }
        return CommandRequest(
            id: id, vehicle: try string("vehicle"), name: try string("name"), parameters: parameters,
            issuedAtMillis: try millis("issued_at"), expiresAtMillis: try millis("expires_at"), counter: counter)
    }

    /// The members of a JSON object in strict UTF-8, or an error naming `what`.
    static func objectMembers(of bytes: [UInt8], what: String) throws(CommandFormatError) -> [(String, JSONValue)] {
        // Strict UTF-8: replacing bad bytes with U+FFFD would make two different payloads read the same.
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CommandFormatError("\(what) is not valid UTF-8")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw CommandFormatError("\(what) is not valid JSON: \(error)")
        }
        guard case .object(let members) = value else { throw CommandFormatError("\(what) must be a JSON object") }
        return members
    }
}
