import AgentControl
import ArgumentParser
import AxleBase
import CANBus
import CANFrames
import Diagnostics

/// Options every command of the OBD-II scan tool takes (`axle diag scan`, `pids`, `dtc`).
struct OBDBusOptions: ParsableArguments {
    /// Which ids the requests go to.
    enum AddressingChoice: String, ExpressibleByArgument, CaseIterable {
        /// 11-bit first; 29-bit when no ECU answers on 11-bit (scan: both).
        case auto
        case standard = "11-bit"
        case extended = "29-bit"
    }

    @Argument(help: ArgumentHelp("The CAN interface, e.g. can0.", valueName: "iface"))
    var interfaceArgument: String?

    /// The interface (validated: present unless the command needs none, as `pids --list`).
    var interface: String { interfaceArgument ?? "" }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "auto (11-bit 7DF; 29-bit 18DB33F1 when nobody answers on 11-bit), 11-bit or 29-bit.", valueName: "ids"))
    var addressing: AddressingChoice = .auto

    @Option(name: .long, help: ArgumentHelp("How long answers to each request are collected, e.g. 500ms.", valueName: "duration"))
    var timeout: String = "500ms"

    @Option(name: .long, help: ArgumentHelp("The byte frames are padded with (hex), or none.", valueName: "byte"))
    var padding: String = "CC"

    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false

    @OptionGroup var agentOptions: DiagAgentOptions

    func validate() throws {
        _ = try settings()
        _ = try paddingByte()
    }

    func settings() throws -> FunctionalExchange.Settings {
        var settings = FunctionalExchange.Settings()
        settings.window = try DiagRequestCommand.seconds(timeout, "--timeout")
        return settings
    }

    func paddingByte() throws -> UInt8? {
        if padding.lowercased() == "none" { return nil }
        guard let value = UInt8(padding, radix: 16) else {
            throw ValidationError("--padding takes a hex byte such as CC, 55 or 00, or none; not \(UntrustedText.quoted(padding))")
        }
        return value
    }

    /// The tester on the interface, after checking that it is a CAN interface that exists; through the agent when
    /// one asks ECUs on it.
    func tester() throws -> OBDTester {
        guard interfaceArgument != nil else { throw ValidationError("Missing expected argument '<iface>' (the CAN interface, e.g. can0)") }
        if let agent = agentOptions.agent(on: interface) {
            let warning = TextOutput.standardError()
            warning.write("axle diag: \(agent.notice)\n")
            warning.flush()
            return OBDTester(agent: agent, choice: addressing, settings: try settings())
        }
        try OBDTester.checkInterface(interface)
        do {
            let channel = try FunctionalISOTPChannel(interface: interface, padding: try paddingByte())
            return OBDTester(channel: channel, choice: addressing, settings: try settings())
        } catch let error as CANBusError {
            throw CLIError("\(error)")
        }
    }
}

/// The scan tool's conversation with the ECUs of one bus: functional OBD-II requests and their answers, and which
/// addressing the vehicle answers on.
final class OBDTester {
    /// The bus, directly; nil when the requests go through the agent.
    let channel: FunctionalISOTPChannel?
    /// The agent that asks ECUs on this bus: functional requests then go to each of its OBD-II ECUs through it, and
    /// to no other ECU (a functional request on the bus would reach the agent's ECUs too).
    let agent: AgentOnBus?
    let interface: String
    let choice: OBDBusOptions.AddressingChoice
    let settings: FunctionalExchange.Settings
    /// The addressing ECUs answered on (auto: found by the first request), and the ECUs that answered it.
    private(set) var addressing: OBDAddressing?
    private(set) var known: Set<UInt32> = []

    convenience init(channel: FunctionalISOTPChannel, choice: OBDBusOptions.AddressingChoice, settings: FunctionalExchange.Settings) {
        self.init(channel: channel, agent: nil, interface: channel.interface, choice: choice, settings: settings)
    }

    convenience init(agent: AgentOnBus, choice: OBDBusOptions.AddressingChoice, settings: FunctionalExchange.Settings) {
        self.init(channel: nil, agent: agent, interface: agent.interface, choice: choice, settings: settings)
    }

    /// A tester like `other` (its bus or agent) with another addressing.
    convenience init(like other: OBDTester, choice: OBDBusOptions.AddressingChoice) {
        self.init(channel: other.channel, agent: other.agent, interface: other.interface, choice: choice, settings: other.settings)
    }

    private init(
        channel: FunctionalISOTPChannel?, agent: AgentOnBus?, interface: String, choice: OBDBusOptions.AddressingChoice,
        settings: FunctionalExchange.Settings
    ) {
        self.channel = channel
        self.agent = agent
        self.interface = interface
        self.choice = choice
        self.settings = settings
        switch choice {
        case .auto: addressing = nil
        case .standard: addressing = .standard
        case .extended: addressing = .extended
        }
    }

