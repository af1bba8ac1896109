import CANFrames

/// A database, or a chosen part of it, compiled for decoding frames quickly.
///
/// Compiling resolves everything that does not depend on the frame: the id → message lookup, each signal's byte
/// window and shift, its sign handling and scaling, and the order in which multiplexer switches are read. Decoding
/// a frame then allocates nothing; results go into a caller-owned `DecodedFrame` that is reused frame after frame.
public struct CompiledDecoder: Sendable {
    public let database: DBCDatabase
    public let messages: [CompiledMessage]
    /// Every compiled signal, grouped by message (`CompiledMessage.signalRange`), switches before their dependents.
    public let signals: [CompiledSignal]
    /// Standard ids 0...0x7FF → message index, or -1.
    private let standardLookup: [Int32]
    private let extendedLookup: [UInt32: Int32]
    /// J1939 messages by parameter group number, for frames whose priority or source address differ from the DBC.
    private let j1939Lookup: [UInt32: Int32]
    /// The most signals any compiled message has, to size scratch space once.
    public let maximumSignalsPerMessage: Int
    /// What the decode loop reads, parallel to `signals` and `messages`: trivially copyable, so reading one costs no
    /// reference counting (see `SignalPlan`).
    @usableFromInline let signalPlans: [SignalPlan]
    @usableFromInline let messagePlans: [MessagePlan]

    /// Compiles `database`; `messageNames` and `signalNames` (by name or DBC short name) choose a subset. Switches
    /// that chosen signals depend on are always compiled, and reported only when chosen too.
    public init(database: DBCDatabase, messageNames: Set<String>? = nil, signalNames: Set<String>? = nil) {
        self.database = database
        var messages: [CompiledMessage] = []
        var signals: [CompiledSignal] = []
        var standard = [Int32](repeating: -1, count: Int(CANFrame.maxStandardID) + 1)
        var extended: [UInt32: Int32] = [:]
        var j1939: [UInt32: Int32] = [:]
        var maximum = 0

        for (databaseIndex, message) in database.messages.enumerated() {
            if let messageNames, !messageNames.contains(message.name), !messageNames.contains(message.shortName) { continue }
            let chosen = message.signals.indices.filter { index in
                guard let signalNames else { return true }
                return signalNames.contains(message.signals[index].name) || signalNames.contains(message.signals[index].shortName)
            }
            if chosen.isEmpty && signalNames != nil { continue }
            let order = Self.decodeOrder(of: message, chosen: chosen)
            let first = signals.count
            let slotOfSignal = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
            for index in order {
                let signal = message.signals[index]
                var slot: Int32 = -1
                if let switchName = signal.multiplexing.multiplexerSignal,
                    let switchIndex = message.signals.firstIndex(where: { $0.shortName == switchName }),
                    let switchSlot = slotOfSignal[switchIndex]
                {
                    slot = Int32(switchSlot)
                }
                signals.append(CompiledSignal(
                    signal, databaseMessage: databaseIndex, databaseSignal: index, switchSlot: slot,
                    isReported: chosen.contains(index),
                    hasJ1939Indicators: message.isJ1939 && !J1939.isProprietary(pgn: message.pgn)))
            }
            let compiledIndex = Int32(messages.count)
            messages.append(CompiledMessage(
                name: message.name, id: message.id, isExtended: message.isExtended, size: message.size,
                isJ1939: message.isJ1939, databaseIndex: databaseIndex, signalRange: first..<signals.count,
                hasMultiplexing: signals[first...].contains { $0.plan.switchSlot >= 0 }))
            maximum = max(maximum, order.count)
            if message.isExtended {
                extended[message.id] = compiledIndex
                if message.isJ1939, j1939[message.pgn] == nil { j1939[message.pgn] = compiledIndex }
            } else {
                standard[Int(message.id)] = compiledIndex
            }
        }
        self.messages = messages
        self.signals = signals
        self.standardLookup = standard
        self.extendedLookup = extended
        self.j1939Lookup = j1939
        self.maximumSignalsPerMessage = maximum
        self.signalPlans = signals.map(\.plan)
        self.messagePlans = messages.map {
            MessagePlan(size: Int32($0.size), firstSignal: Int32($0.signalRange.lowerBound), endSignal: Int32($0.signalRange.upperBound), hasMultiplexing: $0.hasMultiplexing)
        }
    }

