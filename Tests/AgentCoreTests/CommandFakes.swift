import AgentCore
import AxleBase
import CANFrames
import Collection
import FirmwareProfile
import RemoteCommands
import Synchronization

/// Everything the fakes saw, in order: journal writes, answers, frames, so that a test can check which came first.
final class Timeline: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

struct FakeJournal: CommandJournaling {
    let timeline: Timeline
    func markStarted(id: String, atMillis: Int64) throws { timeline.append("journal IN_PROGRESS") }
    func finish(id: String, status: CommandStatus, reason: CommandReason?, text: String?, atMillis: Int64) throws {
        timeline.append("journal \(status.rawValue)")
    }
}

/// One status a command's sender would receive.
struct Answer: Equatable, CustomStringConvertible {
    var id: String
    var status: CommandStatus
    var reason: CommandReason?
    var text: String?
    var description: String { "\(status.rawValue) \(reason?.rawValue ?? "-") \(text ?? "")" }
}

final class FakeResponder: CommandStatusPublisher {
    let timeline: Timeline
    private let received = Mutex<[Answer]>([])
    private let resultsByID = Mutex<[String: JSONValue]>([:])
    init(timeline: Timeline) { self.timeline = timeline }

    func send(
        id: String, name: String?, status: CommandStatus, reason: CommandReason?, text: String?, result: JSONValue?,
        to reply: ReplyAddress
    ) {
        received.withLock { $0.append(Answer(id: id, status: status, reason: reason, text: text)) }
        if let result { resultsByID.withLock { $0[id] = result } }
        timeline.append("answer \(status.rawValue)")
    }

    var answers: [Answer] { received.withLock { $0 } }
    /// The result the last answer with one carried, by command id.
    func result(of id: String) -> JSONValue? { resultsByID.withLock { $0[id] } }
    func statuses(of id: String) -> [CommandStatus] { answers.filter { $0.id == id }.map(\.status) }
    func final(of id: String) -> Answer? { answers.last { $0.id == id && $0.status != .accepted && $0.status != .inProgress } }
}

/// A bus that records what is sent on it, or refuses with `failure`.
struct FakeSink: CommandFrameSink {
    let timeline: Timeline
    var failure: String?

    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError) {
        if let failure { throw CommandSendError(failure) }
        // "frame 528 1,1": the id and the data bytes.
        timeline.append("frame \(frame.id) \(frame.data.map { String($0) }.joined(separator: ","))")
    }
}

final class FakeRules: CollectionRuleSwitch {
    private let changes = Mutex<[String]>([])
    func requestRuleChange(name: String, enabled: Bool) { changes.withLock { $0.append("\(name)=\(enabled)") } }
    var requested: [String] { changes.withLock { $0 } }
}

final class FakeEntitlementStore: EntitlementStoring {
    private let stored = Mutex<[Entitlement]>([])

    init(_ entitlements: [Entitlement] = []) { stored.withLock { $0 = entitlements } }

    func all() throws -> [Entitlement] { stored.withLock { $0 } }
    func grant(_ entitlement: Entitlement) throws {
        stored.withLock { all in
            all.removeAll { $0.feature == entitlement.feature }
            all.append(entitlement)
        }
    }
    func setState(feature: String, _ state: Entitlement.State) throws {
        stored.withLock { all in
            for index in all.indices where all[index].feature == feature { all[index].state = state }
        }
    }
    func addActiveSeconds(feature: String, _ seconds: Double) throws {
        stored.withLock { all in
            for index in all.indices where all[index].feature == feature { all[index].activeSeconds += seconds }
        }
    }
    func entitlement(_ feature: String) -> Entitlement? { stored.withLock { $0.first { $0.feature == feature } } }
}

final class FakeFeaturePublisher: FeatureStatePublisher {
    private let documents = Mutex<[String]>([])
    func publishFeatures(_ document: JSONValue) { documents.withLock { $0.append(document.rendered()) } }
    var published: [String] { documents.withLock { $0 } }
}

/// The demo sedan's profile (Firmware-Profiles/demo-sedan), loaded once.
let demoSedan: FirmwareProfile = {
    // The repository's root: #filePath without "/Tests/AgentCoreTests/CommandFakes.swift".
    var root = "\(#filePath)"
    for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
    return try! ProfileLoader.load(directory: root + "/Firmware-Profiles/demo-sedan")
}()

/// An executor on the demo sedan with fakes and a fake clock, and a collection engine standing in for the pipeline.
final class ExecutorHarness {
    let clock = FakeClock()
    let timeline = Timeline()
    let responder: FakeResponder
    let rules = FakeRules()
    let store: FakeEntitlementStore
    let publisher = FakeFeaturePublisher()
    let executor: CommandExecutor
    let features: FeatureManager
    let engine = CollectionEngine(profile: demoSedan)
    private let conditions = LiveValues.watchedConditions(of: demoSedan)
    private var generation = 0
    private var engineMicros: Int64 = 1_000_000

    init(sinkFailure: String? = nil, entitlements: [Entitlement] = []) {
        responder = FakeResponder(timeline: timeline)
        store = FakeEntitlementStore(entitlements)
        executor = CommandExecutor(
            profile: demoSedan, sink: FakeSink(timeline: timeline, failure: sinkFailure), journal: FakeJournal(timeline: timeline),
            responder: responder, rules: rules, clock: clock, log: { _, _, _ in })
        features = FeatureManager(
            profile: demoSedan, vehicleID: "car-1", store: store, publisher: publisher, clock: clock, log: { _, _, _ in })
        executor.features = features
    }

    /// Values the vehicle sends now (by catalog name), as the pipeline would collect them.
    func vehicle(_ values: [String: Double]) {
        engineMicros += 10_000
        for (name, value) in values {
            let index = demoSedan.catalog.firstIndex { $0.name == name }!
            engine.ingest(signal: index, timeMicros: engineMicros, value: value)
        }
        engine.advance(toMicros: engineMicros)
    }

    /// What the pipeline would publish at the end of its turn.
    func live() -> LiveValues {
        generation += 1
        return LiveValues(engine: engine, catalogCount: demoSedan.catalog.count, conditions: conditions, generation: generation)
    }

    func command(_ name: String, _ parameters: [String: CommandValue] = [:], lifetime: Double = 60) -> AcceptedCommand {
        let now = clock.wallClockMillis()
        let request = CommandRequest(
            vehicle: "car-1", name: name, parameters: parameters, issuedAtMillis: now,
            expiresAtMillis: now + Int64(lifetime * 1000), counter: 1)
        return AcceptedCommand(
            command: VerifiedCommand(
                request: request, keyID: "fleet", receivedAtMillis: now, monotonicDeadline: clock.monotonicSeconds() + lifetime),
            reply: ReplyAddress())
    }

    var frames: [String] { timeline.all.filter { $0.hasPrefix("frame") } }
}

let speed = "Vehicle.Speed"
let gear = "Vehicle.Powertrain.Transmission.CurrentGear"
let trunkOpen = "Vehicle.Body.Trunk.Rear.IsOpen"
