import AxleBase
import RemoteCommands
import Testing

@Suite("Verifier")
struct VerifierTests {
    @Test func aValidCommandVerifiesWithItsDeadlineOnTheMonotonicClock() throws {
        let request = Fixture.request(ttl: 30_000)
        let verified = try Fixture.verify(Fixture.payload(request)).get()
        #expect(verified.request == request)
        #expect(verified.keyID == "fleet-1")
        #expect(verified.receivedAtMillis == Fixture.now)
        #expect(verified.monotonicDeadline == Fixture.monotonicNow + 30)
        // Received 10 s late on the wall clock: 20 s are left, not 30.
        let late = try Fixture.verify(Fixture.payload(request), now: Fixture.now + 10_000).get()
        #expect(late.monotonicDeadline == Fixture.monotonicNow + 20)
    }

    @Test func eachCheckHasItsOwnReason() {
        let good = Fixture.request()
        let cases: [(CommandReason, [UInt8])] = [
            (.malformed, Array("not json".utf8)),
            (.malformed, Fixture.envelope(body: #"{"id":"x"}"#)),
            (.missingSignature, SignedCommand(keyID: "fleet-1", body: good.bodyBytes(), signature: []).payload()),
            (.unknownKey, Fixture.payload(good, signer: Fixture.strangerSigner)),
            (.revokedKey, Fixture.payload(good, signer: Fixture.revokedSigner)),
            (.badSignature, Fixture.envelope(body: String(decoding: good.bodyBytes(), as: UTF8.self), signature: Array(repeating: 1, count: 64))),
            (.wrongVehicle, Fixture.payload(Fixture.request(vehicle: "OTHER"))),
            (.expired, Fixture.payload(Fixture.request(issuedAt: Fixture.now - 60_000, ttl: 30_000))),
            (.notYetValid, Fixture.payload(Fixture.request(issuedAt: Fixture.now + 60_000, ttl: 30_000))),
            (.expiryTooFar, Fixture.payload(Fixture.request(ttl: 600_000))),
            (.unknownCommand, Fixture.payload(Fixture.request(name: "warp.drive"))),
            (.badParameters, Fixture.payload(Fixture.request(name: "climate.precondition", parameters: ["temperature": .number(99)]))),
        ]
        for (expected, payload) in cases {
            #expect(Fixture.reason(payload) == expected, "\(String(decoding: payload, as: UTF8.self))")
        }
    }

    @Test func rejectionsSayWhatIsWrongAndNameTheCommandEvenBeforeTheSignatureIsChecked() throws {
        let request = Fixture.request(issuedAt: Fixture.now - 42_000, ttl: 30_000)
        guard case .failure(let expired) = Fixture.verify(Fixture.payload(request)) else {
            Issue.record("an expired command verified")
            return
        }
        #expect(expired.text == "expired 12 s ago (expires_at \(request.expiresAtMillis)): send a new command")
        #expect(expired.commandID == request.id)
        #expect(expired.commandName == "trunk.open")

        guard case .failure(let unknown) = Fixture.verify(Fixture.payload(request, signer: Fixture.strangerSigner)) else {
            Issue.record("an unknown key verified")
            return
        }
        #expect(unknown.text.contains("\"stranger\""))
        #expect(unknown.text.contains("--trust-key"))
        #expect(unknown.commandID == request.id)
        let response = unknown.response(vehicle: Fixture.vehicle, timeMillis: Fixture.now)
        #expect(response.status == .rejected)
        #expect(response.reason == .unknownKey)
        #expect(response.id == request.id)
    }

    @Test func timeLimitsAreExactAtTheirEdges() {
        // Expired exactly at expires_at; valid one millisecond before.
        let request = Fixture.request(ttl: 30_000)
        #expect(Fixture.reason(Fixture.payload(request), now: request.expiresAtMillis) == .expired)
        #expect(Fixture.reason(Fixture.payload(request), now: request.expiresAtMillis - 1) == nil)
        // Issued up to 30 s in the future is clock skew, not an attack.
        #expect(Fixture.reason(Fixture.payload(Fixture.request(issuedAt: Fixture.now + 30_000))) == nil)
        #expect(Fixture.reason(Fixture.payload(Fixture.request(issuedAt: Fixture.now + 30_001))) == .notYetValid)
        // A lifetime of exactly 5 minutes is allowed, one millisecond more is not.
        #expect(Fixture.reason(Fixture.payload(Fixture.request(ttl: 300_000))) == nil)
        #expect(Fixture.reason(Fixture.payload(Fixture.request(ttl: 300_001))) == .expiryTooFar)
        // A sender whose clock runs far behind cannot stretch the life past now + 5 min + skew either.
        let stretched = Fixture.request(issuedAt: Fixture.now + 20_000, ttl: 300_000)
        #expect(Fixture.reason(Fixture.payload(stretched)) == nil)
    }

    @Test func everySingleBitFlipOfAValidPayloadIsRejected() throws {
        let request = Fixture.request(name: "climate.precondition", parameters: ["temperature": .number(21)], counter: 77)
        let payload = Fixture.payload(request)
        #expect(Fixture.reason(payload) == nil)
        var reasons: [CommandReason: Int] = [:]
        var verified: [Int] = []
        for bit in 0..<(payload.count * 8) {
            var flipped = payload
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            switch Fixture.verify(flipped) {
            case .success: verified.append(bit)
            case .failure(let rejection): reasons[rejection.reason, default: 0] += 1
            }
        }
        #expect(verified.isEmpty, "bits whose flip still verified: \(verified)")
        #expect(reasons.values.reduce(0, +) == payload.count * 8)
        // Flips in the body or the signature must fail the signature; flips in the framing are malformed; flips
        // in the key id name another key.
        #expect(reasons[.badSignature, default: 0] > 0)
        #expect(reasons[.malformed, default: 0] > 0)
        #expect(reasons[.unknownKey, default: 0] > 0)
        let allowed: Set<CommandReason> = [.malformed, .badSignature, .unknownKey, .missingSignature]
        #expect(Set(reasons.keys).isSubset(of: allowed), "reasons: \(reasons)")
    }

    @Test func parametersAreCheckedAndDefaultsFilledIn() throws {
        func outcome(_ parameters: [String: CommandValue]) -> Result<VerifiedCommand, CommandRejection> {
            Fixture.verify(Fixture.payload(Fixture.request(name: "climate.precondition", parameters: parameters)))
        }
        let filled = try outcome(["temperature": .number(21)]).get()
        #expect(filled.request.parameters == ["temperature": .number(21), "duration": .number(600)])

        let failures: [([String: CommandValue], String)] = [
            (["temperature": .number(21), "fan": .number(3)], "unknown parameter \"fan\""),
            (["temperature": .string("warm")], "must be a number"),
            (["temperature": .number(15.5)], "below the minimum 16"),
            (["temperature": .number(29)], "above the maximum 28"),
            ([:], "missing required parameter \"temperature\""),
            (["temperature": .bool(true)], "must be a number"),
        ]
        for (parameters, message) in failures {
            guard case .failure(let rejection) = outcome(parameters) else {
                Issue.record("\(parameters) verified")
                continue
            }
            #expect(rejection.reason == .badParameters)
            #expect(rejection.text.contains(message), "\(rejection.text)")
        }
    }

    @Test func builtInCommandsTakeTheirDocumentedParameters() throws {
        let snapshot = try Fixture.verify(Fixture.payload(Fixture.request(name: "diagnostics.snapshot"))).get()
        #expect(snapshot.request.parameters.isEmpty)  // absent "signals" means all, and stays absent
        let activate = Fixture.request(
            name: "feature.activate", parameters: ["feature": .string("heated-seats"), "valid_until": .number(1_800_000_000_000)])
        #expect(Fixture.reason(Fixture.payload(activate)) == nil)
        let noFeature = Fixture.request(name: "feature.activate", parameters: ["valid_until": .number(1)])
        #expect(Fixture.reason(Fixture.payload(noFeature)) == .badParameters)
        let update = Fixture.request(name: "collection.update", parameters: ["rule": .string("speed"), "enabled": .string("yes")])
        #expect(Fixture.reason(Fixture.payload(update)) == .badParameters)
    }

    @Test func oversizedPayloadsAreMalformedBeforeAnythingElse() {
        let huge = Array(repeating: UInt8(ascii: " "), count: 20_000)
        guard case .failure(let rejection) = Fixture.verify(huge) else {
            Issue.record("20 000 spaces verified")
            return
        }
        #expect(rejection.reason == .malformed)
        #expect(rejection.text.contains("16384"))
    }

    @Test func aRevokedKeyIsRefusedEvenAfterItsKeyWasRemoved() {
        let verifier = CommandVerifier(
            vehicleID: Fixture.vehicle, trustStore: TrustStore(keys: [Fixture.signer.publicKey], revokedKeyIDs: ["fleet-1"]),
            catalog: Fixture.catalog)
        let payload = Fixture.payload(Fixture.request())
        guard case .failure(let rejection) = verifier.verify(payload: payload, nowMillis: Fixture.now, monotonicNow: 0) else {
            Issue.record("a revoked key verified")
            return
        }
        #expect(rejection.reason == .revokedKey)
        let emptied = CommandVerifier(
            vehicleID: Fixture.vehicle, trustStore: TrustStore(keys: [], revokedKeyIDs: ["fleet-1"]), catalog: Fixture.catalog)
        if case .failure(let rejection) = emptied.verify(payload: payload, nowMillis: Fixture.now, monotonicNow: 0) {
            #expect(rejection.reason == .revokedKey)
        } else {
            Issue.record("a revoked key verified")
        }
    }
}
