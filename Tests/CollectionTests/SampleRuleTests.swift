import Collection
import FirmwareProfile
import Testing

@Suite("collection rules: periodic, on-change, aggregate")
struct SampleRuleTests {
    @Test("periodic: the latest fresh value at each boundary, stamped at the boundary")
    func periodicBoundaries() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 2), catalogSignal("Vehicle.Rpm", staleAfter: 2)],
            rules: [rule("basic", ["Vehicle.Speed", "Vehicle.Rpm"], .periodic(intervalSeconds: 1))]))
        harness.ingest("Vehicle.Speed", ms: 200, 10)
        harness.ingest("Vehicle.Rpm", ms: 500, 800)
        // Stamped exactly at a boundary: counts for the next period (periods are [k, k+1) like aggregate windows).
        harness.ingest("Vehicle.Speed", ms: 1000, 20)
        harness.ingest("Vehicle.Speed", ms: 1700, 30)
        harness.advance(ms: 3500)
        #expect(harness.samples() == [
            Sample("Vehicle.Speed", 1000, 10), Sample("Vehicle.Rpm", 1000, 800),
            Sample("Vehicle.Speed", 2000, 30), Sample("Vehicle.Rpm", 2000, 800),
            // Rpm's value of 0.5 s is 2.5 s old at 3 s: stale, so only Speed.
            Sample("Vehicle.Speed", 3000, 30),
        ])
    }

    @Test("periodic: a stale signal is not sent, and is again once a value arrives")
    func periodicStaleness() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 1.5)],
            rules: [rule("basic", ["Vehicle.Speed"], .periodic(intervalSeconds: 1))]))
        harness.ingest("Vehicle.Speed", ms: 500, 42)
        harness.advance(ms: 10_000)
        // At 2 s the value is exactly 1.5 s old: not older than the limit, so still fresh.
        #expect(harness.samples() == [Sample("Vehicle.Speed", 1000, 42), Sample("Vehicle.Speed", 2000, 42)])
        harness.ingest("Vehicle.Speed", ms: 10_200, 43)
        harness.advance(ms: 11_000)
        #expect(harness.samples() == [Sample("Vehicle.Speed", 11_000, 43)])
        #expect(harness.engine.isFresh(signal: 0, atMicros: 11_700_000))
        #expect(!harness.engine.isFresh(signal: 0, atMicros: 11_700_001))
    }

    @Test("on-change: the first value, then moves beyond the deadband from the last value sent")
    func onChangeDeadband() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed")],
            rules: [rule("moves", ["Vehicle.Speed"], .onChange(deadband: 0.5, heartbeatSeconds: nil))]))
        for (millis, value) in [(0, 10.0), (100, 10.25), (200, 10.5), (300, 10.75), (400, 10.5), (500, 10.25), (600, 10.0)] {
            harness.ingest("Vehicle.Speed", ms: Int64(millis), value)
        }
        // 10.5 is exactly 0.5 from 10: not beyond the deadband. 10.25 is 0.5 from 10.75, 10.0 is 0.75 from it.
        #expect(harness.samples() == [
            Sample("Vehicle.Speed", 0, 10), Sample("Vehicle.Speed", 300, 10.75), Sample("Vehicle.Speed", 600, 10),
        ])
    }

    @Test("on-change with deadband 0: every change, no repeats")
    func onChangeAnyChange() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Gear")],
            rules: [rule("gear", ["Vehicle.Gear"], .onChange(deadband: 0, heartbeatSeconds: nil))]))
        for (millis, value) in [(0, 1.0), (100, 1.0), (200, 2.0), (300, 2.0), (400, 1.0)] {
            harness.ingest("Vehicle.Gear", ms: Int64(millis), value)
        }
        harness.advance(ms: 60_000)
        #expect(harness.samples() == [
            Sample("Vehicle.Gear", 0, 1), Sample("Vehicle.Gear", 200, 2), Sample("Vehicle.Gear", 400, 1),
        ])
    }

    @Test("on-change heartbeat: re-sent after the heartbeat while fresh, and with the first value after a silence")
    func onChangeHeartbeat() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Gear", staleAfter: 1)],
            rules: [rule("gear", ["Vehicle.Gear"], .onChange(deadband: 0, heartbeatSeconds: 2))]))
        for millis in stride(from: Int64(0), through: 3000, by: 500) { harness.ingest("Vehicle.Gear", ms: millis, 5) }
        for millis in stride(from: Int64(3500), through: 7000, by: 500) { harness.ingest("Vehicle.Gear", ms: millis, 6) }
        harness.advance(ms: 12_000)
        harness.ingest("Vehicle.Gear", ms: 13_000, 6)
        #expect(harness.samples() == [
            Sample("Vehicle.Gear", 0, 5),
            Sample("Vehicle.Gear", 2000, 5),
            Sample("Vehicle.Gear", 3500, 6),  // a change restarts the heartbeat
            Sample("Vehicle.Gear", 5500, 6),
            Sample("Vehicle.Gear", 7500, 6),  // the value of 7 s is 0.5 s old: fresh
            // 9.5 s: stale, nothing; the first fresh value after the silence is sent although unchanged.
            Sample("Vehicle.Gear", 13_000, 6),
        ])
    }

    @Test("aggregate: min, max, mean, count and last per window, stamped at the window end; empty windows send nothing")
    func aggregateWindows() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", unit: "km/h")],
            rules: [rule("stats", ["Vehicle.Speed"], .aggregate(windowSeconds: 10, functions: AggregateFunction.allCases))]))
        #expect(harness.engine.series.map(\.name) == [
            "Vehicle.Speed:min", "Vehicle.Speed:max", "Vehicle.Speed:mean", "Vehicle.Speed:count", "Vehicle.Speed:last",
        ])
        #expect(harness.engine.series.map(\.unit) == ["km/h", "km/h", "km/h", "", "km/h"])
        #expect(harness.engine.series.map(\.function) == AggregateFunction.allCases)
        harness.ingest("Vehicle.Speed", ms: 1000, 4)
        harness.ingest("Vehicle.Speed", ms: 3000, 8)
        harness.ingest("Vehicle.Speed", ms: 9500, 6)
        #expect(harness.samples().isEmpty)
        harness.ingest("Vehicle.Speed", ms: 10_000, 100)  // the next window's first value
        harness.ingest("Vehicle.Speed", ms: 15_000, 50)
        harness.advance(ms: 45_000)
        harness.ingest("Vehicle.Speed", ms: 47_000, 1)
        harness.advance(ms: 50_000)
        let window = { (end: Int64, values: [Double]) in
            zip(["min", "max", "mean", "count", "last"], values).map { Sample("Vehicle.Speed:\($0)", end, $1) }
        }
        #expect(harness.samples() == window(10_000, [4, 8, 6, 3, 6]) + window(20_000, [50, 100, 75, 2, 50])
            + window(50_000, [1, 1, 1, 1, 1]))
    }

    @Test("series: shared by rules naming the same signal, one per function for aggregates")
    func sharedSeries() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", unit: "km/h"), catalogSignal("Vehicle.Rpm")],
            rules: [
                rule("fast", ["Vehicle.Speed"], .periodic(intervalSeconds: 1)),
                rule("changes", ["Vehicle.Speed", "Vehicle.Rpm"], .onChange(deadband: 1, heartbeatSeconds: nil)),
                rule("minute", ["Vehicle.Speed"], .aggregate(windowSeconds: 60, functions: [.max, .mean])),
                rule("hour", ["Vehicle.Speed"], .aggregate(windowSeconds: 3600, functions: [.max])),
            ]))
        #expect(harness.engine.series.map(\.name) == [
            "Vehicle.Speed", "Vehicle.Rpm", "Vehicle.Speed:max", "Vehicle.Speed:mean",
        ])
        #expect(harness.engine.series.map(\.catalogIndex) == [0, 1, 0, 0])
    }

    @Test("a disabled rule sends nothing; enabled at runtime it starts afresh")
    func enableAtRuntime() throws {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 5)],
            rules: [
                rule("basic", ["Vehicle.Speed"], .periodic(intervalSeconds: 1), enabled: false),
                rule("stats", ["Vehicle.Speed"], .aggregate(windowSeconds: 10, functions: [.count, .mean])),
                rule("changes", ["Vehicle.Speed"], .onChange(deadband: 0, heartbeatSeconds: nil)),
            ]))
        #expect(harness.engine.ruleStates == [
            RuleState(name: "basic", kind: "periodic", enabled: false),
            RuleState(name: "stats", kind: "aggregate", enabled: true),
            RuleState(name: "changes", kind: "on-change", enabled: true),
        ])
        try harness.engine.setEnabled(false, rule: "changes")
        harness.ingest("Vehicle.Speed", ms: 100, 1000)
        harness.ingest("Vehicle.Speed", ms: 2000, 1000)
        harness.advance(ms: 2500)
        try harness.engine.setEnabled(false, rule: "stats")  // drops the window holding the two values of 1000
        try harness.engine.setEnabled(true, rule: "basic")
        #expect(harness.samples().isEmpty)
        harness.ingest("Vehicle.Speed", ms: 3000, 7)
        try harness.engine.setEnabled(true, rule: "stats")
        try harness.engine.setEnabled(true, rule: "changes")
        harness.ingest("Vehicle.Speed", ms: 4000, 7)  // unchanged, but the first value since "changes" restarted
        harness.ingest("Vehicle.Speed", ms: 6000, 9)
        harness.advance(ms: 10_000)
        #expect(harness.samplesSortedByTime() == [
            Sample("Vehicle.Speed", 3000, 1000),  // "basic" restarted at 2.5 s: its first boundary is 3 s
            Sample("Vehicle.Speed", 4000, 7),  // "basic"
            Sample("Vehicle.Speed", 4000, 7),  // "changes", the same series: its first value since it restarted
            Sample("Vehicle.Speed", 5000, 7),
            Sample("Vehicle.Speed", 6000, 7),  // "basic": the value before the boundary
            Sample("Vehicle.Speed", 6000, 9),  // "changes"
            Sample("Vehicle.Speed", 7000, 9), Sample("Vehicle.Speed", 8000, 9), Sample("Vehicle.Speed", 9000, 9),
            Sample("Vehicle.Speed", 10_000, 9),
            // Only the values since "stats" was enabled again: 7 and 9.
            Sample("Vehicle.Speed:count", 10_000, 2), Sample("Vehicle.Speed:mean", 10_000, 8),
        ])
    }

    @Test("an unknown rule name is refused with the names that exist")
    func unknownRule() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed")],
            rules: [rule("basic", ["Vehicle.Speed"], .periodic(intervalSeconds: 1))],
            events: [event("speeding", compare("Vehicle.Speed", .greater, 130))]))
        let error = #expect(throws: CollectionError.self) { try harness.engine.setEnabled(false, rule: "basik") }
        #expect(error?.code == .unknownRule)
        #expect(error?.knownNames == ["basic", "speeding"])
        let message = error?.description ?? ""
        #expect(message.contains("\"basik\""))
        #expect(message.contains("it has: basic, speeding"))
        #expect(harness.engine.ruleStates.allSatisfy { $0.enabled })
    }

    @Test("a time that goes backwards does not move now, but its value is recorded")
    func timeGoesBackwards() {
        let harness = Harness(makeProfile(catalog: [catalogSignal("Vehicle.Speed")]))
        harness.ingest("Vehicle.Speed", ms: 5000, 50)
        harness.ingest("Vehicle.Speed", ms: 4000, 40)
        #expect(harness.engine.nowMicros == 5_000_000)
        #expect(harness.engine.latest(signal: 0)?.value == 40)
        #expect(harness.engine.latest(signal: 0)?.timeMicros == 4_000_000)
        harness.advance(ms: 3000)
        #expect(harness.engine.nowMicros == 5_000_000)
    }

    @Test("latest values: none before the first, indices outside the catalog ignored")
    func latestValues() {
        let harness = Harness(makeProfile(catalog: [catalogSignal("Vehicle.Speed")]))
        #expect(harness.engine.latest(signal: 0) == nil)
        harness.engine.ingest(signal: 1, timeMicros: 1_000_000, value: 5)
        harness.engine.ingest(signal: -1, timeMicros: 1_000_000, value: 5)
        #expect(harness.engine.nowMicros == 0)
        #expect(harness.engine.latest(signal: 1) == nil)
        #expect(!harness.engine.isFresh(signal: 0, atMicros: 0))
        harness.ingest("Vehicle.Speed", ms: 2000, 88)
        #expect(harness.engine.latest(signal: 0)?.value == 88)
        #expect(harness.engine.isFresh(signal: 0, atMicros: 2_500_000))
    }

    @Test("the output does not depend on how often the clock is advanced (a replay matches the drive)")
    func replayMatchesDrive() {
        let profile = makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 0.5), catalogSignal("Vehicle.Gear", staleAfter: 2)],
            rules: [
                rule("basic", ["Vehicle.Speed", "Vehicle.Gear"], .periodic(intervalSeconds: 0.25)),
                rule("gear", ["Vehicle.Gear"], .onChange(deadband: 0, heartbeatSeconds: 1)),
                rule("stats", ["Vehicle.Speed"], .aggregate(windowSeconds: 1, functions: [.max, .count])),
            ],
            events: [
                event("fast", .sustained(compare("Vehicle.Speed", .greater, 50), seconds: 0.7), capture: ["Vehicle.Gear"],
                      pre: 0.5, post: 0.5),
            ])
        // A drive with gaps: Speed stops for 1.3 s (goes stale), Gear changes rarely.
        var frames: [(String, Int64, Double)] = []
        for millis in stride(from: Int64(0), to: 6000, by: 40) where !(2000..<3300).contains(millis) {
            frames.append(("Vehicle.Speed", millis, 40 + Double(millis % 1000) / 20))
        }
        for millis in stride(from: Int64(15), to: 6000, by: 300) { frames.append(("Vehicle.Gear", millis, Double(millis / 1500))) }
        frames.sort { $0.1 < $1.1 }
        func run(advanceEvery step: Int64?) -> ([Sample], [TriggeredEvent]) {
            let harness = Harness(profile)
            var nextAdvance = step ?? .max
            for (name, millis, value) in frames {
                while millis > nextAdvance {
                    harness.advance(ms: nextAdvance)
                    nextAdvance += step!
                }
                harness.ingest(name, ms: millis, value)
            }
            harness.advance(ms: 8000)
            // Rules emitting at the same instant may do so in another order; the samples themselves must agree.
            let samples = harness.samples().sorted { ($0.millis, $0.series, $0.value) < ($1.millis, $1.series, $1.value) }
            return (samples, harness.events())
        }
        let drive = run(advanceEvery: 7)
        let replay = run(advanceEvery: nil)
        #expect(drive.0.count > 50)
        #expect(drive.0 == replay.0)
        #expect(drive.1.count >= 2)
        #expect(drive.1 == replay.1)
    }
}

extension Harness {
    /// Samples in time order, keeping the engine's order among equal times (rules run kind by kind).
    func samplesSortedByTime() -> [Sample] {
        samples().enumerated().sorted { ($0.element.millis, $0.offset) < ($1.element.millis, $1.offset) }.map(\.element)
    }
}
