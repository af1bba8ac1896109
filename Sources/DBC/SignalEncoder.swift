import CANFrames

/// Builds frames from physical values: what the remote-command executor and `axle dbc encode` use.
public struct SignalEncoder: Sendable {
    public let database: DBCDatabase

    public init(database: DBCDatabase) {
        self.database = database
    }

    /// A value to encode: a physical number, or a `VAL_` label such as `P` for a gear signal.
    public enum Value: Sendable, Equatable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
        case number(Double)
        case label(String)

        public init(floatLiteral value: Double) { self = .number(value) }
        public init(integerLiteral value: Int) { self = .number(Double(value)) }

        /// `12.5` is a number; anything else is a label.
        public init(parsing text: String) {
            if let number = Double(text) { self = .number(number) } else { self = .label(text) }
        }
    }

    /// Encodes `values` (by signal name) into a frame of `messageName`.
    ///
    /// Physical values are converted with the signal's factor and offset and rounded to the nearest raw value (ties
    /// to even). Values outside the signal's [minimum, maximum] (when the DBC gives one) or its bit width are errors.
    /// Multiplexer switches are set automatically from the multiplexed signals given. Signals not given take their
    /// `GenSigStartValue`, or raw 0.
    public func encode(message messageName: String, values: [String: Value]) throws(EncodeError) -> CANFrame {
        guard let message = database.message(named: messageName) else {
            throw EncodeError(.unknownMessage, "unknown message \(messageName)", suggestions: database.messages.map(\.name))
        }
        var raws: [Int: UInt64] = [:]
        for (name, value) in values {
            guard let index = message.signals.firstIndex(where: { $0.name == name || $0.shortName == name }) else {
                throw EncodeError(.unknownSignal, "message \(message.name) has no signal \(name)", suggestions: message.signals.map(\.name))
            }
            raws[index] = try rawBits(for: value, signal: message.signals[index])
        }
        // Switches: a multiplexed signal that was given selects the first value of its switch's ranges.
        var changed = true
        while changed {
            changed = false
            for index in raws.keys.sorted() {
                let signal = message.signals[index]
                guard let switchName = signal.multiplexing.multiplexerSignal,
                    let switchIndex = message.signals.firstIndex(where: { $0.shortName == switchName }),
                    let required = signal.multiplexing.multiplexerValues.first?.lowerBound
                else { continue }
                if let current = raws[switchIndex] {
                    guard signal.multiplexing.multiplexerValues.contains(where: { $0.contains(current) }) else {
                        throw EncodeError(.multiplexConflict, "signal \(signal.name) needs \(switchName) to be one of \(Self.describe(signal.multiplexing.multiplexerValues)), but it is \(current)")
                    }
                } else {
                    raws[switchIndex] = required
                    changed = true
                }
            }
        }
        var payload = [UInt8](repeating: 0, count: max(message.size, 0))
        for (index, signal) in message.signals.enumerated() {
            if !isPresent(signal, in: message, raws: raws) { continue }
            var raw = raws[index]
            if raw == nil, let start = signal.startValue {
                raw = try? rawBits(forRaw: start, signal: signal)
            }
            Self.insert(raw ?? 0, signal: signal, into: &payload)
        }
        var frame = CANFrame(id: message.id, isExtended: message.isExtended, isFD: message.isFD, data: payload)
        if message.isFD { frame.fdFlags = CANFrame.fdFlagBRS }
        return frame
    }

    private func isPresent(_ signal: DBCSignal, in message: DBCMessage, raws: [Int: UInt64]) -> Bool {
        guard let switchName = signal.multiplexing.multiplexerSignal else { return true }
        guard let switchIndex = message.signals.firstIndex(where: { $0.shortName == switchName }),
            isPresent(message.signals[switchIndex], in: message, raws: raws)
        else { return false }
        let value = raws[switchIndex] ?? 0
        return signal.multiplexing.multiplexerValues.contains { $0.contains(value) }
    }

    private static func describe(_ ranges: [ClosedRange<UInt64>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
    }

    /// The raw bits for a physical value or a label.
    func rawBits(for value: Value, signal: DBCSignal) throws(EncodeError) -> UInt64 {
        switch value {
        case .label(let label):
            guard let raw = signal.valueLabels.value(forLabel: label) else {
                throw EncodeError(.unknownLabel, "signal \(signal.name) has no value labelled \"\(label)\"", suggestions: signal.valueLabels.entries.map(\.label))
            }
            return try rawBits(forRaw: Double(raw), signal: signal, exact: raw)
        case .number(let physical):
            guard physical.isFinite || signal.valueType != .integer else {
                throw EncodeError(.outOfRange, "value \(physical) for signal \(signal.name) is not a finite number")
            }
            if signal.minimum != 0 || signal.maximum != 0, physical < signal.minimum || physical > signal.maximum {
                throw EncodeError(.outOfRange, "value \(Self.format(physical)) for signal \(signal.name) is outside its range [\(Self.format(signal.minimum)), \(Self.format(signal.maximum))]\(signal.unit.isEmpty ? "" : " " + signal.unit)")
            }
            if signal.valueType != .integer {
                return try rawBits(forRaw: (physical - signal.offset) / signal.factor, signal: signal)
            }
            let raw = ((physical - signal.offset) / signal.factor).rounded(.toNearestOrEven)
            return try rawBits(forRaw: raw, signal: signal)
        }
    }

    /// Checks that a raw value fits the signal's bits and returns them.
    func rawBits(forRaw raw: Double, signal: DBCSignal, exact: Int128? = nil) throws(EncodeError) -> UInt64 {
        switch signal.valueType {
        case .float32: return UInt64(Float(raw).bitPattern)
        case .float64: return raw.bitPattern
        case .integer: break
        }
        let value: Int128
        if let exact {
            value = exact
        } else {
            guard raw.isFinite, abs(raw) < 1.8e19 else {
                throw EncodeError(.outOfRange, "raw value \(raw) does not fit the \(signal.length) bits of signal \(signal.name)")
            }
            value = Int128(raw.rounded(.toNearestOrEven))
        }
        let bits = Int128(signal.length)
        let low: Int128 = signal.isSigned ? -(Int128(1) << (bits - 1)) : 0
        let high: Int128 = signal.isSigned ? (Int128(1) << (bits - 1)) - 1 : (Int128(1) << bits) - 1
        guard value >= low, value <= high else {
            throw EncodeError(.outOfRange, "raw value \(value) does not fit the \(signal.length) bits of signal \(signal.name) (\(low)...\(high))")
        }
        return UInt64(truncatingIfNeeded: value)
    }

    /// Writes the low `signal.length` bits of `raw` at the signal's position (also used by the simulator to place
    /// checksums after the rest of a frame is built).
    public static func insert(_ raw: UInt64, signal: DBCSignal, into payload: inout [UInt8]) {
        let bits = signal.occupiedBits
        // Intel lists bits LSB first; Motorola MSB first.
        for (order, bit) in bits.enumerated() where bit >= 0 && bit / 8 < payload.count {
            let valueBit = signal.byteOrder == .littleEndian ? order : signal.length - 1 - order
            let set = (raw >> UInt64(valueBit)) & 1 == 1
            if set {
                payload[bit / 8] |= 1 << UInt8(bit % 8)
            } else {
                payload[bit / 8] &= ~(1 << UInt8(bit % 8))
            }
        }
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// Why a frame could not be encoded; `suggestions` lists valid names when a name was wrong.
public struct EncodeError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable {
        case unknownMessage
        case unknownSignal
        case unknownLabel
        case outOfRange
        case multiplexConflict
    }

    public var code: Code
    public var message: String
    public var suggestions: [String]

    init(_ code: Code, _ message: String, suggestions: [String] = []) {
        self.code = code
        self.message = message
        self.suggestions = suggestions
    }

    public var description: String {
        guard !suggestions.isEmpty else { return message }
        let shown = suggestions.prefix(12).joined(separator: ", ")
        return "\(message) (known: \(shown)\(suggestions.count > 12 ? ", …" : ""))"
    }
}
