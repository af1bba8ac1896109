import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Signed remote commands through the whole agent: real mosquitto, `axled` running the simulated demo sedan, requests
/// signed with real Ed25519 keys, answers read off the broker (docs/commands.md).
@Suite("Remote commands through the running agent", .serialized)
struct RemoteCommandTests {
    /// A vehicle with a broker, a subscriber to its command answers, and two backend keys (the second revoked).
    final class Rig {
        let broker: MosquittoBroker
        let harness: AgentHarness
        let answers: MosquittoSubscriber
        let key: CommandSigningKey
        let revoked: CommandSigningKey
        var counter = UInt64(wallClockMillis()) * 1000

        init(vehicleID: String) throws {
            broker = try MosquittoBroker()
            harness = try AgentHarness(vehicleID: vehicleID)
            key = try CommandSigningKey.generate(keyID: "backend-2026")
            revoked = try CommandSigningKey.generate(keyID: "backend-2025")
            try key.write(prefix: harness.directory + "/backend-2026")
            try revoked.write(prefix: harness.directory + "/backend-2025")
            answers = try MosquittoSubscriber(
                broker: broker, topics: ["axle/v1/\(vehicleID)/cmd/res", "axle/v1/\(vehicleID)/features"])
        }

        func start(scenario: String, run: Int = 0, environment: [String] = [], _ extra: [String] = []) throws -> ChildProcess {
            let agent = try harness.start(
                broker: broker.url, run: run, environment: environment,
                [
                    "--simulate", scenario, "--trust-key", harness.directory + "/backend-2026.pub",
                    "--trust-key", harness.directory + "/backend-2025.pub", "--revoked-key", "backend-2025",
                ] + extra)
            #expect(waitUntil(timeoutSeconds: 20) { harness.log(run: run).contains("ready in") }, "\(harness.log(run: run))")
            // The simulated vehicle's first frames, so that preconditions have fresh values to read.
            #expect(harness.waitForValues(), "no live values for \(AgentHarness.preconditionSignals): \(harness.log(run: run))")
            return agent
        }

        func request(
            _ name: String, _ parameters: [String: CommandValue] = [:], vehicle: String? = nil, issuedIn: Int64 = 0,
            ttlMillis: Int64 = 30_000
        ) -> CommandRequest {
            counter += 1
            let now = wallClockMillis()
            return CommandRequest(
                vehicle: vehicle ?? harness.vehicleID, name: name, parameters: parameters, issuedAtMillis: now + issuedIn,
                expiresAtMillis: now + issuedIn + ttlMillis, counter: counter)
        }

        /// Publishes raw payloads, one message each, without MQTT 5 response properties (the 3.1.1 fallback:
        /// answers go to `…/cmd/res`).
        func publish(_ payloads: [[UInt8]]) throws {
            let path = harness.directory + "/payload"
            for payload in payloads {
                let file = fopen(path, "w")!
                _ = payload.withUnsafeBytes { fwrite($0.baseAddress, 1, payload.count, file) }
                fclose(file)
                let result = try ChildProcess.run("/usr/bin/mosquitto_pub", publishArguments + ["-f", path])
                #expect(result.status == 0, "\(result.output)")
            }
        }

        /// Publishes one payload `copies` times at once (mosquitto_pub reads one message per line).
        func publish(_ payload: [UInt8], copies: Int) throws {
            try publishAtOnce(Array(repeating: payload, count: copies))
        }

        /// Publishes payloads back to back from one client, as fast as the broker takes them.
        func publishAtOnce(_ payloads: [[UInt8]]) throws {
            let path = harness.directory + "/payloads"
            let lines = payloads.map { String(decoding: $0, as: UTF8.self) }
            #expect(!lines.contains { $0.contains("\n") })
            _ = try AxleProcess.writeFile(path, lines.map { $0 + "\n" }.joined())
            let command = (["/usr/bin/mosquitto_pub"] + publishArguments + ["-l"]).joined(separator: " ")
            let result = try ChildProcess.run("/bin/sh", ["-c", "\(command) < \(path)"])
            #expect(result.status == 0, "\(result.output)")
        }

