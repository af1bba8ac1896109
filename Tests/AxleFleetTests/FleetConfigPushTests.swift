import AxleBase
import AxleTestSupport
import ConfigBundle
import MQTTUplink
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axle-fleet config push` and `config status` against a real mosquitto. The vehicles are simulated by the test:
/// each reacts to its desired message by publishing the retained state reports a vehicle would (real `axled`
/// vehicles are tested by the agent's configuration tests), so that the order of the waves is what is tested.
@Suite("axle-fleet config push and status against mosquitto", .serialized)
struct FleetConfigPushTests {
    static let profile = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan"

    /// Signs the demo profile as `version` for `vehicles` into `directory`; returns the path and the bytes.
    static func makeBundle(version: UInt64, vehicles: BundleManifest.Vehicles = .all, in directory: String) throws -> (String, [UInt8]) {
        let key = try ConfigurationSigningKey.generate(keyID: "config-test")
        let contents = try ProfileDirectory.files(at: profile)
        let now = wallClockMillis()
        let manifest = BundleManifest(
            version: version, profile: "demo-sedan", vehicles: vehicles, notBeforeMillis: now, expiresAtMillis: now + 86_400_000,
            files: contents.map { BundleManifest.File(path: $0.key, contents: $0.value) })
        let bytes = ConfigurationBundle.make(manifest: manifest, contents: contents, key: key)
        let path = directory + "/demo-sedan-\(version).axlecfg"
        try DurableFile.write(bytes, to: path)
        return (path, bytes)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        BundleManifest.hex(BundleManifest.File(path: "bundle", contents: bytes).sha256)
    }

    /// Every retained message under `filter` now on the broker: a fresh subscriber takes them, then a probe published
    /// after its SUBACK marks the end (mosquitto sends a subscription's retained messages before later ones).
    static func retained(_ broker: MosquittoBroker, _ filter: String) throws -> [MQTTMessage] {
        let peer = try TestPeer(broker, name: "retained-reader")
        let probe = "test/probe/\(getpid())"
        try peer.subscribe(filter)
        try peer.subscribe(probe)
        try peer.publish(MQTTMessage(topic: probe, text: "end", qos: 1))
        guard waitUntil(timeoutSeconds: 20, { peer.messages.contains { $0.topic == probe } }) else {
            throw TestSupportError("the probe on \(probe) did not come back")
        }
        return peer.messages.filter { $0.topic != probe }
    }

    @Test("push to 5 vehicles that all apply: exit 0, waves in order, chunks reassemble to the bundle, desired messages as documented")
    func pushApplied() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-push")
        defer { removeTree(directory) }
        let (path, bytes) = try Self.makeBundle(version: 3, in: directory)
        let digest = Self.sha256(bytes)
        let broker = try MosquittoBroker()
        let vehicles = (1...5).map { "car-\($0)" }
        let fleet = try FakeFleet(broker, behaviours: Dictionary(uniqueKeysWithValues: vehicles.map { ($0, .apply) }), runningVersion: 2)

        let push = try FleetProcess.run([
            "config", "push", "--broker", broker.url, "--bundle", path,
            "--vehicle", "car-1", "--vehicle", "car-2", "--vehicle", "car-3", "--vehicle", "car-4", "--vehicle", "car-5",
        ])
        #expect(push.status == 0, "\(push.both)")
        // 5 vehicles at 1, 10, 50, 100 %: 1, 1 (no new vehicle), 3, 5 in all.
        #expect(push.stdout.contains("rollout: 5 vehicles in 3 waves (1, 3, 5 in all)"), "\(push.stdout)")
        #expect(push.stdout.contains("wave 1 of 3 (1 %, 1 of 5): car-1\n"), "\(push.stdout)")
        #expect(push.stdout.contains("wave 2 of 3 (50 %, 3 of 5): car-2, car-3\n"), "\(push.stdout)")
        #expect(push.stdout.contains("wave 3 of 3 (100 %, 5 of 5): car-4, car-5\n"), "\(push.stdout)")
        #expect(push.stdout.contains("  car-4  APPLIED\n"), "\(push.stdout)")
        #expect(push.stdout.hasSuffix("done: version 3 APPLIED on all 5 vehicles\n"), "\(push.stdout)")

        // Each wave was asked only once the one before had applied.
        let events = fleet.events
        func index(_ event: String) -> Int { events.firstIndex(of: event) ?? -1 }
        #expect(events.filter { $0.hasPrefix("desired ") }.count == 5, "\(events)")
        #expect(index("desired car-2") > index("applied car-1") && index("applied car-1") >= 0, "\(events)")
        #expect(index("desired car-3") > index("applied car-1"), "\(events)")
        for later in ["desired car-4", "desired car-5"] {
            #expect(index(later) > index("applied car-2") && index(later) > index("applied car-3"), "\(events)")
        }

        // The chunks on the broker are the bundle, byte for byte, retained, at most 64 KiB each.
        let chunkBytes = 64 << 10
        let expectedChunks = (bytes.count + chunkBytes - 1) / chunkBytes
        #expect(expectedChunks == 3)
        let chunks = try Self.retained(broker, "axle/v1/config/bundles/\(digest)/+")
        #expect(chunks.count == expectedChunks)
        #expect(chunks.allSatisfy { $0.retain && $0.payload.count <= chunkBytes })
        let ordered = chunks.sorted { Int($0.topic.split(separator: "/").last!)! < Int($1.topic.split(separator: "/").last!)! }
        #expect(ordered.map { String($0.topic.split(separator: "/").last!) } == ["0", "1", "2"])
        #expect(ordered.flatMap(\.payload) == bytes)

        // One retained desired message per vehicle, exactly the documented JSON.
        let desired = try Self.retained(broker, "axle/v1/+/config/desired")
        #expect(Set(desired.map(\.topic)) == Set(vehicles.map { "axle/v1/\($0)/config/desired" }))
        let documented = "{\"version\":3,\"bundle_sha256\":\"\(digest)\",\"bytes\":\(bytes.count),\"chunk_bytes\":65536,\"chunks\":3}"
        for message in desired {
            #expect(message.retain)
            #expect(String(decoding: message.payload, as: UTF8.self) == documented)
            #expect(try DesiredConfiguration.parse(message.payload) == DesiredConfiguration(version: 3, bundleSHA256: digest, bytes: bytes.count))
        }
        // The figures for the cellular bill: the bundle once, plus the desired messages.
        let total = bytes.count + 5 * documented.utf8.count
        #expect(push.stdout.contains("bytes published: \(bytes.count) in 3 chunks (once for the fleet) + \(5 * documented.utf8.count) in 5 desired messages = \(total) "), "\(push.stdout)")

        // --json: the same push again is one document; the vehicles already run version 3 and count at once.
        let again = try FleetProcess.run([
            "config", "push", "--broker", broker.url, "--bundle", path, "--vehicle", "car-1", "--vehicle", "car-2", "--json",
        ])
        #expect(again.status == 0, "\(again.both)")
        let document = try JSONValue.parse(again.stdout)
        #expect(document["result"]?.stringValue == "applied")
        #expect(document["applied"]?.intValue == 2)
        #expect(document["bundle_sha256"]?.stringValue == digest)
        #expect(document["bytes_published"]?["chunks"]?.intValue == bytes.count)
        #expect(document["vehicles"]?.arrayValue?.map { $0["status"]?.stringValue } == ["APPLIED", "APPLIED"])
        #expect(again.stderr.contains("done: version 3 APPLIED on all 2 vehicles"), "\(again.both)")
    }

    @Test("the first wave's vehicle rolls back: exit 1 with the reason, and the later waves are never asked")
    func pushStopsOnRollback() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-push-abort")
        defer { removeTree(directory) }
        let (path, _) = try Self.makeBundle(version: 4, in: directory)
        let broker = try MosquittoBroker()
        let vehicles = (1...5).map { "car-\($0)" }
        var behaviours = Dictionary(uniqueKeysWithValues: vehicles.map { ($0, FakeFleet.Behaviour.apply) })
        behaviours["car-1"] = .rollBack(reason: "health_check_failed")
        let fleet = try FakeFleet(broker, behaviours: behaviours, runningVersion: 2)
        try writeTextFile(directory + "/fleet.txt", "# test fleet, in rollout order\ncar-1\ncar-2  # second\n\ncar-3\ncar-4\ncar-5\n")

        let push = try FleetProcess.run([
            "config", "push", "--broker", broker.url, "--bundle", path, "--vehicles", directory + "/fleet.txt", "--waves", "20,60,100",
        ])
        #expect(push.status == 1, "\(push.both)")
        #expect(push.stdout.contains("  car-1  ROLLED_BACK health_check_failed: the health check failed\n"), "\(push.stdout)")
        #expect(push.stdout.contains("failed: car-1  ROLLED_BACK health_check_failed"), "\(push.stdout)")
        #expect(!push.stdout.contains("wave 2 of 3"), "\(push.stdout)")
        #expect(push.stderr.contains(
            "Error: rollout of version 4 stopped in wave 1 of 3: 1 of the 1 vehicle that reported failed (100 %, more than --max-failures 10 %): car-1; waves 2, 3 (4 vehicles) not started."),
            "\(push.stderr)")
        let desired = try Self.retained(broker, "axle/v1/+/config/desired")
        #expect(desired.map(\.topic) == ["axle/v1/car-1/config/desired"])
        #expect(fleet.events.filter { $0.hasPrefix("desired ") } == ["desired car-1"])
    }

    @Test("a wave whose vehicle never reports stops at --wave-timeout naming it; a bundle not for a listed vehicle is refused before publishing")
    func pushStopsOnSilenceAndRefusesOthers() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-push-silent")
        defer { removeTree(directory) }
        let (path, _) = try Self.makeBundle(version: 5, in: directory)
        let broker = try MosquittoBroker()
        let fleet = try FakeFleet(broker, behaviours: ["car-1": .apply, "car-2": .silent], runningVersion: 2)
        let started = monotonicSeconds()
        let push = try FleetProcess.run([
            "config", "push", "--broker", broker.url, "--bundle", path, "--vehicle", "car-1", "--vehicle", "car-2",
            "--waves", "50,100", "--wave-timeout", "2s",
        ])
        #expect(push.status == 1, "\(push.both)")
        #expect(monotonicSeconds() - started < 30)
        #expect(push.stdout.contains("wave 1 of 2 (50 %, 1 of 2): car-1"), "\(push.stdout)")
        #expect(push.stderr.contains("Error: rollout of version 5 stopped in wave 2 of 2: no final report within 2 s from car-2."), "\(push.stderr)")
        #expect(fleet.events.contains("desired car-2"))

        let (only, _) = try Self.makeBundle(version: 6, vehicles: .only(["car-1"]), in: directory)
        let refused = try FleetProcess.run([
            "config", "push", "--broker", broker.url, "--bundle", only, "--vehicle", "car-1", "--vehicle", "car-9",
        ])
        #expect(refused.status == 1, "\(refused.both)")
        #expect(refused.stderr.contains("is signed for vehicle car-1 only; vehicle car-9 would refuse it (not_for_this_vehicle)"), "\(refused.stderr)")
        #expect(try Self.retained(broker, "axle/v1/config/bundles/#").filter { $0.topic.contains(Self.sha256(try FileInput.readAll(path: only))) }.isEmpty)
    }

    @Test("config status: a table of vehicles per version and status, NO_REPORT for a silent one, and --json")
    func status() throws {
        let broker = try MosquittoBroker()
        let peer = try TestPeer(broker, name: "vehicles")
        let digest = String(repeating: "b", count: 64)
        func report(_ vehicle: String, active: UInt64, last: UInt64, _ status: ConfigurationStatus, reason: String? = nil) throws {
            let value = ConfigurationReport(
                active: .init(version: active, profile: "demo-sedan", bundleSHA256: active == 0 ? nil : digest),
                last: .init(version: last, bundleSHA256: digest, status: status, reason: reason, text: reason.map { "because \($0)" }),
                highWaterMark: last, atMillis: wallClockMillis())
            try peer.publish(MQTTMessage(
                topic: "axle/v1/\(vehicle)/config/state", text: JSONValue.object(value.members + [("seq", .integer(7))]).rendered(), retain: true))
        }
        try report("car-1", active: 3, last: 3, .applied)
        try report("car-2", active: 2, last: 3, .rolledBack, reason: "health_check_failed")
        try report("car-3", active: 3, last: 3, .applied)
        try report("car-4", active: 2, last: 3, .trial)
        let arguments = ["config", "status", "--broker", broker.url]
            + ["car-1", "car-2", "car-3", "car-4", "car-5"].flatMap { ["--vehicle", $0] } + ["--timeout", "2s"]
        let table = try FleetProcess.run(arguments)
        #expect(table.status == 0, "\(table.both)")
        #expect(table.stdout == """
            ACTIVE VERSION  LAST VERSION  STATUS       REASON               VEHICLES  IDS
            2               3             ROLLED_BACK  health_check_failed         1  car-2
            2               3             TRIAL        -                           1  car-4
            3               3             APPLIED      -                           2  car-1, car-3
            -               -             NO_REPORT    -                           1  car-5
            4 of 5 vehicles reported

            """, "\(table.both)")

        let json = try FleetProcess.run(arguments + ["--json"])
        #expect(json.status == 0, "\(json.both)")
        let document = try JSONValue.parse(json.stdout)
        #expect(document["listed"]?.intValue == 5 && document["reported"]?.intValue == 4)
        #expect(document["groups"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } == ["ROLLED_BACK", "TRIAL", "APPLIED", "NO_REPORT"])
        #expect(document["groups"]?.arrayValue?.map { $0["count"]?.intValue ?? 0 } == [1, 1, 2, 1])
        let second = document["vehicles"]?.arrayValue?[1]
        #expect(second?["vehicle"]?.stringValue == "car-2" && second?["reason"]?.stringValue == "health_check_failed")
        #expect(second?["report"]?["seq"]?.intValue == 7)
        #expect(document["vehicles"]?.arrayValue?[4]["status"]?.stringValue == "NO_REPORT")

        // Every listed vehicle answered: no waiting for the timeout.
        let started = monotonicSeconds()
        let quick = try FleetProcess.run(["config", "status", "--broker", broker.url, "--vehicle", "car-1", "--vehicle", "car-2", "--timeout", "60s"])
        #expect(quick.status == 0, "\(quick.both)")
        #expect(monotonicSeconds() - started < 20)
        #expect(quick.stdout.hasSuffix("2 of 2 vehicles reported\n"), "\(quick.stdout)")
    }
}

/// Vehicles played by the test: each subscribes to its desired message and, when one arrives, publishes the retained
/// state reports its behaviour calls for. Before the push each has a retained report of `runningVersion`, as a fleet
/// has, which the tool must not take for an answer.
final class FakeFleet: Sendable {
    enum Behaviour: Sendable {
        /// APPLYING, TRIAL, then APPLIED.
        case apply
        /// APPLYING, TRIAL, then ROLLED_BACK with `reason`.
        case rollBack(reason: String)
        /// Never answers.
        case silent
    }

    private let peer: TestPeer
    private let recorded = Locked<[String]>([])

    /// What happened, in order: "desired car-1", "applied car-1", "rolled back car-1".
    var events: [String] { recorded.withLock { $0 } }

    init(_ broker: MosquittoBroker, behaviours: [String: Behaviour], runningVersion: UInt64) throws {
        let recorded = self.recorded
        peer = try TestPeer(broker, name: "fake-fleet") { client, message in
            let levels = message.topic.split(separator: "/").map(String.init)
            guard levels.count == 5, levels[3] == "config", levels[4] == "desired", let behaviour = behaviours[levels[2]],
                let desired = try? DesiredConfiguration.parse(message.payload)
            else { return }
            let vehicle = levels[2]
            recorded.withLock { $0.append("desired \(vehicle)") }
            func publish(active: UInt64, _ status: ConfigurationStatus, reason: String? = nil, text: String? = nil) {
                let report = ConfigurationReport(
                    active: .init(version: active, profile: "demo-sedan", bundleSHA256: active == desired.version ? desired.bundleSHA256 : nil),
                    previous: active == desired.version ? .init(version: runningVersion, profile: "demo-sedan", bundleSHA256: nil) : nil,
                    last: .init(version: desired.version, bundleSHA256: desired.bundleSHA256, status: status, reason: reason, text: text),
                    highWaterMark: desired.version, atMillis: wallClockMillis())
                _ = client.publish(MQTTMessage(
                    topic: "axle/v1/\(vehicle)/config/state", text: report.json.rendered(), qos: 1, retain: true))
            }
            switch behaviour {
            case .silent:
                return
            case .apply:
                publish(active: runningVersion, .applying)
                publish(active: desired.version, .trial)
                recorded.withLock { $0.append("applied \(vehicle)") }
                publish(active: desired.version, .applied)
            case .rollBack(let reason):
                publish(active: runningVersion, .applying)
                publish(active: desired.version, .trial)
                recorded.withLock { $0.append("rolled back \(vehicle)") }
                publish(active: runningVersion, .rolledBack, reason: reason, text: "the health check failed")
            }
        }
        try peer.subscribe("axle/v1/+/config/desired")
        for vehicle in behaviours.keys.sorted() {
            let before = ConfigurationReport(
                active: .init(version: runningVersion, profile: "demo-sedan", bundleSHA256: nil),
                last: .init(version: runningVersion, bundleSHA256: String(repeating: "0", count: 64), status: .applied),
                highWaterMark: runningVersion, atMillis: wallClockMillis())
            try peer.publish(MQTTMessage(topic: "axle/v1/\(vehicle)/config/state", text: before.json.rendered(), retain: true))
        }
    }
}

/// Writes a small text file for a test.
func writeTextFile(_ path: String, _ text: String) throws {
    try DurableFile.write(Array(text.utf8), to: path)
}
