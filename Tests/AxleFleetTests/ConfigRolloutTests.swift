import AxleBase
import AxleFleet
import ConfigBundle
import Testing

/// The policy of `config push` and the table of `config status`, without a broker: wave sizes, what a report says
/// about the version pushed, the abort rule, and the wave's deadline on a clock the test moves.
@Suite("axle-fleet config push: rollout plan and tally")
struct ConfigRolloutTests {
    static func fleet(_ count: Int) -> [String] { (1...count).map { "car-\($0)" } }

    /// A report: `active` running, `last` received with `status`.
    static func report(active: UInt64, last: UInt64? = nil, _ status: ConfigurationStatus = .applied, reason: String? = nil, highWaterMark: UInt64? = nil) -> ConfigurationReport {
        ConfigurationReport(
            active: .init(version: active, profile: "demo-sedan", bundleSHA256: nil),
            last: last.map { .init(version: $0, bundleSHA256: String(repeating: "a", count: 64), status: status, reason: reason) },
            highWaterMark: highWaterMark ?? max(active, last ?? 0), atMillis: 1)
    }

    @Test("waves of 1, 10, 50, 100 % are cumulative and rounded up, for 1, 3, 20 and 100 vehicles")
    func waveSizes() throws {
        let percentages = try RolloutPlan.percentages("1,10,50,100")
        #expect(percentages == RolloutPlan.defaultPercentages)
        func sizes(_ count: Int) -> [Int] { RolloutPlan(vehicles: Self.fleet(count), percentages: percentages).waves.map(\.cumulativeCount) }
        #expect(sizes(1) == [1])
        // 10 % of 3 is still the first vehicle: that percentage adds no wave.
        #expect(sizes(3) == [1, 2, 3])
        #expect(RolloutPlan(vehicles: Self.fleet(3), percentages: percentages).waves.map(\.percent) == [1, 50, 100])
        #expect(sizes(20) == [1, 2, 10, 20])
        #expect(sizes(100) == [1, 10, 50, 100])
        // In the order given, each vehicle in exactly one wave.
        let plan = RolloutPlan(vehicles: Self.fleet(20), percentages: percentages)
        #expect(plan.waves.map(\.vehicles.count) == [1, 1, 8, 10])
        #expect(plan.waves.flatMap(\.vehicles) == Self.fleet(20))
        #expect(plan.waves[1].vehicles == ["car-2"] && plan.waves.map(\.number) == [1, 2, 3, 4])
        // Binary floating point does not add a vehicle: 0.1 % of 1000 is one.
        #expect(RolloutPlan(vehicles: Self.fleet(1000), percentages: [0.1, 100]).waves.map(\.cumulativeCount) == [1, 1000])
    }

