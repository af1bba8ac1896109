import AxleBase
import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `axled` given TLS files with an `mqtt://` broker address: it must refuse to start rather than connect in
/// plaintext while the operator believes the link is protected.
@Suite struct PlaintextBrokerTests {
    @Test("mqtt:// with --ca-file is refused at start (exit 1), naming the flag and the mqtts:// address to write")
    func plaintextAddressWithACAFlagIsRefused() throws {
        let broker = try MosquittoBroker()
        let certificates = try TestCertificates(clients: [])
        let harness = try AgentHarness(vehicleID: "plain-by-mistake")
        defer { harness.cleanUp() }
        let agent = try harness.start(
            broker: broker.url, ["--ca-file", certificates.caFile, "--simulate", "city-drive"])
        let status = agent.wait(timeoutSeconds: 15) ?? {
            agent.send(signal: SIGKILL)
            return -1
        }()
        let log = harness.log()
        #expect(status == 1, "axled must not start in plaintext with a CA file; log: \(log)")
        #expect(log.contains("<3>"), "an error-level line: \(log)")
        #expect(log.contains("--ca-file"), "names the flag: \(log)")
        #expect(log.contains("mqtts://127.0.0.1:\(broker.port)"), "says what to write instead: \(log)")
        #expect(!log.contains("connected to"), "\(log)")
    }

    @Test("ca-file and key-file with an mqtt:// broker in the configuration file: exit 1 with file:line of each")
    func plaintextAddressWithTLSFilesInTheConfigurationFileIsRefused() throws {
        let broker = try MosquittoBroker()
        let certificates = try TestCertificates(clients: ["vehicle-a"])
        let identity = certificates.client("vehicle-a")
        let harness = try AgentHarness(vehicleID: "plain-by-mistake")
        defer { harness.cleanUp() }
        let config = try AxleProcess.writeFile(harness.directory + "/axled.toml", """
            vehicle-id = "plain-by-mistake"
            profile = "\(AgentHarness.demoProfile)"
            data-dir = "\(harness.dataDirectory)"

            [mqtt]
            broker = "\(broker.url)"
            ca-file = "\(certificates.caFile)"
            cert-file = "\(identity.certificateFile)"
            key-file = "\(identity.keyFile)"
            """)
        let agent = try ChildProcess(
            executable: AgentHarness.axled,
            arguments: ["--config", config, "--simulate", "city-drive", "--control-socket", harness.controlSocket],
            stderrPath: harness.directory + "/axled-0.log")
        let status = agent.wait(timeoutSeconds: 15) ?? {
            agent.send(signal: SIGKILL)
            return -1
        }()
        let log = harness.log()
        #expect(status == 1, "log: \(log)")
        #expect(log.contains("axled.toml:7"), "the ca-file line: \(log)")
        #expect(log.contains("axled.toml:6"), "the broker line: \(log)")
        #expect(log.contains("key-file"), "\(log)")
        #expect(log.contains("mqtts://127.0.0.1:\(broker.port)"), "\(log)")
    }
}
