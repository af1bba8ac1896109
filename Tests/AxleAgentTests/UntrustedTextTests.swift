import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

/// Text a sender put in a command request (its id, name, key id) through the whole agent: it must not forge a
/// journald record in the agent's log, nor reach a technician's terminal as escape sequences through `axle`.
@Suite("Untrusted command text in the agent's log and in axle's output", .serialized)
struct UntrustedCommandTextTests {
    /// A newline then a journald priority prefix (a forged emergency record), then a window-title sequence and a
    /// screen clear.
    static let hostile = "x\n<0>axled: FAKE EMERGENCY\u{1B}]0;owned\u{07}\u{1B}[2J"

    @Test("a rejected request's id, name and key id are escaped in the log, in axle status and in axle commands")
    func hostileRequestText() throws {
        let rig = try RemoteCommandTests.Rig(vehicleID: "hostile-1")
        defer { rig.cleanUp() }
        let agent = try rig.start(scenario: "parked")
        defer { agent.terminate(timeoutSeconds: 5) }

        // Signed by a trusted key: rejected only for the unknown command, so it is logged and journaled whatever
        // is done to unauthenticated requests.
        var signed = rig.request("trunk.open" + Self.hostile)
        signed.id = Self.hostile
        // Signed by a key the vehicle does not know, whose id is hostile too (set in the envelope: key files
        // refuse such ids).
        let stranger = try CommandSigningKey.generate(keyID: "stranger")
        var unsigned = rig.request(Self.hostile)
        unsigned.id = "unsigned" + Self.hostile
        var envelope = stranger.sign(unsigned)
        envelope.keyID = "stranger" + Self.hostile
        try rig.publish([rig.key.sign(signed).payload(), envelope.payload()])

        #expect(rig.finalResponse(for: signed.id)?.status == .rejected, "\(rig.responses()) \(rig.harness.log())")
        #expect(
            waitUntil(timeoutSeconds: 10) { rig.harness.log().contains(#"x\n<0>axled: FAKE EMERGENCY\x1b]0;owned\x07\x1b[2J"#) },
            "the rejection is logged, escaped: \(rig.harness.log())")

        let log = rig.harness.log()
        let lines = log.split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("<0>") }, "a forged priority-0 record: \(log)")
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "every record starts with its own priority: \(log)")
        #expect(!log.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "raw escape sequences in the log")

        for arguments in [["status"], ["commands"], ["commands", "--json"], ["status", "--json"]] {
            let result = try AxleProcess.run(arguments + ["--socket", rig.harness.controlSocket])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(!(result.stdout + result.stderr).unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" },
                "axle \(arguments.joined(separator: " ")) writes raw escape sequences: \(result.stdout)")
            #expect(!result.stdout.contains("\n<0>"), "axle \(arguments.joined(separator: " ")): \(result.stdout)")
        }
        // The status report's recent errors carry the warning, escaped.
        let status = try AxleProcess.run(["status", "--socket", rig.harness.controlSocket])
        #expect(status.stdout.contains(#"FAKE EMERGENCY\x1b]0;owned"#), "\(status.stdout)")
    }
}
