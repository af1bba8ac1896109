import AgentCore
import AxleBase
import CANFrames
import Collection
import DBC
import FirmwareProfile
import Outbox
import TelemetryPayload

/// The agent's hot path, on one thread: frames → the bus's DBC decoder → the collection engine → telemetry batches
/// (recorder) and triggered events (critical or alert records).
///
/// Not `Sendable`: the pipeline thread owns it. What other threads need (live values for `axle signals`, counters for
/// `axle status`, rule switches) goes through `AgentState`.
final class Pipeline {
    /// One logical bus: its decoder and, per compiled signal, the catalog signal it feeds (-1: not in the catalog)
    /// and whether every value of it is a reading (the catalog entry's `range = "ignore"`).
    struct BusRoute {
        let name: String
        let decoder: CompiledDecoder
        /// Changed only when the receiver takes a signal over from the bus or gives it back (`[location] prefer`).
        var catalogIndex: [Int32]
        let acceptsEveryValue: [Bool]
    }

    private(set) var routes: [BusRoute]
    /// Which source feeds a signal both a bus and the receiver give; per such catalog signal, where the bus's
    /// decoders map it (route, compiled signal), so that it can be silenced and restored.
    private var arbiter: LocationArbiter
    private let busPositions: [Int: [(route: Int, signal: Int)]]
    /// OS interface name → bus index. Frames from a source with one bus need no lookup.
    private let busByInterface: [String: Int]
    private let engine: CollectionEngine
    private let recorder: TelemetryRecorder
    private let events: AgentEvents
    private let state: AgentState
    /// What a window sample of each catalog signal is described as in an event.
    private let catalogDescriptions: [SignalDescription]
    private var decoded: DecodedFrame
    private var framesPerBus: [Int]
    private var statistics = AgentState.PipelineCounters()
    /// What the recorders of earlier pipelines of this run counted (before a configuration update).
    private let recorderEarlier: TelemetryRecorder.Statistics
    private var lastPublished = 0.0
    private var latestValues: [AgentState.LiveValue?]
    /// Per bus: its J1939 multi-packet transfers, when its DBC describes a message longer than one frame.
    private var transfers: [J1939Transfers?]

    init(
        profile: FirmwareProfile, interfaces: [String: String], outbox: OutboxStore, topics: UplinkTopics,
        configuration: AgentConfiguration, events: AgentEvents, state: AgentState, onAppended: @escaping @Sendable () -> Void,
        log: AgentLog, carrying earlier: AgentState.PipelineCounters = AgentState.PipelineCounters(), earlierFramesPerBus: [Int] = []
    ) {
        var routes: [BusRoute] = []
        for bus in profile.buses {
            let entries = profile.catalog.filter { $0.bus == bus.name }
            let decoder = CompiledDecoder(database: bus.database, messageNames: Set(entries.map(\.message)))
            var indexByName: [String: Int32] = [:]
            for (index, entry) in profile.catalog.enumerated() where entry.bus == bus.name {
                indexByName["\(entry.message).\(entry.signal)"] = Int32(index)
            }
            let catalogIndex = decoder.signals.map { signal in
                indexByName["\(decoder.database.messages[signal.databaseMessage].name).\(signal.name)"] ?? -1
            }
            let acceptsEveryValue = catalogIndex.map { $0 >= 0 && profile.catalog[Int($0)].range == .ignore }
            routes.append(BusRoute(name: bus.name, decoder: decoder, catalogIndex: catalogIndex, acceptsEveryValue: acceptsEveryValue))
        }
        self.routes = routes
        var busPositions: [Int: [(route: Int, signal: Int)]] = [:]
        for (routeIndex, route) in routes.enumerated() {
            for (signal, catalog) in route.catalogIndex.enumerated() where catalog >= 0 && profile.catalog[Int(catalog)].location != nil {
                busPositions[Int(catalog), default: []].append((routeIndex, signal))
            }
        }
        self.busPositions = busPositions
        self.arbiter = LocationArbiter(profile: profile)
        var busByInterface: [String: Int] = [:]
        for (index, bus) in profile.buses.enumerated() {
            if let interface = interfaces[bus.name] { busByInterface[interface] = index }
        }
        self.busByInterface = busByInterface
        self.engine = CollectionEngine(profile: profile)
        self.catalogDescriptions = profile.catalog.map { entry in
            Self.scaling(of: entry, in: routes, profile: profile).map {
                SignalDescription(name: entry.name, unit: entry.unit, factor: $0.factor, offset: $0.offset)
            } ?? SignalDescription(name: entry.name, unit: entry.unit)
        }
        let series = engine.series.map { [catalogDescriptions] series in
            var description = catalogDescriptions[series.catalogIndex]
            description.name = series.name
            // Counts and means are not on the signal's DBC scaling: plain numbers (the builder keeps exact ones compact).
            if series.function == .count || series.function == .mean {
                description.factor = 1
                description.offset = 0
            }
            return description
        }
        self.recorder = TelemetryRecorder(
            series: series, outbox: outbox, topics: topics, profile: profile.name, policy: configuration.uplink,
            format: configuration.payloadFormat, wallClockMillis: wallClockMillis, onAppended: onAppended,
            log: log.writer(.warning, "recorder"))
        self.events = events
        self.state = state
        self.decoded = DecodedFrame(capacity: max(1, routes.map(\.decoder.maximumSignalsPerMessage).max() ?? 1))
        // After a configuration update the counts go on from the previous pipeline's (the buses are the same: an
        // update cannot change them), so that `axle status` and the exit summary count the whole run.
        self.statistics = earlier
        self.recorderEarlier = earlier.recorder
        self.framesPerBus = earlierFramesPerBus.count == routes.count ? earlierFramesPerBus : Array(repeating: 0, count: routes.count)
        self.latestValues = Array(repeating: nil, count: profile.catalog.count)
        self.transfers = profile.buses.map { J1939Transfers.isNeeded(for: $0.database) ? J1939Transfers() : nil }
    }

