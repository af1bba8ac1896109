import AxleBase
import AxleTestSupport
import Outbox
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axled` as an integrator runs it: under systemd's notification protocol, configured by a file with flags on top,
/// and inspected by a technician with `axle` over the control socket.
@Suite(.serialized)
struct AgentDaemonTests {
    @Test("the embedded default runs with no CAN, no configuration file and no broker: READY, watchdog pings, buffering, STOPPING")
    func readyAndWatchdogWithoutABroker() throws {
        let harness = try AgentHarness(vehicleID: "car-notify")
        defer { harness.cleanUp() }
        let notify = try NotifySocketListener()
        let nobody = try LoopbackPort.free()
        let (executable, arguments) = notify.command(
            AgentHarness.axled,
            [
                "--profile", AgentHarness.demoProfile, "--simulate", "city-drive", "--simulate-speed", "10",
                "--vehicle-id", harness.vehicleID, "--data-dir", harness.dataDirectory, "--broker", "mqtt://127.0.0.1:\(nobody)",
                "--control-socket", harness.controlSocket, "--telemetry-batch", "0.5",
            ],
            watchdogSeconds: 0.4)
        let agent = try ChildProcess(executable: executable, arguments: arguments, stderrPath: harness.directory + "/axled-0.log")
        #expect(notify.waitFor("READY=1", timeout: 10), "\(harness.log())")
        // WATCHDOG_USEC 0.4 s: a ping every 0.2 s while the pipeline and the uplink thread make progress.
        #expect(waitUntil(timeoutSeconds: 10) { notify.count(of: "WATCHDOG=1") >= 5 }, "\(notify.messages)")
        // No broker anywhere: the telemetry waits in the outbox.
        #expect(try OutboxStore.readStatistics(path: harness.outboxPath).depth[.telemetry]!.records > 0)
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        #expect(notify.waitFor("STOPPING=1", timeout: 1))
        #expect(harness.log().contains("ready in"))
        // All seven services (mqtt, link watcher, drainer, profile services, control socket, configuration,
        // watchdog) stopped within the one shutdown budget (docs/architecture.md), the profile services with theirs
        // (pipeline, diagnostic commands, diagnostics, commands). No location service: the demo profile reads
        // gpsd, but a simulation at 10x speed runs without the receiver (docs/location.md).
        #expect(harness.log().contains("stopped 7 services in"), "\(harness.log())")
        #expect(harness.log().contains("<5>location: a simulation at 10.0x speed runs without the GNSS receiver"), "\(harness.log())")
        #expect(!harness.log().contains("did not stop within the shutdown budget"), "\(harness.log())")
    }

    @Test("axle status, signals, events and rules answer from the running agent; switching a rule off stops its samples")
    func technicianCLIAgainstTheRunningAgent() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "car-cli")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car-cli/telemetry"])
        let agent = try harness.start(
            broker: broker.url, ["--simulate", "city-drive", "--simulate-speed", "20", "--telemetry-batch", "0.5"])
        #expect(waitUntil(timeoutSeconds: 10) { access(harness.controlSocket, F_OK) == 0 }, "\(harness.log())")
        #expect(waitUntil(timeoutSeconds: 10) { speedSamples(subscriber) > 0 })

        let status = try AxleProcess.run(["status", "--socket", harness.controlSocket, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let report = try JSONValue.parse(status.stdout)
        #expect(report["profile"]?.stringValue == "demo-sedan")
        #expect(report["vehicle_id"]?.stringValue == "car-cli")
        #expect(report["buses"]?.arrayValue?.first?["state"]?.stringValue == "simulated")
        #expect(report["uplink"]?["state"]?.stringValue == "connected")

        let table = try AxleProcess.run(["status", "--socket", harness.controlSocket])
        #expect(table.status == 0 && table.stdout.contains("demo-sedan") && table.stdout.contains("connected"), "\(table.stdout)")
        // The words and numbers of `axle profile validate` ("9 rules, 5 events"), not rules and events lumped together.
        let validate = try AxleProcess.run(["profile", "validate", AgentHarness.demoProfile])
        #expect(validate.stdout.contains("10 rules, 5 events"), "\(validate.stdout)")
        #expect(table.stdout.contains("collection  10 of 10 rules and 5 of 5 events enabled"), "\(table.stdout)")

        let signals = try AxleProcess.run(["signals", "--socket", harness.controlSocket, "--json", "Vehicle.Speed"])
        #expect(signals.status == 0, "\(signals.stderr)")
        let values = try JSONValue.parse(signals.stdout)["signals"]?.arrayValue ?? []
        #expect(values.count == 1)
        #expect(values.first?["unit"]?.stringValue == "km/h")
        #expect(values.first?["value"]?.doubleValue != nil)

        // Switching "motion" off: Vehicle.Speed stops arriving (batches already written may still come).
        let off = try AxleProcess.run(["rules", "disable", "motion", "--socket", harness.controlSocket])
        #expect(off.status == 0, "\(off.stderr)")
        let rules = try AxleProcess.run(["rules", "--socket", harness.controlSocket, "--json"])
        #expect(waitUntil(timeoutSeconds: 5) {
            let rules = (try? AxleProcess.run(["rules", "--socket", harness.controlSocket, "--json"]))?.stdout ?? ""
            return ((try? JSONValue.parse(rules))?["rules"]?.arrayValue ?? []).contains {
                $0["name"]?.stringValue == "motion" && $0["enabled"]?.boolValue == false
            }
        }, "\(rules.stdout)")
        usleep(1_500_000)
        let before = speedSamples(subscriber)
        usleep(2_000_000)
        #expect(speedSamples(subscriber) == before, "Vehicle.Speed still arriving after 'motion' was switched off")
        let unknown = try AxleProcess.run(["rules", "disable", "no-such-rule", "--socket", harness.controlSocket])
        #expect(unknown.status == 1 && unknown.stderr.contains("motion"), "the error lists the known rules: \(unknown.stderr)")

        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        // The agent is down: axle says so (exit 3) and shows the outbox from its file.
        let down = try AxleProcess.run(["status", "--socket", harness.controlSocket, "--data-dir", harness.dataDirectory])
        #expect(down.status == 3)
        #expect(down.stderr.contains("not running"), "\(down.stderr)")
        #expect(down.stdout.contains("outbox"), "\(down.stdout)")
    }

    @Test("a configuration file sets everything, flags override it, and every mistake in it is reported with its line")
    func configurationFileAndOverrides() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "from-flag")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["#"])
        let config = try AxleProcess.writeFile(harness.directory + "/axled.toml", """
            vehicle-id = "from-file"
            profile = "\(AgentHarness.demoProfile)"
            data-dir = "\(harness.dataDirectory)"

            [mqtt]
            broker = "\(broker.url)"
            topic-prefix = "fleet/v2"

            [uplink]
            telemetry-batch = "500ms"
            """)
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: ["--config", config, "--vehicle-id", "from-flag", "--simulate", "city-drive", "--simulate-speed", "10", "--control-socket", harness.controlSocket],
            stderrPath: harness.directory + "/axled-0.log")
        #expect(waitUntil(timeoutSeconds: 15) { subscriber.messages().contains { $0.topic == "fleet/v2/from-flag/telemetry" } }, "\(harness.log())")
        agent.send(signal: SIGTERM)
        #expect(agent.wait(timeoutSeconds: 5) == 0)
        #expect(!subscriber.messages().contains { $0.topic.contains("from-file") })

        let broken = try AxleProcess.writeFile(harness.directory + "/broken.toml", """
            profile = "\(AgentHarness.demoProfile)"

            [mqtt]
            brokr = "mqtt://127.0.0.1:1883"
            max-inflight = "twenty"
            """)
        let failing = try ChildProcess(executable: AgentHarness.axled, arguments: ["--config", broken], stderrPath: harness.directory + "/axled-1.log")
        #expect(failing.wait(timeoutSeconds: 10) == 1)
        let errors = harness.log(run: 1)
        #expect(errors.contains("broken.toml:4"), "the unknown key's line: \(errors)")
        #expect(errors.contains("brokr"))
        #expect(errors.contains("broken.toml:5"), "the wrong type's line: \(errors)")
    }
}

private func speedSamples(_ subscriber: MosquittoSubscriber) -> Int {
    subscriber.messages().reduce(0) { count, message in
        let samples = (try? TelemetryPayloadDecoder.decode(message.payload))?.samples ?? []
        return count + samples.filter { $0.signal == "Vehicle.Speed" }.count
    }
}
