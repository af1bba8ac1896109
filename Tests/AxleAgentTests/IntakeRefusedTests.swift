import AxleBase
import AxleTestSupport
import Outbox
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole agent on a data directory whose filesystem fills up and then has room again: the telemetry it could not
/// store never got sequence numbers, so only the `outbox.intake_refused` event tells the backend (docs/mqtt.md,
/// "Intake refused").
@Suite(.serialized)
struct IntakeRefusedTests {
    /// The samples of every telemetry batch the agent logged as not stored (`TelemetryRecorder.flush`).
    static func samplesLoggedAsRefused(_ log: String) -> (batches: Int, samples: Int) {
        var batches = 0
        var samples = 0
        for line in log.split(separator: "\n") {
            guard let start = line.firstRange(of: "telemetry batch of "), line.contains("samples not stored") else { continue }
            batches += 1
            samples += Int(line[start.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (batches, samples)
    }

    // Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it this test cannot make a real full disk and is skipped.
    @Test(.enabled(if: TinyFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"))
    func telemetryRefusedOnAFullDiskIsReportedWhenSpaceReturns() throws {
        let broker = try MosquittoBroker()
        let relay = try TCPRelay(targetPort: broker.port)
        let harness = try AgentHarness(vehicleID: "car-full")
        defer { harness.cleanUp() }
        // The data directory is a filesystem of its own, 8 MiB: room for the outbox (a 1 MiB cap) and its reserve.
        let filesystem = try TinyFilesystem(bytes: 8 << 20, at: harness.dataDirectory)
        defer { filesystem.unmount() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-full/#"])
        defer { subscriber.stop() }
        let agent = try harness.start(
            broker: "mqtt://127.0.0.1:\(relay.port)",
            ["--simulate", "city-drive", "--simulate-speed", "10", "--telemetry-batch", "0.2", "--outbox-cap", "1"])
        defer { agent.terminate(timeoutSeconds: 5) }
        #expect(
            waitUntil(timeoutSeconds: 20) { Received(subscriber.messages()).telemetry.count >= 3 },
            "no telemetry before the disk filled: \(harness.log())")

        // The link goes down as well: with the uplink keeping up, acknowledged records free pages as fast as new ones
        // need them and even a full filesystem may take every batch; a tunnel makes the outbox grow.
        relay.cut()
        let filledAtMillis = wallClockMillis()
        filesystem.fill("filler")
        // Refused for a while: at least ten batches (about two seconds of batches at 0.2 s each).
        try #require(
            waitUntil(timeoutSeconds: 30, pollSeconds: 0.1) { Self.samplesLoggedAsRefused(harness.log()).batches >= 10 },
            "the agent never refused telemetry on the full filesystem: \(harness.log())")
        #expect(!Self.events(subscriber).contains { $0.name == "outbox.intake_refused" }, "reported while still full")

        #expect(unlink(filesystem.path + "/filler") == 0)
        let freedAtMillis = wallClockMillis()
        try relay.restore()
        #expect(
            waitUntil(timeoutSeconds: 30, pollSeconds: 0.1) {
                Self.events(subscriber).contains { $0.name == "outbox.intake_refused" }
            }, "no outbox.intake_refused event after space returned: \(harness.log())")

        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 10) == 0, "\(harness.log())")
        // What the outbox counted, and what the agent logged, refusal by refusal.
        let refused = try OutboxStore.readStatistics(path: harness.outboxPath).refusedWhileFull[.telemetry] ?? 0
        let logged = Self.samplesLoggedAsRefused(harness.log())
        #expect(refused >= 10)
        #expect(refused >= logged.batches, "a batch may be split into several records, each counted")

        // Refusals after the last report (none expected, the disk had room) would make a further report at the next
        // start: sum every report the backend received.
        let reports = Self.events(subscriber).filter { $0.name == "outbox.intake_refused" }
        let reportedRecords = reports.reduce(0) { $0 + (Int($1.attributes["records_telemetry"] ?? "") ?? 0) }
        let reportedSamples = reports.reduce(0) { $0 + (Int($1.attributes["samples"] ?? "") ?? 0) }
        #expect(reportedRecords == refused, "\(reports)")
        #expect(reportedSamples == logged.samples, "\(reports)")
        for report in reports {
            #expect(report.priority == "critical")
            #expect(report.attributes["reasons"] == "disk_full", "\(report)")
            let first = Int64(report.attributes["first_refused_ms"] ?? "") ?? 0
            let last = Int64(report.attributes["last_refused_ms"] ?? "") ?? 0
            // The span lies within the time the filesystem was full (and the last retry interval after it).
            #expect(filledAtMillis <= first && first <= last && last <= freedAtMillis + 6_000, "\(report)")
            #expect(report.timeMicros / 1000 >= last)
        }
    }

    /// Every event the vehicle published so far.
    static func events(_ subscriber: MosquittoSubscriber) -> [TelemetryEvent] {
        Received(subscriber.messages()).events.flatMap(\.batch.events)
    }
}