    /// The ids of a request, for messages: "7DF" or "7DF and 18DB33F1".
    var requestIDs: String {
        addressing.map { DiagRequestCommand.hexID($0.functionalRequestID) }
            ?? OBDAddressing.allCases.map { DiagRequestCommand.hexID($0.functionalRequestID) }.joined(separator: " and ")
    }

    /// `request` to every ECU; the answers, ordered by ECU. With auto addressing the first request that any ECU
    /// answers settles it. Later requests end as soon as every ECU that answered before has answered.
    func ask(_ request: [UInt8], expecting: Set<UInt32>? = nil) throws -> [FunctionalExchange.Answer] {
        let candidates = addressing.map { [$0] } ?? OBDAddressing.allCases
        for candidate in candidates {
            let answers = try ask(request, on: candidate, expecting: expecting ?? known)
            if !answers.isEmpty || candidate == candidates.last {
                if addressing == nil, !answers.isEmpty { addressing = candidate }
                known.formUnion(answers.map(\.responder))
                return answers
            }
        }
        return []
    }

    /// `request` to every ECU of one addressing.
    func ask(_ request: [UInt8], on addressing: OBDAddressing, expecting: Set<UInt32> = []) throws -> [FunctionalExchange.Answer] {
        if let agent {
            // Each of the agent's OBD-II ECUs of this addressing, one after the other, through the agent.
            let ecus = agent.obdECUs.filter { (($0.responseID ?? 0) > 0x7FF) == (addressing == .extended) }
            return try ecus.compactMap { ecu in
                guard let responder = ecu.responseID else { return nil }
                let reply = try agent.ask(ecu, request, timeoutSeconds: settings.window)
                return AgentOnBus.answer(reply, responder: responder, request: request[0])
            }
        }
        guard let channel else { return [] }
        do {
            return try channel.request(request, addressing: addressing, expecting: expecting, settings: settings)
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// "no ECU answered …" for the request just asked, saying what to check.
    func silence(_ what: String) -> CLIError {
        CLIError(
            "no ECU answered \(what) on \(interface) within \(Int((settings.window * 1000).rounded())) ms (functional "
                + "requests on \(requestIDs)): check that the ignition is on, that \(interface) is the diagnostic bus "
                + "(the OBD-II connector's pins 6 and 14) and its bitrate (`axle bus \(interface)`), or allow longer with --timeout")
    }

    /// The supported mode 01 PIDs of each ECU, following the bitmaps (0x00, 0x20, …) as far as each ECU declares.
    func supportedPIDs() throws -> [UInt32: [UInt8]] {
        var supported: [UInt32: [UInt8]] = [:]
        var base: UInt8 = 0
        var asking: Set<UInt32>? = nil
        while true {
            let answers = try ask([0x01, base], expecting: asking)
            var next: Set<UInt32> = []
            for answer in answers {
                guard let message = answer.message, let values = OBDMessage.currentData(inAnswer: message),
                    let bitmap = values.first(where: { $0.pid == base })
                else { continue }
                let pids = OBDMessage.supportedPIDs(base: base, bitmap: bitmap.data)
                supported[answer.responder, default: []] += pids
                if base < 0xE0, pids.contains(base + 0x20) { next.insert(answer.responder) }
            }
            if base == 0, answers.isEmpty { return [:] }
            guard !next.isEmpty else { return supported }
            base += 0x20
            asking = next
        }
    }

    /// Refuses an interface that does not exist or is no CAN interface, with what to do.
    static func checkInterface(_ interface: String) throws {
        guard let type = BusHealth.linkType(interface) else {
            throw CLIError("no CAN interface named \(UntrustedText.quoted(interface)) (`ip -details link show type can` and `ip link show type vcan` list them)")
        }
        guard type == BusHealth.canLinkType else {
            throw CLIError("\(interface) is not a CAN interface (link type \(type), not \(BusHealth.canLinkType)); CAN interfaces here: \(BusHealth.canInterfaces().joined(separator: ", ").nonEmpty ?? "none")")
        }
    }

    /// How an answer that is not positive reads: "refused: serviceNotSupported (0x11)", or the failure.
    static func problem(_ answer: FunctionalExchange.Answer) -> String? {
        if let negative = answer.negative {
            return "refused: \(negative.codeName) (0x\(DiagnosticPrinter.hex(negative.code)))"
        }
        return answer.failure
    }

    /// An ECU for people: its answer id, and its physical request id.
    static func ecuText(_ id: UInt32) -> String { DiagRequestCommand.hexID(id) }
}

extension String {
    /// nil for an empty string.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
