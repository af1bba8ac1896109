/// A value bound to or read from an SQL statement, in SQLite's five storage classes.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The integer, nil for any other class.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The number as a `Double` (an integer too, as SQLite stores a REAL column's whole values), nil otherwise.
    public var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }

    /// The text, nil for any other class.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The bytes (a text's UTF-8 too), nil otherwise.
    public var blob: [UInt8]? {
        switch self {
        case .blob(let value): value
        case .text(let value): Array(value.utf8)
        default: nil
        }
    }
}