    private static func scaling(of entry: CatalogSignal, in routes: [BusRoute], profile: FirmwareProfile) -> (factor: Double, offset: Double)? {
        guard let route = routes.first(where: { $0.name == entry.bus }) else { return nil }
        return route.decoder.signals.first {
            $0.name == entry.signal && route.decoder.database.messages[$0.databaseMessage].name == entry.message
        }.map { ($0.factor, $0.offset) }
    }

    /// Decodes and collects a batch of frames, then writes what the collection produced.
    func process(_ frames: [CANFrame]) {
        // The hot loop works on locals: a class's stored properties cost an exclusivity check (and a bus route copied
        // out of the array a retain and release of its decoder) per access, about a fifth of the time per frame.
        var decoded = DecodedFrame(capacity: 0)
        swap(&decoded, &self.decoded)
        var counters = statistics
        var perBus = framesPerBus
        var newest = Int64.min
        if routes.count == 1 {
            let route = routes[0]
            for frame in frames {
                perBus[0] &+= 1
                if !collect(frame, route: route, decoded: &decoded, counters: &counters, newest: &newest) {
                    collectTransfer(frame, bus: 0, route: route, decoded: &decoded, counters: &counters, newest: &newest)
                }
            }
        } else {
            for frame in frames {
                guard let bus = busByInterface[frame.interface] else {
                    counters.unroutedFrames += 1
                    continue
                }
                perBus[bus] &+= 1
                if !collect(frame, route: routes[bus], decoded: &decoded, counters: &counters, newest: &newest) {
                    collectTransfer(frame, bus: bus, route: routes[bus], decoded: &decoded, counters: &counters, newest: &newest)
                }
            }
        }
        counters.frames += frames.count
        swap(&decoded, &self.decoded)
        statistics = counters
        framesPerBus = perBus
        if newest != .min { engine.advance(toMicros: newest) }
        collectOutput()
        if newest != .min { recorder.advance(frameMicros: newest) }
    }

    /// Values that came from elsewhere than a bus (the GNSS receiver), stamped on the agent's clock: collected like
    /// decoded signals, then the clock advances to the newest so that a parked car's position is sent without a frame.
    func ingest(external samples: [ExternalSample]) {
        guard !samples.isEmpty else { return }
        var newest = Int64.min
        for sample in samples {
            let decision = arbiter.decide(sample)
            if let silence = decision.silenceBus {
                for position in busPositions[sample.catalogIndex] ?? [] {
                    routes[position.route].catalogIndex[position.signal] = silence ? -1 : Int32(sample.catalogIndex)
                }
            }
            guard decision.ingest else { continue }
            if let value = sample.value {
                engine.ingest(signal: sample.catalogIndex, timeMicros: sample.timeMicros, value: value)
            } else {
                // The fix is lost: unknown to conditions from now on, a "not available" marker instead of a sample.
                engine.ingestNotReading(signal: sample.catalogIndex, timeMicros: sample.timeMicros, availability: .notAvailable)
            }
            statistics.externalSamples += 1
            newest = max(newest, sample.timeMicros)
        }
        guard newest != .min else { return }
        engine.advance(toMicros: newest)
        collectOutput()
        recorder.advance(frameMicros: newest)
    }

    /// Decodes and collects one frame; false when the decoder did not know it (counted as undecoded).
    @inline(__always)
    private func collect(
        _ frame: CANFrame, route: borrowing BusRoute, decoded: inout DecodedFrame, counters: inout AgentState.PipelineCounters,
        newest: inout Int64
    ) -> Bool {
        guard route.decoder.decode(frame, into: &decoded) == .decoded else {
            counters.undecodedFrames += 1
            return false
        }
        let micros = frame.timestamp.seconds &* 1_000_000 &+ Int64(frame.timestamp.nanoseconds / 1000)
        newest = max(newest, micros)
        for signal in decoded.signals {
            let catalog = route.catalogIndex[Int(signal.signalIndex)]
            guard catalog >= 0 else { continue }
            if signal.availability == .valid || route.acceptsEveryValue[Int(signal.signalIndex)] {
                engine.ingest(signal: Int(catalog), timeMicros: micros, value: signal.value)
            } else {
                // J1939 "not available"/"error" or outside the DBC's range: unknown to the engine, never a sample.
                engine.ingestNotReading(signal: Int(catalog), timeMicros: micros, availability: signal.availability)
            }
            counters.decodedSignals += 1
        }
        return true
    }

