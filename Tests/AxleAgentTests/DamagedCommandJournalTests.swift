import AxleBase
import AxleTestSupport
import RemoteCommands
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A damaged or unusable `commands.db` through the running agent: telemetry never stops, the backend is told on
/// `…/events`, and replay protection stays sound across the replacement (docs/commands.md, "A damaged journal").
extension RemoteCommandTests {
    /// Every event the vehicle published so far, from a subscriber to all its topics.
    static func events(_ subscriber: MosquittoSubscriber) -> [TelemetryEvent] {
        Received(subscriber.messages()).events.flatMap(\.batch.events)
    }

    @Test("a damaged commands.db is moved aside: telemetry flows, the event says so, older commands are refused, new ones run")
    func damagedJournalIsReplacedWhileTelemetryFlows() throws {
        let rig = try Rig(vehicleID: "journal-damaged")
        defer { rig.cleanUp() }
        let everything = try MosquittoSubscriber(broker: rig.broker, topics: ["axle/v1/journal-damaged/#"])
        defer { everything.stop() }
        mkdir(rig.harness.dataDirectory, 0o755)
        let journalPath = rig.harness.dataDirectory + "/commands.db"
        try AxleProcess.writeFile(journalPath, String(repeating: "not an SQLite database; ", count: 400))
        // Signed before the agent starts: after the replacement the journal cannot know whether it already ran.
        let older = rig.request("doors.lock", issuedIn: -1_000)

        let agent = try rig.start(scenario: "parked")
        defer { agent.terminate(timeoutSeconds: 5) }

        #expect(waitUntil(timeoutSeconds: 20) { Self.events(everything).contains { $0.name == "commands.journal_replaced" } },
            "no commands.journal_replaced event: \(rig.harness.log())")
        let replaced = Self.events(everything).first { $0.name == "commands.journal_replaced" }
        let movedTo = replaced?.attributes["moved_to"] ?? ""
        #expect(movedTo.hasPrefix(journalPath + ".damaged-"), "\(String(describing: replaced))")
        #expect(access(movedTo, F_OK) == 0, "the damaged copy is kept for inspection")
        let cutoff = Int64(replaced?.attributes["refuses_issued_before_ms"] ?? "") ?? 0
        #expect(cutoff > 0)
        #expect(rig.harness.log().contains("the command journal was damaged"), "\(rig.harness.log())")
        #expect(waitUntil(timeoutSeconds: 20) { !Received(everything.messages()).telemetry.isEmpty },
            "telemetry goes on: \(rig.harness.log())")

        try rig.publish([rig.key.sign(older).payload()])
        let refused = rig.finalResponse(for: older.id)
        #expect(refused?.status == .rejected, "\(rig.responses()) \(rig.harness.log())")
        #expect(refused?.reason == .replay)

        // A command issued at the cutoff is new to the journal for certain; the verifier accepts it because the
        // cutoff is at most the allowed clock difference ahead of now.
        let newer = rig.request("doors.lock", issuedIn: cutoff - wallClockMillis())
        try rig.publish([rig.key.sign(newer).payload()])
        #expect(rig.finalResponse(for: newer.id)?.status == .succeeded, "\(rig.responses()) \(rig.harness.log())")
    }

    @Test("a commands.db that cannot be opened disables commands, with the reason, while telemetry goes on")
    func unusableJournalDisablesCommandsOnly() throws {
        let rig = try Rig(vehicleID: "journal-unusable")
        defer { rig.cleanUp() }
        let everything = try MosquittoSubscriber(broker: rig.broker, topics: ["axle/v1/journal-unusable/#"])
        defer { everything.stop() }
        mkdir(rig.harness.dataDirectory, 0o755)
        // A directory where the file should be: SQLite cannot open it, and there is nothing to move aside.
        mkdir(rig.harness.dataDirectory + "/commands.db", 0o755)

        let agent = try rig.start(scenario: "parked")
        defer { agent.terminate(timeoutSeconds: 5) }

        #expect(waitUntil(timeoutSeconds: 20) { Self.events(everything).contains { $0.name == "commands.disabled" } },
            "no commands.disabled event: \(rig.harness.log())")
        let disabled = Self.events(everything).first { $0.name == "commands.disabled" }
        #expect(disabled?.attributes["reason"]?.contains("commands.db") == true, "\(String(describing: disabled))")
        #expect(rig.harness.log().contains("remote commands are disabled, telemetry goes on"), "\(rig.harness.log())")
        #expect(waitUntil(timeoutSeconds: 20) { !Received(everything.messages()).telemetry.isEmpty },
            "telemetry goes on: \(rig.harness.log())")

        let request = rig.request("doors.lock")
        try rig.publish([rig.key.sign(request).payload()])
        let answer = rig.finalResponse(for: request.id)
        #expect(answer?.status == .failed, "\(rig.responses()) \(rig.harness.log())")
        #expect(answer?.text?.contains("remote commands are disabled") == true, "\(String(describing: answer))")
    }
}
