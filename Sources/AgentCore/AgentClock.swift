import AxleBase

/// The agent core's time, a seam so that its policies (timeouts, windows, expiry) can be unit-tested with a fake
/// clock instead of sleeping.
public protocol AgentClock: Sendable {
    /// Seconds on a monotonic clock: timeouts, windows and pacing, which a wall-clock change must not disturb.
    func monotonicSeconds() -> Double
    /// Unix time in milliseconds: times that leave the process and expiry times stated by the backend.
    func wallClockMillis() -> Int64
}

/// The process's real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME).
public struct SystemClock: AgentClock {
    public init() {}
    public func monotonicSeconds() -> Double { AxleBase.monotonicSeconds() }
    public func wallClockMillis() -> Int64 { AxleBase.wallClockMillis() }
}
