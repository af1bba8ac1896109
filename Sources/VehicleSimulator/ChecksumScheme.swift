import DBC

/// How a message's checksum signal is computed from its payload (see docs/simulator.md).
///
/// Both schemes are computed over the whole payload with the checksum signal's own bits set to zero, so they do
/// not depend on where the checksum sits; the result is cut to the checksum signal's width.
public enum ChecksumScheme: String, Sendable, Equatable, Codable, CaseIterable {
    /// XOR of every 4-bit nibble of the payload (the demo sedan's `EngineChecksum`: bytes 0-6 and the counter).
    case xorNibbles = "xor-nibbles"
    /// Sum of the payload bytes modulo 256.
    case sumBytes8 = "sum-bytes-8"

    /// The checksum of `payload`, whose checksum bits must already be zero.
    public func checksum(of payload: [UInt8]) -> UInt64 {
        switch self {
        case .xorNibbles:
            return UInt64(payload.reduce(UInt8(0)) { $0 ^ ($1 & 0xF) ^ ($1 >> 4) })
        case .sumBytes8:
            return UInt64(payload.reduce(UInt8(0)) { $0 &+ $1 })
        }
    }

    /// Whether a signal is a checksum, by name: it contains `checksum`, `crc` or `chksum` (any case).
    public static func isChecksumSignal(named name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.contains("checksum") || lowered.contains("crc") || lowered.contains("chksum")
    }

    /// Whether a signal is a rolling counter, by name: it contains `counter` or `alive` (any case), or `Cnt` or
    /// `CNT` as written and not followed by `r` (`Cntrl` is a control).
    public static func isCounterSignal(named name: String) -> Bool {
        let lowered = name.lowercased()
        if lowered.contains("counter") || lowered.contains("alive") { return true }
        for marker in ["Cnt", "CNT"] {
            var rest = Substring(name)
            while let range = rest.firstRange(of: marker) {
                let next = rest[range.upperBound...].first
                if next != "r" && next != "R" { return true }
                rest = rest[range.upperBound...]
            }
        }
        return false
    }
}
