import AxleTestSupport
import MQTTUplink
import Testing

/// The client against a real mosquitto broker, with `mosquitto_sub` as the independent receiving peer.
@Suite struct MQTTClientTests {
    @Test(arguments: [MQTTProtocolVersion.v5, .v311])
    func qos1PublishIsAcknowledgedWithItsIdAndDelivered(version: MQTTProtocolVersion) throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(
            broker: broker, topics: ["axle/v1/vehicle-a/#"], version: version == .v5 ? .v5 : .v311)
        let (client, events) = try startClient(broker, clientID: uniqueID("vehicle-a"), version: version)
        defer { client.stop(final: nil, timeoutSeconds: 2) }
        #expect(events.waitForConnection())
        #expect(client.isConnected)

        var ids: [Int32] = []
        for index in 0..<3 {
            let outcome = client.publish(MQTTMessage(topic: "axle/v1/vehicle-a/telemetry", text: "record \(index)"))
            guard case .sent(let messageID) = outcome else {
                Issue.record("expected .sent on a live connection, got \(outcome)")
                return
            }
            ids.append(messageID)
        }
        #expect(Set(ids).count == 3, "each publish has its own message id")
        for messageID in ids {
            #expect(events.acknowledgement(of: messageID) == 0, "PUBACK for \(messageID) with reason success")
        }
        #expect(subscriber.waitFor(count: 3, timeout: 20))
        #expect(subscriber.messages().map(\.payload.text) == ["record 0", "record 1", "record 2"])
        #expect(subscriber.messages().allSatisfy { $0.topic == "axle/v1/vehicle-a/telemetry" })
    }

    @Test func mqtt5PropertiesReachAnIndependentSubscriberAndOurOwn() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/v1/+/commands/#"], version: .v5)
        let (backend, backendEvents) = try startClient(broker, clientID: uniqueID("backend"))
        defer { backend.stop(final: nil, timeoutSeconds: 2) }
        let (vehicle, vehicleEvents) = try startClient(broker, clientID: uniqueID("vehicle-a"))
        defer { vehicle.stop(final: nil, timeoutSeconds: 2) }
        #expect(vehicleEvents.waitForConnection())
        #expect(backendEvents.waitForConnection())
        let subscribeID = vehicle.subscribe("axle/v1/vehicle-a/commands/#", qos: 1)
        #expect(subscribeID != nil)
        #expect(vehicleEvents.waitFor { if case .subscribed(subscribeID!, [1]) = $0 { true } else { false } } != nil)

        let properties = MQTTProperties(
            contentType: "application/x-protobuf", messageExpirySeconds: 300,
            responseTopic: "axle/v1/vehicle-a/command-results/42", correlationData: [0xCA, 0xFE, 0x00, 0x42],
            userProperties: [MQTTUserProperty(name: "schema", value: "axle.v1"), MQTTUserProperty(name: "vin", value: "WAXLE0001")])
        let command = MQTTMessage(
            topic: "axle/v1/vehicle-a/commands/lock", payload: [1, 2, 3], qos: 1, properties: properties)
        guard case .sent(let messageID) = backend.publish(command) else {
            Issue.record("the backend could not publish")
            return
        }
        #expect(backendEvents.acknowledgement(of: messageID) == 0)

        // Debian's mosquitto_sub prints the content type and user properties it received.
        #expect(subscriber.waitFor(count: 1, timeout: 20))
        let seen = subscriber.detailedMessages().first
        #expect(seen?.contentType == "application/x-protobuf")
        #expect(seen?.userProperties == ["schema:axle.v1", "vin:WAXLE0001"])
        #expect(seen?.payload == [1, 2, 3])

        // Our own client reads every property back, including response topic and correlation data.
        let received = vehicleEvents.waitFor { if case .message = $0 { true } else { false } }
        guard case .message(let message) = received else {
            Issue.record("the vehicle did not receive the command")
            return
        }
        #expect(message.topic == command.topic)
        #expect(message.payload == [1, 2, 3])
        #expect(message.qos == 1)
        #expect(message.properties.contentType == properties.contentType)
        #expect(message.properties.responseTopic == properties.responseTopic)
        #expect(message.properties.correlationData == properties.correlationData)
        #expect(message.properties.userProperties == properties.userProperties)
        // The broker counts the expiry down while the message waits, so it arrives at most as large as sent.
        #expect((1...300).contains(message.properties.messageExpirySeconds ?? 0))
    }

    @Test func propertiesAreLeftOutOnMQTT311() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(broker: broker, topics: ["axle/#"], version: .v5)
        let (client, events) = try startClient(broker, clientID: uniqueID("vehicle-311"), version: .v311)
        defer { client.stop(final: nil, timeoutSeconds: 2) }
        #expect(events.waitForConnection())
        let message = MQTTMessage(
            topic: "axle/v1/vehicle-311/status", text: "online",
            properties: MQTTProperties(contentType: "text/plain", userProperties: [MQTTUserProperty(name: "k", value: "v")]))
        guard case .sent(let messageID) = client.publish(message) else {
            Issue.record("publish failed")
            return
        }
        #expect(events.acknowledgement(of: messageID) == 0)
        #expect(subscriber.waitFor(count: 1, timeout: 20))
        #expect(subscriber.detailedMessages().first?.text == "online")
        #expect(subscriber.detailedMessages().first?.contentType == "")
        #expect(subscriber.detailedMessages().first?.userProperties == [])
    }

    @Test func invalidTopicsArePermanentFailuresOnALiveConnection() throws {
        let broker = try MosquittoBroker()
        let (client, events) = try startClient(broker, clientID: uniqueID("vehicle-a"))
        defer { client.stop(final: nil, timeoutSeconds: 2) }
        #expect(events.waitForConnection())
        for topic in ["axle/v1/+/telemetry", "axle/v1/vehicle-a/#", ""] {
            let outcome = client.publish(MQTTMessage(topic: topic, text: "x"))
            guard case .permanentFailure(let reason) = outcome else {
                Issue.record("topic '\(topic)': expected permanentFailure, got \(outcome)")
                continue
            }
            #expect(reason.contains("topic"))
        }
        // The connection is unharmed: the next valid publish goes through.
        guard case .sent(let messageID) = client.publish(MQTTMessage(topic: "axle/v1/vehicle-a/t", text: "ok")) else {
            Issue.record("a valid publish after the failures was not sent")
            return
        }
        // 0x10: accepted, though nobody subscribes (MQTT 5 "no matching subscribers" is not a refusal).
        #expect(events.acknowledgement(of: messageID) == 0x10)
    }

    @Test func aPersistentSessionIsKeptAcrossConnectionsAndCleanStartDropsIt() throws {
        let broker = try MosquittoBroker()
        let clientID = uniqueID("vehicle-session")
        for (round, (cleanStart, expectPresent)) in [(false, false), (false, true), (true, false)].enumerated() {
            let (client, events) = try startClient(broker, clientID: clientID) { $0.cleanStart = cleanStart }
            let connected = events.waitFor { if case .connected = $0 { true } else { false } }
            guard case .connected(let sessionPresent) = connected else {
                Issue.record("round \(round): no connection")
                return
            }
            #expect(sessionPresent == expectPresent, "round \(round): cleanStart \(cleanStart)")
            client.stop(final: nil, timeoutSeconds: 5)
        }
    }

    @Test func subscriptionsComeBackAfterACleanReconnect() throws {
        let broker = try MosquittoBroker()
        // Subscribing before the connection exists: sent once connected.
        let (client, events) = try startClient(
            broker, clientID: uniqueID("vehicle-a"),
            configure: { $0.cleanStart = true },
            beforeStart: { #expect($0.subscribe("axle/v1/vehicle-a/commands/#", qos: 1) == nil) })
        defer { client.stop(final: nil, timeoutSeconds: 2) }
        #expect(events.waitForConnection())
        #expect(events.waitFor { if case .subscribed(_, [1]) = $0 { true } else { false } } != nil)

        try broker.restart()
        // Clean start: the broker forgot the subscription; the client renews it by itself.
        #expect(events.waitForConnection(number: 2, timeout: 30))
        #expect(waitUntil(timeoutSeconds: 20) { events.count { if case .subscribed = $0 { true } else { false } } >= 2 })
        try broker.publish(topic: "axle/v1/vehicle-a/commands/unlock", message: "go", qos: 1)
        #expect(events.waitFor { if case .message(let message) = $0 { message.payload.text == "go" } else { false } } != nil)
    }
}
