import AxleBase
import AxleTestSupport
import CommandStore
import MQTTUplink
import Outbox
import RemoteCommands
import Testing

@testable import AxleAgent

/// The hand-off from the MQTT thread to the command service is bounded (docs/commands.md, "Unauthenticated
/// requests"): a verified command that does not fit is answered, never dropped in silence.
@Suite("Command queue full: answered busy")
struct CommandQueueFullTests {
    @Test("with 1,024 verified commands waiting for the commands service, the next is answered REJECTED busy on …/cmd/res")
    func commandBeyondTheQueueIsAnsweredBusy() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "queue-full")
        defer { harness.cleanUp() }
        let topics = try UplinkTopics(vehicleID: harness.vehicleID)
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/\(harness.vehicleID)/cmd/res/#"])
        defer { subscriber.stop() }
        let key = try CommandSigningKey.generate(keyID: "backend")
        let verifier = CommandVerifier(
            vehicleID: harness.vehicleID, trustStore: TrustStore(keys: [key.publicKey]),
            catalog: CommandCatalog(CommandCatalog.builtIn))
        let journal = try CommandJournal(path: harness.directory + "/commands.db")
        let client = try MQTTClient(
            configuration: MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "axled-queue-full"))
        // The responder as the agent wires it, outbox and drainer included (a busy refusal itself goes straight
        // through the client: the journal never held the command).
        let outbox = try OutboxStore(configuration: OutboxConfiguration(path: harness.directory + "/outbox.db"))
        defer { outbox.close() }
        let drainer = OutboxDrainer(outbox: outbox, client: client, policy: .standard)
        let connected = StopToken()
        client.start { event in
            drainer.handle(event)
            if case .connected = event { connected.requestStop() }
        }
        defer { client.stop(final: nil, timeoutSeconds: 0.5) }
        startDedicatedThread(name: "drainer") { drainer.run() }
        defer { drainer.stop() }
        #expect(connected.wait(seconds: 10), "the client did not connect to \(broker.url)")
        let log = AgentLog(level: .error)
        let durable = DurableMessages(outbox: outbox, client: client, onAppended: { drainer.recordsAppended() }, log: log)
        // Nobody claims: the commands service is not running, as when it is busy with the journal.
        let intake = CommandIntake(
            verifier: verifier, journal: journal, responder: CommandResponder(client: client, topics: topics, durable: durable),
            settings: CommandSettings(), log: log, onWaiting: {})

        let now = wallClockMillis()
        var ids: [String] = []
        for counter in 1...(CommandIntake.queueLimit + 1) {
            let request = CommandRequest(
                vehicle: harness.vehicleID, name: "diagnostics.snapshot", issuedAtMillis: now, expiresAtMillis: now + 60_000,
                counter: UInt64(counter))
            ids.append(request.id)
            intake.receive(MQTTMessage(topic: topics.commandRequests, payload: key.sign(request).payload()))
        }

        let last = ids.last!
        let answered = waitUntil(timeoutSeconds: 10) {
            subscriber.messages().contains { (try? CommandResponse.parse($0.payload))?.id == last }
        }
        #expect(answered, "no answer to the command beyond the queue: \(subscriber.messages().count) messages")
        let answers = subscriber.messages().compactMap { try? CommandResponse.parse($0.payload) }
        let answer = answers.first { $0.id == last }
        #expect(answer?.status == .rejected)
        #expect(answer?.reason == .busy)
        #expect(answer?.text == "1024 commands are waiting on the vehicle; it was not run and can be sent again")
        // The ones in the queue are not answered yet: the service claims each of them when it gets to them.
        #expect(answers.filter { $0.id != last }.isEmpty, "\(answers.count) answers")
    }
}
