import ArgumentParser
import AxleBase
import CANBus
import Diagnostics

/// `axle diag pids IFACE [NAMES…] [--watch]`: OBD-II mode 01 values, decoded with their units.
struct DiagPIDsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pids",
        abstract: "Read OBD-II parameters (mode 01) from every ECU that answers, decoded with their units.",
        discussion: """
            NAMES are parameter names (coolant_temperature, engine_speed; `axle diag pids --list` prints them) or \
            hex PIDs (05, 0x0C). Without NAMES: every parameter Axle decodes that an ECU declares supported. At most \
            six PIDs go in one request (older ECUs refuse seven); each ECU answers those it has. --watch asks again \
            every --interval until Ctrl-C (or --count times). With --json, one object per value and line: "ecu", \
            "pid", "name", "value", "unit" (or "data", hex, for a PID Axle does not decode); with --watch also "t", \
            the Unix time.

            Exit codes: 0 values were read; 1 no ECU answered, or the interface cannot be used; 64 the command line \
            is wrong (an unknown name). See docs/diagnostics.md.
            """
    )

    @OptionGroup var options: OBDBusOptions

    @Argument(help: ArgumentHelp("Parameter names or hex PIDs (default: every supported one Axle decodes).", valueName: "names"))
    var names: [String] = []

    @Flag(name: .long, help: "Print the parameters Axle decodes, with their PIDs and units, and exit.")
    var list = false

    @Flag(name: .long, help: "Ask again every --interval until interrupted.")
    var watch = false

    @Option(name: .long, help: ArgumentHelp("Seconds between rounds with --watch.", valueName: "seconds"))
    var interval: Double = 1

    @Option(name: .long, help: ArgumentHelp("With --watch: stop after this many rounds.", valueName: "n"))
    var count: Int?

    func validate() throws {
        if !(interval >= 0.05) { throw ValidationError("--interval takes at least 0.05 seconds") }
        if let count, count <= 0 { throw ValidationError("--count takes a positive number") }
        if count != nil && !watch { throw ValidationError("--count needs --watch") }
        _ = try Self.pids(names)
    }

    /// The PIDs `names` ask for, in order, without repeats.
    static func pids(_ names: [String]) throws -> [UInt8] {
        let byName = Dictionary(uniqueKeysWithValues: OBDParameter.standard.values.map { ($0.name, $0.pid) })
        var pids: [UInt8] = []
        for name in names.flatMap({ $0.split(separator: ",").map(String.init) }) {
            let hex = name.lowercased().hasPrefix("0x") ? String(name.dropFirst(2)) : name
            guard let pid = byName[name.lowercased()] ?? (hex.count <= 2 ? UInt8(hex, radix: 16) : nil) else {
                throw ValidationError(
                    "\(UntrustedText.quoted(name)) is no parameter name or hex PID: `axle diag pids --list` prints the names")
            }
            guard pid % 0x20 != 0 else {
                throw ValidationError("PID \(DiagnosticPrinter.hex(pid)) is a supported-PID bitmap: `axle diag scan` reads those")
            }
            if !pids.contains(pid) { pids.append(pid) }
        }
        return pids
    }

    func run() throws {
        let output = TextOutput()
        defer { output.flush() }
        if list {
            output.write(DecodePrinter.pad("PID", 4) + " " + DecodePrinter.pad("NAME", 36) + " " + DecodePrinter.pad("UNIT", 8) + " TITLE\n")
            for parameter in OBDParameter.standard.values.sorted(by: { $0.pid < $1.pid }) {
                output.write(DecodePrinter.pad(DiagnosticPrinter.hex(parameter.pid), 4) + " " + DecodePrinter.pad(parameter.name, 36)
                    + " " + DecodePrinter.pad(parameter.unit, 8) + " " + parameter.title + "\n")
            }
            return
        }
        let tester = try options.tester()
        var pids = try Self.pids(names)
        if pids.isEmpty {
            let supported = try tester.supportedPIDs()
            guard !supported.isEmpty else { throw tester.silence("a request for supported PIDs (0100)") }
            pids = Set(supported.values.joined()).filter { OBDParameter.standard[$0] != nil }.sorted()
            guard !pids.isEmpty else {
                throw CLIError("the ECUs on \(options.interface) declare no parameter Axle decodes: name hex PIDs to read them raw")
            }
        }
        if !options.json, !watch { output.write(Self.header(watch: false)) }
        var rounds = 0
        var next = monotonicSeconds()
        while true {
            let values = try read(pids, tester)
            if values.isEmpty, rounds == 0 { throw tester.silence("mode 01 PIDs \(pids.map(DiagnosticPrinter.hex).joined(separator: " "))") }
            let time = Double(wallClockMillis()) / 1000
            if watch, !options.json { output.write((rounds == 0 ? Self.header(watch: true) : "")) }
            for value in values { output.write(options.json ? Self.json(value, time: watch ? time : nil) : Self.row(value, time: watch ? time : nil)) }
            output.flush()
            rounds += 1
            guard watch, count.map({ rounds < $0 }) ?? true else { break }
            next += interval
            if next < monotonicSeconds() { next = monotonicSeconds() }
            sleep(untilMonotonic: next)
        }
    }

    /// One value one ECU gave, or what it said instead.
    struct Value {
        var ecu: UInt32
        var pid: UInt8
        var data: [UInt8]
        var problem: String?
    }

    /// One round: every PID, six to a request.
    func read(_ pids: [UInt8], _ tester: OBDTester) throws -> [Value] {
        var values: [Value] = []
        for request in OBDMessage.currentDataRequests(for: pids) {
            for answer in try tester.ask(request) {
                guard let message = answer.message else {
                    values.append(Value(ecu: answer.responder, pid: request[1], data: [], problem: OBDTester.problem(answer)))
                    continue
                }
                for item in OBDMessage.currentData(inAnswer: message) ?? [] where request.dropFirst().contains(item.pid) {
                    values.append(Value(ecu: answer.responder, pid: item.pid, data: item.data))
                }
            }
        }
        return values
    }

    static func header(watch: Bool) -> String {
        (watch ? DecodePrinter.pad("TIME", 14) + " " : "") + DecodePrinter.pad("ECU", 9) + " " + DecodePrinter.pad("PID", 4)
            + " " + DecodePrinter.pad("NAME", 30) + " " + DecodePrinter.pad("VALUE", 12) + " UNIT\n"
    }

    static func row(_ value: Value, time: Double?) -> String {
        let parameter = OBDParameter.standard[value.pid]
        var text = time.map { DecodePrinter.pad(String(format3($0)), 14) + " " } ?? ""
        text += DecodePrinter.pad(DiagRequestCommand.hexID(value.ecu), 9) + " " + DecodePrinter.pad(DiagnosticPrinter.hex(value.pid), 4) + " "
        if let problem = value.problem { return text + DecodePrinter.pad("-", 30) + " " + problem + "\n" }
        if let parameter, value.data.count == parameter.byteCount {
            return text + DecodePrinter.pad(parameter.name, 30) + " " + DecodePrinter.pad(DiagnosticPrinter.number(parameter.decode(value.data)), 12)
                + " " + parameter.unit + "\n"
        }
        return text + DecodePrinter.pad("-", 30) + " " + DiagnosticPrinter.hex(value.data) + " (raw)\n"
    }

    static func json(_ value: Value, time: Double?) -> String {
        var object = "{"
        if let time { object += "\"t\": \(format3(time)), " }
        object += "\"ecu\": \(DiagnosticPrinter.json(DiagRequestCommand.hexID(value.ecu))), \"pid\": \(value.pid)"
        if let problem = value.problem { return object + ", \"problem\": \(DiagnosticPrinter.json(problem))}\n" }
        if let parameter = OBDParameter.standard[value.pid], value.data.count == parameter.byteCount {
            object += ", \"name\": \"\(parameter.name)\", \"value\": \(DiagnosticPrinter.number(parameter.decode(value.data))), \"unit\": \"\(parameter.unit)\""
        } else {
            object += ", \"data\": \"\(DiagnosticPrinter.hex(value.data))\""
        }
        return object + "}\n"
    }

    /// Seconds with three decimals.
    static func format3(_ seconds: Double) -> String {
        let millis = Int64((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
