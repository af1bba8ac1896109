import ArgumentParser
import AxleBase
import CANBus
import Diagnostics

/// `axle diag request-pgn IFACE PGN [--to ADDRESS]`: a J1939 on-request parameter group, asked for and printed.
struct DiagRequestPGNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-pgn",
        abstract: "Ask J1939 nodes for a parameter group (request PGN 59904) and print their answers.",
        discussion: """
            PGN in decimal or 0x hex: 65227 DM2 (previously active faults), 65260 the VIN, 65242 the software \
            identification, or any other. The request goes to every node (global), or to one with --to ADDRESS. \
            Answers come as one frame, by BAM, or (to a request to one node, when longer than a frame) by RTS/CTS to \
            this tool, which takes part as the receiver: CTS for each block, the end-of-message acknowledgement, and an \
            abort when the sender goes quiet (T1 750 ms, T2 1250 ms). A node's negative acknowledgement is an answer \
            ("refusal"). Answers are collected for --timeout (default 1250 ms, J1939-21's T3); a request to one node \
            ends at its answer. DM1/DM2 are shown with lamps and faults, the VIN and software identification as text. \
            With --json, one object per answer and line: "source", "pgn", "transport", "length", "data" (hex), and \
            "vin", "software", or "lamps" and "faults", or "refusal".

            Exit codes: 0 a node answered (a refusal included); 1 none did, or the interface cannot be used; 64 the \
            command line is wrong. See docs/diagnostics.md.
            """
    )

    @Argument(help: ArgumentHelp("The CAN interface, e.g. can1.", valueName: "iface"))
    var interface: String

    @Argument(help: ArgumentHelp("The parameter group number, e.g. 65260 or 0xFEEC.", valueName: "pgn"))
    var pgn: String

    @Option(name: .long, help: ArgumentHelp("Ask only this node (its source address, 0-253).", valueName: "address"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("This tool's source address (default 249, 0xF9).", valueName: "address"))
    var source: String = "249"

    @Option(name: .long, help: ArgumentHelp("How long answers are collected, e.g. 1250ms.", valueName: "duration"))
    var timeout: String?

    @Flag(name: .long, help: "Print one JSON object per answer.")
    var json = false

    func validate() throws {
        _ = try Self.pgn(pgn)
        _ = try Self.address(source, "--source")
        if let to { _ = try Self.address(to, "--to") }
        if let timeout { _ = try DiagRequestCommand.seconds(timeout, "--timeout") }
    }

    func run() throws {
        let output = TextOutput()
        defer { output.flush() }
        try Self.ask(
            interface: interface, pgn: try Self.pgn(pgn), to: try to.map { try Self.address($0, "--to") },
            source: try Self.address(source, "--source"),
            window: try timeout.map { try DiagRequestCommand.seconds($0, "--timeout") }, json: json, output: output)
    }

    static func pgn(_ text: String) throws -> UInt32 {
        let value = text.lowercased().hasPrefix("0x") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text)
        guard let value, value <= 0x3FFFF else {
            throw ValidationError("PGN is a parameter group number, 0 to 262143 (or 0x hex), such as 65260; not \(UntrustedText.quoted(text))")
        }
        return value
    }

    static func address(_ text: String, _ flag: String) throws -> UInt8 {
        let value = text.lowercased().hasPrefix("0x") ? UInt8(text.dropFirst(2), radix: 16) : UInt8(text)
        guard let value, value <= 253 else {
            throw ValidationError("\(flag) is a J1939 source address, 0 to 253 (or 0x hex); not \(UntrustedText.quoted(text))")
        }
        return value
    }

    /// Asks, prints the answers, and reports broken transfers on standard error; throws when nobody answered.
    static func ask(
        interface: String, pgn: UInt32, to destination: UInt8?, source: UInt8, window: Double?, json: Bool, output: TextOutput
    ) throws {
        try OBDTester.checkInterface(interface)
        var settings = J1939RequestExchange.Settings()
        if let window { settings.window = window }
        let exchange: J1939RequestExchange
        do {
            let channel = try J1939Channel(interface: interface)
            exchange = try channel.request(
                pgn: pgn, destination: destination ?? J1939Identifier.globalAddress, address: source, settings: settings)
        } catch {
            throw CLIError("\(error)")
        }
        let stderr = TextOutput.standardError()
        for error in exchange.errors { stderr.write("J1939 transport: \(error.description)\n") }
        guard !exchange.answers.isEmpty else {
            let whom = destination.map { "node \($0)" } ?? "no node"
            throw CLIError(
                "\(destination == nil ? whom : "\(whom) did not") answer\(destination == nil ? "ed" : "") the request for PGN \(pgn) on \(interface) within \(Int((settings.window * 1000).rounded())) ms: check that \(interface) is the J1939 bus (usually 250 kbit/s) and that the node sends this parameter group on request")
        }
        for answer in exchange.answers {
            output.write(json ? Self.json(answer, pgn: pgn) : Self.text(answer, pgn: pgn))
        }
    }

    static func text(_ answer: J1939RequestExchange.Answer, pgn: UInt32) -> String {
        guard let data = answer.data else { return "node \(answer.source): \(answer.refusal ?? "no data")\n" }
        if pgn == J1939PGN.dm1 || pgn == J1939PGN.dm2 {
            return DiagDM1Command.text(
                pgn: pgn, source: answer.source, transport: answer.transport.rawValue,
                diagnostic: try? J1939DiagnosticMessage(data: data))
        }
        var text = "node \(answer.source), PGN \(pgn) by \(answer.transport.rawValue): \(data.count) bytes \(DiagnosticPrinter.hex(data))"
        if let fields = textFields(pgn: pgn, data: data) {
            text += "\n  " + (pgn == J1939PGN.vehicleIdentification ? "VIN " : "software ") + fields.joined(separator: ", ")
        }
        return text + "\n"
    }

    static func json(_ answer: J1939RequestExchange.Answer, pgn: UInt32) -> String {
        var object = "{\"source\": \(answer.source), \"pgn\": \(pgn), \"transport\": \"\(answer.transport.rawValue)\""
        guard let data = answer.data else {
            return object + ", \"refusal\": \(DiagnosticPrinter.json(answer.refusal ?? ""))}\n"
        }
        object += ", \"length\": \(data.count), \"data\": \"\(DiagnosticPrinter.hex(data))\""
        if pgn == J1939PGN.dm1 || pgn == J1939PGN.dm2, let diagnostic = try? J1939DiagnosticMessage(data: data) {
            object += ", " + DiagDM1Command.lampsAndFaults(diagnostic)
        } else if let fields = textFields(pgn: pgn, data: data) {
            object += pgn == J1939PGN.vehicleIdentification
                ? ", \"vin\": \(DiagnosticPrinter.json(fields.first ?? ""))"
                : ", \"software\": [\(fields.map(DiagnosticPrinter.json).joined(separator: ", "))]"
        }
        return object + "}\n"
    }

    /// The text of the VIN (65260: ASCII, '*'-delimited) and the software identification (65242: a count byte, then
    /// that many '*'-delimited fields); nil for other groups.
    static func textFields(pgn: UInt32, data: [UInt8]) -> [String]? {
        func fields(_ bytes: ArraySlice<UInt8>) -> [String] {
            bytes.split(separator: 0x2A, omittingEmptySubsequences: false).map {
                String(decoding: $0.filter { (0x20...0x7E).contains($0) }, as: UTF8.self)
            }
        }
        switch pgn {
        case J1939PGN.vehicleIdentification:
            return fields(data[...]).prefix(1).map { $0 }
        case J1939PGN.softwareIdentification:
            guard let count = data.first, count > 0 else { return nil }
            return Array(fields(data.dropFirst()).prefix(Int(count)))
        default:
            return nil
        }
    }
}
