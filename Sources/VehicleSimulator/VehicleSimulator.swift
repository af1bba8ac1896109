import CANFrames
import DBC
import Diagnostics

/// A simulated vehicle on a CAN bus: it plays a scenario and sends every message of a DBC at its cycle time, with
/// rolling counters and checksums, and reacts to command frames.
///
/// Driven by simulated time and free of threads, clocks and I/O: `advance(to:)` returns the frames due, and pacing
/// them in real time is the caller's business (`axle simulate` does it). Runs are deterministic: the same
/// database, scenario, profile, seed, start and sequence of calls give the same frames, whatever the step sizes
/// passed to `advance(to:)`.
public struct VehicleSimulator: Sendable {
    public let scenario: Scenario
    public let profile: SimulatorProfile
    /// The timestamp of simulated time 0.
    public let start: CANTimestamp
    /// The interface name put on every frame.
    public let interface: String
    /// What the vehicle is doing now (at `time`, to within one physics step).
    public private(set) var state: VehicleState
    /// Seconds since `start` that the simulation has reached.
    public private(set) var time: Double = 0
    /// The messages sent, in DBC order, with their cycle times.
    public let messages: [SimulatedMessage]
    /// Frames left out because the encoder refused them (none expected: values are clamped to what each signal
    /// can carry); a count above zero means a bug worth reporting.
    public private(set) var unencodableFrames = 0
    /// Where the profile does not fit the DBC (a missing signal, a state with no value), or the scenario cannot show
    /// itself with this profile. The simulation runs anyway, without the parts named.
    public let warnings: [String]

    /// The physics advances in steps of this many seconds.
    public static let physicsStep = 0.01

    private let script: ScenarioScript
    private let encoder: SignalEncoder
    private let commandDecoder: CompiledDecoder
    private var schedules: [MessageSchedule]
    private var reactions: [PendingReaction] = []
    private var reactionSequence = 0
    private var physicsSteps = 0
    private var random: SplitMix64
    /// The diagnostic ECUs of `profile.diagnostics`, if any.
    private var obdECU: SimulatedOBDECU?
    private var dm1Sender: SimulatedDM1Sender?