    /// Chosen signals plus the switches they need, each switch before the signals it controls.
    private static func decodeOrder(of message: DBCMessage, chosen: [Int]) -> [Int] {
        var needed = Set(chosen)
        var queue = chosen
        while let index = queue.popLast() {
            if let name = message.signals[index].multiplexing.multiplexerSignal,
                let switchIndex = message.signals.firstIndex(where: { $0.shortName == name }), !needed.contains(switchIndex)
            {
                needed.insert(switchIndex)
                queue.append(switchIndex)
            }
        }
        func depth(_ index: Int) -> Int {
            var depth = 0
            var current = message.signals[index].multiplexing.multiplexerSignal
            while let name = current, depth <= message.signals.count {
                depth += 1
                current = message.signals.first { $0.shortName == name }?.multiplexing.multiplexerSignal
            }
            return depth
        }
        return needed.sorted { (depth($0), $0) < (depth($1), $1) }
    }

    /// The compiled message a frame belongs to: by exact id, else (29-bit frames) by J1939 parameter group number.
    @inlinable
    public func messageIndex(id: UInt32, isExtended: Bool) -> Int? {
        if !isExtended {
            guard id <= CANFrame.maxStandardID else { return nil }
            let index = lookupStandard(id)
            return index >= 0 ? Int(index) : nil
        }
        if let index = lookupExtended(id) { return Int(index) }
        return lookupJ1939(J1939.pgn(ofID: id)).map(Int.init)
    }

    @usableFromInline
    func lookupStandard(_ id: UInt32) -> Int32 { standardLookup.withUnsafeBufferPointer { $0[Int(id)] } }

    @usableFromInline
    func lookupExtended(_ id: UInt32) -> Int32? { extendedLookup.isEmpty ? nil : extendedLookup[id] }

    @usableFromInline
    func lookupJ1939(_ pgn: UInt32) -> Int32? { j1939Lookup.isEmpty ? nil : j1939Lookup[pgn] }

    /// Decodes `frame` into `result` (cleared first). Remote and error frames carry no signals.
    @inlinable
    public func decode(_ frame: CANFrame, into result: inout DecodedFrame) -> DecodeOutcome {
        result.reset()
        guard frame.kind == .data, let index = messageIndex(id: frame.id, isExtended: frame.isExtended) else {
            return .unknownMessage
        }
        result.messageIndex = index
        var padded = PaddedPayload(frame.payload)
        return padded.withBytes { decodeSignals(message: index, data: $0, length: Int(frame.length), into: &result) }
    }

    /// Decodes a data frame given as its id and payload (up to 64 bytes), as read from a socket or a log.
    @inlinable
    public func decode(id: UInt32, isExtended: Bool, data: UnsafeRawBufferPointer, into result: inout DecodedFrame) -> DecodeOutcome {
        result.reset()
        guard let index = messageIndex(id: id, isExtended: isExtended) else { return .unknownMessage }
        result.messageIndex = index
        var padded = PaddedPayload()
        let length = min(data.count, CANPayload.capacity)
        return padded.withMutableBytes { bytes in
            if length > 0 { bytes.copyMemory(from: data.baseAddress!, byteCount: length) }
            return decodeSignals(message: index, data: UnsafeRawPointer(bytes), length: length, into: &result)
        }
    }

    /// Decodes a payload for a known message: `data` must hold at least `length + 8` readable bytes (zero beyond
    /// `length`), so that every signal reads one unaligned 64-bit word without a bounds check.
    @inlinable
    func decodeSignals(message index: Int, data: UnsafeRawPointer, length: Int, into result: inout DecodedFrame) -> DecodeOutcome {
        let message = messagePlans.withUnsafeBufferPointer { $0[index] }
        guard length >= Int(message.size) else {
            result.error = .tooShort(length: length, expected: Int(message.size))
            return .failed
        }
        let first = Int(message.firstSignal)
        let count = Int(message.endSignal) - first
        result.reserve(count)
        let produced = signalPlans.withUnsafeBufferPointer { all in
            result.storage.withUnsafeMutableBufferPointer { out in
                message.hasMultiplexing
                    ? decodeMultiplexed(first: first, count: count, all, data: data, length: length, into: out, slots: &result.slots)
                    : decodePlain(first: first, count: count, all, data: data, length: length, into: out)
            }
        }
        result.signalCount = produced
        return .decoded
    }

    @inlinable
    func decodePlain(
        first: Int, count: Int, _ all: UnsafeBufferPointer<SignalPlan>, data: UnsafeRawPointer, length: Int,
        into out: UnsafeMutableBufferPointer<DecodedSignal>
    ) -> Int {
        var produced = 0
        // Each plan is read where it lies: binding `all[position]` to a local copied its 144 bytes with memcpy, and
        // the byte loads that followed stalled on that copy (perf annotate: 40 % of this function's samples).
        let plans = all.baseAddress.unsafelyUnwrapped
        for position in first..<(first + count) {
            guard Int(plans[position].requiredBytes) <= length, plans[position].isReported else { continue }
            let raw = plans[position].extractRaw(from: data)
            let value = plans[position].physicalValue(raw)
            out[produced] = DecodedSignal(
                signalIndex: Int32(position), rawBits: raw, value: value,
                availability: plans[position].availability(raw: raw, value: value))
            produced += 1
        }
        return produced
    }

