import AxleBase
import AxleFleet
import MQTTUplink
import RemoteCommands
import TelemetryPayload
import Testing

/// The small types behind the commands, without a broker.
@Suite("axle-fleet logic")
struct FleetLogicTests {
    @Test("k=v words: numbers, bools, quoted and plain strings")
    func parameterValues() throws {
        let parameters = try CommandParameterText.parse([
            "temperature=21.5", "duration=600", "offset=-3", "enabled=true", "heated=false", "rule=cabin-temp",
            "code=\"0042\"", "empty=", "label=nan", "hex=0x10", "note=a=b",
        ])
        #expect(parameters["temperature"] == .number(21.5))
        #expect(parameters["duration"] == .number(600))
        #expect(parameters["offset"] == .number(-3))
        #expect(parameters["enabled"] == .bool(true))
        #expect(parameters["heated"] == .bool(false))
        #expect(parameters["rule"] == .string("cabin-temp"))
        #expect(parameters["code"] == .string("0042"))
        #expect(parameters["empty"] == .string(""))
        #expect(parameters["label"] == .string("nan"))
        #expect(parameters["hex"] == .string("0x10"))
        #expect(parameters["note"] == .string("a=b"))
    }

    @Test("bad k=v words are usage errors that say how to write them")
    func badParameters() {
        for (words, fragment) in [
            (["temperature"], "write NAME=VALUE"), (["=5"], "write NAME=VALUE"), (["a b=1"], "letters, digits"),
            (["x=1", "x=2"], "given twice"),
        ] {
            #expect(throws: FleetError.self) { try CommandParameterText.parse(words) }
            do throws(FleetError) {
                _ = try CommandParameterText.parse(words)
            } catch {
                #expect(error.exitCode == 64)
                #expect(error.description.contains(fragment), "\(words): \(error.description)")
            }
        }
        let tooMany = (0...CommandParameterText.maximumCount).map { "p\($0)=1" }
        #expect(throws: FleetError.self) { try CommandParameterText.parse(tooMany) }
    }

