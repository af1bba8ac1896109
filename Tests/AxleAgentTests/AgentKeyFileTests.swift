import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `axled` with key files an installer got wrong: a trust key others can replace, a TLS client key others
/// can read. Each stops the agent at start (exit 1) with the chmod that fixes it, before it connects. The tests run
/// as root: the mode bits are checked for root too.
@Suite struct AgentKeyFileTests {
    @Test("a world-writable trust key (0666) stops axled at start with the chmod that fixes it")
    func worldWritableTrustKeyIsRefused() throws {
        let broker = try MosquittoBroker()
        let harness = try AgentHarness(vehicleID: "loose-trust-key")
        defer { harness.cleanUp() }
        let prefix = harness.directory + "/ops"
        try CommandSigningKey.generate(keyID: "ops").write(prefix: prefix)
        #expect(chmod(prefix + ".pub", 0o666) == 0)
        let agent = try harness.start(broker: broker.url, ["--trust-key", prefix + ".pub", "--simulate", "city-drive"])
        let status = agent.wait(timeoutSeconds: 15) ?? {
            agent.send(signal: SIGKILL)
            return -1
        }()
        let log = harness.log()
        #expect(status == 1, "log: \(log)")
        #expect(log.contains("too open"), "\(log)")
        #expect(log.contains("chmod 644 \(prefix).pub"), "the fix: \(log)")
        #expect(!broker.log.contains(" as axled-loose-trust-key"), "no connection was made: \(broker.log)")
    }

    @Test("a TLS client key (--key-file) at 0644 stops axled at start with the chmod that fixes it")
    func looseTLSClientKeyIsRefused() throws {
        let broker = try MosquittoBroker(mode: .mutualTLS)
        let certificates = broker.certificates!
        let identity = certificates.client("vehicle-a")
        let harness = try AgentHarness(vehicleID: "vehicle-a")
        defer { harness.cleanUp() }
        let looseKey = harness.directory + "/vehicle-a.key"
        try AxleProcess.writeFile(looseKey, AxleProcess.readText(identity.keyFile))
        #expect(chmod(looseKey, 0o644) == 0)
        let agent = try harness.start(broker: broker.url, [
            "--ca-file", certificates.caFile, "--cert-file", identity.certificateFile, "--key-file", looseKey,
            "--simulate", "city-drive",
        ])
        let status = agent.wait(timeoutSeconds: 15) ?? {
            agent.send(signal: SIGKILL)
            return -1
        }()
        let log = harness.log()
        #expect(status == 1, "log: \(log)")
        #expect(log.contains("chmod 600 \(looseKey)"), "the fix: \(log)")
        #expect(!broker.log.contains(" as axled-vehicle-a"), "no connection was made: \(broker.log)")
    }
}
