import AxleBase
import AxleTestSupport
import RemoteCommands

/// A test's temporary directory (AxleTestSupport), with the database file this target's tests use.
typealias TestDirectory = TemporaryDirectory

extension TemporaryDirectory {
    var databasePath: String { path + "/commands.db" }
}

/// Fixed keys and a verifier for vehicle "VIN123" that trusts "fleet-1" and "fleet-2" and has revoked "fleet-2".
enum Fixture {
    static let vehicle = "VIN123"
    static let now: Int64 = 1_763_000_000_000
    static let monotonicNow = 5000.0

    static let signer = try! CommandSigningKey(keyID: "fleet-1", rawRepresentation: Array(repeating: 7, count: 32))
    static let revokedSigner = try! CommandSigningKey(keyID: "fleet-2", rawRepresentation: Array(repeating: 9, count: 32))
    static let strangerSigner = try! CommandSigningKey(keyID: "stranger", rawRepresentation: Array(repeating: 11, count: 32))

    static let catalog = CommandCatalog(
        CommandCatalog.builtIn.merging([
            "trunk.open": [],
            "climate.precondition": [
                ParameterSpec(name: "temperature", kind: .number(min: 16, max: 28)),
                ParameterSpec(name: "duration", kind: .number(min: 5, max: 1800), defaultValue: .number(600)),
            ],
        ]) { first, _ in first })

    static let verifier = CommandVerifier(
        vehicleID: vehicle,
        trustStore: TrustStore(keys: [signer.publicKey, revokedSigner.publicKey], revokedKeyIDs: ["fleet-2"]),
        catalog: catalog)

    static func request(
        name: String = "trunk.open", parameters: [String: CommandValue] = [:], vehicle: String = Fixture.vehicle,
        issuedAt: Int64 = Fixture.now, ttl: Int64 = 30_000, counter: UInt64 = 1
    ) -> CommandRequest {
        CommandRequest(
            vehicle: vehicle, name: name, parameters: parameters, issuedAtMillis: issuedAt,
            expiresAtMillis: issuedAt + ttl, counter: counter)
    }

    static func payload(_ request: CommandRequest, signer: CommandSigningKey = Fixture.signer) -> [UInt8] {
        signer.sign(request).payload()
    }

    /// An envelope written by hand around `body` (signed by `signer` unless `signature` is given).
    static func envelope(body: String, keyID: String = "fleet-1", signature: [UInt8]? = nil) -> [UInt8] {
        let bytes = Array(body.utf8)
        let sig = signature ?? signer.signature(forBody: bytes)
        return Array(
            JSONValue.object([
                ("v", 1), ("key", .string(keyID)), ("body", .string(base64(bytes))), ("sig", .string(base64(sig))),
            ]).rendered().utf8)
    }

    static func verify(_ payload: [UInt8], now: Int64 = Fixture.now) -> Result<VerifiedCommand, CommandRejection> {
        verifier.verify(payload: payload, nowMillis: now, monotonicNow: monotonicNow)
    }

    /// The rejection reason, or nil when it verified.
    static func reason(_ payload: [UInt8], now: Int64 = Fixture.now) -> CommandReason? {
        if case .failure(let rejection) = verify(payload, now: now) { return rejection.reason }
        return nil
    }

    static func base64(_ bytes: [UInt8]) -> String {
        // The envelope from a real signature, with its body replaced: reuses the library's encoder.
        let envelope = SignedCommand(keyID: "k", body: bytes, signature: []).payload()
        let object = try! JSONValue.parse(String(decoding: envelope, as: UTF8.self))
        return object["body"]!.stringValue!
    }
}
