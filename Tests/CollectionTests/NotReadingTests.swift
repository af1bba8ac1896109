import Collection
import DBC
import FirmwareProfile
import Testing

/// Values that are not readings (J1939 "not available" and "error", values outside the DBC's range): the engine
/// treats them as unknown, never as samples.
@Suite("values that are not readings in the collection engine")
struct NotReadingTests {
    static let cargo = "Vehicle.Private.Trailer.CargoTemperature"

    /// The fleet truck's cold-chain rule and cargo alert (Firmware-Profiles/fleet-truck-j1939/profile.toml), with a
    /// periodic rule and an aggregate beside them.
    func truckHarness() -> Harness {
        let outOfRange = Condition.sustained(
            .or([compare(Self.cargo, .greater, 8), compare(Self.cargo, .less, -25)]), seconds: 60)
        return Harness(makeProfile(
            catalog: [catalogSignal(Self.cargo, unit: "celsius", staleAfter: 3)],
            rules: [
                rule("cold-chain", [Self.cargo], .onChange(deadband: 0.5, heartbeatSeconds: 60)),
                rule("every-second", [Self.cargo], .periodic(intervalSeconds: 1)),
                rule("statistics", [Self.cargo], .aggregate(windowSeconds: 10, functions: [.max, .count])),
            ],
            events: [event("cargo-temperature-out-of-range", outOfRange, capture: [Self.cargo], pre: 120, post: 30)]))
    }

