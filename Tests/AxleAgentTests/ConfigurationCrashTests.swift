import AxleBase
import AxleTestSupport
import ConfigBundle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL while a configuration update is received, staged, switched to and on trial (docs/configuration.md,
/// "After a crash"): after the restart the agent runs exactly the old version or the new one, never a mix, and its
/// report says which. Real `axled`, real mosquitto; the crash points are named steps of the configuration service
/// and the store (`AXLE_FAULT_INJECTION=config-kill:<point>`), and random moments.
@Suite("Configuration over the air: SIGKILL at 30 points")
struct ConfigurationCrashTests {
    /// Where to kill, and whether the pushed version is healthy (the rollback points need one that is not).
    struct CrashPoint: Sendable, CustomTestStringConvertible {
        var point: String?
        var healthy = true
        /// For a random moment: how long after the push the process is killed.
        var delaySeconds = 0.0

        var testDescription: String {
            point.map { "\($0)\(healthy ? "" : " (unhealthy version)")" } ?? "random moment \(delaySeconds) s after the push"
        }
    }

    static let named: [CrashPoint] = [
        "after-desired", "after-chunk-0", "after-download", "before-stage", "store:high-water-mark",
        "store:file:demo_sedan.dbc", "store:file:profile.toml", "store:staged", "before-switch", "store:current-link",
        "after-switch", "after-reload", "mid-trial", "after-applied",
    ].map { CrashPoint(point: $0) } + [
        "after-reload", "mid-trial", "before-rollback", "store:rollback-link", "after-rolled-back",
    ].map { CrashPoint(point: $0, healthy: false) }

    /// Spread over receiving, staging, switching and the 1 s trial (the whole update takes about 1.2 s here).
    static let random: [CrashPoint] = (0..<11).map { index in
        CrashPoint(point: nil, healthy: index % 3 != 2, delaySeconds: Double(index) * 0.12 + Double.random(in: 0..<0.1))
    }

    @Test("after SIGKILL the agent runs the old version or the new one, complete, and reports which", arguments: named + random)
    func killAndRestart(_ crash: CrashPoint) throws {
        let vehicle = "crash-\(UInt32.random(in: 0...UInt32.max))"
        let rig = try ConfigurationRig(vehicleID: vehicle)
        defer { rig.cleanUp() }
        let profile = try rig.profile(version: 1, movedIDs: !crash.healthy) { $0 + addedRule }
        let bundlePath = try rig.sign(profile, version: 1)
        let bundle = try FileInput.readAll(path: bundlePath)

        let doomed = try rig.startAgent(environment: crash.point.map { ["AXLE_FAULT_INJECTION=config-kill:\($0)"] } ?? [])
        #expect(waitUntil(timeoutSeconds: 20) { rig.harness.log().contains("connected to") }, "\(rig.harness.log())")
        try rig.push(bundle, version: 1)
        if let point = crash.point {
            let status = doomed.wait(timeoutSeconds: 30)
            #expect(status == 128 + SIGKILL, "not killed at \(point): \(rig.harness.log())")
            #expect(rig.harness.log().contains("killed at \(point)"), "\(rig.harness.log())")
        } else {
            usleep(UInt32(crash.delaySeconds * 1e6))
            doomed.send(signal: SIGKILL)
            _ = doomed.wait(timeoutSeconds: 10)
        }

        // The restart: no crash point. It settles on a final status for version 1.
        let agent = try rig.startAgent(run: 1)
        defer { agent.terminate(timeoutSeconds: 5) }
        let report = rig.finalReport(version: 1, timeoutSeconds: 40)
        let context = "\(crash.testDescription): \(String(describing: report))\n\(rig.harness.log())\n--- restart ---\n\(rig.harness.log(run: 1))"
        guard let report else {
            Issue.record("no final report after the restart: \(context)")
            return
        }
        let active = report.active.version
        #expect(active == 0 || active == 1, "\(context)")
        // Never a mix: what runs is exactly one version's profile, and the report names it.
        #expect(waitUntil(timeoutSeconds: 20) { rig.ruleNames().contains("motion") }, "\(context)")
        #expect(rig.ruleNames().contains("pushed-speed") == (active == 1), "rules \(rig.ruleNames()) with version \(active) active: \(context)")
        let current = rig.harness.dataDirectory + "/config/current/demo-sedan"
        if active == 1 {
            #expect(AxleProcess.readText(current + "/profile.toml") == AxleProcess.readText(profile + "/profile.toml"), "\(context)")
            #expect(AxleProcess.readText(current + "/demo_sedan.dbc") == AxleProcess.readText(profile + "/demo_sedan.dbc"), "\(context)")
            #expect(report.last?.status == .applied, "\(context)")
            #expect(crash.healthy, "an unhealthy version was kept: \(context)")
        } else {
            var info = stat()
            #expect(lstat(rig.harness.dataDirectory + "/config/current", &info) != 0, "a current link with version 0 active: \(context)")
            #expect(report.last?.status == .failed || report.last?.status == .rolledBack, "\(context)")
        }
        #expect(report.highWaterMark <= 1)
    }
}