        private var publishArguments: [String] {
            ["-h", "127.0.0.1", "-p", String(broker.url.split(separator: ":").last!), "-q", "1", "-t", "axle/v1/\(harness.vehicleID)/cmd/req"]
        }

        /// Every answer received so far, in order.
        func responses() -> [CommandResponse] {
            answers.detailedMessages().filter { $0.topic.hasSuffix("/cmd/res") }.compactMap { try? CommandResponse.parse($0.payload) }
        }

        func responses(for id: String) -> [CommandResponse] { responses().filter { $0.id == id } }

        func finalResponse(for id: String, timeout: Double = 15) -> CommandResponse? {
            var found: CommandResponse?
            _ = waitUntil(timeoutSeconds: timeout) {
                found = responses(for: id).first { $0.status.isFinal }
                return found != nil
            }
            return found
        }

        /// The features messages (retained JSON), parsed.
        func featureStates(_ feature: String) -> [(state: String, t: Int64)] {
            answers.detailedMessages().filter { $0.topic.hasSuffix("/features") }.compactMap { message in
                guard let document = try? JSONValue.parse(message.text), let t = document["t"]?.intValue.map(Int64.init),
                    let entry = document["features"]?.arrayValue?.first(where: { $0["feature"]?.stringValue == feature }),
                    let state = entry["state"]?.stringValue
                else { return nil }
                return (state, t)
            }
        }

        /// A signal's live value, as `axle signals` shows it.
        func value(of signal: String) throws -> Double? {
            let result = try AxleProcess.run(["signals", "--socket", harness.controlSocket, "--json", signal])
            return try JSONValue.parse(result.stdout)["signals"]?.arrayValue?.first?["value"]?.doubleValue
        }

        func trunkIsOpen(run: Int) throws -> Bool {
            try value(of: "Vehicle.Body.Trunk.Rear.IsOpen") == 1
        }

        func cleanUp() {
            answers.stop()
            harness.cleanUp()
        }
    }

    @Test("trunk.open while parked: ACCEPTED, IN_PROGRESS, SUCCEEDED once the trunk reports open; while driving: REJECTED")
    func trunkOpensOnlyWhenParked() throws {
        let rig = try Rig(vehicleID: "courier-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked")
        let request = rig.request("trunk.open")
        try rig.publish([rig.key.sign(request).payload()])
        let final = rig.finalResponse(for: request.id)
        #expect(final?.status == .succeeded, "\(rig.responses()) \(rig.harness.log())")
        #expect(rig.responses(for: request.id).map(\.status) == [.accepted, .inProgress, .succeeded])
        // `axle signals` reads a snapshot the pipeline refreshes four times a second.
        #expect(waitUntil(timeoutSeconds: 3, pollSeconds: 0.1) { (try? rig.trunkIsOpen(run: 0)) == true })
        #expect(final?.reason == nil, "this command opened the trunk")
        // Open already: the backend must be able to tell that this command did not open it.
        let again = rig.request("trunk.open")
        try rig.publish([rig.key.sign(again).payload()])
        let already = rig.finalResponse(for: again.id)
        #expect(already?.status == .succeeded, "\(rig.responses()) \(rig.harness.log())")
        #expect(already?.reason == .alreadySatisfied)
        #expect(already?.text?.hasPrefix("already so before the command") == true, "\(String(describing: already?.text))")
        agent.terminate(timeoutSeconds: 5)

        let driving = try rig.start(scenario: "highway", run: 1)
        defer { driving.terminate(timeoutSeconds: 5) }
        #expect(waitUntil(timeoutSeconds: 30, pollSeconds: 0.2) { ((try? rig.value(of: "Vehicle.Speed")) ?? 0) > 5 })
        let moving = rig.request("trunk.open")
        try rig.publish([rig.key.sign(moving).payload()])
        let refused = rig.finalResponse(for: moving.id)
        #expect(refused?.status == .rejected)
        #expect(refused?.reason == .preconditionFailed)
        #expect(refused?.text?.contains("Vehicle.Speed = ") == true, "\(String(describing: refused?.text))")
        // The gear with its label, as `axle signals` shows it (the demo sedan's gears are P, R, N, D).
        #expect(refused?.text?.contains(#/CurrentGear = \d+ \([PRND]\)/#) == true, "\(String(describing: refused?.text))")
        #expect(rig.responses(for: moving.id).count == 1, "nothing but the rejection")
    }

