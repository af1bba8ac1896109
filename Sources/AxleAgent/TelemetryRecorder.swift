import AgentCore
import AxleBase
import CANFrames
import DBC
import Outbox
import TelemetryPayload

/// Batches telemetry samples on the frames' clock and writes each closed batch to the outbox as one or more
/// records (several when it is larger than the broker takes).
///
/// Used by one thread, the pipeline's: not `Sendable`. When a batch closes (interval on the frames' clock, size, a
/// silent bus, shutdown) is `TelemetryBatcher`'s decision, in AgentCore; this class builds and stores the batches.
/// Samples address their series by index into `series` (the collection engine's output series, or every DBC signal).
public final class TelemetryRecorder {
    /// What the recorder has done, for status and benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var samples = 0
        public var records = 0
        /// Samples lost because the outbox refused them (full disk); the outbox counts the records.
        public var samplesRefused = 0
        public var lastError: String?
    }

    private let outbox: OutboxStore
    private let topics: UplinkTopics
    private let policy: UplinkPolicy
    private let batcher: TelemetryBatcher
    private let format: PayloadFormat
    private let wallClockMillis: @Sendable () -> Int64
    private let onAppended: @Sendable () -> Void
    private let log: @Sendable (String) -> Void
    private var builder: TelemetryBatchBuilder
    public private(set) var statistics = Statistics()

    public init(
        series: [SignalDescription], outbox: OutboxStore, topics: UplinkTopics, profile: String, policy: UplinkPolicy,
        format: PayloadFormat = .protobufZstd, wallClockMillis: @escaping @Sendable () -> Int64,
        clock: any AgentClock = SystemClock(), onAppended: @escaping @Sendable () -> Void = {},
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.outbox = outbox
        self.topics = topics
        self.policy = policy
        let telemetry = policy.policy(for: .telemetry)
        self.batcher = TelemetryBatcher(
            limits: TelemetryBatchLimits(intervalSeconds: telemetry.batchSeconds, maximumSamples: telemetry.maximumSamples),
            clock: clock)
        self.format = format
        self.wallClockMillis = wallClockMillis
        self.onAppended = onAppended
        self.log = log
        self.builder = TelemetryBatchBuilder(vehicleID: topics.vehicleID, profile: profile, signals: series)
    }

    /// One description per compiled signal, in the decoder's order, so a decoded signal's index is its series id
    /// (for recording every signal of a DBC, as the outbox benchmark does).
    public static func signalDescriptions(of decoder: CompiledDecoder) -> [SignalDescription] {
        decoder.signals.map { signal in
            let message = decoder.database.messages[signal.databaseMessage]
            let dbcSignal = message.signals[signal.databaseSignal]
            return SignalDescription(
                name: "\(message.name).\(signal.name)", unit: dbcSignal.unit, factor: signal.factor, offset: signal.offset)
        }
    }

    /// Adds a sample given as a DBC raw integer (exact on the wire).
    @inline(__always)
    public func append(series: Int, timeMicros: Int64, raw: Int64) {
        open(at: timeMicros)
        builder.append(signal: series, timeMicros: timeMicros, raw: raw)
        countAndCloseIfFull()
    }

    /// Adds a sample given as a physical value; values on the series' DBC scaling still travel as integers.
    @inline(__always)
    public func append(series: Int, timeMicros: Int64, value: Double) {
        open(at: timeMicros)
        builder.append(signal: series, timeMicros: timeMicros, value: value)
        countAndCloseIfFull()
    }

    /// Adds a marker where a sample would have been: the series' signal sent a value that is not a reading.
    public func appendNotReading(series: Int, timeMicros: Int64, kind: NotReadingKind) {
        open(at: timeMicros)
        builder.appendNotReading(signal: series, timeMicros: timeMicros, kind: kind)
        batcher.endSample(entriesInBatch: builder.sampleCount + builder.notReadingCount, store: self)
    }

    /// Closes the open batch once the frames' clock has passed its interval, without waiting for the next sample.
    public func advance(frameMicros: Int64) {
        batcher.advance(frameMicros: frameMicros, store: self)
    }

    @inline(__always)
    private func open(at micros: Int64) {
        batcher.beginSample(atMicros: micros, store: self)
    }

    @inline(__always)
    private func countAndCloseIfFull() {
        statistics.samples += 1
        batcher.endSample(entriesInBatch: builder.sampleCount, store: self)
    }

    /// Closes the open batch once no frame has come for a batch interval of monotonic time (a bus fell silent).
    public func tick() {
        batcher.tick(store: self)
    }

    /// Writes the open batch to the outbox now (graceful shutdown, end of a replay).
    public func flush() {
        batcher.flush(self)
    }
}

extension TelemetryRecorder: TelemetryBatchStore {
    /// The batcher's seam: writes the open batch and empties it. Call `flush()`, which also closes it in the batcher.
    public func storeOpenBatch() {
        defer { builder.removeAll() }
        guard !builder.isEmpty else { return }
        let samples = builder.sampleCount
        do {
            let parts = try builder.parts(format: format, maximumBytes: policy.effectiveMaximumPayloadBytes)
            let telemetry = policy.policy(for: .telemetry)
            let now = wallClockMillis()
            let drafts = parts.map { part in
                RecordDraft(
                    priority: .telemetry, createdAtMillis: now,
                    expiresAtMillis: telemetry.expirySeconds.map { now + Int64($0 * 1000) }, topic: topics.telemetry,
                    qos: policy.qos(for: .telemetry), sampleCount: part.sampleCount,
                    payload: { sequence in try part.payload(sequence: sequence) })
            }
            try outbox.append(drafts)
            statistics.records += drafts.count
            onAppended()
        } catch {
            statistics.samplesRefused += samples
            statistics.lastError = "telemetry batch of \(samples) samples not stored: \(error)"
            log(statistics.lastError!)
        }
    }
}
