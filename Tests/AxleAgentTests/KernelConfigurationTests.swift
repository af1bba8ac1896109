import AxleBase
import AxleTestSupport
import ConfigBundle
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let insideCANGuest = getenv("AXLE_KERNEL_TESTS") != nil

/// Configuration over the air on the SocketCAN path, inside user-mode-linux (`make kernel-test`): the simulated
/// vehicle sends on a vcan interface and `axled` reads it through the kernel's id filters, which a pushed profile
/// changes on the open socket (docs/configuration.md, "Applying a version").
@Suite(
    "Configuration over the air on a real kernel (user-mode-linux, vcan)", .serialized,
    .enabled(if: insideCANGuest, "needs the CAN stack of the user-mode-linux guest"))
struct KernelConfigurationTests {
    @Test("a pushed profile's kernel filters are set on the open socket: messages the installed profile filtered out decode, and the version applies")
    func pushedProfileChangesTheKernelFilters() throws {
        let interface = "vcan6"
        #expect(system("ip link add dev \(interface) type vcan && ip link set \(interface) up") == 0)
        defer { _ = system("ip link delete \(interface)") }
        let rig = try ConfigurationRig(vehicleID: "kconfig")
        defer { rig.cleanUp() }
        // Installed: the demo profile with every message the vehicle sends at another id, so the kernel filters
        // let none of them through. Pushed: the demo profile as it is, with one more rule.
        let installed = try rig.profile(version: 0, movedIDs: true)
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", installed, "--vehicle-id", rig.vehicleID, "--data-dir", rig.harness.dataDirectory,
                "--broker", rig.broker.url, "--reconnect-base", "0.05", "--reconnect-cap", "0.5",
                "--control-socket", rig.harness.controlSocket, "--can", "body=\(interface)",
                "--config-key", rig.keyPrefix + ".pub", "--config-trial", "1s",
            ],
            stderrPath: rig.harness.directory + "/axled-0.log")
        defer { agent.terminate(timeoutSeconds: 5) }
        let simulator = try ChildProcess(
            executable: AxleProcess.executable,
            arguments: [
                "simulate", "--dbc", AgentHarness.demoProfile + "/demo_sedan.dbc", "--profile", "demo-sedan",
                "--scenario", "city-drive", "--to", interface, "--speed", "1", "--duration", "120",
            ],
            stderrPath: rig.harness.directory + "/simulator.log")
        defer { simulator.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 20) { rig.harness.log().contains("connected to") }, "\(rig.harness.log())")
        #expect(rig.harness.signalValues()["Vehicle.Speed"] == nil, "decoded through filters that should not pass it")

        try rig.push(bundle: try rig.sign(try rig.profile(version: 1) { $0 + addedRule }, version: 1), version: 1)
        let report = rig.finalReport(version: 1, timeoutSeconds: 40)
        #expect(report?.last?.status == .applied, "\(String(describing: report)) \(rig.harness.log())")
        #expect(rig.harness.log().contains("kernel filters for profile demo-sedan"), "\(rig.harness.log())")
        #expect(waitUntil(timeoutSeconds: 10) { rig.harness.signalValues()["Vehicle.Speed"] != nil }, "\(rig.harness.log())")
        #expect(rig.ruleNames().contains("pushed-speed"))
        #expect(agent.isRunning)
    }
}