    @Test("a valid command replayed 1,000 times at once, and again after a restart, runs once")
    func replaysRunOnce() throws {
        let rig = try Rig(vehicleID: "replay-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked")
        let request = rig.request("doors.lock")
        let payload = rig.key.sign(request).payload()
        try rig.publish(payload, copies: 1000)
        #expect(waitUntil(timeoutSeconds: 60) { rig.responses(for: request.id).count >= 1002 }, "\(rig.responses(for: request.id).count) answers")
        var statuses = rig.responses(for: request.id)
        #expect(statuses.filter { $0.status == .accepted }.count == 1)
        #expect(statuses.filter { $0.status == .inProgress }.count == 1)
        #expect(statuses.filter { $0.status == .succeeded }.count == 1, "\(statuses.filter { $0.status.isFinal && $0.status != .rejected })")
        // QoS 1 is at least once: the broker may hand the agent a copy twice, and that copy is a replay too.
        #expect(statuses.filter { $0.reason == .replay }.count >= 999)
        #expect(statuses.allSatisfy { $0.reason == .replay || [.accepted, .inProgress, .succeeded].contains($0.status) })
        // Replays are refused before the journal claims them, so their answers go straight out and not into the
        // outbox: a replayed command cannot fill it (1,000 stored answers would have taken 1,000 sequence numbers).
        let outbox = try AxleProcess.run(["outbox", "--socket", rig.harness.controlSocket, "--json"])
        let lastSequence = try JSONValue.parse(outbox.stdout)["last_sequence"]?.intValue
        #expect((lastSequence ?? .max) < 100, "\(outbox.stdout)")
        agent.terminate(timeoutSeconds: 5)

        let again = try rig.start(scenario: "parked", run: 1)
        defer { again.terminate(timeoutSeconds: 5) }
        try rig.publish(payload, copies: 1000)
        #expect(waitUntil(timeoutSeconds: 60) { rig.responses(for: request.id).count >= 2002 }, "\(rig.responses(for: request.id).count) answers")
        statuses = rig.responses(for: request.id)
        #expect(statuses.filter { $0.status == .accepted }.count == 1, "accepted again after the restart")
        #expect(statuses.filter { $0.reason == .replay }.count >= 1999)
        #expect(statuses.filter { $0.status == .succeeded }.count == 1)
        let journal = try AxleProcess.run(["commands", "--socket", rig.harness.controlSocket, "--json"])
        #expect(journal.status == 0, "\(journal.stderr)")
        #expect(journal.stdout.ranges(of: request.id).count == 1, "the journal holds the command once: \(journal.stdout)")
        #expect(journal.stdout.contains("SUCCEEDED"))
    }