    /// Decodes a message with multiplexing: each signal is read only when its switch is present and selects it.
    /// Switches come before their dependents (see `decodeOrder`), so one pass suffices.
    @usableFromInline
    func decodeMultiplexed(
        first: Int, count: Int, _ all: UnsafeBufferPointer<SignalPlan>, data: UnsafeRawPointer, length: Int,
        into out: UnsafeMutableBufferPointer<DecodedSignal>, slots: inout [UInt64?]
    ) -> Int {
        var produced = 0
        // Plans are read in place, as in `decodePlain`.
        let plans = all.baseAddress.unsafelyUnwrapped
        for slot in 0..<count {
            let position = first + slot
            slots[slot] = nil
            guard Int(plans[position].requiredBytes) <= length else { continue }
            let switchSlot = Int(plans[position].switchSlot)
            if switchSlot >= 0 {
                guard let switchValue = slots[switchSlot] else { continue }
                let switchSigned = plans[first + switchSlot].isSigned
                if !plans[position].firstRangeSelects(switchValue: switchValue, switchSigned: switchSigned) {
                    guard plans[position].moreSwitchValues, !(switchSigned && Int64(bitPattern: switchValue) < 0),
                        signals[position].switchValues.contains(where: { $0.contains(switchValue) })
                    else { continue }
                }
            }
            let raw = plans[position].extractRaw(from: data)
            slots[slot] = raw
            if plans[position].isReported {
                let value = plans[position].physicalValue(raw)
                out[produced] = DecodedSignal(
                    signalIndex: Int32(position), rawBits: raw, value: value,
                    availability: plans[position].availability(raw: raw, value: value))
                produced += 1
            }
        }
        return produced
    }

    /// The `VAL_` label of a decoded value, if the DBC gives one.
    public func label(of decoded: DecodedSignal) -> String? {
        let signal = signals[Int(decoded.signalIndex)]
        guard signal.hasLabels else { return nil }
        let labels = database.messages[signal.databaseMessage].signals[signal.databaseSignal].valueLabels
        switch signal.rawValue(decoded.rawBits) {
        case .integer(let value): return labels[value]
        case .float(let value):
            guard value.rounded() == value, abs(value) < 1.7e38 else { return nil }
            return labels[Int128(value)]
        }
    }

    /// The name of the signal a decoded value belongs to.
    public func name(of decoded: DecodedSignal) -> String {
        signals[Int(decoded.signalIndex)].name
    }

    /// The DBC signal a decoded value belongs to.
    public func dbcSignal(of decoded: DecodedSignal) -> DBCSignal {
        let signal = signals[Int(decoded.signalIndex)]
        return database.messages[signal.databaseMessage].signals[signal.databaseSignal]
    }
}

/// Whether a frame was decoded.
public enum DecodeOutcome: Sendable, Equatable {
    case decoded
    /// The frame's id matches no compiled message.
    case unknownMessage
    /// The id matches, but the frame cannot be decoded (`DecodedFrame.error` says why).
    case failed
}

/// Why a frame of a known message could not be decoded.
public enum DecodeFailure: Sendable, Equatable, CustomStringConvertible {
    case tooShort(length: Int, expected: Int)

    public var description: String {
        switch self {
        case .tooShort(let length, let expected): "frame has \(length) bytes; the message needs \(expected)"
        }
    }
}

public struct CompiledMessage: Sendable {
    public let name: String
    public let id: UInt32
    public let isExtended: Bool
    public let size: Int
    public let isJ1939: Bool
    /// Index in `DBCDatabase.messages`.
    public let databaseIndex: Int
    /// This message's signals in `CompiledDecoder.signals`.
    public let signalRange: Range<Int>
    public let hasMultiplexing: Bool
}

/// Whether a decoded value is a reading (docs/dbc.md, "Values that are not readings").
public enum SignalAvailability: UInt8, Sendable, Equatable {
    /// A reading.
    case valid
    /// The sender says it has no value (J1939's "not available"), or the value lies outside the DBC's range.
    case notAvailable
    /// The sender signals a fault in place of a value (J1939's "error indicator").
    case error

