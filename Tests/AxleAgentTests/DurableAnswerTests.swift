import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Command answers go through the outbox (docs/commands.md, "Answers that are never lost"): one made while the
/// link is down survives the agent's crash and arrives once the link is back. Real `axled`, real mosquitto.
@Suite("Answers that are never lost", .serialized)
struct DurableAnswerTests {
    @Test("an answer made with the broker down survives SIGKILL and arrives after the broker and the agent are back")
    func answerMadeOfflineSurvivesSIGKILL() throws {
        let rig = try RemoteCommandTests.Rig(vehicleID: "durable-1")
        defer { rig.cleanUp() }
        // Run 0 dies between the journal's "started" and the first frame: the next start owes an INTERRUPTED answer,
        // which the journal lets it give once only (it marks the command interrupted as it opens).
        let doomed = try rig.start(scenario: "parked", environment: ["AXLE_FAULT_INJECTION=kill-after-journal"])
        let request = rig.request("trunk.open")
        try rig.publish([rig.key.sign(request).payload()])
        #expect(doomed.wait(timeoutSeconds: 15) == 128 + SIGKILL, "\(rig.harness.log())")

        // Run 1 starts with the broker down: it makes the INTERRUPTED answer with no link, and is killed.
        rig.broker.stop()
        let offline = try rig.start(scenario: "parked", run: 1)
        #expect(rig.harness.log(run: 1).contains("\(request.id) was interrupted by the agent's restart"), "\(rig.harness.log(run: 1))")
        offline.send(signal: SIGKILL)
        #expect(offline.wait(timeoutSeconds: 10) == 128 + SIGKILL)
        #expect(!rig.harness.log(run: 1).contains("connected to"), "run 1 reached a broker: \(rig.harness.log(run: 1))")
        // The answer waits in the outbox file, as a critical record.
        let stored = try AxleProcess.run(["outbox", "--socket", rig.harness.controlSocket, "--data-dir", rig.harness.dataDirectory, "--json"])
        let critical = try JSONValue.parse(stored.stdout)["classes"]?.arrayValue?.first { $0["class"]?.stringValue == "critical" }
        #expect((critical?["records"]?.intValue ?? 0) >= 1, "\(stored.stdout)")
        #expect(rig.responses(for: request.id).isEmpty, "answered before the broker was back: \(rig.responses(for: request.id))")

        // The broker and the backend's subscriber come back, then the agent: the answer arrives.
        try rig.broker.start()
        try rig.answers.restart()
        let agent = try rig.start(scenario: "parked", run: 2)
        defer { agent.terminate(timeoutSeconds: 5) }
        let answer = rig.finalResponse(for: request.id)
        #expect(answer?.status == .interrupted, "\(rig.harness.log(run: 2))")
        #expect(answer?.reason == .agentRestarted)
        let message = rig.answers.detailedMessages().first { (try? CommandResponse.parse($0.payload))?.id == request.id }
        #expect(message?.contentType == "application/json")
        #expect(message?.retained == false)
        // Run 2 owed nothing itself: the answer it delivered is run 1's.
        #expect(!rig.harness.log(run: 2).contains("was interrupted by the agent's restart"))
        #expect(try !rig.trunkIsOpen(run: 2), "the interrupted command ran after all")
    }
}
