import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `axle-fleet` with keys and TLS files an operator got wrong: a signing key or TLS client key others can
/// read is refused with the chmod that fixes it (as ssh does), and TLS files with an mqtt:// broker are a usage error.
/// The tests run as root: the mode bits are checked for root too (only the owner check knows about root).
@Suite("axle-fleet keys and TLS files", .serialized)
struct FleetKeyAndTLSTests {
    @Test("a signing key at 0644 or 0666 is refused before anything is sent, with the chmod that fixes it")
    func looseSigningKeyIsRefused() throws {
        let broker = try MosquittoBroker()
        let keys = try TestKeys()
        defer { removeTree(keys.directory) }
        let responder = try Responder(broker, answers: [.init(status: .succeeded)])
        for mode: mode_t in [0o644, 0o666] {
            #expect(chmod(keys.keyFile, mode) == 0)
            let result = try FleetProcess.run([
                "command", "send", "--broker", broker.url, "--vehicle", "demo-001", "--key", keys.keyFile, "doors.lock",
                "--wait", "5",
            ])
            #expect(result.status != 0, "mode \(String(mode, radix: 8)): \(result.both)")
            #expect(result.stderr.contains("too open"), "\(result.both)")
            #expect(result.stderr.contains("chmod 600 \(keys.keyFile)"), "the fix: \(result.both)")
        }
        #expect(responder.requests.isEmpty, "nothing signed with a loose key reached the vehicle")
    }

    @Test("a TLS client key (--key-file) at 0644 is refused before connecting, with the chmod that fixes it")
    func looseTLSClientKeyIsRefused() throws {
        let broker = try MosquittoBroker(mode: .mutualTLS)
        let certificates = broker.certificates!
        let identity = certificates.client("backend")
        let looseKey = certificates.directory + "/loose-backend.key"
        try AxleProcess.writeFile(looseKey, AxleProcess.readText(identity.keyFile))
        #expect(chmod(looseKey, 0o644) == 0)
        let result = try FleetProcess.run([
            "watch", "--broker", broker.url, "--vehicle", "demo-001", "--ca-file", certificates.caFile,
            "--cert-file", identity.certificateFile, "--key-file", looseKey,
        ], timeoutSeconds: 20)
        #expect(result.status != 0 && result.status != 137, "refused at once, not killed after watching: \(result.both)")
        #expect(result.stderr.contains("chmod 600 \(looseKey)"), "the fix: \(result.both)")
        #expect(!broker.log.contains(" as axle-fleet-"), "no connection was made: \(broker.log)")
    }

    @Test("--ca-file, --cert-file or --key-file with an mqtt:// broker is a usage error (64) saying to write mqtts://")
    func plaintextBrokerWithTLSFilesIsAUsageError() throws {
        let certificates = try TestCertificates(clients: ["backend"])
        let identity = certificates.client("backend")
        for files in [
            ["--ca-file", certificates.caFile],
            ["--key-file", identity.keyFile],
            ["--cert-file", identity.certificateFile, "--key-file", identity.keyFile],
        ] {
            let result = try FleetProcess.run(["watch", "--broker", "mqtt://127.0.0.1:1883", "--vehicle", "v"] + files)
            #expect(result.status == 64, "\(files): \(result.both)")
            #expect(result.stderr.contains(files[0]), "names the flag: \(result.both)")
            #expect(result.stderr.contains("mqtts://127.0.0.1:8883"), "says what to write: \(result.both)")
        }
    }
}
