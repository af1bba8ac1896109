import AxleBase
import CANFrames
import Diagnostics

/// An alert the diagnostics service publishes (as an event record of class alert, docs/diagnostics.md): its name and
/// attributes, all text.
public struct DiagnosticAlert: Sendable, Equatable {
    public var name: String
    /// On the frames' clock (Unix µs).
    public var timeMicros: Int64
    public var attributes: [String: String]

    public init(name: String, timeMicros: Int64, attributes: [String: String]) {
        self.name = name
        self.timeMicros = timeMicros
        self.attributes = attributes
    }
}

/// The active faults of one ECU or J1939 node as last read, and what changed since the reading before: the alert
/// the agent publishes when codes appear or clear, or a lamp (the MIL) changes.
public struct FaultSet: Sendable, Equatable {
    /// Fault codes as people write them: "P0217", "P0217-00" (UDS, with the failure type), "SPN 110 FMI 0" (J1939).
    public var codes: [String]
    /// OBD-II: codes of mode 07 (pending, not yet confirmed).
    public var pending: [String]
    /// Lamp name → state: `mil` "on"/"off" for OBD-II and UDS; J1939's four lamps for DM1.
    public var lamps: [String: String]
    /// J1939 only: each fault's SPN, FMI and occurrence count.
    public var j1939Faults: [J1939DiagnosticMessage.Fault]

    public init(codes: [String], pending: [String] = [], lamps: [String: String] = [:], j1939Faults: [J1939DiagnosticMessage.Fault] = []) {
        self.codes = codes
        self.pending = pending
        self.lamps = lamps
        self.j1939Faults = j1939Faults
    }

    public static let none = FaultSet(codes: [])

    /// Equal for an alert's purpose: the same codes and lamps (a J1939 occurrence count that rises is not a change).
    func sameFaults(as other: FaultSet) -> Bool {
        Set(codes) == Set(other.codes) && Set(pending) == Set(other.pending) && lamps == other.lamps
    }
}

/// Remembers each source's fault set and says when one changed. The first reading of a source counts as a change
/// only when it has faults (an agent that starts finds a car with none: nothing to say).
public struct FaultTracker: Sendable {
    private var sets: [String: FaultSet] = [:]

    public init() {}

    /// The alert event for `set` read from `source` at `timeMicros`, nil when nothing changed.
    public mutating func update(
        source: String, kind: String, set: FaultSet, timeMicros: Int64, attributes extra: [String: String] = [:]
    ) -> DiagnosticAlert? {
        let previous = sets[source] ?? .none
        sets[source] = set
        guard !set.sameFaults(as: previous) else { return nil }
        if previous == .none, set.codes.isEmpty, set.pending.isEmpty, set.lamps.values.allSatisfy({ $0 == "off" }) {
            return nil
        }
        let added = set.codes.filter { !previous.codes.contains($0) }
        let cleared = previous.codes.filter { !set.codes.contains($0) }
        var attributes = extra
        attributes["source"] = source
        attributes["codes"] = set.codes.joined(separator: ",")
        attributes["count"] = String(set.codes.count)
        attributes["added"] = added.joined(separator: ",")
        attributes["cleared"] = cleared.joined(separator: ",")
        if !set.pending.isEmpty || !previous.pending.isEmpty { attributes["pending"] = set.pending.joined(separator: ",") }
        for (lamp, state) in set.lamps { attributes[lamp] = state }
        if !set.j1939Faults.isEmpty || kind == Self.dm1Event {
            // The whole list as JSON objects, as `axle diag decode` writes them.
            attributes["faults"] = "[" + set.j1939Faults.map {
                "{\"spn\":\($0.spn),\"fmi\":\($0.fmi),\"oc\":\($0.occurrenceCount)}"
            }.joined(separator: ",") + "]"
        }
        return DiagnosticAlert(name: kind, timeMicros: timeMicros, attributes: attributes)
    }

    /// The last set read from `source`.
    public func current(_ source: String) -> FaultSet? { sets[source] }

    /// Every source and its set, by name.
    public var all: [(source: String, set: FaultSet)] { sets.keys.sorted().map { ($0, sets[$0]!) } }

    /// OBD-II and UDS fault codes changed.
    public static let faultsEvent = "diagnostics.faults_changed"
    /// A J1939 node's DM1 (active faults and lamps) changed.
    public static let dm1Event = "diagnostics.dm1_changed"
}

/// J1939 DM1 heard on a bus: single-frame DM1 (one fault) and DM1 by BAM (more), reassembled with Diagnostics'
/// transport receiver. A node silent for `silenceSeconds` has no active fault any more.
public struct DM1Listener: Sendable {
    public let bus: String
    public let silenceSeconds: Double
    private var transport = J1939TransportReceiver()
    private var lastHeard: [UInt8: Double] = [:]
    /// Transport transfers that ended without a message, and DM1 that could not be read.
    public private(set) var errors = 0

    public init(bus: String, silenceSeconds: Double) {
        self.bus = bus
        self.silenceSeconds = silenceSeconds
    }

    /// A DM1 heard: the sending node and its faults.
    public struct Heard: Sendable, Equatable {
        public var source: UInt8
        public var message: J1939DiagnosticMessage
    }

    /// Feeds one frame heard on the bus at monotonic `now`.
    public mutating func receive(_ frame: CANFrame, now: Double) -> Heard? {
        guard frame.interface == bus, frame.isExtended, frame.kind == .data else { return nil }
        let id = J1939Identifier(canID: frame.id)
        var data: [UInt8]?
        var source = id.source
        switch id.pgn {
        case J1939PGN.dm1:
            data = frame.data
        case J1939PGN.transportConnection, J1939PGN.transportData:
            let step = transport.receive(canID: frame.id, data: frame.data, now: now)
            if step.error != nil { errors += 1 }
            if let message = step.message, message.pgn == J1939PGN.dm1 {
                data = message.data
                source = message.source
            }
        default:
            return nil
        }
        guard let data else { return nil }
        do {
            let message = try J1939DiagnosticMessage(data: data)
            lastHeard[source] = now
            return Heard(source: source, message: message)
        } catch {
            errors += 1
            return nil
        }
    }

    /// Nodes that have sent no DM1 for `silenceSeconds`: their faults are over. Also ends overdue transfers.
    public mutating func expire(now: Double) -> [UInt8] {
        errors += transport.expire(now: now).count
        let silent = lastHeard.filter { now - $0.value >= silenceSeconds }.map(\.key).sorted()
        for source in silent { lastHeard[source] = nil }
        return silent
    }

    /// The fault set of a DM1, for `FaultTracker`.
    public static func faultSet(_ message: J1939DiagnosticMessage) -> FaultSet {
        let lamps = message.lamps
        return FaultSet(
            codes: message.faults.map { "SPN \($0.spn) FMI \($0.fmi)" },
            lamps: [
                "mil": lamps.malfunctionIndicator.rawValue, "red_stop": lamps.redStop.rawValue,
                "amber_warning": lamps.amberWarning.rawValue, "protect": lamps.protect.rawValue,
            ],
            j1939Faults: message.faults)
    }
}
