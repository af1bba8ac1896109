import SwiftProtobuf

/// A decoded payload: the batch's header, every sample with its time and value, and the events.
public struct DecodedBatch: Sendable {
    /// The schema version the payload declared (1).
    public var schemaVersion: UInt32
    /// The sending vehicle and its collection profile.
    public var vehicleID: String
    public var profile: String
    /// The outbox record's sequence number (per vehicle, only grows).
    public var sequence: UInt64
    /// The part's index and the number of parts, when the batch was split (both 0 when it was not).
    public var partIndex: Int
    public var partCount: Int
    /// The resolution of the sample times, in microseconds.
    public var timeUnitMicros: Int64
    /// The samples, grouped by signal in the order the payload lists them, each signal's samples in their order.
    public var samples: [DecodedSample]
    /// Where a signal would have had a sample but sent a value that is not a reading, grouped like `samples`.
    public var notReadings: [DecodedNotReading] = []
    /// The events, in the order they were recorded.
    public var events: [TelemetryEvent]
}

/// One sample of a decoded batch.
public struct DecodedSample: Sendable, Equatable {
    /// The signal's name and unit.
    public var signal: String
    public var unit: String
    /// Microseconds since the Unix epoch.
    public var timeMicros: Int64
    /// The physical value.
    public var value: Double
    /// The raw integer behind `value`, for integer series.
    public var raw: Int64?

    /// A sample; `value` is what it is, `raw` only for integer series.
    public init(signal: String, unit: String, timeMicros: Int64, value: Double, raw: Int64?) {
        self.signal = signal
        self.unit = unit
        self.timeMicros = timeMicros
        self.value = value
        self.raw = raw
    }
}

/// A marker of a decoded batch: at `timeMicros` the signal's newest value was not a reading.
public struct DecodedNotReading: Sendable, Equatable {
    public var signal: String
    public var unit: String
    /// Microseconds since the Unix epoch.
    public var timeMicros: Int64
    public var kind: NotReadingKind

    public init(signal: String, unit: String, timeMicros: Int64, kind: NotReadingKind) {
        self.signal = signal
        self.unit = unit
        self.timeMicros = timeMicros
        self.kind = kind
    }
}

/// Reads any payload the builder writes, whichever format it is in, and refuses anything else with a clear error.
public enum TelemetryPayloadDecoder {
    /// The largest decompressed payload accepted by default: far above any real batch (a 128 KiB MQTT message holds
    /// about 1 MB of protobuf), and low enough that a decompression bomb costs little memory.
    public static let defaultMaximumDecompressedSize = 4 << 20

    /// Decodes a payload: zstd (starts with 28 B5 2F FD), JSON (starts with `{`) or plain protobuf.
    public static func decode(
        _ bytes: [UInt8], maximumDecompressedSize: Int = defaultMaximumDecompressedSize
    ) throws(TelemetryPayloadError) -> DecodedBatch {
        if bytes.starts(with: Zstd.magic) {
            let inner = try Zstd.decompress(bytes, maximumSize: maximumDecompressedSize)
            guard !inner.starts(with: Zstd.magic) else {
                throw TelemetryPayloadError(.malformed, "the zstd payload holds another zstd payload; refusing to unpack it again")
            }
            return try decodeUncompressed(inner)
        }
        return try decodeUncompressed(bytes)
    }

