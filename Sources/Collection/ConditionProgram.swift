import DBC
import FirmwareProfile

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kleene's three truth values: a comparison on a signal that is missing or stale is `unknown`, and `and`/`or`/`not`
/// carry that through, so a condition is `true` only when the known values prove it.
enum Truth: UInt8, Sendable {
    case `false`, `true`, unknown

    @inline(__always)
    init(_ value: Bool) { self = value ? .true : .false }

    var negated: Truth {
        switch self {
        case .false: .true
        case .true: .false
        case .unknown: .unknown
        }
    }

    /// `true` → true, `false` → false, `unknown` → nil: the form `CollectionEngine.evaluate` returns.
    var bool: Bool? {
        switch self {
        case .false: false
        case .true: true
        case .unknown: nil
        }
    }
}

/// What conditions and rules know about one catalog signal: its latest value and until when that value is fresh.
struct SignalState: Sendable {
    var value = 0.0
    var timeMicros: Int64 = 0
    /// The last instant (µs) at which the value is still fresh; `.min` while there is no value, so every instant is
    /// past it and one comparison answers "known and fresh".
    var freshUntil = Int64.min
    var hasValue = false
    /// The catalog's `staleAfterSeconds` in µs.
    let staleMicros: Int64
    /// Whether the newest value received was a reading, and when it came (`latestMicros`); `value` and `timeMicros`
    /// stay those of the last reading.
    var availability = SignalAvailability.valid
    var latestMicros = Int64.min

    init(staleMicros: Int64) {
        self.staleMicros = staleMicros
    }

    @inline(__always)
    func isFresh(at time: Int64) -> Bool { time <= freshUntil }

    @inline(__always)
    mutating func record(_ value: Double, at time: Int64) {
        self.value = value
        timeMicros = time
        freshUntil = time &+ staleMicros
        hasValue = true
        availability = .valid
        latestMicros = time
    }

    /// True while the newest value is not a reading and no older than the signal's staleness limit: where a rule
    /// would take a sample at `time`, it records a "not a reading" marker instead.
    @inline(__always)
    func hasCurrentNotReading(at time: Int64) -> Bool {
        availability != .valid && time <= latestMicros &+ staleMicros
    }

    /// A value that is not a reading: from now on the signal has no fresh value, exactly as if the last reading had
    /// turned stale, until the next reading.
    mutating func recordNotReading(_ availability: SignalAvailability, at time: Int64) {
        freshUntil = .min
        self.availability = availability
        latestMicros = time
    }
}

/// One operand of a compiled comparison.
enum CompiledOperand: Sendable {
    case signal(Int32)
    case number(Double)

    /// The operand's value at `time`, or nil when its signal has no fresh value.
    @inline(__always)
    func value(_ signals: [SignalState], at time: Int64) -> Double? {
        switch self {
        case .number(let number): return number
        case .signal(let index):
            let signal = signals[Int(index)]
            return signal.isFresh(at: time) ? signal.value : nil
        }
    }
}

/// A circle of an area, prepared so that a test is a few multiplications (no trigonometry per evaluation).
struct CircleBound: Sendable {
    var latitude: Double
    var longitude: Double
    /// cos(latitude): how much a degree of longitude shrinks at the circle's centre.
    var longitudeScale: Double
    /// The radius in degrees of latitude, squared.
    var radiusSquared: Double

    /// Mean Earth radius (IUGG), metres.
    static let earthRadius = 6_371_008.8

    init(_ circle: Area.Circle) {
        latitude = circle.latitude
        longitude = circle.longitude
        longitudeScale = cos(circle.latitude * .pi / 180)
        let radiusDegrees = circle.radiusMetres / (Self.earthRadius * .pi / 180)
        radiusSquared = radiusDegrees * radiusDegrees
    }

    /// Equirectangular distance around the centre: within a few metres of the great-circle distance for circles of
    /// up to tens of kilometres, which is what depots and customer sites are.
    @inline(__always)
    func contains(latitude: Double, longitude: Double) -> Bool {
        var east = longitude - self.longitude
        // The shorter way round, so that a circle on the antimeridian works.
        if east > 180 { east -= 360 } else if east < -180 { east += 360 }
        let x = east * longitudeScale
        let y = latitude - self.latitude
        return x * x + y * y <= radiusSquared
    }
}