    @Test("durations: ms, s, m or min, h, d (DurationSyntax) and bare seconds; anything else is refused")
    func durations() {
        #expect(DurationText.milliseconds("500ms") == 500)
        #expect(DurationText.milliseconds("30s") == 30_000)
        #expect(DurationText.milliseconds("1.5s") == 1_500)
        #expect(DurationText.milliseconds("2m") == 120_000)
        #expect(DurationText.milliseconds("24h") == 86_400_000)
        #expect(DurationText.milliseconds("7d") == 604_800_000)
        #expect(DurationText.milliseconds("45") == 45_000)
        #expect(DurationText.milliseconds("2min") == 120_000)
        #expect(DurationText.milliseconds("30 s") == 30_000)
        for bad in ["", "s", "30x", "-1s", "0s", "1e3s", "+5s", "5sec", "thirty"] {
            #expect(DurationText.milliseconds(bad) == nil, "\(bad)")
        }
        #expect(throws: FleetError.usage("--ttl 'soon' is not a duration: write \(DurationSyntax.forms), above 0 (a bare number is seconds)")) {
            try DurationText.parse("soon", option: "--ttl")
        }
    }

    @Test("topics: the vehicle is one level; '+' only where watching allows it")
    func topics() throws {
        let topics = try FleetTopics(prefix: "fleet/eu/", vehicle: "demo-001")
        #expect(topics.commandRequests == "fleet/eu/demo-001/cmd/req")
        #expect(topics.responseTopic(token: "abc") == "fleet/eu/demo-001/cmd/res/abc")
        #expect(try FleetTopics(prefix: "axle/v1", vehicle: "+", allowWildcard: true).everything == "axle/v1/+/#")
        #expect(throws: FleetError.self) { try FleetTopics(prefix: "axle/v1", vehicle: "+") }
        #expect(throws: FleetError.self) { try FleetTopics(prefix: "axle/v1", vehicle: "a/b") }
        #expect(throws: FleetError.self) { try FleetTopics(prefix: "axle/#", vehicle: "a") }
        #expect(FleetTopics.randomToken().count == 16)
        #expect(FleetTopics.randomToken() != FleetTopics.randomToken())
    }

    @Test("requests: issued now, expiring after the ttl, counter in microseconds; feature parameters")
    func requests() {
        let request = CommandIssuer.request(
            vehicle: "demo-001", name: "trunk.open", parameters: [:], ttlMillis: 30_000, nowMicros: 1_767_225_600_123_456)
        #expect(request.issuedAtMillis == 1_767_225_600_123)
        #expect(request.expiresAtMillis == 1_767_225_630_123)
        #expect(request.counter == 1_767_225_600_123_456)
        #expect(CommandRequest.isValidID(request.id))

        let now: Int64 = 1_767_225_600_000
        #expect(
            CommandIssuer.activationParameters(feature: "performance-boost", durationMillis: 86_400_000, fromMillis: nil, nowMillis: now)
                == ["feature": .string("performance-boost"), "valid_until": .number(Double(now + 86_400_000))])
        #expect(
            CommandIssuer.activationParameters(feature: "heated-seats", durationMillis: nil, fromMillis: nil, nowMillis: now)
                == ["feature": .string("heated-seats")])
        #expect(
            CommandIssuer.activationParameters(feature: "x", durationMillis: 10_000, fromMillis: now + 60_000, nowMillis: now)
                == ["feature": .string("x"), "valid_from": .number(Double(now + 60_000)), "valid_until": .number(Double(now + 70_000))])
    }

    @Test("response lines: status, reason and text for people; the payload as one JSON line for programs")
    func responseLines() throws {
        let rejected = CommandResponse(
            id: "0b8e4f7a-3c9d-4e2f-8a1b-5c6d7e8f9a0b", vehicle: "demo-001", name: "trunk.open", status: .rejected,
            timeMillis: 1_767_225_600_123, reason: .preconditionFailed, text: "Vehicle.Speed is 42 km/h; needs 0")
        let text = ResponseFormatter.text(rejected)
        #expect(text.hasSuffix(".123  REJECTED  precondition_failed: Vehicle.Speed is 42 km/h; needs 0"), "\(text)")
        #expect(text.split(separator: " ")[0].count == "14:02:03.123".count)

        let payload = Array(#"{"id":"x","vehicle":"demo-001","status":"SUCCEEDED","t":5, "result": {"Vehicle.Speed": 0}, "extra":1}"#.utf8)
        let succeeded = try CommandResponse.parse(payload)
        #expect(ResponseFormatter.json(payload: payload, response: succeeded)
            == #"{"id":"x","vehicle":"demo-001","status":"SUCCEEDED","t":5,"result":{"Vehicle.Speed":0},"extra":1}"#)
        #expect(ResponseFormatter.text(succeeded).hasSuffix("SUCCEEDED  result: {\"Vehicle.Speed\":0}"))
    }

    @Test("watch lines: samples with vehicle, seq, signal, t and value; events; status; errors never throw")
    func watchLines() throws {
        let renderer = WatchRenderer(prefix: "axle/v1", format: .jsonl)
        var builder = TelemetryBatchBuilder(
            vehicleID: "demo-001", profile: "demo-sedan",
            signals: [SignalDescription(name: "Vehicle.Speed", unit: "km/h", factor: 0.5), SignalDescription(name: "Vehicle.Temp")])
        builder.append(signal: 0, timeMicros: 1_767_225_600_000_000, raw: 85)
        builder.append(signal: 1, timeMicros: 1_767_225_600_250_000, value: 21.25)
        builder.append(TelemetryEvent(name: "harsh_braking", timeMicros: 1_767_225_601_000_000, priority: "alert",
            attributes: ["zone": "depot"]))
        let payload = try builder.encode(sequence: { _ in 41 })[0]
        let lines = renderer.lines(for: MQTTMessage(topic: "axle/v1/demo-001/telemetry", payload: payload))
        #expect(lines == [
            #"{"kind":"sample","vehicle":"demo-001","seq":41,"signal":"Vehicle.Speed","t":1767225600000,"value":42.5,"unit":"km/h"}"#,
            #"{"kind":"sample","vehicle":"demo-001","seq":41,"signal":"Vehicle.Temp","t":1767225600250,"value":21.25}"#,
            #"{"kind":"event","vehicle":"demo-001","seq":41,"name":"harsh_braking","priority":"alert","t":1767225601000,"window_samples":0,"attributes":{"zone":"depot"}}"#,
        ])

        let status = renderer.lines(for: MQTTMessage(
            topic: "axle/v1/demo-001/status", text: #"{"state":"online","vehicle":"demo-001","version":"1.0"}"#, retain: true))
        #expect(status == [#"{"kind":"status","vehicle":"demo-001","retained":true,"state":"online","version":"1.0"}"#])

        let garbage = renderer.lines(for: MQTTMessage(topic: "axle/v1/demo-001/telemetry", payload: [0xFF, 0x00, 0x13]))
        #expect(garbage.count == 1)
        let error = try JSONValue.parse(garbage[0])
        #expect(error["kind"] == "error")
        #expect(error["topic"] == "axle/v1/demo-001/telemetry")
        #expect(error["why"]?.stringValue?.isEmpty == false)

        #expect(renderer.lines(for: MQTTMessage(topic: "axle/v1/demo-001/features", text: "not json"))[0].contains(#""kind":"error""#))
        #expect(renderer.lines(for: MQTTMessage(topic: "elsewhere/x", text: "{}"))[0].contains(#""kind":"error""#))

        let text = WatchRenderer(prefix: "axle/v1", format: .text).lines(
            for: MQTTMessage(topic: "axle/v1/demo-001/telemetry", payload: payload))
        #expect(text[0].hasSuffix("  demo-001  #41  Vehicle.Speed = 42.5 km/h"), "\(text[0])")
        #expect(text[2].contains("EVENT harsh_braking (alert)"))
    }

    @Test("watch lines: a value that was not a reading is a not_reading line with its status, never a number")
    func watchNotReadings() throws {
        var builder = TelemetryBatchBuilder(
            vehicleID: "truck-7", profile: "fleet-truck-j1939",
            signals: [SignalDescription(name: "Vehicle.Private.Trailer.CargoTemperature", unit: "celsius")])
        builder.appendNotReading(signal: 0, timeMicros: 1_767_225_600_000_000, kind: .notAvailable)
        builder.appendNotReading(signal: 0, timeMicros: 1_767_225_601_000_000, kind: .error)
        let payload = try builder.encode(sequence: { _ in 9 })[0]
        let message = MQTTMessage(topic: "axle/v1/truck-7/telemetry", payload: payload)
        #expect(WatchRenderer(prefix: "axle/v1", format: .jsonl).lines(for: message) == [
            #"{"kind":"not_reading","vehicle":"truck-7","seq":9,"signal":"Vehicle.Private.Trailer.CargoTemperature","t":1767225600000,"status":"not_available"}"#,
            #"{"kind":"not_reading","vehicle":"truck-7","seq":9,"signal":"Vehicle.Private.Trailer.CargoTemperature","t":1767225601000,"status":"error"}"#,
        ])
        let text = WatchRenderer(prefix: "axle/v1", format: .text).lines(for: message)
        #expect(text.count == 2)
        #expect(text[0].hasSuffix("  truck-7  #9  Vehicle.Private.Trailer.CargoTemperature: not available"), "\(text)")
        #expect(text[1].hasSuffix(": error indicator"), "\(text)")
    }
}
