/// A signal reduced to what decoding needs: where its bits are in a 64-bit window, how to widen and scale them.
public struct CompiledSignal: Sendable {
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

    /// Index of the message in `DBCDatabase.messages`, and of the signal in that message.
    public let databaseMessage: Int
    public let databaseSignal: Int
    public let name: String
    public let valueType: DBCValueType
    public let isSigned: Bool
    public let bitLength: Int
    public let factor: Double
    public let offset: Double
    public let scaling: Scaling
    public let hasLabels: Bool
    /// Frames shorter than this cannot hold the signal; it is left out of their results.
    public let requiredBytes: Int
    /// Slot (position within its message's compiled signals) of the switch this signal depends on, or -1.
    public let switchSlot: Int32
    /// Values of that switch for which this signal is present.
    public let switchValues: [ClosedRange<UInt64>]
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

    init(_ signal: DBCSignal, databaseMessage: Int, databaseSignal: Int, switchSlot: Int32, isReported: Bool) {
        self.databaseMessage = databaseMessage
        self.databaseSignal = databaseSignal
        self.name = signal.name
        self.valueType = signal.valueType
        self.isSigned = signal.isSigned
        self.bitLength = signal.length
        self.factor = signal.factor
        self.offset = signal.offset
        self.hasLabels = !signal.valueLabels.isEmpty
        self.switchSlot = switchSlot
        self.switchValues = signal.multiplexing.multiplexerValues
        self.isReported = isReported
        self.mask = signal.length >= 64 ? .max : (1 << UInt64(signal.length)) - 1
        self.productIsExactInDouble = signal.length <= 32 && abs(signal.factor) <= 1_048_576.0

        if signal.factor == 1 && signal.offset == 0 {
            scaling = .identity
        } else if signal.hasIntegerScaling {
            scaling = .integer
        } else if signal.factor.rounded() == signal.factor && abs(signal.factor) < 9.2e18 && signal.valueType == .integer {
            scaling = .integralFactor
        } else {
            scaling = .linear
        }

        switch signal.byteOrder {
        case .littleEndian:
            windowByte = signal.startBit / 8
            shift = signal.startBit % 8
            isBigEndian = false
            requiredBytes = (signal.startBit + signal.length + 7) / 8
        case .bigEndian:
            // Network bit numbering: bit 0 is the most significant bit of byte 0.
            let msb = (signal.startBit / 8) * 8 + (7 - signal.startBit % 8)
            let lsb = msb + signal.length - 1
            windowByte = msb / 8
            shift = 63 - (lsb - windowByte * 8)
            isBigEndian = true
            requiredBytes = lsb / 8 + 1
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
            if shift + bitLength > 64 {
                let next = UInt64(data.load(fromByteOffset: windowByte + 8, as: UInt8.self))
                raw = (raw | (next << UInt64(64 - shift))) & mask
            }
        }
        if isSigned && valueType == .integer && bitLength < 64 {
            let signBit: UInt64 = 1 << UInt64(bitLength - 1)
            raw = (raw ^ signBit) &- signBit
        }
        return raw
    }

    /// The physical value in double precision, computed the way cantools computes it.
    @inlinable
    @inline(__always)
    func physicalValue(_ raw: UInt64) -> Double {
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

    /// Whether a switch value selects this signal.
    @inlinable
    func isSelected(bySwitchValue raw: UInt64, switchSigned: Bool) -> Bool {
        if switchSigned && Int64(bitPattern: raw) < 0 { return false }
        for range in switchValues where range.contains(raw) { return true }
        return false
    }
}