    /// A simulator for `scenario` on `database`, mapped by `profile`.
    ///
    /// Throws when the profile does not fit the database at all (none of its signals exist), when the database has
    /// no message to send, or when the profile's vehicle model is unusable.
    public init(
        database: DBCDatabase, scenario: Scenario, profile: SimulatorProfile, seed: UInt64 = 1,
        start: CANTimestamp = CANTimestamp(), interface: String = "can0"
    ) throws(SimulatorError) {
        guard !profile.vehicle.gearRatios.isEmpty, profile.vehicle.gearRatios.allSatisfy({ $0 > 0 }),
            profile.vehicle.wheelRadius > 0, profile.vehicle.fuelTankLitres > 0
        else {
            throw SimulatorError(.invalidProfile, "profile \(profile.name): the vehicle needs at least one positive gear ratio, a positive wheel radius and a fuel tank")
        }
        guard profile.reactionDelay >= 0, profile.reactionDelay.isFinite else {
            throw SimulatorError(.invalidProfile, "profile \(profile.name): the reaction delay must be zero or more seconds")
        }
        self.scenario = scenario
        self.profile = profile
        self.start = start
        self.interface = interface
        self.script = scenario.script
        self.state = VehicleState(script: script, model: profile.vehicle)
        self.random = SplitMix64(seed: seed)

        var warnings: [String] = []
        var plan = TransmitPlan(database: database, profile: profile)
        plan.build(warnings: &warnings)
        guard plan.boundSignalCount > 0 || profile.bindings.isEmpty else {
            throw SimulatorError(.profileDoesNotFit, "profile \(profile.name) does not fit \(database.source): none of its \(profile.bindings.count) signals (such as \(profile.bindings[0].message).\(profile.bindings[0].signal)) is in the DBC; choose the profile written for this DBC")
        }
        guard !plan.schedules.isEmpty else {
            throw SimulatorError(.nothingToSend, "\(database.source) has no message to simulate: every message is a command, event-driven, or sent by \(profile.agentNode ?? "the agent")")
        }
        for quantity in scenario.keyQuantities where !profile.bindings.contains(where: { $0.quantity == quantity && plan.bound.contains($0) }) {
            warnings.append("scenario \(scenario.rawValue): profile \(profile.name) maps no signal for \(quantity.rawValue), so the scenario's effect on it is not visible")
        }

        // Command messages: decoded on receipt, by id or J1939 parameter group.
        var commandMessages: Set<String> = []
        for command in profile.commands {
            guard let message = database.message(named: command.message) else {
                warnings.append("profile \(profile.name): command message \(command.message) is not in the DBC; its \(command.action.rawValue) command is ignored")
                continue
            }
            for name in [command.signal] + (command.argumentSignal.map { [$0] } ?? []) where message.signal(named: name) == nil {
                warnings.append("profile \(profile.name): message \(command.message) has no signal \(name); its \(command.action.rawValue) command is ignored")
            }
            commandMessages.insert(message.name)
        }
        self.commandDecoder = CompiledDecoder(database: database, messageNames: commandMessages)
        self.encoder = SignalEncoder(database: plan.database)
        self.warnings = warnings

        // Each message starts at its own offset within its first cycle (real ECUs are not synchronised).
        var schedules = plan.schedules
        for index in schedules.indices {
            let phase = Self.microseconds(random.unit() * min(schedules[index].cycle, 0.05))
            schedules[index].phase = phase
            schedules[index].due = phase
        }
        self.schedules = schedules
        if let diagnostics = profile.diagnostics {
            obdECU = diagnostics.obdRequestID.map { SimulatedOBDECU(requestID: $0, vin: diagnostics.vin) }
            dm1Sender = diagnostics.dm1SourceAddress.map { SimulatedDM1Sender(sourceAddress: $0) }
        }
        self.messages = schedules.map {
            SimulatedMessage(name: $0.name, id: $0.id, isExtended: $0.isExtended, cycleTime: $0.cycle)
        }
    }

    /// All frames due after the previous call and up to `time` (seconds since `start`), in time order, with their
    /// timestamps. Calls with an earlier time than before return nothing.
    public mutating func advance(to time: Double) -> [CANFrame] {
        guard time > self.time else { return [] }
        var frames: [CANFrame] = []
        while let index = nextSchedule(), schedules[index].due <= time {
            let due = schedules[index].due
            stepPhysics(until: due)
            if let frame = makeFrame(index, at: due) { frames.append(frame) }
            schedules[index].sequence += 1
            // Nominal times do not drift; each frame gets up to 200 µs of arbitration and queueing delay.
            let nominal = schedules[index].phase + Double(schedules[index].sequence) * schedules[index].cycle
            schedules[index].due = max(due, Self.microseconds(nominal + random.unit() * 0.0002))
        }
        stepPhysics(until: time)
        self.time = time
        var diagnostic: [CANFrame] = []
        if obdECU != nil {
            obdECU!.observe(state)
            diagnostic += obdECU!.frames(upTo: time, start: start, interface: interface)
        }
        if dm1Sender != nil {
            dm1Sender!.advance(to: time, state: state)
            diagnostic += dm1Sender!.frames(upTo: time, start: start, interface: interface)
        }
        if !diagnostic.isEmpty {
            frames += diagnostic
            frames.sort { $0.timestamp.timeInterval < $1.timestamp.timeInterval }
        }
        return frames
    }

    /// The engine ECU's stored OBD-II trouble codes ("P0217"); empty without an OBD-II ECU.
    public var storedTroubleCodes: [String] {
        obdECU?.storedCodes.map { OBDTroubleCode(raw: $0).description } ?? []
    }

