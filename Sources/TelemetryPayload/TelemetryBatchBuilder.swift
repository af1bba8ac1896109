import SwiftProtobuf

/// Collects one vehicle's samples and events column-wise, then encodes them as one or more payloads.
///
/// `append` runs for every sample the agent records, so it only indexes arrays: signals are addressed by their
/// position in `signals`, never by name. `removeAll()` keeps the buffers for the next batch.
public struct TelemetryBatchBuilder: Sendable {
    /// The schema version this builder writes (`TelemetryBatch.schema_version`).
    public static let schemaVersion: UInt32 = 1

    /// The vehicle every batch is from (often the VIN).
    public let vehicleID: String
    /// The collection profile's name, sent with every batch.
    public let profile: String
    /// The signals that samples refer to by index.
    public let signals: [SignalDescription]
    /// The resolution of sample times on the wire, in microseconds; times are rounded to a multiple of it.
    public let timeUnitMicros: Int64

    private var columns: [SignalColumn]
    /// The events appended so far, in order.
    public private(set) var events: [TelemetryEvent] = []
    /// How many samples have been appended since the last `removeAll()`.
    public private(set) var sampleCount = 0
    /// How many "not a reading" markers have been appended since the last `removeAll()`.
    public private(set) var notReadingCount = 0

    /// A builder for one vehicle and profile. `timeUnitMicros` (default 1000: milliseconds) is the time resolution
    /// kept on the wire: coarser units compress better, and telemetry sampled at up to 100 Hz loses nothing at 1 ms.
    public init(vehicleID: String, profile: String, signals: [SignalDescription], timeUnitMicros: Int64 = 1000) {
        precondition(
            timeUnitMicros >= 1 && timeUnitMicros <= Int64(UInt32.max),
            "timeUnitMicros must be between 1 and \(UInt32.max), not \(timeUnitMicros)")
        self.vehicleID = vehicleID
        self.profile = profile
        self.signals = signals
        self.timeUnitMicros = timeUnitMicros
        self.columns = signals.map { SignalColumn(signal: $0) }
    }

    /// True when there is nothing to send: no samples, no markers and no events.
    public var isEmpty: Bool { sampleCount == 0 && notReadingCount == 0 && events.isEmpty }

    /// Appends a scaled integer sample (a DBC raw value): exact on the wire, decoded as `raw × factor + offset`.
    @inline(__always)
    public mutating func append(signal: Int, timeMicros: Int64, raw: Int64) {
        columns[signal].append(timeMicros: timeMicros, raw: raw)
        sampleCount += 1
    }

    /// Appends a floating-point sample. Values that are an exact step of the signal's scaling still travel as
    /// integers; others (and NaN or infinities) make the signal's series floating-point for this batch.
    @inline(__always)
    public mutating func append(signal: Int, timeMicros: Int64, value: Double) {
        columns[signal].append(timeMicros: timeMicros, value: value)
        sampleCount += 1
    }

    /// Appends a marker: at `timeMicros` the signal would have had a sample, but its newest value was not a reading.
    public mutating func appendNotReading(signal: Int, timeMicros: Int64, kind: NotReadingKind) {
        columns[signal].notReadingTimes.append(timeMicros)
        columns[signal].notReadingKinds.append(kind)
        notReadingCount += 1
    }

    /// Appends an event.
    public mutating func append(_ event: TelemetryEvent) {
        events.append(event)
    }

    /// Empties the batch, keeping the buffers' capacity for the next one.
    public mutating func removeAll() {
        for index in columns.indices { columns[index].removeAll() }
        events.removeAll(keepingCapacity: true)
        sampleCount = 0
        notReadingCount = 0
    }

