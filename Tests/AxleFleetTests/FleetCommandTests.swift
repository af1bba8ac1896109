import AxleBase
import AxleTestSupport
import MQTTUplink
import RemoteCommands
import TelemetryPayload
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// End to end: the built `axle-fleet` against Debian's mosquitto and a scripted responder in the test.
@Suite("axle-fleet", .serialized)
struct FleetCommandTests {
    // MARK: - keygen and create

    @Test("keygen writes PREFIX.key (0600) and PREFIX.pub, prints the key id, and never overwrites")
    func keygen() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-keygen")
        defer { removeTree(directory) }
        let prefix = directory + "/ops-2026"
        let result = try FleetProcess.run(["keygen", "--out", prefix])
        #expect(result.status == 0, "\(result.both)")
        #expect(result.stdout.contains("key id: ops-2026\n"))
        #expect(result.stdout.contains(prefix + ".key") && result.stdout.contains(prefix + ".pub"))
        var info = stat()
        #expect(stat(prefix + ".key", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let key = try CommandSigningKey(contentsOfFile: prefix + ".key")
        #expect(key.keyID == "ops-2026")
        #expect(try CommandPublicKey(contentsOfFile: prefix + ".pub") == key.publicKey)

        let original = AxleProcess.readText(prefix + ".key")
        let again = try FleetProcess.run(["keygen", "--out", prefix, "--key-id", "other"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"), "\(again.both)")
        #expect(AxleProcess.readText(prefix + ".key") == original)

        let named = try FleetProcess.run(["keygen", "--out", directory + "/x", "--key-id", "backend.eu-1"])
        #expect(named.status == 0, "\(named.both)")
        #expect(try CommandSigningKey(contentsOfFile: directory + "/x.key").keyID == "backend.eu-1")
    }

    @Test("create writes a payload that verifies with the .pub, with the parameters typed from k=v")
    func create() throws {
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let out = keys.directory + "/climate.json"
        let result = try FleetProcess.run([
            "command", "create", "--vehicle", "demo-001", "--key", keys.keyFile, "--ttl", "2m", "--out", out,
            "climate.precondition", "temperature=21.5", "duration=600",
        ])
        #expect(result.status == 0, "\(result.both)")
        #expect(result.stdout.hasPrefix("wrote \(out): climate.precondition for demo-001"))

        let payload = try FileInput.readAll(path: out)
        let verifier = CommandVerifier(
            vehicleID: "demo-001", trustStore: TrustStore(keys: [try keys.publicKey()]),
            catalog: CommandCatalog([
                "climate.precondition": [
                    ParameterSpec(name: "temperature", kind: .number(min: 16, max: 28)),
                    ParameterSpec(name: "duration", kind: .number(min: 60, max: 3600)),
                ]
            ]))
        let verified = try verifier.verify(payload: payload, nowMillis: wallClockMillis(), monotonicNow: monotonicSeconds()).get()
        #expect(verified.keyID == "ops-test")
        #expect(verified.request.parameters == ["temperature": .number(21.5), "duration": .number(600)])
        #expect(verified.request.expiresAtMillis - verified.request.issuedAtMillis == 120_000)

        // Another vehicle, or a flipped byte, does not verify.
        let otherVehicle = CommandVerifier(
            vehicleID: "demo-002", trustStore: TrustStore(keys: [try keys.publicKey()]), catalog: CommandCatalog([:]))
        #expect(throws: CommandRejection.self) {
            try otherVehicle.verify(payload: payload, nowMillis: wallClockMillis(), monotonicNow: monotonicSeconds()).get()
        }
    }

