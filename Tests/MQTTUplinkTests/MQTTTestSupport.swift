import AxleTestSupport
import MQTTUplink
import Synchronization

/// Records a client's events for a test to wait on and inspect.
final class EventRecorder: Sendable {
    private let events = Mutex<[MQTTClientEvent]>([])

    func record(_ event: MQTTClientEvent) {
        events.withLock { $0.append(event) }
    }

    var all: [MQTTClientEvent] { events.withLock { $0 } }

    /// The first event (from `start` on) that matches, waiting up to `timeout` seconds for it.
    @discardableResult
    func waitFor(
        from start: Int = 0, timeout: Double = 20, _ match: (MQTTClientEvent) -> Bool
    ) -> MQTTClientEvent? {
        var found: MQTTClientEvent?
        waitUntil(timeoutSeconds: timeout) {
            found = events.withLock { $0.dropFirst(start).first(where: match) }
            return found != nil
        }
        return found
    }

    func count(_ match: (MQTTClientEvent) -> Bool) -> Int {
        events.withLock { $0.filter(match).count }
    }

    var connections: Int {
        count { if case .connected = $0 { true } else { false } }
    }

    var receivedMessages: [MQTTMessage] {
        all.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    func acknowledgement(of messageID: Int32, timeout: Double = 20) -> Int32? {
        let event = waitFor(timeout: timeout) {
            if case .acknowledged(messageID, _) = $0 { true } else { false }
        }
        if case .acknowledged(_, let reasonCode) = event { return reasonCode }
        return nil
    }

    @discardableResult
    func waitForConnection(number: Int = 1, timeout: Double = 20) -> Bool {
        waitUntil(timeoutSeconds: timeout) { connections >= number }
    }

    func firstFailure(timeout: Double = 20) -> (reason: String, retry: Double)? {
        let event = waitFor(timeout: timeout) { if case .connectFailed = $0 { true } else { false } }
        if case .connectFailed(let reason, let retry) = event { return (reason, retry) }
        return nil
    }
}

/// A started client for `broker`, with fast reconnects (the defaults are for vehicles, not tests).
func startClient(
    _ broker: MosquittoBroker, clientID: String, version: MQTTProtocolVersion = .v5,
    identity: TestCertificates.ClientIdentity? = nil, caFile: String? = nil, port: Int? = nil,
    configure: (inout MQTTConfiguration) -> Void = { _ in }, beforeStart: (MQTTClient) -> Void = { _ in }
) throws -> (MQTTClient, EventRecorder) {
    var configuration = MQTTConfiguration(host: broker.host, port: port ?? broker.port, clientID: clientID)
    configuration.protocolVersion = version
    configuration.reconnect = BackoffPolicy(baseSeconds: 0.1, capSeconds: 1)
    configuration.connectTimeoutSeconds = 5
    if broker.mode != .plain, let certificates = broker.certificates {
        configuration.tls = TLSSettings(
            caFile: caFile ?? certificates.caFile, certificateFile: identity?.certificateFile, keyFile: identity?.keyFile)
    }
    configure(&configuration)
    let client = try MQTTClient(configuration: configuration)
    let recorder = EventRecorder()
    beforeStart(client)
    client.start { recorder.record($0) }
    return (client, recorder)
}

/// A unique client id per test run (brokers are per test, but a readable id helps in their logs).
func uniqueID(_ name: String) -> String {
    "\(name)-\(UInt32.random(in: 0...UInt32.max))"
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}