    private static func decodeUncompressed(_ bytes: [UInt8]) throws(TelemetryPayloadError) -> DecodedBatch {
        guard !bytes.isEmpty else { throw TelemetryPayloadError(.malformed, "the payload is empty") }
        let firstVisible = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let batch: Axle_Telemetry_V1_TelemetryBatch
        if firstVisible == UInt8(ascii: "{") {
            do {
                var options = JSONDecodingOptions()
                // Fields added by newer schemas are skipped, as the binary decoder skips them.
                options.ignoreUnknownFields = true
                batch = try Axle_Telemetry_V1_TelemetryBatch(jsonUTF8Bytes: bytes, options: options)
            } catch {
                throw TelemetryPayloadError(.malformed, "the payload looks like JSON but is not a telemetry batch: \(error)")
            }
        } else {
            do {
                batch = try Axle_Telemetry_V1_TelemetryBatch(serializedBytes: bytes)
            } catch {
                throw TelemetryPayloadError(
                    .malformed,
                    "the payload is neither zstd, JSON nor a protobuf telemetry batch (\(bytes.count) bytes, "
                        + "protobuf says: \(error))")
            }
        }
        return try decode(batch)
    }

    private static func decode(_ batch: Axle_Telemetry_V1_TelemetryBatch) throws(TelemetryPayloadError) -> DecodedBatch {
        guard batch.schemaVersion == TelemetryBatchBuilder.schemaVersion else {
            if batch.schemaVersion == 0 {
                throw TelemetryPayloadError(
                    .malformed, "the payload has no schema_version, so it is not an Axle telemetry batch")
            }
            throw TelemetryPayloadError(
                .unsupportedSchemaVersion,
                "the payload uses telemetry schema version \(batch.schemaVersion); this decoder reads version "
                    + "\(TelemetryBatchBuilder.schemaVersion) only (update the decoder)")
        }
        let hasSeries = !batch.series.isEmpty || batch.events.contains { !$0.window.series.isEmpty }
        guard batch.timeUnitMicros > 0 || !hasSeries else {
            throw TelemetryPayloadError(.malformed, "the batch has samples but time_unit_micros is 0")
        }
        let clock = SeriesClock(base: batch.timeBaseUnixMicros, unit: Int64(batch.timeUnitMicros))

        var samples: [DecodedSample] = []
        samples.reserveCapacity(batch.series.reduce(0) { $0 + $1.timeDeltas.count })
        for series in batch.series {
            try SeriesDecoding.forEachSample(of: series, clock: clock, context: "series \"\(series.name)\"") {
                time, value, raw in
                samples.append(
                    DecodedSample(signal: series.name, unit: series.unit, timeMicros: time, value: value, raw: raw))
            }
        }
        var notReadings: [DecodedNotReading] = []
        for series in batch.series where !series.notReadingTimeDeltas.isEmpty || !series.notReadings.isEmpty {
            try SeriesDecoding.forEachNotReading(of: series, clock: clock, context: "series \"\(series.name)\"") {
                time, kind in
                notReadings.append(DecodedNotReading(signal: series.name, unit: series.unit, timeMicros: time, kind: kind))
            }
        }
        var events: [TelemetryEvent] = []
        events.reserveCapacity(batch.events.count)
        for event in batch.events {
            events.append(try decode(event, clock: clock))
        }
        return DecodedBatch(
            schemaVersion: batch.schemaVersion, vehicleID: batch.vehicleID, profile: batch.profile,
            sequence: batch.sequence, partIndex: Int(batch.partIndex), partCount: Int(batch.partCount),
            timeUnitMicros: Int64(batch.timeUnitMicros), samples: samples, notReadings: notReadings, events: events)
    }

    private static func decode(_ event: Axle_Telemetry_V1_Event, clock: SeriesClock) throws(TelemetryPayloadError)
        -> TelemetryEvent
    {
        var window: EventWindow?
        if event.hasWindow {
            var samples: [WindowSample] = []
            for series in event.window.series {
                let signal = SignalDescription(
                    name: series.name, unit: series.unit, factor: series.factor, offset: series.offset)
                try SeriesDecoding.forEachSample(
                    of: series, clock: clock, context: "the window of event \"\(event.name)\", series \"\(series.name)\""
                ) { time, value, raw in
                    samples.append(
                        raw.map { WindowSample(signal: signal, timeMicros: time, raw: $0) }
                            ?? WindowSample(signal: signal, timeMicros: time, value: value))
                }
            }
            window = EventWindow(
                preTriggerMicros: event.window.preTriggerMicros, postTriggerMicros: event.window.postTriggerMicros,
                samples: samples)
        }
        return TelemetryEvent(
            name: event.name, timeMicros: event.timeUnixMicros, priority: event.priority,
            attributes: event.attributes,
            droppedRanges: event.droppedRanges.map {
                DroppedRange(recordClass: $0.recordClass, first: $0.first, last: $0.last, count: $0.count, reason: $0.reason)
            },
            window: window)
    }
}

