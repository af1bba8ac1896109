/// Where the batcher's batches live: the open batch's samples are added by the owner (the recorder appends them to
/// its payload builder), and closing the batch writes it to the outbox.
public protocol TelemetryBatchStore: AnyObject {
    /// Writes the open batch as one or more records, if it holds anything, and empties it.
    func storeOpenBatch()
}

/// How long and how large a telemetry batch grows (the telemetry class's `batchSeconds` and `maximumSamples`).
public struct TelemetryBatchLimits: Sendable, Equatable {
    public var intervalSeconds: Double
    public var maximumSamples: Int

    public init(intervalSeconds: Double, maximumSamples: Int) {
        self.intervalSeconds = intervalSeconds
        self.maximumSamples = maximumSamples
    }
}

/// When a telemetry batch closes (docs/payload.md): once the frames' clock has passed the batch interval since its
/// first sample, when it holds `maximumSamples`, when the bus has been silent for a batch interval of wall time, and
/// on `flush()` (shutdown, end of a replay).
///
/// Batches close on the frames' own clock, so a replay at full speed produces the same records as the drive did;
/// the monotonic clock only closes a batch left open by a silent bus. The owner calls `beginSample` before adding a
/// sample to the open batch and `endSample` after; the hot path costs two calls and no allocation.
/// Used by the pipeline thread alone: not `Sendable`.
public final class TelemetryBatcher {
    private let intervalMicros: Int64
    private let maximumSamples: Int
    private let clock: any AgentClock
    /// Frame time (µs) at which the open batch began.
    private var batchStartMicros: Int64?
    /// Monotonic time when the frames' clock last moved (a batch opened or a frame came): the wall-time fallback in
    /// `tick` counts from here, so it fires only for a bus that fell silent.
    private var frameClockMovedWall = 0.0

    public init(limits: TelemetryBatchLimits, clock: any AgentClock) {
        self.intervalMicros = Int64(limits.intervalSeconds * 1e6)
        self.maximumSamples = limits.maximumSamples
        self.clock = clock
    }

    /// Whether a batch is open (it has had a sample since the last close).
    public var isOpen: Bool { batchStartMicros != nil }

    /// A sample at frame time `timeMicros` is about to be added: closes the open batch first if the sample lies a
    /// batch interval or more past its start, and opens a batch if none is open.
    public func beginSample(atMicros timeMicros: Int64, store: some TelemetryBatchStore) {
        if let start = batchStartMicros {
            if timeMicros - start >= intervalMicros { flush(store) } else { return }
        }
        batchStartMicros = timeMicros
        frameClockMovedWall = clock.monotonicSeconds()
    }

    /// A sample was added; the open batch now holds `entriesInBatch`. Closes it when it is full.
    public func endSample(entriesInBatch: Int, store: some TelemetryBatchStore) {
        if entriesInBatch >= maximumSamples { flush(store) }
    }

    /// The frames' clock reached `frameMicros`: closes the open batch once it has passed its interval, without
    /// waiting for the next sample.
    public func advance(frameMicros: Int64, store: some TelemetryBatchStore) {
        frameClockMovedWall = clock.monotonicSeconds()
        if let start = batchStartMicros, frameMicros - start >= intervalMicros { flush(store) }
    }

    /// Closes the open batch once no frame has come for a batch interval of monotonic time, so that a bus that falls
    /// silent still gets its last samples out (the frames' clock, which normally closes batches, has stopped).
    /// While frames flow, only their clock closes batches, even when it runs behind the wall clock (a source that
    /// lags under load): each record then still holds one batch interval of the vehicle's time.
    public func tick(store: some TelemetryBatchStore) {
        guard batchStartMicros != nil else { return }
        if clock.monotonicSeconds() - frameClockMovedWall >= Double(intervalMicros) / 1e6 { flush(store) }
    }

    /// Closes the open batch now (graceful shutdown, end of a replay, interval or size reached).
    public func flush(_ store: some TelemetryBatchStore) {
        store.storeOpenBatch()
        batchStartMicros = nil
    }
}

@available(*, unavailable)
extension TelemetryBatcher: Sendable {}
