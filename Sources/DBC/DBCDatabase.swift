/// A CAN database as read from a DBC file: messages, signals, value labels, comments and attributes.
///
/// Names are the ones users see: where a DBC gives a long name (`SystemSignalLongSymbol`,
/// `SystemMessageLongSymbol`, `SystemNodeLongSymbol`), `name` is the long name and `shortName` the DBC symbol.
public struct DBCDatabase: Sendable {
    /// The file (or label) the database was read from, used in diagnostics.
    public var source: String
    public var version: String?
    public var nodes: [DBCNode] = []
    public var valueTables: [String: DBCValueLabels] = [:]
    public var messages: [DBCMessage] = []
    /// Signals of Vector's pseudo-message `VECTOR__INDEPENDENT_SIG_MSG`: defined, but sent in no frame.
    public var independentSignals: [DBCSignal] = []
    public var environmentVariables: [DBCEnvironmentVariable] = []
    public var attributeDefinitions: [DBCAttributeDefinition] = []
    /// Database-level attributes (`BA_ "Name" value;`), with defaults applied.
    public var attributes: [String: DBCAttributeValue] = [:]
    /// Attributes on node–message, node–signal and node–environment-variable relations (`BA_REL_`).
    public var relationAttributes: [DBCRelationAttribute] = []
    public var comment: String?
    /// Recoverable problems found while reading, each with file:line.
    public var warnings: [DBCDiagnostic] = []

    public init(source: String) {
        self.source = source
    }

    /// The J1939 protocol is declared for the whole database (`BA_ "ProtocolType" "J1939";`).
    public var declaresJ1939: Bool {
        if case .string(let value)? = attributes["ProtocolType"] { return value == "J1939" }
        return false
    }

    public func message(named name: String) -> DBCMessage? {
        messages.first { $0.name == name || $0.shortName == name }
    }
}

public struct DBCNode: Sendable, Equatable {
    public var name: String
    public var shortName: String
    public var comment: String?
    public var attributes: [String: DBCAttributeValue] = [:]
}

/// How a message's frames are sent, from the `VFrameFormat` attribute.
public enum DBCFrameFormat: String, Sendable, Equatable {
    case standard = "StandardCAN"
    case extended = "ExtendedCAN"
    case standardFD = "StandardCAN_FD"
    case extendedFD = "ExtendedCAN_FD"
    case j1939 = "J1939PG"
}

public struct DBCMessage: Sendable {
    /// The CAN id without flag bits.
    public var id: UInt32
    /// A 29-bit id: bit 31 set in the DBC, or an id above 0x7FF (see docs/dbc.md, "Identifiers").
    public var isExtended: Bool
    public var name: String
    public var shortName: String
    /// Payload length in bytes (up to 64 for CAN FD).
    public var size: Int
    /// The sending node (`nil` for `Vector__XXX`), then any further senders from `BO_TX_BU_`.
    public var transmitters: [String]
    public var signals: [DBCSignal] = []
    public var comment: String?
    public var attributes: [String: DBCAttributeValue] = [:]
    public var signalGroups: [DBCSignalGroup] = []
    /// `VFrameFormat`, when the database defines it.
    public var frameFormat: DBCFrameFormat?
    /// `GenMsgCycleTime` in milliseconds (the message's value or the attribute's default), when positive.
    public var cycleTime: Int?
    /// `GenMsgSendType` (such as `Cyclic`, `Event`), when defined.
    public var sendType: String?
    /// Frames match this message by J1939 parameter group number, whatever their priority and source address.
    public var isJ1939: Bool = false
    /// Line of the `BO_` statement.
    public var line: Int

    /// A CAN FD message: by `VFrameFormat`, or because it is longer than 8 bytes and not a J1939 parameter group.
    public var isFD: Bool {
        if frameFormat == .standardFD || frameFormat == .extendedFD { return true }
        // A J1939 parameter group longer than 8 bytes (EC1, 39) is no FD frame: it travels by the transport protocol,
        // 7 bytes a packet, and the agent reassembles it (docs/dbc.md, "Multi-packet parameter groups").
        return size > 8 && !isJ1939
    }

