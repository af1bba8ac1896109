import AxleBase

/// The agent's answer to a `diagnostic` request: what the ECU said (docs/control.md, "diagnostic").
///
/// `{"ecu":"engine","outcome":"positive","data":"4902013141…","pending":0,"seconds":0.012}`; a refusal carries
/// `"outcome":"negative","nrc":34,"nrc_name":"conditionsNotCorrect"`; `timeout` and `failed` carry `text`.
public struct DiagnosticReply: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// The positive answer, whole, in `data`.
        case positive
        /// A negative response (`7F <service> <code>`): `nrc` and `nrcName`.
        case negative
        /// No (final) answer in time: `text` says what was waited for.
        case timeout
        /// Not asked: an unknown ECU, no diagnostics service, too many waiting, the agent stopping; `text` says which.
        case failed
    }

    public var ecu: String
    public var outcome: Outcome
    /// The positive answer's bytes (service + 0x40 first); empty otherwise.
    public var data: [UInt8]
    public var nrc: UInt8?
    public var nrcName: String?
    public var text: String?
    /// How many "response pending" (NRC 0x78) answers came before the final one.
    public var pending: Int
    /// From the request's first frame to the answer's last.
    public var seconds: Double

    public init(
        ecu: String, outcome: Outcome, data: [UInt8] = [], nrc: UInt8? = nil, nrcName: String? = nil, text: String? = nil,
        pending: Int = 0, seconds: Double = 0
    ) {
        self.ecu = ecu
        self.outcome = outcome
        self.data = data
        self.nrc = nrc
        self.nrcName = nrcName
        self.text = text
        self.pending = pending
        self.seconds = seconds
    }

    /// Services that only read, which anyone who may open the socket can ask: OBD-II modes 01, 02, 03, 06, 07, 09 and
    /// 0A; UDS ReadDataByIdentifier (0x22), ReadDTCInformation (0x19) and TesterPresent (0x3E). Everything else
    /// (clearing codes, sessions, writing, routines, resets) is for root.
    public static let readOnlyServices: Set<UInt8> = [0x01, 0x02, 0x03, 0x06, 0x07, 0x09, 0x0A, 0x22, 0x19, 0x3E]

    public func toJSON() -> JSONValue {
        var members: [(String, JSONValue)] = [("ecu", .string(ecu)), ("outcome", .string(outcome.rawValue))]
        if outcome == .positive { members.append(("data", .string(Self.hex(data)))) }
        if let nrc { members.append(("nrc", .integer(Int128(nrc)))) }
        if let nrcName { members.append(("nrc_name", .string(nrcName))) }
        if let text { members.append(("text", .string(text))) }
        members.append(("pending", .integer(Int128(pending))))
        members.append(("seconds", .number(seconds)))
        return .object(members)
    }

    public init(json: JSONValue) throws(ControlDecodingError) {
        let reader = try JSONObjectReader(json)
        let outcomeText = try reader.string("outcome")
        guard let outcome = Outcome(rawValue: outcomeText) else {
            throw ControlDecodingError(field: "outcome", message: "unknown outcome '\(outcomeText)'")
        }
        let dataText = try reader.optionalString("data") ?? ""
        guard let data = Self.bytes(hex: dataText) else {
            throw ControlDecodingError(field: "data", message: "must be hex")
        }
        self.init(
            ecu: try reader.string("ecu"), outcome: outcome, data: data,
            nrc: try reader.optionalInteger("nrc", as: UInt8.self), nrcName: try reader.optionalString("nrc_name"),
            text: try reader.optionalString("text"), pending: try reader.optionalInteger("pending", as: Int.self) ?? 0,
            seconds: try reader.optionalDouble("seconds") ?? 0)
    }

    /// Upper-case hex without separators: `4902`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Bytes from hex digits (either case; spaces allowed between bytes); nil for anything else or an odd count.
    public static func bytes(hex text: String) -> [UInt8]? {
        let digits = text.utf8.filter { $0 != UInt8(ascii: " ") }
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for digit in digits {
            let value: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }
}
