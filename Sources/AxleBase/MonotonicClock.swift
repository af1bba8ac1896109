#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock: for timeouts, pacing and rates, which a wall-clock change must not disturb.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Unix time in milliseconds (CLOCK_REALTIME): for creation and expiry times that leave the process.
@Sendable
public func wallClockMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Sleeps until the monotonic clock reaches `deadline` (at most 10 s at a time; returns early if it already has).
public func sleep(untilMonotonic deadline: Double) {
    let delay = deadline - monotonicSeconds()
    if delay > 0.000_05 { usleep(UInt32(min(delay, 10) * 1_000_000)) }
}

/// Keeps replayed frames at their recorded spacing (divided by the speed factor), measured on the monotonic clock
/// from the first frame; nil speed means no waiting at all.
public struct ReplayPacer: Sendable {
    public let speed: Double?
    /// How far ahead of the schedule a frame may be before the pacer sleeps. 0 for a bus replay, where the spacing
    /// on the wire is the point; a consumer that keeps the log's own timestamps (the agent) can take a few
    /// milliseconds, which turns one wake-up per frame into one per batch (a tenth of the CPU at 32,000 frames/s).
    public let slackSeconds: Double
    private var logStart: Double?
    private var wallStart = 0.0

    public init(speed: Double?, slackSeconds: Double = 0) {
        self.speed = speed
        self.slackSeconds = slackSeconds
    }

    public mutating func wait(until logTime: Double) {
        guard let speed else { return }
        guard let logStart else {
            self.logStart = logTime
            wallStart = monotonicSeconds()
            return
        }
        let deadline = wallStart + (logTime - logStart) / speed
        if slackSeconds > 0, deadline - monotonicSeconds() < slackSeconds { return }
        sleep(untilMonotonic: deadline)
    }
}
