import AxleBase
import AxleTestSupport
import Testing

/// The scan tool's commands where no bus is needed: refusing interfaces that are missing or no CAN interface, and
/// command lines that are wrong, each with what to do. (On a bus: Tests/CANBusTests/KernelScanToolTests.swift.)
@Suite("axle diag scan, pids, dtc, dm1, request-pgn without a bus") struct DiagScanToolCommandTests {
    @Test("a missing interface and a non-CAN interface are refused by name (exit 1)", arguments: [
        ["scan"], ["pids", "--watch"], ["dtc", "--clear"], ["dm1"], ["dm1", "--dm2"], ["request-pgn", "<iface>", "65260"],
    ])
    func interfaces(_ command: [String]) throws {
        for (interface, message) in [
            ("nosuchcan9", "no CAN interface named \"nosuchcan9\" (`ip -details link show type can`"),
            ("lo", "lo is not a CAN interface (link type 772, not 280)"),
        ] {
            let arguments = command.count > 1 && command[1] == "<iface>"
                ? [command[0], interface] + command.dropFirst(2) : [command[0], interface] + command.dropFirst()
            let result = try AxleProcess.run(["diag"] + arguments)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("wrong command lines exit 64 with the reason")
    func usage() throws {
        for (arguments, message) in [
            (["pids", "can0", "coolant_temp"], "\"coolant_temp\" is no parameter name or hex PID: `axle diag pids --list` prints the names"),
            (["pids", "can0", "0x20"], "PID 20 is a supported-PID bitmap: `axle diag scan` reads those"),
            (["pids", "can0", "--count", "2"], "--count needs --watch"),
            (["scan"], "Missing expected argument '<iface>'"),
            (["scan", "can0", "--timeout", "soon"], "--timeout is a duration above 0"),
            (["dtc", "can0", "--addressing", "16-bit"], "16-bit"),
            (["dm1", "can0", "--to", "3"], "--to needs --dm2"),
            (["request-pgn", "can0", "65260", "--to", "254"], "--to is a J1939 source address, 0 to 253"),
            (["request-pgn", "can0", "0x40000"], "PGN is a parameter group number, 0 to 262143"),
        ] {
            let result = try AxleProcess.run(["diag"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test("pids --list prints every parameter Axle decodes, with its PID and unit, without a bus")
    func list() throws {
        let result = try AxleProcess.run(["diag", "pids", "--list"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "PID  NAME                                 UNIT     TITLE")
        #expect(lines.count == 1 + 48)
        #expect(lines.contains("05   coolant_temperature                  celsius  engine coolant temperature"))
        #expect(lines.contains("0A   fuel_pressure                        kPa      fuel pressure (gauge)"))
    }
}
