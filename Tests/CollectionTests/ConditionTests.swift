import Collection
import FirmwareProfile
import Testing

/// Conditions as a command's precondition sees them (`evaluate`), and as events see them (when they trigger).
@Suite("conditions: three-valued logic, hysteresis, edges, durations, areas")
struct ConditionTests {
    /// A profile whose command precondition is `condition`, so the engine keeps it evaluated with its history.
    func tracking(_ condition: Condition, catalog: [CatalogSignal], areas: [Area] = []) -> Harness {
        Harness(makeProfile(catalog: catalog, commands: [command("test.command", precondition: condition)], areas: areas))
    }

    @Test("constants and truthy signals: zero is false, missing or stale is unknown")
    func truthy() {
        let door: Condition = .truthy(signal: "Vehicle.Door")
        let harness = Harness(makeProfile(catalog: [catalogSignal("Vehicle.Door", staleAfter: 1)]))
        #expect(harness.engine.evaluate(.constant(true)) == true)
        #expect(harness.engine.evaluate(.constant(false)) == false)
        #expect(harness.engine.evaluate(door) == nil)
        harness.ingest("Vehicle.Door", ms: 0, 0)
        #expect(harness.engine.evaluate(door) == false)
        harness.ingest("Vehicle.Door", ms: 500, 3)
        #expect(harness.engine.evaluate(door) == true)
        harness.advance(ms: 1500)
        #expect(harness.engine.evaluate(door) == true)  // exactly 1 s old
        harness.advance(ms: 1501)
        #expect(harness.engine.evaluate(door) == nil)
    }

    @Test("comparisons: every operator, numbers and signals on either side")
    func comparisons() {
        let harness = Harness(makeProfile(catalog: [catalogSignal("A", staleAfter: 10), catalogSignal("B", staleAfter: 10)]))
        harness.ingest("A", ms: 0, 5)
        harness.ingest("B", ms: 0, 7)
        let cases: [(ComparisonOperator, Double, Bool)] = [
            (.less, 5, false), (.less, 6, true), (.lessOrEqual, 5, true), (.lessOrEqual, 4, false),
            (.greater, 5, false), (.greater, 4, true), (.greaterOrEqual, 5, true), (.greaterOrEqual, 6, false),
            (.equal, 5, true), (.equal, 5.5, false), (.notEqual, 5, false), (.notEqual, 4, true),
        ]
        for (op, number, expected) in cases {
            #expect(harness.engine.evaluate(compare("A", op, number)) == expected, "A \(op.rawValue) \(number)")
        }
        #expect(harness.engine.evaluate(.comparison(lhs: .number(6), op: .less, rhs: signal("B"), hysteresis: 0)) == true)
        #expect(harness.engine.evaluate(.comparison(lhs: signal("A"), op: .less, rhs: signal("B"), hysteresis: 0)) == true)
        #expect(harness.engine.evaluate(.comparison(lhs: signal("B"), op: .lessOrEqual, rhs: signal("A"), hysteresis: 0)) == false)
        #expect(harness.engine.evaluate(.comparison(lhs: signal("A"), op: .equal, rhs: signal("C"), hysteresis: 0)) == nil)
    }

    @Test("Kleene logic: unknown decides nothing that the known parts decide")
    func kleene() {
        let harness = Harness(makeProfile(catalog: [catalogSignal("Known"), catalogSignal("Missing")]))
        harness.ingest("Known", ms: 0, 1)
        let yes = compare("Known", .equal, 1)
        let no = compare("Known", .equal, 0)
        let unknown = compare("Missing", .equal, 1)
        let cases: [(Condition, Bool?)] = [
            (.and([unknown, no]), false), (.and([unknown, yes]), nil), (.and([yes, yes]), true), (.and([]), true),
            (.or([unknown, yes]), true), (.or([unknown, no]), nil), (.or([no, no]), false), (.or([]), false),
            (.not(unknown), nil), (.not(yes), false), (.not(no), true),
            (.not(.and([unknown, no])), true),
        ]
        for (condition, expected) in cases {
            #expect(harness.engine.evaluate(condition) == expected, "\(condition)")
        }
    }