/// One node of a compiled condition. Children always precede their parent, so evaluating a condition is one pass
/// over its node range from the first node to the last (the root).
enum NodeOperation: Sendable {
    case constant(Truth)
    case truthy(signal: Int32)
    /// `hysteresis` is 0 for == and !=; for the others it shifts the threshold while the node is true.
    case compare(lhs: CompiledOperand, op: ComparisonOperator, rhs: CompiledOperand, hysteresis: Double)
    case not(Int32)
    /// Children are `ConditionProgram.children[range]`.
    case and(Range<Int32>)
    case or(Range<Int32>)
    case rising(Int32)
    case falling(Int32)
    case sustained(Int32, micros: Int64)
    case inside(latitude: Int32, longitude: Int32, circles: Range<Int32>)
    case reports(signal: Int32, availability: SignalAvailability)
}

/// The state of one node between evaluations.
struct NodeState: Sendable {
    /// The node's result at the last evaluation (read by its parent in the same pass).
    var result = Truth.unknown
    /// A comparison's last result (its hysteresis state); rising/falling: the inner result at the last evaluation.
    var memory = Truth.unknown
    /// `sustained`: since when (µs) the inner condition has been true, or `.min`.
    var since = Int64.min
}

/// Conditions compiled into one flat node array, with each node's state (hysteresis, edges, durations) in an array
/// beside it, so that evaluating allocates nothing and the profile's `Condition` values stay immutable.
struct ConditionProgram: Sendable {
    private(set) var operations: [NodeOperation] = []
    private var children: [Int32] = []
    private var circles: [CircleBound] = []
    private var state: [NodeState] = []

    /// Compiles `condition` and returns its node range (the root is the last node). Names that do not resolve (a
    /// profile checked by `ProfileLoader` has none) compile to `unknown`. `reads` receives every signal read.
    mutating func append(
        _ condition: Condition, signalIndex: (String) -> Int?, areas: [Area], reads: inout [Int32]
    ) -> Range<Int> {
        let start = operations.count
        func read(_ name: String) -> Int32? {
            guard let index = signalIndex(name) else { return nil }
            let signal = Int32(index)
            if !reads.contains(signal) { reads.append(signal) }
            return signal
        }
        func add(_ operation: NodeOperation) -> Int32 {
            operations.append(operation)
            state.append(NodeState())
            return Int32(operations.count - 1)
        }
        func operand(_ operand: Operand) -> CompiledOperand? {
            switch operand {
            case .number(let number): return .number(number)
            case .signal(let name): return read(name).map(CompiledOperand.signal)
            }
        }
        func compile(_ condition: Condition) -> Int32 {
            switch condition {
            case .constant(let value):
                return add(.constant(Truth(value)))
            case .truthy(let name):
                guard let signal = read(name) else { return add(.constant(.unknown)) }
                return add(.truthy(signal: signal))
            case .comparison(let lhs, let op, let rhs, let hysteresis):
                guard let left = operand(lhs), let right = operand(rhs) else { return add(.constant(.unknown)) }
                let usesHysteresis = op != .equal && op != .notEqual && hysteresis > 0
                return add(.compare(lhs: left, op: op, rhs: right, hysteresis: usesHysteresis ? hysteresis : 0))
            case .not(let inner):
                return add(.not(compile(inner)))
            case .and(let parts), .or(let parts):
                let indices = parts.map(compile)
                let range = Int32(children.count)..<Int32(children.count + indices.count)
                children.append(contentsOf: indices)
                if case .and = condition { return add(.and(range)) }
                return add(.or(range))
            case .rising(let inner):
                return add(.rising(compile(inner)))
            case .falling(let inner):
                return add(.falling(compile(inner)))
            case .sustained(let inner, let seconds):
                return add(.sustained(compile(inner), micros: microseconds(seconds)))
            case .reports(let name, let availability):
                guard let signal = read(name) else { return add(.constant(.unknown)) }
                return add(.reports(signal: signal, availability: availability))
            case .inside(let name):
                guard let area = areas.first(where: { $0.name == name }),
                    let latitude = read(area.latitudeSignal), let longitude = read(area.longitudeSignal)
                else { return add(.constant(.unknown)) }
                let range = Int32(circles.count)..<Int32(circles.count + area.circles.count)
                circles.append(contentsOf: area.circles.map(CircleBound.init))
                return add(.inside(latitude: latitude, longitude: longitude, circles: range))
            }
        }
        _ = compile(condition)
        return start..<operations.count
    }

    /// Forgets the state of a condition's nodes, as if it had never been evaluated.
    mutating func reset(_ nodes: Range<Int>) {
        for index in nodes { state[index] = NodeState() }
    }

