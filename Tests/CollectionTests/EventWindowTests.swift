import Collection
import FirmwareProfile
import Testing

@Suite("event windows: pre- and post-trigger capture, bounds, runtime switching")
struct EventWindowTests {
    let catalog = [
        catalogSignal("Vehicle.Speed", staleAfter: 5), catalogSignal("Vehicle.Accel", staleAfter: 5),
        catalogSignal("Vehicle.Rpm", staleAfter: 5), catalogSignal("Crash", staleAfter: 5),
    ]

    /// Speed every 100 ms and Accel every 50 ms from 0 to 10 s, Rpm every 10 ms (not captured); Crash at 5 s.
    func drive(_ harness: Harness, until endMillis: Int64 = 10_000) {
        for millis in stride(from: Int64(0), through: endMillis, by: 10) {
            if millis % 100 == 0 { harness.ingest("Vehicle.Speed", ms: millis, Double(millis) / 100) }
            if millis % 50 == 0 { harness.ingest("Vehicle.Accel", ms: millis, -Double(millis) / 50) }
            harness.ingest("Vehicle.Rpm", ms: millis, 2000)
            if millis % 500 == 0 { harness.ingest("Crash", ms: millis, millis == 5000 ? 1 : 0) }
        }
    }

    @Test("the window holds exactly the captured signals' values in [trigger − pre, trigger + post], in time order")
    func window() throws {
        let harness = Harness(makeProfile(
            catalog: catalog,
            events: [event("crash", compare("Crash", .equal, 1), capture: ["Vehicle.Speed", "Vehicle.Accel"], pre: 2, post: 1,
                           priority: .critical)]))
        drive(harness, until: 6000)
        #expect(harness.events().isEmpty, "the post-trigger window is not over until the clock passes 6 s")
        harness.advance(ms: 7000)
        let events = harness.events()
        try #require(events.count == 1)
        let crash = events[0]
        #expect(crash.name == "crash")
        #expect(crash.priority == .critical)
        #expect(crash.conditionText == "crash condition")
        #expect(crash.triggerMicros == 5_000_000)
        #expect(crash.preTriggerMicros == 2_000_000)
        #expect(crash.postTriggerMicros == 1_000_000)
        #expect(crash.droppedSamples == 0)
        var expected: [String: [Int64]] = [:]
        expected["Vehicle.Speed"] = Array(stride(from: Int64(3000), through: 6000, by: 100))
        expected["Vehicle.Accel"] = Array(stride(from: Int64(3000), through: 6000, by: 50))
        var captured: [String: [Int64]] = [:]
        for sample in crash.samples { captured[harness.name(of: sample), default: []].append(sample.timeMicros / 1000) }
        #expect(captured == expected)
        #expect(crash.samples.map(\.timeMicros) == crash.samples.map(\.timeMicros).sorted())
        let speedAtTrigger = crash.samples.first { harness.name(of: $0) == "Vehicle.Speed" && $0.timeMicros == 5_000_000 }
        #expect(speedAtTrigger?.value == 50)
    }

    @Test("window edges are inclusive to the microsecond")
    func edges() {
        let harness = Harness(makeProfile(
            catalog: catalog, events: [event("crash", compare("Crash", .equal, 1), capture: ["Vehicle.Speed"], pre: 1, post: 1)]))
        for micros: Int64 in [999_999, 1_000_000, 1_500_000] { harness.ingest("Vehicle.Speed", micros: micros, Double(micros)) }
        harness.ingest("Crash", micros: 2_000_000, 1)
        for micros: Int64 in [2_000_000, 3_000_000] { harness.ingest("Vehicle.Speed", micros: micros, Double(micros)) }
        #expect(harness.events().isEmpty)
        harness.ingest("Vehicle.Speed", micros: 3_000_001, 0)
        let events = harness.events()
        #expect(events.count == 1)
        #expect(events.first?.samples.map(\.timeMicros) == [1_000_000, 1_500_000, 2_000_000, 3_000_000])
    }

