import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

/// Payloads made by other implementations (Python's `cryptography`) verify here: the format is what the docs say.
@Suite("Interoperability")
struct InteropTests {
    /// The worked example of docs/commands.md, signed there with Python.
    static let documentedKey = "axle-ed25519-public fleet-2025 0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=\n"
    static let documentedPayload =
        #"{"v":1,"key":"fleet-2025","body":"eyJpZCI6IjlmMGMyZDRlLTZiMWEtNGMzZC04ZTVmLTBhMWIyYzNkNGU1ZiIsInZlaGljbGUiOiJWSU4xMjMiLCJuYW1lIjoiY2xpbWF0ZS5wcmVjb25kaXRpb24iLCJwYXJhbXMiOnsiZHVyYXRpb24iOjE1LCJ0ZW1wZXJhdHVyZSI6MjF9LCJpc3N1ZWRfYXQiOjE3NjMwMDAwMDAwMDAsImV4cGlyZXNfYXQiOjE3NjMwMDAwMzAwMDAsImNvdW50ZXIiOjE3NjMwMDAwMDAwMDB9","sig":"M8qXCcAo4IW4xWwSVUnGNvNAIhMhmnxh3Cb6ZSYYnO9gISZBfxE+mp+YO2I67Ca8GkMgmq0mCxMDvysSvUmlDg=="}"#

    @Test func theDocumentedExampleVerifiesAndSwiftSignsItIdentically() throws {
        let directory = try TestDirectory()
        let keyPath = try AxleProcess.writeFile(directory.path + "/fleet-2025.pub", Self.documentedKey)
        let publicKey = try CommandPublicKey(contentsOfFile: keyPath)
        let verifier = CommandVerifier(
            vehicleID: "VIN123", trustStore: TrustStore(keys: [publicKey]), catalog: Fixture.catalog)
        let verified = try verifier.verify(
            payload: Array(Self.documentedPayload.utf8), nowMillis: 1_763_000_005_000, monotonicNow: 0
        ).get()
        #expect(verified.request.name == "climate.precondition")
        #expect(verified.request.parameters == ["temperature": .number(21), "duration": .number(15)])
        #expect(verified.request.counter == 1_763_000_000_000)

        // The same key (seed 0x11 × 32) and request in Swift give the same bytes: the body is canonical as written
        // by bodyBytes(), and Ed25519 signatures are deterministic.
        let signer = try CommandSigningKey(keyID: "fleet-2025", rawRepresentation: Array(repeating: 0x11, count: 32))
        #expect(signer.publicKey == publicKey)
        let signed = signer.sign(verified.request)
        #expect(String(decoding: signed.payload(), as: UTF8.self) == Self.documentedPayload)
    }

    @Test func theFuzzSeedsVerifyAsTheirNamesSay() throws {
        let folder = AxleProcess.packageRoot + "/Fuzz/Corpus/commands"
        let trusted = try CommandSigningKey(keyID: "fuzz-1", rawRepresentation: (0..<32).map { UInt8($0) })
        let revoked = try CommandSigningKey(keyID: "fuzz-2", rawRepresentation: (0..<32).map { UInt8(255 - $0) })
        let verifier = CommandVerifier(
            vehicleID: "FUZZ-VIN", trustStore: TrustStore(keys: [trusted.publicKey, revoked.publicKey], revokedKeyIDs: ["fuzz-2"]),
            catalog: Fixture.catalog)
        let expected: [String: CommandReason?] = [
            "valid-trunk-open": nil, "valid-climate": nil, "valid-climate-default": nil, "valid-feature-activate": nil,
            "valid-collection-update": nil, "valid-snapshot-unicode": nil, "revoked-key": .revokedKey,
            "wrong-vehicle": .wrongVehicle, "expired": .expired, "bad-parameters": .badParameters,
            "missing-signature": .missingSignature,
        ]
        for (name, reason) in expected {
            let payload = try FileInput.readAll(path: folder + "/" + name)
            let outcome = verifier.verify(payload: payload, nowMillis: 1_763_000_000_000, monotonicNow: 0)
            switch outcome {
            case .success: #expect(reason == nil, "\(name) verified")
            case .failure(let rejection): #expect(rejection.reason == reason, "\(name): \(rejection)")
            }
        }
    }
}