    /// As JSON and the control socket spell it: `valid`, `not_available`, `error`.
    public var name: String {
        switch self {
        case .valid: "valid"
        case .notAvailable: "not_available"
        case .error: "error"
        }
    }

    /// As people read it: `not available`, `error` (and `valid`).
    public var text: String {
        switch self {
        case .valid: "valid"
        case .notAvailable: "not available"
        case .error: "error"
        }
    }

    /// The availability `name` spells, if any.
    public init?(name: String) {
        switch name {
        case "valid": self = .valid
        case "not_available": self = .notAvailable
        case "error": self = .error
        default: return nil
        }
    }
}

/// One decoded signal: which one, its raw bits, its physical value as a double, and whether that is a reading.
public struct DecodedSignal: Sendable, Equatable {
    /// Index in `CompiledDecoder.signals`.
    public var signalIndex: Int32
    /// Whether `value` is a reading; raw bits and value are kept either way.
    public var availability: SignalAvailability
    /// The raw value's bits: two's complement (sign-extended to 64 bits) for signed integers, IEEE bits for floats.
    public var rawBits: UInt64
    /// `raw × factor + offset`, in double precision.
    public var value: Double

    @inlinable
    public init(signalIndex: Int32, rawBits: UInt64, value: Double, availability: SignalAvailability = .valid) {
        self.signalIndex = signalIndex
        self.availability = availability
        self.rawBits = rawBits
        self.value = value
    }
}

/// Where decoding puts its results; reuse one across frames so that decoding allocates nothing.
public struct DecodedFrame: Sendable, RandomAccessCollection {
    /// Index in `CompiledDecoder.messages`, when the frame's id matched.
    public var messageIndex: Int?
    public var error: DecodeFailure?
    /// Output slots, written in place by the decoder; only the first `count` are this frame's.
    @usableFromInline var storage: [DecodedSignal]
    @usableFromInline var signalCount = 0
    /// Raw values of the signals read so far in a multiplexed message, by slot; nil when not present.
    @usableFromInline var slots: [UInt64?]

    public init(capacity: Int = 64) {
        storage = [DecodedSignal](repeating: DecodedSignal(signalIndex: 0, rawBits: 0, value: 0), count: capacity)
        slots = [UInt64?](repeating: nil, count: capacity)
    }

    /// The signals present in the frame, in decode order (switches first). Inactive multiplexed signals are absent.
    /// (`DecodedFrame` is itself a collection of them, which hot loops should prefer: a slice costs reference
    /// counting.)
    public var signals: ArraySlice<DecodedSignal> { storage[0..<signalCount] }

    public var startIndex: Int { 0 }
    public var endIndex: Int { signalCount }

    @inlinable
    public subscript(position: Int) -> DecodedSignal {
        storage.withUnsafeBufferPointer { $0[position] }
    }

    @inlinable
    mutating func reset() {
        messageIndex = nil
        error = nil
        signalCount = 0
    }

    /// Makes room for a message of `signalCount` signals (grows once, for the largest message seen).
    @inlinable
    mutating func reserve(_ signalCount: Int) {
        if storage.count < signalCount {
            storage = [DecodedSignal](repeating: DecodedSignal(signalIndex: 0, rawBits: 0, value: 0), count: signalCount)
            slots = [UInt64?](repeating: nil, count: signalCount)
        }
    }
}

/// A message reduced to what the decode loop reads.
@usableFromInline
struct MessagePlan: Sendable {
    @usableFromInline let size: Int32
    @usableFromInline let firstSignal: Int32
    @usableFromInline let endSignal: Int32
    @usableFromInline let hasMultiplexing: Bool

    @usableFromInline
    init(size: Int32, firstSignal: Int32, endSignal: Int32, hasMultiplexing: Bool) {
        self.size = size
        self.firstSignal = firstSignal
        self.endSignal = endSignal
        self.hasMultiplexing = hasMultiplexing
    }
}

/// A payload copied into 72 zeroed bytes: 64 for the largest CAN FD frame plus 8 so that a signal near the end
/// can still be read with one 64-bit load.
@usableFromInline
struct PaddedPayload {
    @usableFromInline var payload: CANPayload
    @usableFromInline var tail: UInt64 = 0

    @inlinable
    init(_ payload: CANPayload = CANPayload()) {
        self.payload = payload
    }

    @inlinable
    mutating func withMutableBytes<R>(_ body: (UnsafeMutableRawPointer) -> R) -> R {
        withUnsafeMutableBytes(of: &self) { body($0.baseAddress!) }
    }

    @inlinable
    mutating func withBytes<R>(_ body: (UnsafeRawPointer) -> R) -> R {
        withUnsafeBytes(of: &self) { body($0.baseAddress!) }
    }
}
