import AxleAgent
import AxleBase
import AxleTestSupport
import ConfigBundle
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `[configuration]` of axled.toml, `--config-key` and `--config-trial` (docs/axled.md): a good section fills the
/// agent's configuration-update settings; each refused setting stops the real `axled` at start, reported where it was
/// written (file:line and key, or the flag) with what is allowed, as ConfigurationErrorTests checks for the others.
@Suite(.serialized)
struct ConfigurationUpdateSettingsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        /// The line under `[configuration]`, or nil for flags.
        var entry: String?
        var flags: [String] = []
        /// How the message names the setting.
        var name: String
        /// Part of the reason the message must give.
        var why: String
        var testDescription: String { entry ?? flags.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(entry: #"keys = ["missing.pub"]"#, name: "[configuration] keys", why: "cannot be used as a configuration key"),
        Case(entry: #"keys = "config.pub""#, name: "keys", why: "must be an array of strings"),
        Case(entry: #"trial = "0s""#, name: "[configuration] trial", why: "is not a duration from 1s to 1h"),
        Case(entry: #"trial = "2h""#, name: "[configuration] trial", why: "is not a duration from 1s to 1h"),
        Case(entry: #"allow-commands = ["trunk.open", ""]"#, name: "[configuration] allow-commands", why: "is not a command name"),
        Case(entry: #"allow-write-ids = [0x200, 0x20000000]"#, name: "[configuration] allow-write-ids", why: "is not a CAN id"),
        Case(entry: #"allow-write-ids = ["0x3F1"]"#, name: "allow-write-ids", why: "must be an integer, such as 0x22"),
        Case(entry: #"allow-diagnostic-services = [0x22, 0x62]"#, name: "[configuration] allow-diagnostic-services", why: "is not a diagnostic request service"),
        Case(entry: #"allow-services = [0x22]"#, name: "allow-services", why: "allow-diagnostic-services"),
        Case(flags: ["--config-key", "/nonexistent/config.pub"], name: "--config-key", why: "No such file or directory"),
        Case(flags: ["--config-trial", "0"], name: "--config-trial", why: "is not a duration from 1s to 1h"),
        Case(flags: ["--config-trial", "soon"], name: "--config-trial", why: "is not a duration from 1s to 1h"),
    ]

    /// Runs `axled` on the demo sedan with `arguments` added; returns its exit status and standard error.
    private func run(_ directory: String, _ arguments: [String]) throws -> (status: Int32?, stderr: String) {
        let all = [
            "--simulate", "city-drive", "--profile", AgentHarness.demoProfile, "--data-dir", directory + "/data",
            "--control-socket", directory + "/axled.sock",
        ] + arguments
        let agent = try ChildProcess(executable: AgentHarness.axled, arguments: all, stderrPath: directory + "/stderr")
        defer { agent.terminate(timeoutSeconds: 2) }
        let status = agent.wait(timeoutSeconds: 20)
        return (status, AxleProcess.readText(directory + "/stderr"))
    }

    @Test("a bad [configuration] setting or flag is reported at file:line with its key, or with its flag", arguments: cases)
    func aBadSettingIsReportedWhereItWasWritten(_ bad: Case) throws {
        let directory = try makeTestDirectory(prefix: "axle-config-updates")
        defer { removeTree(directory) }
        var arguments = bad.flags
        var place = bad.name
        if let entry = bad.entry {
            let config = try AxleProcess.writeFile(directory + "/axled.toml", "[configuration]\n" + entry + "\n")
            arguments += ["--config", config]
            place = "\(config):2"
        }
        let (status, stderr) = try run(directory, arguments)
        #expect(status == 1, "axled must refuse to start: \(stderr)")
        let reported = stderr.split(separator: "\n").first { $0.hasPrefix("<3>axled: \(place): error: ") && $0.contains(bad.name) }
        #expect(reported?.contains(bad.why) == true, "expected a line '\(place): error: … \(bad.name) … \(bad.why)':\n\(stderr)")
    }

    @Test("a good [configuration] fills the settings: keys beside the file, the trial, the allow-list with 29-bit ids flagged")
    func aGoodSectionIsRead() throws {
        let directory = try makeTestDirectory(prefix: "axle-config-updates")
        defer { removeTree(directory) }
        try ConfigurationSigningKey.generate(keyID: "config-2026").write(prefix: directory + "/config-2026")
        let config = try AxleProcess.writeFile(directory + "/axled.toml", """
            profile = "\(AgentHarness.demoProfile)"
            [configuration]
            keys = ["config-2026.pub"]
            trial = "45s"
            allow-commands = ["trunk.open", "doors.lock"]
            allow-write-ids = [0x200, 513, 0x18DA10F1]
            allow-diagnostic-services = [0x01, 0x22]
            """)
        var settings = AgentSettings()
        try settings.apply(configFile: config)
        settings.source = .simulate(scenario: "city-drive", speed: 1, duration: nil)
        let updates = try settings.resolve().configurationUpdates
        #expect(updates.keyFiles == [directory + "/config-2026.pub"])
        #expect(updates.trialSeconds == 45)
        #expect(updates.allowedCommands == ["trunk.open", "doors.lock"])
        #expect(updates.allowedWriteIDs == [0x200, 0x201, 0x98DA_10F1])
        #expect(updates.allowedDiagnosticServices == [0x01, 0x22])

        // Without the section: no keys, a trial of 30 s, and the installed profile's lists (nil).
        var plain = AgentSettings()
        plain.profile = AgentHarness.demoProfile
        plain.source = .simulate(scenario: "city-drive", speed: 1, duration: nil)
        #expect(try plain.resolve().configurationUpdates == ConfigurationUpdateSettings())
    }

    @Test("a command key, a loose key, and one key id trusted for both roles: each refused at its place")
    func keyRoles() throws {
        let directory = try makeTestDirectory(prefix: "axle-config-updates")
        defer { removeTree(directory) }
        try CommandSigningKey.generate(keyID: "ops").write(prefix: directory + "/ops")
        try ConfigurationSigningKey.generate(keyID: "ops").write(prefix: directory + "/ops-config")
        try ConfigurationSigningKey.generate(keyID: "loose").write(prefix: directory + "/loose")
        #expect(chmod(directory + "/loose.pub", 0o666) == 0)
        let config = try AxleProcess.writeFile(directory + "/axled.toml", """
            [commands]
            trust-keys = ["ops.pub"]

            [configuration]
            keys = [
                "ops.pub",
                "ops-config.pub",
                "loose.pub",
            ]
            """)
        let (status, stderr) = try run(directory, ["--config", config])
        #expect(status == 1, "\(stderr)")
        // The command key in the configuration role: the wrong kind of key file.
        #expect(stderr.contains("<3>axled: \(config):6: error: [configuration] keys = \"ops.pub\" cannot be used as a configuration key: \(directory)/ops.pub: this is a command public key, not a configuration public key"), "\(stderr)")
        // A configuration key whose id the command role trusts: both places named.
        #expect(stderr.contains("<3>axled: \(config):7: error: [configuration] keys = \"ops-config.pub\" holds the key id \"ops\", which is also trusted for remote commands by [commands] trust-keys at \(config):2"), "\(stderr)")
        // Writable by others: anyone could replace it.
        #expect(stderr.contains("<3>axled: \(config):8: error: [configuration] keys = \"loose.pub\" cannot be used as a configuration key"), "\(stderr)")
    }
}
