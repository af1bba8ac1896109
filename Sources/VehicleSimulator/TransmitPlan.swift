import DBC

/// How one message is built and when it is next due.
struct MessageSchedule: Sendable {
    var name: String
    var id: UInt32
    var isExtended: Bool
    /// Seconds between frames.
    var cycle: Double
    /// Signals whose value changes (bound, counters, checksums); the others take their start value.
    var fields: [Field] = []
    var multiplexer: Multiplexer?
    var checksum: ChecksumField?
    /// When the first frame is due, and when the next one is (with its jitter), in seconds since the start.
    var phase: Double = 0
    var due: Double = 0
    /// Frames sent so far: drives counters and multiplexer pages.
    var sequence = 0

    struct Field: Sendable {
        var signal: DBCSignal
        var kind: Kind
        /// For multiplexed signals, the switch values that carry them.
        var pages: [ClosedRange<UInt64>]?
    }

    enum Kind: Sendable {
        case bound(ResolvedBinding)
        case counter(low: UInt64, span: UInt64)
        case checksum
    }

    /// The top-level switch: each frame carries the next of `pages`.
    struct Multiplexer: Sendable {
        var name: String
        var factor: Double
        var offset: Double
        var pages: [UInt64]
    }

    struct ChecksumField: Sendable {
        var signal: DBCSignal
        var scheme: ChecksumScheme
    }
}

/// A binding checked against its DBC signal: states resolved to encoder values, and the range the signal can
/// carry.
struct ResolvedBinding: Sendable {
    var quantity: VehicleQuantity
    var scale: Double
    var states: [String: SignalEncoder.Value]
    var low: Double
    var high: Double

    init(_ binding: SignalBinding, signal: DBCSignal) {
        quantity = binding.quantity
        scale = binding.scale
        states = [:]
        low = -Double.greatestFiniteMagnitude
        high = Double.greatestFiniteMagnitude
        if signal.minimum != 0 || signal.maximum != 0 {
            low = signal.minimum
            high = signal.maximum
        }
        if signal.valueType == .integer, signal.length > 0, signal.length <= 64 {
            let bits = Double(signal.length)
            let rawLow = signal.isSigned ? -Self.power(2, bits - 1) : 0
            let rawHigh = signal.isSigned ? Self.power(2, bits - 1) - 1 : Self.power(2, bits) - 1
            let ends = [rawLow * signal.factor + signal.offset, rawHigh * signal.factor + signal.offset]
            low = max(low, ends.min()!)
            high = min(high, ends.max()!)
        }
    }

    static func power(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= base }
        return result
    }

    /// `value` kept within what the signal can carry.
    func clamp(_ value: Double) -> Double {
        guard value.isFinite else { return max(low, min(high, 0)) }
        return min(max(value, low), high)
    }
}

/// Works out, from a database and a profile, which messages to send and how to fill each signal.
struct TransmitPlan {
    /// The database with plausible start values filled in for signals that have none.
    private(set) var database: DBCDatabase
    let profile: SimulatorProfile
    private(set) var schedules: [MessageSchedule] = []
    /// The profile's bindings that found their signal.
    private(set) var bound: [SignalBinding] = []

    var boundSignalCount: Int { bound.count }

    init(database: DBCDatabase, profile: SimulatorProfile) {
        self.database = database
        self.profile = profile
    }

