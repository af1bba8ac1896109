import AxleTestSupport
import Testing

/// A configuration file or profile nested far too deeply is a configuration error like any other: `axled` exits 1 with
/// the place and the limit. Both overflowed the agent's stack (exit 139) before the parsers limited nesting.
@Suite("axled refuses deep nesting")
struct DeepNestingTests {
    @Test("a configuration file with 10,000 nested inline tables: exit 1 with file:line:column, not a crash")
    func deepConfiguration() throws {
        let harness = try AgentHarness(vehicleID: "deep")
        defer { harness.cleanUp() }
        let config = try AxleProcess.writeFile(harness.directory + "/deep.toml", """
            profile = "\(AgentHarness.demoProfile)"

            [mqtt]
            broker = \(String(repeating: "{a = ", count: 10_000))1\(String(repeating: "}", count: 10_000))
            """)
        let agent = try ChildProcess(executable: AgentHarness.axled, arguments: ["--config", config], stderrPath: harness.directory + "/axled-0.log")
        #expect(agent.wait(timeoutSeconds: 10) == 1, "\(harness.log().prefix(500))")
        // [mqtt] is the first level, so the 32nd '{' opens the 33rd: "broker = " is 9 characters, then 5 per level.
        #expect(harness.log().contains("deep.toml:4:\(9 + 5 * 31 + 1): nesting deeper than 32 levels"), "\(harness.log().prefix(500))")
    }

    @Test("a profile whose condition has 10,000 nested '(': exit 1 with profile.toml:line and the character, not a crash")
    func deepCondition() throws {
        let harness = try AgentHarness(vehicleID: "deep")
        defer { harness.cleanUp() }
        let profile = harness.directory + "/demo-sedan"
        _ = try ChildProcess.run("/bin/mkdir", [profile])
        _ = try AxleProcess.writeFile(
            profile + "/demo_sedan.dbc", AxleProcess.readText(AgentHarness.demoProfile + "/demo_sedan.dbc"))
        let leaf = "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature > 110"
        let original = AxleProcess.readText(AgentHarness.demoProfile + "/profile.toml")
        let deep = String(repeating: "(", count: 10_000) + leaf + String(repeating: ")", count: 10_000)
        let edited = original.replacing("when = \"\(leaf)", with: "when = \"\(deep)", maxReplacements: 1)
        try #require(edited != original, "the demo profile no longer has the condition this test deepens")
        _ = try AxleProcess.writeFile(profile + "/profile.toml", edited)
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", profile, "--vehicle-id", harness.vehicleID, "--data-dir", harness.dataDirectory,
                "--simulate", "city-drive", "--control-socket", harness.controlSocket,
            ],
            stderrPath: harness.directory + "/axled-0.log")
        #expect(agent.wait(timeoutSeconds: 10) == 1, "\(harness.log().prefix(500))")
        #expect(harness.log().contains("profile.toml:172: error: in 'when' at character 33: nesting deeper than 32 levels"), "\(harness.log().prefix(500))")
    }
}
