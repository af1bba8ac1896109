import AxleBase
import CANFrames
import Diagnostics
import FirmwareProfile

/// Where the diagnostics engine's results go: values to the pipeline, alerts to the outbox, problems to the log.
public protocol DiagnosticsOutput: AnyObject {
    /// Polled values, for the pipeline's collection engine (through the external-sample inbox).
    func deliver(_ samples: [ExternalSample])
    /// Fault codes or DM1 changed: an alert record with the full list.
    func alert(_ alert: DiagnosticAlert)
    /// A problem worth a log line (the first of its kind per ECU, and each new reason; the rest are counted).
    func problem(_ text: String)
}

/// What `axle status` shows of diagnostics.
public struct DiagnosticsStatus: Sendable, Equatable {
    public struct ECU: Sendable, Equatable {
        public var name: String
        public var requests = 0
        public var answers = 0
        /// Negative answers (not counting "response pending").
        public var refusals = 0
        /// Requests with no (final) answer in time.
        public var timeouts = 0
        /// PIDs or DIDs asked for and not in the answer.
        public var missingValues = 0
        public var lastProblem: String?
        /// Consecutive requests without an answer (the ECU is being backed off).
        public var silentCount = 0
        public var faults: [String] = []
        public var mil: String?

        public init(name: String) { self.name = name }
    }

    public var ecus: [ECU]
    /// False while the ignition signal says the vehicle is off (nothing is polled).
    public var polling = true
    /// Frames spent so far (requests and answers), and the budget.
    public var frames = 0
    public var framesPerSecond: Double
    /// Requests from `DiagnosticRequestQueue` served.
    public var requestsServed = 0
    /// J1939 nodes with active faults (DM1): "node 0: SPN 110 FMI 0".
    public var dm1: [String] = []
    /// Transport transfers that broke off and DM1 that could not be read.
    public var dm1Errors = 0

    public init(ecus: [ECU], framesPerSecond: Double) {
        self.ecus = ecus
        self.framesPerSecond = framesPerSecond
    }
}

/// The diagnostics service's work, on one thread and free of sockets and threads of its own: each `turn` serves the
/// requests waiting in the queue, then sends what the scheduler says is due, or listens (J1939 DM1) until it is.
/// Unit-tested with a fake link and clock (DiagnosticsEngineTests).
public final class DiagnosticsEngine {
    public let configuration: DiagnosticsConfiguration
    private let link: any DiagnosticLink
    private let clock: any AgentClock
    private let requests: DiagnosticRequestQueue
    private let ignition: () -> Bool?
    private let output: any DiagnosticsOutput
    private var scheduler: DiagnosticScheduler
    private var conversation = DiagnosticConversation()
    private var faults = FaultTracker()
    private var dm1: DM1Listener?
    /// Catalog index of each parameter.
    private let catalogIndex: [Int]
    public private(set) var status: DiagnosticsStatus
    private var heard: [CANFrame] = []
    /// Per ECU, the last problem logged, so that a repeated one is counted and not logged again.
    private var logged: [String: String] = [:]

    public init(
        profile: FirmwareProfile, link: any DiagnosticLink, clock: any AgentClock, requests: DiagnosticRequestQueue,
        ignition: @escaping () -> Bool?, output: any DiagnosticsOutput
    ) {
        let configuration = profile.diagnostics ?? DiagnosticsConfiguration(
            ecus: [], parameters: [], ignition: nil, framesPerSecond: 1, budgetText: "", dm1: nil, line: 0)
        self.configuration = configuration
        self.link = link
        self.clock = clock
        self.requests = requests
        self.ignition = ignition
        self.output = output
        scheduler = DiagnosticScheduler(configuration: configuration, now: clock.monotonicSeconds())
        dm1 = configuration.dm1.map { DM1Listener(bus: $0.bus, silenceSeconds: $0.silenceSeconds) }
        catalogIndex = configuration.parameters.map { parameter in profile.catalog.firstIndex { $0.name == parameter.name } ?? -1 }
        status = DiagnosticsStatus(ecus: configuration.ecus.map { .init(name: $0.name) }, framesPerSecond: configuration.framesPerSecond)
    }

    /// One turn: waiting requests first, then due work, else listening at most `maxWaitSeconds` (or until work is due).
    public func turn(maxWaitSeconds: Double) {
        if let pending = requests.take() {
            serve(pending)
            return
        }
        let now = clock.monotonicSeconds()
        let ignitionOn = configuration.ignition == nil ? nil : ignition()
        status.polling = ignitionOn != false
        switch scheduler.next(now: now, ignitionOn: ignitionOn) {
        case .run(let work):
            run(work)
        case .wait(let until):
            listen(until: min(until, now + maxWaitSeconds))
        }
        expireDM1()
    }

