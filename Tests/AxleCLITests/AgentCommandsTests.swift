import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import Outbox
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: the built `axle` binary against a control server in this process, answering from a fake agent.
/// Serialized because one test sets AXLE_SOCKET for the child processes.
@Suite("axle status, signals, outbox, events, rules", .serialized)
struct AgentCommandsTests {
    @Test("status prints a compact summary: agent, buses, uplink, collection, outbox classes, last errors")
    func statusTable() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["status", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let out = result.stdout
        #expect(out.hasPrefix("axled 0.1.0 (pid 4242), up 3h 15m\n"))
        #expect(out.contains("profile     demo-sedan (firmware 2.3.1), vehicle WDD1234567890"))
        let lines = out.split(separator: "\n").map(String.init)
        let busHeader = try #require(lines.firstIndex { $0.hasPrefix("BUS ") })
        #expect(lines[busHeader + 1].split(separator: " ", omittingEmptySubsequences: true)
            == ["powertrain", "can0", "error-passive", "1234567", "812", "24%", "17"])
        #expect(lines[busHeader + 2].split(separator: " ", omittingEmptySubsequences: true)
            == ["body", "simulator", "simulated", "99", "10", "-", "0"])
        #expect(out.contains("uplink      connected to mqtts://broker.example.com:8883 since 2025-12-31 23:50:00Z; 5000 published, 4996 acknowledged, 4 in flight"))
        #expect(out.contains("last error: connection lost: keepalive timeout"))
        #expect(out.contains("collection  5 of 6 rules and 2 of 3 events enabled, 12 events triggered"))
        #expect(out.contains("location    no fix, 3 of 11 satellites; last position 48.137154, 11.576124, 519 m (43s ago) from gpsd 127.0.0.1:2947\n"), "\(out)")
        #expect(out.contains("outbox      1.3 MiB of 256 MiB, 129 records waiting, oldest 12m 34s, 43 dropped, 1 refused while full, 1 dead letter"))
        let telemetry = try #require(lines.first { $0.hasPrefix("telemetry ") })
        #expect(telemetry.split(separator: " ") == ["telemetry", "120", "93.8", "KiB", "12m", "34s", "40", "0"])
        #expect(out.contains("last errors, newest first:"))
        #expect(out.contains("  2025-12-31 23:59:50Z  uplink  connection lost: keepalive timeout"))
    }

    @Test("status --json prints the agent's report, which reads back into the same StatusReport")
    func statusJSON() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["status", "--json", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try StatusReport(json: JSONValue.parse(result.stdout)) == Fixtures.status)
    }

    @Test("signals shows value, label, unit and age per VSS name; FILTER narrows the list")
    func signals() throws {
        let agent = try RunningServer()
        let all = try AxleProcess.run(["signals", "--socket", agent.path])
        #expect(all.status == 0, "\(all.stderr)")
        let rows = all.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(rows == [
            "NAME VALUE UNIT AGE BUS SOURCE",
            "Vehicle.Speed 50.5 km/h 0.0s powertrain VehicleMotion.VehicleSpeed",
            "Vehicle.Powertrain.Transmission.SelectedGear 0 (P) 0.1s powertrain VehicleMotion.Gear",
            "Vehicle.Body.Lights.IsHighBeamOn - - body BodyStatus.HighBeam",
            "Vehicle.Body.Trunk.Rear.IsOpen 1 (Open) 4.5s body BodyStatus.TrunkOpen",
        ])
        let body = try AxleProcess.run(["signals", "vehicle.body.*", "--socket", agent.path])
        #expect(body.stdout.split(separator: "\n").count == 3)
        #expect(!body.stdout.contains("Vehicle.Speed"))
        let none = try AxleProcess.run(["signals", "nothing", "--socket", agent.path])
        #expect(none.status == 0)
        #expect(none.stdout == "no signal matches 'nothing'\n")
        let json = try AxleProcess.run(["signals", "speed", "--json", "--socket", agent.path])
        #expect(try SignalsReport(json: JSONValue.parse(json.stdout)).signals == [Fixtures.signals.signals[0]])
    }

    @Test("signals --watch into a pipe prints one block per refresh, without terminal escapes")
    func watch() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["signals", "speed", "--watch", "--interval", "0.1", "--count", "3", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let blocks = result.stdout.split(separator: "\n\n")
        #expect(blocks.count == 3)
        for block in blocks {
            let lines = block.split(separator: "\n")
            #expect(lines[0].hasPrefix("axle signals speed at "))
            #expect(lines[0].hasSuffix(", every 0.1s"))
            #expect(lines[2].hasPrefix("Vehicle.Speed "))
        }
        #expect(!result.stdout.contains("\u{1B}"))
        #expect(agent.agent.calls.withLock { $0 }.filter { $0 == "signals" }.count == 3)
        let jsonLines = try AxleProcess.run(["signals", "--watch", "--json", "--interval", "0.1", "--count", "2", "--socket", agent.path])
        let documents = jsonLines.stdout.split(separator: "\n")
        #expect(documents.count == 2)
        for document in documents { #expect(try SignalsReport(json: JSONValue.parse(String(document))) == Fixtures.signals) }
    }

    @Test("outbox shows size, classes and evicted ranges; --json says where it came from")
    func outbox() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["outbox", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("path           /var/lib/axle/outbox.db\nsize           1.3 MiB of 256 MiB (0%)\n"))
        #expect(result.stdout.contains("waiting        129 records, oldest 12m 34s"))
        #expect(result.stdout.contains("last sequence  18446744073709551615"))
        #expect(result.stdout.contains("intake         accepting"))
        #expect(result.stdout.contains("evicted or expired, newest last:"))
        let evicted = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("bulk ") && $0.contains("expired") })
        #expect(evicted.split(separator: " ") == ["bulk", "51", "53", "3", "expired", "2026-01-01", "00:01:00Z"])
        let json = try AxleProcess.run(["outbox", "--json", "--socket", agent.path])
        let document = try JSONValue.parse(json.stdout)
        #expect(document["source"]?.stringValue == "agent")
        #expect(try OutboxReport(json: document) == Fixtures.outbox)
    }

    @Test("events lists the newest first, up to --limit")
    func events() throws {
        let agent = try RunningServer()
        let result = try AxleProcess.run(["events", "--limit", "2", "--socket", agent.path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("TIME "))
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            == "2025-12-31 23:59:50Z harsh_braking alert 120 812 Vehicle.Acceleration.Longitudinal < -6")
        #expect(lines[2].contains("overspeed") && lines[2].contains(" - "))
        #expect(agent.agent.calls.withLock { $0 }.last == "events 2")
        let json = try AxleProcess.run(["events", "--json", "--socket", agent.path])
        #expect(try EventsReport(json: JSONValue.parse(json.stdout)) == Fixtures.events)
        let bad = try AxleProcess.run(["events", "--limit", "0", "--socket", agent.path])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--limit takes a number from 1 to 1000"))
    }

    @Test("rules lists the rules; root can switch one; an unknown rule is exit code 1 with the agent's message")
    func rules() throws {
        let agent = try RunningServer()
        let list = try AxleProcess.run(["rules", "--socket", agent.path])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            == ["RULE KIND ENABLED", "speed_1hz periodic yes", "gear_changes on-change yes", "harsh_braking event no"])
        let disable = try AxleProcess.run(["rules", "disable", "speed_1hz", "--socket", agent.path])
        #expect(disable.status == 0, "\(disable.stderr)")
        #expect(disable.stdout == "rule speed_1hz is now disabled\n")
        let json = try AxleProcess.run(["rules", "--json", "--socket", agent.path])
        #expect(try RulesReport(json: JSONValue.parse(json.stdout)).rules.map(\.enabled) == [false, true, false])
        let enable = try AxleProcess.run(["rules", "enable", "harsh_braking", "--json", "--socket", agent.path])
        #expect(try RuleSummary(json: JSONValue.parse(enable.stdout)) == RuleSummary(name: "harsh_braking", kind: "event", enabled: true))
        let unknown = try AxleProcess.run(["rules", "enable", "no_such_rule", "--socket", agent.path])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("there is no collection rule named 'no_such_rule'; 'axle rules' lists them"))
    }

    @Test("a caller the agent does not consider privileged is refused clearly, with exit code 1")
    func rulesRefused() throws {
        let agent = try RunningServer(policy: ControlPolicy(privilegedUIDs: []))
        let result = try AxleProcess.run(["rules", "disable", "speed_1hz", "--socket", agent.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'set-rule' changes what the agent does and is allowed for root only"))
        #expect(result.stderr.contains("sudo"))
        #expect(result.stdout.isEmpty)
        #expect(try AxleProcess.run(["rules", "--socket", agent.path]).stdout.contains("speed_1hz      periodic   yes"))
    }

    @Test("with the agent down, every command says so plainly and exits with 3")
    func agentDown() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let socket = directory + "/axled.sock"
        let message = "axled is not running (nothing listens on \(socket)); start it with 'systemctl start axled'\n"
        for arguments in [["signals"], ["events"], ["rules"], ["rules", "enable", "x"], ["signals", "--watch"]] {
            let result = try AxleProcess.run(arguments + ["--socket", socket])
            #expect(result.status == 3, "\(arguments)")
            #expect(result.stderr == message, "\(arguments)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
        // No outbox file in the data directory either: both problems are reported.
        let status = try AxleProcess.run(["status", "--socket", socket, "--data-dir", directory])
        #expect(status.status == 3)
        #expect(status.stderr.hasPrefix(message))
        #expect(status.stderr.contains("cannot read the outbox database either: outbox \(directory)/outbox.db: there is no outbox database here"))
    }

    @Test("with the agent down, status and outbox read the outbox database read-only, and say so")
    func fallbackToFile() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let database = directory + "/outbox.db"
        let store = try OutboxStore(configuration: OutboxConfiguration(path: database, capBytes: 1 << 20))
        let now = wallClockMillis()
        try store.append((0..<5).map { index in
            RecordDraft(
                priority: index == 0 ? .critical : .telemetry, createdAtMillis: now - 90_000, expiresAtMillis: nil,
                topic: "t", qos: 1, payload: { _ in [UInt8](repeating: 1, count: 100) })
        })
        store.close()
        let before = AxleProcess.readText(database)
        let socket = directory + "/axled.sock"

        let outbox = try AxleProcess.run(["outbox", "--socket", socket, "--data-dir", directory])
        #expect(outbox.status == 3)
        #expect(outbox.stderr.hasPrefix("axled is not running (nothing listens on \(socket))"))
        #expect(outbox.stdout.hasPrefix("read from \(database) (the agent is not running)\npath           \(database)\n"))
        #expect(outbox.stdout.contains(" of 1 MiB ("))
        #expect(outbox.stdout.contains("waiting        5 records, oldest 1m 3"))
        let telemetry = try #require(outbox.stdout.split(separator: "\n").first { $0.hasPrefix("telemetry ") })
        #expect(telemetry.split(separator: " ").prefix(3) == ["telemetry", "4", "400"])

        let json = try AxleProcess.run(["outbox", "--json", "--socket", socket, "--data-dir", directory])
        #expect(json.status == 3)
        let document = try JSONValue.parse(json.stdout)
        #expect(document["source"]?.stringValue == "file")
        let report = try OutboxReport(json: document)
        #expect(report.totalRecords == 5)
        #expect(report.lastSequence == 5)

        let status = try AxleProcess.run(["status", "--socket", socket, "--data-dir", directory])
        #expect(status.status == 3)
        #expect(status.stdout.hasPrefix("outbox, read from \(database) (the agent is not running):\n"))
        #expect(status.stdout.contains("5 records waiting"))
        let statusJSON = try JSONValue.parse(try AxleProcess.run(["status", "--json", "--socket", socket, "--data-dir", directory]).stdout)
        #expect(statusJSON["agent"]?.stringValue == "not-running")
        #expect(try OutboxReport(json: statusJSON["outbox"] ?? .null).totalRecords == 5)
        #expect(AxleProcess.readText(database) == before, "reading does not write the database")
    }

    @Test("without --socket, $AXLE_SOCKET names the socket")
    func socketFromEnvironment() throws {
        let agent = try RunningServer()
        setenv("AXLE_SOCKET", agent.path, 1)
        defer { unsetenv("AXLE_SOCKET") }
        let result = try AxleProcess.run(["rules"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("harsh_braking"))
    }

    @Test("help documents the exit codes and the default socket")
    func help() throws {
        let result = try AxleProcess.run(["status", "--help"])
        // Help is wrapped to the terminal's width: compare with the line breaks taken out.
        let text = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(text.contains("0 success; 1 failure"))
        #expect(text.contains("3 the agent is not running"))
        #expect(text.contains("64 the command line is wrong"))
        #expect(text.contains("$AXLE_SOCKET, else /run/axle/axled.sock"))
    }
}
