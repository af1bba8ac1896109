import AxleBase
import Testing

@testable import RemoteCommands

/// A number that does not fit (`1e400` reads as infinity) is reported as such, never as the `null` JSON would
/// render it, and a long value is not echoed whole.
@Suite("Envelope numbers")
struct EnvelopeNumberTests {
    @Test(arguments: [
        (#"{"v":1e400,"key":"k","body":"e30=","sig":""}"#, "version is a number too large to represent (beyond 1.8e308), not a whole number in range"),
        (#"{"v":-1e400,"key":"k","body":"e30=","sig":""}"#, "version is a number too large to represent (below -1.8e308), not a whole number in range"),
        (#"{"v":1.5,"key":"k","body":"e30=","sig":""}"#, "version is 1.5, not a whole number in range"),
        (#"{"v":2,"key":"k","body":"e30=","sig":""}"#, "version is 2; this agent reads version 1"),
    ])
    func anEnvelopeVersionThatIsNotOneSaysWhatItIs(payload: String, expected: String) {
        #expect {
            _ = try SignedCommand.parse(payload: Array(payload.utf8))
        } throws: { error in
            "\(error)".contains(expected) && !"\(error)".contains("null")
        }
    }

    @Test func aBodyNumberTooLargeIsNamedAndALongStringIsCut() {
        let huge = #"{"id":"9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f","vehicle":"V","name":"n","params":{},"issued_at":1e400,"expires_at":1,"counter":1}"#
        #expect {
            _ = try CommandRequest.parse(body: Array(huge.utf8))
        } throws: { error in
            "\(error)".contains("\"issued_at\" must be a whole number in range, not a number too large to represent")
        }
        let long = #"{"id":"9f0c2d4e-6b1a-4c3d-8e5f-0a1b2c3d4e5f","vehicle":"V","name":"n","params":{},"issued_at":""# + String(repeating: "x", count: 1000) + #"","expires_at":1,"counter":1}"#
        #expect {
            _ = try CommandRequest.parse(body: Array(long.utf8))
        } throws: { error in
            "\(error)".contains("…(1002 bytes)") && "\(error)".utf8.count < 300
        }
    }
}
