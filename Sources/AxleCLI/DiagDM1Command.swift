import ArgumentParser
import AxleBase
import CANBus
import Diagnostics

/// `axle diag dm1 IFACE`: the active faults J1939 nodes broadcast (DM1), or the previously active ones on request (DM2).
struct DiagDM1Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dm1",
        abstract: "Listen for J1939 active faults (DM1, single frame or BAM) and print each node's lamps and faults.",
        discussion: """
            Listens for --timeout (J1939 nodes send DM1 once a second, while a fault is active) and prints the \
            latest DM1 of each node: its lamps (MIL, red stop, amber warning, protect: off, on, error, \
            not_available) and its faults (SPN, FMI, occurrence count). --watch prints every DM1 as it comes until \
            Ctrl-C (or --count DM1s). --dm2 asks for the previously active faults instead (a request for PGN 65227 \
            to every node, or to --to ADDRESS; the answer may come by RTS/CTS, which this tool takes part in as \
            node --source). With --json, one object per message and line: "kind" (j1939.dm1 or j1939.dm2), \
            "source", "transport" (single, bam, rts/cts), "lamps" and "faults" (each with "spn", "fmi", "oc").

            Exit codes: 0 a DM1 (or DM2) came; 1 none came within --timeout, or the interface cannot be used; 64 the \
            command line is wrong. See docs/diagnostics.md.
            """
    )

    @Argument(help: ArgumentHelp("The CAN interface, e.g. can1.", valueName: "iface"))
    var interface: String

    @Option(name: .long, help: ArgumentHelp("How long to listen (with --dm2: to wait for answers).", valueName: "duration"))
    var timeout: String?

    @Flag(name: .long, help: "Print every DM1 as it comes, until interrupted.")
    var watch = false

    @Option(name: .long, help: ArgumentHelp("With --watch: stop after this many DM1s.", valueName: "n"))
    var count: Int?

    @Flag(name: .long, help: "Ask for the previously active faults (DM2, PGN 65227) instead of listening for DM1.")
    var dm2 = false

    @Option(name: .long, help: ArgumentHelp("With --dm2: ask only this node (its source address, 0-253).", valueName: "address"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("With --dm2: this tool's source address (default 249, 0xF9).", valueName: "address"))
    var source: String = "249"

    @Flag(name: .long, help: "Print one JSON object per message.")
    var json = false

    func validate() throws {
        if let count, count <= 0 { throw ValidationError("--count takes a positive number") }
        if count != nil && !watch { throw ValidationError("--count needs --watch") }
        if dm2 && watch { throw ValidationError("--watch listens for DM1; --dm2 asks once") }
        if !dm2 && to != nil { throw ValidationError("--to needs --dm2 (DM1 is broadcast by every node)") }
        if let timeout { _ = try DiagRequestCommand.seconds(timeout, "--timeout") }
        _ = try DiagRequestPGNCommand.address(source, "--source")
        if let to { _ = try DiagRequestPGNCommand.address(to, "--to") }
    }

    func run() throws {
        let output = TextOutput()
        defer { output.flush() }
        if dm2 {
            try DiagRequestPGNCommand.ask(
                interface: interface, pgn: J1939PGN.dm2, to: try to.map { try DiagRequestPGNCommand.address($0, "--to") },
                source: try DiagRequestPGNCommand.address(source, "--source"),
                window: try timeout.map { try DiagRequestCommand.seconds($0, "--timeout") }, json: json, output: output)
            return
        }
        try OBDTester.checkInterface(interface)
        let seconds = try timeout.map { try DiagRequestCommand.seconds($0, "--timeout") } ?? 3
        let channel: J1939Channel
        do {
            channel = try J1939Channel(interface: interface)
        } catch {
            throw CLIError("\(error)")
        }
        let stderr = TextOutput.standardError()
        var latest: [UInt8: DiagnosticTrafficDecoder.J1939Event] = [:]
        var seen = 0
        do {
            try channel.listen(until: watch ? .infinity : monotonicSeconds() + seconds) { event in
                switch event {
                case .j1939(let message) where message.pgn == J1939PGN.dm1 && message.diagnostic != nil:
                    seen += 1
                    if watch {
                        output.write(json ? Self.json(message, time: Double(wallClockMillis()) / 1000) : Self.text(message))
                        output.flush()
                        return count.map { seen < $0 } ?? true
                    }
                    latest[message.source] = message
                case .j1939Error(let error) where error.code != .unexpectedData:
                    // (Data packets with no announcement are the tail of a transfer under way when listening began.)
                    output.flush()
                    stderr.write("J1939 transport: \(error.description)\n")
                default:
                    break
                }
                return true
            }
        } catch {
            throw CLIError("\(error)")
        }
        if watch, seen > 0 { return }
        guard !latest.isEmpty else {
            throw CLIError(
                "no DM1 on \(interface) within \(DiagnosticPrinter.number(seconds)) s: no J1939 node sent active faults (nodes send DM1 once a second while a fault is active); check that \(interface) is the J1939 bus (usually 250 kbit/s, `axle bus \(interface)`) or listen longer with --timeout")
        }
        for message in latest.values.sorted(by: { $0.source < $1.source }) {
            output.write(json ? Self.json(message, time: nil) : Self.text(message))
        }
    }

    /// A DM1 or DM2 for people: the node and its lamps, then one line per fault.
    static func text(_ message: DiagnosticTrafficDecoder.J1939Event) -> String {
        text(pgn: message.pgn, source: message.source, transport: message.transport.rawValue, diagnostic: message.diagnostic)
    }

    static func text(pgn: UInt32, source: UInt8, transport: String, diagnostic: J1939DiagnosticMessage?) -> String {
        let name = pgn == J1939PGN.dm2 ? "DM2" : "DM1"
        guard let diagnostic else { return "node \(source): a \(name) too short to read\n" }
        let lamps = diagnostic.lamps
        var text = "node \(source), \(name) by \(transport): MIL \(lamps.malfunctionIndicator.rawValue), "
            + "red stop \(lamps.redStop.rawValue), amber warning \(lamps.amberWarning.rawValue), protect \(lamps.protect.rawValue); "
            + (diagnostic.faults.isEmpty ? "no \(name == "DM1" ? "active" : "previously active") fault\n" : "\(diagnostic.faults.count) fault\(diagnostic.faults.count == 1 ? "" : "s")\n")
        if !diagnostic.faults.isEmpty {
            text += "  " + DecodePrinter.pad("SPN", 8) + " " + DecodePrinter.pad("FMI", 4) + " OC\n"
            for fault in diagnostic.faults {
                text += "  " + DecodePrinter.pad(String(fault.spn), 8) + " " + DecodePrinter.pad(String(fault.fmi), 4) + " \(fault.occurrenceCount)\n"
            }
        }
        return text
    }

    /// A DM1 or DM2 as one JSON object, shaped as `axle diag decode --json` prints it.
    static func json(_ message: DiagnosticTrafficDecoder.J1939Event, time: Double?) -> String {
        var object = "{"
        if let time { object += "\"t\": \(DiagPIDsCommand.format3(time)), " }
        object += "\"kind\": \"\(message.pgn == J1939PGN.dm2 ? "j1939.dm2" : "j1939.dm1")\", \"source\": \(message.source), "
        object += "\"transport\": \"\(message.transport.rawValue)\""
        if let diagnostic = message.diagnostic {
            object += ", " + lampsAndFaults(diagnostic)
        }
        return object + "}\n"
    }

    /// `"lamps": {…}, "faults": […]`.
    static func lampsAndFaults(_ diagnostic: J1939DiagnosticMessage) -> String {
        let lamps = diagnostic.lamps
        return "\"lamps\": {\"mil\": \"\(lamps.malfunctionIndicator.rawValue)\", \"red_stop\": \"\(lamps.redStop.rawValue)\", "
            + "\"amber_warning\": \"\(lamps.amberWarning.rawValue)\", \"protect\": \"\(lamps.protect.rawValue)\"}, "
            + "\"faults\": [" + diagnostic.faults.map { "{\"spn\": \($0.spn), \"fmi\": \($0.fmi), \"oc\": \($0.occurrenceCount)}" }
            .joined(separator: ", ") + "]"
    }
}
