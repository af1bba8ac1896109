/// A compiled signal as callers see it: which DBC signal it is, its name, and how to read its raw bits.
///
/// The decode loop itself reads only `plan`, a trivially copyable struct: copying a struct that holds a `String`
/// or an array costs reference counting per signal per frame, which profiling showed to be most of the decode time.
public struct CompiledSignal: Sendable {
    /// Index of the message in `DBCDatabase.messages`, and of the signal in that message.
    public let databaseMessage: Int
    public let databaseSignal: Int
    public let name: String
    public let hasLabels: Bool
    /// Values of the switch this signal depends on for which it is present.
    public let switchValues: [ClosedRange<UInt64>]
    @usableFromInline let plan: SignalPlan

    public var valueType: DBCValueType { plan.valueType }
    public var isSigned: Bool { plan.isSigned }
    public var bitLength: Int { Int(plan.bitLength) }
    public var factor: Double { plan.factor }
    public var offset: Double { plan.offset }
    public var scaling: SignalPlan.Scaling { plan.scaling }
    /// Frames shorter than this cannot hold the signal; it is left out of their results.
    public var requiredBytes: Int { Int(plan.requiredBytes) }
    /// False for switches compiled only because a chosen signal depends on them.
    public var isReported: Bool { plan.isReported }

    init(
        _ signal: DBCSignal, databaseMessage: Int, databaseSignal: Int, switchSlot: Int32, isReported: Bool,
        hasJ1939Indicators: Bool = false
    ) {
        self.databaseMessage = databaseMessage
        self.databaseSignal = databaseSignal
        self.name = signal.name
        self.hasLabels = !signal.valueLabels.isEmpty
        self.switchValues = signal.multiplexing.multiplexerValues
        self.plan = SignalPlan(signal, switchSlot: switchSlot, isReported: isReported, hasJ1939Indicators: hasJ1939Indicators)
    }

    /// Whether a raw value (and its physical value) is a reading: see `SignalPlan.availability`.
    public func availability(raw: UInt64, value: Double) -> SignalAvailability { plan.availability(raw: raw, value: value) }

    /// Raw values from `indicators.lowerBound` on are J1939 indicators, not readings: error indicators up to
    /// `notAvailableFrom`, "not available" from there. Nil when the signal has none.
    public var j1939Indicators: (errorFrom: UInt64, notAvailableFrom: UInt64)? {
        plan.indicatorSpan == 0 ? nil : (plan.errorFrom, plan.notAvailableFrom)
    }

    /// Physical values outside this range are not readings; nil when the DBC gives no range (minimum ≥ maximum).
    public var readingRange: ClosedRange<Double>? {
        plan.lowestReading == -.infinity && plan.highestReading == .infinity ? nil : plan.lowestReading...plan.highestReading
    }

    /// The raw value as a number: integers exactly, floats as doubles.
    public func rawValue(_ raw: UInt64) -> Number { plan.rawValue(raw) }

    /// The physical value as cantools gives it: an exact integer when factor and offset are whole numbers (and the
    /// signal is an integer), else `raw × factor + offset` in double precision.
    public func physical(_ raw: UInt64) -> Number { plan.physical(raw) }

    /// A raw or physical value: an exact integer, or a double.
    public typealias Number = SignalPlan.Number
}

/// What decoding one signal needs, and nothing that is reference-counted.
public struct SignalPlan: Sendable {
    public enum Scaling: UInt8, Sendable {
        /// Factor 1, offset 0.
        case identity
        /// Whole-number factor and offset on an integer signal: physical values are exact integers.
        case integer
        /// Whole-number factor, fractional offset: the product is exact, the sum rounds once (as cantools does).
        case integralFactor
        /// `raw × factor + offset` in double precision.
        case linear
    }

    public let valueType: DBCValueType
    public let isSigned: Bool
    public let bitLength: Int16
    public let factor: Double
    public let offset: Double
    public let scaling: Scaling
    /// Frames shorter than this cannot hold the signal; it is left out of their results.
    public let requiredBytes: Int32
    /// Slot (position within its message's compiled signals) of the switch this signal depends on, or -1.
    public let switchSlot: Int32
    /// The switch value range that selects this signal (the first, when there are several; see `moreSwitchValues`).
    @usableFromInline let switchLow: UInt64
    @usableFromInline let switchHigh: UInt64
    /// The signal has further switch value ranges, kept in `CompiledSignal.switchValues`.
    @usableFromInline let moreSwitchValues: Bool
    /// False for switches compiled only because a chosen signal depends on them.
    public let isReported: Bool

