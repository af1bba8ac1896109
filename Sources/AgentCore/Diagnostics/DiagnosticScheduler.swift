import Diagnostics
import FirmwareProfile

/// Decides what the diagnostics service asks next, and when: a pure policy over the profile's `[diagnostics]`, handed
/// the time and whether the ignition is on.
///
/// - One request at a time in all (the service has one thread), so two requests never overlap at one ECU.
/// - OBD-II parameters of one ECU that are due together go out in one mode 01 request, at most 6 PIDs (SAE J1979;
///   an older ECU refuses 7 with `7F 01 12`). UDS DIDs go one per request: not every ECU takes several.
/// - A token bucket holds the bus-load budget: it fills at `framesPerSecond` up to one second's worth; a request
///   starts only when the frames it is expected to cost are there, and the frames it really cost are charged.
/// - With the ignition off nothing is polled (the ECUs of a parked car are not kept awake); when it comes on again
///   every parameter is due at once.
/// - An ECU that does not answer is left alone for 1 s, then 2, 4, … up to 60 s, so a silent ECU costs the others
///   at most one timeout per back-off.
public struct DiagnosticScheduler: Sendable {
    /// One request the scheduler wants sent.
    public struct Work: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// Indices into `configuration.parameters`, all of `ecu`.
            case parameters([Int])
            /// `ecu`'s fault codes (OBD-II: the MIL and modes 03/07; UDS: 0x19 0x02).
            case faults
        }

        public var ecu: Int
        public var kind: Kind
        /// The request's bytes (for fault polls the first of the requests they take).
        public var request: [UInt8]
        /// Frames it is expected to cost, requests and answers together.
        public var estimatedFrames: Int
    }

    public enum Decision: Sendable, Equatable {
        case run(Work)
        /// Nothing to send before this time (monotonic seconds).
        case wait(until: Double)
    }

    public let configuration: DiagnosticsConfiguration
    private var parameterDue: [Double]
    private var faultDue: [Double?]
    /// Per ECU: consecutive requests without an answer, and the time before which it is not asked again.
    private var silence: [(count: Int, until: Double)]
    private var tokens: Double
    private var tokensAt: Double
    private var ignitionWasOn = false
    private var nextECU = 0
    /// Indices of each ECU's parameters.
    private let parametersOfECU: [[Int]]

    /// How long to wait before looking at the ignition again while it is off.
    public static let ignitionCheckSeconds = 1.0
    public static let maximumSilenceBackoff = 60.0

    public init(configuration: DiagnosticsConfiguration, now: Double) {
        self.configuration = configuration
        parameterDue = Array(repeating: now, count: configuration.parameters.count)
        faultDue = configuration.ecus.map { $0.faults == nil ? nil : now }
        silence = Array(repeating: (0, 0), count: configuration.ecus.count)
        tokens = Self.capacity(configuration)
        tokensAt = now
        parametersOfECU = configuration.ecus.map { ecu in
            configuration.parameters.indices.filter { configuration.parameters[$0].ecu == ecu.name }
        }
    }

    /// The bucket holds one second of the budget (at least one multi-frame answer's worth).
    static func capacity(_ configuration: DiagnosticsConfiguration) -> Double { max(configuration.framesPerSecond, 8) }

    /// Frames available now.
    public mutating func availableFrames(now: Double) -> Double {
        refill(now: now)
        return tokens
    }

    /// What to do at `now`. `ignitionOn` false stops every poll; nil (no ignition signal in the profile) polls.
    public mutating func next(now: Double, ignitionOn: Bool?) -> Decision {
        refill(now: now)
        if ignitionOn == false {
            ignitionWasOn = false
            return .wait(until: now + Self.ignitionCheckSeconds)
        }
        if !ignitionWasOn {
            // Back on (or the first look): every value is wanted now, not at its next interval.
            ignitionWasOn = true
            for index in parameterDue.indices { parameterDue[index] = min(parameterDue[index], now) }
            for index in faultDue.indices where faultDue[index] != nil { faultDue[index] = min(faultDue[index]!, now) }
        }
        var earliest = Double.infinity
        var chosen: Work?
        // Round robin from `nextECU`, so that a busy ECU does not starve the others when all are due.
        let count = configuration.ecus.count
        for step in 0..<count {
            let ecu = (nextECU + step) % count
            let ready = max(silence[ecu].until, 0)
            let work = dueWork(ecu: ecu, now: now)
            if let work, ready <= now {
                chosen = work.work
                break
            }
            if let due = work?.due ?? earliestDue(ecu: ecu) { earliest = min(earliest, max(due, ready)) }
        }
        guard let work = chosen else { return .wait(until: earliest) }
        let needed = Double(min(work.estimatedFrames, Int(Self.capacity(configuration))))
        if tokens < needed {
            // At least a millisecond: a wait for a sliver of a frame would spin.
            return .wait(until: now + max(0.001, (needed - tokens) / configuration.framesPerSecond))
        }
        return .run(work)
    }

    /// Records that `work` was sent at `now` and what it cost; `answered` false for an ECU that stayed silent.
    public mutating func finished(_ work: Work, frames: Int, answered: Bool, now: Double) {
        charge(frames: frames, now: now)
        nextECU = (work.ecu + 1) % max(1, configuration.ecus.count)
        switch work.kind {
        case .parameters(let indices):
            for index in indices { parameterDue[index] = now + configuration.parameters[index].intervalSeconds }
        case .faults:
            if let polling = configuration.ecus[work.ecu].faults { faultDue[work.ecu] = now + polling.intervalSeconds }
        }
        if answered {
            silence[work.ecu] = (0, 0)
        } else {
            let count = silence[work.ecu].count + 1
            let backoff = min(Self.maximumSilenceBackoff, Double(1 << min(count - 1, 10)))
            silence[work.ecu] = (count, now + backoff)
        }
    }

    /// Charges frames spent outside the schedule (a request a user or the backend asked for).
    public mutating func charge(frames: Int, now: Double) {
        refill(now: now)
        tokens -= Double(frames)
    }

    /// The ECU's back-off: consecutive requests without an answer.
    public func silentCount(ecu: Int) -> Int { silence[ecu].count }

    private mutating func refill(now: Double) {
        if now > tokensAt {
            tokens = min(Self.capacity(configuration), tokens + (now - tokensAt) * configuration.framesPerSecond)
        }
        tokensAt = max(tokensAt, now)
    }

    private func earliestDue(ecu: Int) -> Double? {
        let parameters = parametersOfECU[ecu].map { parameterDue[$0] }
        return (parameters + [faultDue[ecu]].compactMap { $0 }).min()
    }

    /// The work of `ecu` due at `now` (fault polls first: they are rarer and matter more), or its earliest due time.
    private func dueWork(ecu index: Int, now: Double) -> (work: Work?, due: Double?)? {
        let ecu = configuration.ecus[index]
        if let due = faultDue[index], due <= now {
            let request: [UInt8] =
                switch ecu.diagnosticProtocol {
                case .obd: [0x01, 0x01]
                case .uds: UDSMessage.readDTCsByStatusMask(ecu.faults?.statusMask ?? 0x08)
                }
            return (Work(ecu: index, kind: .faults, request: request, estimatedFrames: 4), due)
        }
        let due = parametersOfECU[index].filter { parameterDue[$0] <= now }.sorted { parameterDue[$0] < parameterDue[$1] }
        guard let first = due.first else { return nil }
        switch ecu.diagnosticProtocol {
        case .uds:
            guard case .did(let did, let layout) = configuration.parameters[first].source else { return nil }
            let answerBytes = 3 + max(layout.start + layout.length, 1)
            return (Work(ecu: index, kind: .parameters([first]), request: UDSMessage.readDataByIdentifier([did]),
                         estimatedFrames: 1 + Self.frames(answerBytes)), parameterDue[first])
        case .obd:
            var pids: [UInt8] = []
            var indices: [Int] = []
            for index in due {
                guard case .pid(let pid) = configuration.parameters[index].source else { continue }
                if !pids.contains(pid) {
                    guard pids.count < OBDMessage.maximumPIDsPerRequest else { continue }
                    pids.append(pid)
                }
                indices.append(index)
            }
            guard !pids.isEmpty else { return nil }
            let answerBytes = 1 + pids.reduce(0) { $0 + 1 + (OBDParameter.byteCount(of: $1) ?? 4) }
            return (Work(ecu: index, kind: .parameters(indices), request: [0x01] + pids,
                         estimatedFrames: 1 + Self.frames(answerBytes)), parameterDue[first])
        }
    }

    /// Frames an answer of `bytes` takes, with our flow control for a multi-frame one.
    static func frames(_ bytes: Int) -> Int {
        bytes <= 7 ? 1 : 2 + (bytes - 6 + 6) / 7
    }
}