    @Test("--waves must be percentages above 0, rising, ending at 100")
    func wavesOption() throws {
        #expect(try RolloutPlan.percentages("100") == [100])
        #expect(try RolloutPlan.percentages("5%, 25%,100") == [5, 25, 100])
        for bad in ["10,5,100", "0,100", "1,50", "abc", "1,,100", "1,10,150"] {
            #expect(throws: FleetError.self, "\(bad)") { try RolloutPlan.percentages(bad) }
        }
        #expect(throws: FleetError.usage("--waves '1,50': the last wave must be 100, so that every listed vehicle is asked; push to fewer vehicles by listing fewer")) {
            try RolloutPlan.percentages("1,50")
        }
    }

    @Test("a report counts only when it is about the version pushed")
    func outcomes() {
        // Retained from before the push: the vehicle runs 2 and has never heard of 3.
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 2), version: 3) == nil)
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 1, .rolledBack), version: 3) == nil)
        #expect(RolloutOutcome.of(Self.report(active: 3, last: 3), version: 3) == .applied)
        // Applied, then a later version rolled back: still running 3.
        #expect(RolloutOutcome.of(Self.report(active: 3, last: 4, .rolledBack), version: 3) == .applied)
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 3, .applying), version: 3) == .inProgress(.applying))
        // On trial, the version may already be the active one: not applied until the trial passed.
        #expect(RolloutOutcome.of(Self.report(active: 3, last: 3, .trial), version: 3) == .inProgress(.trial))
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 3, .trial), version: 3) == .inProgress(.trial))
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 3, .rolledBack, reason: "health_check_failed"), version: 3)
            == .failed(.rolledBack, reason: "health_check_failed", text: nil))
        #expect(RolloutOutcome.of(Self.report(active: 2, last: 3, .failed, reason: "expired"), version: 3)?.text == "FAILED expired")
        // Already past 3 without running it: it would refuse 3 as a replay.
        let passed = RolloutOutcome.of(Self.report(active: 4, last: 4), version: 3)
        #expect(passed?.isFailure == true)
        #expect(passed?.text.hasPrefix("FAILED version_not_above_high_water_mark: the vehicle has taken version 4") == true)
    }

    @Test("the failure threshold applies only once --min-reports vehicles have reported, and is 'more than'")
    func abortRule() {
        var tally = RolloutTally(version: 3, maximumFailurePercent: 10, minimumReports: 3)
        #expect(tally.record(Self.report(active: 2, last: 3, .rolledBack, reason: "health_check_failed"), from: "car-1")?.isFailure == true)
        // One of one failed, but fewer than 3 have reported.
        #expect(!tally.exceedsFailureThreshold)
        #expect(tally.record(Self.report(active: 3, last: 3), from: "car-2") == .applied)
        #expect(!tally.exceedsFailureThreshold)
        #expect(tally.record(Self.report(active: 3), from: "car-3") == .applied)
        #expect(tally.exceedsFailureThreshold)
        #expect(tally.failed == ["car-1"] && tally.appliedCount == 2 && tally.reported == ["car-1", "car-2", "car-3"])

        // Exactly at the threshold goes on; above it stops.
        var half = RolloutTally(version: 3, maximumFailurePercent: 50, minimumReports: 1)
        _ = half.record(Self.report(active: 3), from: "a")
        _ = half.record(Self.report(active: 2, last: 3, .failed, reason: "invalid"), from: "b")
        #expect(!half.exceedsFailureThreshold)
        _ = half.record(Self.report(active: 2, last: 3, .failed, reason: "invalid"), from: "c")
        #expect(half.exceedsFailureThreshold)

        // --max-failures 0: the first failure stops the rollout.
        var strict = RolloutTally(version: 3, maximumFailurePercent: 0, minimumReports: 1)
        _ = strict.record(Self.report(active: 3), from: "a")
        #expect(!strict.exceedsFailureThreshold)
        _ = strict.record(Self.report(active: 2, last: 3, .rolledBack), from: "b")
        #expect(strict.exceedsFailureThreshold)
    }

    @Test("reports about other versions are ignored; progress is told once; a final outcome stays")
    func tallyIgnoresOthers() {
        var tally = RolloutTally(version: 7, maximumFailurePercent: 10, minimumReports: 1)
        #expect(tally.record(Self.report(active: 6, last: 6), from: "car-1") == nil)
        #expect(tally.record(Self.report(active: 5, last: 6, .rolledBack), from: "car-1") == nil)
        #expect(tally.reported.isEmpty && !tally.exceedsFailureThreshold)
        #expect(tally.record(Self.report(active: 6, last: 7, .applying), from: "car-1") == .inProgress(.applying))
        #expect(tally.record(Self.report(active: 6, last: 7, .applying), from: "car-1") == nil)
        #expect(tally.record(Self.report(active: 7, last: 7, .trial), from: "car-1") == .inProgress(.trial))
        #expect(tally.record(Self.report(active: 7, last: 7, .applied), from: "car-1") == .applied)
        #expect(tally.record(Self.report(active: 6, last: 7, .rolledBack), from: "car-1") == nil)
        #expect(tally.outcomes["car-1"] == .applied && tally.reported == ["car-1"] && tally.failed.isEmpty)
    }

    @Test("a wave completes when all its vehicles reported, stops at its deadline naming the silent ones, and failures stop it first")
    func waveDeadline() {
        let plan = RolloutPlan(vehicles: Self.fleet(4), percentages: [25, 100])
        let wave = plan.waves[1]
        #expect(wave.vehicles == ["car-2", "car-3", "car-4"])
        var tally = RolloutTally(version: 3, maximumFailurePercent: 40, minimumReports: 1)
        _ = tally.record(Self.report(active: 3), from: "car-1")
        let watch = WaveWatch(wave: wave, startedAt: 1000, timeoutSeconds: 600)
        #expect(watch.decision(tally, now: 1000) == .wait(until: 1600))
        _ = tally.record(Self.report(active: 3), from: "car-2")
        _ = tally.record(Self.report(active: 2, last: 3, .trial), from: "car-3")
        #expect(watch.decision(tally, now: 1599.9) == .wait(until: 1600))
        #expect(watch.decision(tally, now: 1600) == .abortSilent(["car-3", "car-4"]))
        _ = tally.record(Self.report(active: 3), from: "car-3")
        _ = tally.record(Self.report(active: 3), from: "car-4")
        #expect(watch.decision(tally, now: 1700) == .waveComplete)

        var failing = RolloutTally(version: 3, maximumFailurePercent: 40, minimumReports: 1)
        _ = failing.record(Self.report(active: 3), from: "car-1")
        _ = failing.record(Self.report(active: 2, last: 3, .rolledBack), from: "car-2")
        #expect(watch.decision(failing, now: 1001) == .abortFailures)
    }

    @Test("config status groups vehicles by active version, last version, status and reason; silent ones are NO_REPORT")
    func statusTable() throws {
        let rolledBack = Self.report(active: 2, last: 3, .rolledBack, reason: "health_check_failed")
        let applied = Self.report(active: 2, last: 2)
        let entries: [String: ConfigurationStatusTable.Entry] = [
            "car-1": .report(applied, raw: applied.json), "car-2": .report(rolledBack, raw: rolledBack.json),
            "car-3": .report(applied, raw: applied.json), "car-5": .unreadable("not JSON"),
        ]
        let table = ConfigurationStatusTable(vehicles: Self.fleet(5), entries: entries)
        #expect(table.groups == [
            .init(activeVersion: 2, lastVersion: 2, status: "APPLIED", vehicles: ["car-1", "car-3"]),
            .init(activeVersion: 2, lastVersion: 3, status: "ROLLED_BACK", reason: "health_check_failed", vehicles: ["car-2"]),
            .init(status: "UNREADABLE", vehicles: ["car-5"]),
            .init(status: "NO_REPORT", vehicles: ["car-4"]),
        ])
        #expect(table.text == """
            ACTIVE VERSION  LAST VERSION  STATUS       REASON               VEHICLES  IDS
            2               2             APPLIED      -                           2  car-1, car-3
            2               3             ROLLED_BACK  health_check_failed         1  car-2
            -               -             UNREADABLE   -                           1  car-5
            -               -             NO_REPORT    -                           1  car-4
            4 of 5 vehicles reported

            """)
        let json = table.json
        #expect(json["listed"]?.intValue == 5 && json["reported"]?.intValue == 4)
        #expect(json["groups"]?.arrayValue?.map { $0["count"]?.intValue } == [2, 1, 1, 1])
        #expect(json["vehicles"]?.arrayValue?[1]["reason"]?.stringValue == "health_check_failed")
        #expect(json["vehicles"]?.arrayValue?[3]["status"]?.stringValue == "NO_REPORT")
    }
}
