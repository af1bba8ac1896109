import AgentControl
import ArgumentParser
import AxleBase
import CANBus
import CANFrames
import Diagnostics

/// `axle diag …`: vehicle diagnostics (docs/diagnostics.md).
struct DiagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diag",
        abstract: "Vehicle diagnostics: a scan tool on the bus (OBD-II, J1939), one request to an ECU, or the diagnostic messages in recorded traffic.",
        subcommands: [
            DiagScanCommand.self, DiagPIDsCommand.self, DiagDTCCommand.self, DiagDM1Command.self, DiagRequestPGNCommand.self,
            DiagRequestCommand.self, DiagDecodeCommand.self,
        ]
    )
}

/// `axle diag request IFACE TXID RXID HEX`: one raw UDS or OBD-II request over ISO-TP, and its answer.
struct DiagRequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Send one diagnostic request (UDS or OBD-II, as hex) to an ECU over ISO-TP and print its answer.",
        discussion: """
            The request goes to TXID and the answer is read from RXID (hex CAN ids: 7E0 and 7E8 for an OBD-II engine \
            ECU, 18DA10F1 and 18DAF110 on 29-bit buses). The ECU has --timeout to answer; each "response pending" \
            (7F xx 78) extends the wait by --pending-timeout. A negative answer is an answer (exit 0, shown with its \
            code's name); no answer or a broken transfer exits 1 with the reason. See docs/diagnostics.md.
            """
    )

    @Argument(help: ArgumentHelp("The CAN interface, e.g. can0.", valueName: "iface"))
    var interface: String

    @Argument(help: ArgumentHelp("The CAN id the request goes to (hex).", valueName: "txid"))
    var transmitID: String

    @Argument(help: ArgumentHelp("The CAN id the answer comes from (hex).", valueName: "rxid"))
    var receiveID: String

    @Argument(help: ArgumentHelp("The request as hex bytes, e.g. 22F190 (the VIN by UDS) or 0902.", valueName: "hex"))
    var request: String

    @Option(name: .long, help: ArgumentHelp("How long the ECU has to answer (P2), e.g. 1s or 500ms.", valueName: "duration"))
    var timeout: String = "1s"

    @Option(name: .long, help: ArgumentHelp("How long after each \"response pending\" (P2*).", valueName: "duration"))
    var pendingTimeout: String = "5s"

    @Option(name: .long, help: ArgumentHelp("The byte frames are padded with (hex), or none.", valueName: "byte"))
    var padding: String = "CC"

    @Flag(name: .long, help: "Print the answer as one JSON object.")
    var json = false

    @OptionGroup var agentOptions: DiagAgentOptions

    func run() throws {
        let txID = try Self.canID(transmitID, "TXID")
        let rxID = try Self.canID(receiveID, "RXID")
        guard let bytes = Self.bytes(fromHex: request), !bytes.isEmpty, bytes.count <= ISOTPFrame.maximumMessageLength else {
            throw ValidationError("the request is 1 to 4095 bytes of hex such as 22F190, not \(UntrustedText.quoted(request))")
        }
        var settings = UDSExchange.Settings()
        settings.responseTimeout = try Self.seconds(timeout, "--timeout")
        settings.pendingTimeout = try Self.seconds(pendingTimeout, "--pending-timeout")
        let paddingByte: UInt8?
        if padding.lowercased() == "none" {
            paddingByte = nil
        } else if let value = UInt8(padding, radix: 16) {
            paddingByte = value
        } else {
            throw ValidationError("--padding takes a hex byte such as CC, 55 or 00, or none; not \(UntrustedText.quoted(padding))")
        }

        // An ECU the agent asks on this bus: through the agent, never beside it.
        if let agent = agentOptions.agent(on: interface), let ecu = agent.ecu(requestID: txID, responseID: rxID) {
            let warning = TextOutput.standardError()
            warning.write("axle diag: \(agent.notice)\n")
            warning.flush()
            let reply = try agent.ask(ecu, bytes, timeoutSeconds: settings.responseTimeout)
            let answer: [UInt8]
            switch reply.outcome {
            case .positive: answer = reply.data
            case .negative: answer = [0x7F, bytes[0], reply.nrc ?? 0]
            case .timeout, .failed:
                throw CLIError("\(interface) \(Self.hexID(txID))→\(Self.hexID(rxID)) (\(ecu.name), through axled): \(reply.text ?? reply.outcome.rawValue)")
            }
            return print(request: bytes, answer: answer, from: rxID, pending: reply.pending, milliseconds: reply.seconds * 1000)
        }
        let channel: ISOTPChannel
        do {
            channel = try ISOTPChannel(interface: interface, transmitID: txID, receiveID: rxID, padding: paddingByte)
        } catch {
            throw CLIError("\(error)")
        }
        let started = monotonicSeconds()
        var exchange = UDSExchange(request: bytes, sentAt: started, settings: settings)
        do {
            try channel.send(bytes)
            while case .waiting(let deadline) = exchange.outcome {
                let now = monotonicSeconds()
                if let message = try channel.receive(timeoutSeconds: max(0, deadline - now)) {
                    exchange.receive(message, now: monotonicSeconds())
                } else {
                    exchange.expire(now: monotonicSeconds())
                }
            }
        } catch {
            throw CLIError("\(interface) \(Self.hexID(txID))→\(Self.hexID(rxID)): \(error)")
        }
        let elapsedMilliseconds = (monotonicSeconds() - started) * 1000
        let answer: [UInt8]
        switch exchange.outcome {
        case .positive(let message): answer = message
        case .negative(let negative): answer = [0x7F, negative.service, negative.code]
        case .timedOut(let reason): throw CLIError("\(interface) \(Self.hexID(txID))→\(Self.hexID(rxID)): \(reason)")
        case .waiting: preconditionFailure("the loop ends when the exchange does")
        }
        print(request: bytes, answer: answer, from: rxID, pending: exchange.pendingCount, milliseconds: elapsedMilliseconds)
    }

    /// The answer, as a table line or one JSON object.
    private func print(request bytes: [UInt8], answer: [UInt8], from rxID: UInt32, pending: Int, milliseconds elapsedMilliseconds: Double) {
        let service = DiagnosticService(message: answer)
        let output = TextOutput()
        if json {
            var line = "{\"request\": \"\(DiagnosticPrinter.hex(bytes))\", \"kind\": \"\(service.kind.rawValue)\""
            if let code = service.service { line += ", \"service\": \(code)" }
            if let name = service.name { line += ", \"name\": \(DiagnosticPrinter.json(name))" }
            if let code = service.responseCode, let name = service.responseCodeName {
                line += ", \"nrc\": \(code), \"nrc_name\": \"\(name)\""
            }
            line += ", \"pending\": \(pending), \"elapsed_ms\": \(DiagnosticPrinter.number((elapsedMilliseconds * 10).rounded() / 10))"
            line += ", \"length\": \(answer.count), \"data\": \"\(DiagnosticPrinter.hex(answer))\"}\n"
            output.write(line)
        } else {
            var text = "\(service.kind.rawValue) from \(Self.hexID(rxID)) after \(DiagnosticPrinter.number((elapsedMilliseconds * 10).rounded() / 10)) ms"
            if pending > 0 { text += " (\(pending) × response pending)" }
            if let name = service.name { text += ": \(name)" }
            if let code = service.responseCode, let name = service.responseCodeName {
                text += ", NRC 0x\(DiagnosticPrinter.hex(code)) \(name)"
            }
            output.write(text + "\n\(answer.count) bytes \(DiagnosticPrinter.hex(answer))\n")
        }
        output.flush()
    }

    static func canID(_ text: String, _ what: String) throws -> UInt32 {
        guard let id = UInt32(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16), id <= CANFrame.maxExtendedID else {
            throw ValidationError("\(what) is a hex CAN id such as 7E0 or 18DA10F1, not \(UntrustedText.quoted(text))")
        }
        return id
    }

    static func hexID(_ id: UInt32) -> String { String(id, radix: 16, uppercase: true) }

    static func bytes(fromHex text: String) -> [UInt8]? {
        let digits = Array(text.filter { $0 != " " && $0 != ":" }.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    static func seconds(_ text: String, _ flag: String) throws -> Double {
        guard let seconds = DurationSyntax.seconds(in: text, bareNumberIsSeconds: true), seconds > 0, seconds <= 600 else {
            throw ValidationError("\(flag) is a duration above 0 and at most 10 minutes: write \(DurationSyntax.forms); not \(UntrustedText.quoted(text))")
        }
        return seconds
    }
}

/// `axle diag decode LOG`: every diagnostic message in a candump log, with ISO-TP and J1939 transport reassembled.
struct DiagDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print the diagnostic messages in a candump log (ISO-TP and J1939 transfers reassembled).",
        discussion: """
            Reads LOG, or standard input when LOG is '-' or absent. ISO-TP is read on OBD-II's ids (7DF, 7E0-7EF) and \
            the 29-bit diagnostic ids (18DA…, 18DB…), and on the ids given with --isotp; each message is named \
            (OBD-II mode, UDS service, negative response code). J1939: DM1 and DM2 (lamps and faults), requests, and \
            every multi-packet transfer (BAM and RTS/CTS). A transfer that breaks off is reported with the reason.

            --format jsonl (or --json) prints one JSON object per message; "kind" names it (obd.request, \
            obd.response, uds.request, uds.response, negative_response, j1939.dm1, j1939.dm2, j1939.request, \
            j1939.transport, error). See docs/diagnostics.md.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case jsonl
    }

    @Option(name: .long, help: "Output format: table (for people, the default) or jsonl (one JSON object per message).")
    var format: Format?

    @Flag(name: .long, help: "The same as --format jsonl.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp("More hex CAN ids that carry ISO-TP, e.g. --isotp 79B,7BB (repeatable).", valueName: "ids"))
    var isotp: [String] = []

    @Argument(help: ArgumentHelp("The candump log, or '-' for standard input.", valueName: "log"))
    var log: String = "-"

    func validate() throws {
        if json, let format, format != .jsonl {
            throw ValidationError("--json means --format jsonl; give one of --json and --format \(format.rawValue)")
        }
        _ = try isotpIDs()
    }

    private func isotpIDs() throws -> Set<UInt32> {
        var ids: Set<UInt32> = []
        for text in isotp.flatMap({ $0.split(separator: ",") }) {
            guard let id = UInt32(text.hasPrefix("0x") ? text.dropFirst(2) : text[...], radix: 16), id <= CANFrame.maxExtendedID else {
                throw ValidationError("--isotp takes hex CAN ids such as 79B or 18DA10F1, not \(UntrustedText.quoted(String(text)))")
            }
            ids.insert(id)
        }
        return ids
    }

    func run() throws {
        let reader: CandumpReader
        do {
            reader = try CandumpReader(path: log)
        } catch {
            throw CLIError("cannot read log \(error)")
        }
        var decoder = DiagnosticTrafficDecoder(additionalISOTPIDs: try isotpIDs())
        let output = TextOutput()
        let stderr = TextOutput.standardError()
        let printer = DiagnosticPrinter(jsonLines: json || format == .jsonl)
        printer.header(to: output)
        var counts = (frames: 0, messages: 0, malformed: 0)
        var lastTime = 0.0
        var lastBus = ""
        while true {
            let entry: CandumpReader.Entry?
            do {
                entry = try reader.next()
            } catch {
                throw CLIError("cannot read log \(error)")
            }
            guard let entry else { break }
            switch entry {
            case .frame(let frame):
                counts.frames += 1
                lastTime = frame.timestamp.timeInterval
                lastBus = frame.interface
                guard frame.kind == .data else { continue }
                let events = decoder.receive(canID: frame.id, extended: frame.isExtended, data: frame.data, time: lastTime)
                for event in events {
                    counts.messages += 1
                    printer.write(event, time: frame.timestamp.text, bus: frame.interface, frameID: frame.id, to: output)
                }
            case .malformed(let line, let error):
                counts.malformed += 1
                output.flush()
                stderr.write("\(reader.path == "-" ? "<stdin>" : reader.path):\(line): malformed log line, \(error); skipped\n")
            }
        }
        for event in decoder.finish() {
            printer.write(event, time: "end of log", bus: lastBus, frameID: nil, to: output)
        }
        output.flush()
        if counts.malformed > 0 {
            stderr.write("\(counts.malformed) malformed line\(counts.malformed == 1 ? "" : "s") skipped, \(counts.frames) frames read\n")
        }
    }
}

/// Prints the findings of `DiagnosticTrafficDecoder` as a table for people or as JSON lines.
struct DiagnosticPrinter {
    let jsonLines: Bool

    func header(to output: TextOutput) {
        if !jsonLines { output.write(Self.row("TIME", "BUS", "ID", "KIND", "DETAILS")) }
    }

    static func row(_ time: String, _ bus: String, _ id: String, _ kind: String, _ details: String) -> String {
        DecodePrinter.pad(time, 18) + " " + DecodePrinter.pad(bus, 6) + " " + DecodePrinter.pad(id, 9) + " "
            + DecodePrinter.pad(kind, 18) + " " + details + "\n"
    }

    /// One finding; `frameID` is the id of the frame that completed or ended it (nil at the end of the log).
    func write(_ event: DiagnosticTrafficDecoder.Event, time: String, bus: String, frameID: UInt32?, to output: TextOutput) {
        var fields: [(String, JSONText)] = []
        var kind: String
        var details: [String] = []
        var canID = frameID
        switch event {
        case .isotp(let id, let message, let service):
            canID = id
            kind = service.kind.rawValue
            if let code = service.service {
                fields.append(("service", .number(Int(code))))
                details.append("service 0x\(Self.hex(code))")
            }
            if let name = service.name {
                fields.append(("name", .string(name)))
                details.append(name)
            }
            if let code = service.responseCode, let name = service.responseCodeName {
                fields.append(("nrc", .number(Int(code))))
                fields.append(("nrc_name", .string(name)))
                details.append("NRC 0x\(Self.hex(code)) \(name)")
            }
            if let values = OBDMessage.currentData(inAnswer: message), !values.isEmpty {
                fields.append(("pids", .raw("[" + values.map { value in
                    let parameter = OBDParameter.standard[value.pid]
                    var object = "{\"pid\": \(value.pid)"
                    if let parameter, let number = value.value {
                        object += ", \"name\": \"\(parameter.name)\", \"value\": \(Self.number(number)), \"unit\": \"\(parameter.unit)\""
                    } else {
                        object += ", \"data\": \"\(Self.hex(value.data))\""
                    }
                    return object + "}"
                }.joined(separator: ", ") + "]")))
                details.append(values.map { value in
                    guard let parameter = OBDParameter.standard[value.pid], let number = value.value else {
                        return "PID 0x\(Self.hex(value.pid)) \(Self.hex(value.data))"
                    }
                    return "\(parameter.name) \(Self.number(number)) \(parameter.unit)"
                }.joined(separator: ", "))
            }
            if let vin = OBDMessage.vin(inAnswer: message) {
                fields.append(("vin", .string(vin)))
                details.append("VIN \(vin)")
            }
            if let codes = OBDTroubleCode.codes(inAnswer: message) {
                fields.append(("dtcs", .raw("[" + codes.map { "\"\($0)\"" }.joined(separator: ", ") + "]")))
                details.append(codes.isEmpty ? "no trouble codes" : "trouble codes " + codes.map(\.description).joined(separator: " "))
            }
            fields.append(("length", .number(message.count)))
            fields.append(("data", .string(Self.hex(message))))
            details.append("\(message.count) bytes \(Self.hex(message.prefix(16)))\(message.count > 16 ? "…" : "")")
        case .j1939(let message):
            switch message.pgn {
            case J1939PGN.dm1: kind = "j1939.dm1"
            case J1939PGN.dm2: kind = "j1939.dm2"
            case J1939PGN.request: kind = "j1939.request"
            default: kind = "j1939.transport"
            }
            fields.append(("pgn", .number(Int(message.pgn))))
            fields.append(("source", .number(Int(message.source))))
            fields.append(("destination", .number(Int(message.destination))))
            fields.append(("transport", .string(message.transport.rawValue)))
            details.append("PGN \(message.pgn) from \(message.source)\(message.destination == 0xFF ? "" : " to \(message.destination)") (\(message.transport.rawValue))")
            if let requested = message.requestedPGN {
                fields.append(("requested_pgn", .number(Int(requested))))
                details.append("asks for PGN \(requested)")
            }
            if let diagnostic = message.diagnostic {
                let lamps = diagnostic.lamps
                fields.append(("lamps", .raw(
                    "{\"mil\": \"\(lamps.malfunctionIndicator.rawValue)\", \"red_stop\": \"\(lamps.redStop.rawValue)\", "
                        + "\"amber_warning\": \"\(lamps.amberWarning.rawValue)\", \"protect\": \"\(lamps.protect.rawValue)\"}")))
                fields.append(("faults", .raw("[" + diagnostic.faults.map {
                    "{\"spn\": \($0.spn), \"fmi\": \($0.fmi), \"oc\": \($0.occurrenceCount)}"
                }.joined(separator: ", ") + "]")))
                details.append("MIL \(lamps.malfunctionIndicator.rawValue), red \(lamps.redStop.rawValue), amber \(lamps.amberWarning.rawValue), protect \(lamps.protect.rawValue)")
                details.append(diagnostic.faults.isEmpty
                    ? "no active fault"
                    : diagnostic.faults.map { "SPN \($0.spn) FMI \($0.fmi) OC \($0.occurrenceCount)" }.joined(separator: "; "))
            } else if message.requestedPGN == nil {
                details.append("\(message.data.count) bytes \(Self.hex(message.data.prefix(16)))\(message.data.count > 16 ? "…" : "")")
            }
            fields.append(("length", .number(message.data.count)))
            fields.append(("data", .string(Self.hex(message.data))))
        case .isotpError(let id, let error):
            canID = id
            kind = "error"
            fields.append(("protocol", .string("isotp")))
            fields.append(("reason", .string(error.description)))
            details.append("ISO-TP: \(error.description)")
        case .j1939Error(let error):
            kind = "error"
            fields.append(("protocol", .string("j1939")))
            if let pgn = error.pgn { fields.append(("pgn", .number(Int(pgn)))) }
            fields.append(("source", .number(Int(error.source))))
            fields.append(("reason", .string(error.reason)))
            details.append("J1939 transport: \(error.description)")
        }
        let idText = canID.map { String($0, radix: 16, uppercase: true) } ?? ""
        if jsonLines {
            var line = "{\"t\": \(time == "end of log" ? "null" : time), \"bus\": \(Self.json(bus)), "
            line += "\"id\": \(canID.map(String.init) ?? "null"), \"kind\": \"\(kind)\""
            for (key, value) in fields { line += ", \"\(key)\": \(value.text)" }
            output.write(line + "}\n")
        } else {
            output.write(Self.row(time, bus, idText, kind, details.joined(separator: ", ")))
        }
    }

    enum JSONText {
        case number(Int)
        case string(String)
        case raw(String)

        var text: String {
            switch self {
            case .number(let value): String(value)
            case .string(let value): DiagnosticPrinter.json(value)
            case .raw(let value): value
            }
        }
    }

    /// A value as JSON and people read it: whole numbers without a fraction, others to at most six decimals.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1e6).rounded() / 1e6)
    }

    static func json(_ text: String) -> String { String(decoding: jsonStringLiteral(text), as: UTF8.self) }

    static func hex(_ byte: UInt8) -> String { (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map(hex).joined() }
}
