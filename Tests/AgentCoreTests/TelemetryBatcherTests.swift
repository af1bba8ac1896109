import AgentCore
import Testing

/// When telemetry batches close (docs/payload.md): on the frames' clock at the interval, at the size bound, on a
/// silent bus after an interval of monotonic time, and on shutdown.
@Suite struct TelemetryBatcherTests {
    /// Batches kept in memory: the sample times of the open one, and every stored one.
    final class FakeBatches: TelemetryBatchStore {
        var open: [Int64] = []
        var stored: [[Int64]] = []

        func storeOpenBatch() {
            if !open.isEmpty { stored.append(open) }
            open = []
        }
    }

    /// A batcher and its store, fed as the recorder feeds them.
    final class Recorder {
        let clock = FakeClock()
        let batches = FakeBatches()
        let batcher: TelemetryBatcher

        init(intervalSeconds: Double = 5, maximumSamples: Int = 1000) {
            batcher = TelemetryBatcher(
                limits: TelemetryBatchLimits(intervalSeconds: intervalSeconds, maximumSamples: maximumSamples), clock: clock)
        }

        func sample(atMicros time: Int64) {
            batcher.beginSample(atMicros: time, store: batches)
            batches.open.append(time)
            batcher.endSample(entriesInBatch: batches.open.count, store: batches)
        }
    }

    static let start: Int64 = 1_800_000_000_000_000

    @Test func aBatchClosesExactlyWhenASampleReachesItsIntervalOnTheFramesClock() {
        let recorder = Recorder(intervalSeconds: 5)
        for offset: Int64 in [0, 1_000_000, 4_999_999] { recorder.sample(atMicros: Self.start + offset) }
        #expect(recorder.batches.stored.isEmpty, "4.999999 s after the first sample the batch is still open")
        recorder.sample(atMicros: Self.start + 5_000_000)
        #expect(recorder.batches.stored == [[Self.start, Self.start + 1_000_000, Self.start + 4_999_999]])
        #expect(recorder.batches.open == [Self.start + 5_000_000], "the sample at 5 s opens the next batch")
    }

    @Test func theFramesClockClosesABatchAtItsIntervalWithoutANewSample() {
        let recorder = Recorder(intervalSeconds: 5)
        recorder.sample(atMicros: Self.start)
        recorder.batcher.advance(frameMicros: Self.start + 4_999_999, store: recorder.batches)
        #expect(recorder.batches.stored.isEmpty)
        recorder.batcher.advance(frameMicros: Self.start + 5_000_000, store: recorder.batches)
        #expect(recorder.batches.stored == [[Self.start]])
        #expect(!recorder.batcher.isOpen)
    }

    @Test func aBatchClosesAtItsSizeBound() {
        let recorder = Recorder(intervalSeconds: 5, maximumSamples: 3)
        for offset: Int64 in [0, 10, 20] { recorder.sample(atMicros: Self.start + offset) }
        #expect(recorder.batches.stored == [[Self.start, Self.start + 10, Self.start + 20]], "closed at the third sample")
        recorder.sample(atMicros: Self.start + 30)
        #expect(recorder.batches.open == [Self.start + 30])
    }

    @Test func aSilentBusClosesTheBatchAfterOneIntervalOfMonotonicTime() {
        let recorder = Recorder(intervalSeconds: 5)
        recorder.sample(atMicros: Self.start)
        recorder.clock.advance(seconds: 4.5)
        recorder.batcher.tick(store: recorder.batches)
        #expect(recorder.batches.stored.isEmpty)
        recorder.clock.advance(seconds: 0.5)
        recorder.batcher.tick(store: recorder.batches)
        #expect(recorder.batches.stored == [[Self.start]], "5 s without a frame")
    }

    @Test func framesThatKeepComingHoldTheBatchOpenHoweverFarTheWallClockRuns() {
        let recorder = Recorder(intervalSeconds: 5)
        recorder.sample(atMicros: Self.start)
        // A source lagging under load: 20 s of wall time pass while its frames cover 4 s of the vehicle's time.
        for step: Int64 in 1...4 {
            recorder.clock.advance(seconds: 4.9)
            recorder.batcher.advance(frameMicros: Self.start + step * 1_000_000, store: recorder.batches)
            recorder.batcher.tick(store: recorder.batches)
        }
        #expect(recorder.batches.stored.isEmpty)
        #expect(recorder.batcher.isOpen)
    }

    @Test func theLastOpenBatchIsStoredOnFlush() {
        let recorder = Recorder(intervalSeconds: 5)
        recorder.sample(atMicros: Self.start)
        recorder.sample(atMicros: Self.start + 2_000_000)
        recorder.batcher.flush(recorder.batches)
        #expect(recorder.batches.stored == [[Self.start, Self.start + 2_000_000]])
        #expect(!recorder.batcher.isOpen)
        recorder.sample(atMicros: Self.start + 3_000_000)
        #expect(recorder.batches.open == [Self.start + 3_000_000], "after a flush the next sample opens a new batch")
        recorder.clock.advance(seconds: 4)
        recorder.batcher.tick(store: recorder.batches)
        #expect(recorder.batches.stored.count == 1, "and its interval counts from that sample, not from the flushed batch")
    }
}
