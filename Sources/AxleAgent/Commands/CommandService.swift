import AgentCore
import AxleBase
import Dispatch

/// The `commands` service: on its own thread, claims verified commands in the journal, applies the rate limit, and
/// runs the executor and the feature entitlements (`CommandDispatcher`), so that the journal's and the entitlement
/// store's fsyncs and the frames' sends never hold up the pipeline. Live values come from the pipeline through the
/// `LiveValueBoard`; each publication, each queued command and the stop request wake the thread.
struct CommandService: BlockingService {
    let name = "commands"
    let remote: RemoteCommandService
    /// Builds the dispatcher on the service's thread, which owns it (and the frame sink's sockets) from then on.
    let makeDispatcher: @Sendable () -> CommandDispatcher

    func run(until stop: StopToken) {
        let dispatcher = makeDispatcher()
        while !stop.isStopRequested {
            dispatcher.receive(remote.intake.claimWaiting())
            dispatcher.turn()
            // Woken early by a queued command, a publication of live values, or the stop request; at least once a
            // second all the same.
            let wait = min(max(0, (dispatcher.nextDue ?? .infinity) - monotonicSeconds()), 1)
            _ = remote.wakeup.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
        }
        dispatcher.finish()
    }

    func interrupt() {
        remote.wakeup.signal()
    }
}
