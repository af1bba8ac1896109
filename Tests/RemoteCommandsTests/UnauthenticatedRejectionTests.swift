import AxleBase
import RemoteCommands
import Testing

/// Which rejections come from a trusted key and which from anyone: the agent answers the second kind briefly, at
/// QoS 0 and rate-limited (docs/commands.md, "Unauthenticated requests").
@Suite("Unauthenticated rejections")
struct UnauthenticatedRejectionTests {
    func rejection(_ payload: [UInt8]) -> CommandRejection? {
        if case .failure(let rejection) = Fixture.verifier.verify(
            payload: payload, nowMillis: Fixture.now, monotonicNow: Fixture.monotonicNow)
        {
            return rejection
        }
        return nil
    }

    @Test("failures before or at the signature are unauthenticated; failures after it are not")
    func authenticationFollowsTheSignature() {
        let valid = Fixture.request()
        var forged = Fixture.signer.sign(valid)
        forged.signature = Fixture.signer.sign(Fixture.request(counter: 2)).signature
        var unsigned = Fixture.signer.sign(valid)
        unsigned.signature = []
        let unauthenticated: [([UInt8], CommandReason)] = [
            (Array("junk".utf8), .malformed),
            (unsigned.payload(), .missingSignature),
            (Fixture.payload(valid, signer: Fixture.strangerSigner), .unknownKey),
            (Fixture.payload(valid, signer: Fixture.revokedSigner), .revokedKey),
            (forged.payload(), .badSignature),
        ]
        for (payload, reason) in unauthenticated {
            let refused = rejection(payload)
            #expect(refused?.reason == reason)
            #expect(refused?.isAuthenticated == false, "\(reason)")
            #expect((refused?.unauthenticatedText.utf8.count ?? 0) < 80, "\(reason)")
        }
        let authenticated: [([UInt8], CommandReason)] = [
            (Fixture.payload(Fixture.request(vehicle: "VIN999")), .wrongVehicle),
            (Fixture.payload(Fixture.request(issuedAt: Fixture.now - 60_000)), .expired),
            (Fixture.payload(Fixture.request(name: "trunk.fly")), .unknownCommand),
            (Fixture.payload(Fixture.request(name: "climate.precondition", parameters: ["temperature": .number(99)])), .badParameters),
        ]
        for (payload, reason) in authenticated {
            let refused = rejection(payload)
            #expect(refused?.reason == reason)
            #expect(refused?.isAuthenticated == true, "\(reason)")
        }
    }
}
