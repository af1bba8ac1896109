#if canImport(Glibc)
import Glibc
#endif

/// A small PKI made with the real `openssl` in a temporary directory: a test CA, a server certificate for
/// 127.0.0.1 and localhost, client certificates (CN = the vehicle's name) signed by the CA, and a second, untrusted
/// CA with a client certificate of its own (for "wrong certificate" tests). EC P-256 keys: quick to make.
public final class TestCertificates: Sendable {
    /// A client's certificate and key (PEM).
    public struct ClientIdentity: Sendable, Hashable {
        public let commonName: String
        public let certificateFile: String
        public let keyFile: String
    }

    /// Debian's openssl.
    public static let openssl = "/usr/bin/openssl"
    /// Where the files are (removed on deinit).
    public let directory: String
    /// The test CA every broker and client trusts.
    public let caFile: String
    /// The broker's certificate (subjectAltName IP:127.0.0.1, DNS:localhost) and key.
    public let serverCertificateFile: String
    public let serverKeyFile: String
    /// A CA no broker trusts.
    public let untrustedCAFile: String
    /// A client certificate signed by the untrusted CA (with the CN of the first client, a forgery attempt).
    public let untrustedClient: ClientIdentity
    private let clients: [String: ClientIdentity]

    /// Makes the CA, the server certificate and one client certificate per name in `clients`. `serverNamesInCNOnly`:
    /// the server certificate names 127.0.0.1 in its subject's CN and has no subjectAltName, as old certificates
    /// did (RFC 6125 clients must refuse it).
    public init(clients clientNames: [String] = ["vehicle-a", "vehicle-b", "backend"], serverNamesInCNOnly: Bool = false) throws {
        directory = try makeTestDirectory(prefix: "axle-pki")
        do {
            caFile = directory + "/ca.crt"
            try Self.makeCA(name: "Axle Test CA", certificate: caFile, key: directory + "/ca.key")
            serverCertificateFile = directory + "/server.crt"
            serverKeyFile = directory + "/server.key"
            try Self.makeSigned(
                commonName: serverNamesInCNOnly ? "127.0.0.1" : "localhost", certificate: serverCertificateFile,
                key: serverKeyFile, caCertificate: caFile, caKey: directory + "/ca.key", directory: directory,
                extensions: (serverNamesInCNOnly ? "" : "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
                    + "extendedKeyUsage=serverAuth\n")
            var made: [String: ClientIdentity] = [:]
            for name in clientNames {
                made[name] = try Self.makeClient(
                    commonName: name, fileStem: directory + "/client-\(name)", caCertificate: caFile,
                    caKey: directory + "/ca.key", directory: directory)
            }
            clients = made
            untrustedCAFile = directory + "/untrusted-ca.crt"
            try Self.makeCA(name: "Untrusted CA", certificate: untrustedCAFile, key: directory + "/untrusted-ca.key")
            untrustedClient = try Self.makeClient(
                commonName: clientNames.first ?? "vehicle-a", fileStem: directory + "/untrusted-client",
                caCertificate: untrustedCAFile, caKey: directory + "/untrusted-ca.key", directory: directory)
        } catch {
            removeTree(directory)
            throw error
        }
    }

    deinit {
        removeTree(directory)
    }

    /// The identity made for `commonName` in `init` (a precondition failure for a name not made there).
    public func client(_ commonName: String) -> ClientIdentity {
        guard let identity = clients[commonName] else {
            preconditionFailure("no test certificate for '\(commonName)'; pass it to TestCertificates(clients:)")
        }
        return identity
    }

    private static func makeCA(name: String, certificate: String, key: String) throws {
        try openssl([
            "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "3", "-subj", "/CN=\(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    private static func makeClient(
        commonName: String, fileStem: String, caCertificate: String, caKey: String, directory: String
    ) throws -> ClientIdentity {
        let identity = ClientIdentity(
            commonName: commonName, certificateFile: fileStem + ".crt", keyFile: fileStem + ".key")
        try makeSigned(
            commonName: commonName, certificate: identity.certificateFile, key: identity.keyFile,
            caCertificate: caCertificate, caKey: caKey, directory: directory,
            extensions: "extendedKeyUsage=clientAuth\n")
        return identity
    }

    private static func makeSigned(
        commonName: String, certificate: String, key: String, caCertificate: String, caKey: String,
        directory: String, extensions: String
    ) throws {
        let request = certificate + ".csr"
        let extensionFile = certificate + ".ext"
        try AxleProcess.writeFile(
            extensionFile, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n" + extensions)
        try openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", request, "-subj", "/CN=\(commonName)",
        ])
        try openssl([
            "x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", caKey,
            "-set_serial", String(UInt64.random(in: 1...UInt64(Int64.max))), "-days", "3",
            "-extfile", extensionFile, "-out", certificate,
        ])
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ChildProcess.run(openssl, arguments, timeoutSeconds: 60)
        guard result.status == 0 else {
            throw TestSupportError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.output)")
        }
    }
}
