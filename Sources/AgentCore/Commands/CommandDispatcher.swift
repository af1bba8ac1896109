/// The command service's turn, apart from its thread: claimed commands wait for live values the pipeline published
/// after they arrived (so that a precondition reads the vehicle as it is now, not as it was when the pipeline last
/// looked), then start; executions advance; entitlements are checked; and the pipeline is told whether to publish.
///
/// Not `Sendable`: the command service's thread owns it.
public final class CommandDispatcher {
    /// How long a command waits for the pipeline's values: it turns at least every 200 ms, so only a pipeline that
    /// has ended (a replay's end) makes a command wait this long; it then starts on what was last published, or on
    /// nothing (every condition unknown).
    public static let livePatienceSeconds = 1.0

    public let executor: CommandExecutor
    public let features: FeatureManager
    private let board: LiveValueBoard
    private let clock: any AgentClock
    private var waiting: [AcceptedCommand] = []
    /// The first publication that may judge the waiting commands, and when they began to wait.
    private var neededGeneration = 0
    private var waitingSince = 0.0

    public init(executor: CommandExecutor, features: FeatureManager, board: LiveValueBoard, clock: any AgentClock) {
        self.executor = executor
        self.features = features
        self.board = board
        self.clock = clock
        executor.features = features
    }

    /// Commands claimed in the journal, oldest first.
    public func receive(_ commands: [AcceptedCommand]) {
        guard !commands.isEmpty else { return }
        if waiting.isEmpty { waitingSince = clock.monotonicSeconds() }
        waiting += commands
        neededGeneration = (board.latest?.generation ?? 0) + 1
        board.requestFreshValues()
    }

    /// Does what is due now.
    public func turn() {
        let live = board.latest
        if !waiting.isEmpty,
            (live?.generation ?? 0) >= neededGeneration || clock.monotonicSeconds() - waitingSince >= Self.livePatienceSeconds
        {
            let starting = waiting
            waiting.removeAll()
            for command in starting { executor.start(command, live: live) }
        }
        executor.advance(live: live)
        features.tick(executor: executor)
        board.setWanted(!waiting.isEmpty || executor.isWatching)
    }

    /// When the next turn is due (monotonic clock); nil: only when woken (a command, live values, a stop).
    public var nextDue: Double? {
        let dues = [
            executor.nextDue, features.nextDue, waiting.isEmpty ? nil : waitingSince + Self.livePatienceSeconds,
        ].compactMap { $0 }
        return dues.min()
    }

    /// Shutdown: executions in flight are left as the journal has them (IN_PROGRESS, reported INTERRUPTED by the next
    /// start, never run again); the active time of features is saved.
    public func finish() {
        board.setWanted(false)
        features.finish()
    }
}

/// One thread owns a dispatcher; sharing one between threads is a compile-time error.
@available(*, unavailable)
extension CommandDispatcher: Sendable {}
