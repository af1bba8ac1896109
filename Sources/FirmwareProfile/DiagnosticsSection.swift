import Diagnostics

/// The profile's `[diagnostics]`: the ECUs the agent asks (OBD-II or UDS over ISO-TP), the parameters it polls from
/// them as catalog signals, fault-code polling, J1939 DM1 listening, the bus-load budget and the signal that says the
/// vehicle is awake (docs/profiles.md, "Diagnostics"; docs/diagnostics.md).
public struct DiagnosticsConfiguration: Sendable, Equatable {
    public var ecus: [DiagnosticECU]
    /// Polled parameters, in file order; each is also a catalog entry of the same name.
    public var parameters: [DiagnosticParameter]
    /// The catalog signal that says the ignition is on (or the engine runs): polling runs only while its value is
    /// known, fresh and not 0, so that a parked car's ECUs are not kept awake. nil: poll whenever the agent runs.
    public var ignition: String?
    /// The most CAN frames per second diagnostics may put on (and draw from) one bus, requests and answers together.
    public var framesPerSecond: Double
    /// How the budget was written, for people: "1% of 500 kbit/s" or "40 frames/s".
    public var budgetText: String
    /// J1939 DM1 listening; nil: none.
    public var dm1: DM1Listening?
    public var line: Int

    /// 1 % of a 500 kbit/s bus.
    public static let defaultBudgetPercent = 1.0
    public static let defaultBitrate = 500_000
    /// A classic CAN frame with 8 data bytes and an 11-bit id is 111 bits before bit stuffing and at most 135 after
    /// it: budgets given as a share of the bitrate count 135 bits a frame, the worst case.
    public static let bitsPerFrame = 135.0

    public init(
        ecus: [DiagnosticECU], parameters: [DiagnosticParameter], ignition: String?, framesPerSecond: Double,
        budgetText: String, dm1: DM1Listening?, line: Int
    ) {
        self.ecus = ecus
        self.parameters = parameters
        self.ignition = ignition
        self.framesPerSecond = framesPerSecond
        self.budgetText = budgetText
        self.dm1 = dm1
        self.line = line
    }

    public func ecu(named name: String) -> DiagnosticECU? { ecus.first { $0.name == name } }
}

/// One ECU the agent asks: its ISO-TP addressing (normal addressing, 11- or 29-bit), its protocol and how it wants
/// frames padded, and how often its fault codes are read.
public struct DiagnosticECU: Sendable, Equatable {
    public enum DiagnosticProtocol: String, Sendable, Equatable, CaseIterable {
        /// SAE J1979: mode 01 parameters (PIDs), modes 03/07 fault codes, mode 01 PID 01 for the MIL.
        case obd
        /// ISO 14229: 0x22 ReadDataByIdentifier (DIDs), 0x19 0x02 fault codes by status mask.
        case uds
    }

    /// How the ECU's fault codes are read, and how often.
    public struct FaultPolling: Sendable, Equatable {
        public var intervalSeconds: Double
        /// OBD-II: mode 07 (pending codes) as well as mode 03 (stored, confirmed codes).
        public var includePending: Bool
        /// UDS: the status mask of 0x19 0x02 (0x08, confirmed, by default).
        public var statusMask: UInt8

        public init(intervalSeconds: Double, includePending: Bool, statusMask: UInt8) {
            self.intervalSeconds = intervalSeconds
            self.includePending = includePending
            self.statusMask = statusMask
        }
    }

    /// `[diagnostics.ecus.NAME]`: lowercase, the name remote commands and `axle diag` use.
    public var name: String
    /// The logical bus it is on (its interface comes from the agent configuration).
    public var bus: String
    public var requestID: UInt32
    public var responseID: UInt32
    /// 29-bit ids.
    public var isExtended: Bool
    public var diagnosticProtocol: DiagnosticProtocol
    /// The byte frames are padded to 8 bytes with; nil: frames as short as their content.
    public var padding: UInt8?
    /// P2: how long the ECU has to answer (NRC 0x78 "response pending" extends it to 5 s each time).
    public var responseTimeoutSeconds: Double
    public var faults: FaultPolling?
    public var line: Int

