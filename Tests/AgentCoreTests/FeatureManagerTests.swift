import AgentCore
import RemoteCommands
import Testing

/// Entitlements on the wall clock, with a fake clock and store: the demo sedan's performance-boost (FeatureCommand,
/// FeatureId 1, two frames; FeatureEnabled in byte 1).
@Suite struct FeatureManagerTests {
    /// Runs the manager's turns for `seconds` in steps of its check interval, as the command service does.
    private func run(_ harness: ExecutorHarness, seconds: Double) {
        var elapsed = 0.0
        while elapsed < seconds - 1e-9 {
            harness.clock.advance(seconds: 0.05)
            elapsed += 0.05
            harness.features.tick(executor: harness.executor)
            harness.executor.advance(live: nil)
        }
    }

    private func boostFrames(_ harness: ExecutorHarness) -> [String] {
        harness.frames.filter { $0.hasPrefix("frame 528 1,") }
    }

    @Test func featureSwitchesOffWhenTheWallClockPassesValidUntil() {
        let harness = ExecutorHarness()
        harness.features.tick(executor: harness.executor)
        let until = harness.clock.wallClockMillis() + 5_000
        let grant = harness.command("feature.activate", ["feature": .string("performance-boost"), "valid_until": .number(Double(until))])
        harness.executor.start(grant, live: nil)
        #expect(harness.responder.final(of: grant.command.request.id)?.text == "performance-boost is active")
        run(harness, seconds: 0.05)
        #expect(boostFrames(harness) == ["frame 528 1,1", "frame 528 1,1"], "switched on")
        // Just before valid_until: still on.
        run(harness, seconds: 4.85)
        #expect(harness.store.entitlement("performance-boost")?.state == .active)
        #expect(boostFrames(harness).count == 2)
        // The wall clock passes valid_until: off within a check or two, stored and published.
        run(harness, seconds: 0.3)
        #expect(harness.clock.wallClockMillis() >= until)
        #expect(harness.store.entitlement("performance-boost")?.state == .expired)
        #expect(boostFrames(harness) == ["frame 528 1,1", "frame 528 1,1", "frame 528 1,0", "frame 528 1,0"])
        #expect(harness.publisher.published.last?.contains("\"state\":\"expired\"") == true)
        #expect(harness.features.nextDue == nil, "nothing pending or active: no more checks")
    }

    @Test func renewalOfAnActiveFeatureKeepsItOnWithoutNewFrames() {
        let harness = ExecutorHarness()
        harness.features.tick(executor: harness.executor)
        let first = harness.clock.wallClockMillis() + 5_000
        harness.executor.start(
            harness.command("feature.activate", ["feature": .string("performance-boost"), "valid_until": .number(Double(first))]),
            live: nil)
        run(harness, seconds: 3)
        let renewed = harness.clock.wallClockMillis() + 60_000
        let renewal = harness.command(
            "feature.activate", ["feature": .string("performance-boost"), "valid_until": .number(Double(renewed))])
        harness.executor.start(renewal, live: nil)
        #expect(harness.responder.final(of: renewal.command.request.id)?.text == "performance-boost is active")
        // Past the first validity's end: still on, and the vehicle got no off-and-on.
        run(harness, seconds: 5)
        #expect(harness.store.entitlement("performance-boost")?.state == .active)
        #expect(boostFrames(harness) == ["frame 528 1,1", "frame 528 1,1"])
    }

    @Test func activeTimeIsSavedAndAnActiveFeatureIsSwitchedOnAgainAfterARestart() {
        let stored = Entitlement(feature: "heated-seats", commandID: "c1", state: .active, activeSeconds: 10)
        let harness = ExecutorHarness(entitlements: [stored])
        harness.features.tick(executor: harness.executor)
        harness.executor.advance(live: nil)
        #expect(harness.frames.filter { $0.hasPrefix("frame 528 2,") } == ["frame 528 2,1"])
        run(harness, seconds: 2)
        harness.features.finish()
        let saved = harness.store.entitlement("heated-seats")?.activeSeconds ?? 0
        #expect(abs(saved - 12) < 0.06, "\(saved)")
    }
}
