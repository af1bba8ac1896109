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
        collection: CollectionStatus(rulesEnabled: 5, rulesTotal: 6, eventsTriggered: 12),
        lastErrors: [
            RecentError(timeMillis: 1_767_225_590_000, component: "uplink", message: "connection lost: keepalive timeout"),
            RecentError(timeMillis: 1_767_225_500_000, component: "can0", message: "controller entered error-passive"),
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
}

/// An agent in miniature: answers from the fixtures; rules can be switched; a handler call can be made to fail.
public final class FakeAgent: ControlHandler {
    public let ruleState = Mutex(Fixtures.rules)
    public let calls = Mutex<[String]>([])
    let failure: (any Error & Sendable)?

    public init(failure: (any Error & Sendable)? = nil) {
        self.failure = failure
    }

    private func called(_ name: String) throws {
        calls.withLock { $0.append(name) }
        if let failure { throw failure }
    }

    public func status() throws -> StatusReport {
        try called("status")
        return Fixtures.status
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
