import AxleBase
import CANFrames
import DBC
import Outbox
import TelemetryPayload

/// Turns decoded CAN frames into telemetry batches and writes each closed batch to the outbox as one or more
/// records (several when it is larger than the broker takes).
///
/// Used by one thread, the one that reads the frames: not `Sendable`. Batches close on the frames' own clock, so a
/// replay at full speed produces the same records as the drive did; `tick(wallSeconds:)` closes a batch when the bus
/// falls silent.
public final class TelemetryRecorder {
    /// What the recorder has done, for status and benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var frames = 0
        public var undecodedFrames = 0
        public var samples = 0
        public var records = 0
        /// Samples lost because the outbox refused them (full disk); the outbox counts the records.
        public var samplesRefused = 0
        public var lastError: String?
    }

    private let decoder: CompiledDecoder
    private let outbox: OutboxStore
    private let topics: UplinkTopics
    private let policy: UplinkPolicy
    /// The telemetry class's batching, read for every frame: looked up once.
    private let batchMicros: Double
    private let maximumSamples: Int
    private let format: PayloadFormat
    private let wallClockMillis: @Sendable () -> Int64
    private let onAppended: @Sendable () -> Void
    private let log: @Sendable (String) -> Void
    private var builder: TelemetryBatchBuilder
    private var decoded: DecodedFrame
    /// Frame time (µs) and monotonic wall time at which the open batch began.
    private var batchStartMicros: Int64?
    private var batchStartWall = 0.0
    public private(set) var statistics = Statistics()

    public init(
        decoder: CompiledDecoder, outbox: OutboxStore, topics: UplinkTopics, profile: String, policy: UplinkPolicy,
        format: PayloadFormat = .protobufZstd, wallClockMillis: @escaping @Sendable () -> Int64,
        onAppended: @escaping @Sendable () -> Void = {}, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.decoder = decoder
        self.outbox = outbox
        self.topics = topics
        self.policy = policy
        self.batchMicros = policy.policy(for: .telemetry).batchSeconds * 1e6
        self.maximumSamples = policy.policy(for: .telemetry).maximumSamples
        self.format = format
        self.wallClockMillis = wallClockMillis
        self.onAppended = onAppended
        self.log = log
        self.builder = TelemetryBatchBuilder(
            vehicleID: topics.vehicleID, profile: profile, signals: Self.signalDescriptions(of: decoder))
        self.decoded = DecodedFrame(capacity: max(1, decoder.maximumSignalsPerMessage))
    }

    /// One description per compiled signal, in the decoder's order, so a decoded signal's index is its series id.
    public static func signalDescriptions(of decoder: CompiledDecoder) -> [SignalDescription] {
        decoder.signals.map { signal in
            let message = decoder.database.messages[signal.databaseMessage]
            let dbcSignal = message.signals[signal.databaseSignal]
            return SignalDescription(
                name: "\(message.name).\(signal.name)", unit: dbcSignal.unit, factor: signal.factor, offset: signal.offset)
        }
    }

    /// Decodes one frame and adds its signals to the open batch.
    public func record(_ frame: CANFrame) {
        statistics.frames += 1
        guard decoder.decode(frame, into: &decoded) == .decoded else {
            statistics.undecodedFrames += 1
            return
        }
        let micros = frame.timestamp.seconds &* 1_000_000 &+ Int64(frame.timestamp.nanoseconds / 1000)
        if let start = batchStartMicros {
            if Double(micros - start) >= batchMicros { flush() }
        }
        if batchStartMicros == nil {
            batchStartMicros = micros
            batchStartWall = monotonicSeconds()
        }
        for signal in decoded.signals {
            let index = Int(signal.signalIndex)
            switch decoder.signals[index].rawValue(signal.rawBits) {
            case .integer(let raw):
                builder.append(signal: index, timeMicros: micros, raw: Int64(clamping: raw))
            case .float:
                builder.append(signal: index, timeMicros: micros, value: signal.value)
            }
        }
        statistics.samples += decoded.signals.count
        if builder.sampleCount >= maximumSamples { flush() }
    }

    /// Closes the open batch once it has been open for a batch interval of wall time, so that a bus that falls
    /// silent still gets its last samples out (the frames' clock, which normally closes batches, has stopped).
    /// `wallSeconds` is the monotonic clock.
    public func tick(wallSeconds: Double) {
        guard batchStartMicros != nil else { return }
        if wallSeconds - batchStartWall >= batchMicros / 1e6 { flush() }
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
                    qos: policy.qos(for: .telemetry), payload: { sequence in try part.payload(sequence: sequence) })
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
