import AxleBase

/// The diagnostics service as `axle status` shows it: whether it polls (the ignition), the frames it spent against its
/// budget, and per ECU the requests, answers, refusals and timeouts counted, the active fault codes and the MIL.
/// Absent from a status report when no diagnostics service runs.
public struct DiagnosticsReport: Sendable, Equatable {
    public struct ECU: Sendable, Equatable {
        public var name: String
        public var requests: Int
        public var answers: Int
        /// Negative answers (not counting "response pending").
        public var refusals: Int
        public var timeouts: Int
        /// Consecutive requests without an answer (the ECU is backed off meanwhile).
        public var silent: Int
        public var faults: [String]
        /// "on", "off", or nil before the first fault poll.
        public var mil: String?
        public var lastProblem: String?
        /// Where the ECU is, so that `axle diag` can tell that the agent talks to it: the operating system's interface
        /// of its bus, the ids it is asked on and answers on, and `obd` or `uds`. nil from an agent that does not say.
        public var interface: String?
        public var requestID: UInt32?
        public var responseID: UInt32?
        public var protocolName: String?

        public init(
            name: String, requests: Int, answers: Int, refusals: Int, timeouts: Int, silent: Int, faults: [String],
            mil: String?, lastProblem: String?
        ) {
            self.name = name
            self.requests = requests
            self.answers = answers
            self.refusals = refusals
            self.timeouts = timeouts
            self.silent = silent
            self.faults = faults
            self.mil = mil
            self.lastProblem = lastProblem
        }
    }

    /// False while the ignition signal says the vehicle is off: nothing is polled.
    public var polling: Bool
    public var frames: Int
    public var budgetFramesPerSecond: Double
    public var ecus: [ECU]
    /// J1939 nodes with active DM1 faults, "j1939 node 0: SPN 110 FMI 0".
    public var dm1: [String]

    public init(polling: Bool, frames: Int, budgetFramesPerSecond: Double, ecus: [ECU], dm1: [String]) {
        self.polling = polling
        self.frames = frames
        self.budgetFramesPerSecond = budgetFramesPerSecond
        self.ecus = ecus
        self.dm1 = dm1
    }

    public func toJSON() -> JSONValue {
        .object([
            ("polling", .bool(polling)), ("frames", .count(frames)), ("budget_frames_per_s", .number(budgetFramesPerSecond)),
            ("ecus", .array(ecus.map { ecu in
                .object([
                    ("name", .string(ecu.name)), ("requests", .count(ecu.requests)), ("answers", .count(ecu.answers)),
                    ("refusals", .count(ecu.refusals)), ("timeouts", .count(ecu.timeouts)), ("silent", .count(ecu.silent)),
                    ("faults", .array(ecu.faults.map { .string($0) })), ("mil", ecu.mil.map { .string($0) } ?? .null),
                    ("last_problem", ecu.lastProblem.map { .string($0) } ?? .null),
                    ("interface", ecu.interface.map { .string($0) } ?? .null),
                    ("request_id", ecu.requestID.map { .count(Int($0)) } ?? .null),
                    ("response_id", ecu.responseID.map { .count(Int($0)) } ?? .null),
                    ("protocol", ecu.protocolName.map { .string($0) } ?? .null),
                ])
            })),
            ("dm1", .array(dm1.map { .string($0) })),
        ])
    }

    init(reader: JSONObjectReader) throws(ControlDecodingError) {
        self.init(
            polling: try reader.bool("polling"), frames: try reader.integer("frames"),
            budgetFramesPerSecond: try reader.double("budget_frames_per_s"),
            ecus: try reader.objects("ecus") { (ecu: JSONObjectReader) throws(ControlDecodingError) -> ECU in
                var entry = ECU(
                    name: try ecu.string("name"), requests: try ecu.integer("requests"), answers: try ecu.integer("answers"),
                    refusals: try ecu.integer("refusals"), timeouts: try ecu.integer("timeouts"), silent: try ecu.integer("silent"),
                    faults: try Self.strings(ecu.value("faults"), at: ecu.fieldPath("faults")), mil: try ecu.optionalString("mil"),
                    lastProblem: try ecu.optionalString("last_problem"))
                entry.interface = try ecu.optionalString("interface")
                entry.requestID = try ecu.optionalInteger("request_id", as: UInt32.self)
                entry.responseID = try ecu.optionalInteger("response_id", as: UInt32.self)
                entry.protocolName = try ecu.optionalString("protocol")
                return entry
            },
            dm1: try Self.strings(reader.value("dm1"), at: reader.fieldPath("dm1")))
    }

    private static func strings(_ value: JSONValue, at path: String) throws(ControlDecodingError) -> [String] {
        guard let list = value.arrayValue else { throw ControlDecodingError(field: path, message: "must be an array of strings") }
        var strings: [String] = []
        for element in list {
            guard let text = element.stringValue else { throw ControlDecodingError(field: path, message: "must be an array of strings") }
            strings.append(text)
        }
        return strings
    }
}
