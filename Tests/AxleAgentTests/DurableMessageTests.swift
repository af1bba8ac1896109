import AxleBase
import AxleTestSupport
import MQTTUplink
import Outbox
import Synchronization
import Testing

@testable import AxleAgent

#if canImport(Glibc)
import Glibc
#endif

/// What `DurableMessages` hands the broker, through a real outbox, drainer and mosquitto: the answer's Correlation
/// Data and Content Type as the request set them, the retain flag of the feature state, and `seq` in the JSON.
@Suite("Durable messages keep their MQTT properties", .serialized)
struct DurableMessageTests {
    @Test("an answer's Correlation Data and Content Type and the feature state's retain flag survive the outbox; seq is added")
    func propertiesSurviveTheOutbox() throws {
        let broker = try MosquittoBroker()
        let uplink = try OutboxDrainerTests.Uplink(port: broker.port)
        defer { uplink.stop() }

        // The backend: our own client, which reads every MQTT 5 property back.
        let received = Mutex<[MQTTMessage]>([])
        let subscribed = StopToken()
        let backend = try MQTTClient(
            configuration: MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "backend-\(getpid())"))
        backend.start { event in
            switch event {
            case .connected: _ = backend.subscribe("axle/v1/car/#", qos: 1)
            case .subscribed: subscribed.requestStop()
            case .message(let message): received.withLock { $0.append(message) }
            default: break
            }
        }
        defer { backend.stop(final: nil, timeoutSeconds: 1) }
        #expect(subscribed.wait(seconds: 10), "the backend did not subscribe at \(broker.url)")
        uplink.start()

        let drainer = uplink.drainer
        let durable = DurableMessages(
            outbox: uplink.outbox, client: uplink.client, onAppended: { drainer.recordsAppended() }, log: AgentLog(level: .error))
        var answerProperties = MQTTProperties()
        answerProperties.contentType = "application/json"
        answerProperties.correlationData = Array("9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f".utf8)
        let members: [(String, JSONValue)] = [("id", "9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f"), ("status", "SUCCEEDED")]
        durable.publish(
            MQTTMessage(
                topic: "axle/v1/car/cmd/res/replies-7", payload: Array(JSONValue.object(members).rendered().utf8), qos: 1,
                retain: false, properties: answerProperties),
            members: members)
        let features: [(String, JSONValue)] = [("vehicle", "car"), ("features", [])]
        durable.publish(
            MQTTMessage(topic: "axle/v1/car/features", payload: [], qos: 1, retain: true, properties: MQTTProperties()),
            members: features)

        #expect(waitUntil(timeoutSeconds: 10) { received.withLock { $0.count } >= 2 })
        let messages = received.withLock { $0 }
        let answer = messages.first { $0.topic == "axle/v1/car/cmd/res/replies-7" }
        #expect(answer?.properties.correlationData == answerProperties.correlationData)
        #expect(answer?.properties.contentType == "application/json")
        #expect(answer.map { String(decoding: $0.payload, as: UTF8.self) }
            == #"{"id":"9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f","status":"SUCCEEDED","seq":1}"#)
        let state = messages.first { $0.topic == "axle/v1/car/features" }
        #expect(state.map { String(decoding: $0.payload, as: UTF8.self) } == #"{"vehicle":"car","features":[],"seq":2}"#)

        // Retained at the broker: a subscriber that comes later gets it, flagged retained.
        let late = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/car/features"])
        defer { late.stop() }
        #expect(late.waitFor(count: 1, timeout: 10))
        #expect(late.detailedMessages().first?.retained == true)
        // Both were acknowledged and left the outbox.
        #expect(waitUntil(timeoutSeconds: 10) {
            (try? uplink.outbox.statistics().depth[.critical]?.records) == 0
        })
    }
}
