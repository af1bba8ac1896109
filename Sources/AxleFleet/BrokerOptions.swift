import ArgumentParser
import AxleBase
import MQTTUplink

#if canImport(Glibc)
import Glibc
#endif

/// How to reach the broker: every command that talks to one takes these options, named like `axled`'s.
struct BrokerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The broker: mqtt://host:port or mqtts://host:port.", valueName: "url"))
    var broker: String

    @Option(name: .customLong("topic-prefix"), help: "Topic prefix before the vehicle id.")
    var topicPrefix: String = "axle/v1"

    @Option(name: .customLong("mqtt-version"), help: "MQTT protocol: 5 or 3.1.1.")
    var mqttVersion: String = "5"

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("CA certificate that signed the broker's (mqtts://).", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("cert-file"), help: ArgumentHelp("The backend's client certificate (mutual TLS).", valueName: "file"))
    var certFile: String?

    @Option(name: .customLong("key-file"), help: ArgumentHelp("The client certificate's private key (not the signing key: that is --key).", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("client-id"), help: "MQTT client id (default: axle-fleet-PID-RANDOM).")
    var clientID: String?

    @Option(help: "MQTT username.")
    var username: String?

    @Option(help: "MQTT password (default: $AXLE_FLEET_PASSWORD, which keeps it out of the process list).")
    var password: String?

    func validate() throws {
        guard ["5", "3.1.1"].contains(mqttVersion) else {
            throw ValidationError("--mqtt-version takes 5 or 3.1.1, not '\(mqttVersion)'")
        }
        let address: (host: String, port: Int, tls: Bool)
        do {
            address = try MQTTConfiguration.brokerAddress(broker)
        } catch {
            throw ValidationError("--broker: \(error)")
        }
        if address.tls, caFile == nil {
            throw ValidationError("mqtts:// needs --ca-file, the CA that signed the broker's certificate")
        }
        if !address.tls, caFile != nil || certFile != nil || keyFile != nil {
            // TLS files with a plaintext address are a mistake: the tool would connect in the clear.
            let given = [("--ca-file", caFile), ("--cert-file", certFile), ("--key-file", keyFile)].filter { $0.1 != nil }
            throw ValidationError(
                "\(given.map(\.0).joined(separator: ", ")) given with the plaintext broker address '\(broker)' "
                    + "(--broker): the connection would not use TLS. Write the broker as "
                    + "mqtts://\(address.host):\(address.port == 1883 ? 8883 : address.port), or remove the TLS files")
        }
        if (certFile == nil) != (keyFile == nil) {
            throw ValidationError("a client certificate and its key go together: give both --cert-file and --key-file")
        }
        if let clientID, clientID.isEmpty { throw ValidationError("--client-id must not be empty") }
    }

    /// True for `--mqtt-version 5`.
    var isMQTT5: Bool { mqttVersion == "5" }

    /// The client configuration: clean start, no session kept on the broker after the tool exits.
    func configuration() throws(FleetError) -> MQTTConfiguration {
        let address: (host: String, port: Int, tls: Bool)
        do {
            address = try MQTTConfiguration.brokerAddress(broker)
        } catch {
            throw FleetError.usage("--broker: \(error)")
        }
        var configuration = MQTTConfiguration(
            host: address.host, port: address.port,
            clientID: clientID ?? "axle-fleet-\(getpid())-\(FleetTopics.randomToken().prefix(6))")
        configuration.protocolVersion = isMQTT5 ? .v5 : .v311
        configuration.cleanStart = true
        configuration.sessionExpirySeconds = 0
        configuration.username = username
        configuration.password = password ?? environment("AXLE_FLEET_PASSWORD")
        if address.tls, let caFile {
            configuration.tls = TLSSettings(caFile: caFile, certificateFile: certFile, keyFile: keyFile)
        }
        return configuration
    }

    private func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }
}