    @Test("a truck without a reefer sends 'not available' every second for 2 min: no sample, no alert, unknown")
    func notAvailableForTwoMinutes() {
        let harness = truckHarness()
        let index = harness.index(Self.cargo)
        for second in 0...120 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .notAvailable)
        }
        harness.advance(ms: 200_000)
        #expect(harness.samples().isEmpty)
        #expect(harness.events().isEmpty)
        #expect(harness.engine.evaluate(compare(Self.cargo, .greater, 8)) == nil, "unknown, neither true nor false")
        #expect(harness.engine.latest(signal: index) == nil, "no reading was ever received")
        #expect(harness.engine.latestAvailability(signal: index)?.availability == .notAvailable)
        #expect(harness.engine.latestAvailability(signal: index)?.timeMicros == 120_000_000)
    }

    @Test("telemetry marks them: a periodic rule marks each boundary, an on-change rule each change of kind and heartbeat")
    func markersWhereSamplesWouldHaveBeen() {
        let harness = truckHarness()
        let index = harness.index(Self.cargo)
        for second in 0...120 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .notAvailable)
        }
        harness.advance(ms: 200_000)
        let markers = harness.markers()
        #expect(harness.samples().isEmpty)
        // Every second while the last "not available" is no older than its 3 s staleness limit, then nothing.
        let periodic = markers.filter { $0.series == Self.cargo }
        #expect(periodic.count == 123 + 3, "boundaries 1…123 s, on-change at 0, 60 and 120 s: \(periodic.suffix(3))")
        #expect(periodic.allSatisfy { $0.availability == .notAvailable && $0.millis <= 123_000 }, "\(periodic.suffix(3))")
        #expect(periodic.contains { $0.millis == 123_000 } && !periodic.contains { $0.millis == 124_000 })
        // The on-change rule marks once, then at its 60 s heartbeat while the values keep coming; the same series
        // carries both rules' output, so the instants 0, 60 and 120 s appear once more than the boundaries do.
        #expect(periodic.filter { $0.millis == 0 }.count == 1, "the first 'not available' is marked at once")
        #expect(periodic.filter { $0.millis == 60_000 }.count == 2, "periodic boundary and on-change heartbeat")
        #expect(periodic.filter { $0.millis == 120_000 }.count == 2, "periodic boundary and on-change heartbeat")
        #expect(periodic.filter { $0.millis == 180_000 }.isEmpty, "no heartbeat once the values stopped")
        // Aggregates summarise readings only: no marker.
        #expect(markers.allSatisfy { $0.series == Self.cargo }, "\(markers.filter { $0.series != Self.cargo }.prefix(3))")
    }

    @Test("an on-change rule marks a change from 'not available' to 'error' and sends the next reading whatever the deadband")
    func onChangeMarksEachKind() {
        let harness = Harness(makeProfile(
            catalog: [catalogSignal(Self.cargo, unit: "celsius", staleAfter: 3)],
            rules: [rule("cold-chain", [Self.cargo], .onChange(deadband: 0.5, heartbeatSeconds: nil))]))
        let index = harness.index(Self.cargo)
        harness.ingest(Self.cargo, ms: 0, 4)
        for second in 1...3 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .notAvailable)
        }
        for second in 4...5 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .error)
        }
        harness.ingest(Self.cargo, ms: 6000, 4.1)
        harness.ingest(Self.cargo, ms: 7000, 4.2)
        #expect(harness.markers() == [
            Marker(series: Self.cargo, millis: 1000, availability: .notAvailable),
            Marker(series: Self.cargo, millis: 4000, availability: .error),
        ])
        // 4.1 is within the deadband of the last sample (4), but it is the first reading after the markers.
        #expect(harness.samples() == [Sample(Self.cargo, 0, 4), Sample(Self.cargo, 6000, 4.1)])
    }

    @Test("the same values taken as readings (as before) fire the alert: the test above would catch a regression")
    func theSameValuesAsReadingsFireTheAlert() {
        let harness = truckHarness()
        for second in 0...120 { harness.ingest(Self.cargo, ms: Int64(second) * 1000, 1774.96875) }
        harness.advance(ms: 200_000)
        #expect(harness.events().map(\.name) == ["cargo-temperature-out-of-range"])
        #expect(harness.samples().contains { $0.series == Self.cargo && $0.value == 1774.96875 })
    }

    @Test("readings, then not available: samples stop at once, the condition turns unknown and its 'for' starts over")
    func readingsThenNotAvailable() {
        let harness = truckHarness()
        let index = harness.index(Self.cargo)
        // Too warm for 50 s, then the sensor drops out for 30 s, then too warm again for 50 s: never 60 s in a row.
        for second in 0..<50 { harness.ingest(Self.cargo, ms: Int64(second) * 1000, 12) }
        for second in 50..<80 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .error)
        }
        #expect(harness.engine.evaluate(compare(Self.cargo, .greater, 8)) == nil)
        let during = harness.samples()
        // A periodic boundary at 50 s falls due before the value stamped 50 s, and the reading of 49 s is fresh then.
        #expect(during.filter { $0.series == Self.cargo }.allSatisfy { $0.millis <= 50_000 }, "\(during)")
        #expect(harness.engine.latest(signal: index)?.value == 12, "the last reading is kept")
        #expect(harness.engine.latestAvailability(signal: index)?.availability == .error)
        for second in 80..<130 { harness.ingest(Self.cargo, ms: Int64(second) * 1000, 12) }
        harness.advance(ms: 129_500)
        #expect(harness.events().isEmpty, "50 s + unknown + 50 s is not 60 s too warm")
        let after = harness.samples()
        let cargoAfter = after.filter { $0.series == Self.cargo }
        #expect(cargoAfter.first?.millis == 80_000, "the first reading after the gap is sent: \(cargoAfter.prefix(2))")
        #expect(harness.engine.latestAvailability(signal: index)?.availability == .valid)
        // Aggregates saw only readings: the windows from 50 to 80 s are empty (no output), the one from 80 s has 10.
        let counts = (during + after).filter { $0.series == Self.cargo + ":count" }
        #expect(counts.map(\.millis) == [10_000, 20_000, 30_000, 40_000, 50_000, 90_000, 100_000, 110_000, 120_000], "\(counts)")
        #expect(counts.allSatisfy { $0.value == 10 }, "\(counts)")
    }

    @Test("error(SIGNAL) for 5s fires an event when the sensor keeps sending error indicators, and not for 'not available' or readings")
    func errorIndicatorTriggersAnEvent() {
        let faulty = Condition.sustained(.reports(signal: Self.cargo, availability: .error), seconds: 5)
        let harness = Harness(makeProfile(
            catalog: [catalogSignal(Self.cargo, unit: "celsius", staleAfter: 3)],
            events: [event("cargo-sensor-fault", faulty, capture: [Self.cargo], pre: 0, post: 0)]))
        let index = harness.index(Self.cargo)
        #expect(harness.engine.evaluate(.reports(signal: Self.cargo, availability: .error)) == nil, "unknown before any value")
        // Readings, then "not available" (no reefer): neither is an error indicator.
        for second in 0..<10 { harness.ingest(Self.cargo, ms: Int64(second) * 1000, 4) }
        for second in 10..<20 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .notAvailable)
        }
        #expect(harness.engine.evaluate(.reports(signal: Self.cargo, availability: .notAvailable)) == true)
        #expect(harness.engine.evaluate(.reports(signal: Self.cargo, availability: .error)) == false)
        harness.advance(ms: 20_000)
        #expect(harness.events().isEmpty)
        // Error indicators for 6 s: the event fires once.
        for second in 20...26 {
            harness.engine.ingestNotReading(signal: index, timeMicros: Int64(second) * 1_000_000, availability: .error)
        }
        harness.advance(ms: 27_000)
        #expect(harness.events().map(\.name) == ["cargo-sensor-fault"])
        // A sensor that falls silent: the last error indicator turns stale, and the condition unknown.
        harness.advance(ms: 40_000)
        #expect(harness.engine.evaluate(.reports(signal: Self.cargo, availability: .error)) == nil)
    }
}