    mutating func build(warnings: inout [String]) {
        var resolved: [SignalKey: ResolvedBinding] = [:]
        for binding in profile.bindings {
            guard let messageIndex = database.messages.firstIndex(where: { $0.name == binding.message || $0.shortName == binding.message }) else {
                warnings.append("profile \(profile.name): message \(binding.message) (for \(binding.quantity.rawValue)) is not in the DBC")
                continue
            }
            let message = database.messages[messageIndex]
            guard let signalIndex = message.signals.firstIndex(where: { $0.name == binding.signal || $0.shortName == binding.signal }) else {
                warnings.append("profile \(profile.name): message \(message.name) has no signal \(binding.signal) (for \(binding.quantity.rawValue))")
                continue
            }
            let signal = message.signals[signalIndex]
            var resolvedBinding = ResolvedBinding(binding, signal: signal)
            for state in binding.quantity.states {
                let text = binding.states[state] ?? state
                if let number = Double(text) {
                    resolvedBinding.states[state] = .number(resolvedBinding.clamp(number))
                } else if signal.valueLabels.value(forLabel: text) != nil {
                    resolvedBinding.states[state] = .label(text)
                } else {
                    warnings.append("profile \(profile.name): \(message.name).\(signal.name) has no value labelled \"\(text)\" for \(binding.quantity.rawValue) \(state); the signal keeps its start value then")
                }
            }
            resolved[SignalKey(message: messageIndex, signal: signalIndex)] = resolvedBinding
            bound.append(binding)
        }

        let commandMessages = Set(profile.commands.map(\.message))
        var sent: Set<Int> = []
        for (messageIndex, message) in database.messages.enumerated() {
            if commandMessages.contains(message.name) || commandMessages.contains(message.shortName) { continue }
            if let agent = profile.agentNode, message.transmitters.first == agent { continue }
            guard let cycle = Self.cycleTime(of: message) else { continue }
            sent.insert(messageIndex)
            var schedule = MessageSchedule(name: message.name, id: message.id, isExtended: message.isExtended, cycle: cycle)

            let top = message.signals.first { $0.multiplexing.isMultiplexer && $0.multiplexing.multiplexerSignal == nil }
            if let top {
                var pages: Set<UInt64> = []
                for signal in message.signals where signal.multiplexing.multiplexerSignal == top.shortName {
                    for range in signal.multiplexing.multiplexerValues {
                        if range.upperBound - range.lowerBound < 256 { pages.formUnion(range) } else { pages.insert(range.lowerBound) }
                    }
                }
                schedule.multiplexer = MessageSchedule.Multiplexer(
                    name: top.name, factor: top.factor, offset: top.offset, pages: pages.sorted())
            }

            for (signalIndex, signal) in message.signals.enumerated() {
                if let top, signal.shortName == top.shortName { continue }
                var pages: [ClosedRange<UInt64>]?
                if let switchName = signal.multiplexing.multiplexerSignal {
                    // Signals under a nested switch keep their start values.
                    guard switchName == top?.shortName else { continue }
                    pages = signal.multiplexing.multiplexerValues
                }
                if let binding = resolved[SignalKey(message: messageIndex, signal: signalIndex)] {
                    schedule.fields.append(.init(signal: signal, kind: .bound(binding), pages: pages))
                } else if ChecksumScheme.isChecksumSignal(named: signal.name), signal.valueType == .integer {
                    if let scheme = profile.checksumScheme, schedule.checksum == nil {
                        schedule.checksum = .init(signal: signal, scheme: scheme)
                        schedule.fields.append(.init(signal: signal, kind: .checksum, pages: pages))
                    } else if profile.checksumScheme == nil {
                        warnings.append("profile \(profile.name) names no checksum scheme: \(message.name).\(signal.name) keeps its start value")
                    }
                } else if ChecksumScheme.isCounterSignal(named: signal.name), signal.valueType == .integer, signal.length < 64 {
                    let (low, span) = Self.counterRange(of: signal)
                    schedule.fields.append(.init(signal: signal, kind: .counter(low: low, span: span), pages: pages))
                }
                if signal.startValue == nil {
                    database.messages[messageIndex].signals[signalIndex].startValue = Self.plausibleStartValue(of: signal)
                }
            }
            schedules.append(schedule)
        }

        for binding in bound {
            guard let index = database.messages.firstIndex(where: { $0.name == binding.message || $0.shortName == binding.message }),
                !sent.contains(index)
            else { continue }
            warnings.append("profile \(profile.name) maps \(binding.quantity.rawValue) to \(binding.message).\(binding.signal), but the simulator does not send \(binding.message) (a command, event-driven, or sent by \(profile.agentNode ?? "the agent"))")
        }
    }

    /// Seconds between frames: `GenMsgCycleTime`, else 100 ms for cyclic messages; nil for messages sent only on
    /// events.
    static func cycleTime(of message: DBCMessage) -> Double? {
        if let milliseconds = message.cycleTime, milliseconds > 0 { return Double(milliseconds) / 1000 }
        guard let sendType = message.sendType else { return 0.1 }
        return sendType.lowercased().hasPrefix("cyclic") ? 0.1 : nil
    }

    /// A counter runs over the signal's [minimum, maximum] when the DBC gives a range within its bits, else over
    /// all its raw values.
    static func counterRange(of signal: DBCSignal) -> (low: UInt64, span: UInt64) {
        let rawMaximum: UInt64 = (1 << UInt64(signal.length)) - 1
        guard signal.factor == 1, signal.offset == 0, signal.minimum >= 0, signal.maximum > signal.minimum,
            signal.maximum <= Double(rawMaximum)
        else { return (0, rawMaximum + 1) }
        let low = UInt64(signal.minimum)
        return (low, UInt64(signal.maximum) - low + 1)
    }

    /// The raw value of physical 0, or of the nearest value the signal's range allows.
    static func plausibleStartValue(of signal: DBCSignal) -> Double {
        guard signal.factor != 0 else { return 0 }
        var physical = 0.0
        if signal.minimum != 0 || signal.maximum != 0 { physical = min(max(0, signal.minimum), signal.maximum) }
        return ((physical - signal.offset) / signal.factor).rounded()
    }
}

struct SignalKey: Hashable {
    var message: Int
    var signal: Int
}

extension VehicleQuantity {
    /// The state names of a quantity with states (`gear`: P, R, N, D); empty for numeric quantities.
    public var states: [String] {
        switch self {
        case .gear: VehicleState.Gear.allCases.map(\.rawValue)
        case .ignition: ["off", "on"]
        case .reeferMode: ["off", "cooling", "fault"]
        case .chargingState: ["idle", "charging", "complete"]
        default: []
        }
    }
}
