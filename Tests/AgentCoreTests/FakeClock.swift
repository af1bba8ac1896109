import AgentCore
import Synchronization

/// A clock the test moves by hand: both readings advance together, and nothing sleeps.
final class FakeClock: AgentClock {
    private let now: Mutex<(monotonic: Double, wallMillis: Int64)>

    init(monotonic: Double = 1000, wallMillis: Int64 = 1_800_000_000_000) {
        now = Mutex((monotonic, wallMillis))
    }

    func monotonicSeconds() -> Double { now.withLock { $0.monotonic } }
    func wallClockMillis() -> Int64 { now.withLock { $0.wallMillis } }

    func advance(seconds: Double) {
        now.withLock {
            $0.monotonic += seconds
            $0.wallMillis += Int64((seconds * 1000).rounded())
        }
    }
}
