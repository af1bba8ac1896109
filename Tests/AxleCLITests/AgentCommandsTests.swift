import AgentControl
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
        let agent = try AgentUnderTest()
        let result = try AxleProcess.run(["status", "--socket", agent.socket])
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
        #expect(out.contains("collection  5 of 6 rules enabled, 12 events triggered"))
        #expect(out.contains("outbox      1.3 MiB of 256 MiB, 129 records waiting, oldest 12m 34s, 43 dropped, 1 refused while full, 1 dead letter"))
        let telemetry = try #require(lines.first { $0.hasPrefix("telemetry ") })
        #expect(telemetry.split(separator: " ") == ["telemetry", "120", "93.8", "KiB", "12m", "34s", "40", "0"])
        #expect(out.contains("last errors, newest first:"))
        #expect(out.contains("  2025-12-31 23:59:50Z  uplink  connection lost: keepalive timeout"))
    }

    @Test("status --json prints the agent's report, which reads back into the same StatusReport")
    func statusJSON() throws {
        let agent = try AgentUnderTest()
        let result = try AxleProcess.run(["status", "--json", "--socket", agent.socket])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try StatusReport(json: JSONValue.parse(result.stdout)) == CLIFixtures.status)
    }

    @Test("signals shows value, label, unit and age per VSS name; FILTER narrows the list")
    func signals() throws {
        let agent = try AgentUnderTest()
        let all = try AxleProcess.run(["signals", "--socket", agent.socket])
        #expect(all.status == 0, "\(all.stderr)")
        let rows = all.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(rows == [
            "NAME VALUE UNIT AGE BUS SOURCE",
            "Vehicle.Speed 50.5 km/h 0.0s powertrain VehicleMotion.VehicleSpeed",
            "Vehicle.Powertrain.Transmission.SelectedGear 0 (P) 0.1s powertrain VehicleMotion.Gear",
            "Vehicle.Body.Lights.IsHighBeamOn - - body BodyStatus.HighBeam",
            "Vehicle.Body.Trunk.Rear.IsOpen 1 (Open) 4.5s body BodyStatus.TrunkOpen",
        ])
        let body = try AxleProcess.run(["signals", "vehicle.body.*", "--socket", agent.socket])
        #expect(body.stdout.split(separator: "\n").count == 3)
        #expect(!body.stdout.contains("Vehicle.Speed"))
        let none = try AxleProcess.run(["signals", "nothing", "--socket", agent.socket])
        #expect(none.status == 0)
        #expect(none.stdout == "no signal matches 'nothing'\n")
        let json = try AxleProcess.run(["signals", "speed", "--json", "--socket", agent.socket])
        #expect(try SignalsReport(json: JSONValue.parse(json.stdout)).signals == [CLIFixtures.signals.signals[0]])
    }

    @Test("signals --watch into a pipe prints one block per refresh, without terminal escapes")
    func watch() throws {
        let agent = try AgentUnderTest()
        let result = try AxleProcess.run(["signals", "speed", "--watch", "--interval", "0.1", "--count", "3", "--socket", agent.socket])
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
        let jsonLines = try AxleProcess.run(["signals", "--watch", "--json", "--interval", "0.1", "--count", "2", "--socket", agent.socket])
        let documents = jsonLines.stdout.split(separator: "\n")
        #expect(documents.count == 2)
        for document in documents { #expect(try SignalsReport(json: JSONValue.parse(String(document))) == CLIFixtures.signals) }
    }

    @Test("outbox shows size, classes and evicted ranges; --json says where it came from")
    func outbox() throws {
        let agent = try AgentUnderTest()
        let result = try AxleProcess.run(["outbox", "--socket", agent.socket])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("path           /var/lib/axle/outbox.db\nsize           1.3 MiB of 256 MiB (0%)\n"))
        #expect(result.stdout.contains("waiting        129 records, oldest 12m 34s"))
        #expect(result.stdout.contains("last sequence  18446744073709551615"))
        #expect(result.stdout.contains("intake         accepting"))
        #expect(result.stdout.contains("evicted or expired, newest last:"))
        let evicted = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("bulk ") && $0.contains("expired") })
        #expect(evicted.split(separator: " ") == ["bulk", "51", "53", "3", "expired", "2026-01-01", "00:01:00Z"])
        let json = try AxleProcess.run(["outbox", "--json", "--socket", agent.socket])
        let document = try JSONValue.parse(json.stdout)
        #expect(document["source"]?.stringValue == "agent")
        #expect(try OutboxReport(json: document) == CLIFixtures.outbox)
    }

    @Test("events lists the newest first, up to --limit")
    func events() throws {
        let agent = try AgentUnderTest()
        let result = try AxleProcess.run(["events", "--limit", "2", "--socket", agent.socket])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("TIME "))
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            == "2025-12-31 23:59:50Z harsh_braking alert 120 812 Vehicle.Acceleration.Longitudinal < -6")
        #expect(lines[2].contains("overspeed") && lines[2].contains(" - "))
        #expect(agent.agent.calls.withLock { $0 }.last == "events 2")
        let json = try AxleProcess.run(["events", "--json", "--socket", agent.socket])
        #expect(try EventsReport(json: JSONValue.parse(json.stdout)) == CLIFixtures.events)
        let bad = try AxleProcess.run(["events", "--limit", "0", "--socket", agent.socket])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--limit takes a number from 1 to 1000"))
    }

    @Test("rules lists the rules; root can switch one; an unknown rule is exit code 1 with the agent's message")
    func rules() throws {
        let agent = try AgentUnderTest()
        let list = try AxleProcess.run(["rules", "--socket", agent.socket])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            == ["RULE KIND ENABLED", "speed_1hz periodic yes", "harsh_braking event no"])
        let disable = try AxleProcess.run(["rules", "disable", "speed_1hz", "--socket", agent.socket])
        #expect(disable.status == 0, "\(disable.stderr)")
        #expect(disable.stdout == "rule speed_1hz is now disabled\n")
        let json = try AxleProcess.run(["rules", "--json", "--socket", agent.socket])
        #expect(try RulesReport(json: JSONValue.parse(json.stdout)).rules.map(\.enabled) == [false, false])
        let enable = try AxleProcess.run(["rules", "enable", "harsh_braking", "--json", "--socket", agent.socket])
        #expect(try RuleSummary(json: JSONValue.parse(enable.stdout)) == RuleSummary(name: "harsh_braking", kind: "event", enabled: true))
        let unknown = try AxleProcess.run(["rules", "enable", "no_such_rule", "--socket", agent.socket])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("there is no collection rule named 'no_such_rule'; 'axle rules' lists them"))
    }

    @Test("a caller the agent does not consider privileged is refused clearly, with exit code 1")
    func rulesRefused() throws {
        let agent = try AgentUnderTest(policy: ControlPolicy(privilegedUIDs: []))
        let result = try AxleProcess.run(["rules", "disable", "speed_1hz", "--socket", agent.socket])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'set-rule' changes what the agent does and is allowed for root only"))
        #expect(result.stderr.contains("sudo"))
        #expect(result.stdout.isEmpty)
        #expect(try AxleProcess.run(["rules", "--socket", agent.socket]).stdout.contains("speed_1hz      periodic  yes"))
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
        let agent = try AgentUnderTest()
        setenv("AXLE_SOCKET", agent.socket, 1)
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

/// The reports the fake agent answers with.
enum CLIFixtures {
    static let outbox = OutboxReport(
        path: "/var/lib/axle/outbox.db", databaseBytes: 1_327_104, capBytes: 268_435_456,
        classes: [
            .init(name: "critical", records: 0, bytes: 0, oldestAgeSeconds: nil, dropped: 0, refusedWhileFull: 0),
            .init(name: "alert", records: 2, bytes: 512, oldestAgeSeconds: 3.5, dropped: 0, refusedWhileFull: 1),
            .init(name: "telemetry", records: 120, bytes: 96_000, oldestAgeSeconds: 754.25, dropped: 40, refusedWhileFull: 0),
            .init(name: "bulk", records: 7, bytes: 70_000, oldestAgeSeconds: 12, dropped: 3, refusedWhileFull: 0),
        ],
        deadLetters: 1, lastSequence: 18_446_744_073_709_551_615, intakePaused: false,
        evictedRanges: [
            .init(className: "telemetry", first: 10, last: 49, count: 40, reason: "evicted", atMillis: 1_767_225_600_000),
            .init(className: "bulk", first: 51, last: 53, count: 3, reason: "expired", atMillis: 1_767_225_660_000),
        ])

    static let status = StatusReport(
        version: "0.1.0", profile: "demo-sedan", firmware: "2.3.1", vehicleID: "WDD1234567890", pid: 4242,
        uptimeSeconds: 11_723.5, dataDirectory: "/var/lib/axle",
        buses: [
            BusStatus(
                name: "powertrain", interface: "can0", state: .errorPassive, frames: 1_234_567, framesPerSecond: 812.4,
                loadPercent: 23.5, errors: 17),
            BusStatus(
                name: "body", interface: "simulator", state: .simulated, frames: 99, framesPerSecond: 10, loadPercent: nil,
                errors: 0),
        ],
        uplink: UplinkStatus(
            state: .connected, broker: "mqtts://broker.example.com:8883", sinceMillis: 1_767_225_000_000,
            published: 5000, acknowledged: 4996, inFlight: 4, lastError: "connection lost: keepalive timeout"),
        outbox: outbox,
        collection: CollectionStatus(rulesEnabled: 5, rulesTotal: 6, eventsTriggered: 12),
        lastErrors: [
            RecentError(timeMillis: 1_767_225_590_000, component: "uplink", message: "connection lost: keepalive timeout"),
            RecentError(timeMillis: 1_767_225_500_000, component: "can0", message: "controller entered error-passive"),
        ])

    static let signals = SignalsReport(signals: [
        SignalValue(
            name: "Vehicle.Speed", value: 50.5, label: nil, unit: "km/h", ageSeconds: 0.02, bus: "powertrain",
            source: "VehicleMotion.VehicleSpeed"),
        SignalValue(
            name: "Vehicle.Powertrain.Transmission.SelectedGear", value: 0, label: "P", unit: "", ageSeconds: 0.1,
            bus: "powertrain", source: "VehicleMotion.Gear"),
        SignalValue(
            name: "Vehicle.Body.Lights.IsHighBeamOn", value: nil, label: nil, unit: "", ageSeconds: nil, bus: "body",
            source: "BodyStatus.HighBeam"),
        SignalValue(
            name: "Vehicle.Body.Trunk.Rear.IsOpen", value: 1, label: "Open", unit: "", ageSeconds: 4.5, bus: "body",
            source: "BodyStatus.TrunkOpen"),
    ])

    static let events = EventsReport(events: [
        EventSummary(
            name: "harsh_braking", priority: "alert", timeMillis: 1_767_225_590_000,
            condition: "Vehicle.Acceleration.Longitudinal < -6", samples: 120, sequence: 812),
        EventSummary(
            name: "overspeed", priority: "telemetry", timeMillis: 1_767_225_500_000, condition: "Vehicle.Speed > 130",
            samples: 40, sequence: nil),
    ])

    static let rules = RulesReport(rules: [
        RuleSummary(name: "speed_1hz", kind: "periodic", enabled: true),
        RuleSummary(name: "harsh_braking", kind: "event", enabled: false),
    ])
}

/// Answers from `CLIFixtures`, with switchable rules, recording each call.
final class CLIFakeAgent: ControlHandler {
    let ruleState = Mutex(CLIFixtures.rules)
    let calls = Mutex<[String]>([])

    func status() throws -> StatusReport {
        calls.withLock { $0.append("status") }
        return CLIFixtures.status
    }

    func signals() throws -> SignalsReport {
        calls.withLock { $0.append("signals") }
        return CLIFixtures.signals
    }

    func outbox() throws -> OutboxReport {
        calls.withLock { $0.append("outbox") }
        return CLIFixtures.outbox
    }

    func events(limit: Int) throws -> EventsReport {
        calls.withLock { $0.append("events \(limit)") }
        return CLIFixtures.events
    }

    func rules() throws -> RulesReport {
        calls.withLock { $0.append("rules") }
        return ruleState.withLock { $0 }
    }

    func setRule(name: String, enabled: Bool) throws -> RuleSummary {
        try ruleState.withLock { state throws(ControlFailure) -> RuleSummary in
            guard let index = state.rules.firstIndex(where: { $0.name == name }) else {
                throw ControlFailure(.failed, "there is no collection rule named '\(name)'; 'axle rules' lists them")
            }
            state.rules[index].enabled = enabled
            return state.rules[index]
        }
    }
}

/// A control server in this process on a socket in a new temporary directory.
final class AgentUnderTest {
    let directory: String
    let socket: String
    let agent = CLIFakeAgent()
    let server: ControlServer

    init(policy: ControlPolicy = .standard) throws {
        directory = try AxleProcess.makeTemporaryDirectory()
        socket = directory + "/axled.sock"
        server = ControlServer(path: socket, group: nil, handler: agent, policy: policy)
        try server.start()
    }

    deinit {
        server.stop()
        _ = system("rm -rf " + AxleProcess.shellQuote(directory))
    }
}
