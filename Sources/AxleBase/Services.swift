import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The agent's blocking work (CAN reads, SQLite, the MQTT loop, the control socket) runs on dedicated threads, not on
// the Swift concurrency pool. These are the few pieces every such thread is built from, in the spirit of
// swift-service-lifecycle but for blocking code: a service runs until told to stop, a stop token can be waited on,
// threads can be joined with a deadline, and a group starts services in order and stops them in reverse within one
// shutdown budget. docs/architecture.md shows how the agent is assembled from them.

/// A request to stop, shared between a service and whoever stops it. Requesting is idempotent and never blocks;
/// waiting on the token is how a service sleeps between turns, so that a stop request wakes it at once.
public final class StopToken: Sendable {
    private let requested = Atomic<Bool>(false)
    /// Entered once at creation and left once by the first request: `wait` on a group wakes every waiter.
    private let pending = DispatchGroup()

    public init() {
        pending.enter()
    }

    public var isStopRequested: Bool { requested.load(ordering: .acquiring) }

    /// Asks the service to stop; later calls do nothing.
    public func requestStop() {
        if !requested.exchange(true, ordering: .acquiringAndReleasing) { pending.leave() }
    }

    /// Sleeps until a stop is requested or `seconds` pass; true when a stop was requested.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        if isStopRequested { return true }
        _ = pending.wait(timeout: .now() + .nanoseconds(Int(max(0, min(seconds, 1e9)) * 1e9)))
        return isStopRequested
    }

    deinit {
        if !requested.load(ordering: .relaxed) { pending.leave() }
    }
}

/// A dedicated thread that can be joined with a deadline.
public final class JoinableThread: Sendable {
    public let name: String
    private let finished = DispatchGroup()

    /// Starts `body` on a new thread now.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        finished.enter()
        let finished = finished
        startDedicatedThread(name: name) {
            body()
            finished.leave()
        }
    }

    /// Waits until the thread's body has returned or `seconds` pass; true when it has returned.
    @discardableResult
    public func join(seconds: Double) -> Bool {
        finished.wait(timeout: .now() + .nanoseconds(Int(max(0, min(seconds, 1e9)) * 1e9))) == .success
    }

    public var hasFinished: Bool { join(seconds: 0) }
}

/// Something that runs on a thread of its own until asked to stop.
public protocol BlockingService: Sendable {
    /// What the logs call it.
    var name: String { get }
    /// Does the service's work until `stop` is requested (or the work has ended by itself), then returns. Blocking
    /// calls inside should wake at least every few hundred milliseconds, or be woken by `interrupt()`.
    func run(until stop: StopToken)
    /// Called once, on the stopping thread, right after the stop request: wakes a blocking call that does not look at
    /// the token (closes a listening socket, signals a semaphore). Most services need nothing here.
    func interrupt()
}

extension BlockingService {
    public func interrupt() {}
}

/// A service made of closures, for work that is a loop in one place.
public struct ClosureService: BlockingService {
    public let name: String
    private let body: @Sendable (StopToken) -> Void
    private let onInterrupt: @Sendable () -> Void

    public init(
        name: String, interrupt: @escaping @Sendable () -> Void = {}, run body: @escaping @Sendable (StopToken) -> Void
    ) {
        self.name = name
        self.body = body
        self.onInterrupt = interrupt
    }

    public func run(until stop: StopToken) { body(stop) }
    public func interrupt() { onInterrupt() }
}

/// Services started in order and stopped in reverse, all within one shutdown budget.
///
/// Reverse order is what makes a pipeline drain: the producer stops first and its last output reaches the consumers,
/// which are still running. A service that has not returned when its share of the budget is spent is reported and
/// left behind (the process is about to exit; waiting longer would only delay the vehicle's power-down), and the
/// next one is stopped with what remains of the budget.
public final class ServiceGroup: Sendable {
    /// How one service stopped.
    public struct StopResult: Sendable, Equatable {
        public var name: String
        /// Seconds from its stop request until it returned, or until the group gave up on it.
        public var seconds: Double
        public var overran: Bool
    }

