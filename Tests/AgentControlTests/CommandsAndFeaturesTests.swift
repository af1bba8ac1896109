import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Control messages and socket: features and commands")
struct CommandsAndFeaturesTests {
    /// Through the wire: rendered, parsed back, decoded.
    private func wire(_ value: JSONValue) throws -> JSONValue {
        try JSONValue.parse(value.rendered())
    }

    /// The failure `ControlRequest(json:)` reports for a request line, or nil when it is accepted.
    private func refusal(_ text: String) throws -> ControlFailure? {
        let document = try JSONValue.parse(text)
        do {
            _ = try ControlRequest(json: document)
            return nil
        } catch {
            return error
        }
    }

    @Test("both reports survive toJSON → text → parse → init(json:), nulls included")
    func reportRoundTrips() throws {
        #expect(try FeaturesReport(json: wire(Fixtures.features.toJSON())) == Fixtures.features)
        #expect(try CommandsReport(json: wire(Fixtures.commands.toJSON())) == Fixtures.commands)
        #expect(try FeaturesReport(json: wire(FeaturesReport(features: []).toJSON())).features.isEmpty)
        let feature = Fixtures.features.features[1]
        #expect(try FeatureSummary(json: wire(feature.toJSON())) == feature)
        let command = Fixtures.commands.commands[1]
        #expect(try CommandSummary(json: wire(command.toJSON())) == command)
    }

    @Test("the wire form uses the documented snake_case field names, with null for no value")
    func fieldNames() throws {
        let boost = try #require(Fixtures.features.toJSON()["features"]?.arrayValue?[0])
        #expect(boost["feature"]?.stringValue == "performance-boost")
        #expect(boost["state"]?.stringValue == "active")
        #expect(boost["valid_from_millis"]?.intValue == 1_767_225_600_000)
        #expect(boost["valid_until_millis"]?.intValue == 1_767_312_000_000)
        #expect(boost["active_seconds"]?.doubleValue == 3_723)
        #expect(boost["command_id"]?.stringValue == "3f2a9c1e-7b4d-4e8a-9c0f-1d2e3f4a5b6c")
        let seats = try #require(Fixtures.features.toJSON()["features"]?.arrayValue?[1])
        #expect(seats["valid_from_millis"]?.isNull == true)
        #expect(seats["valid_until_millis"]?.isNull == true)

        let commands = try #require(Fixtures.commands.toJSON()["commands"]?.arrayValue)
        #expect(commands[1].rendered() == #"{"id":"0f1e2d3c-4b5a-4697-8877-665544332211","name":"trunk.open","#
            + #""status":"REJECTED","reason":"precondition_failed","text":"Vehicle.Speed is 12 km/h; trunk.open needs 0","#
            + #""received_millis":1767225590000,"updated_millis":1767225590001,"key_id":"backend-2026"}"#)
        #expect(commands[0]["reason"]?.isNull == true)
        #expect(commands[0]["text"]?.isNull == true)
    }

