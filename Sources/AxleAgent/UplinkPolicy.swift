import Outbox

/// How each priority class is batched, kept and sent: the agent's cost and latency knobs (docs/outbox.md).
public struct ClassPolicy: Sendable, Equatable {
    /// Samples collect in memory this long before they become one outbox record (0: a record per event).
    public var batchSeconds: Double
    /// A batch is closed early when it holds this many samples.
    public var maximumSamples: Int
    /// Pending records of the class go out at most this often (0: as soon as they exist).
    public var publishIntervalSeconds: Double
    /// Records older than this are dropped unsent (reported as expired); nil keeps them until the cap evicts them.
    public var expirySeconds: Double?
    public var qos: UInt8

    public init(batchSeconds: Double, maximumSamples: Int, publishIntervalSeconds: Double, expirySeconds: Double?, qos: UInt8) {
        self.batchSeconds = batchSeconds
        self.maximumSamples = maximumSamples
        self.publishIntervalSeconds = publishIntervalSeconds
        self.expirySeconds = expirySeconds
        self.qos = qos
    }
}

/// The uplink's policy for every class, plus the switches that apply to all of them. The drainer takes its part as
/// `DrainSettings` (AgentCore); which classes metered mode lets through is `RecordClass.sendable(metered:)`.
public struct UplinkPolicy: Sendable, Equatable {
    public var classes: [PriorityClass: ClassPolicy]
    /// Metered mode (a roaming SIM, a costly plan): only critical and alert records are sent until it is switched off;
    /// the rest keeps buffering.
    public var metered: Bool
    /// AWS IoT Core compatibility: QoS at most 1 and payloads at most 128 KiB (larger batches are split).
    public var awsIoTCompatible: Bool
    /// Records handed to the MQTT library and not yet acknowledged (the library itself keeps at most
    /// `MQTTConfiguration.maximumInflight` of them on the wire).
    public var window: Int
    /// Largest payload the broker takes; a batch above it is split into several records.
    public var maximumPayloadBytes: Int

    /// The defaults: critical at once and durable, telemetry in 5 s batches, bulk once a minute.
    public static let standard = UplinkPolicy(
        classes: [
            .critical: ClassPolicy(batchSeconds: 0, maximumSamples: 100_000, publishIntervalSeconds: 0, expirySeconds: nil, qos: 1),
            .alert: ClassPolicy(batchSeconds: 1, maximumSamples: 20_000, publishIntervalSeconds: 0, expirySeconds: 30 * 86_400, qos: 1),
            .telemetry: ClassPolicy(batchSeconds: 5, maximumSamples: 50_000, publishIntervalSeconds: 0, expirySeconds: 7 * 86_400, qos: 1),
            .bulk: ClassPolicy(batchSeconds: 60, maximumSamples: 200_000, publishIntervalSeconds: 60, expirySeconds: 7 * 86_400, qos: 1),
        ],
        metered: false, awsIoTCompatible: false, window: 64, maximumPayloadBytes: 256 * 1024)

    public init(classes: [PriorityClass: ClassPolicy], metered: Bool, awsIoTCompatible: Bool, window: Int, maximumPayloadBytes: Int) {
        self.classes = classes
        self.metered = metered
        self.awsIoTCompatible = awsIoTCompatible
        self.window = window
        self.maximumPayloadBytes = maximumPayloadBytes
    }

    public func policy(for priority: PriorityClass) -> ClassPolicy {
        classes[priority] ?? UplinkPolicy.standard.classes[priority]!
    }

    /// The QoS actually used: AWS IoT Core refuses QoS 2.
    public func qos(for priority: PriorityClass) -> UInt8 {
        awsIoTCompatible ? min(1, policy(for: priority).qos) : policy(for: priority).qos
    }

    /// The largest payload actually allowed.
    public var effectiveMaximumPayloadBytes: Int {
        awsIoTCompatible ? min(maximumPayloadBytes, 128 * 1024) : maximumPayloadBytes
    }
}
