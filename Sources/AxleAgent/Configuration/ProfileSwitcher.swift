import AxleBase
import Dispatch
import FirmwareProfile
import Synchronization

/// Runs the services that depend on the firmware profile (the pipeline, the GNSS receiver, diagnostics, commands) as
/// one generation in a service group of their own, and replaces that generation when a configuration update switches
/// profiles — without restarting the process: the MQTT connection, the outbox and its drainer, and the control socket
/// go on. The old generation stops as at shutdown (in reverse order, so the pipeline's open batch reaches the
/// outbox), then the new one starts with the new profile on the same frame source (docs/configuration.md, "Applying
/// a version").
final class ProfileSwitcher: Sendable {
    /// A switch asked for by the configuration service, answered by the host thread.
    private final class Request: Sendable {
        let profile: FirmwareProfile
        let done = DispatchSemaphore(value: 0)
        let overran = Mutex<[String]>([])

        init(profile: FirmwareProfile) { self.profile = profile }
    }

    /// How a generation is made: a group for it, and its services started, in order, into that group. Given once,
    /// before the host service starts (the configuration service, made earlier, holds the switcher).
    private struct Generations: Sendable {
        let makeGroup: @Sendable () -> ServiceGroup
        let start: @Sendable (FirmwareProfile, ServiceGroup) -> Void
    }

    private let pending = Mutex<Request?>(nil)
    private let wakeup = DispatchSemaphore(value: 0)
    private let generations = Mutex<Generations?>(nil)
    private let log: AgentLog

    /// How long the old generation may take to stop when switching: the shutdown budget, as it is stopped the same way.
    static let switchBudgetSeconds = 2.0
    /// The generation's share of the agent's shutdown budget: the rest is the MQTT client's "offline" and the
    /// services stopped before this one.
    static let shutdownShareSeconds = 1.4

    init(log: AgentLog) {
        self.log = log
    }

    /// Says how generations are made; called once, before `hostService` runs.
    func configure(
        makeGroup: @escaping @Sendable () -> ServiceGroup,
        startGeneration: @escaping @Sendable (FirmwareProfile, ServiceGroup) -> Void
    ) {
        generations.withLock { $0 = Generations(makeGroup: makeGroup, start: startGeneration) }
    }

    /// Stops the running generation and starts one with `profile`; returns when the new one has started, with the
    /// names of the old generation's services that did not stop within the budget (left behind, as at shutdown).
    /// Called from the configuration service's thread; one switch at a time.
    func switchTo(_ profile: FirmwareProfile) -> [String] {
        let request = Request(profile: profile)
        pending.withLock { $0 = request }
        wakeup.signal()
        request.done.wait()
        return request.overran.withLock { $0 }
    }

    /// The service that hosts the generations, for the agent's service group: it starts the first with `initial`.
    func hostService(initial: FirmwareProfile) -> ClosureService {
        ClosureService(name: "profile services", interrupt: { [wakeup] in wakeup.signal() }) { stop in
            guard let generations = self.generations.withLock({ $0 }) else {
                preconditionFailure("ProfileSwitcher.configure was not called before its host service started")
            }
            var group = generations.makeGroup()
            generations.start(initial, group)
            while !stop.isStopRequested {
                if let request = self.pending.withLock({ current -> Request? in
                    defer { current = nil }
                    return current
                }) {
                    let started = monotonicSeconds()
                    let overran = group.stop(budgetSeconds: Self.switchBudgetSeconds).filter(\.overran).map(\.name)
                    group = generations.makeGroup()
                    generations.start(request.profile, group)
                    self.log(.info, "configuration", "switched the pipeline to profile \(request.profile.name) in \(Int((monotonicSeconds() - started) * 1000)) ms without a restart")
                    request.overran.withLock { $0 = overran }
                    request.done.signal()
                    continue
                }
                _ = self.wakeup.wait(timeout: .now() + .seconds(1))
            }
            // A switch asked for as the agent stops is answered, so that its caller is not left waiting.
            if let request = self.pending.withLock({ $0 }) { request.done.signal() }
            group.stop(budgetSeconds: Self.shutdownShareSeconds)
        }
    }
}

/// The frame source, handed from one generation's pipeline thread to the next: the SocketCAN sockets stay open and
/// a simulated drive goes on across a configuration update.
final class FrameSourceHolder: @unchecked Sendable {
    // Unchecked: the source is only used by the pipeline thread that took it; `take` and `put` hand it over under
    // the lock, and a generation starts only after the previous one's pipeline has put it back (or overran its stop).
    private let lock = Mutex<Void>(())
    private var source: (any FrameSource)?

    init(_ source: any FrameSource) { self.source = source }

    func take() -> (any FrameSource)? {
        lock.withLock { _ in
            defer { source = nil }
            return source
        }
    }

    func put(_ source: any FrameSource) {
        lock.withLock { _ in self.source = source }
    }
}
