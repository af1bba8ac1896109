/// OBD-II on CAN (ISO 15765-4) addressing: the id a functional request goes to, the ids ECUs answer on, and the
/// physical id that reaches one ECU (where the tester's flow control for that ECU's long answers goes).
///
/// | | functional request | answers | physical request |
/// | --- | --- | --- | --- |
/// | 11-bit | 0x7DF | 0x7E8…0x7EF | answer − 8 (0x7E0…0x7E7) |
/// | 29-bit | 0x18DB33F1 | 0x18DAF1xx (xx: the ECU) | 0x18DAxxF1 |
public enum OBDAddressing: String, Sendable, CaseIterable {
    case standard = "11-bit"
    case extended = "29-bit"

    /// The tester's address in 29-bit ids (external test equipment).
    public static let testerAddress: UInt32 = 0xF1

    /// Where a request to every ECU at once goes.
    public var functionalRequestID: UInt32 {
        switch self {
        case .standard: 0x7DF
        case .extended: 0x18DB_33F1
        }
    }

    /// True when ids of this addressing are 29-bit.
    public var isExtended: Bool { self == .extended }

    /// The addressing an ECU's answer id belongs to; nil for an id no ECU answers a tester on.
    public static func of(answerID id: UInt32) -> OBDAddressing? {
        if (0x7E8...0x7EF).contains(id) { return .standard }
        if id & 0x1FFF_FF00 == 0x18DA_F100 { return .extended }
        return nil
    }

    /// The physical request id of the ECU that answers on `answerID`: 0x7E8 → 0x7E0, 0x18DAF110 → 0x18DA10F1.
    public static func physicalRequestID(forAnswerID id: UInt32) -> UInt32? {
        switch of(answerID: id) {
        case .standard: id - 8
        case .extended: 0x18DA_0000 | (id & 0xFF) << 8 | testerAddress
        case nil: nil
        }
    }

    /// True when `id` is an answer id of this addressing.
    public func isAnswerID(_ id: UInt32) -> Bool { Self.of(answerID: id) == self }
}