    /// Splits the batch into parts that each encode to at most `maximumBytes` (nil: one part, any size), so that a
    /// caller can store one outbox record per part and give each its sequence number when it stores it.
    ///
    /// Each part holds a contiguous share of every signal's samples, so the parts' samples, concatenated in part
    /// order, are the batch's samples in their original order; events are shared out the same way.
    public func parts(
        format: PayloadFormat = .protobufZstd, maximumBytes: Int? = nil
    ) throws(TelemetryPayloadError) -> [EncodablePart] {
        guard let maximumBytes else { return [try makePart(index: 0, count: 1, format: format)] }
        guard maximumBytes > 0 else {
            throw TelemetryPayloadError(.cannotSplit, "the maximum payload size must be positive, not \(maximumBytes)")
        }
        let mostParts = max(
            columns.map(\.times.count).max() ?? 0, columns.map(\.notReadingTimes.count).max() ?? 0, events.count, 1)
        var count = 1
        while true {
            var parts: [EncodablePart] = []
            var largest = 0
            for index in 0..<count {
                let part = try makePart(index: index, count: count, format: format)
                largest = max(largest, try part.sizeBound(maximumBytes: maximumBytes))
                parts.append(part)
            }
            if largest <= maximumBytes { return parts }
            guard count < mostParts else {
                throw TelemetryPayloadError(
                    .cannotSplit,
                    "the batch cannot be split into payloads of at most \(maximumBytes) bytes: even split \(count) "
                        + "ways (at most one sample or marker per signal, or one event, per part) a part needs \(largest) "
                        + "bytes; raise the maximum, "
                        + "collect fewer signals per batch, or send smaller event windows")
            }
            // The next attempt: as many parts as the largest one suggests, with room for the estimate to be off, and
            // at least a quarter more, so that parts whose fixed overhead (signal names) dominates still converge fast.
            let estimate = (Double(count) * Double(largest) * 1.1 / Double(maximumBytes)).rounded(.up)
            count = min(max(count + 1, count * 5 / 4, Int(min(estimate, Double(mostParts)))), mostParts)
        }
    }

    /// Encodes the batch as payloads of at most `maximumBytes` each, asking `sequence` for each part's sequence number.
    /// (`parts(format:maximumBytes:)` lets the caller assign sequence numbers later, inside its own transaction.)
    public func encode(
        format: PayloadFormat = .protobufZstd, maximumBytes: Int? = nil, sequence: (Int) -> UInt64
    ) throws(TelemetryPayloadError) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        for part in try parts(format: format, maximumBytes: maximumBytes) {
            payloads.append(try part.payload(sequence: sequence(part.index)))
        }
        return payloads
    }

    private func makePart(index: Int, count: Int, format: PayloadFormat) throws(TelemetryPayloadError) -> EncodablePart {
        func share(_ total: Int) -> Range<Int> { (total * index / count)..<(total * (index + 1) / count) }
        let ranges = columns.map { share($0.times.count) }
        let markerRanges = columns.map { share($0.notReadingTimes.count) }
        let partEvents = events.indices.filter { $0 * count / events.count == index }.map { events[$0] }

        var earliest = Int64.max
        for (column, range) in zip(columns, ranges) {
            for time in column.times[range] { earliest = min(earliest, time) }
        }
        for (column, range) in zip(columns, markerRanges) {
            for time in column.notReadingTimes[range] { earliest = min(earliest, time) }
        }
        for event in partEvents {
            for sample in event.window?.samples ?? [] { earliest = min(earliest, sample.timeMicros) }
        }
        let quantizer = TimeQuantizer(earliest: earliest == .max ? 0 : earliest, unit: timeUnitMicros)

        var batch = Axle_Telemetry_V1_TelemetryBatch()
        batch.schemaVersion = Self.schemaVersion
        batch.vehicleID = vehicleID
        batch.profile = profile
        batch.timeBaseUnixMicros = quantizer.base
        batch.timeUnitMicros = UInt32(timeUnitMicros)
        if count > 1 {
            batch.partIndex = UInt32(index)
            batch.partCount = UInt32(count)
        }
        var partSamples = 0
        batch.series.reserveCapacity(columns.count)
        for (column, (range, markerRange)) in zip(columns, zip(ranges, markerRanges))
        where !range.isEmpty || !markerRange.isEmpty {
            var series = SeriesEncoding.series(
                signal: column.signal, times: column.times[range],
                raws: column.isFloat ? nil : column.raws[range],
                values: column.isFloat ? column.values[range] : nil, quantizer: quantizer)
            if !markerRange.isEmpty {
                SeriesEncoding.addNotReadings(
                    to: &series, times: column.notReadingTimes[markerRange], kinds: column.notReadingKinds[markerRange],
                    quantizer: quantizer)
            }
            batch.series.append(series)
            partSamples += range.count
        }
        batch.events = partEvents.map { SeriesEncoding.event($0, quantizer: quantizer) }
        return try EncodablePart(
            batch: batch, format: format, index: index, count: count, sampleCount: partSamples,
            eventCount: partEvents.count)
    }
}

/// One payload of a batch, ready except for its sequence number: `payload(sequence:)` is cheap enough to call
/// inside the outbox transaction that assigns the number.
public struct EncodablePart: Sendable {
    /// The part's position (from 0) and the number of parts the batch was split into.
    public let index: Int
    public let count: Int
    /// How many samples and events the part holds.
    public let sampleCount: Int
    public let eventCount: Int
    /// The format `payload(sequence:)` writes.
    public let format: PayloadFormat

