import AxleBase
import AxleTestSupport
import MQTTUplink
import RemoteCommands
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The built `axle-fleet`, run as an operator would: arguments in, exit status and output back.
enum FleetProcess {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Standard output's lines, without the empty one after the last newline.
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
        var both: String { "stdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// A running `axle-fleet`.
    final class Running: Sendable {
        let child: ChildProcess
        let directory: String

        init(_ arguments: [String]) throws {
            directory = try makeTestDirectory(prefix: "axle-fleet-run")
            child = try ChildProcess(
                executable: AxleProcess.builtExecutable("axle-fleet"), arguments: arguments,
                stdoutPath: directory + "/stdout", stderrPath: directory + "/stderr")
        }

        deinit { removeTree(directory) }

        var stdout: String { AxleProcess.readText(directory + "/stdout") }
        var stderr: String { AxleProcess.readText(directory + "/stderr") }

        /// Waits for the exit (SIGKILL after `timeoutSeconds`: a hung tool fails the test instead of hanging it).
        func finish(timeoutSeconds: Double = 60) -> Result {
            let status = child.wait(timeoutSeconds: timeoutSeconds) ?? {
                child.send(signal: SIGKILL)
                return child.wait(timeoutSeconds: 5) ?? -1
            }()
            return Result(status: status, stdout: stdout, stderr: stderr)
        }
    }

    /// Runs `axle-fleet` to the end.
    static func run(_ arguments: [String], timeoutSeconds: Double = 60) throws -> Result {
        try Running(arguments).finish(timeoutSeconds: timeoutSeconds)
    }
}

/// A fresh signing key pair in a temporary directory (removed by the caller with `removeTree(directory)`).
struct TestKeys {
    let directory: String
    let prefix: String
    var keyFile: String { prefix + ".key" }
    var publicFile: String { prefix + ".pub" }

    init(keyID: String = "ops-test") throws {
        directory = try makeTestDirectory(prefix: "axle-fleet-keys")
        prefix = directory + "/" + keyID
        let key = try CommandSigningKey.generate(keyID: keyID)
        try key.write(prefix: prefix)
    }

    func publicKey() throws -> CommandPublicKey { try CommandPublicKey(contentsOfFile: publicFile) }
}

/// A value behind a lock, shareable with the MQTT network thread's closures (a `Mutex` itself cannot be captured).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}

/// A connected MQTT client for the test's side of the conversation, its messages recorded.
final class TestPeer: Sendable {
    let client: MQTTClient
    private let events = Locked<[MQTTClientEvent]>([])

    init(_ broker: MosquittoBroker, name: String, version: MQTTProtocolVersion = .v5,
         onMessage: @escaping @Sendable (MQTTClient, MQTTMessage) -> Void = { _, _ in }) throws {
        var configuration = MQTTConfiguration(host: broker.host, port: broker.port, clientID: "\(name)-\(getpid())")
        configuration.protocolVersion = version
        configuration.cleanStart = true
        configuration.sessionExpirySeconds = 0
        let client = try MQTTClient(configuration: configuration)
        self.client = client
        client.start { [events] event in
            events.withLock { $0.append(event) }
            if case .message(let message) = event { onMessage(client, message) }
        }
        guard waitUntil(timeoutSeconds: 20, { self.isConnected }) else {
            throw TestSupportError("\(name) did not connect to the test broker")
        }
    }

    deinit { client.stop(final: nil, timeoutSeconds: 2) }

    private var isConnected: Bool {
        events.withLock { $0.contains { if case .connected = $0 { true } else { false } } }
    }

    /// Subscribes and waits for the SUBACK.
    func subscribe(_ filter: String) throws {
        guard let messageID = client.subscribe(filter, qos: 1) else { throw TestSupportError("cannot subscribe to \(filter)") }
        let granted = waitUntil(timeoutSeconds: 20) {
            events.withLock { $0.contains { if case .subscribed(messageID, _) = $0 { true } else { false } } }
        }
        guard granted else { throw TestSupportError("no SUBACK for \(filter)") }
    }

    /// Publishes and waits for the PUBACK.
    func publish(_ message: MQTTMessage) throws {
        guard case .sent(let messageID) = client.publish(message) else { throw TestSupportError("cannot publish to \(message.topic)") }
        let acknowledged = waitUntil(timeoutSeconds: 20) {
            events.withLock { $0.contains { if case .acknowledged(messageID, _) = $0 { true } else { false } } }
        }
        guard acknowledged else { throw TestSupportError("no PUBACK for \(message.topic)") }
    }

    var messages: [MQTTMessage] {
        events.withLock { $0.compactMap { if case .message(let message) = $0 { message } else { nil } } }
    }
}

/// A stand-in for a vehicle's command handler: it takes every request on `axle/v1/+/cmd/req` and answers with the
/// scripted statuses, to the request's Response Topic with its Correlation Data (MQTT 5) or to `…/cmd/res` (3.1.1).
final class Responder: Sendable {
    /// One scripted answer.
    struct Answer: Sendable {
        var status: CommandStatus
        var reason: CommandReason? = nil
        var text: String? = nil
        var result: JSONValue? = nil
    }

    private let peer: TestPeer
    private let received = Locked<[MQTTMessage]>([])

    /// `answers` nil: subscribe but never answer. `before` is published first on MQTT 3.1.1 (another command's
    /// response on the shared topic, which the tool must ignore).
    init(_ broker: MosquittoBroker, version: MQTTProtocolVersion = .v5, answers: [Answer]?, foreignFirst: Bool = false) throws {
        let received = self.received
        peer = try TestPeer(broker, name: "responder", version: version) { client, message in
            received.withLock { $0.append(message) }
            guard let answers, let signed = try? SignedCommand.parse(payload: message.payload),
                let request = try? CommandRequest.parse(body: signed.body)
            else { return }
            let topic = message.properties.responseTopic ?? "axle/v1/\(request.vehicle)/cmd/res"
            var properties = MQTTProperties()
            properties.correlationData = message.properties.correlationData
            if foreignFirst {
                let other = CommandResponse(
                    id: CommandRequest.newID(), vehicle: request.vehicle, name: "doors.lock", status: .failed,
                    timeMillis: wallClockMillis(), reason: .sendFailed, text: "someone else's command")
                _ = client.publish(MQTTMessage(topic: topic, payload: other.payload(), qos: 1, properties: properties))
            }
            for answer in answers {
                let response = CommandResponse(
                    id: request.id, vehicle: request.vehicle, name: request.name, status: answer.status,
                    timeMillis: wallClockMillis(), reason: answer.reason, text: answer.text, result: answer.result)
                _ = client.publish(MQTTMessage(topic: topic, payload: response.payload(), qos: 1, properties: properties))
            }
        }
        try peer.subscribe("axle/v1/+/cmd/req")
    }

    /// The requests received so far.
    var requests: [MQTTMessage] { received.withLock { $0 } }
}
