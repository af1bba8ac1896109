import AgentControl
import AgentControlTestSupport
import AxleBase
import Testing

/// The `config` request and the configuration report it answers with, alone and inside `status`: the report travels
/// as the agent publishes it, and a status without one (an agent before configuration updates) still reads.
@Suite("config request")
struct ConfigurationStateTests {
    private func wire(_ value: JSONValue) throws -> JSONValue { try JSONValue.parse(value.rendered()) }

    @Test("the config request round-trips, is read-only, and an unknown request names it among the known ones")
    func request() throws {
        #expect(ControlRequest.configuration.toJSON().rendered() == #"{"request":"config"}"#)
        #expect(try ControlRequest(json: wire(ControlRequest.configuration.toJSON())) == .configuration)
        #expect(ControlRequest.configuration.name == "config")
        #expect(!ControlRequest.configuration.changesState)
        let unknown = try JSONValue.parse(#"{"request":"configuration"}"#)
        do throws(ControlFailure) {
            _ = try ControlRequest(json: unknown)
            Issue.record("an unknown request must be refused")
        } catch {
            #expect(error.code == .unknownRequest)
            #expect(error.message.contains("diagnostic and config"), "\(error.message)")
        }
    }

    @Test("the report survives the wire as it is; no report is {}; anything but an object or null is refused")
    func state() throws {
        let state = ConfigurationState(report: Fixtures.configuration)
        #expect(try ConfigurationState(json: wire(state.toJSON())) == state)
        #expect(try wire(state.toJSON()) == Fixtures.configuration)
        let none = ConfigurationState(report: nil)
        #expect(none.toJSON().rendered() == "{}")
        #expect(try ConfigurationState(json: wire(none.toJSON())) == none)
        #expect(throws: ControlDecodingError.self) { try ConfigurationState(json: JSONValue.parse("[1]")) }
    }

    @Test("status carries the report as its configuration member; without one the member is absent and reads as nil")
    func status() throws {
        var report = Fixtures.status
        #expect(report.configuration == nil)
        #expect(report.toJSON()["configuration"] == nil, "an agent without a report adds no member")
        #expect(try StatusReport(json: wire(report.toJSON())).configuration == nil)
        report.configuration = Fixtures.configuration
        #expect(report.toJSON()["configuration"] == Fixtures.configuration)
        #expect(try StatusReport(json: wire(report.toJSON())) == report)
    }

    @Test("the server answers config from its handler, and status with the same report")
    func server() throws {
        let running = try RunningServer(agent: FakeAgent(configuration: Fixtures.configuration))
        #expect(try running.client.configuration().report == Fixtures.configuration)
        #expect(try running.client.status().configuration == Fixtures.configuration)
        let empty = try RunningServer()
        #expect(try empty.client.configuration().report == nil)
        #expect(try empty.client.status().configuration == nil)
    }
}
