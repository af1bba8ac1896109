/// What an ISO-TP message is: an OBD-II (SAE J1979) or UDS (ISO 14229) request, its positive answer, or a negative
/// answer, named for people and scripts.
public struct DiagnosticService: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case obdRequest = "obd.request"
        case obdResponse = "obd.response"
        case udsRequest = "uds.request"
        case udsResponse = "uds.response"
        case negativeResponse = "negative_response"
        case unknown
    }

    public var kind: Kind
    /// The request's service (for answers, the service answered: the first byte − 0x40, or byte 1 of 7F SID NRC).
    public var service: UInt8?
    /// The service's name: "ReadDataByIdentifier", "show current data" (OBD-II mode 01)...
    public var name: String?
    /// For negative answers: the response code and its name.
    public var responseCode: UInt8?
    public var responseCodeName: String?

    /// Classifies a reassembled message by its first byte(s).
    public init(message: [UInt8]) {
        kind = .unknown
        guard let first = message.first else { return }
        switch first {
        case 0x7F:
            kind = .negativeResponse
            if message.count >= 2 {
                service = message[1]
                name = Self.name(ofService: message[1])
            }
            if message.count >= 3 {
                responseCode = message[2]
                responseCodeName = Self.name(ofResponseCode: message[2])
            }
        case 0x01...0x0A:
            kind = .obdRequest
            service = first
            name = Self.obdModes[Int(first)]
        case 0x41...0x4A:
            kind = .obdResponse
            service = first - 0x40
            name = Self.obdModes[Int(first - 0x40)]
        case 0x10...0x3E, 0x83...0x88:
            kind = .udsRequest
            service = first
            name = Self.udsServices[first]
        case 0x50...0x7E, 0xC3...0xC8:
            kind = .udsResponse
            service = first - 0x40
            name = Self.udsServices[first - 0x40]
        default:
            break
        }
    }

    static let obdModes: [Int: String] = [
        0x01: "show current data", 0x02: "show freeze frame data", 0x03: "show stored trouble codes",
        0x04: "clear trouble codes", 0x05: "oxygen sensor monitoring", 0x06: "on-board monitoring results",
        0x07: "show pending trouble codes", 0x08: "control of on-board systems", 0x09: "request vehicle information",
        0x0A: "show permanent trouble codes",
    ]

    static let udsServices: [UInt8: String] = [
        0x10: "DiagnosticSessionControl", 0x11: "ECUReset", 0x14: "ClearDiagnosticInformation",
        0x19: "ReadDTCInformation", 0x21: "ReadDataByLocalIdentifier", 0x22: "ReadDataByIdentifier",
        0x23: "ReadMemoryByAddress", 0x24: "ReadScalingDataByIdentifier", 0x27: "SecurityAccess",
        0x28: "CommunicationControl", 0x29: "Authentication", 0x2A: "ReadDataByPeriodicIdentifier",
        0x2C: "DynamicallyDefineDataIdentifier", 0x2E: "WriteDataByIdentifier", 0x2F: "InputOutputControlByIdentifier",
        0x31: "RoutineControl", 0x34: "RequestDownload", 0x35: "RequestUpload", 0x36: "TransferData",
        0x37: "RequestTransferExit", 0x38: "RequestFileTransfer", 0x3D: "WriteMemoryByAddress", 0x3E: "TesterPresent",
        0x83: "AccessTimingParameter", 0x84: "SecuredDataTransmission", 0x85: "ControlDTCSetting",
        0x86: "ResponseOnEvent", 0x87: "LinkControl",
    ]

    /// A service by its request id, OBD-II modes included.
    public static func name(ofService service: UInt8) -> String? {
        service <= 0x0A ? obdModes[Int(service)] : udsServices[service]
    }

    /// ISO 14229-1's negative response codes.
    public static func name(ofResponseCode code: UInt8) -> String {
        switch code {
        case 0x10: "generalReject"
        case 0x11: "serviceNotSupported"
        case 0x12: "subFunctionNotSupported"
        case 0x13: "incorrectMessageLengthOrInvalidFormat"
        case 0x14: "responseTooLong"
        case 0x21: "busyRepeatRequest"
        case 0x22: "conditionsNotCorrect"
        case 0x24: "requestSequenceError"
        case 0x25: "noResponseFromSubnetComponent"
        case 0x26: "failurePreventsExecutionOfRequestedAction"
        case 0x31: "requestOutOfRange"
        case 0x33: "securityAccessDenied"
        case 0x34: "authenticationRequired"
        case 0x35: "invalidKey"
        case 0x36: "exceedNumberOfAttempts"
        case 0x37: "requiredTimeDelayNotExpired"
        case 0x70: "uploadDownloadNotAccepted"
        case 0x71: "transferDataSuspended"
        case 0x72: "generalProgrammingFailure"
        case 0x73: "wrongBlockSequenceCounter"
        case 0x78: "requestCorrectlyReceivedResponsePending"
        case 0x7E: "subFunctionNotSupportedInActiveSession"
        case 0x7F: "serviceNotSupportedInActiveSession"
        case 0x81: "rpmTooHigh"
        case 0x82: "rpmTooLow"
        case 0x83: "engineIsRunning"
        case 0x84: "engineIsNotRunning"
        case 0x85: "engineRunTimeTooLow"
        case 0x86: "temperatureTooHigh"
        case 0x87: "temperatureTooLow"
        case 0x88: "vehicleSpeedTooHigh"
        case 0x89: "vehicleSpeedTooLow"
        case 0x8A: "throttlePedalTooHigh"
        case 0x8B: "throttlePedalTooLow"
        case 0x8C: "transmissionRangeNotInNeutral"
        case 0x8D: "transmissionRangeNotInGear"
        case 0x8F: "brakeSwitchesNotClosed"
        case 0x90: "shifterLeverNotInPark"
        case 0x91: "torqueConverterClutchLocked"
        case 0x92: "voltageTooHigh"
        case 0x93: "voltageTooLow"
        default: "reserved (0x\(code < 0x10 ? "0" : "")\(String(code, radix: 16, uppercase: true)))"
        }
    }
}

/// An OBD-II trouble code as people write it: P0217, C0035, B1000, U0100.
public struct OBDTroubleCode: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The two bytes of the code as the ECU sends them.
    public var raw: UInt16

    public init(raw: UInt16) { self.raw = raw }

    public var description: String {
        let system = ["P", "C", "B", "U"][Int(raw >> 14)]
        let digits = String(raw & 0x3FFF, radix: 16, uppercase: true)
        return system + String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// The codes of a mode 03, 07 or 0A answer (`43 <count> <two bytes per code>` on CAN); nil for another message.
    /// "No code" (0x0000) entries are left out.
    public static func codes(inAnswer message: [UInt8]) -> [OBDTroubleCode]? {
        guard let first = message.first, [0x43, 0x47, 0x4A].contains(first), message.count >= 2 else { return nil }
        var codes: [OBDTroubleCode] = []
        var offset = 2
        while offset + 2 <= message.count {
            let raw = UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
            if raw != 0 { codes.append(OBDTroubleCode(raw: raw)) }
            offset += 2
        }
        return codes
    }
}
