import CLibFuzzer
import Crypto
import RemoteCommands

@main
enum FuzzCommandEnvelopeMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// The fixed world the fuzzer verifies in. The trusted key comes from a constant seed, so that the seed corpus
/// (Fuzz/Corpus/commands/, made by make-seeds.py beside this file) holds validly signed payloads that get the
/// fuzzer past the signature check; "fuzz-2" is trusted but revoked.
enum World {
    static let vehicle = "FUZZ-VIN"
    static let nowMillis: Int64 = 1_763_000_000_000
    static let monotonicNow = 1000.0
    /// Seed bytes 0, 1, …, 31 (RFC 8032 private key).
    static let trustedSeed = (0..<32).map { UInt8($0) }
    static let revokedSeed = (0..<32).map { UInt8(255 - $0) }
    static let trustedKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: trustedSeed).publicKey
    static let revokedKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: revokedSeed).publicKey

    static let verifier = CommandVerifier(
        vehicleID: vehicle,
        trustStore: TrustStore(
            keys: [
                try! CommandPublicKey(keyID: "fuzz-1", rawRepresentation: Array(trustedKey.rawRepresentation)),
                try! CommandPublicKey(keyID: "fuzz-2", rawRepresentation: Array(revokedKey.rawRepresentation)),
            ],
            revokedKeyIDs: ["fuzz-2"]),
        catalog: CommandCatalog(
            CommandCatalog.builtIn.merging([
                "trunk.open": [],
                "climate.precondition": [
                    ParameterSpec(name: "temperature", kind: .number(min: 16, max: 28)),
                    ParameterSpec(name: "duration", kind: .number(min: 60, max: 1800), defaultValue: .number(600)),
                ],
            ]) { first, _ in first }))
}

/// libFuzzer entry point: the input is an MQTT command payload (the envelope).
///
/// The invariant: nothing verifies without a valid signature. When `verify` accepts, the signature is checked again
/// here with swift-crypto directly — Ed25519 over "axle-command-v1\n" + body by the trusted, unrevoked key — and the
/// body must name this vehicle and be within its time limits; otherwise the target traps. Parsers must also
/// round-trip what they accept.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let payload = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    let outcome = World.verifier.verify(payload: payload, nowMillis: World.nowMillis, monotonicNow: World.monotonicNow)
    if case .success(let verified) = outcome {
        checkIndependently(payload: payload, verified: verified)
    }
    if let envelope = try? SignedCommand.parse(payload: payload) {
        let again = try? SignedCommand.parse(payload: envelope.payload())
        precondition(again == envelope, "envelope changed on write → read")
        if let request = try? CommandRequest.parse(body: envelope.body) {
            let reread = try? CommandRequest.parse(body: request.bodyBytes())
            precondition(reread == request, "body changed on write → read: \(String(decoding: request.bodyBytes(), as: UTF8.self))")
        }
    }
    return 0
}

private func checkIndependently(payload: [UInt8], verified: VerifiedCommand) {
    guard let envelope = try? SignedCommand.parse(payload: payload) else {
        preconditionFailure("verified a payload whose envelope does not parse")
    }
    precondition(envelope.keyID == "fuzz-1", "verified under key \(envelope.keyID), which is not the trusted unrevoked key")
    precondition(verified.keyID == "fuzz-1", "VerifiedCommand names key \(verified.keyID)")
    let signed = Array("axle-command-v1\n".utf8) + envelope.body
    precondition(
        envelope.signature.count == 64 && World.trustedKey.isValidSignature(envelope.signature, for: signed),
        "verified a payload whose signature is not the trusted key's")
    guard let body = try? CommandRequest.parse(body: envelope.body) else {
        preconditionFailure("verified a payload whose body does not parse")
    }
    precondition(body.vehicle == World.vehicle, "verified a command for vehicle \(body.vehicle)")
    precondition(verified.request.id == body.id && verified.request.name == body.name && verified.request.counter == body.counter,
        "the verified command is not the signed body")
    precondition(body.expiresAtMillis > World.nowMillis, "verified an expired command")
    precondition(body.expiresAtMillis - body.issuedAtMillis <= 300_000, "verified a command living over 5 minutes")
    precondition(verified.monotonicDeadline <= World.monotonicNow + 330, "monotonic deadline too far ahead")
}
