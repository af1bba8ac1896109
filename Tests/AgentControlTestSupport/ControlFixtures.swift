import AgentControl
import AxleBase
import AxleTestSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reports with every field set, and some optional ones empty, for round trips, the fake agent and the CLI tests.
public enum Fixtures {
    public static let outbox = OutboxReport(
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

    public static let status = StatusReport(
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
        collection: CollectionStatus(rulesEnabled: 5, rulesTotal: 6, eventsEnabled: 2, eventsTotal: 3, eventsTriggered: 12),
        lastErrors: [
            RecentError(timeMillis: 1_767_225_590_000, component: "uplink", message: "connection lost: keepalive timeout"),
            RecentError(timeMillis: 1_767_225_500_000, component: "can0", message: "controller entered error-passive"),
        ],
        // The receiver lost its fix 42 s ago: the last good position stays, with its age and the receiver's own time.
        location: LocationReport(
            gpsd: "127.0.0.1:2947", connected: true, receiver: "/dev/ttyACM0", mode: 1, satellitesUsed: 3,
            satellitesSeen: 11,
            lastFix: LocationReport.Fix(
                latitude: 48.137154, longitude: 11.576124, altitude: 519.25, mode: 3, gpsTime: "2029-07-21T13:56:51.997Z",
                ageSeconds: 42.5),
            connections: 2, skippedLines: 1))

    /// A configuration report as the agent publishes it (docs/configuration.md, "The state report"): version 2 runs,
    /// version 3 was rolled back. Written out here because this target does not import ConfigBundle.
    public static let configuration: JSONValue = .object([
        ("active", .object([("version", 2), ("profile", "demo-sedan"), ("bundle_sha256", .string(String(repeating: "3fa2c1d0", count: 8)))])),
        ("previous", .object([("version", 0), ("profile", "demo-sedan")])),
        ("last", .object([
            ("version", 3), ("bundle_sha256", .string(String(repeating: "9c1e77ab", count: 8))), ("status", "ROLLED_BACK"),
            ("reason", "health_check_failed"), ("text", "no frame decoded on body for 30 s"),
        ])),
        ("high_water_mark", 3), ("at_ms", 1_767_225_600_000),
    ])

    public static let signals = SignalsReport(signals: [
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

    public static let events = EventsReport(events: [
        EventSummary(
            name: "harsh_braking", priority: "alert", timeMillis: 1_767_225_590_000,
            condition: "Vehicle.Acceleration.Longitudinal < -6", samples: 120, sequence: 812),
        EventSummary(
            name: "overspeed", priority: "telemetry", timeMillis: 1_767_225_500_000, condition: "Vehicle.Speed > 130",
            samples: 40, sequence: nil),
        EventSummary(
            name: "door_open_moving", priority: "critical", timeMillis: 1_767_225_400_000,
            condition: "Vehicle.Speed > 5 and Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", samples: 3, sequence: 700),
    ])

    public static let rules = RulesReport(rules: [
        RuleSummary(name: "speed_1hz", kind: "periodic", enabled: true),
        RuleSummary(name: "gear_changes", kind: "on-change", enabled: true),
        RuleSummary(name: "harsh_braking", kind: "event", enabled: false),
    ])

    /// One entitlement in each state; one active without an end.
    public static let features = FeaturesReport(features: [
        FeatureSummary(
            feature: "performance-boost", state: "active", validFromMillis: 1_767_225_600_000,
            validUntilMillis: 1_767_312_000_000, activeSeconds: 3_723, commandID: "3f2a9c1e-7b4d-4e8a-9c0f-1d2e3f4a5b6c"),
        FeatureSummary(
            feature: "heated-seats", state: "active", validFromMillis: nil, validUntilMillis: nil, activeSeconds: 93_600.5,
            commandID: "a1b2c3d4-0000-4000-8000-000000000001"),
        FeatureSummary(
            feature: "track-mode", state: "pending", validFromMillis: 1_767_398_400_000,
            validUntilMillis: 1_767_402_000_000, activeSeconds: 0, commandID: "b2c3d4e5-0000-4000-8000-000000000002"),
        FeatureSummary(
            feature: "launch-control", state: "expired", validFromMillis: 1_767_139_200_000,
            validUntilMillis: 1_767_139_210_000, activeSeconds: 10, commandID: "c3d4e5f6-0000-4000-8000-000000000003"),
        FeatureSummary(
            feature: "remote-start", state: "revoked", validFromMillis: 1_767_052_800_000, validUntilMillis: nil,
            activeSeconds: 754.25, commandID: "d4e5f6a7-0000-4000-8000-000000000004"),
    ])

    /// Commands newest first: one success, a rejection, a failure, a timeout, one interrupted by a crash, one running.
    public static let commands = CommandsReport(commands: [
        CommandSummary(
            id: "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", name: "climate.precondition", status: "IN_PROGRESS", reason: nil,
            text: nil, receivedMillis: 1_767_225_595_000, updatedMillis: 1_767_225_595_010, keyID: "backend-2026"),
        CommandSummary(
            id: "0f1e2d3c-4b5a-4697-8877-665544332211", name: "trunk.open", status: "REJECTED",
            reason: "precondition_failed", text: "Vehicle.Speed is 12 km/h; trunk.open needs 0",
            receivedMillis: 1_767_225_590_000, updatedMillis: 1_767_225_590_001, keyID: "backend-2026"),
        CommandSummary(
            id: "11112222-3333-4444-5555-666677778888", name: "trunk.open", status: "SUCCEEDED", reason: nil,
            text: "BodyStatus.TrunkOpen reported Open after 450 ms", receivedMillis: 1_767_225_500_000, updatedMillis: 1_767_225_500_450, keyID: "backend-2026"),
        CommandSummary(
            id: "aaaabbbb-cccc-4ddd-8eee-ffff00001111", name: "charging.start", status: "FAILED", reason: "can_send_failed",
            text: "cannot send on can0: Network is down", receivedMillis: 1_767_225_400_000,
            updatedMillis: 1_767_225_400_020, keyID: "backend-2025"),
        CommandSummary(
            id: "22223333-4444-4555-8666-777788889999", name: "doors.lock", status: "TIMED_OUT", reason: "no_feedback",
            text: "BodyStatus.DoorsLocked did not report 1 within 2 s", receivedMillis: 1_767_225_300_000,
            updatedMillis: 1_767_225_302_000, keyID: "backend-2025"),
        CommandSummary(
            id: "33334444-5555-4666-8777-88889999aaaa", name: "doors.unlock", status: "INTERRUPTED", reason: "agent_restarted",
            text: nil, receivedMillis: 1_767_225_200_000, updatedMillis: 1_767_225_260_000, keyID: "backend-2025"),
    ])
}

/// An agent in miniature: answers from the fixtures (or the features and commands it is given); rules can be
/// switched; a handler call can be made to fail.
public final class FakeAgent: ControlHandler {
    public let ruleState = Mutex(Fixtures.rules)
    public let calls = Mutex<[String]>([])
    let failure: (any Error & Sendable)?
    let featuresReport: FeaturesReport
    let commandsReport: CommandsReport
    /// The configuration report `config` answers and `status` carries; nil: none yet.
    let configurationReport: JSONValue?

    public init(
        failure: (any Error & Sendable)? = nil, features: FeaturesReport = Fixtures.features,
        commands: CommandsReport = Fixtures.commands, configuration: JSONValue? = nil
    ) {
        self.failure = failure
        self.featuresReport = features
        self.commandsReport = commands
        self.configurationReport = configuration
    }

    private func called(_ name: String) throws {
        calls.withLock { $0.append(name) }
        if let failure { throw failure }
    }

    public func status() throws -> StatusReport {
        try called("status")
        var status = Fixtures.status
        status.configuration = configurationReport
        return status
    }

    public func configurationState() throws -> ConfigurationState {
        try called("config")
        return ConfigurationState(report: configurationReport)
    }

    public func signals() throws -> SignalsReport {
        try called("signals")
        return Fixtures.signals
    }

    public func outbox() throws -> OutboxReport {
        try called("outbox")
        return Fixtures.outbox
    }

    public func events(limit: Int) throws -> EventsReport {
        try called("events \(limit)")
        // Deliberately ignores the limit: the server must cut the list itself.
        return Fixtures.events
    }

    public func rules() throws -> RulesReport {
        try called("rules")
        return ruleState.withLock { $0 }
    }

    public func setRule(name: String, enabled: Bool) throws -> RuleSummary {
        try called("set-rule \(name) \(enabled)")
        return try ruleState.withLock { state throws(ControlFailure) -> RuleSummary in
            guard let index = state.rules.firstIndex(where: { $0.name == name }) else {
                throw ControlFailure(.failed, "there is no collection rule named '\(name)'; 'axle rules' lists them")
            }
            state.rules[index].enabled = enabled
            return state.rules[index]
        }
    }

    public func features() throws -> FeaturesReport {
        try called("features")
        return featuresReport
    }

    public func commands(limit: Int) throws -> CommandsReport {
        try called("commands \(limit)")
        // Deliberately ignores the limit, like `events`: the server must cut the list itself.
        return commandsReport
    }

    /// Released by a test that wants `diagnostic` to wait (an ECU that is slow to answer) until it says so.
    public let diagnosticRelease = StopToken()
    /// Whether `diagnostic` waits for `diagnosticRelease`.
    public let diagnosticsWait = Mutex(false)

    /// An ECU that answers every request positively with its service byte + 0x40 and the rest echoed.
    public func diagnostic(ecu: String, data: [UInt8], timeoutSeconds: Double?) throws -> DiagnosticReply {
        try called("diagnostic \(ecu) \(DiagnosticReply.hex(data))")
        if diagnosticsWait.withLock({ $0 }) { _ = diagnosticRelease.wait(seconds: 30) }
        return DiagnosticReply(ecu: ecu, outcome: .positive, data: [data[0] &+ 0x40] + data.dropFirst(), seconds: 0.01)
    }
}

/// A started server on a socket in a new temporary directory; stops when the test is done with it.
public final class RunningServer {
    public let directory: String
    public let path: String
    public let server: ControlServer
    public let agent: FakeAgent
    public let startup: ControlServer.Startup

    public init(
        agent: FakeAgent = FakeAgent(), policy: ControlPolicy = .standard, group: String? = nil,
        requestTimeout: Double = 1
    ) throws {
        directory = try AxleProcess.makeTemporaryDirectory()
        path = directory + "/axled.sock"
        self.agent = agent
        server = ControlServer(path: path, group: group, handler: agent, policy: policy, requestTimeout: requestTimeout)
        startup = try server.start()
    }

    public var client: ControlClient { ControlClient(path: path) }

    deinit {
        server.stop()
        _ = system("rm -rf " + AxleProcess.shellQuote(directory))
    }
}
