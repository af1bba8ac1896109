/// A signal as the payload names and scales it: its raw integers become values as `raw × factor + offset`.
public struct SignalDescription: Sendable, Hashable {
    /// A VSS path ("Vehicle.Speed") or a DBC "Message.Signal" name.
    public var name: String
    /// The physical unit ("km/h"); empty when the signal has none.
    public var unit: String
    /// The DBC scaling: value = raw × factor + offset.
    public var factor: Double
    public var offset: Double

    /// A signal with the DBC scaling of its raw values (factor 1, offset 0 for signals that are plain numbers).
    public init(name: String, unit: String = "", factor: Double = 1, offset: Double = 0) {
        self.name = name
        self.unit = unit
        self.factor = factor
        self.offset = offset
    }

    /// The physical value of a raw integer: the one formula the encoder, the decoder and the Python example share.
    @inline(__always)
    public func value(raw: Int64) -> Double {
        Double(raw) * factor + offset
    }

    /// The raw integer that gives exactly `value` back (bit for bit), if there is one; nil for NaN, infinities, and
    /// values between the signal's steps. Lets float appends of quantized values use the compact integer column.
    @inline(__always)
    public func exactRaw(of value: Double) -> Int64? {
        guard factor != 0, factor.isFinite, offset.isFinite else { return nil }
        let scaled = ((value - offset) / factor).rounded()
        // Within ±2^53 every integer is a Double, so the conversion and the check below are exact.
        guard scaled.magnitude <= 9_007_199_254_740_992 else { return nil }
        let raw = Int64(scaled)
        return self.value(raw: raw).bitPattern == value.bitPattern ? raw : nil
    }
}

/// How a batch is written on the wire.
public enum PayloadFormat: Sendable, Hashable {
    /// Protobuf compressed with zstd: the default, and what vehicles send.
    case protobufZstd
    /// Protobuf without compression.
    case protobuf
    /// The protobuf JSON mapping of the same message, for reading by eye while debugging.
    case json
}

/// What a value that is not a reading meant (the schema's `NotReading`): a marker in a series where a sample would
/// have been (docs/payload.md, "Values that are not readings").
public enum NotReadingKind: UInt8, Sendable, Equatable {
    /// The sender has no value (J1939's "not available"), or the value lies outside the DBC signal's range.
    case notAvailable = 1
    /// The sender reports a fault in place of a value (J1939's "error indicator").
    case error = 2

    /// As JSON lines and the control socket spell it: `not_available`, `error`.
    public var name: String {
        switch self {
        case .notAvailable: "not_available"
        case .error: "error"
        }
    }
}