    @Test("forged, misdirected, stale and future commands are REJECTED with their own reason, and nothing runs")
    func forgeriesAreRejected() throws {
        let rig = try Rig(vehicleID: "guarded-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked")
        defer { agent.terminate(timeoutSeconds: 5) }
        let stranger = try CommandSigningKey.generate(keyID: "stranger")
        var cases: [(CommandRequest, [UInt8], CommandReason)] = []
        func add(_ request: CommandRequest, _ payload: [UInt8], _ reason: CommandReason) { cases.append((request, payload, reason)) }
        var request = rig.request("trunk.open", vehicle: "someone-else")
        add(request, rig.key.sign(request).payload(), .wrongVehicle)
        request = rig.request("trunk.open", issuedIn: -60_000, ttlMillis: 30_000)
        add(request, rig.key.sign(request).payload(), .expired)
        request = rig.request("trunk.open", issuedIn: 120_000)
        add(request, rig.key.sign(request).payload(), .notYetValid)
        request = rig.request("trunk.open", ttlMillis: 3_600_000)
        add(request, rig.key.sign(request).payload(), .expiryTooFar)
        request = rig.request("trunk.open")
        add(request, stranger.sign(request).payload(), .unknownKey)
        request = rig.request("trunk.open")
        add(request, rig.revoked.sign(request).payload(), .revokedKey)
        request = rig.request("trunk.open")
        var forged = rig.key.sign(request)
        forged.signature = rig.key.sign(rig.request("doors.lock")).signature
        add(request, forged.payload(), .badSignature)
        request = rig.request("trunk.open")
        forged = rig.key.sign(request)
        forged.signature = []
        add(request, forged.payload(), .missingSignature)
        request = rig.request("trunk.fly")
        add(request, rig.key.sign(request).payload(), .unknownCommand)
        request = rig.request("climate.precondition", ["temperature": .number(99)])
        add(request, rig.key.sign(request).payload(), .badParameters)
        try rig.publish(cases.map(\.1))
        for (request, _, reason) in cases {
            let answer = rig.finalResponse(for: request.id)
            #expect(answer?.status == .rejected, "\(reason)")
            #expect(answer?.reason == reason, "\(String(describing: answer))")
            #expect(answer?.text?.isEmpty == false)
        }
        // A bit flipped anywhere in a valid payload: still an answer, never an execution (every bit is flipped in
        // RemoteCommandsTests; here a spread of them goes through the broker and the agent).
        let valid = rig.key.sign(rig.request("trunk.open")).payload()
        let flips = stride(from: 3, to: valid.count * 8, by: max(1, valid.count * 8 / 40)).map { bit in
            var flipped = valid
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            return flipped
        }
        try rig.publish(flips)
        #expect(waitUntil(timeoutSeconds: 20) { rig.responses().count >= cases.count + flips.count }, "\(rig.responses().count) answers")
        #expect(rig.responses().allSatisfy { $0.status == .rejected }, "\(rig.responses().filter { $0.status != .rejected })")
        #expect(try !rig.trunkIsOpen(run: 0), "the trunk opened")
    }

    @Test("built-in commands answer with results; a second command on a busy message and a flood beyond the rate limit are REJECTED")
    func builtInsBusyAndRateLimited() throws {
        let rig = try Rig(vehicleID: "busy-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked", ["--command-rate-limit", "0.1"])
        defer { agent.terminate(timeoutSeconds: 5) }

        let snapshot = rig.request("diagnostics.snapshot", ["signals": .string("Vehicle.Speed, Vehicle.Powertrain.Transmission.CurrentGear")])
        let rule = rig.request("collection.update", ["rule": .string("motion"), "enabled": .bool(false)])
        let unknownRule = rig.request("collection.update", ["rule": .string("no-such-rule"), "enabled": .bool(false)])
        try rig.publish([snapshot, rule, unknownRule].map { rig.key.sign($0).payload() })
        let values = rig.finalResponse(for: snapshot.id)
        #expect(values?.status == .succeeded, "\(String(describing: values))")
        #expect(values?.result?["Vehicle.Speed"]?["value"]?.doubleValue == 0)
        #expect(values?.result?["Vehicle.Powertrain.Transmission.CurrentGear"]?["fresh"]?.boolValue == true)
        #expect(rig.finalResponse(for: rule.id)?.status == .succeeded)
        // `axle rules` reads the snapshot the pipeline refreshes four times a second.
        let motionOff = waitUntil(timeoutSeconds: 3, pollSeconds: 0.1) {
            guard let rules = try? AxleProcess.run(["rules", "--socket", rig.harness.controlSocket, "--json"]),
                let document = try? JSONValue.parse(rules.stdout)
            else { return false }
            return document["rules"]?.arrayValue?.first { $0["name"]?.stringValue == "motion" }?["enabled"]?.boolValue == false
        }
        #expect(motionOff, "the rule is still on")
        #expect(rig.finalResponse(for: unknownRule.id)?.reason == .badParameters)

        // The simulated trunk answers after about 0.4 s: a second trunk command meanwhile finds the message busy.
        let first = rig.request("trunk.open")
        let second = rig.request("trunk.open")
        try rig.publish([first, second].map { rig.key.sign($0).payload() })
        #expect(rig.finalResponse(for: first.id)?.status == .succeeded)
        #expect(rig.finalResponse(for: second.id)?.reason == .busy, "\(rig.responses(for: second.id))")

        // 0.1 per second with bursts of 10: five commands have taken a token each, and a few seconds have given back
        // less than one, so five or six of the twelve pass.
        let flood = (0..<12).map { _ in rig.request("diagnostics.snapshot") }
        try rig.publishAtOnce(flood.map { rig.key.sign($0).payload() })
        #expect(waitUntil(timeoutSeconds: 20) { flood.allSatisfy { rig.responses(for: $0.id).contains { $0.status.isFinal } } })
        let limited = flood.filter { request in rig.responses(for: request.id).contains { $0.reason == .rateLimited } }
        #expect(limited.count == 6 || limited.count == 7, "\(limited.count) rate limited")
    }

