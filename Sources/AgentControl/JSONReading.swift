import AxleBase

/// A control message that does not have the documented shape: which field (a path such as
/// `buses[1].state`) and what was wrong with it.
public struct ControlDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field's path from the top of the document; empty for the document itself.
    public let field: String
    public let message: String

    /// An error about one field.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// Reads the members of one JSON object into typed values, naming the field in every error. Members not asked for
/// are ignored, so a newer agent may add fields without breaking an older `axle`.
struct JSONObjectReader {
    let members: [(String, JSONValue)]
    /// The object's path, for messages ("" at the top).
    let path: String

    init(_ value: JSONValue, path: String = "") throws(ControlDecodingError) {
        guard case .object(let members) = value else {
            throw ControlDecodingError(field: path, message: "expected an object, found \(JSONObjectReader.kind(value))")
        }
        self.members = members
        self.path = path
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member, or nil when missing or null.
    func optionalValue(_ key: String) -> JSONValue? {
        guard let value = members.first(where: { $0.0 == key })?.1, !value.isNull else { return nil }
        return value
    }

    func value(_ key: String) throws(ControlDecodingError) -> JSONValue {
        guard let value = optionalValue(key) else {
            throw ControlDecodingError(field: fieldPath(key), message: "missing")
        }
        return value
    }

    func string(_ key: String) throws(ControlDecodingError) -> String {
        let value = try value(key)
        guard let text = value.stringValue else { throw mistyped(key, "a string", value) }
        return text
    }

    func optionalString(_ key: String) throws(ControlDecodingError) -> String? {
        guard optionalValue(key) != nil else { return nil }
        return try string(key)
    }

    func bool(_ key: String) throws(ControlDecodingError) -> Bool {
        let value = try value(key)
        guard let flag = value.boolValue else { throw mistyped(key, "true or false", value) }
        return flag
    }

    func double(_ key: String) throws(ControlDecodingError) -> Double {
        let value = try value(key)
        guard let number = value.doubleValue else { throw mistyped(key, "a number", value) }
        return number
    }

    func optionalDouble(_ key: String) throws(ControlDecodingError) -> Double? {
        guard optionalValue(key) != nil else { return nil }
        return try double(key)
    }

    /// A whole number in `T`'s range.
    func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws(ControlDecodingError) -> T {
        let value = try value(key)
        guard case .integer(let number) = value else { throw mistyped(key, "a whole number", value) }
        guard let converted = T(exactly: number) else {
            throw ControlDecodingError(field: fieldPath(key), message: "\(number) is out of range (\(T.min)...\(T.max))")
        }
        return converted
    }

    func optionalInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws(ControlDecodingError) -> T? {
        guard optionalValue(key) != nil else { return nil }
        return try integer(key, as: type)
    }

    func object(_ key: String) throws(ControlDecodingError) -> JSONObjectReader {
        try JSONObjectReader(try value(key), path: fieldPath(key))
    }

    /// An array of objects, each read by `make` (with its own path, e.g. `buses[2]`).
    func objects<T>(
        _ key: String, _ make: (JSONObjectReader) throws(ControlDecodingError) -> T
    ) throws(ControlDecodingError) -> [T] {
        let value = try value(key)
        guard let elements = value.arrayValue else { throw mistyped(key, "an array", value) }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try make(try JSONObjectReader(element, path: "\(fieldPath(key))[\(index)]")))
        }
        return result
    }

    private func mistyped(_ key: String, _ expected: String, _ value: JSONValue) -> ControlDecodingError {
        ControlDecodingError(field: fieldPath(key), message: "expected \(expected), found \(JSONObjectReader.kind(value))")
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue {
    /// A whole number (counts, sequence numbers, byte sizes).
    static func count(_ value: some BinaryInteger) -> JSONValue { .integer(Int128(value)) }

    /// A number, or null.
    static func optional(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }

    /// A whole number, or null.
    static func optional(_ value: (some BinaryInteger)?) -> JSONValue { value.map { .integer(Int128($0)) } ?? .null }
}
