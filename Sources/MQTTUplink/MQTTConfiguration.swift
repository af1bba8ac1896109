/// Which MQTT protocol the client speaks. MQTT 5 adds reason codes on acknowledgements, message properties and
/// session expiry; 3.1.1 is for brokers that have nothing newer.
public enum MQTTProtocolVersion: Sendable, Hashable {
    case v311
    case v5
}

/// TLS towards the broker: the CA that signed the broker's certificate, and for mutual TLS the vehicle's own
/// certificate and key (PEM files).
public struct TLSSettings: Sendable, Hashable {
    /// PEM file with the CA (or CAs) that signed the broker's certificate.
    public var caFile: String
    /// The vehicle's own certificate (PEM), for mutual TLS.
    public var certificateFile: String?
    /// The key of `certificateFile` (PEM, unencrypted).
    public var keyFile: String?
    /// Checks that the broker's certificate names the host connected to. Turn off only for a broker reached by an
    /// address its certificate does not list, and only on a network you trust.
    public var verifyHostname: Bool

    /// Server verification with `caFile`; add a certificate and key for mutual TLS.
    public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyHostname = verifyHostname
    }
}

/// Reconnect delays with "full jitter": each delay is drawn uniformly from `0...min(cap, base · 2^attempt)`, so a
/// fleet that lost its broker at the same moment does not come back at the same moment.
public struct BackoffPolicy: Sendable, Hashable {
    /// The ceiling of the first retry's delay; it doubles with every failed attempt.
    public var baseSeconds: Double = 0.5
    /// No delay is longer than this. 60 s, not 30: after a long broker outage every agent is somewhere inside a
    /// delay drawn from 0 to the cap, and what is left of it is short more often than long, so the first seconds
    /// after the broker's return each take about 2 / cap of the fleet. With 30 s that was 6.7 % (7.2 % measured with
    /// 400 agents, docs/fleet-scale.md), above the 5 % a broker should see in one second; with 60 s, 3.3 % (3.75 %
    /// measured), for a median return of about 20 s instead of 9 s.
    public var capSeconds: Double = 60

    /// Full jitter between 0 and `min(capSeconds, baseSeconds · 2^attempt)`.
    public init(baseSeconds: Double = 0.5, capSeconds: Double = 60) {
        self.baseSeconds = baseSeconds
        self.capSeconds = capSeconds
    }

    /// The largest delay the policy may choose before attempt `attempt` (0 for the first retry).
    public func ceiling(attempt: Int) -> Double {
        // 2^64 times any sensible base is past any sensible cap; stopping there keeps the arithmetic finite.
        let growth = Double(sign: .plus, exponent: min(max(attempt, 0), 64), significand: 1)
        return max(0, min(capSeconds, baseSeconds * growth))
    }

    /// A random delay in seconds for attempt `attempt` (0 for the first retry).
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let ceiling = ceiling(attempt: attempt)
        guard ceiling > 0 else { return 0 }
        return Double.random(in: 0...ceiling, using: &generator)
    }
}

/// Everything the client needs to reach one broker. The defaults suit a vehicle: MQTT 5, a persistent session that
/// survives a week offline, at most 20 unacknowledged publishes in flight.
public struct MQTTConfiguration: Sendable {
    /// The broker's host name or IP address.
    public var host: String
    /// The broker's TCP port (1883 plain, 8883 TLS by convention).
    public var port: Int
    /// The MQTT client identifier; with a persistent session it names the session, so it must be stable per vehicle.
    public var clientID: String
    /// MQTT 5 unless the broker only speaks 3.1.1.
    public var protocolVersion: MQTTProtocolVersion = .v5
    /// PINGREQ interval when idle; a broker silent for 1.5 times this is taken as gone (5...65535).
    public var keepAliveSeconds: Int = 30
    /// Start without the broker's stored session (MQTT 5 Clean Start, MQTT 3.1.1 clean session).
    public var cleanStart: Bool = false
    /// How long the broker keeps the session (subscriptions, queued QoS 1 messages) after a disconnect. MQTT 5 only;
    /// a 3.1.1 broker keeps a non-clean session until it is cleaned.
    public var sessionExpirySeconds: UInt32 = 7 * 86400
    /// MQTT username (with mutual TLS the broker may take the certificate's CN instead).
    public var username: String?
    /// MQTT password, sent only with a username or over TLS you trust.
    public var password: String?
    /// nil: plain TCP.
    public var tls: TLSSettings?
    /// Published by the broker when the connection dies without a clean disconnect (`stop()` never triggers it).
    public var will: MQTTMessage?
    /// Unacknowledged QoS 1/2 publishes on the wire at once (MOSQ_OPT_SEND_MAXIMUM); more wait in libmosquitto.
    public var maximumInflight: Int = 20
    /// Delays between connection attempts (full jitter).
    public var reconnect = BackoffPolicy()
    /// How long one connection attempt may take, TCP and TLS handshakes and CONNACK included.
    public var connectTimeoutSeconds: Double = 10

    /// The defaults above for one broker and one client id.
    public init(host: String, port: Int, clientID: String) {
        self.host = host
        self.port = port
        self.clientID = clientID
    }

    /// Parses "mqtt://host:port" and "mqtts://host:port" (default ports 1883/8883); clear error otherwise.
    public static func brokerAddress(_ url: String) throws -> (host: String, port: Int, tls: Bool) {
        func invalid(_ why: String) -> MQTTUplinkError {
            MQTTUplinkError(
                .invalidBrokerAddress,
                "broker address '\(url)': \(why) (expected mqtt://host:1883 or mqtts://host:8883)")
        }
        guard let schemeEnd = url.firstRange(of: "://") else { throw invalid("no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let tls: Bool
        switch scheme {
        case "mqtt", "tcp": tls = false
        case "mqtts", "ssl": tls = true
        default: throw invalid("unsupported scheme '\(scheme)'")
        }
        var rest = url[schemeEnd.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("/") { throw invalid("a path is not part of a broker address") }
        if rest.contains("@") { throw invalid("put credentials in the configuration, not in the address") }
        let host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            // IPv6 literal: [::1]:8883
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unterminated '[' in IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected '\(after)' after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("no host") }
        var port = tls ? 8883 : 1883
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw invalid("port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        }
        return (String(host), port, tls)
    }
}