    @Test("a precondition on a stale signal is not true, whatever its last value")
    func stalePrecondition() {
        let parked = compare("Vehicle.Speed", .equal, 0)
        let harness = tracking(parked, catalog: [catalogSignal("Vehicle.Speed", staleAfter: 1)])
        #expect(harness.engine.evaluate(parked) == nil)
        harness.ingest("Vehicle.Speed", ms: 0, 0)
        harness.advance(ms: 500)
        #expect(harness.engine.evaluate(parked) == true)
        harness.advance(ms: 2000)
        #expect(harness.engine.evaluate(parked) == nil)
        // The same condition written ad hoc (not in the profile) answers the same.
        #expect(harness.engine.evaluate(.and([parked, .constant(true)])) == nil)
    }

    @Test("hysteresis: above the threshold to become true, at or below threshold − h to become false again")
    func hysteresisAbove() {
        let hot = compare("Coolant", .greater, 110, hysteresis: 5)
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Coolant", staleAfter: 60)],
            events: [event("overheat", hot)], commands: [command("test", precondition: hot)]))
        var results: [Bool?] = []
        var millis: Int64 = 0
        for value in [100.0, 111, 108, 112, 106, 111, 105.5, 110.5, 105, 110, 111] {
            harness.ingest("Coolant", ms: millis, value)
            results.append(harness.engine.evaluate(hot))
            millis += 100
        }
        #expect(results == [false, true, true, true, true, true, true, true, false, false, true])
        harness.advance(ms: 10_000)
        // Chattering between 105 and 112 triggered once; only after falling to 105 could it trigger again.
        #expect(harness.events().map(\.triggerMicros) == [100_000, 1_000_000])
    }

    @Test("hysteresis below: true under the threshold, false again only at or above threshold + h")
    func hysteresisBelow() {
        let low = compare("Battery", .less, 11.5, hysteresis: 0.5)
        let harness = tracking(low, catalog: [catalogSignal("Battery", staleAfter: 60)])
        var results: [Bool?] = []
        for (index, value) in [12.0, 11.4, 11.9, 11.75, 12.0, 11.6, 11.5, 11.25].enumerated() {
            harness.ingest("Battery", ms: Int64(index) * 100, value)
            results.append(harness.engine.evaluate(low))
        }
        #expect(results == [false, true, true, true, false, false, false, true])
    }

    @Test("for: true once the inner condition held without a break, at that instant, without a new value")
    func sustained() {
        let fast: Condition = .sustained(compare("Vehicle.Speed", .greater, 100), seconds: 10)
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 60)],
            events: [event("speeding", fast)], commands: [command("test", precondition: fast)]))
        harness.ingest("Vehicle.Speed", ms: 0, 120)
        harness.ingest("Vehicle.Speed", ms: 5000, 130)
        harness.ingest("Vehicle.Speed", ms: 8000, 90)  // the break: the duration starts again
        harness.ingest("Vehicle.Speed", ms: 9000, 120)
        harness.advance(ms: 18_999)
        #expect(harness.engine.evaluate(fast) == false)
        harness.advance(ms: 30_000)
        #expect(harness.engine.evaluate(fast) == true)
        #expect(harness.events().map(\.triggerMicros) == [19_000_000])
        // A condition the profile does not define has no history: its duration has not been seen to pass.
        #expect(harness.engine.evaluate(.sustained(compare("Vehicle.Speed", .greater, 100), seconds: 5)) == false)
    }

    @Test("for: a signal going stale is a break")
    func sustainedBrokenByStaleness() {
        let fast: Condition = .sustained(compare("Vehicle.Speed", .greater, 100), seconds: 10)
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Vehicle.Speed", staleAfter: 2)], events: [event("speeding", fast)]))
        harness.ingest("Vehicle.Speed", ms: 0, 120)
        harness.ingest("Vehicle.Speed", ms: 1000, 120)
        // Silent from 1 s: stale after 3 s. Values again from 5 s, every second.
        for millis in stride(from: Int64(5000), through: 16_000, by: 1000) { harness.ingest("Vehicle.Speed", ms: millis, 120) }
        harness.advance(ms: 20_000)
        #expect(harness.events().map(\.triggerMicros) == [15_000_000])
    }

    @Test("rising and falling: true at the one evaluation of an observed edge")
    func edges() {
        let opened: Condition = .rising(compare("Door", .equal, 1))
        let closed: Condition = .falling(compare("Door", .equal, 1))
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Door", staleAfter: 60), catalogSignal("Other", staleAfter: 60)],
            events: [event("opened", opened), event("closed", closed)],
            commands: [command("a", precondition: opened), command("b", precondition: closed)]))
        var rising: [Bool?] = []
        var falling: [Bool?] = []
        // Already open when first seen: not an edge. Then closes, opens, stays open, closes.
        for (index, value) in [1.0, 0, 1, 1, 0, 0].enumerated() {
            harness.ingest("Door", ms: Int64(index) * 1000, value)
            rising.append(harness.engine.evaluate(opened))
            falling.append(harness.engine.evaluate(closed))
        }
        #expect(rising == [false, false, true, false, false, false])
        #expect(falling == [false, true, false, false, true, false])
        // Another signal's values do not evaluate the door's conditions: the edge is still the last evaluation.
        harness.ingest("Door", ms: 6000, 1)
        harness.ingest("Other", ms: 6500, 1)
        #expect(harness.engine.evaluate(opened) == true)
        harness.advance(ms: 10_000)
        let events = harness.events()
        #expect(events.filter { $0.name == "opened" }.map(\.triggerMicros) == [2_000_000, 6_000_000])
        #expect(events.filter { $0.name == "closed" }.map(\.triggerMicros) == [1_000_000, 4_000_000])
    }

    @Test("inside(area): within any circle's radius; unknown while a coordinate is missing or stale")
    func inside() {
        let depot = Area(
            name: "depots", latitudeSignal: "Lat", longitudeSignal: "Lon",
            circles: [
                Area.Circle(latitude: 48.1375, longitude: 11.5755, radiusMetres: 500),
                Area.Circle(latitude: -33.8688, longitude: 151.2093, radiusMetres: 100),
            ], line: 1)
        let atDepot: Condition = .inside(area: "depots")
        let harness = tracking(
            atDepot, catalog: [catalogSignal("Lat", staleAfter: 5), catalogSignal("Lon", staleAfter: 5)], areas: [depot])
        let metresPerDegree = 6_371_008.8 * Double.pi / 180
        func position(_ millis: Int64, _ latitude: Double, _ longitude: Double) -> Bool? {
            harness.ingest("Lat", ms: millis, latitude)
            harness.ingest("Lon", ms: millis, longitude)
            return harness.engine.evaluate(atDepot)
        }
        #expect(harness.engine.evaluate(atDepot) == nil)
        harness.ingest("Lat", ms: 0, 48.1375)
        #expect(harness.engine.evaluate(atDepot) == nil)  // no longitude yet
        let eastScale = metresPerDegree * 0.66783  // cos(48.1375°)
        #expect(position(100, 48.1375 + 300 / metresPerDegree, 11.5755) == true)  // 300 m north
        #expect(position(200, 48.1375 + 700 / metresPerDegree, 11.5755) == false)  // 700 m north
        #expect(position(300, 48.1375, 11.5755 + 450 / eastScale) == true)  // 450 m east
        #expect(position(400, 48.1375, 11.5755 - 550 / eastScale) == false)  // 550 m west
        #expect(position(500, -33.8688 + 90 / metresPerDegree, 151.2093) == true)  // the second circle
        harness.ingest("Lon", ms: 6000, 151.2093)  // latitude now stale
        #expect(harness.engine.evaluate(atDepot) == nil)
    }

    @Test("an event triggers when its condition turns true, and again only after it was not true")
    func retrigger() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal("Crash", staleAfter: 1)],
            events: [event("crash", compare("Crash", .equal, 1), post: 0)]))
        for (millis, value) in [(0, 1.0), (100, 1), (200, 1), (300, 0), (400, 1)] { harness.ingest("Crash", ms: Int64(millis), value) }
        // Silent from 0.4 s: unknown from 1.4 s, which is "not true", so the value of 3 s triggers again.
        harness.ingest("Crash", ms: 3000, 1)
        harness.advance(ms: 4000)
        #expect(harness.events().map(\.triggerMicros) == [0, 400_000, 3_000_000])
    }
}
