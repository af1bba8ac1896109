import AgentCore
import RemoteCommands
import Synchronization
import Testing

/// The command service's turn: a command waits for values the pipeline published after it arrived.
@Suite struct CommandDispatcherTests {
    @Test func commandStartsOnValuesPublishedAfterItArrived() {
        let harness = ExecutorHarness()
        let requests = Atomic<Int>(0)
        let board = LiveValueBoard(profile: demoSedan, onRequest: { requests.add(1, ordering: .relaxed) }, onPublish: {})
        let dispatcher = CommandDispatcher(
            executor: harness.executor, features: harness.features, board: board, clock: harness.clock)
        // Values from before the command: the car was moving.
        harness.vehicle([speed: 30, gear: 3, trunkOpen: 0])
        board.publish(harness.live())
        let command = harness.command("trunk.open")
        dispatcher.receive([command])
        #expect(board.isWanted)
        #expect(requests.load(ordering: .relaxed) == 1, "the pipeline is woken")
        dispatcher.turn()
        #expect(harness.responder.answers.isEmpty, "not judged on values older than the command")
        // The pipeline's next turn: parked now.
        harness.vehicle([speed: 0, gear: 0, trunkOpen: 0])
        board.publish(harness.live())
        dispatcher.turn()
        #expect(harness.responder.statuses(of: command.command.request.id) == [.accepted, .inProgress])
        #expect(board.isWanted, "watching the confirmation")
        harness.clock.advance(seconds: 0.04)
        harness.vehicle([speed: 0, gear: 0, trunkOpen: 1])
        board.publish(harness.live())
        dispatcher.turn()
        #expect(harness.responder.final(of: command.command.request.id)?.status == .succeeded)
        #expect(!board.isWanted, "nothing watched: the pipeline stops publishing")
    }

    @Test func withoutPublicationsACommandStartsAfterThePatienceOnUnknownValues() {
        let harness = ExecutorHarness()
        let board = LiveValueBoard(profile: demoSedan, onRequest: {}, onPublish: {})
        let dispatcher = CommandDispatcher(
            executor: harness.executor, features: harness.features, board: board, clock: harness.clock)
        let command = harness.command("trunk.open")
        dispatcher.receive([command])
        harness.clock.advance(seconds: CommandDispatcher.livePatienceSeconds - 0.01)
        dispatcher.turn()
        #expect(harness.responder.answers.isEmpty)
        #expect(abs((dispatcher.nextDue ?? 0) - (harness.clock.monotonicSeconds() + 0.01)) < 1e-9)
        harness.clock.advance(seconds: 0.01)
        dispatcher.turn()
        #expect(harness.responder.final(of: command.command.request.id)?.reason == .preconditionFailed)
    }
}