    /// The time (seconds since `start`) of the next frame due, for pacing.
    public var nextFrameTime: Double? {
        nextSchedule().map { schedules[$0].due }
    }

    /// Takes a frame from the bus: a command frame of the profile schedules its action `profile.reactionDelay`
    /// seconds after the current simulated time. Returns the actions scheduled (none for other frames).
    @discardableResult
    public mutating func receive(_ frame: CANFrame) -> [VehicleAction] {
        if obdECU?.handles(frame) == true {
            // A diagnostic request (or the tester's flow control): the engine ECU answers on its next frames.
            obdECU!.receive(frame, at: time, state: state)
            return []
        }
        var decoded = DecodedFrame()
        guard commandDecoder.decode(frame, into: &decoded) == .decoded, let index = decoded.messageIndex else { return [] }
        let message = commandDecoder.messages[index]
        var values: [String: Double] = [:]
        for signal in decoded {
            let dbc = commandDecoder.dbcSignal(of: signal)
            values[dbc.name] = signal.value
            values[dbc.shortName] = signal.value
        }
        let shortName = commandDecoder.database.messages[message.databaseIndex].shortName
        var actions: [VehicleAction] = []
        for command in profile.commands where command.message == message.name || command.message == shortName {
            guard let value = values[command.signal], abs(value - command.value) < 1e-9 * max(1, abs(command.value)) else { continue }
            let argument = command.argumentSignal.flatMap { values[$0] }
            reactions.append(PendingReaction(
                due: time + profile.reactionDelay, sequence: reactionSequence, action: command.action, argument: argument))
            reactionSequence += 1
            actions.append(command.action)
        }
        return actions
    }

    // MARK: - Internals

    private func nextSchedule() -> Int? {
        var best: Int?
        for index in schedules.indices where best == nil || schedules[index].due < schedules[best!].due {
            best = index
        }
        return best
    }

    /// Runs the physics in fixed steps up to `until`, carrying out reactions as they fall due.
    private mutating func stepPhysics(until limit: Double) {
        let dt = Self.physicsStep
        while Double(physicsSteps + 1) * dt <= limit + 1e-9 {
            physicsSteps += 1
            let now = Double(physicsSteps) * dt
            state.step(dt, to: now, script: script, model: profile.vehicle)
            if !reactions.isEmpty {
                let due = reactions.filter { $0.due <= now + 1e-9 }.sorted { ($0.due, $0.sequence) < ($1.due, $1.sequence) }
                guard !due.isEmpty else { continue }
                reactions.removeAll { $0.due <= now + 1e-9 }
                for reaction in due { state.apply(reaction.action, argument: reaction.argument) }
            }
        }
    }

    private mutating func makeFrame(_ index: Int, at time: Double) -> CANFrame? {
        let schedule = schedules[index]
        var values: [String: SignalEncoder.Value] = [:]
        var page: UInt64?
        if let multiplexer = schedule.multiplexer, !multiplexer.pages.isEmpty {
            let raw = multiplexer.pages[schedule.sequence % multiplexer.pages.count]
            page = raw
            values[multiplexer.name] = .number(Double(raw) * multiplexer.factor + multiplexer.offset)
        }
        for field in schedule.fields {
            if let ranges = field.pages {
                guard let page, ranges.contains(where: { $0.contains(page) }) else { continue }
            }
            switch field.kind {
            case .bound(let binding):
                if let value = encoderValue(binding, field.signal) { values[field.signal.name] = value }
            case .counter(let low, let span):
                let raw = low + UInt64(schedule.sequence) % span
                values[field.signal.name] = .number(Double(raw) * field.signal.factor + field.signal.offset)
            case .checksum:
                break
            }
        }
        guard var frame = try? encoder.encode(message: schedule.name, values: values) else {
            unencodableFrames += 1
            return nil
        }
        if let checksum = schedule.checksum {
            var bytes = frame.data
            SignalEncoder.insert(0, signal: checksum.signal, into: &bytes)
            let mask: UInt64 = checksum.signal.length >= 64 ? .max : (1 << UInt64(checksum.signal.length)) - 1
            SignalEncoder.insert(checksum.scheme.checksum(of: bytes) & mask, signal: checksum.signal, into: &bytes)
            frame.payload = CANPayload(bytes)
        }
        frame.timestamp = timestamp(at: time)
        frame.interface = interface
        return frame
    }

