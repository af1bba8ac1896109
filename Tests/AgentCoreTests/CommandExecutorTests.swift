import AgentCore
import FirmwareProfile
import RemoteCommands
import Testing

/// The executor's policy with a fake bus, journal and clock: the demo sedan's trunk.open (speed 0 in P; three frames
/// 20 ms apart; confirmed by the trunk being open; 3 s timeout).
@Suite struct CommandExecutorTests {
    /// The trunk may open: stopped, in P, trunk closed.
    private func parked(_ harness: ExecutorHarness, trunk: Double = 0) {
        harness.vehicle([speed: 0, gear: 0, trunkOpen: trunk])
    }

    @Test func timesOutExactlyWhenTheClockPassesTheTimeout() {
        let harness = ExecutorHarness()
        parked(harness)
        let command = harness.command("trunk.open")
        harness.executor.start(command, live: harness.live())
        // The repeats go out 20 ms apart on the monotonic clock. (Steps in 1/1024 s are exact in binary, so that
        // the test lands on the deadline itself, not a rounding error away from it.)
        harness.clock.advance(seconds: 0.0625)
        harness.executor.advance(live: harness.live())
        #expect(harness.frames.count == 3)
        // 1/1024 s before the timeout (3 s after the start): still waiting for the trunk.
        harness.clock.advance(seconds: 3 - 0.0625 - 1.0 / 1024)
        parked(harness)
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: command.command.request.id) == nil, "\(harness.responder.answers)")
        #expect(harness.executor.nextDue == 1003)
        harness.clock.advance(seconds: 1.0 / 1024)
        #expect(harness.clock.monotonicSeconds() == 1003)
        parked(harness)
        harness.executor.advance(live: harness.live())
        let answer = harness.responder.final(of: command.command.request.id)
        #expect(answer?.status == .timedOut)
        #expect(answer?.reason == .noConfirmation)
        #expect(answer?.text == "frames sent, but Vehicle.Body.Trunk.Rear.IsOpen did not hold within 3.0 s (Vehicle.Body.Trunk.Rear.IsOpen = 0)")
    }

    @Test func succeedsWhenTheConfirmationHolds() {
        let harness = ExecutorHarness()
        parked(harness)
        let command = harness.command("trunk.open")
        harness.executor.start(command, live: harness.live())
        harness.clock.advance(seconds: 0.0625)
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: command.command.request.id) == nil)
        harness.clock.advance(seconds: 0.5)
        parked(harness, trunk: 1)
        harness.executor.advance(live: harness.live())
        let answer = harness.responder.final(of: command.command.request.id)
        #expect(answer == Answer(
            id: command.command.request.id, status: .succeeded, reason: nil, text: "confirmed: Vehicle.Body.Trunk.Rear.IsOpen"))
        #expect(harness.responder.statuses(of: command.command.request.id) == [.accepted, .inProgress, .succeeded])
        // The rolling counter: 0, 1, 2 in the high nibble's low bits of byte 1.
        #expect(harness.frames == ["frame 512 1,0", "frame 512 1,1", "frame 512 1,2"])
    }

    @Test func confirmationThatHeldBeforeIsReportedAsAlreadySatisfied() {
        let harness = ExecutorHarness()
        parked(harness, trunk: 1)
        let command = harness.command("trunk.open")
        harness.executor.start(command, live: harness.live())
        harness.clock.advance(seconds: 0.0625)
        harness.executor.advance(live: harness.live())
        let answer = harness.responder.final(of: command.command.request.id)
        #expect(answer?.status == .succeeded)
        #expect(answer?.reason == .alreadySatisfied)
        #expect(harness.frames.count == 3, "the frames are sent anyway")
    }

    @Test func preconditionNotMetIsRefusedWithTheValuesItRead() {
        let harness = ExecutorHarness()
        harness.vehicle([speed: 12, gear: 3, trunkOpen: 0])
        let command = harness.command("trunk.open")
        harness.executor.start(command, live: harness.live())
        #expect(harness.responder.answers == [Answer(
            id: command.command.request.id, status: .rejected, reason: .preconditionFailed,
            text: "precondition not met: Vehicle.Speed == 0 and Vehicle.Powertrain.Transmission.CurrentGear == \"P\" (Vehicle.Speed = 12, Vehicle.Powertrain.Transmission.CurrentGear = 3 (D))")])
        #expect(harness.frames.isEmpty)
        #expect(!harness.timeline.all.contains("journal IN_PROGRESS"))
    }

    @Test func unknownValueRefusesThePreconditionAndNeverConfirms() {
        let harness = ExecutorHarness()
        // No gear yet: the precondition is unknown, and unknown is not safe.
        harness.vehicle([speed: 0])
        let first = harness.command("trunk.open")
        harness.executor.start(first, live: harness.live())
        let refusal = harness.responder.final(of: first.command.request.id)
        #expect(refusal?.reason == .preconditionFailed)
        #expect(refusal?.text == "precondition cannot be checked: Vehicle.Speed = 0, Vehicle.Powertrain.Transmission.CurrentGear = unknown; a stale or unknown signal never counts as safe")
        // Nothing published at all (the pipeline has not turned): every condition is unknown.
        let second = harness.command("trunk.open")
        harness.executor.start(second, live: nil)
        #expect(harness.responder.final(of: second.command.request.id)?.text?.hasPrefix("precondition cannot be checked: Vehicle.Speed = unknown") == true)
        // climate.stop has no precondition; its confirmation reads a signal never received: unknown, so not confirmed
        // (and the default timeout, 5 s, ends it).
        let third = harness.command("climate.stop")
        harness.executor.start(third, live: harness.live())
        harness.clock.advance(seconds: 4.5)
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: third.command.request.id) == nil)
        harness.clock.advance(seconds: 0.5)
        harness.executor.advance(live: harness.live())
        #expect(harness.responder.final(of: third.command.request.id)?.status == .timedOut)
    }

    @Test func journalIsWrittenBeforeEachAnswerAndBeforeTheFirstFrame() {
        let harness = ExecutorHarness()
        parked(harness)
        harness.executor.start(harness.command("trunk.open"), live: harness.live())
        harness.clock.advance(seconds: 0.0625)
        parked(harness, trunk: 1)
        harness.executor.advance(live: harness.live())
        #expect(harness.timeline.all == [
            "journal IN_PROGRESS", "answer ACCEPTED", "frame 512 1,0", "answer IN_PROGRESS", "frame 512 1,1", "frame 512 1,2",
            "journal SUCCEEDED", "answer SUCCEEDED",
        ])
    }

    @Test func oneCommandPerMessageAtATime() {
        let harness = ExecutorHarness()
        harness.vehicle([speed: 0, gear: 0, trunkOpen: 0, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen": 0])
        let first = harness.command("doors.lock")
        harness.executor.start(first, live: harness.live())
        // doors.unlock sends the same message (LockCommand) while doors.lock waits for its confirmation.
        let second = harness.command("doors.unlock")
        harness.executor.start(second, live: harness.live())
        let busy = harness.responder.final(of: second.command.request.id)
        #expect(busy?.status == .rejected)
        #expect(busy?.reason == .busy)
        #expect(busy?.text == "'doors.lock' is still running on the same message (LockCommand); try again when it has finished")
        // Another message is free.
        let other = harness.command("trunk.open")
        harness.executor.start(other, live: harness.live())
        #expect(harness.responder.statuses(of: other.command.request.id) == [.accepted, .inProgress])
    }

    @Test func sendFailureFailsTheCommandWithTheBusText() {
        let harness = ExecutorHarness(sinkFailure: "cannot send on vcan0: No buffer space available")
        parked(harness)
        let command = harness.command("trunk.open")
        harness.executor.start(command, live: harness.live())
        let answer = harness.responder.final(of: command.command.request.id)
        #expect(answer?.status == .failed)
        #expect(answer?.reason == .sendFailed)
        #expect(answer?.text == "frame 1 of 3 not sent: cannot send on vcan0: No buffer space available")
        #expect(harness.executor.nextDue == nil, "nothing left running")
    }

    @Test func expiredWhileWaitingIsRefused() {
        let harness = ExecutorHarness()
        parked(harness)
        let command = harness.command("trunk.open", lifetime: 1)
        harness.clock.advance(seconds: 1)
        harness.executor.start(command, live: harness.live())
        #expect(harness.responder.final(of: command.command.request.id)?.reason == .expired)
        #expect(harness.frames.isEmpty)
    }

    @Test func collectionUpdateGoesToThePipelineAndUnknownRulesAreRefused() {
        let harness = ExecutorHarness()
        let rule = demoSedan.rules[0].name
        let good = harness.command("collection.update", ["rule": .string(rule), "enabled": .bool(false)])
        harness.executor.start(good, live: nil)
        #expect(harness.rules.requested == ["\(rule)=false"])
        #expect(harness.responder.final(of: good.command.request.id)?.status == .succeeded)
        let bad = harness.command("collection.update", ["rule": .string("no-such-rule"), "enabled": .bool(true)])
        harness.executor.start(bad, live: nil)
        #expect(harness.responder.final(of: bad.command.request.id)?.reason == .badParameters)
        #expect(harness.responder.final(of: bad.command.request.id)?.text?.hasPrefix("profile demo-sedan has no collection rule or event named \"no-such-rule\"") == true)
        #expect(harness.rules.requested.count == 1)
    }
}
