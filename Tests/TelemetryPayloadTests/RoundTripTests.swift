import Testing
import TelemetryPayload

@Suite("round trip")
struct RoundTripTests {
    static let formats: [PayloadFormat] = [.protobufZstd, .protobuf, .json]

    private func roundTrip(_ builder: TelemetryBatchBuilder, format: PayloadFormat, sequence: UInt64 = 7) throws
        -> DecodedBatch
    {
        let payloads = try builder.encode(format: format) { _ in sequence }
        #expect(payloads.count == 1)
        return try TelemetryPayloadDecoder.decode(payloads[0])
    }

    private func expectSame(_ decoded: [DecodedSample], _ expected: [ExpectedSample], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(decoded.count == expected.count, sourceLocation: sourceLocation)
        for (index, (got, want)) in zip(decoded, expected).enumerated() where !want.matches(got) {
            Issue.record("sample \(index): got \(got), expected \(want)", sourceLocation: sourceLocation)
            return
        }
    }

    @Test("raw integers come back exactly: negative steps, extremes, and raws 2^64 − 1 apart", arguments: formats)
    func rawIntegers(format: PayloadFormat) throws {
        let signals = [
            SignalDescription(name: "Vehicle.Speed", unit: "km/h", factor: 0.01, offset: 0),
            SignalDescription(name: "Engine.Coolant", unit: "degC", factor: 1, offset: -40),
            SignalDescription(name: "Counter64", unit: "", factor: 1, offset: 0),
        ]
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: signals)
        var expected: [ExpectedSample] = []
        func add(_ signal: Int, _ millis: Int64, _ raw: Int64) {
            let time = startMicros + millis * 1000
            builder.append(signal: signal, timeMicros: time, raw: raw)
            let description = signals[signal]
            expected.append(ExpectedSample(
                signal: description.name, unit: description.unit, timeMicros: time,
                value: Double(raw) * description.factor + description.offset, raw: raw))
        }
        for (step, raw) in [Int64(5000), 5003, 4990, 0, -250, 12_345_678].enumerated() { add(0, Int64(step) * 20, raw) }
        for (step, raw) in [Int64(130), 130, 131, 129].enumerated() { add(1, Int64(step) * 100, raw) }
        for (step, raw) in [Int64.max, .min, 0, -1, .max, 1].enumerated() { add(2, Int64(step), raw) }