    /// Evaluates a condition at `time` and updates its nodes' state. A `sustained` node still waiting for its
    /// duration lowers `deadline` to the instant it will be complete.
    mutating func evaluate(_ nodes: Range<Int>, at time: Int64, signals: [SignalState], deadline: inout Int64) -> Truth {
        guard !nodes.isEmpty else { return .unknown }
        for index in nodes {
            let result: Truth
            switch operations[index] {
            case .constant(let value):
                result = value
            case .truthy(let signal):
                let signal = signals[Int(signal)]
                result = signal.isFresh(at: time) ? Truth(signal.value != 0) : .unknown
            case .compare(let lhs, let op, let rhs, let hysteresis):
                if let left = lhs.value(signals, at: time), let right = rhs.value(signals, at: time) {
                    // While true, the threshold moves by the hysteresis towards "false" (a Schmitt trigger).
                    let shift = state[index].memory == .true ? hysteresis : 0
                    switch op {
                    case .greater: result = Truth(left > right - shift)
                    case .greaterOrEqual: result = Truth(left >= right - shift)
                    case .less: result = Truth(left < right + shift)
                    case .lessOrEqual: result = Truth(left <= right + shift)
                    case .equal: result = Truth(left == right)
                    case .notEqual: result = Truth(left != right)
                    }
                } else {
                    result = .unknown
                }
                state[index].memory = result
            case .not(let inner):
                result = state[Int(inner)].result.negated
            case .and(let range):
                var value = Truth.true
                var child = Int(range.lowerBound)
                while child < Int(range.upperBound) {
                    let part = state[Int(children[child])].result
                    if part == .false {
                        value = .false
                        break
                    }
                    if part == .unknown { value = .unknown }
                    child += 1
                }
                result = value
            case .or(let range):
                var value = Truth.false
                var child = Int(range.lowerBound)
                while child < Int(range.upperBound) {
                    let part = state[Int(children[child])].result
                    if part == .true {
                        value = .true
                        break
                    }
                    if part == .unknown { value = .unknown }
                    child += 1
                }
                result = value
            case .rising(let inner):
                let current = state[Int(inner)].result
                // Only an observed false → true counts: a condition already true when first seen did not rise.
                result = current == .unknown ? .unknown : Truth(current == .true && state[index].memory == .false)
                state[index].memory = current
            case .falling(let inner):
                let current = state[Int(inner)].result
                result = current == .unknown ? .unknown : Truth(current == .false && state[index].memory == .true)
                state[index].memory = current
            case .sustained(let inner, let micros):
                switch state[Int(inner)].result {
                case .true:
                    if state[index].since == .min { state[index].since = time }
                    let complete = state[index].since &+ micros
                    if time >= complete {
                        result = .true
                    } else {
                        result = .false
                        if complete < deadline { deadline = complete }
                    }
                case .false:
                    state[index].since = .min
                    result = .false
                case .unknown:
                    // Not knowing is a break: the duration restarts when the condition is known true again.
                    state[index].since = .min
                    result = .unknown
                }
            case .reports(let signal, let availability):
                let state = signals[Int(signal)]
                // Judged on the newest value, reading or not, while it is no older than the signal's stale-after.
                if state.latestMicros == .min || time > state.latestMicros &+ state.staleMicros {
                    result = .unknown
                } else {
                    result = Truth(state.availability == availability)
                }
            case .inside(let latitude, let longitude, let range):
                let north = signals[Int(latitude)]
                let east = signals[Int(longitude)]
                if north.isFresh(at: time) && east.isFresh(at: time) {
                    var found = false
                    var circle = Int(range.lowerBound)
                    while !found && circle < Int(range.upperBound) {
                        found = circles[circle].contains(latitude: north.value, longitude: east.value)
                        circle += 1
                    }
                    result = Truth(found)
                } else {
                    result = .unknown
                }
            }
            state[index].result = result
        }
        return state[nodes.upperBound - 1].result
    }
}

/// Seconds as whole microseconds, clamped to ±2^52 µs (about 140 years) so that adding a duration to a time can
/// never overflow, whatever a profile says ("never stale" is written as a huge number).
func microseconds(_ seconds: Double) -> Int64 {
    let limit = 4_503_599_627_370_496.0  // 2^52
    guard !seconds.isNaN else { return 0 }
    return Int64(min(max((seconds * 1_000_000).rounded(), -limit), limit))
}
