/// One UDS (ISO 14229) request and the wait for its answer from one ECU: a pure state machine, handed the ECU's
/// messages and the time. The ECU has P2 to answer; a negative answer 0x78 ("request correctly received, response
/// pending") means it needs longer, and each one extends the wait to P2* instead of failing, up to a limit.
public struct UDSExchange: Sendable {
    public struct Settings: Sendable {
        /// How long the ECU has to answer (P2; ECUs promise 50 ms, testers commonly allow 1 s).
        public var responseTimeout = 1.0
        /// How long after each "response pending" (P2*; commonly 5 s).
        public var pendingTimeout = 5.0
        /// At most this many "response pending" answers in a row before giving up.
        public var maximumPending = 20

        public init() {}
    }

    public enum Outcome: Sendable, Equatable {
        /// Still waiting, at the latest until this time.
        case waiting(deadline: Double)
        /// The positive answer (its first byte is the service + 0x40).
        case positive([UInt8])
        /// A negative answer other than "response pending".
        case negative(UDSNegativeResponse)
        /// No (final) answer in time.
        case timedOut(String)
    }

    public let request: [UInt8]
    public let settings: Settings
    private(set) public var outcome: Outcome
    /// How many "response pending" answers came so far.
    private(set) public var pendingCount = 0

    /// The exchange for `request`, sent at `now`.
    public init(request: [UInt8], sentAt now: Double, settings: Settings = Settings()) {
        precondition(!request.isEmpty, "a UDS request has a service byte")
        self.request = request
        self.settings = settings
        outcome = .waiting(deadline: now + settings.responseTimeout)
    }

    public var service: UInt8 { request[0] }

    public var isFinished: Bool {
        if case .waiting = outcome { false } else { true }
    }

    /// Feeds a message from the ECU; messages that answer another request are ignored.
    public mutating func receive(_ message: [UInt8], now: Double) {
        guard case .waiting = outcome, let first = message.first else { return }
        if first == 0x7F, message.count >= 3, message[1] == service {
            if message[2] == UDSNegativeResponse.responsePending {
                pendingCount += 1
                outcome = pendingCount > settings.maximumPending
                    ? .timedOut("the ECU answered \"response pending\" \(pendingCount) times in a row (at most \(settings.maximumPending))")
                    : .waiting(deadline: now + settings.pendingTimeout)
            } else {
                outcome = .negative(UDSNegativeResponse(service: service, code: message[2]))
            }
        } else if first == service &+ 0x40 {
            outcome = .positive(message)
        }
    }

    /// Ends the wait when its deadline has passed.
    public mutating func expire(now: Double) {
        guard case .waiting(let deadline) = outcome, now >= deadline else { return }
        let name = DiagnosticService.name(ofService: service) ?? "service 0x\(String(service, radix: 16, uppercase: true))"
        outcome = .timedOut(pendingCount == 0
            ? "no answer to \(name) within \(ISOTPReceiver.milliseconds(settings.responseTimeout)) ms"
            : "no answer to \(name) within \(ISOTPReceiver.milliseconds(settings.pendingTimeout)) ms after \"response pending\" (\(pendingCount) times)")
    }
}

/// A negative answer: the service refused and why.
public struct UDSNegativeResponse: Sendable, Equatable, CustomStringConvertible {
    /// 0x78: the ECU needs more time; not a refusal.
    public static let responsePending: UInt8 = 0x78

    public var service: UInt8
    public var code: UInt8

    public init(service: UInt8, code: UInt8) {
        self.service = service
        self.code = code
    }

    public var codeName: String { DiagnosticService.name(ofResponseCode: code) }

    public var description: String {
        let name = DiagnosticService.name(ofService: service) ?? "service 0x\(String(service, radix: 16, uppercase: true))"
        return "\(name) refused: \(codeName) (0x\(String(code, radix: 16, uppercase: true)))"
    }
}

/// UDS requests and what their positive answers hold.
public enum UDSMessage {
    /// 0x22 ReadDataByIdentifier for `identifiers` (DIDs such as 0xF190, the VIN).
    public static func readDataByIdentifier(_ identifiers: [UInt16]) -> [UInt8] {
        [0x22] + identifiers.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// 0x19 ReadDTCInformation, sub-function 0x02: the trouble codes whose status matches `statusMask`.
    public static func readDTCsByStatusMask(_ statusMask: UInt8) -> [UInt8] { [0x19, 0x02, statusMask] }

    /// 0x14 ClearDiagnosticInformation for every group of trouble codes.
    public static let clearAllDTCs: [UInt8] = [0x14, 0xFF, 0xFF, 0xFF]

    /// 0x3E TesterPresent; with `suppressAnswer` the ECU keeps quiet (sub-function bit 7).
    public static func testerPresent(suppressAnswer: Bool = true) -> [UInt8] { [0x3E, suppressAnswer ? 0x80 : 0x00] }

    /// 0x10 DiagnosticSessionControl: 1 default, 2 programming, 3 extended.
    public static func sessionControl(_ session: UInt8) -> [UInt8] { [0x10, session] }

    /// The data of `identifier` in a 0x62 answer to a single-DID request; nil when it is not that answer.
    public static func data(of identifier: UInt16, inAnswer message: [UInt8]) -> [UInt8]? {
        guard message.count >= 3, message[0] == 0x62, UInt16(message[1]) << 8 | UInt16(message[2]) == identifier else {
            return nil
        }
        return Array(message[3...])
    }

    /// A trouble code of a 0x59 0x02 answer: three bytes and a status byte.
    public struct TroubleCode: Sendable, Equatable {
        public var code: UInt32
        public var status: UInt8

        /// The status bits that are set, by their ISO 14229 names.
        public var statusNames: [String] {
            Self.statusBits.enumerated().compactMap { bit, name in status & (1 << bit) != 0 ? name : nil }
        }

        /// The code as OBD-style text when it is one (its top byte holds P/C/B/U and four digits): "P0217-00" with
        /// the failure type byte after the dash.
        public var text: String {
            OBDTroubleCode(raw: UInt16(code >> 8)).description + "-" + (code & 0xFF < 0x10 ? "0" : "")
                + String(code & 0xFF, radix: 16, uppercase: true)
        }

        static let statusBits = [
            "testFailed", "testFailedThisOperationCycle", "pendingDTC", "confirmedDTC",
            "testNotCompletedSinceLastClear", "testFailedSinceLastClear", "testNotCompletedThisOperationCycle",
            "warningIndicatorRequested",
        ]
    }

    /// The trouble codes of a 0x59 0x02 answer (`59 02 <availability mask> (<3 bytes> <status>)…`); nil for another
    /// message. A record cut short at the end is left out.
    public static func troubleCodes(inAnswer message: [UInt8]) -> [TroubleCode]? {
        guard message.count >= 3, message[0] == 0x59, message[1] == 0x02 else { return nil }
        var codes: [TroubleCode] = []
        var offset = 3
        while offset + 4 <= message.count {
            let code = UInt32(message[offset]) << 16 | UInt32(message[offset + 1]) << 8 | UInt32(message[offset + 2])
            codes.append(TroubleCode(code: code, status: message[offset + 3]))
            offset += 4
        }
        return codes
    }
}