        let decoded = try roundTrip(builder, format: format)
        expectSame(decoded.samples, expected)
        #expect(decoded.samples[0].value == 50.0)
        #expect(decoded.samples[8].value == 91.0)
    }

    @Test("floating-point values come back bit for bit, NaN, infinities and -0 included", arguments: formats)
    func floatingPoint(format: PayloadFormat) throws {
        let signal = SignalDescription(name: "Vehicle.CurrentLocation.Latitude", unit: "deg")
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [signal])
        let values: [Double] = [48.137154, 48.137201, -2.5e300, .nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, 0.1]
        var expected: [ExpectedSample] = []
        for (index, value) in values.enumerated() {
            let time = startMicros + Int64(index) * 100_000
            builder.append(signal: 0, timeMicros: time, value: value)
            expected.append(ExpectedSample(signal: signal.name, unit: "deg", timeMicros: time, value: value, raw: nil))
        }
        expectSame(try roundTrip(builder, format: format).samples, expected)
    }

    @Test("float values on a signal's steps travel as integers until one is not")
    func floatValuesOnSteps() throws {
        let signal = SignalDescription(name: "Engine.Speed", unit: "rpm", factor: 0.25, offset: 0)
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [signal])
        builder.append(signal: 0, timeMicros: startMicros, value: 812.5)
        builder.append(signal: 0, timeMicros: startMicros + 100_000, value: 813.0)
        var decoded = try roundTrip(builder, format: .protobuf)
        #expect(decoded.samples.map(\.raw) == [3250, 3252])
        #expect(decoded.samples.map(\.value) == [812.5, 813.0])

        // A value between steps: the whole series becomes floating-point, earlier values unchanged.
        builder.append(signal: 0, timeMicros: startMicros + 200_000, value: 813.1)
        builder.append(signal: 0, timeMicros: startMicros + 300_000, raw: 3254)
        decoded = try roundTrip(builder, format: .protobuf)
        #expect(decoded.samples.map(\.raw) == [nil, nil, nil, nil])
        #expect(decoded.samples.map(\.value) == [812.5, 813.0, 813.1, 813.5])
    }

    @Test("sample times are rounded to the time unit, going backwards included", arguments: formats)
    func timeOffsets(format: PayloadFormat) throws {
        let signal = SignalDescription(name: "A", unit: "")
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [signal])
        let offsets: [Int64] = [123_456, 143_499, 163_500, 150_000, 2_000_000_000, 123_000]
        for (index, offset) in offsets.enumerated() {
            builder.append(signal: 0, timeMicros: startMicros + offset, raw: Int64(index))
        }
        let decoded = try roundTrip(builder, format: format)
        #expect(decoded.timeUnitMicros == 1000)
        #expect(decoded.samples.map { $0.timeMicros - startMicros } == [123_000, 143_000, 164_000, 150_000, 2_000_000_000, 123_000])
    }

    @Test("with a 1 µs time unit every time comes back exactly, before 1970 too")
    func microsecondTimes() throws {
        var builder = TelemetryBatchBuilder(
            vehicleID: "VIN1", profile: "test", signals: [SignalDescription(name: "A")], timeUnitMicros: 1)
        let times: [Int64] = [startMicros + 1, startMicros + 20_013, startMicros + 39_987, -1_234_567, startMicros]
        for time in times { builder.append(signal: 0, timeMicros: time, raw: 1) }
        for format in Self.formats {
            #expect(try roundTrip(builder, format: format).samples.map(\.timeMicros) == times)
        }
    }

    @Test("the header comes back: vehicle, profile, sequence, schema version", arguments: [UInt64(0), 1, 1 << 40, .max])
    func header(sequence: UInt64) throws {
        var builder = TelemetryBatchBuilder(
            vehicleID: "WAUZZZ8V5KA123456", profile: "demo-sedan", signals: [SignalDescription(name: "A")])
        builder.append(signal: 0, timeMicros: startMicros, raw: 1)
        for format in Self.formats {
            let decoded = try roundTrip(builder, format: format, sequence: sequence)
            #expect(decoded.vehicleID == "WAUZZZ8V5KA123456")
            #expect(decoded.profile == "demo-sedan")
            #expect(decoded.sequence == sequence)
            #expect(decoded.schemaVersion == 1)
            #expect(decoded.partCount == 0)
        }
    }

    @Test("events come back with attributes, dropped ranges and windows", arguments: formats)
    func events(format: PayloadFormat) throws {
        let speed = SignalDescription(name: "Vehicle.Speed", unit: "km/h", factor: 0.01, offset: 0)
        let accel = SignalDescription(name: "Vehicle.Acceleration.Longitudinal", unit: "m/s2")
        let braking = TelemetryEvent(
            name: "harsh_braking", timeMicros: startMicros + 1_500_123, priority: "critical",
            attributes: ["rule": "brake-hard", "threshold": "0.6 g"],
            window: EventWindow(
                preTriggerMicros: 2_000_000, postTriggerMicros: 1_000_000,
                samples: [
                    WindowSample(signal: speed, timeMicros: startMicros - 500_000, raw: 9000),
                    WindowSample(signal: speed, timeMicros: startMicros + 1_000_000, raw: 8500),
                    WindowSample(signal: speed, timeMicros: startMicros + 2_000_000, raw: 3000),
                    WindowSample(signal: accel, timeMicros: startMicros + 1_400_000, value: -6.25),
                    WindowSample(signal: accel, timeMicros: startMicros + 1_500_000, value: .nan),
                ]))
        let dropped = TelemetryEvent(
            name: "outbox.records_dropped", timeMicros: startMicros + 3_000_000, priority: "telemetry",
            droppedRanges: [
                DroppedRange(recordClass: "telemetry", first: 100, last: 199, count: 100, reason: "storage cap"),
                DroppedRange(recordClass: "events", first: 7, last: UInt64.max, count: 3, reason: "expired"),
            ])
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [speed])
        builder.append(signal: 0, timeMicros: startMicros, raw: 9000)
        builder.append(braking)
        builder.append(dropped)
        builder.append(TelemetryEvent(name: "ignition_on", timeMicros: -5, priority: ""))

        let decoded = try roundTrip(builder, format: format)
        #expect(decoded.events.count == 3)
        #expect(decoded.events[1] == dropped)
        #expect(decoded.events[2] == TelemetryEvent(name: "ignition_on", timeMicros: -5, priority: ""))
        let gotBraking = decoded.events[0]
        #expect(gotBraking.name == braking.name)
        #expect(gotBraking.timeMicros == braking.timeMicros)
        #expect(gotBraking.attributes == braking.attributes)
        #expect(gotBraking.window?.preTriggerMicros == 2_000_000)
        #expect(gotBraking.window?.postTriggerMicros == 1_000_000)
        let samples = gotBraking.window?.samples ?? []
        #expect(samples.count == 5)
        #expect(Array(samples.prefix(3)) == Array(braking.window!.samples.prefix(3)))
        #expect(samples.prefix(3).map(\.value) == [90, 85, 30])
        #expect(samples.dropFirst(3).map(\.signal) == [accel, accel])
        #expect(samples.dropFirst(3).map(\.raw) == [nil, nil])
        #expect(samples[3].value == -6.25)
        #expect(samples[4].value.isNaN)
    }

    @Test("a batch of events only, without samples")
    func eventsOnly() throws {
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [])
        #expect(builder.isEmpty)
        builder.append(TelemetryEvent(name: "door_opened", timeMicros: startMicros, priority: "events"))
        #expect(!builder.isEmpty)
        #expect(builder.sampleCount == 0)
        let decoded = try roundTrip(builder, format: .protobufZstd)
        #expect(decoded.samples.isEmpty)
        #expect(decoded.events.map(\.name) == ["door_opened"])
    }

    @Test("the JSON form is protobuf's JSON mapping and decodes to the same batch as the binary forms")
    func jsonForm() throws {
        let builder = SyntheticDrive().batch(seconds: 1)
        let json = try builder.encode(format: .json) { _ in 42 }[0]
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.hasPrefix("{"))
        #expect(text.contains(#""vehicleId":"WAUZZZ8V5KA123456""#))
        #expect(text.contains(#""sequence":"42""#))
        #expect(text.contains(#""name":"Engine.Speed""#))
        let fromJSON = try TelemetryPayloadDecoder.decode(json)
        let fromZstd = try TelemetryPayloadDecoder.decode(try builder.encode(format: .protobufZstd) { _ in 42 }[0])
        #expect(fromJSON.samples == fromZstd.samples)
        #expect(fromJSON.samples.count == builder.sampleCount)
        #expect(fromJSON.sequence == 42)
        // Readers may add whitespace; it is still JSON.
        #expect(try TelemetryPayloadDecoder.decode(Array("\n  ".utf8) + json).samples == fromZstd.samples)
    }

    @Test("a realistic batch comes back sample for sample, grouped by signal")
    func syntheticDrive() throws {
        let drive = SyntheticDrive()
        var expected: [ExpectedSample] = []
        drive.forEachSample(seconds: 2, startSecond: 0, seed: 3) { index, time, raw in
            let signal = drive.signals[index].description
            // Times rounded to the nearest millisecond, the default time unit.
            expected.append(ExpectedSample(
                signal: signal.name, unit: signal.unit, timeMicros: (time + 500) / 1000 * 1000,
                value: Double(raw) * signal.factor + signal.offset, raw: raw))
        }
        var builder = TelemetryBatchBuilder(vehicleID: "V", profile: "p", signals: drive.signals.map(\.description))
        drive.append(to: &builder, seconds: 2, startSecond: 0, seed: 3)
        #expect(builder.sampleCount == 2 * (16 * 50 + 24 * 10))
        expectSame(try roundTrip(builder, format: .protobufZstd).samples, groupedBySignal(expected))
    }

    @Test("markers of values that were not readings come back with their times and kinds, beside the samples", arguments: formats)
    func notReadings(format: PayloadFormat) throws {
        let cargo = SignalDescription(name: "Vehicle.Private.Trailer.CargoTemperature", unit: "celsius", factor: 0.03125, offset: -273)
        let door = SignalDescription(name: "Vehicle.Private.Trailer.CargoDoor.IsOpen")
        var builder = TelemetryBatchBuilder(vehicleID: "truck", profile: "p", signals: [cargo, door])
        builder.appendNotReading(signal: 0, timeMicros: startMicros + 2_000, kind: .notAvailable)
        builder.append(signal: 1, timeMicros: startMicros, raw: 1)
        builder.appendNotReading(signal: 0, timeMicros: startMicros + 1_000, kind: .error)
        builder.appendNotReading(signal: 0, timeMicros: startMicros + 5_000, kind: .notAvailable)
        #expect(builder.sampleCount == 1)
        #expect(builder.notReadingCount == 3)
        let decoded = try roundTrip(builder, format: format)
        #expect(decoded.samples.map(\.signal) == [door.name])
        #expect(decoded.notReadings == [
            DecodedNotReading(signal: cargo.name, unit: "celsius", timeMicros: startMicros + 2_000, kind: .notAvailable),
            DecodedNotReading(signal: cargo.name, unit: "celsius", timeMicros: startMicros + 1_000, kind: .error),
            DecodedNotReading(signal: cargo.name, unit: "celsius", timeMicros: startMicros + 5_000, kind: .notAvailable),
        ])

        var onlyMarkers = TelemetryBatchBuilder(vehicleID: "truck", profile: "p", signals: [cargo])
        #expect(onlyMarkers.isEmpty)
        onlyMarkers.appendNotReading(signal: 0, timeMicros: startMicros, kind: .notAvailable)
        #expect(!onlyMarkers.isEmpty, "a batch of markers only is still sent")
        let alone = try roundTrip(onlyMarkers, format: format)
        #expect(alone.samples.isEmpty)
        #expect(alone.notReadings.map(\.timeMicros) == [startMicros])
        onlyMarkers.removeAll()
        #expect(onlyMarkers.isEmpty && onlyMarkers.notReadingCount == 0)
    }

    @Test("a split batch shares out its markers like its samples: together the parts hold every one, in order")
    func splitNotReadings() throws {
        let cargo = SignalDescription(name: "Vehicle.Private.Trailer.CargoTemperature", unit: "celsius")
        var builder = TelemetryBatchBuilder(vehicleID: "truck", profile: "p", signals: [cargo])
        for second in 0..<2000 {
            let time = startMicros + Int64(second) * 1_000_000
            if second % 3 == 0 {
                builder.appendNotReading(signal: 0, timeMicros: time, kind: second % 2 == 0 ? .error : .notAvailable)
            } else {
                builder.append(signal: 0, timeMicros: time, raw: Int64(second))
            }
        }
        let parts = try builder.parts(format: .protobuf, maximumBytes: 1024)
        #expect(parts.count > 1)
        var markers: [DecodedNotReading] = []
        for part in parts { markers += try TelemetryPayloadDecoder.decode(part.payload(sequence: 1)).notReadings }
        let expected = stride(from: 0, to: 2000, by: 3).map { second in
            DecodedNotReading(
                signal: cargo.name, unit: "celsius", timeMicros: startMicros + Int64(second) * 1_000_000,
                kind: second % 2 == 0 ? .error : .notAvailable)
        }
        #expect(markers == expected)
    }

    @Test("removeAll empties the builder for the next batch")
    func removeAll() throws {
        let signal = SignalDescription(name: "A", unit: "", factor: 1, offset: 0)
        var builder = TelemetryBatchBuilder(vehicleID: "VIN1", profile: "test", signals: [signal])
        builder.append(signal: 0, timeMicros: startMicros, value: 0.5)
        builder.append(TelemetryEvent(name: "e", timeMicros: startMicros, priority: "p"))
        builder.removeAll()
        #expect(builder.isEmpty)
        #expect(builder.sampleCount == 0)
        builder.append(signal: 0, timeMicros: startMicros + 1000, raw: 7)
        let decoded = try roundTrip(builder, format: .protobuf)
        #expect(decoded.samples.map(\.raw) == [7])
        #expect(decoded.events.isEmpty)
    }
}