/// A batch's time base and unit: turns a series' running offset back into Unix microseconds.
struct SeriesClock {
    let base: Int64
    let unit: Int64

    /// The time of a running time offset (in units from the base), or nil when it falls outside Int64 microseconds.
    @inline(__always)
    func time(atOffset offset: Int64) -> Int64? {
        let (scaled, overflowed) = offset.multipliedReportingOverflow(by: unit)
        let (time, overflowedAgain) = base.addingReportingOverflow(scaled)
        return overflowed || overflowedAgain ? nil : time
    }
}

enum SeriesDecoding {
    /// Calls `body` with each "not a reading" marker's time and kind, in order; throws when the two columns disagree
    /// in length or a time falls outside Int64 microseconds. A kind this decoder does not know (a later schema's),
    /// and the never-written 0, read as "not available": either way there is no reading.
    static func forEachNotReading(
        of series: Axle_Telemetry_V1_SignalSeries, clock: SeriesClock, context: @autoclosure () -> String,
        _ body: (Int64, NotReadingKind) -> Void
    ) throws(TelemetryPayloadError) {
        let count = series.notReadingTimeDeltas.count
        guard series.notReadings.count == count else {
            throw TelemetryPayloadError(
                .malformed,
                "\(context()) has \(count) not_reading_time_deltas but \(series.notReadings.count) not_readings")
        }
        var timeOffset: Int64 = 0
        for index in 0..<count {
            timeOffset = timeOffset &+ series.notReadingTimeDeltas[index]
            guard let time = clock.time(atOffset: timeOffset) else {
                throw TelemetryPayloadError(
                    .malformed, "\(context()): marker \(index)'s time is outside the range of Int64 microseconds")
            }
            body(time, series.notReadings[index] == .error ? .error : .notAvailable)
        }
    }

    /// Calls `body` with each sample's time, value and raw (nil for floating-point series), in order; throws when
    /// the columns disagree in length or a time falls outside what Int64 microseconds can hold.
    static func forEachSample(
        of series: Axle_Telemetry_V1_SignalSeries, clock: SeriesClock, context: @autoclosure () -> String,
        _ body: (Int64, Double, Int64?) -> Void
    ) throws(TelemetryPayloadError) {
        let count = series.timeDeltas.count
        let isInteger = !series.rawDeltas.isEmpty
        guard !(isInteger && !series.values.isEmpty) else {
            throw TelemetryPayloadError(.malformed, "\(context()) has both raw_deltas and values; a series has one")
        }
        let valueCount = isInteger ? series.rawDeltas.count : series.values.count
        guard valueCount == count else {
            throw TelemetryPayloadError(
                .malformed,
                "\(context()) has \(count) times but \(valueCount) \(isInteger ? "raw values" : "values")")
        }
        let factor = series.factor
        let offset = series.offset
        var timeOffset: Int64 = 0
        var raw: Int64 = 0
        for index in 0..<count {
            timeOffset = timeOffset &+ series.timeDeltas[index]
            guard let time = clock.time(atOffset: timeOffset) else {
                throw TelemetryPayloadError(
                    .malformed, "\(context()): sample \(index)'s time is outside the range of Int64 microseconds")
            }
            if isInteger {
                raw = raw &+ series.rawDeltas[index]
                body(time, Double(raw) * factor + offset, raw)
            } else {
                body(time, series.values[index], nil)
            }
        }
    }
}
