import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Input errors are found before the agent announces itself: a vehicle that publishes `online` and then dies leaves a
/// `connection lost` will on the broker, which a fleet dashboard shows as a vehicle that dropped off.
@Suite("axled checks its inputs before it goes online")
struct AgentStartupOrderTests {
    @Test("axled --replay with a missing file exits 1 naming the file, and never publishes online")
    func missingReplayFile() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-missing-log")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-missing-log/#"])
        let agent = try harness.start(broker: broker.url, ["--replay", harness.directory + "/no-such-drive.log"])
        #expect(agent.wait(timeoutSeconds: 20) == 1, "\(harness.log())")
        #expect(harness.log().contains("no-such-drive.log"), "\(harness.log())")
        // A marker published after the agent ended: once it has arrived, anything the agent published would have too.
        let port = String(broker.url.split(separator: ":").last!)
        let marker = try ChildProcess.run(
            "/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "axle/v1/car-missing-log/marker", "-m", "end"])
        #expect(marker.status == 0, "\(marker.output)")
        #expect(waitUntil(timeoutSeconds: 10) { subscriber.messages().contains { $0.topic.hasSuffix("/marker") } })
        let published = subscriber.messages().map(\.topic).filter { !$0.hasSuffix("/marker") }
        #expect(published == [], "the agent published before it found its input missing: \(published)")
    }
}
