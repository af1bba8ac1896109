import AxleBase
import AxleTestSupport
import ConfigBundle
import Testing

/// The technician's view of a real `axled`: `axle config` and `axle status` answer from the configuration service's
/// report, the document it publishes on `…/config/state`.
@Suite(.serialized)
struct ConfigurationReportControlTests {
    @Test("a fresh agent reports version 0, the installed profile, through axle config and axle status")
    func freshAgentReportsTheInstalledProfile() throws {
        let harness = try AgentHarness(vehicleID: "config-view")
        defer { harness.cleanUp() }
        // No broker: the report is the agent's own, whatever the link.
        let agent = try harness.start(broker: "mqtt://127.0.0.1:1", ["--simulate", "parked"])
        defer { agent.terminate(timeoutSeconds: 5) }

        var document: JSONValue?
        let reported = waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) {
            guard let result = try? AxleProcess.run(["config", "--json", "--socket", harness.controlSocket]), result.status == 0,
                let json = try? JSONValue.parse(result.stdout), json["active"] != nil
            else { return false }
            document = json
            return true
        }
        #expect(reported, "axle config never showed a report within 20 s:\n\(harness.log())")
        let json = try #require(document)
        let report = try ConfigurationReport.parse(json)
        #expect(report.active == .init(version: 0, profile: "demo-sedan", bundleSHA256: nil))
        #expect(report.previous == nil)
        #expect(report.last == nil)
        #expect(report.highWaterMark == 0)

        let text = try AxleProcess.run(["config", "--socket", harness.controlSocket])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("""
            active          version 0, profile demo-sedan, installed on disk
            previous        none
            last received   none
            high-water mark 0 (a push must be above it)

            """), "\(text.stdout)")
        let status = try AxleProcess.run(["status", "--socket", harness.controlSocket])
        #expect(status.stdout.contains("\nconfig      version 0 (demo-sedan)\n"), "\(status.stdout)")
        let statusJSON = try JSONValue.parse(AxleProcess.run(["status", "--json", "--socket", harness.controlSocket]).stdout)
        #expect(try statusJSON["configuration"].map(ConfigurationReport.parse)?.active == report.active)
    }
}
