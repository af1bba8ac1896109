/// One MQTT 5 user property: a name and a value, both UTF-8; names may repeat.
public struct MQTTUserProperty: Sendable, Hashable {
    public var name: String
    public var value: String

    /// A name/value pair.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The MQTT 5 properties of a message Axle uses. Sent only on MQTT 5; ignored on 3.1.1.
public struct MQTTProperties: Sendable, Equatable {
    /// MIME type of the payload, e.g. `application/x-protobuf`.
    public var contentType: String?
    /// The broker drops the message if it cannot deliver it within this many seconds (stale commands).
    public var messageExpirySeconds: UInt32?
    /// Request/response: where the answer goes, passed through unchanged.
    public var responseTopic: String?
    /// Request/response: ties the answer to the request, passed through unchanged.
    public var correlationData: [UInt8]?
    /// Application-defined name/value pairs, in order.
    public var userProperties: [MQTTUserProperty]

    /// Only the properties given are sent.
    public init(
        contentType: String? = nil, messageExpirySeconds: UInt32? = nil, responseTopic: String? = nil,
        correlationData: [UInt8]? = nil, userProperties: [MQTTUserProperty] = []
    ) {
        self.contentType = contentType
        self.messageExpirySeconds = messageExpirySeconds
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.userProperties = userProperties
    }

    /// True when no property is set.
    public var isEmpty: Bool {
        contentType == nil && messageExpirySeconds == nil && responseTopic == nil && correlationData == nil
            && userProperties.isEmpty
    }
}

/// A message to publish or one received.
public struct MQTTMessage: Sendable, Equatable {
    /// A topic name (no wildcards).
    public var topic: String
    public var payload: [UInt8]
    /// 0 at most once, 1 at least once (what Axle uses), 2 exactly once.
    public var qos: UInt8
    /// The broker keeps the last retained message of a topic for subscribers that arrive later.
    public var retain: Bool
    /// MQTT 5 properties; ignored on 3.1.1.
    public var properties: MQTTProperties

    /// A message with a binary payload (QoS 1 unless said otherwise).
    public init(
        topic: String, payload: [UInt8], qos: UInt8 = 1, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }

    /// A message whose payload is the UTF-8 of `text`.
    public init(
        topic: String, text: String, qos: UInt8 = 1, retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.init(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain, properties: properties)
    }
}

/// What happens on the connection, reported on the client's network thread.
public enum MQTTClientEvent: Sendable {
    /// CONNACK accepted. `sessionPresent`: the broker still had the session (subscriptions, queued messages).
    case connected(sessionPresent: Bool)
    /// An attempt failed; the next one starts after `retryInSeconds` (or at once after `linkChanged()`).
    case connectFailed(reason: String, retryInSeconds: Double)
    /// An established connection ended (also after `stop()`).
    case disconnected(reason: String)
    /// PUBACK (QoS 1) or PUBCOMP (QoS 2) for `messageID`; for QoS 0, the message was written. On MQTT 5 a
    /// `reasonCode` of 0x80 or more means the broker refused the message: it will not be delivered.
    case acknowledged(messageID: Int32, reasonCode: Int32)
    /// SUBACK: one granted QoS per filter; 0x80 or more means refused.
    case subscribed(messageID: Int32, grantedQoS: [Int32])
    /// A message from a subscription (copied out of libmosquitto's buffers).
    case message(MQTTMessage)
}

extension MQTTClientEvent {
    /// A connection attempt that failed in TLS (the broker's certificate refused, the handshake failed): a setting or
    /// certificate to fix, not a network that comes back by itself, so worth an error in the log.
    public var isTLSFailure: Bool {
        guard case .connectFailed(let reason, _) = self else { return false }
        // MQTTClient starts every TLS failure's reason with "TLS " (describeFailure).
        return reason.hasPrefix("TLS ")
    }
}

/// What `MQTTClient.publish` did with a message.
public enum PublishOutcome: Sendable, Equatable {
    /// Handed to libmosquitto on a live connection; wait for `.acknowledged` with this id.
    case sent(messageID: Int32)
    /// Not connected. libmosquitto may keep a QoS 1/2 message in RAM and send it after reconnecting ("maybe
    /// queued"), but that copy dies with the process: treat the message as not sent and keep your own copy.
    case notConnected(messageID: Int32)
    /// This message can never be sent as it is (invalid topic, too large, malformed UTF-8...): do not retry it.
    case permanentFailure(reason: String)
    /// Could not be handed over now (out of memory, ...): retry later.
    case transientFailure(reason: String)
}
