import AxleBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The MQTT version Debian's command-line clients speak.
public enum MQTTClientVersion: Sendable, Hashable {
    case v5
    case v311

    /// The `-V` argument of mosquitto_sub and mosquitto_pub.
    public var argument: String { self == .v5 ? "mqttv5" : "mqttv311" }
}

/// Debian's `mosquitto_sub` as a real, independent peer: a persistent session (`-c -i ID -q 1`) that prints one
/// line per message (topic and hex payload, plus the retain flag and MQTT 5 content type and user properties),
/// flushed per message.
///
/// `init` returns once the subscription is live: it publishes probe messages to a topic of its own until one
/// arrives (probes are left out of `messages()`).
public final class MosquittoSubscriber: Sendable {
    /// One message as `mosquitto_sub` printed it.
    public struct Message: Sendable, Hashable {
        public var topic: String
        public var payload: [UInt8]
        public var retained: Bool
        /// MQTT 5 content type ("" when absent or on 3.1.1).
        public var contentType: String
        /// MQTT 5 user properties as `name:value`.
        public var userProperties: [String]

        /// The payload as UTF-8 text.
        public var text: String { String(decoding: payload, as: UTF8.self) }
    }

    /// The MQTT client id, which names the persistent session.
    public let clientID: String
    public let topics: [String]
    /// mosquitto_sub's output, one line per message.
    public let outputPath: String
    private let broker: MosquittoBroker
    private let arguments: [String]
    private let probeTopic: String
    private let identity: TestCertificates.ClientIdentity?
    private let version: MQTTClientVersion
    private let process = Mutex<ChildProcess?>(nil)
    private let directory: String

    /// Subscribes to `topics` with QoS `qos` as `clientID` (a persistent session unless `cleanSession`).
    /// On a mutual-TLS broker, `identity` is required; `backend` may read everything under `axle/`.
    public init(
        broker: MosquittoBroker, topics: [String], clientID: String? = nil, version: MQTTClientVersion = .v5,
        qos: Int = 1, identity: TestCertificates.ClientIdentity? = nil, cleanSession: Bool = false
    ) throws {
        self.broker = broker
        self.topics = topics
        self.identity = identity
        self.version = version
        let clientID = clientID ?? "axle-test-sub-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.clientID = clientID
        directory = try makeTestDirectory(prefix: "axle-sub")
        outputPath = directory + "/messages"
        // A probe topic the identity may use under the mutual-TLS ACL (see MosquittoBroker).
        if let identity, identity.commonName != "backend" {
            probeTopic = "axle/v1/\(identity.commonName)/test-probe/\(clientID)"
        } else {
            probeTopic = "axle/test-probe/\(clientID)"
        }
        var arguments = ["-h", broker.host, "-p", String(broker.port), "-i", clientID, "-q", String(qos)]
        arguments += ["-V", version.argument, "-F", "%t %x\\t%r\\t%C\\t%P"]
        if !cleanSession { arguments.append("-c") }
        for topic in topics + [probeTopic] { arguments += ["-t", topic] }
        arguments += broker.clientTLSArguments(identity: identity)
        self.arguments = arguments
        do {
            try start()
        } catch {
            removeTree(directory)
            throw error
        }
    }

    deinit {
        process.withLock { $0?.terminate(timeoutSeconds: 5) }
        removeTree(directory)
    }

    /// Every message received so far, in order (probes left out).
    public func messages() -> [(topic: String, payload: [UInt8])] {
        detailedMessages().map { ($0.topic, $0.payload) }
    }

    /// Every message received so far with its retain flag and MQTT 5 properties.
    public func detailedMessages() -> [Message] {
        parse().filter { $0.topic != probeTopic }
    }

    /// Waits until at least `count` messages have arrived; true if they did within `timeout` seconds.
    @discardableResult
    public func waitFor(count: Int, timeout: Double) -> Bool {
        waitUntil(timeoutSeconds: timeout, pollSeconds: 0.05) { detailedMessages().count >= count }
    }

    /// Disconnects (SIGTERM: a clean DISCONNECT, so the session stays and queues QoS 1 messages).
    public func stop() {
        process.withLock { $0?.terminate(timeoutSeconds: 5) }
    }

    /// Connects again with the same client id (resuming the session) after `stop()`.
    public func restart() throws {
        stop()
        try start()
    }

    /// Whether `mosquitto_sub` still runs (it exits when it cannot connect, e.g. refused by TLS).
    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// What `mosquitto_sub` printed on stderr (its reason for exiting).
    public var errorOutput: String { AxleProcess.readText(directory + "/stderr") }

    private func start() throws {
        let child = try ChildProcess(
            executable: "/usr/bin/mosquitto_sub", arguments: arguments, stdoutPath: outputPath,
            stderrPath: directory + "/stderr", append: true)
        process.withLock { $0 = child }
        let probesBefore = parse().filter { $0.topic == probeTopic }.count
        var probe = 0
        let live = waitUntil(timeoutSeconds: 20, pollSeconds: 0.25) {
            guard child.isRunning else { return false }
            probe += 1
            try? broker.publish(
                topic: probeTopic, message: "probe \(probe)", qos: 0, identity: identity, version: version)
            return parse().filter { $0.topic == probeTopic }.count > probesBefore
        }
        guard live else {
            child.terminate(timeoutSeconds: 2)
            throw TestSupportError(
                "mosquitto_sub \(clientID) did not receive its probe on \(probeTopic): \(errorOutput) "
                    + "(exit status \(child.exitStatus.map(String.init) ?? "none"))")
        }
    }

    /// Messages parsed so far and the file offset after the last complete line: large drains are read once.
    private let parsed = Mutex<(offset: Int, messages: [Message])>((0, []))

    private func parse() -> [Message] {
        parsed.withLock { state in
            let descriptor = open(outputPath, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return state.messages }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            var offset = off_t(state.offset)
            while true {
                let count = pread(descriptor, &chunk, chunk.count, offset)
                if count <= 0 { break }
                bytes += chunk[..<count]
                offset += off_t(count)
            }
            // Only complete lines: the last one may still be being written.
            guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return state.messages }
            let text = String(decoding: bytes[...lastNewline], as: UTF8.self)
            state.offset += lastNewline + 1
            for line in text.split(separator: "\n") {
                if let message = Self.parse(line: line) { state.messages.append(message) }
            }
            return state.messages
        }
    }

    private static func parse(line: Substring) -> Message? {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard let head = fields.first, let space = head.lastIndex(of: " ") else { return nil }
        let topic = String(head[..<space])
        let hex = Array(head[head.index(after: space)...].utf8)
        guard hex.count.isMultiple(of: 2) else { return nil }
        var payload: [UInt8] = []
        payload.reserveCapacity(hex.count / 2)
        var index = 0
        while index < hex.count {
            guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
            payload.append(high << 4 | low)
            index += 2
        }
        let retained = fields.count > 1 && fields[1] == "1"
        let contentType = fields.count > 2 ? String(fields[2]) : ""
        let userProperties = fields.count > 3 ? fields[3].split(separator: " ").map(String.init) : []
        return Message(
            topic: topic, payload: payload, retained: retained, contentType: contentType, userProperties: userProperties)
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