    // Extraction: load 8 bytes at `windowByte` (little- or big-endian), shift right, mask. A signal whose bits
    // span 9 bytes (possible only when it is longer than 57 bits) also takes the bits of the 9th byte.
    @usableFromInline let windowByte: Int
    @usableFromInline let isBigEndian: Bool
    /// Right shift of the loaded word; negative when the signal reaches into the 9th byte.
    @usableFromInline let shift: Int
    @usableFromInline let mask: UInt64
    /// |raw × factor| stays below 2^53, so double arithmetic gives the exact product.
    @usableFromInline let productIsExactInDouble: Bool
    /// An integer signal whose physical value is `Double(raw) × factor + offset` exactly as cantools computes it:
    /// identity (× 1 + 0 changes nothing), linear, or a whole-number product small enough to be exact.
    @usableFromInline let integerInDouble: Bool
    /// A signed integer narrower than 64 bits: its sign bit is extended.
    @usableFromInline let signExtends: Bool

    // Values that are not readings (`availability`), decided by comparing the raw and physical values with these
    // bounds, fixed when compiling. J1939-71 reserves the top of an unsigned parameter's raw range: raw values in
    // errorFrom ..< errorFrom + indicatorSpan are indicators (0 span: the signal has none), error indicators below
    // `notAvailableFrom` and "not available" from it.
    @usableFromInline let errorFrom: UInt64
    @usableFromInline let notAvailableFrom: UInt64
    @usableFromInline let indicatorSpan: UInt64
    /// The DBC's [minimum|maximum] widened by half a raw step (DBC files print limits rounded: J1939's 250.99609375
    /// km/h appears as 250.996), or ±infinity when the DBC gives no range (minimum ≥ maximum, such as [0|0]).
    @usableFromInline let lowestReading: Double
    @usableFromInline let highestReading: Double

    init(_ signal: DBCSignal, switchSlot: Int32, isReported: Bool, hasJ1939Indicators: Bool = false) {
        self.valueType = signal.valueType
        self.isSigned = signal.isSigned
        self.bitLength = Int16(signal.length)
        self.factor = signal.factor
        self.offset = signal.offset
        self.switchSlot = switchSlot
        let ranges = signal.multiplexing.multiplexerValues
        self.switchLow = ranges.first?.lowerBound ?? 1
        self.switchHigh = ranges.first?.upperBound ?? 0
        self.moreSwitchValues = ranges.count > 1
        self.isReported = isReported
        self.mask = signal.length >= 64 ? .max : (1 << UInt64(signal.length)) - 1
        self.productIsExactInDouble = signal.length <= 32 && abs(signal.factor) <= 1_048_576.0
        self.signExtends = signal.isSigned && signal.valueType == .integer && signal.length < 64

        if signal.factor == 1 && signal.offset == 0 {
            scaling = .identity
        } else if signal.hasIntegerScaling {
            scaling = .integer
        } else if signal.factor.rounded() == signal.factor && abs(signal.factor) < 9.2e18 && signal.valueType == .integer {
            scaling = .integralFactor
        } else {
            scaling = .linear
        }

        integerInDouble = signal.valueType == .integer && (scaling == .identity || scaling == .linear || productIsExactInDouble)

        // SAE J1939-71: 1-, 2- and 4-byte parameters have their error indicators at 0xFE, 0xFExx, 0xFExxxxxx and
        // "not available" at 0xFF, 0xFFxx, 0xFFxxxxxx; 2-bit states are 10 (error) and 11 (not available). Other
        // lengths (counters, 3- and 4-bit fields) are left to the DBC range.
        if hasJ1939Indicators, signal.valueType == .integer, !signal.isSigned, signal.length == 2 {
            (errorFrom, notAvailableFrom, indicatorSpan) = (0b10, 0b11, 2)
        } else if hasJ1939Indicators, signal.valueType == .integer, !signal.isSigned, [8, 16, 32].contains(signal.length) {
            // The top byte decides: 0xFE error, 0xFF not available, whatever the bytes below it hold.
            let lowBits = UInt64(signal.length - 8)
            (errorFrom, notAvailableFrom, indicatorSpan) = (0xFE << lowBits, 0xFF << lowBits, 2 << lowBits)
        } else {
            (errorFrom, notAvailableFrom, indicatorSpan) = (0, 0, 0)
        }
        if signal.minimum < signal.maximum {
            let halfStep = signal.valueType == .integer ? abs(signal.factor) / 2 : 0
            lowestReading = signal.minimum - halfStep
            highestReading = signal.maximum + halfStep
        } else {
            lowestReading = -.infinity
            highestReading = .infinity
        }
        switch signal.byteOrder {
        case .littleEndian:
            windowByte = signal.startBit / 8
            shift = signal.startBit % 8
            isBigEndian = false
            requiredBytes = Int32((signal.startBit + signal.length + 7) / 8)
        case .bigEndian:
            // Network bit numbering: bit 0 is the most significant bit of byte 0.
            let msb = (signal.startBit / 8) * 8 + (7 - signal.startBit % 8)
            let lsb = msb + signal.length - 1
            windowByte = msb / 8
            shift = 63 - (lsb - windowByte * 8)
            isBigEndian = true
            requiredBytes = Int32(lsb / 8 + 1)
        }
    }

