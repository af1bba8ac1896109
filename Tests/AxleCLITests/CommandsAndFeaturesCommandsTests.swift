import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: the built `axle` binary's `features` and `commands` against a control server in this process.
@Suite("axle features, commands")
struct CommandsAndFeaturesCommandsTests {
    /// A line with each run of spaces made one: the cells, whatever the column widths.
    private func cells(_ line: some StringProtocol) -> String {
        line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// Where `column` starts in `line`, in characters.
    private func offset(of column: String, in line: some StringProtocol) -> Int? {
        let line = String(line)
        return line.firstRange(of: column).map { line.distance(from: line.startIndex, to: $0.lowerBound) }
    }

    @Test("features prints one aligned row per entitlement: state, validity in UTC, time active, granting command")
    func featuresTable() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["features", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.map(cells) == [
            "FEATURE STATE VALID-FROM VALID-UNTIL ACTIVE COMMAND",
            "performance-boost active 2026-01-01 00:00:00Z 2026-01-02 00:00:00Z 1h 2m 3f2a9c1e",
            "heated-seats active - - 1d 2h a1b2c3d4",
            "track-mode pending 2026-01-03 00:00:00Z 2026-01-03 01:00:00Z 0.0s b2c3d4e5",
            "launch-control expired 2025-12-31 00:00:00Z 2025-12-31 00:00:10Z 10s c3d4e5f6",
            "remote-start revoked 2025-12-30 00:00:00Z - 12m 34s d4e5f6a7",
        ])
        // Columns line up: each row's state and command start where their headings do.
        let header = try #require(lines.first)
        for (row, feature) in zip(lines.dropFirst(), Fixtures.features.features) {
            #expect(offset(of: " " + feature.state + " ", in: row).map { $0 + 1 } == offset(of: "STATE", in: header))
            #expect(offset(of: String(feature.commandID.prefix(8)), in: row) == offset(of: "COMMAND", in: header))
        }
    }