    @Test("SIGKILL after the journal records the start and before the first frame: INTERRUPTED after the restart, never run")
    func crashBetweenJournalAndFrame() throws {
        let rig = try Rig(vehicleID: "crash-1")
        defer { rig.cleanUp() }
        let doomed = try rig.start(scenario: "parked", environment: ["AXLE_FAULT_INJECTION=kill-after-journal"])
        let request = rig.request("trunk.open")
        let payload = rig.key.sign(request).payload()
        try rig.publish([payload])
        #expect(doomed.wait(timeoutSeconds: 15) == 128 + SIGKILL, "\(rig.harness.log())")
        #expect(rig.responses(for: request.id).isEmpty, "no answer before the crash: \(rig.responses(for: request.id))")

        let agent = try rig.start(scenario: "parked", run: 1)
        defer { agent.terminate(timeoutSeconds: 5) }
        let answer = rig.finalResponse(for: request.id)
        #expect(answer?.status == .interrupted, "\(rig.harness.log(run: 1))")
        #expect(answer?.reason == .agentRestarted)
        try rig.publish([payload])
        #expect(waitUntil(timeoutSeconds: 10) { rig.responses(for: request.id).contains { $0.reason == .replay } })
        #expect(!rig.responses(for: request.id).contains { $0.status == .inProgress || $0.status == .succeeded })
        #expect(try !rig.trunkIsOpen(run: 1), "the interrupted command ran after all")
    }

    @Test("a feature granted for 10 s is active at once and expires on time, also across an agent restart")
    func featureForTenSeconds() throws {
        let rig = try Rig(vehicleID: "feature-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked")
        let now = wallClockMillis()
        let until = now + 10_000
        let grant = rig.request("feature.activate", ["feature": .string("performance-boost"), "valid_until": .number(Double(until))])
        try rig.publish([rig.key.sign(grant).payload()])
        #expect(rig.finalResponse(for: grant.id)?.status == .succeeded, "\(rig.harness.log())")
        #expect(rig.featureStates("performance-boost").last?.state == "active")
        // Part of the feature's 10 s passes in this run, the rest across the restart: a duration, not a wait.
        usleep(3_000_000)
        agent.terminate(timeoutSeconds: 5)

        let restarted = try rig.start(scenario: "parked", run: 1)
        defer { restarted.terminate(timeoutSeconds: 5) }
        let features = try AxleProcess.run(["features", "--socket", rig.harness.controlSocket, "--json"])
        #expect(features.stdout.contains("\"active\""), "\(features.stdout)")
        #expect(waitUntil(timeoutSeconds: 15) { rig.featureStates("performance-boost").last?.state == "expired" })
        let expiry = rig.featureStates("performance-boost").first { $0.state == "expired" }
        let lateness = (expiry?.t ?? 0) - until
        #expect(lateness >= 0 && lateness < 1_000, "expired \(lateness) ms after valid_until")
        #expect(rig.harness.log(run: 1).contains("performance-boost: active → expired"))
    }
}
