import AxleTestSupport
import Testing

/// `axle bus status` and `axle replay` tell a technician what is wrong with their input, in the order they would fix
/// it. These need no CAN stack: `lo` exists on every machine and is no CAN bus.
@Suite("CAN commands check their input")
struct CANCommandInputTests {
    @Test("bus status refuses an interface that is not CAN (lo), instead of reporting it up with exit 0")
    func nonCANInterface() throws {
        let result = try AxleProcess.run(["bus", "status", "lo", "--sample", "0.1"])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stderr.contains("lo is not a CAN interface (link type 772, not 280)"), "\(result.stderr)")
        let json = try AxleProcess.run(["bus", "status", "lo", "--json"])
        #expect(json.status == 1 && json.stderr.contains("not a CAN interface"), "\(json.stdout)\(json.stderr)")
    }

    @Test("bus status says on stderr that a named interface is missing")
    func missingInterface() throws {
        let result = try AxleProcess.run(["bus", "status", "nosuchcan7", "--sample", "0.1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("nosuchcan7: no such interface"), "\(result.stderr)")
    }

    @Test("replay reports a missing log before it looks for the bus")
    func replayMissingLog() throws {
        let result = try AxleProcess.run(["replay", "/nonexistent/drive.log", "--to", "nosuchcan7"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot read log /nonexistent/drive.log"), "\(result.stderr)")
        #expect(!result.stderr.contains("CAN"), "the bus was looked at first: \(result.stderr)")
    }
}