    /// The value to encode for a bound signal: the quantity, scaled, with a little sensor noise, kept within what
    /// the signal can carry.
    private mutating func encoderValue(_ binding: ResolvedBinding, _ signal: DBCSignal) -> SignalEncoder.Value? {
        switch state.value(of: binding.quantity) {
        case .number(let number):
            let amplitude = noiseAmplitude(binding.quantity)
            let noise = amplitude > 0 ? (random.unit() * 2 - 1) * amplitude : 0
            return .number(binding.clamp((number + noise) * binding.scale))
        case .state(let name):
            return binding.states[name]
        }
    }

    /// Sensor noise (uniform, ±) for a quantity in the current state; none for values that are exact on a real
    /// bus (switches, counts) and for a vehicle at rest where a sensor would read a clean zero.
    private func noiseAmplitude(_ quantity: VehicleQuantity) -> Double {
        switch quantity {
        case .vehicleSpeed: state.speed > 0.5 ? 0.04 : 0
        case .engineSpeed: state.engineRunning ? 3 : 0
        case .fuelPressure, .oilPressure: state.engineRunning ? 2 : 0
        case .batteryVoltage: 0.01
        case .latitude, .longitude: 0.000002
        case .cabinTemp, .ambientTemp: 0.05
        case .cargoTemp: 0.03
        default: 0
        }
    }

    private func timestamp(at elapsed: Double) -> CANTimestamp {
        Self.timestamp(start, plus: elapsed)
    }

    static func timestamp(_ start: CANTimestamp, plus elapsed: Double) -> CANTimestamp {
        let micros = Int64((elapsed * 1e6).rounded())
        var seconds = start.seconds + micros / 1_000_000
        var nanoseconds = Int64(start.nanoseconds) + (micros % 1_000_000) * 1000
        if nanoseconds >= 1_000_000_000 {
            seconds += 1
            nanoseconds -= 1_000_000_000
        }
        return CANTimestamp(seconds: seconds, nanoseconds: UInt32(nanoseconds), fractionDigits: 6)
    }

    /// Times are kept to whole microseconds, the resolution of a candump log, so that a written log reads back the
    /// same.
    static func microseconds(_ seconds: Double) -> Double {
        (seconds * 1e6).rounded() / 1e6
    }
}

/// One message the simulator sends.
public struct SimulatedMessage: Sendable, Equatable {
    public var name: String
    public var id: UInt32
    public var isExtended: Bool
    /// Seconds between frames.
    public var cycleTime: Double

    public init(name: String, id: UInt32, isExtended: Bool, cycleTime: Double) {
        self.name = name
        self.id = id
        self.isExtended = isExtended
        self.cycleTime = cycleTime
    }
}

/// Why a simulator could not be set up.
public struct SimulatorError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a code that can grow without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case invalidProfile = "invalid profile"
            case profileDoesNotFit = "profile does not fit the DBC"
            case nothingToSend = "nothing to send"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The profile's values are unusable (no gear ratios, a negative delay).
        public static let invalidProfile = Code(.invalidProfile)
        /// None of the profile's signals is in the DBC.
        public static let profileDoesNotFit = Code(.profileDoesNotFit)
        /// The DBC has no message the simulator could send.
        public static let nothingToSend = Code(.nothingToSend)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// A command's action waiting for its delay to pass.
struct PendingReaction: Sendable {
    var due: Double
    var sequence: Int
    var action: VehicleAction
    var argument: Double?
}

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and the same on every platform, unlike the system generator.
struct SplitMix64: Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
