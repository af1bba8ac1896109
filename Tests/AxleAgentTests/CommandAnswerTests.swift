import AxleBase
import MQTTUplink
import RemoteCommands
import Testing

@testable import AxleAgent

/// Where the agent's command answers go and what they may echo (docs/commands.md, "Responses and topics").
@Suite("Command answers: topic and size")
struct CommandAnswerTests {
    let topics = try! UplinkTopics(vehicleID: "VIN1")

    @Test("a Response Topic outside …/cmd/res is ignored: the answer goes to …/cmd/res")
    func foreignResponseTopicsAreIgnored() {
        for foreign in [
            "$SYS/x", "axle/v1/VIN2/cmd/res", "axle/v1/VIN1/telemetry", "axle/v1/VIN1/status", "axle/v1/VIN1/cmd/req",
            "axle/v1/VIN1/cmd/resx", "axle/v1/VIN1/cmd/res/+", "axle/v1/VIN1/cmd/res/#", "axle/v1/VIN1/cmd/res/",
            "axle/v1/VIN1/cmd/res//a", "axle/v1/VIN1/cmd/res/" + String(repeating: "a", count: 300), "",
        ] {
            #expect(topics.answerTopic(requested: foreign) == "axle/v1/VIN1/cmd/res", "\(foreign)")
        }
        #expect(topics.answerTopic(requested: nil) == "axle/v1/VIN1/cmd/res")
        #expect(topics.answerTopic(requested: "axle/v1/VIN1/cmd/res") == "axle/v1/VIN1/cmd/res")
        // What axle-fleet asks for: a token below the vehicle's answer topic.
        #expect(topics.answerTopic(requested: "axle/v1/VIN1/cmd/res/3f2a") == "axle/v1/VIN1/cmd/res/3f2a")
    }

    @Test("Correlation Data is echoed up to 128 bytes and left out beyond")
    func longCorrelationDataIsNotEchoed() {
        let response = CommandResponse(id: "", vehicle: "VIN1", name: nil, status: .rejected, timeMillis: 1, reason: .malformed)
        let short = CommandResponder.message(
            response, to: ReplyAddress(correlationData: Array(repeating: 7, count: 128)), qos: 1, topics: topics)
        #expect(short.properties.correlationData?.count == 128)
        let long = CommandResponder.message(
            response, to: ReplyAddress(correlationData: Array(repeating: 7, count: 60_000)), qos: 1, topics: topics)
        #expect(long.properties.correlationData == nil)
    }

    @Test("an unauthenticated request's answer is QoS 0, small, and echoes neither its name, a malformed id nor its key id")
    func unauthenticatedAnswersAreSmall() throws {
        let hugeKey = String(repeating: "k", count: 10_000)
        let rejection = CommandRejection(
            reason: .unknownKey, text: "key \"\(hugeKey)\" is not in this vehicle's trust store",
            commandID: String(repeating: "i", count: 10_000), commandName: String(repeating: "n", count: 10_000))
        let answer = CommandResponder.unauthenticatedAnswer(
            rejection, to: ReplyAddress(responseTopic: "$SYS/x"), topics: topics, timeMillis: 1_763_000_000_000)
        #expect(answer.qos == 0)
        #expect(answer.topic == "axle/v1/VIN1/cmd/res")
        #expect(answer.payload.count <= 160, "\(answer.payload.count) bytes: \(String(decoding: answer.payload, as: UTF8.self))")
        let parsed = try CommandResponse.parse(answer.payload)
        #expect(parsed.id == "" && parsed.name == nil && parsed.reason == .unknownKey)
        // A well-formed id is kept, so that the sender can match the answer.
        var identified = rejection
        identified.commandID = "9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f"
        let matched = CommandResponder.unauthenticatedAnswer(identified, to: ReplyAddress(), topics: topics, timeMillis: 1)
        #expect(try CommandResponse.parse(matched.payload).id == "9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f")
    }
}
