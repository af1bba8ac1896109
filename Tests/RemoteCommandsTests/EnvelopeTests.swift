import AxleBase
import Testing

@testable import RemoteCommands

@Suite("Envelope")
struct EnvelopeTests {
    @Test func theBodyIsCompactJSONInTheDocumentedOrder() throws {
        let request = CommandRequest(
            id: "0b6f3c1e-8a4d-4c2b-9f1e-2d3c4b5a6978", vehicle: "VIN123", name: "climate.precondition",
            parameters: ["temperature": .number(21), "duration": .number(600), "eco": .bool(true), "zone": .string("front")],
            issuedAtMillis: 1_763_000_000_000, expiresAtMillis: 1_763_000_030_000, counter: 42)
        let text = String(decoding: request.bodyBytes(), as: UTF8.self)
        #expect(
            text
                == #"{"id":"0b6f3c1e-8a4d-4c2b-9f1e-2d3c4b5a6978","vehicle":"VIN123","name":"climate.precondition","params":{"duration":600,"eco":true,"temperature":21,"zone":"front"},"issued_at":1763000000000,"expires_at":1763000030000,"counter":42}"#
        )
        #expect(try CommandRequest.parse(body: request.bodyBytes()) == request)
    }

    @Test func newIDsAreRandomVersion4UUIDs() {
        let ids = (0..<200).map { _ in CommandRequest.newID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(CommandRequest.isValidID(id), "\(id)")
            #expect(Array(id)[14] == "4")
            #expect("89ab".contains(Array(id)[19]))
        }
    }

    @Test func bodiesThatAreNotExactlyAsDocumentedAreRefused() {
        let valid = #"{"id":"0b6f3c1e-8a4d-4c2b-9f1e-2d3c4b5a6978","vehicle":"V","name":"n","params":{},"issued_at":1,"expires_at":2,"counter":3}"#
        #expect((try? CommandRequest.parse(body: Array(valid.utf8))) != nil)
        let broken: [(String, String)] = [
            (valid.replacingOccurrences("\"counter\":3", "\"counter\":-3"), "counter"),
            (valid.replacingOccurrences("\"counter\":3", "\"counter\":3,\"extra\":1"), "unknown member \"extra\""),
            (valid.replacingOccurrences("\"counter\":3", "\"counter\":3,\"counter\":4"), "twice"),
            (valid.replacingOccurrences("0b6f3c1e", "0B6F3C1E"), "lowercase UUID"),
            (valid.replacingOccurrences("\"params\":{}", "\"params\":{\"a\":[1]}"), "no nesting"),
            (valid.replacingOccurrences("\"params\":{}", "\"params\":{\"a\":null}"), "no nesting"),
            (valid.replacingOccurrences("\"params\":{}", "\"params\":{\"a\":1e999}"), "finite"),
            (valid.replacingOccurrences("\"issued_at\":1", "\"issued_at\":1.5"), "whole number"),
            (valid.replacingOccurrences("\"vehicle\":\"V\",", ""), "no \"vehicle\""),
            ("[1]", "must be a JSON object"),
        ]
        for (body, message) in broken {
            do {
                _ = try CommandRequest.parse(body: Array(body.utf8))
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
        let tooMany = (0..<33).map { "\"p\($0)\":1" }.joined(separator: ",")
        #expect(throws: CommandFormatError.self) {
            try CommandRequest.parse(body: Array(valid.replacingOccurrences("\"params\":{}", "\"params\":{\(tooMany)}").utf8))
        }
        #expect(throws: CommandFormatError.self) { try CommandRequest.parse(body: [0x7B, 0xFF, 0x7D]) }
    }

    @Test func theEnvelopeRoundTripsAndAnAbsentSignatureReadsAsEmpty() throws {
        let signed = Fixture.signer.sign(Fixture.request())
        #expect(try SignedCommand.parse(payload: signed.payload()) == signed)
        #expect(signed.signature.count == 64)
        let unsigned = try SignedCommand.parse(payload: Array(#"{"v":1,"key":"fleet-1","body":"e30="}"#.utf8))
        #expect(unsigned.signature.isEmpty)
        #expect(unsigned.body == Array("{}".utf8))
        for (payload, message) in [
            (#"{"v":2,"key":"k","body":"e30=","sig":""}"#, "version is 2"),
            (#"{"v":1,"key":"k","body":"e30","sig":""}"#, "base64"),
            (#"{"v":1,"key":"k","body":"e31=","sig":""}"#, "base64"),  // non-zero padding bits
            (#"{"v":1,"key":"k","body":"e30=","sig":"","x":0}"#, "unknown member"),
            (#"{"v":1,"body":"e30=","sig":""}"#, "\"key\""),
        ] {
            do {
                _ = try SignedCommand.parse(payload: Array(payload.utf8))
                Issue.record("accepted \(payload)")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }

    @Test func base64MatchesRFC4648AndOnlyAcceptsCanonicalText() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        for text in ["Zh==", "Zm9=", "Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9", "=Zm9", "Zg==Zg==", "Zm-_"] {
            #expect(Base64.decode(text) == nil, "\(text)")
        }
        let bytes = (0..<256).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test func responsesRoundTripWithOptionalMembersLeftOut() throws {
        let minimal = CommandResponse(id: "i", vehicle: "V", name: "trunk.open", status: .inProgress, timeMillis: 5)
        #expect(String(decoding: minimal.payload(), as: UTF8.self) == #"{"id":"i","vehicle":"V","name":"trunk.open","status":"IN_PROGRESS","t":5}"#)
        #expect(try CommandResponse.parse(minimal.payload()) == minimal)
        let full = CommandResponse(
            id: "i", vehicle: "V", name: nil, status: .rejected, timeMillis: 6, reason: .preconditionFailed,
            text: "speed is 12 km/h", result: .object([("speed", 12)]))
        #expect(try CommandResponse.parse(full.payload()) == full)
        #expect(throws: CommandFormatError.self) {
            try CommandResponse.parse(Array(#"{"id":"i","vehicle":"V","status":"DONE","t":1}"#.utf8))
        }
    }

    @Test func everyReasonHasTheDocumentedCodeAndStatus() {
        #expect(CommandReason.allCases.count == 21)
        #expect(CommandReason.allCases.allSatisfy { $0.rawValue == $0.rawValue.lowercased() })
        #expect(CommandReason.sendFailed.status == .failed)
        #expect(CommandReason.noConfirmation.status == .timedOut)
        #expect(CommandReason.agentRestarted.status == .interrupted)
        #expect(CommandReason.alreadySatisfied.status == .succeeded)
        #expect(CommandReason.ecuNoAnswer.status == .failed)
        #expect(CommandReason.ecuRefused.status == .failed)
        #expect(CommandReason.replay.status == .rejected)
        #expect(CommandStatus.allCases.filter(\.isFinal) == [.succeeded, .failed, .timedOut, .rejected, .interrupted])
    }
}

extension String {
    /// `self` with every `target` replaced (no Foundation here).
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