    @Test("a report from a newer agent, with extra fields and unknown states, still reads")
    func forwardCompatible() throws {
        let text = #"{"features":[{"feature":"f","state":"suspended","valid_from_millis":null,"#
            + #""active_seconds":1,"command_id":"c","added_in_v3":true}],"more":1}"#
        let report = try FeaturesReport(json: JSONValue.parse(text))
        #expect(report.features == [
            FeatureSummary(
                feature: "f", state: "suspended", validFromMillis: nil, validUntilMillis: nil, activeSeconds: 1,
                commandID: "c"),
        ])
        let command = try CommandSummary(json: JSONValue.parse(
            #"{"id":"i","name":"n","status":"QUEUED","received_millis":1,"updated_millis":2,"key_id":"k"}"#))
        #expect(command.status == "QUEUED")
        #expect(command.reason == nil && command.text == nil)
    }

    @Test("a report that does not fit names the field")
    func decodingErrors() throws {
        #expect(throws: ControlDecodingError(field: "features[0].active_seconds", message: "missing")) {
            try FeaturesReport(json: JSONValue.parse(#"{"features":[{"feature":"f","state":"active","command_id":"c"}]}"#))
        }
        #expect(throws: ControlDecodingError(field: "features[0].valid_until_millis", message: "expected a whole number, found a string")) {
            try FeaturesReport(json: JSONValue.parse(
                #"{"features":[{"feature":"f","state":"active","valid_until_millis":"tomorrow","active_seconds":0,"command_id":"c"}]}"#))
        }
        var members = try objectMembers(Fixtures.commands.commands[0].toJSON())
        members.removeAll { $0.0 == "key_id" }
        let broken = JSONValue.object([("commands", .array([Fixtures.commands.commands[1].toJSON(), .object(members)]))])
        #expect(throws: ControlDecodingError(field: "commands[1].key_id", message: "missing")) {
            try CommandsReport(json: broken)
        }
        #expect(throws: ControlDecodingError(field: "commands[0].received_millis", message: "99999999999999999999 is out of range (-9223372036854775808...9223372036854775807)")) {
            try CommandsReport(json: JSONValue.parse(
                #"{"commands":[{"id":"i","name":"n","status":"S","received_millis":99999999999999999999,"updated_millis":0,"key_id":"k"}]}"#))
        }
        #expect(throws: ControlDecodingError(field: "commands", message: "expected an array, found an object")) {
            try CommandsReport(json: JSONValue.parse(#"{"commands":{}}"#))
        }
    }

    @Test("the features and commands requests round-trip; commands takes a limit from 1 to 1000, default 20")
    func requests() throws {
        for request in [ControlRequest.features, .commands(limit: 1), .commands(limit: 1000)] {
            #expect(try ControlRequest(json: wire(request.toJSON())) == request)
        }
        #expect(ControlRequest.features.toJSON().rendered() == #"{"request":"features"}"#)
        #expect(ControlRequest.commands(limit: 5).toJSON().rendered() == #"{"request":"commands","limit":5}"#)
        #expect(try ControlRequest(json: JSONValue.parse(#"{"request":"commands"}"#)) == .commands(limit: 20))
        #expect(!ControlRequest.features.changesState, "anyone who may open the socket may list features")
        #expect(!ControlRequest.commands(limit: 20).changesState)

        #expect(try refusal(#"{"request":"commands","limit":0}"#)
            == ControlFailure(.badRequest, "malformed request: limit: must be between 1 and 1000, not 0"))
        #expect(try refusal(#"{"request":"commands","limit":1001}"#)?.message
            == "malformed request: limit: must be between 1 and 1000, not 1001")
        #expect(try refusal(#"{"request":"commands","limit":"ten"}"#)
            == ControlFailure(.badRequest, "malformed request: limit: expected a whole number, found a string"))
        #expect(try refusal(#"{"request":"featurez"}"#)?.message
            == "unknown request 'featurez'; this agent knows status, signals, outbox, events, rules, set-rule, features, commands, diagnostic and config")
    }

    @Test("the server answers features and commands from the handler")
    func served() throws {
        let running = try RunningServer()
        #expect(try running.client.features() == Fixtures.features)
        #expect(try running.client.commands(limit: 20) == Fixtures.commands)
        #expect(running.agent.calls.withLock { $0 } == ["features", "commands 20"])
    }

    @Test("the server cuts the command list to the limit itself, keeping the newest")
    func commandLimit() throws {
        let running = try RunningServer()
        #expect(try running.client.commands(limit: 2).commands.map(\.id)
            == ["9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", "0f1e2d3c-4b5a-4697-8877-665544332211"])
        let line = try running.client.exchange(line: #"{"request":"commands","limit":1}"#)
        #expect(line == #"{"ok":true,"result":{"commands":["# + Fixtures.commands.commands[0].toJSON().rendered() + "]}}")
    }

    @Test("callers without privilege may read features and commands")
    func readOnlyForEveryone() throws {
        let running = try RunningServer(policy: ControlPolicy(privilegedUIDs: []))
        #expect(try running.client.features() == Fixtures.features)
        #expect(try running.client.commands(limit: 3).commands.count == 3)
    }

    @Test("a failing handler becomes a failed response naming the request")
    func handlerFailure() throws {
        let broken = try RunningServer(agent: FakeAgent(failure: SystemError(call: "read", subject: "commands.db", errno: EIO)))
        do {
            _ = try broken.client.commands(limit: 20)
            Issue.record("a failing handler answered")
        } catch {
            #expect(error.failure?.code == .failed)
            #expect(error.message == "the agent could not answer 'commands': commands.db: Input/output error (read)")
        }
        do {
            _ = try broken.client.features()
            Issue.record("a failing handler answered")
        } catch {
            #expect(error.message.hasPrefix("the agent could not answer 'features': "))
        }
    }
}