    /// The J1939 parameter group number of this message's id.
    public var pgn: UInt32 { J1939.pgn(ofID: id) }

    public func signal(named name: String) -> DBCSignal? {
        signals.first { $0.name == name || $0.shortName == name }
    }
}

/// Bit layout of a signal: Intel (`@1`, little-endian, start bit is the LSB) or Motorola (`@0`, big-endian, start
/// bit is the MSB in the DBC's sawtooth numbering).
public enum DBCByteOrder: String, Sendable, Equatable {
    case littleEndian = "intel"
    case bigEndian = "motorola"
}

/// How a signal's raw bits are interpreted (`SIG_VALTYPE_`).
public enum DBCValueType: String, Sendable, Equatable {
    case integer
    case float32
    case float64
}

/// A signal's place in multiplexing: `M` (switch), `mN` (present when the switch is N), `mNM` (both), and
/// extended multiplexing where `SG_MUL_VAL_` names the switch and value ranges.
public struct DBCMultiplexing: Sendable, Equatable {
    /// This signal is a multiplexer switch (`M` or `mNM`).
    public var isMultiplexer = false
    /// The switch this signal depends on, by short name; nil for signals always present.
    public var multiplexerSignal: String?
    /// Switch values for which this signal is present.
    public var multiplexerValues: [ClosedRange<UInt64>] = []

    public init(isMultiplexer: Bool = false, multiplexerSignal: String? = nil, multiplexerValues: [ClosedRange<UInt64>] = []) {
        self.isMultiplexer = isMultiplexer
        self.multiplexerSignal = multiplexerSignal
        self.multiplexerValues = multiplexerValues
    }
}

public struct DBCSignal: Sendable {
    public var name: String
    public var shortName: String
    public var startBit: Int
    public var length: Int
    public var byteOrder: DBCByteOrder
    public var isSigned: Bool
    public var valueType: DBCValueType = .integer
    public var factor: Double
    public var offset: Double
    public var minimum: Double
    public var maximum: Double
    public var unit: String
    public var receivers: [String]
    public var multiplexing = DBCMultiplexing()
    /// The mux marker as written (`M`, `m3`, `m3M`), for inspection.
    public var multiplexMarker: String?
    public var valueLabels = DBCValueLabels()
    public var comment: String?
    public var attributes: [String: DBCAttributeValue] = [:]
    /// `GenSigStartValue`: the raw value sent before any other is known.
    public var startValue: Double?
    /// Line of the `SG_` statement.
    public var line: Int

    /// Factor and offset are whole numbers and the signal is an integer: physical values are exact integers.
    public var hasIntegerScaling: Bool {
        valueType == .integer && factor.rounded() == factor && offset.rounded() == offset
            && abs(factor) < 9.2e18 && abs(offset) < 9.2e18
    }

    /// The value table's label for a physical value (the raw value it scales back to), nil when there is none.
    public func label(forPhysical value: Double) -> String? {
        guard !valueLabels.isEmpty, factor != 0 else { return nil }
        let raw = ((value - offset) / factor).rounded()
        guard raw.isFinite, abs(raw) < 1e18 else { return nil }
        return valueLabels[Int128(Int64(raw))]
    }

    /// Bit positions (0 = bit 0 of byte 0, counting LSB first within each byte) the signal occupies.
    public var occupiedBits: [Int] {
        switch byteOrder {
        case .littleEndian:
            return Array(startBit..<(startBit + length))
        case .bigEndian:
            var bits: [Int] = []
            var bit = startBit
            for _ in 0..<length {
                bits.append(bit)
                bit = bit % 8 == 0 ? bit + 15 : bit - 1
            }
            return bits
        }
    }
}

/// Labels for raw values (`VAL_`, `VAL_TABLE_`), in the order written, with lookup by value.
public struct DBCValueLabels: Sendable, Equatable {
    public private(set) var entries: [(value: Int128, label: String)] = []
    private var index: [Int128: Int] = [:]