    /// Stops serving: requests still waiting fail.
    public func close() { requests.close() }

    // MARK: Requests from elsewhere

    private func serve(_ pending: DiagnosticRequestQueue.Pending) {
        guard let index = configuration.ecus.firstIndex(where: { $0.name == pending.ecu }) else {
            pending.complete(DiagnosticAnswer(outcome: .failed("unknown ECU '\(pending.ecu)'")))
            return
        }
        var ecu = configuration.ecus[index]
        ecu.responseTimeoutSeconds = pending.timeoutSeconds
        let answer = exchange(pending.request, ecu: index, as: ecu)
        scheduler.charge(frames: answer.frames, now: clock.monotonicSeconds())
        status.requestsServed += 1
        pending.complete(answer)
    }

    // MARK: Polls

    private func run(_ work: DiagnosticScheduler.Work) {
        let ecu = configuration.ecus[work.ecu]
        switch work.kind {
        case .parameters(let indices):
            let answer = exchange(work.request, ecu: work.ecu, as: ecu)
            scheduler.finished(work, frames: answer.frames, answered: answered(answer), now: clock.monotonicSeconds())
            guard let bytes = answer.positive else { return }
            deliver(bytes, for: indices, ecu: work.ecu, timeMicros: answer.timeMicros)
        case .faults:
            var frames = 0
            var answers: [[UInt8]] = []
            var requests = [work.request]
            if ecu.diagnosticProtocol == .obd {
                requests.append([0x03])
                if ecu.faults?.includePending == true { requests.append([0x07]) }
            }
            var last = DiagnosticAnswer(outcome: .failed(""))
            for request in requests {
                last = exchange(request, ecu: work.ecu, as: ecu)
                frames += last.frames
                guard let bytes = last.positive else { break }
                answers.append(bytes)
            }
            scheduler.finished(work, frames: frames, answered: answered(last), now: clock.monotonicSeconds())
            guard answers.count == requests.count, let set = faultSet(answers, ecu: ecu) else { return }
            status.ecus[work.ecu].faults = set.codes
            status.ecus[work.ecu].mil = set.lamps["mil"]
            if let alert = faults.update(
                source: ecu.name, kind: FaultTracker.faultsEvent, set: set, timeMicros: last.timeMicros,
                attributes: ["ecu": ecu.name, "protocol": ecu.diagnosticProtocol.rawValue])
            {
                output.alert(alert)
            }
        }
    }

    /// An ECU that refused still answered: only silence backs it off.
    private func answered(_ answer: DiagnosticAnswer) -> Bool {
        switch answer.outcome {
        case .positive, .negative: true
        case .timedOut, .failed: false
        }
    }

    private func exchange(_ request: [UInt8], ecu index: Int, as ecu: DiagnosticECU) -> DiagnosticAnswer {
        status.ecus[index].requests += 1
        let answer = conversation.exchange(request, with: ecu, link: link, clock: clock) { frame in overheard(frame) }
        status.frames += answer.frames
        switch answer.outcome {
        case .positive:
            status.ecus[index].answers += 1
            status.ecus[index].silentCount = 0
            logged[ecu.name] = nil
        case .negative:
            status.ecus[index].answers += 1
            status.ecus[index].refusals += 1
        case .timedOut, .failed:
            status.ecus[index].timeouts += 1
            status.ecus[index].silentCount += 1
        }
        if let problem = answer.problem {
            let text = "ECU \(ecu.name), request \(Self.hex(request)): \(problem)"
            status.ecus[index].lastProblem = text
            // One log line per ECU and reason; repeats are counted in the status.
            let reason = Self.reasonKey(answer.outcome)
            if logged[ecu.name] != reason {
                logged[ecu.name] = reason
                output.problem(text + (answer.outcome.isSilence ? "; backing off (asked again after 1 s, then 2, 4 … 60 s)" : ""))
            }
        }
        return answer
    }

