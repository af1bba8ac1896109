import AxleBase
import Dispatch

/// Wakes the pipeline thread out of its source's wait when the command service asks for live values, so that a
/// command does not wait for the next simulated step (20 ms), and when external samples (the GNSS receiver's) are
/// waiting. Signals coalesce into extra early wake-ups, which are harmless.
final class PipelineWakeup: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func signal() { semaphore.signal() }

    /// Waits until the monotonic clock reaches `deadline` or a signal comes. True when signalled.
    @discardableResult
    func wait(untilMonotonic deadline: Double) -> Bool {
        let remaining = deadline - monotonicSeconds()
        guard remaining > 0 else { return false }
        return semaphore.wait(timeout: .now() + remaining) == .success
    }
}
