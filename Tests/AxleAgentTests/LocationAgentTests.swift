import AxleBase
import AxleTestSupport
import Foundation
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `axled` with the simulated demo sedan, reading positions from a real gpsd (Debian's) that replays a real
/// receiver's NMEA log (Tests/Resources/gnss) through a pseudo-terminal; telemetry and events read back from a real
/// mosquitto and decoded as the backend decodes them.
@Suite(.serialized)
struct LocationAgentTests {
    static let latitude = "Vehicle.CurrentLocation.Latitude"
    static let longitude = "Vehicle.CurrentLocation.Longitude"
    static let fixType = "Vehicle.CurrentLocation.GNSSReceiver.FixType"

    /// The demo sedan with its position from the receiver only (the simulated GnssPosition frame left out of the
    /// catalog), so that every published position is the receiver's; `extra` is appended to profile.toml.
    static func receiverOnlyProfile(in directory: String, extra: String = "") throws -> String {
        try demoProfileCopy(in: directory, replacing: [
            #""Vehicle.CurrentLocation.Latitude" = { source = "GnssPosition.Latitude", unit = "degrees" }"# + "\n": "",
            #""Vehicle.CurrentLocation.Longitude" = { source = "GnssPosition.Longitude", unit = "degrees" }"# + "\n": "",
        ], extra: extra)
    }

    /// The shipped demo sedan in `directory/demo-sedan`, with each key of `replacing` (which must be there) replaced.
    static func demoProfileCopy(in directory: String, replacing: [String: String], extra: String = "") throws -> String {
        let profile = directory + "/demo-sedan"
        guard mkdir(profile, 0o755) == 0 else { throw TestSupportError("cannot create \(profile)") }
        let shipped = AgentHarness.demoProfile
        var text = AxleProcess.readText(shipped + "/profile.toml")
        for (old, new) in replacing {
            guard text.contains(old) else { throw TestSupportError("the demo profile no longer has \(old)") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        try AxleProcess.writeFile(profile + "/profile.toml", text + extra)
        try AxleProcess.writeFile(profile + "/demo_sedan.dbc", AxleProcess.readText(shipped + "/demo_sedan.dbc"))
        return profile
    }

    static func startAgent(
        _ harness: AgentHarness, broker: MosquittoBroker, profile: String, gpsdPort: Int, run: Int = 0
    ) throws -> ChildProcess {
        try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", profile, "--vehicle-id", harness.vehicleID, "--data-dir", harness.dataDirectory,
                "--broker", broker.url, "--control-socket", harness.controlSocket, "--simulate", "city-drive",
                "--telemetry-batch", "1", "--gpsd", "127.0.0.1:\(gpsdPort)", "--log-level", "debug",
            ],
            stderrPath: harness.directory + "/axled-\(run).log")
    }

    /// Everything the subscriber has received on the vehicle's telemetry and events topics, decoded.
    struct Published {
        var samples: [DecodedSample] = []
        var notReadings: [DecodedNotReading] = []
        var events: [TelemetryEvent] = []

        init(_ subscriber: MosquittoSubscriber) {
            for message in subscriber.messages() {
                guard let batch = try? TelemetryPayloadDecoder.decode(message.payload) else { continue }
                samples += batch.samples
                notReadings += batch.notReadings
                events += batch.events
            }
        }

        func values(_ signal: String) -> [DecodedSample] { samples.filter { $0.signal == signal } }
    }

    /// `axle status --json`'s location object.
    static func location(_ harness: AgentHarness) -> JSONValue? {
        guard let result = try? AxleProcess.run(["status", "--socket", harness.controlSocket, "--json"]) else { return nil }
        return (try? JSONValue.parse(result.stdout))?["location"]
    }

    static func isConnected(_ harness: AgentHarness) -> Bool { location(harness)?["connected"]?.boolValue == true }

    /// Whether `value` is one of the log's fixes (gpsd prints 9 decimals).
    static func matches(_ latitude: Double, _ longitude: Double, _ fixes: [(latitude: Double, longitude: Double)]) -> Bool {
        fixes.contains { abs($0.latitude - latitude) < 1e-6 && abs($0.longitude - longitude) < 1e-6 }
    }

    static func stop(_ agent: ChildProcess) -> Int32? {
        agent.send(signal: SIGTERM)
        return agent.wait(timeoutSeconds: 10)
    }

    @Test("a log that starts without a fix: no position until the fix, then the log's positions under VSS names")
    func positionsAfterTheFirstFixOnly() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-fix")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-fix/telemetry"])
        let startedAt = wallClockMillis() * 1000
        let agent = try Self.startAgent(
            harness, broker: broker, profile: try Self.receiverOnlyProfile(in: harness.directory), gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        #expect(waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) { Self.isConnected(harness) }, "\(harness.log())")
        // 43 cycles without a fix (4.3 s), then the fix.
        gpsd.feed(every: 0.1, loop: false)
        let arrived = waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) {
            Published(subscriber).values(Self.latitude).count >= 5
        }
        #expect(arrived, "no position published; agent: \(harness.log()) gpsd: \(gpsd.log)")

        let published = Published(subscriber)
        let fixes = gpsd.fixes
        let latitudes = published.values(Self.latitude)
        let longitudes = published.values(Self.longitude)
        #expect(!latitudes.isEmpty && latitudes.count == longitudes.count)
        for (latitude, longitude) in zip(latitudes, longitudes) {
            #expect(latitude.unit == "degrees" && latitude.timeMicros == longitude.timeMicros)
            #expect(Self.matches(latitude.value, longitude.value, fixes), "\(latitude.value), \(longitude.value) is not in the log")
        }
        // The fix mode went from "no fix" (1) to a fix, and no position was published before the fix.
        let modes = published.values(Self.fixType)
        let noFix = try #require(modes.first { $0.value == 1 }, "no 'no fix' mode published: \(modes)")
        let firstFix = try #require(modes.first { $0.value >= 2 }, "no fix mode published: \(modes)")
        #expect(noFix.timeMicros < firstFix.timeMicros)
        #expect(latitudes.allSatisfy { $0.timeMicros >= firstFix.timeMicros }, "a position before the fix")
        #expect(!published.samples.contains { abs($0.value) < 1e-9 && $0.signal == Self.latitude }, "a made-up 0,0")
        // The receiver's clock says March 2019 (and steps back once, 10:51:53.71 then 53.408): records keep the agent's.
        #expect(latitudes.allSatisfy { $0.timeMicros >= startedAt && $0.timeMicros <= wallClockMillis() * 1000 })
        let gpsTime = Self.location(harness)?["last_fix"]?["gps_time"]?.stringValue
        #expect(gpsTime?.hasPrefix("2019-03-12T") == true, "the receiver's time is kept as data: \(String(describing: gpsTime))")

        // The technician's view: the fix in `axle status`, the position in `axle signals`, its source the receiver.
        let status = try AxleProcess.run(["status", "--socket", harness.controlSocket])
        #expect(status.stdout.contains("location    3D fix, ") && status.stdout.contains(" satellites, 50.84"), "\(status.stdout)")
        #expect(status.stdout.contains("from gpsd 127.0.0.1:\(gpsd.port)"), "\(status.stdout)")
        let signals = try AxleProcess.run(["signals", "CurrentLocation.Latitude", "--socket", harness.controlSocket])
        #expect(signals.stdout.contains("gpsd latitude") && signals.stdout.contains("50.84"), "\(signals.stdout)")
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }

    @Test("gpsd killed mid-drive: CAN collection never stops, no stale position is sent, the agent reconnects")
    func gpsdKilledAndRestarted() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-restart")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-restart/telemetry"])
        let agent = try Self.startAgent(
            harness, broker: broker, profile: try Self.receiverOnlyProfile(in: harness.directory), gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        #expect(waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) { Self.isConnected(harness) }, "\(harness.log())")
        // Past the log's no-fix start at once, then round and round.
        gpsd.feed(every: 0.02, loop: true)
        #expect(waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) { !Published(subscriber).values(Self.latitude).isEmpty },
            "no position before the kill; \(harness.log())")

        gpsd.kill()
        let killedAt = wallClockMillis() * 1000
        #expect(waitUntil(timeoutSeconds: 10, pollSeconds: 0.1) { !Self.isConnected(harness) }, "\(harness.log())")
        // The bus goes on: speed samples keep coming for seconds after the kill.
        let speedGoesOn = waitUntil(timeoutSeconds: 20, pollSeconds: 0.2) {
            Published(subscriber).values("Vehicle.Speed").contains { $0.timeMicros > killedAt + 3_000_000 }
        }
        #expect(speedGoesOn, "CAN collection stopped with gpsd; \(harness.log())")
        let whileDown = Published(subscriber)
        // A position stamped over a second after the kill would be an old one passed off as current.
        #expect(!whileDown.values(Self.latitude).contains { $0.timeMicros > killedAt + 1_000_000 })
        #expect(whileDown.notReadings.contains { $0.signal == Self.latitude && $0.timeMicros >= killedAt - 1_000_000 },
            "the position is marked not available once gpsd is gone")

        try gpsd.start()
        let restartedAt = wallClockMillis() * 1000
        let back = waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) {
            Published(subscriber).values(Self.latitude).contains { $0.timeMicros > restartedAt }
        }
        #expect(back, "no position after gpsd came back; \(harness.log())")
        #expect(Self.location(harness)?["connections"]?.intValue == 2, "one connection before the kill, one after")
        let log = harness.log()
        #expect(log.contains("<5>location: gpsd at 127.0.0.1:\(gpsd.port): gpsd closed the connection; reconnecting"), "\(log)")
        #expect(!log.contains("<3>"), "gpsd going away is no error: \(log)")
        #expect(Self.stop(agent) == 0, "\(log)")
    }

    @Test("the receiver unplugged (gpsd's DEVICE activated 0): the position is unknown at once, then back when plugged in")
    func receiverUnpluggedAndBack() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-unplug")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-unplug/telemetry"])
        let agent = try Self.startAgent(
            harness, broker: broker, profile: try Self.receiverOnlyProfile(in: harness.directory), gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        gpsd.feed(every: 0.1, loop: true, fixesOnly: true)
        #expect(waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) { !Published(subscriber).values(Self.latitude).isEmpty },
            "no position before unplugging; \(harness.log())")

        try gpsd.unplug()
        let unpluggedAt = wallClockMillis() * 1000
        let gone = waitUntil(timeoutSeconds: 10, pollSeconds: 0.1) {
            Self.location(harness).map { $0["receiver"]?.isNull == true && $0["mode"]?.intValue == 0 } ?? false
        }
        #expect(gone, "axle status still shows a receiver: \(String(describing: Self.location(harness)))")
        #expect(Self.location(harness)?["connected"]?.boolValue == true, "gpsd itself is still there")
        #expect(Self.location(harness)?["last_fix"]?["latitude"]?.doubleValue.map { abs($0 - 50.84) < 0.01 } == true,
            "the last good position stays known")
        let marked = waitUntil(timeoutSeconds: 10, pollSeconds: 0.2) {
            Published(subscriber).notReadings.contains { $0.signal == Self.latitude && $0.timeMicros >= unpluggedAt - 500_000 }
        }
        #expect(marked, "the position is not marked not available; \(harness.log())")
        #expect(!Published(subscriber).values(Self.latitude).contains { $0.timeMicros > unpluggedAt + 1_000_000 })
        #expect(harness.log().contains("<5>location: gpsd reports the receiver \"\(gpsd.devicePath)\" gone"), "\(harness.log())")

        try gpsd.plugIn()
        let pluggedAt = wallClockMillis() * 1000
        let back = waitUntil(timeoutSeconds: 30, pollSeconds: 0.2) {
            Published(subscriber).values(Self.latitude).contains { $0.timeMicros > pluggedAt }
        }
        #expect(back, "no position after plugging the receiver back in; \(harness.log())")
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }

    @Test("the demo sedan's prefer gpsd: the receiver's position while it has one, the bus's once gpsd is gone")
    func preferGpsdFallsBackToTheBus() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-prefer")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-prefer/telemetry"])
        // Every new position is published (on change, not once a second), so that a bus value mixed in would show.
        let profile = try Self.demoProfileCopy(in: harness.directory, replacing: [
            "  \"Vehicle.Private.CurrentLocation.Speed\",\n]\nperiodic = \"1s\"": "  \"Vehicle.Private.CurrentLocation.Speed\",\n]\non-change = { deadband = 0 }",
        ])
        let agent = try Self.startAgent(harness, broker: broker, profile: profile, gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        #expect(waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) { Self.isConnected(harness) }, "\(harness.log())")
        // Fixes only, five a second (as often as the bus's GnssPosition frame): the receiver never loses its fix.
        gpsd.feed(every: 0.2, loop: true, fixesOnly: true)
        // The receiver stands in Brussels (50.84 N); the simulated car drives far from there.
        func isReceivers(_ sample: DecodedSample) -> Bool { abs(sample.value - 50.84) < 0.01 }
        #expect(waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) { Published(subscriber).values(Self.latitude).filter(isReceivers).count >= 4 },
            "no position from the receiver; \(harness.log())")
        // While the receiver has its fix, every position is the receiver's: the bus's is not mixed in.
        let firstReceivers = try #require(Published(subscriber).values(Self.latitude).first(where: isReceivers))
        #expect(Published(subscriber).values(Self.latitude).filter { $0.timeMicros > firstReceivers.timeMicros }.allSatisfy(isReceivers))
        gpsd.kill()
        let killedAt = wallClockMillis() * 1000
        let busTookOver = waitUntil(timeoutSeconds: 20, pollSeconds: 0.2) {
            Published(subscriber).values(Self.latitude).contains { $0.timeMicros > killedAt + 2_000_000 && !isReceivers($0) }
        }
        #expect(busTookOver, "the bus's position did not take over; \(harness.log())")
        let published = Published(subscriber)
        #expect(!published.values(Self.latitude).contains { $0.timeMicros > killedAt + 1_000_000 && isReceivers($0) })
        #expect(!published.notReadings.contains { $0.signal == Self.latitude }, "the bus's position fills in: never unknown")
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }

    @Test("no CAN frame at all (the bus's interface does not exist): the receiver's positions are still published")
    func positionsWithoutAnyFrame() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-parked")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-parked/telemetry"])
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", try Self.receiverOnlyProfile(in: harness.directory), "--vehicle-id", harness.vehicleID,
                "--data-dir", harness.dataDirectory, "--broker", broker.url, "--control-socket", harness.controlSocket,
                "--can", "body=axlenone0", "--telemetry-batch", "1", "--gpsd", "127.0.0.1:\(gpsd.port)",
            ],
            stderrPath: harness.directory + "/axled-0.log")
        defer { _ = Self.stop(agent) }
        gpsd.feed(every: 0.02, loop: true)
        let arrived = waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) { Published(subscriber).values(Self.latitude).count >= 3 }
        #expect(arrived, "no position without frames; \(harness.log())")
        let published = Published(subscriber)
        #expect(published.values("Vehicle.Speed").isEmpty, "no bus, no speed")
        #expect(Self.matches(published.values(Self.latitude)[0].value, published.values(Self.longitude)[0].value, gpsd.fixes))
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }

    @Test("--gpsd with a profile that reads no receiver is refused at start, naming the flag and why")
    func gpsdFlagWithoutALocationSection() throws {
        let harness = try AgentHarness(vehicleID: "gnss-none")
        defer { harness.cleanUp() }
        let profile = harness.directory + "/demo-sedan"
        #expect(mkdir(profile, 0o755) == 0)
        try AxleProcess.writeFile(profile + "/profile.toml", """
            [profile]
            name = "demo-sedan"
            platform = "Demo Sedan PHEV, speed only"
            firmware = "1.0.0"

            [buses.body]
            dbc = "demo_sedan.dbc"

            [signals]
            "Vehicle.Speed" = { source = "VehicleMotion.VehicleSpeed", unit = "km/h" }
            """)
        try AxleProcess.writeFile(profile + "/demo_sedan.dbc", AxleProcess.readText(AgentHarness.demoProfile + "/demo_sedan.dbc"))
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: [
                "--profile", profile, "--data-dir", harness.dataDirectory, "--control-socket", harness.controlSocket,
                "--simulate", "city-drive", "--gpsd", "127.0.0.1:2947",
            ],
            stderrPath: harness.directory + "/axled-0.log")
        let status = agent.wait(timeoutSeconds: 15) ?? {
            agent.send(signal: SIGKILL)
            return -1
        }()
        #expect(status == 1, "\(harness.log())")
        #expect(harness.log().contains(
            "--gpsd: error: --gpsd \"127.0.0.1:2947\" is given, but the profile demo-sedan has no [location]: nothing would be read from gpsd"),
            "\(harness.log())")
    }

    @Test("gpsd absent at start: a notice, CAN collection as usual, positions once gpsd appears")
    func gpsdAbsentAtStart() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log", start: false)
        let harness = try AgentHarness(vehicleID: "gnss-absent")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-absent/telemetry"])
        let agent = try Self.startAgent(
            harness, broker: broker, profile: try Self.receiverOnlyProfile(in: harness.directory), gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        #expect(waitUntil(timeoutSeconds: 20, pollSeconds: 0.2) { !Published(subscriber).values("Vehicle.Speed").isEmpty },
            "no CAN telemetry without gpsd; \(harness.log())")
        let log = harness.log()
        #expect(log.contains("<5>location: cannot connect to gpsd at 127.0.0.1:\(gpsd.port): Connection refused; retrying in"), "\(log)")
        #expect(!log.contains("<3>") && !log.contains("<4>"), "gpsd absent is neither an error nor a warning: \(log)")
        #expect(Self.location(harness)?["connected"]?.boolValue == false)
        #expect(Published(subscriber).values(Self.latitude).isEmpty)

        try gpsd.start()
        gpsd.feed(every: 0.02, loop: true)
        let arrived = waitUntil(timeoutSeconds: 40, pollSeconds: 0.2) { !Published(subscriber).values(Self.latitude).isEmpty }
        #expect(arrived, "no position once gpsd was there; \(harness.log())")
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }

    @Test("events from gpsd positions: inside(area) at the log's site, and stopped away from the depots with the position")
    func geofenceAndStrandedEvents() throws {
        let broker = try MosquittoBroker()
        let gpsd = try GPSDReplay(log: "telit-he910.log")
        let harness = try AgentHarness(vehicleID: "gnss-events")
        defer { harness.cleanUp() }
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/gnss-events/events"])
        // The log's receiver stands at 50.8402 N, 4.3471 E (Brussels), moving at under 1 km/h.
        let profile = try Self.receiverOnlyProfile(in: harness.directory, extra: """

            [areas.site]
            latitude = "Vehicle.CurrentLocation.Latitude"
            longitude = "Vehicle.CurrentLocation.Longitude"
            circles = [ { latitude = 50.8402, longitude = 4.3471, radius = 200 } ]

            [areas.depots]
            latitude = "Vehicle.CurrentLocation.Latitude"
            longitude = "Vehicle.CurrentLocation.Longitude"
            circles = [ { latitude = 48.1800, longitude = 11.5950, radius = 500 } ]

            [[events]]
            name = "arrived-at-site"
            when = "inside(site)"
            priority = "alert"
            capture = ["Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude"]
            post-trigger = "1s"

            [[events]]
            name = "stranded"
            when = "(Vehicle.Private.CurrentLocation.Speed < 1 and not inside(depots)) for 2s"
            priority = "alert"
            capture = ["Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude", "Vehicle.CurrentLocation.HorizontalAccuracy"]
            pre-trigger = "1s"
            post-trigger = "1s"

            """)
        let agent = try Self.startAgent(harness, broker: broker, profile: profile, gpsdPort: gpsd.port)
        defer { _ = Self.stop(agent) }
        #expect(waitUntil(timeoutSeconds: 20, pollSeconds: 0.1) { Self.isConnected(harness) }, "\(harness.log())")
        gpsd.feed(every: 0.1, loop: true)
        let both = waitUntil(timeoutSeconds: 60, pollSeconds: 0.2) {
            let names = Set(Published(subscriber).events.map(\.name))
            return names.contains("arrived-at-site") && names.contains("stranded")
        }
        #expect(both, "events: \(Published(subscriber).events.map(\.name)); \(harness.log())")
        let fixes = gpsd.fixes
        for event in Published(subscriber).events where ["arrived-at-site", "stranded"].contains(event.name) {
            let samples = event.window?.samples ?? []
            let latitude = samples.last { $0.signal.name == Self.latitude }
            let longitude = samples.last { $0.signal.name == Self.longitude }
            #expect(latitude != nil && longitude != nil, "\(event.name) holds no position: \(samples)")
            if let latitude, let longitude {
                #expect(Self.matches(latitude.value, longitude.value, fixes), "\(event.name) at \(latitude.value), \(longitude.value)")
            }
        }
        #expect(Self.stop(agent) == 0, "\(harness.log())")
    }
}