    public init(
        name: String, bus: String, requestID: UInt32, responseID: UInt32, isExtended: Bool,
        diagnosticProtocol: DiagnosticProtocol, padding: UInt8?, responseTimeoutSeconds: Double, faults: FaultPolling?,
        line: Int
    ) {
        self.name = name
        self.bus = bus
        self.requestID = requestID
        self.responseID = responseID
        self.isExtended = isExtended
        self.diagnosticProtocol = diagnosticProtocol
        self.padding = padding
        self.responseTimeoutSeconds = responseTimeoutSeconds
        self.faults = faults
        self.line = line
    }
}

/// A value the agent asks an ECU for, published as the catalog signal `name`.
public struct DiagnosticParameter: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// An OBD-II mode 01 PID, decoded by the standard's formula (`OBDParameter.standard`).
        case pid(UInt8)
        /// A UDS data identifier: `length` bytes from byte `start` of the DID's data, big-endian (as UDS sends them)
        /// unless `littleEndian`, two's complement when `signed`, then `raw × factor + offset`.
        case did(UInt16, DataLayout)
    }

    /// Where a DID's value sits in its data and how it scales.
    public struct DataLayout: Sendable, Equatable {
        public var start: Int
        public var length: Int
        public var signed: Bool
        public var littleEndian: Bool
        public var factor: Double
        public var offset: Double

        public init(start: Int, length: Int, signed: Bool, littleEndian: Bool, factor: Double, offset: Double) {
            self.start = start
            self.length = length
            self.signed = signed
            self.littleEndian = littleEndian
            self.factor = factor
            self.offset = offset
        }

        /// The value in `data` (the bytes after the DID in a 0x62 answer); nil when the data is too short.
        public func value(in data: [UInt8]) -> Double? {
            guard start >= 0, length >= 1, length <= 8, start + length <= data.count else { return nil }
            let bytes = data[start..<(start + length)]
            var raw: UInt64 = 0
            for byte in littleEndian ? Array(bytes.reversed()) : Array(bytes) { raw = raw << 8 | UInt64(byte) }
            var number = Double(raw)
            if signed, length < 8, raw & (1 << (UInt64(length) * 8 - 1)) != 0 {
                number -= Double(UInt64(1) << (UInt64(length) * 8))
            } else if signed, length == 8 {
                number = Double(Int64(bitPattern: raw))
            }
            return number * factor + offset
        }
    }

    /// The catalog (VSS) name.
    public var name: String
    /// The ECU's name in `[diagnostics.ecus]`.
    public var ecu: String
    public var source: Source
    public var unit: String
    public var intervalSeconds: Double
    public var line: Int

    public init(name: String, ecu: String, source: Source, unit: String, intervalSeconds: Double, line: Int) {
        self.name = name
        self.ecu = ecu
        self.source = source
        self.unit = unit
        self.intervalSeconds = intervalSeconds
        self.line = line
    }

    /// "OBD PID 0x05 (coolant_temperature)" or "UDS DID 0xF40D".
    public var sourceText: String {
        switch source {
        case .pid(let pid):
            "OBD PID 0x\(DiagnosticsHex.byte(pid))" + (OBDParameter.standard[pid].map { " (\($0.name))" } ?? "")
        case .did(let did, _):
            "UDS DID 0x\(DiagnosticsHex.word(did))"
        }
    }
}

/// J1939 DM1 (active faults) heard on a bus: single-frame DM1 and DM1 by the transport protocol (BAM).
public struct DM1Listening: Sendable, Equatable {
    public var bus: String
    /// A node whose DM1 stops for this long has no active faults any more (DM1 is sent every second while a fault is
    /// active; many nodes stop sending it when none is).
    public var silenceSeconds: Double
    public var line: Int

    public init(bus: String, silenceSeconds: Double, line: Int) {
        self.bus = bus
        self.silenceSeconds = silenceSeconds
        self.line = line
    }
}

/// Upper-case hex without a prefix, zero-padded.
public enum DiagnosticsHex {
    public static func byte(_ value: UInt8) -> String { padded(UInt64(value), 2) }
    public static func word(_ value: UInt16) -> String { padded(UInt64(value), 4) }
    public static func id(_ value: UInt32, extended: Bool) -> String { padded(UInt64(value), extended ? 8 : 3) }

    static func padded(_ value: UInt64, _ width: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
