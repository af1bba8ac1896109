/// A failure of the MQTT uplink that the caller must fix: a bad broker address, an unreadable TLS file, a setting
/// libmosquitto rejects. Connection trouble at run time is not an error: it arrives as `MQTTClientEvent`s.
public struct MQTTUplinkError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure; grows without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidBrokerAddress, unreadableFile, invalidConfiguration, library, system
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A broker URL that is not `mqtt://host[:port]` or `mqtts://host[:port]`.
        public static let invalidBrokerAddress = Code(.invalidBrokerAddress)
        /// A CA, certificate or key file that does not exist or cannot be read.
        public static let unreadableFile = Code(.unreadableFile)
        /// A setting out of range or inconsistent with another (a key without a certificate, QoS 3, ...).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// libmosquitto refused a call with this configuration.
        public static let library = Code(.library)
        /// A system call failed (netlink socket, wake-up pipe).
        public static let system = Code(.system)

        public var description: String {
            switch value {
            case .invalidBrokerAddress: "invalid broker address"
            case .unreadableFile: "unreadable file"
            case .invalidConfiguration: "invalid configuration"
            case .library: "libmosquitto error"
            case .system: "system error"
            }
        }
    }

    /// What kind of failure, for code that reacts to it.
    public let code: Code
    /// What failed, where, and what to do about it.
    public let message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