    /// An undecoded frame of a bus with J1939 multi-packet messages: when it completes a transfer, the whole parameter
    /// group is decoded and collected as one frame (and no longer counted as undecoded).
    private func collectTransfer(
        _ frame: CANFrame, bus: Int, route: borrowing BusRoute, decoded: inout DecodedFrame,
        counters: inout AgentState.PipelineCounters, newest: inout Int64
    ) {
        guard transfers[bus] != nil, let whole = transfers[bus]!.reassemble(frame) else { return }
        counters.j1939Transfers += 1
        // The packets were counted as undecoded frames; the group itself, when its DBC does not describe it, is not
        // counted again.
        if !collect(whole, route: route, decoded: &decoded, counters: &counters, newest: &newest) {
            counters.undecodedFrames -= 1
        }
    }

    /// After each batch, while the command service watches a precondition or a confirmation: the values just
    /// collected go to it (one atomic load per turn when nothing is watched).
    func publishLiveValues(to board: LiveValueBoard) {
        if board.isWanted { board.publish(from: engine) }
    }

    /// Time passes on the wall clock: closes a batch left open by a silent bus, applies rule switches, and publishes
    /// the live state for the control socket (at most four times a second).
    func tick(wallSeconds: Double) {
        for change in state.takeRuleChanges() {
            do {
                try engine.setEnabled(change.enabled, rule: change.name)
            } catch {
                state.recordProblem(component: "collection", "\(error)")
            }
        }
        recorder.tick()
        guard wallSeconds - lastPublished >= 0.25 else { return }
        lastPublished = wallSeconds
        for index in latestValues.indices {
            // A value that is not a reading is shown as such, not as the last reading before it.
            if let newest = engine.latestAvailability(signal: index), newest.availability != .valid {
                latestValues[index] = AgentState.LiveValue(value: nil, timeMicros: newest.timeMicros, availability: newest.availability)
            } else {
                latestValues[index] = engine.latest(signal: index).map {
                    AgentState.LiveValue(value: $0.value, timeMicros: $0.timeMicros, availability: .valid)
                }
            }
        }
        statistics.recorder = recorderStatistics
        state.publish(
            counters: statistics, framesPerBus: framesPerBus, values: latestValues, nowMicros: engine.nowMicros,
            rules: engine.ruleStates.map { AgentState.RuleState(name: $0.name, kind: $0.kind, enabled: $0.enabled) })
    }

    /// End of the source or shutdown: the open batch goes to the outbox.
    func finish() {
        collectOutput()
        recorder.flush()
        lastPublished = 0
        tick(wallSeconds: monotonicSeconds())
    }

    private func collectOutput() {
        engine.drainSamples { sample in
            switch sample.availability {
            case .valid: recorder.append(series: Int(sample.series), timeMicros: sample.timeMicros, value: sample.value)
            case .notAvailable: recorder.appendNotReading(series: Int(sample.series), timeMicros: sample.timeMicros, kind: .notAvailable)
            case .error: recorder.appendNotReading(series: Int(sample.series), timeMicros: sample.timeMicros, kind: .error)
            }
        }
        for triggered in engine.drainEvents() {
            statistics.eventsTriggered += 1
            let samples = triggered.samples.map {
                WindowSample(signal: catalogDescriptions[$0.catalogIndex], timeMicros: $0.timeMicros, value: $0.value)
            }
            let event = TelemetryEvent(
                name: triggered.name, timeMicros: triggered.triggerMicros, priority: triggered.priority.rawValue,
                attributes: ["condition": triggered.conditionText],
                window: EventWindow(
                    preTriggerMicros: triggered.preTriggerMicros, postTriggerMicros: triggered.postTriggerMicros,
                    samples: samples))
            let sequence = events.triggered(event, priority: triggered.priority)
            state.recordEvent(
                AgentState.EventRecord(
                    name: triggered.name, priority: triggered.priority.rawValue, timeMillis: triggered.triggerMicros / 1000,
                    condition: triggered.conditionText, samples: samples.count, sequence: sequence))
        }
    }

    var counters: AgentState.PipelineCounters {
        var counters = statistics
        counters.recorder = recorderStatistics
        return counters
    }

    /// This pipeline's frames per bus, with the earlier pipelines' of this run.
    var busFrames: [Int] { framesPerBus }

    private var recorderStatistics: TelemetryRecorder.Statistics {
        var statistics = recorder.statistics
        statistics.samples += recorderEarlier.samples
        statistics.records += recorderEarlier.records
        statistics.samplesRefused += recorderEarlier.samplesRefused
        if statistics.lastError == nil { statistics.lastError = recorderEarlier.lastError }
        return statistics
    }
}