    @Test("features --json prints the agent's report, which reads back into the same FeaturesReport")
    func featuresJSON() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["features", "--json", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FeaturesReport(json: JSONValue.parse(result.stdout)) == Fixtures.features)
    }

    @Test("with no entitlements, features says so, and --json gives an empty list")
    func noFeatures() throws {
        let agent = try RunningServer(agent: FakeAgent(features: FeaturesReport(features: [])))
        let result = try AxleProcess.run(["features", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "no feature entitlements\n")
        let json = try AxleProcess.run(["features", "--json", "--socket", agent.path])
        #expect(try FeaturesReport(json: JSONValue.parse(json.stdout)).features.isEmpty)
    }

    @Test("commands lists the newest first, with the explanation indented under each one that did not succeed")
    func commandsTable() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["commands", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.map(cells) == [
            "RECEIVED ID NAME STATUS REASON",
            "2025-12-31 23:59:55Z 9e8d7c6b climate.precondition IN_PROGRESS -",
            "2025-12-31 23:59:50Z 0f1e2d3c trunk.open REJECTED precondition_failed",
            "Vehicle.Speed is 12 km/h; trunk.open needs 0",
            "2025-12-31 23:58:20Z 11112222 trunk.open SUCCEEDED -",
            "2025-12-31 23:56:40Z aaaabbbb charging.start FAILED can_send_failed",
            "cannot send on can0: Network is down",
            "2025-12-31 23:55:00Z 22223333 doors.lock TIMED_OUT no_feedback",
            "BodyStatus.DoorsLocked did not report 1 within 2 s",
            "2025-12-31 23:53:20Z 33334444 doors.unlock INTERRUPTED agent_restarted",
        ])
        // The explanation starts under the ID column; the rows themselves start at the left edge.
        let idColumn = try #require(offset(of: "ID", in: lines[lines.startIndex]))
        #expect(idColumn == "2025-12-31 23:59:55Z  ".count)
        let explanation = lines[lines.startIndex + 3]
        #expect(explanation == String(repeating: " ", count: idColumn) + "Vehicle.Speed is 12 km/h; trunk.open needs 0")
        #expect(offset(of: "0f1e2d3c", in: lines[lines.startIndex + 2]) == idColumn)
        #expect(agent.agent.calls.withLock { $0 } == ["commands 20"], "the default limit is 20")
    }

    @Test("commands --limit asks for that many and shows no more; --json reads back; a bad limit is a usage error")
    func commandsLimitAndJSON() throws {
        let agent = try RunningServer()
        let two = try AxleProcess.run(["commands", "--limit", "2", "--socket", agent.path])
        #expect(two.status == 0, "\(two.stderr)")
        #expect(two.stdout.split(separator: "\n").map(cells) == [
            "RECEIVED ID NAME STATUS REASON",
            "2025-12-31 23:59:55Z 9e8d7c6b climate.precondition IN_PROGRESS -",
            "2025-12-31 23:59:50Z 0f1e2d3c trunk.open REJECTED precondition_failed",
            "Vehicle.Speed is 12 km/h; trunk.open needs 0",
        ])
        #expect(agent.agent.calls.withLock { $0 }.last == "commands 2")
        let json = try AxleProcess.run(["commands", "--json", "--socket", agent.path])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(try CommandsReport(json: JSONValue.parse(json.stdout)) == Fixtures.commands)
        for limit in ["0", "1001"] {
            let bad = try AxleProcess.run(["commands", "--limit", limit, "--socket", agent.path])
            #expect(bad.status == 64, "--limit \(limit)")
            #expect(bad.stderr.contains("--limit takes a number from 1 to 1000"), "--limit \(limit)")
        }
    }

    @Test("with no commands journaled, commands says so")
    func noCommands() throws {
        let agent = try RunningServer(agent: FakeAgent(commands: CommandsReport(commands: [])))
        let result = try AxleProcess.run(["commands", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "no remote commands received yet\n")
    }

    @Test("what a sender put in a rejected command cannot drive the terminal: control characters are shown escaped")
    func hostileText() throws {
        let hostile = CommandSummary(
            id: "\u{1B}[2J\u{1B}]0;x\u{07}", name: "trunk.open\u{1B}[31m", status: "REJECTED", reason: "bad_signature",
            text: "line one\nline two \u{202E}txt.exe", receivedMillis: 1_767_225_600_000,
            updatedMillis: 1_767_225_600_000, keyID: "unknown")
        let agent = try RunningServer(agent: FakeAgent(commands: CommandsReport(commands: [hostile])))
        let result = try AxleProcess.run(["commands", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" })
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3, "the text's newline does not start a line of its own")
        #expect(lines[1].contains(#"trunk.open\x1b[31m"#))
        #expect(lines[1].contains(#"\x1b[2J\x1b"#), "the id is cut to 8 characters before escaping")
        #expect(lines[2].hasSuffix(#"line one\nline two \u{202E}txt.exe"#))
        // --json keeps the values exactly: JSON escapes control characters itself.
        let json = try AxleProcess.run(["commands", "--json", "--socket", agent.path])
        #expect(!json.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" })
        #expect(try CommandsReport(json: JSONValue.parse(json.stdout)).commands == [hostile])
    }

    @Test("an agent older than remote commands is named as the problem, with exit code 1")
    func olderAgent() throws {
        let older = FakeAgent(failure: ControlFailure(
            .unknownRequest, "unknown request 'x'; this agent knows status, signals, outbox, events, rules and set-rule"))
        let agent = try RunningServer(agent: older)
        for command in ["features", "commands"] {
            let result = try AxleProcess.run([command, "--socket", agent.path])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.hasPrefix("Error: the agent does not know '\(command)': it is older than this axle ("), "\(command)")
            #expect(result.stderr.contains("update axled"), "\(command)")
            #expect(result.stdout.isEmpty, "\(command)")
        }
    }

    @Test("with the agent down, both commands say so plainly and exit with 3")
    func agentDown() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let socket = directory + "/axled.sock"
        for arguments in [["features"], ["commands"], ["commands", "--json", "--limit", "5"]] {
            let result = try AxleProcess.run(arguments + ["--socket", socket])
            #expect(result.status == 3, "\(arguments)")
            #expect(result.stderr == "axled is not running (nothing listens on \(socket)); start it with 'systemctl start axled'\n",
                "\(arguments)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
    }

    @Test("axle --help lists both commands, and their help documents the exit codes")
    func help() throws {
        func words(_ text: String) -> String {
            // Help is wrapped to the terminal's width: compare with the line breaks taken out.
            text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        }
        let top = try AxleProcess.run(["--help"])
        #expect(top.stdout.contains("\n  features "))
        #expect(top.stdout.contains("\n  commands "))
        for command in ["features", "commands"] {
            let help = words(try AxleProcess.run([command, "--help"]).stdout)
            #expect(help.contains("3 the agent is not running"), "\(command)")
            #expect(help.contains("$AXLE_SOCKET, else /run/axle/axled.sock"), "\(command)")
        }
    }
}