    private func deliver(_ answer: [UInt8], for indices: [Int], ecu: Int, timeMicros: Int64) {
        var samples: [ExternalSample] = []
        var missing: [String] = []
        let time = timeMicros != 0 ? timeMicros : clock.wallClockMillis() &* 1000
        let data = OBDMessage.currentData(inAnswer: answer)
        for index in indices {
            let parameter = configuration.parameters[index]
            var value: Double?
            switch parameter.source {
            case .pid(let pid):
                value = data?.first { $0.pid == pid }?.value
            case .did(let did, let layout):
                value = UDSMessage.data(of: did, inAnswer: answer).flatMap { layout.value(in: $0) }
            }
            guard let value else {
                missing.append(parameter.sourceText)
                continue
            }
            if catalogIndex[index] >= 0 {
                samples.append(ExternalSample(catalogIndex: catalogIndex[index], timeMicros: time, value: value, origin: .diagnostics))
            }
        }
        if !missing.isEmpty {
            status.ecus[ecu].missingValues += missing.count
            let name = configuration.ecus[ecu].name
            let text = "ECU \(name) did not answer \(missing.joined(separator: ", ")) (not supported?)"
            status.ecus[ecu].lastProblem = text
            if logged[name + " missing"] == nil {
                logged[name + " missing"] = text
                output.problem(text)
            }
        }
        if !samples.isEmpty { output.deliver(samples) }
    }

    /// The fault set in the answers of a fault poll; nil when an answer is not what was asked.
    private func faultSet(_ answers: [[UInt8]], ecu: DiagnosticECU) -> FaultSet? {
        switch ecu.diagnosticProtocol {
        case .obd:
            // 41 01 A B C D: A bit 7 is the MIL.
            guard answers.count >= 2, answers[0].count >= 3, answers[0][0] == 0x41, answers[0][1] == 0x01,
                let stored = OBDTroubleCode.codes(inAnswer: answers[1])
            else { return nil }
            let pending = answers.count > 2 ? OBDTroubleCode.codes(inAnswer: answers[2]) ?? [] : []
            return FaultSet(
                codes: stored.map(\.description), pending: pending.map(\.description),
                lamps: ["mil": answers[0][2] & 0x80 != 0 ? "on" : "off"])
        case .uds:
            guard let codes = UDSMessage.troubleCodes(inAnswer: answers[0]) else { return nil }
            let mask = ecu.faults?.statusMask ?? 0x08
            let active = codes.filter { $0.status & mask != 0 }
            // Status bit 7, warningIndicatorRequested: the ECU asks for its lamp.
            let lamp = codes.contains { $0.status & 0x80 != 0 }
            return FaultSet(codes: active.map(\.text), lamps: ["mil": lamp ? "on" : "off"])
        }
    }

    // MARK: Listening

    private func listen(until deadline: Double) {
        guard deadline > clock.monotonicSeconds() else { return }
        heard.removeAll(keepingCapacity: true)
        do {
            try link.receive(until: deadline, into: &heard)
        } catch {
            if logged["link"] != error.description {
                logged["link"] = error.description
                output.problem("the bus: \(error)")
            }
            return
        }
        for frame in heard { overheard(frame) }
    }

    private func overheard(_ frame: CANFrame) {
        guard dm1 != nil, let heard = dm1!.receive(frame, now: clock.monotonicSeconds()) else { return }
        let time = frame.timestamp.seconds &* 1_000_000 &+ Int64(frame.timestamp.nanoseconds / 1000)
        report(node: heard.source, set: DM1Listener.faultSet(heard.message), timeMicros: time)
    }

    private func expireDM1() {
        guard dm1 != nil else { return }
        for node in dm1!.expire(now: clock.monotonicSeconds()) {
            report(node: node, set: FaultSet(codes: [], lamps: [:]), timeMicros: clock.wallClockMillis() &* 1000)
        }
        status.dm1Errors = dm1!.errors
    }

    private func report(node: UInt8, set: FaultSet, timeMicros: Int64) {
        let source = "j1939 node \(node)"
        if let alert = faults.update(
            source: source, kind: FaultTracker.dm1Event, set: set, timeMicros: timeMicros,
            attributes: ["source_address": String(node), "bus": dm1?.bus ?? ""])
        {
            output.alert(alert)
        }
        status.dm1 = faults.all.filter { $0.source.hasPrefix("j1939") && !$0.set.codes.isEmpty }.map {
            "\($0.source): \($0.set.codes.joined(separator: ", "))"
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.prefix(8).map { DiagnosticsHex.byte($0) }.joined(separator: " ") + (bytes.count > 8 ? " …" : "")
    }

    private static func reasonKey(_ outcome: DiagnosticAnswer.Outcome) -> String {
        switch outcome {
        case .positive: "ok"
        case .negative(let code, _): "negative \(code)"
        case .timedOut: "timeout"
        case .failed(let reason): "failed \(reason)"
        }
    }
}

extension DiagnosticAnswer.Outcome {
    /// No answer at all (as opposed to a refusal).
    var isSilence: Bool {
        switch self {
        case .timedOut: true
        default: false
        }
    }
}
