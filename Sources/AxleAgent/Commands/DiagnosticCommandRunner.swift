import AgentCore
import AxleBase
import Dispatch
import Synchronization

/// Remote diagnostic commands, run one after another on a thread of their own: each question goes through the
/// diagnostics service's request queue (which blocks until the ECU answers), and each finished command wakes the
/// command service, which publishes its answer. At most `capacity` commands wait; more are refused as busy.
final class DiagnosticCommandRunner: BlockingService, DiagnosticCommandRunning {
    let name = "diagnostic commands"
    static let capacity = 8

    private struct State {
        var waiting: [(id: String, plan: DiagnosticCommandPlan)] = []
        var finished: [(id: String, outcome: DiagnosticCommandOutcome)] = []
    }

    private let state = Mutex(State())
    private let work = DispatchSemaphore(value: 0)
    private let requests: DiagnosticRequestQueue
    private let wakeCommands: @Sendable () -> Void

    init(requests: DiagnosticRequestQueue, wakeCommands: @escaping @Sendable () -> Void) {
        self.requests = requests
        self.wakeCommands = wakeCommands
    }

    func submit(id: String, plan: DiagnosticCommandPlan) -> Bool {
        let queued = state.withLock { state in
            guard state.waiting.count < Self.capacity else { return false }
            state.waiting.append((id, plan))
            return true
        }
        if queued { work.signal() }
        return queued
    }

    func takeFinished() -> [(id: String, outcome: DiagnosticCommandOutcome)] {
        state.withLock { state in
            defer { state.finished.removeAll() }
            return state.finished
        }
    }

    func run(until stop: StopToken) {
        while !stop.isStopRequested {
            guard let next = state.withLock({ $0.waiting.isEmpty ? nil : $0.waiting.removeFirst() }) else {
                // Woken by a submission or by `interrupt`; at least once a second all the same.
                _ = work.wait(timeout: .now() + 1)
                continue
            }
            let requests = self.requests
            let outcome = next.plan.run { ecu, request, timeout in
                requests.ask(ecu: ecu, request: request, timeoutSeconds: timeout)
            }
            state.withLock { $0.finished.append((next.id, outcome)) }
            wakeCommands()
        }
    }

    /// Stopping: the request queue fails what waits in it when the diagnostics service stops; this only ends the
    /// wait for work.
    func interrupt() { work.signal() }
}