    public init() {}

    public init(_ entries: [(Int128, String)]) {
        for (value, label) in entries { set(label, for: value) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public subscript(value: Int128) -> String? {
        index[value].map { entries[$0].label }
    }

    /// The value a label stands for, for encoding `Gear=P`.
    public func value(forLabel label: String) -> Int128? {
        entries.first { $0.label == label }?.value
    }

    public mutating func set(_ label: String, for value: Int128) {
        if let position = index[value] {
            entries[position].label = label
        } else {
            index[value] = entries.count
            entries.append((value, label))
        }
    }

    public static func == (lhs: DBCValueLabels, rhs: DBCValueLabels) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.value == $1.value && $0.label == $1.label }
    }
}

public struct DBCSignalGroup: Sendable, Equatable {
    public var name: String
    public var repetitions: Int
    public var signalNames: [String]
}

public struct DBCEnvironmentVariable: Sendable {
    public var name: String
    /// 0 integer, 1 float, 2 string (as written).
    public var type: Int
    public var minimum: Double
    public var maximum: Double
    public var unit: String
    public var initialValue: Double
    public var id: Int
    public var accessType: String
    public var accessNodes: [String]
    public var dataSize: Int?
    public var comment: String?
    public var valueLabels = DBCValueLabels()
    public var attributes: [String: DBCAttributeValue] = [:]
}

/// What kind of object an attribute applies to.
public enum DBCObjectKind: String, Sendable, Equatable {
    case database
    case node = "BU_"
    case message = "BO_"
    case signal = "SG_"
    case environmentVariable = "EV_"
    case nodeSignalRelation = "BU_SG_REL_"
    case nodeMessageRelation = "BU_BO_REL_"
    case nodeEnvironmentRelation = "BU_EV_REL_"
}

public enum DBCAttributeType: Sendable, Equatable {
    case integer(minimum: Int64, maximum: Int64)
    case hex(minimum: Int64, maximum: Int64)
    case float(minimum: Double, maximum: Double)
    case string
    case enumeration([String])
}

public struct DBCAttributeDefinition: Sendable, Equatable {
    public var name: String
    public var objectKind: DBCObjectKind
    public var type: DBCAttributeType
    public var defaultValue: DBCAttributeValue?
}

/// An attribute value; enumeration values are stored as their label.
public enum DBCAttributeValue: Sendable, Equatable, CustomStringConvertible {
    case integer(Int64)
    case float(Double)
    case string(String)

    public var description: String {
        switch self {
        case .integer(let value): String(value)
        case .float(let value): String(value)
        case .string(let value): value
        }
    }

    public var numericValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .float(let value): value
        case .string(let value): Double(value)
        }
    }
}

public struct DBCRelationAttribute: Sendable, Equatable {
    public var name: String
    public var kind: DBCObjectKind
    public var node: String
    /// The message's DBC id, for node–message and node–signal relations.
    public var messageID: UInt32?
    public var signal: String?
    public var environmentVariable: String?
    public var value: DBCAttributeValue
}

/// J1939 parameter group numbers.
public enum J1939 {
    /// The PGN in a 29-bit id: bits 8-25, without the destination address when the PDU format is below 240 (PDU1).
    @inlinable
    public static func pgn(ofID id: UInt32) -> UInt32 {
        let pgn = (id >> 8) & 0x3FFFF
        let pduFormat = (pgn >> 8) & 0xFF
        return pduFormat < 240 ? pgn & 0x3FF00 : pgn
    }

    /// Proprietary parameter groups (J1939-21: A 61184, A2 126720, B 65280-65535 and their data-page-1 twins): the
    /// manufacturer defines their content, so J1939-71's "error" and "not available" ranges do not apply.
    @inlinable
    public static func isProprietary(pgn: UInt32) -> Bool {
        let pageless = pgn & 0xFFFF
        return pageless == 0xEF00 || pageless >= 0xFF00
    }
}