    @Test("bad k=v, a bad ttl or duration, and missing options are usage errors (64)")
    func usageErrors() throws {
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let base = ["command", "send", "--broker", "mqtt://127.0.0.1:1", "--vehicle", "demo-001", "--key", keys.keyFile]
        for (arguments, fragment) in [
            (base + ["trunk.open", "force"], "'force' is not a parameter"),
            (base + ["trunk.open", "--ttl", "soon"], "--ttl 'soon' is not a duration"),
            (base + ["trunk.open", "--ttl=-5s"], "is not a duration"),
            (base + ["trunk.open", "--ttl", "0s"], "is not a duration"),
            (base, "give the command's name"),
            (["command", "create", "--vehicle", "demo-001", "--key", keys.keyFile, "--out", "/tmp/x", "a", "b=1", "b=2"], "given twice"),
            (["feature", "grant", "--broker", "mqtt://127.0.0.1:1", "--vehicle", "v", "--feature", "f", "--key", keys.keyFile,
              "--duration", "forever"], "--duration 'forever' is not a duration"),
            (["command", "send", "--broker", "mqtt://127.0.0.1:1", "--vehicle", "demo-001", "trunk.open"], "--key"),
            (["watch", "--broker", "http://x", "--vehicle", "v"], "--broker"),
            (["watch", "--broker", "mqtt://x", "--vehicle", "v", "--format", "xml"], "text or jsonl"),
        ] {
            let result = try FleetProcess.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.both)")
            #expect(result.stderr.contains(fragment), "\(arguments): \(result.both)")
        }
    }

    // MARK: - send

    @Test("send on MQTT 5: each status as a JSON line, SUCCEEDED exits 0; request carries expiry, response topic, correlation")
    func sendSucceeds() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(broker, answers: [
            .init(status: .accepted), .init(status: .inProgress), .init(status: .succeeded, result: .object([("Body.Trunk.IsOpen", true)])),
        ])
        let result = try FleetProcess.run([
            "command", "send", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile, "trunk.open",
            "--ttl", "20s", "--json",
        ])
        #expect(result.status == 0, "\(result.both)")
        let lines = try result.lines.map { try JSONValue.parse($0) }
        #expect(lines.map { $0["status"]?.stringValue } == ["ACCEPTED", "IN_PROGRESS", "SUCCEEDED"])
        #expect(lines[2]["result"] == JSONValue.object([("Body.Trunk.IsOpen", true)]))

        let request = try #require(responder.requests.first)
        #expect(request.topic == "axle/v1/demo-001/cmd/req")
        let signed = try SignedCommand.parse(payload: request.payload)
        let body = try CommandRequest.parse(body: signed.body)
        #expect(Set(lines.compactMap { $0["id"]?.stringValue }) == [body.id])
        #expect(body.name == "trunk.open" && body.vehicle == "demo-001")
        #expect(try keys.publicKey().isValidSignature(signed.signature, forBody: signed.body))
        #expect((1...20).contains(request.properties.messageExpirySeconds ?? 0))
        #expect(request.properties.responseTopic?.hasPrefix("axle/v1/demo-001/cmd/res/") == true)
        #expect(request.properties.correlationData == Array(body.id.utf8))
        #expect(result.stderr.contains("sent trunk.open to demo-001 (id \(body.id))"))
    }

    @Test("a REJECTED answer exits 1 and prints the reason and text")
    func sendRejected() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(broker, answers: [
            .init(status: .rejected, reason: .preconditionFailed, text: "Vehicle.Speed is 42 km/h; trunk.open needs 0")
        ])
        let result = try FleetProcess.run([
            "command", "send", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile, "trunk.open",
        ])
        #expect(result.status == 1, "\(result.both)")
        #expect(result.lines.count == 1)
        #expect(result.stdout.contains("  REJECTED  precondition_failed: Vehicle.Speed is 42 km/h; trunk.open needs 0\n"), "\(result.both)")
        #expect(responder.requests.count == 1)
    }

    @Test("no answer: exit 3 after --wait, saying what to do")
    func sendNoAnswer() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(broker, answers: nil)
        let result = try FleetProcess.run([
            "command", "send", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile, "doors.lock",
            "--wait", "1.5",
        ])
        #expect(result.status == 3, "\(result.both)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("no final status from demo-001 within 1.5 s (last status: none)"), "\(result.both)")
        #expect(responder.requests.count == 1)
    }

    @Test("no subscriber for the vehicle's request topic: exit 3 at once, saying the command was not delivered")
    func sendNobodyListening() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let result = try FleetProcess.run([
            "command", "send", "--broker", broker.url, "--vehicle", "demo-404", "--key", keys.keyFile, "doors.lock",
            "--wait", "120",
        ], timeoutSeconds: 60)
        #expect(result.status == 3, "\(result.both)")
        #expect(result.stderr.contains("nobody subscribes to axle/v1/demo-404/cmd/req"), "\(result.both)")
    }

    @Test("no broker: exit 3 with the connection failure")
    func sendNoBroker() throws {
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let port = try LoopbackPort.free()
        let result = try FleetProcess.run([
            "command", "send", "--broker", "mqtt://127.0.0.1:\(port)", "--vehicle", "demo-001", "--key", keys.keyFile, "doors.lock",
        ])
        #expect(result.status == 3, "\(result.both)")
        #expect(result.stderr.contains("cannot connect to mqtt://127.0.0.1:\(port)"), "\(result.both)")
    }

    @Test("MQTT 3.1.1: statuses come on the shared cmd/res topic and only this command's are kept")
    func sendMQTT311() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(
            broker, version: .v311, answers: [.init(status: .accepted), .init(status: .succeeded)], foreignFirst: true)
        let result = try FleetProcess.run([
            "command", "send", "--broker", broker.url, "--mqtt-version", "3.1.1", "--vehicle", "demo-001", "--key", keys.keyFile,
            "doors.lock", "--json",
        ])
        #expect(result.status == 0, "\(result.both)")
        let request = try #require(responder.requests.first)
        let id = try CommandRequest.parse(body: SignedCommand.parse(payload: request.payload).body).id
        let lines = try result.lines.map { try JSONValue.parse($0) }
        #expect(lines.map { $0["status"]?.stringValue } == ["ACCEPTED", "SUCCEEDED"], "\(result.both)")
        #expect(lines.allSatisfy { $0["id"]?.stringValue == id })
    }

    @Test("send --payload publishes the created file byte for byte; the vehicle comes from its body")
    func sendPayload() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let file = keys.directory + "/lock.json"
        let created = try FleetProcess.run([
            "command", "create", "--vehicle", "demo-007", "--key", keys.keyFile, "--out", file, "doors.lock", "--ttl", "1m",
        ])
        #expect(created.status == 0, "\(created.both)")
        let responder = try Responder(broker, answers: [.init(status: .succeeded)])
        let result = try FleetProcess.run(["command", "send", "--broker", broker.url, "--payload", file])
        #expect(result.status == 0, "\(result.both)")
        let request = try #require(responder.requests.first)
        #expect(request.topic == "axle/v1/demo-007/cmd/req")
        #expect(request.payload == (try FileInput.readAll(path: file)))
        #expect(result.stdout.contains("  SUCCEEDED"))

        _ = try AxleProcess.writeFile(keys.directory + "/junk.json", "{\"v\":1}")
        let junk = try FleetProcess.run(["command", "send", "--broker", broker.url, "--payload", keys.directory + "/junk.json"])
        #expect(junk.status == 1)
        #expect(junk.stderr.contains("junk.json is not a command payload"), "\(junk.both)")
    }

    @Test("feature grant sends feature.activate valid for the duration; revoke sends feature.revoke")
    func features() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(broker, answers: [.init(status: .accepted), .init(status: .succeeded)])
        let before = wallClockMillis()
        let grant = try FleetProcess.run([
            "feature", "grant", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile,
            "--feature", "performance-boost", "--duration", "24h",
        ])
        let after = wallClockMillis()
        #expect(grant.status == 0, "\(grant.both)")
        let revoke = try FleetProcess.run([
            "feature", "revoke", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile,
            "--feature", "performance-boost", "--json",
        ])
        #expect(revoke.status == 0, "\(revoke.both)")
        let requests = try responder.requests.map { try CommandRequest.parse(body: SignedCommand.parse(payload: $0.payload).body) }
        #expect(requests.map(\.name) == ["feature.activate", "feature.revoke"])
        #expect(requests[0].parameters["feature"] == .string("performance-boost"))
        guard case .number(let until) = requests[0].parameters["valid_until"] else {
            Issue.record("no valid_until in \(requests[0].parameters)")
            return
        }
        #expect(Int64(until) >= before + 86_400_000 && Int64(until) <= after + 86_400_000)
        #expect(requests[1].parameters == ["feature": .string("performance-boost")])
    }

    // MARK: - watch

    @Test("watch --format jsonl decodes a telemetry batch, status and responses, and reports undecodable payloads")
    func watch() throws {
        let broker = try MosquittoBroker()
        let watcher = try FleetProcess.Running([
            "watch", "--broker", broker.url, "--vehicle", "+", "--format", "jsonl", "--count", "4", "--duration", "30",
        ])
        #expect(waitUntil(timeoutSeconds: 20) { watcher.stderr.contains("watching axle/v1/+/#") }, "\(watcher.stderr)")

        var builder = TelemetryBatchBuilder(
            vehicleID: "demo-001", profile: "demo-sedan",
            signals: [SignalDescription(name: "Vehicle.Speed", unit: "km/h", factor: 0.01)])
        builder.append(signal: 0, timeMicros: 1_767_225_600_000_000, raw: 4_250)
        builder.append(signal: 0, timeMicros: 1_767_225_600_100_000, raw: 4_300)
        let payload = try builder.encode(sequence: { _ in 77 })[0]
        let publisher = try TestPeer(broker, name: "vehicle")
        try publisher.publish(MQTTMessage(topic: "axle/v1/demo-001/telemetry", payload: payload))
        try publisher.publish(MQTTMessage(topic: "axle/v1/demo-002/telemetry", payload: Array("garbage".utf8)))
        try publisher.publish(MQTTMessage(topic: "axle/v1/demo-001/status", text: #"{"state":"online","vehicle":"demo-001"}"#))
        let response = CommandResponse(id: "r-1", vehicle: "demo-001", name: "trunk.open", status: .timedOut,
            timeMillis: 1_767_225_601_000, reason: .noConfirmation, text: "no feedback")
        try publisher.publish(MQTTMessage(topic: "axle/v1/demo-001/cmd/res", payload: response.payload()))

        let result = watcher.finish(timeoutSeconds: 30)
        #expect(result.status == 0, "\(result.both)")
        let lines = try result.lines.map { try JSONValue.parse($0) }
        #expect(lines.count == 5, "\(result.both)")
        let samples = lines.filter { $0["kind"] == "sample" }
        #expect(samples.map { $0["vehicle"]?.stringValue } == ["demo-001", "demo-001"])
        #expect(samples.map { $0["seq"]?.intValue } == [77, 77])
        #expect(samples.map { $0["signal"]?.stringValue } == ["Vehicle.Speed", "Vehicle.Speed"])
        #expect(samples.map { $0["t"]?.intValue } == [1_767_225_600_000, 1_767_225_600_100])
        #expect(samples.map { $0["value"]?.doubleValue } == [42.5, 43])
        let error = try #require(lines.first { $0["kind"] == "error" })
        #expect(error["topic"] == "axle/v1/demo-002/telemetry")
        #expect(lines.contains { $0["kind"] == "status" && $0["state"] == "online" })
        let responseLine = try #require(lines.first { $0["kind"] == "response" })
        #expect(responseLine["status"] == "TIMED_OUT" && responseLine["reason"] == "no_confirmation" && responseLine["id"] == "r-1")
    }

    @Test("watch stops cleanly on SIGTERM")
    func watchSignal() throws {
        let broker = try MosquittoBroker()
        let watcher = try FleetProcess.Running(["watch", "--broker", broker.url, "--vehicle", "demo-001"])
        #expect(waitUntil(timeoutSeconds: 20) { watcher.stderr.contains("watching axle/v1/demo-001/#") }, "\(watcher.stderr)")
        try broker.publish(topic: "axle/v1/demo-001/features", message: #"{"vehicle":"demo-001","t":1,"features":[]}"#)
        #expect(waitUntil(timeoutSeconds: 20) { watcher.stdout.contains("features") }, "\(watcher.stdout)")
        watcher.child.send(signal: SIGTERM)
        let result = watcher.finish(timeoutSeconds: 20)
        #expect(result.status == 0, "\(result.both)")
        #expect(result.stdout.contains("demo-001  features  {\"t\":1,\"features\":[]}"), "\(result.both)")
    }
}