    @Test("a fast signal is bounded: the most recent values before the trigger, a limited number after")
    func ringBound() throws {
        let harness = Harness(
            makeProfile(
                catalog: catalog,
                events: [event("crash", compare("Crash", .equal, 1), capture: ["Vehicle.Speed"], pre: 2, post: 1)]),
            limits: CollectionLimits(maximumSamplesPerSignal: 16))
        for millis in stride(from: Int64(0), through: 7000, by: 1) {
            harness.ingest("Vehicle.Speed", ms: millis, Double(millis))
            if millis == 5000 { harness.ingest("Crash", ms: millis, 1) }
        }
        let events = harness.events()
        try #require(events.count == 1)
        let times = events[0].samples.map { $0.timeMicros / 1000 }
        #expect(times == Array(4985...5000) + Array(5001...5016))
        #expect(events[0].droppedSamples == 1000 - 16)
        #expect(harness.engine.statistics.capturedSamplesDropped == 984)
    }

    @Test("at most the configured number of windows fill at once; further triggers are skipped and counted")
    func capturesInFlight() {
        let harness = Harness(
            makeProfile(catalog: catalog, events: [event("crash", compare("Crash", .equal, 1), capture: ["Crash"], post: 10)]),
            limits: CollectionLimits(maximumCapturesInFlight: 2))
        for second in 1...5 { harness.ingest("Crash", ms: Int64(second) * 1000, second % 2 == 1 ? 1 : 0) }
        harness.advance(ms: 20_000)
        #expect(harness.events().map(\.triggerMicros) == [1_000_000, 3_000_000])
        #expect(harness.engine.statistics.triggersSkipped == 1)
        #expect(harness.engine.statistics.events == 2)
    }

    @Test("a disabled event neither triggers nor captures; enabling it starts it afresh")
    func disableAndEnable() throws {
        let harness = Harness(makeProfile(
            catalog: catalog,
            events: [event("crash", compare("Crash", .equal, 1), capture: ["Vehicle.Speed"], pre: 1, post: 2)]))
        harness.ingest("Vehicle.Speed", ms: 0, 1)
        harness.ingest("Crash", ms: 100, 1)
        try harness.engine.setEnabled(false, rule: "crash")  // drops the window being filled
        #expect(harness.engine.ruleStates == [RuleState(name: "crash", kind: "event", enabled: false)])
        harness.ingest("Crash", ms: 200, 0)
        harness.ingest("Crash", ms: 300, 1)
        harness.ingest("Vehicle.Speed", ms: 400, 2)
        harness.advance(ms: 5000)
        #expect(harness.events().isEmpty)
        // Enabled while the condition holds: it is seen turning true now.
        harness.ingest("Crash", ms: 5000, 1)
        try harness.engine.setEnabled(true, rule: "crash")
        harness.ingest("Vehicle.Speed", ms: 5500, 3)
        harness.advance(ms: 8000)
        let events = harness.events()
        #expect(events.map(\.triggerMicros) == [5_000_000])
        #expect(events.first?.samples.map(\.value) == [3])
    }

    @Test("captured values arriving before the trigger but in its window are kept for events on other signals too")
    func sharedRing() {
        let harness = Harness(makeProfile(
            catalog: catalog,
            events: [
                event("short", compare("Crash", .equal, 1), capture: ["Vehicle.Speed"], pre: 0.5),
                event("long", compare("Crash", .equal, 1), capture: ["Vehicle.Speed", "Vehicle.Accel"], pre: 3),
            ]))
        for millis in stride(from: Int64(0), through: 4000, by: 250) { harness.ingest("Vehicle.Speed", ms: millis, Double(millis)) }
        harness.ingest("Vehicle.Accel", ms: 500, 9)
        harness.ingest("Crash", ms: 4000, 1)
        harness.advance(ms: 4001)
        let events = harness.events()
        #expect(events.map(\.name) == ["short", "long"])
        #expect(events.first?.samples.map(\.timeMicros) == [3_500_000, 3_750_000, 4_000_000])
        #expect(events.last?.samples.count == 13)  // Speed from 1 s to 4 s; Accel of 0.5 s is outside
    }
}
