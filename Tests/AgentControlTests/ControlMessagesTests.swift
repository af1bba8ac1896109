import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Control messages")
struct ControlMessagesTests {
    /// Through the wire: rendered, parsed back, decoded.
    private func wire(_ value: JSONValue) throws -> JSONValue {
        try JSONValue.parse(value.rendered())
    }

    @Test("every report survives toJSON → text → parse → init(json:)")
    func reportRoundTrips() throws {
        #expect(try StatusReport(json: wire(Fixtures.status.toJSON())) == Fixtures.status)
        #expect(try OutboxReport(json: wire(Fixtures.outbox.toJSON())) == Fixtures.outbox)
        #expect(try SignalsReport(json: wire(Fixtures.signals.toJSON())) == Fixtures.signals)
        #expect(try EventsReport(json: wire(Fixtures.events.toJSON())) == Fixtures.events)
        #expect(try RulesReport(json: wire(Fixtures.rules.toJSON())) == Fixtures.rules)
        let rule = RuleSummary(name: "x", kind: "periodic", enabled: false)
        #expect(try RuleSummary(json: wire(rule.toJSON())) == rule)
    }

    @Test("the wire form uses the documented field names")
    func fieldNames() throws {
        let status = Fixtures.status.toJSON()
        #expect(status["vehicle_id"]?.stringValue == "WDD1234567890")
        #expect(status["uptime_seconds"]?.doubleValue == 11_723.5)
        #expect(status["buses"]?.arrayValue?[0]["state"]?.stringValue == "error-passive")
        #expect(status["buses"]?.arrayValue?[1]["load_percent"]?.isNull == true)
        #expect(status["uplink"]?["in_flight"]?.intValue == 4)
        #expect(status["collection"]?["rules_enabled"]?.intValue == 5)
        #expect(status["last_errors"]?.arrayValue?[0]["component"]?.stringValue == "uplink")
        let outbox = Fixtures.outbox.toJSON()
        #expect(outbox["last_sequence"]?.rendered() == "18446744073709551615", "a UInt64 sequence is not rounded")
        #expect(outbox["classes"]?.arrayValue?[2]["class"]?.stringValue == "telemetry")
        #expect(outbox["evicted_ranges"]?.arrayValue?[1]["reason"]?.stringValue == "expired")
    }

    @Test("a report from a newer agent, with extra fields and unknown states, still reads")
    func forwardCompatible() throws {
        var members = try objectMembers(Fixtures.status.toJSON())
        members.append(("added_in_v2", .string("ignored")))
        var bus = try objectMembers(members[7].1.arrayValue?.first)
        bus[2].1 = .string("sleeping")
        members[7].1 = .array([.object(bus)])
        let report = try StatusReport(json: .object(members))
        #expect(report.buses[0].state.rawValue == "sleeping")
    }

