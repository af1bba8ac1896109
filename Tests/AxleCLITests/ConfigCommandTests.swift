import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import ConfigBundle
import Testing

/// End-to-end: the built `axle` binary's `config`, and the configuration line of `status`, against a control server in
/// this process answering with a configuration report as the agent publishes it.
@Suite("axle config")
struct ConfigCommandTests {
    @Test("config prints the active and previous versions, the last one received with its reason and text, the high-water mark")
    func text() throws {
        let agent = try RunningServer(agent: FakeAgent(configuration: Fixtures.configuration))
        let result = try AxleProcess.run(["config", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            active          version 2, profile demo-sedan, bundle 3fa2c1d03fa2
            previous        version 0, profile demo-sedan, installed on disk
            last received   version 3, bundle 9c1e77ab9c1e: ROLLED_BACK (health_check_failed)
                            no frame decoded on body for 30 s
            high-water mark 3 (a push must be above it)
            reported        2026-01-01 00:00:00Z

            """)
    }

    @Test("config --json prints the report as the agent publishes it: ConfigurationReport reads it back")
    func json() throws {
        let agent = try RunningServer(agent: FakeAgent(configuration: Fixtures.configuration))
        let result = try AxleProcess.run(["config", "--json", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let printed = try JSONValue.parse(result.stdout)
        #expect(printed == Fixtures.configuration)
        let report = try ConfigurationReport.parse(printed)
        #expect(report.active.version == 2)
        #expect(report.last?.status == .rolledBack)
        #expect(report.last?.reason == ConfigurationFailure.healthCheckFailed.rawValue)
        #expect(report.json == Fixtures.configuration, "the fixture is written as the agent writes reports")
    }

    @Test("with no report yet, config says so; --json prints {}")
    func noReport() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["config", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "no configuration report yet\n")
        let json = try AxleProcess.run(["config", "--json", "--socket", agent.path])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(try JSONValue.parse(json.stdout) == .object([]))
    }

    @Test("a version that applied shows as it is: no failure, no text")
    func applied() throws {
        let report = ConfigurationReport(
            active: .init(version: 4, profile: "demo-sedan", bundleSHA256: String(repeating: "ab", count: 32)),
            previous: .init(version: 2, profile: "demo-sedan", bundleSHA256: String(repeating: "cd", count: 32)),
            last: .init(version: 4, bundleSHA256: String(repeating: "ab", count: 32), status: .applied),
            highWaterMark: 4, atMillis: 0)
        let agent = try RunningServer(agent: FakeAgent(configuration: report.json))
        let result = try AxleProcess.run(["config", "--socket", agent.path])
        #expect(result.stdout == """
            active          version 4, profile demo-sedan, bundle abababababab
            previous        version 2, profile demo-sedan, bundle cdcdcdcdcdcd
            last received   version 4, bundle abababababab: APPLIED
            high-water mark 4 (a push must be above it)

            """)
        let status = try AxleProcess.run(["status", "--socket", agent.path])
        #expect(status.stdout.contains("\nconfig      version 4 (demo-sedan), previous 2\n"), "\(status.stdout)")
    }

    @Test("status shows one configuration line, and --json carries the report as its configuration member")
    func status() throws {
        let agent = try RunningServer(agent: FakeAgent(configuration: Fixtures.configuration))
        let text = try AxleProcess.run(["status", "--socket", agent.path])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("\nconfig      version 2 (demo-sedan), previous 0; last received 3: ROLLED_BACK (health_check_failed)\n"), "\(text.stdout)")
        let json = try AxleProcess.run(["status", "--json", "--socket", agent.path])
        #expect(try JSONValue.parse(json.stdout)["configuration"] == Fixtures.configuration)

        // An agent with no report (or one older than configuration updates): no line, no member.
        let plain = try RunningServer()
        let without = try AxleProcess.run(["status", "--socket", plain.path])
        #expect(!without.stdout.contains("\nconfig "), "\(without.stdout)")
        #expect(try JSONValue.parse(AxleProcess.run(["status", "--json", "--socket", plain.path]).stdout)["configuration"] == nil)
    }

    @Test("with no agent, config says it is not running and exits 3")
    func notRunning() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { removeTree(directory) }
        let result = try AxleProcess.run(["config", "--socket", directory + "/absent.sock"])
        #expect(result.status == 3, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.isEmpty)
    }
}