    /// The raw bits from a padded payload (see `PaddedPayload`): sign-extended for signed integers.
    @inlinable
    @inline(__always)
    func extractRaw(from data: UnsafeRawPointer) -> UInt64 {
        let word = data.loadUnaligned(fromByteOffset: windowByte, as: UInt64.self)
        var raw: UInt64
        if isBigEndian {
            let bigEndian = UInt64(bigEndian: word)
            if shift >= 0 {
                raw = (bigEndian >> UInt64(shift)) & mask
            } else {
                let next = UInt64(data.load(fromByteOffset: windowByte + 8, as: UInt8.self))
                raw = ((bigEndian << UInt64(-shift)) | (next >> UInt64(8 + shift))) & mask
            }
        } else {
            let littleEndian = UInt64(littleEndian: word)
            raw = (littleEndian >> UInt64(shift)) & mask
            if shift + Int(bitLength) > 64 {
                let next = UInt64(data.load(fromByteOffset: windowByte + 8, as: UInt8.self))
                raw = (raw | (next << UInt64(64 - shift))) & mask
            }
        }
        if signExtends {
            let signBit: UInt64 = 1 << UInt64(bitLength - 1)
            raw = (raw ^ signBit) &- signBit
        }
        return raw
    }

    /// The physical value in double precision, computed the way cantools computes it.
    @inlinable
    @inline(__always)
    func physicalValue(_ raw: UInt64) -> Double {
        // The common case in one branch: an integer whose double arithmetic is exact or is what cantools does.
        if integerInDouble {
            return (isSigned ? Double(Int64(bitPattern: raw)) : Double(raw)) * factor + offset
        }
        let rawValue: Double
        switch valueType {
        case .integer: rawValue = isSigned ? Double(Int64(bitPattern: raw)) : Double(raw)
        case .float32: rawValue = Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw)))
        case .float64: rawValue = Double(bitPattern: raw)
        }
        switch scaling {
        case .identity: return rawValue
        case .linear: return rawValue * factor + offset
        case .integer, .integralFactor:
            // Small enough that the double product is exact: the same result as the exact integer path, faster.
            return productIsExactInDouble ? rawValue * factor + offset : exactProductPlusOffset(raw)
        }
    }

    /// Whether a value is a reading: J1939 indicators by raw value, then the DBC range by physical value (a NaN is
    /// left to the reader). Two or three comparisons; nothing here depends on the frame but the value.
    @inlinable
    @inline(__always)
    func availability(raw: UInt64, value: Double) -> SignalAvailability {
        // Wrapping subtraction: raw values below `errorFrom` become huge, so one comparison checks the whole band.
        if raw &- errorFrom < indicatorSpan { return raw >= notAvailableFrom ? .notAvailable : .error }
        return value < lowestReading || value > highestReading ? .notAvailable : .valid
    }

    @usableFromInline
    func exactProductPlusOffset(_ raw: UInt64) -> Double {
        switch physical(raw) {
        case .integer(let value): Double(value)
        case .float(let value): value
        }
    }

    /// A raw or physical value: an exact integer, or a double.
    public enum Number: Sendable, Equatable {
        case integer(Int128)
        case float(Double)
    }

    /// The raw value as a number: integers exactly, floats as doubles.
    public func rawValue(_ raw: UInt64) -> Number {
        switch valueType {
        case .integer: isSigned ? .integer(Int128(Int64(bitPattern: raw))) : .integer(Int128(raw))
        case .float32: .float(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))))
        case .float64: .float(Double(bitPattern: raw))
        }
    }

    /// The physical value as cantools gives it: an exact integer when factor and offset are whole numbers (and the
    /// signal is an integer), else `raw × factor + offset` in double precision.
    public func physical(_ raw: UInt64) -> Number {
        let rawNumber = rawValue(raw)
        guard case .integer(let integer) = rawNumber else {
            guard case .float(let value) = rawNumber else { return rawNumber }
            return scaling == .identity ? rawNumber : .float(value * factor + offset)
        }
        switch scaling {
        case .identity:
            return rawNumber
        case .integer:
            let (product, overflow) = integer.multipliedReportingOverflow(by: Int128(factor))
            let (sum, overflow2) = product.addingReportingOverflow(Int128(offset))
            if !overflow && !overflow2 { return .integer(sum) }
            return .float(Double(integer) * factor + offset)
        case .integralFactor:
            let (product, overflow) = integer.multipliedReportingOverflow(by: Int128(factor))
            return .float((overflow ? Double(integer) * factor : Double(product)) + offset)
        case .linear:
            return .float(Double(integer) * factor + offset)
        }
    }

    /// Whether a switch value selects this signal, judged by the first value range; `moreSwitchValues` tells the
    /// caller to consult the full list.
    @inlinable
    func firstRangeSelects(switchValue raw: UInt64, switchSigned: Bool) -> Bool {
        if switchSigned && Int64(bitPattern: raw) < 0 { return false }
        return raw >= switchLow && raw <= switchHigh
    }
}