    /// The protobuf encoding without the sequence field (binary formats), or the message (JSON). Protobuf readers
    /// accept fields in any order, so the sequence is appended at the end and nothing else is encoded again.
    private enum Storage: Sendable {
        case binary([UInt8])
        case json(Axle_Telemetry_V1_TelemetryBatch)
    }

    private let storage: Storage

    /// zstd's output size moves by a few bytes with the sequence's bytes; a part is measured with the largest
    /// sequence and must fit with this much to spare.
    private static let compressionSlack = 32

    fileprivate init(
        batch: Axle_Telemetry_V1_TelemetryBatch, format: PayloadFormat, index: Int, count: Int, sampleCount: Int,
        eventCount: Int
    ) throws(TelemetryPayloadError) {
        self.index = index
        self.count = count
        self.sampleCount = sampleCount
        self.eventCount = eventCount
        self.format = format
        switch format {
        case .json:
            storage = .json(batch)
        case .protobuf, .protobufZstd:
            do {
                storage = .binary(try batch.serializedBytes())
            } catch {
                throw TelemetryPayloadError(.encodingFailed, "cannot encode the telemetry batch as protobuf: \(error)")
            }
        }
    }

    /// The payload with its sequence number, in the part's format.
    public func payload(sequence: UInt64) throws(TelemetryPayloadError) -> [UInt8] {
        switch storage {
        case .binary(let body):
            let bytes = Self.appendingSequence(sequence, to: body)
            return format == .protobufZstd ? try Zstd.compress(bytes) : bytes
        case .json(var batch):
            batch.sequence = sequence
            do {
                return try batch.jsonUTF8Bytes()
            } catch {
                throw TelemetryPayloadError(.encodingFailed, "cannot encode the telemetry batch as JSON: \(error)")
            }
        }
    }

    /// The most bytes `payload(sequence:)` can return for any sequence number (compressing only when the
    /// uncompressed size alone cannot show that the part fits).
    fileprivate func sizeBound(maximumBytes: Int) throws(TelemetryPayloadError) -> Int {
        switch storage {
        case .binary(let body):
            let largest = Self.appendingSequence(.max, to: body)
            guard format == .protobufZstd else { return largest.count }
            let bound = Zstd.compressBound(largest.count)
            if bound <= maximumBytes { return bound }
            return try Zstd.compress(largest).count + Self.compressionSlack
        case .json:
            return try payload(sequence: .max).count
        }
    }

    /// Field 3 (`sequence`, varint) after the body; a zero sequence is left out, as proto3 does.
    private static func appendingSequence(_ sequence: UInt64, to body: [UInt8]) -> [UInt8] {
        var bytes = body
        guard sequence != 0 else { return bytes }
        bytes.reserveCapacity(body.count + 11)
        bytes.append(3 << 3)
        var remaining = sequence
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
        return bytes
    }
}

/// One signal's samples: times plus raws until a value arrives that has no exact raw, then times plus values.
private struct SignalColumn: Sendable {
    let signal: SignalDescription
    var times: [Int64] = []
    var raws: [Int64] = []
    var values: [Double] = []
    var isFloat = false
    /// Markers of values that were not readings: a column pair of their own, beside the samples.
    var notReadingTimes: [Int64] = []
    var notReadingKinds: [NotReadingKind] = []

    init(signal: SignalDescription) {
        self.signal = signal
    }

    @inline(__always)
    mutating func append(timeMicros: Int64, raw: Int64) {
        times.append(timeMicros)
        if isFloat {
            values.append(signal.value(raw: raw))
        } else {
            raws.append(raw)
        }
    }

    @inline(__always)
    mutating func append(timeMicros: Int64, value: Double) {
        if !isFloat, let raw = signal.exactRaw(of: value) {
            times.append(timeMicros)
            raws.append(raw)
            return
        }
        if !isFloat { switchToValues() }
        times.append(timeMicros)
        values.append(value)
    }

    private mutating func switchToValues() {
        values.reserveCapacity(raws.capacity)
        for raw in raws { values.append(signal.value(raw: raw)) }
        raws.removeAll(keepingCapacity: true)
        isFloat = true
    }

    mutating func removeAll() {
        times.removeAll(keepingCapacity: true)
        raws.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        isFloat = false
        notReadingTimes.removeAll(keepingCapacity: true)
        notReadingKinds.removeAll(keepingCapacity: true)
    }
}