    private struct Running: Sendable {
        var service: any BlockingService
        var token: StopToken
        var thread: JoinableThread
    }

    private let running = Mutex<[Running]>([])
    private let log: @Sendable (String) -> Void
    /// Called (on the service's thread) when a service returns before it was asked to stop, e.g. a replay's end.
    private let onEarlyExit: @Sendable (String) -> Void

    public init(log: @escaping @Sendable (String) -> Void, onEarlyExit: @escaping @Sendable (String) -> Void = { _ in }) {
        self.log = log
        self.onEarlyExit = onEarlyExit
    }

    /// Starts `service` on a thread of its own, after those started before it.
    public func start(_ service: any BlockingService) {
        let token = StopToken()
        let onEarlyExit = onEarlyExit
        let thread = JoinableThread(name: service.name) {
            service.run(until: token)
            if !token.isStopRequested { onEarlyExit(service.name) }
        }
        running.withLock { $0.append(Running(service: service, token: token, thread: thread)) }
    }

    /// The names of the services started, in order.
    public var names: [String] { running.withLock { $0.map(\.service.name) } }

    /// Stops every service, the last started first, within `budgetSeconds` in all; returns how each stopped. A
    /// service gets whatever budget its predecessors left, but at least `minimumGrace`: once a stuck service has
    /// spent the budget, the ones after it (usually quick to stop) still get the moment they need to close cleanly,
    /// and the whole stop overruns by at most that much per remaining service.
    public static let minimumGrace = 0.05

    @discardableResult
    public func stop(budgetSeconds: Double) -> [StopResult] {
        let services = running.withLock { services in
            defer { services.removeAll() }
            return services
        }
        let deadline = monotonicSeconds() + budgetSeconds
        var results: [StopResult] = []
        for entry in services.reversed() {
            let asked = monotonicSeconds()
            entry.token.requestStop()
            entry.service.interrupt()
            let returned = entry.thread.join(seconds: max(deadline - asked, Self.minimumGrace))
            let seconds = monotonicSeconds() - asked
            if !returned {
                log("\(entry.service.name) did not stop within the shutdown budget (\(budgetSeconds) s); leaving it behind")
            }
            results.append(StopResult(name: entry.service.name, seconds: seconds, overran: !returned))
        }
        return results
    }
}

/// A bounded hand-off between threads: producers `offer`, the consumer takes everything with `takeAll`. When full,
/// the offered element is refused and counted, so that a slow consumer costs memory only up to `capacity`.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var elements: [Element] = []
        var dropped = 0
    }

    public let capacity: Int
    private let state = Mutex(State())
    /// Read without the lock by a consumer that polls on every turn of a hot loop.
    private let depth = Atomic<Int>(0)

    public init(capacity: Int) {
        precondition(capacity > 0, "a queue needs room for one element")
        self.capacity = capacity
    }

    /// Adds `element` unless the queue is full; false (and counted in `dropped`) when it was refused.
    @discardableResult
    public func offer(_ element: sending Element) -> Bool {
        state.withLock { state in
            guard state.elements.count < capacity else {
                state.dropped += 1
                return false
            }
            state.elements.append(element)
            depth.store(state.elements.count, ordering: .releasing)
            return true
        }
    }

    /// Everything waiting, oldest first; one atomic load when the queue is empty.
    public func takeAll() -> [Element] {
        guard depth.load(ordering: .acquiring) > 0 else { return [] }
        return state.withLock { state in
            defer {
                state.elements.removeAll(keepingCapacity: true)
                depth.store(0, ordering: .releasing)
            }
            return state.elements
        }
    }

    public var count: Int { depth.load(ordering: .acquiring) }

    /// Elements refused because the queue was full, since it was made.
    public var dropped: Int { state.withLock { $0.dropped } }
}
