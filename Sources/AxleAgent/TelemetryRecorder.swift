import AxleBase
import CANFrames
import DBC
import Outbox
import TelemetryPayload

/// Batches telemetry samples on the frames' clock and writes each closed batch to the outbox as one or more
/// records (several when it is larger than the broker takes).
///
/// Used by one thread, the pipeline's: not `Sendable`. Batches close on the frames' own clock, so a replay at full
/// speed produces the same records as the drive did; `tick(wallSeconds:)` closes a batch when the bus falls silent.
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
    /// The telemetry class's batching, read for every sample: looked up once.
    private let batchMicros: Int64
    private let maximumSamples: Int
    private let format: PayloadFormat
    private let wallClockMillis: @Sendable () -> Int64
    private let onAppended: @Sendable () -> Void
    private let log: @Sendable (String) -> Void
    private var builder: TelemetryBatchBuilder
    /// Frame time (µs) at which the open batch began.
    private var batchStartMicros: Int64?
    /// Monotonic time when the frames' clock last moved (a batch opened or a frame came): the wall-time fallback in
    /// `tick` counts from here, so it fires only for a bus that fell silent.
    private var frameClockMovedWall = 0.0
    public private(set) var statistics = Statistics()

    public init(
        series: [SignalDescription], outbox: OutboxStore, topics: UplinkTopics, profile: String, policy: UplinkPolicy,
        format: PayloadFormat = .protobufZstd, wallClockMillis: @escaping @Sendable () -> Int64,
        onAppended: @escaping @Sendable () -> Void = {}, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.outbox = outbox
        self.topics = topics
        self.policy = policy
        self.batchMicros = Int64(policy.policy(for: .telemetry).batchSeconds * 1e6)
        self.maximumSamples = policy.policy(for: .telemetry).maximumSamples
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
        if builder.sampleCount + builder.notReadingCount >= maximumSamples { flush() }
    }

    /// Closes the open batch once the frames' clock has passed its interval, without waiting for the next sample.
    public func advance(frameMicros: Int64) {
        frameClockMovedWall = monotonicSeconds()
        if let start = batchStartMicros, frameMicros - start >= batchMicros { flush() }
    }

    @inline(__always)
    private func open(at micros: Int64) {
        if let start = batchStartMicros {
            if micros - start >= batchMicros { flush() } else { return }
        }
        batchStartMicros = micros
        frameClockMovedWall = monotonicSeconds()
    }

    @inline(__always)
    private func countAndCloseIfFull() {
        statistics.samples += 1
        if builder.sampleCount >= maximumSamples { flush() }
    }

    /// Closes the open batch once no frame has come for a batch interval of wall time, so that a bus that falls
    /// silent still gets its last samples out (the frames' clock, which normally closes batches, has stopped).
    /// While frames flow, only their clock closes batches, even when it runs behind the wall clock (a source that
    /// lags under load): each record then still holds one batch interval of the vehicle's time.
    /// `wallSeconds` is the monotonic clock.
    public func tick(wallSeconds: Double) {
        guard batchStartMicros != nil else { return }
        if wallSeconds - frameClockMovedWall >= Double(batchMicros) / 1e6 { flush() }
    }

    /// Writes the open batch to the outbox now (graceful shutdown, end of a replay, batch interval).
    public func flush() {
        defer {
            builder.removeAll()
            batchStartMicros = nil
        }
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