    @Test("a report that does not fit names the field")
    func decodingErrors() throws {
        var members = try objectMembers(Fixtures.status.toJSON())
        var bus = try objectMembers(members[7].1.arrayValue?.dropFirst().first)
        bus.removeAll { $0.0 == "state" }
        members[7].1 = .array([members[7].1.arrayValue![0], .object(bus)])
        #expect(throws: ControlDecodingError(field: "buses[1].state", message: "missing")) {
            try StatusReport(json: .object(members))
        }
        #expect(throws: ControlDecodingError(field: "rules[0].enabled", message: "expected true or false, found a string")) {
            try RulesReport(json: JSONValue.parse(#"{"rules":[{"name":"a","kind":"b","enabled":"yes"}]}"#))
        }
        #expect(throws: ControlDecodingError(field: "pid", message: "99999999999 is out of range (-2147483648...2147483647)")) {
            var members = try objectMembers(Fixtures.status.toJSON())
            members[4].1 = .integer(99_999_999_999)
            _ = try StatusReport(json: .object(members))
        }
        #expect(throws: ControlDecodingError(field: "", message: "expected an object, found an array")) {
            try EventsReport(json: [])
        }
    }

    @Test("a status report keeps only the ten newest errors")
    func lastErrorsLimit() {
        var report = Fixtures.status
        let errors = (0..<15).map { RecentError(timeMillis: Int64(100 - $0), component: "can0", message: "error \($0)") }
        report = StatusReport(
            version: report.version, profile: report.profile, firmware: report.firmware, vehicleID: report.vehicleID,
            pid: report.pid, uptimeSeconds: report.uptimeSeconds, dataDirectory: report.dataDirectory,
            buses: report.buses, uplink: report.uplink, outbox: report.outbox, collection: report.collection,
            lastErrors: errors)
        #expect(report.lastErrors.count == 10)
        #expect(report.lastErrors.first?.message == "error 0")
        #expect(report.lastErrors.last?.message == "error 9")
    }

    @Test("requests round-trip, and bad ones become the right error response")
    func requests() throws {
        let all: [ControlRequest] = [
            .status, .signals(filter: nil), .signals(filter: "Vehicle.Body.*"), .outbox, .events(limit: 5), .rules,
            .setRule(name: "speed_1hz", enabled: false),
        ]
        for request in all { #expect(try ControlRequest(json: wire(request.toJSON())) == request) }
        #expect(ControlRequest.setRule(name: "x", enabled: true).toJSON().rendered()
            == #"{"request":"set-rule","name":"x","enabled":true}"#)
        #expect(try ControlRequest(json: JSONValue.parse(#"{"request":"events"}"#)) == .events(limit: 20))
        #expect(try ControlRequest(json: JSONValue.parse(#"{"request":"signals","filter":""}"#)) == .signals(filter: nil))
        #expect(ControlRequest.setRule(name: "x", enabled: true).changesState)
        #expect(!ControlRequest.rules.changesState)

        func failure(_ text: String) throws -> ControlFailure? {
            let document = try JSONValue.parse(text)
            do {
                _ = try ControlRequest(json: document)
                return nil
            } catch {
                return error
            }
        }
        #expect(try failure(#"{"request":"reboot"}"#)?.code == .unknownRequest)
        #expect(try failure(#"{"request":"reboot"}"#)?.message.contains("unknown request 'reboot'") == true)
        #expect(try failure(#"{"verb":"status"}"#) == ControlFailure(.badRequest, "malformed request: request: missing"))
        #expect(try failure(#"{"request":"events","limit":0}"#)?.message
            == "malformed request: limit: must be between 1 and 1000, not 0")
        #expect(try failure(#"{"request":"set-rule","name":"x"}"#)?.message == "malformed request: enabled: missing")
        #expect(try failure("[1]")?.code == .badRequest)
        // diagnostic: the ECU's request in hex, read-only services for anyone, the rest privileged.
        let asking = ControlRequest.diagnostic(ecu: "engine", data: [0x22, 0xF1, 0x90], timeoutSeconds: 0.5)
        #expect(asking.toJSON().rendered() == #"{"request":"diagnostic","ecu":"engine","data":"22F190","timeout":0.5}"#)
        #expect(try ControlRequest(json: wire(asking.toJSON())) == asking)
        #expect(!asking.changesState)
        #expect(ControlRequest.diagnostic(ecu: "engine", data: [0x14, 0xFF, 0xFF, 0xFF], timeoutSeconds: nil).changesState)
        #expect(try failure(#"{"request":"diagnostic","ecu":"engine","data":"0G"}"#)?.message
            == "malformed request: data: must be 1 to 4095 bytes in hex, such as 0902")
        #expect(try failure(#"{"request":"diagnostic","ecu":"engine","data":"03","timeout":120}"#)?.message
            == "malformed request: timeout: must be between 0 and 60 seconds")
        let reply = DiagnosticReply(ecu: "engine", outcome: .negative, nrc: 0x22, nrcName: "conditionsNotCorrect", pending: 3, seconds: 0.25)
        #expect(reply.toJSON().rendered()
            == #"{"ecu":"engine","outcome":"negative","nrc":34,"nrc_name":"conditionsNotCorrect","pending":3,"seconds":0.25}"#)
        #expect(try DiagnosticReply(json: wire(reply.toJSON())) == reply)
    }

    @Test("responses round-trip in both forms")
    func responses() throws {
        let success = ControlResponse.success(Fixtures.rules.toJSON())
        #expect(try ControlResponse(json: wire(success.toJSON())) == success)
        let failure = ControlResponse.failure(ControlFailure(.permissionDenied, "needs root"))
        #expect(failure.toJSON().rendered() == #"{"ok":false,"error":"needs root","code":"permission-denied"}"#)
        #expect(try ControlResponse(json: wire(failure.toJSON())) == failure)
    }

    @Test("an outbox report built from a real database counts records, ages and drops per class")
    func outboxReportFromStatistics() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let path = directory + "/outbox.db"
        let store = try OutboxStore(configuration: OutboxConfiguration(path: path, clock: { 1_767_225_600_000 }))
        let draft = { (priority: PriorityClass, created: Int64, size: Int) in
            RecordDraft(
                priority: priority, createdAtMillis: created, expiresAtMillis: nil, topic: "t", qos: 1,
                payload: { _ in [UInt8](repeating: 7, count: size) })
        }
        try store.append([
            draft(.telemetry, 1_767_225_540_000, 100), draft(.telemetry, 1_767_225_590_000, 50),
            draft(.alert, 1_767_225_599_000, 10),
        ])
        store.close()

        let report = OutboxReport(
            statistics: try OutboxStore.readStatistics(path: path), path: path, nowMillis: 1_767_225_600_000)
        #expect(report.path == path)
        #expect(report.classes.map(\.name) == ["critical", "alert", "telemetry", "bulk"])
        #expect(report.classes[2].records == 2)
        #expect(report.classes[2].bytes == 150)
        #expect(report.classes[2].oldestAgeSeconds == 60)
        #expect(report.classes[1].oldestAgeSeconds == 1)
        #expect(report.classes[0].oldestAgeSeconds == nil)
        #expect(report.totalRecords == 3)
        #expect(report.oldestAgeSeconds == 60)
        #expect(report.lastSequence == 3)
        #expect(report.capBytes == OutboxConfiguration.defaultCapBytes)
        #expect(report.databaseBytes > 0)
        #expect(report.evictedRanges.isEmpty)
        let future = OutboxReport(statistics: try OutboxStore.readStatistics(path: path), path: path, nowMillis: 0)
        #expect(future.classes[2].oldestAgeSeconds == 0, "a clock set back does not give negative ages")
    }

    @Test("signal filters match substrings and globs, ignoring case, on the VSS name or the DBC source")
    func signalFilter() throws {
        let names = Fixtures.signals.signals
        func matching(_ pattern: String) -> [String] {
            Fixtures.signals.filtered(by: SignalFilter(pattern)).signals.map(\.name)
        }
        #expect(matching("speed") == ["Vehicle.Speed"])
        #expect(matching("Vehicle.Body.*") == ["Vehicle.Body.Lights.IsHighBeamOn", "Vehicle.Body.Trunk.Rear.IsOpen"])
        #expect(matching("vehicle.body.*.isopen") == ["Vehicle.Body.Trunk.Rear.IsOpen"])
        #expect(matching("*Gear") == ["Vehicle.Powertrain.Transmission.SelectedGear"])
        #expect(matching("Vehicle.Spee?") == ["Vehicle.Speed"])
        #expect(matching("Vehicle.Spe?") == [], "a glob matches the whole name")
        #expect(matching("HighBeam") == ["Vehicle.Body.Lights.IsHighBeamOn"], "matches the DBC source too")
        #expect(matching("BodyStatus.*") == ["Vehicle.Body.Lights.IsHighBeamOn", "Vehicle.Body.Trunk.Rear.IsOpen"])
        #expect(matching("nothing") == [])
        #expect(SignalFilter("") == nil)
        #expect(Fixtures.signals.filtered(by: nil).signals == names)
        #expect(SignalFilter("a*b*c*d*e*f*g*h*i*j*k")?.matches(name: String(repeating: "a", count: 200)) == false)
    }

    @Test("only privileged user ids may change state; anyone who can connect may read")
    func policy() {
        let policy = ControlPolicy(privilegedUIDs: [0])
        let change = ControlRequest.setRule(name: "x", enabled: false)
        #expect(policy.permits(change, peerUID: 0))
        #expect(!policy.permits(change, peerUID: 1000))
        for request in [ControlRequest.status, .signals(filter: nil), .outbox, .events(limit: 1), .rules] {
            #expect(policy.permits(request, peerUID: 1000))
        }
        #expect(ControlPolicy.standard.privilegedUIDs == [0, UInt32(geteuid())])
    }
}

/// The members of a JSON object, failing the test when `value` is something else.
func objectMembers(_ value: JSONValue?, sourceLocation: SourceLocation = #_sourceLocation) throws -> [(String, JSONValue)] {
    guard case .object(let members) = value else {
        Issue.record("expected a JSON object, found \(value?.rendered() ?? "nothing")", sourceLocation: sourceLocation)
        throw ExpectedJSONObject()
    }
    return members
}

struct ExpectedJSONObject: Error {}
