import MQTTUplink
import Testing

@Suite struct BackoffPolicyTests {
    /// A generator with a fixed seed (SplitMix64), so a failure can be reproduced.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func delaysStayWithinTheFullJitterBoundsAndVary() {
        let policy = BackoffPolicy(baseSeconds: 0.5, capSeconds: 30)
        var generator = SeededGenerator(state: 42)
        for attempt in 0..<20 {
            let ceiling = min(30, 0.5 * Double(1 << attempt))
            let delays = (0..<500).map { _ in policy.delay(attempt: attempt, using: &generator) }
            #expect(delays.allSatisfy { $0 >= 0 && $0 <= ceiling }, "attempt \(attempt): outside [0, \(ceiling)]")
            #expect(Set(delays).count > 400, "attempt \(attempt): delays must be random, not fixed")
            // Full jitter spreads over the whole range, not just near the ceiling.
            #expect(delays.contains { $0 < ceiling * 0.25 } && delays.contains { $0 > ceiling * 0.75 })
        }
    }

    @Test func hugeAttemptCountsStayAtTheCap() {
        let policy = BackoffPolicy(baseSeconds: 0.5, capSeconds: 30)
        var generator = SeededGenerator(state: 7)
        #expect(policy.ceiling(attempt: 10_000) == 30)
        for _ in 0..<100 {
            let delay = policy.delay(attempt: Int.max, using: &generator)
            #expect(delay.isFinite && delay >= 0 && delay <= 30)
        }
    }

    @Test func aZeroBaseMeansNoDelay() {
        var generator = SystemRandomNumberGenerator()
        #expect(BackoffPolicy(baseSeconds: 0, capSeconds: 30).delay(attempt: 3, using: &generator) == 0)
    }
}

@Suite struct BrokerAddressTests {
    @Test func parsesSchemesAndDefaultPorts() throws {
        #expect(try MQTTConfiguration.brokerAddress("mqtt://broker.example.com") == ("broker.example.com", 1883, false))
        #expect(try MQTTConfiguration.brokerAddress("mqtts://broker.example.com") == ("broker.example.com", 8883, true))
        #expect(try MQTTConfiguration.brokerAddress("mqtts://10.0.0.5:9883") == ("10.0.0.5", 9883, true))
        #expect(try MQTTConfiguration.brokerAddress("MQTT://host:1884/") == ("host", 1884, false))
        #expect(try MQTTConfiguration.brokerAddress("mqtts://[::1]:8884") == ("::1", 8884, true))
    }

    @Test(arguments: [
        ("http://host", "unsupported scheme 'http'"),
        ("host:1883", "no scheme"),
        ("mqtt://", "no host"),
        ("mqtt://host:0", "port '0'"),
        ("mqtt://host:70000", "port '70000'"),
        ("mqtt://host:abc", "port 'abc'"),
        ("mqtt://host/axle", "path"),
        ("mqtt://user:secret@host", "credentials"),
    ])
    func rejectsWithAReason(url: String, reason: String) {
        #expect {
            _ = try MQTTConfiguration.brokerAddress(url)
        } throws: { error in
            let text = "\(error)"
            return text.contains(reason) && text.contains(url) && text.contains("mqtts://host:8883")
        }
    }
}

@Suite struct ClientConfigurationTests {
    @Test func aMissingCAFileIsReportedWithItsPath() {
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: 8883, clientID: "vehicle-a")
        configuration.tls = TLSSettings(caFile: "/nonexistent/axle-ca.crt")
        #expect {
            _ = try MQTTClient(configuration: configuration)
        } throws: { error in
            guard let error = error as? MQTTUplinkError else { return false }
            return error.code == .unreadableFile && error.message.contains("/nonexistent/axle-ca.crt")
                && error.message.contains("No such file")
        }
    }

    @Test func aCertificateWithoutAKeyIsRejected() {
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: 8883, clientID: "vehicle-a")
        configuration.tls = TLSSettings(caFile: "/etc/hostname", certificateFile: "/etc/hostname")
        #expect {
            _ = try MQTTClient(configuration: configuration)
        } throws: { error in
            (error as? MQTTUplinkError)?.code == .invalidConfiguration && "\(error)".contains("keyFile")
        }
    }

    @Test func aWillWithAWildcardTopicIsRejected() {
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: 1883, clientID: "vehicle-a")
        configuration.will = MQTTMessage(topic: "axle/v1/+/status", text: "lost")
        #expect {
            _ = try MQTTClient(configuration: configuration)
        } throws: { error in
            (error as? MQTTUplinkError)?.code == .invalidConfiguration && "\(error)".contains("axle/v1/+/status")
        }
    }

    @Test func publishingBeforeStartIsNotConnectedAndWildcardsArePermanentFailures() throws {
        let client = try MQTTClient(configuration: MQTTConfiguration(host: "127.0.0.1", port: 1, clientID: "idle"))
        #expect(!client.isConnected)
        guard case .notConnected = client.publish(MQTTMessage(topic: "axle/v1/idle/t", text: "x")) else {
            Issue.record("a publish without a connection must say notConnected")
            return
        }
        guard case .permanentFailure(let reason) = client.publish(MQTTMessage(topic: "axle/v1/#", text: "x")) else {
            Issue.record("a wildcard topic can never be published")
            return
        }
        #expect(reason.contains("wildcard"))
        guard case .permanentFailure = client.publish(MQTTMessage(topic: "", text: "x")) else {
            Issue.record("an empty topic can never be published")
            return
        }
        #expect(client.subscribe("axle/#/bad", qos: 1) == nil)
        client.stop(final: nil, timeoutSeconds: 1)
    }
}
