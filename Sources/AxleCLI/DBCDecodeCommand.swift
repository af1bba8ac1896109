import ArgumentParser
import AxleBase
import CANFrames
import DBC

#if canImport(Glibc)
import Glibc
#endif

/// `axle dbc decode`: decode a candump log with one or more DBC files.
struct DBCDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a candump log (candump -l format) with DBC files.",
        discussion: """
            Reads LOG, or standard input when LOG is '-' or absent. With several --dbc files, a frame is decoded by \
            the first file that defines its id. Malformed log lines are reported with their line number on standard \
            error, skipped and counted; --strict stops at the first one.

            --format jsonl prints one JSON object per input frame, in input order (see docs/dbc.md).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case jsonl
    }

    @Option(name: .long, help: ArgumentHelp("A DBC file (repeatable).", valueName: "file"))
    var dbc: [String] = []

    @Option(name: .long, help: "Output format: table (for people) or jsonl (one JSON object per frame).")
    var format: Format = .table

    @Flag(name: .long, help: "Stop at the first malformed log line (exit code 1).")
    var strict = false

    @Flag(name: .long, help: "Do not print DBC warnings.")
    var quiet = false

    @Argument(help: ArgumentHelp("The candump log, or '-' for standard input.", valueName: "log"))
    var log: String = "-"

    func validate() throws {
        if dbc.isEmpty { throw ValidationError("give at least one DBC file with --dbc FILE") }
    }

    func run() throws {
        let decoders = try dbc.map { CompiledDecoder(database: try loadDatabase($0, quiet: quiet)) }
        let reader: CandumpReader
        do {
            reader = try CandumpReader(path: log)
        } catch {
            throw CLIError("cannot read log \(error)")
        }
        let output = TextOutput()
        let stderr = TextOutput.standardError()
        var printer = DecodePrinter(format: format, decoders: decoders)
        var progress = ProgressReporter(enabled: isTerminal(2), total: reader.totalBytes)
        var frames = 0
        var malformed = 0
        var result = DecodedFrame()

        while let entry = try readEntry(reader) {
            switch entry {
            case .frame(let frame):
                frames += 1
                var decoderIndex: Int?
                for (index, decoder) in decoders.enumerated() {
                    if decoder.decode(frame, into: &result) != .unknownMessage {
                        decoderIndex = index
                        break
                    }
                }
                printer.write(frame, decoderIndex: decoderIndex, result: result, to: output)
            case .malformed(let line, let error):
                malformed += 1
                output.flush()
                stderr.write("\(reader.path == "-" ? "<stdin>" : reader.path):\(line): malformed log line, \(error)\(strict ? "" : "; skipped")\n")
                if strict { throw ExitCode.failure }
            }
            if frames & 0xFFF == 0 { progress.update(bytes: reader.bytesRead, frames: frames) }
        }
        output.flush()
        progress.finish()
        if malformed > 0 {
            stderr.write("\(malformed) malformed line\(malformed == 1 ? "" : "s") skipped, \(frames) frames decoded\n")
        }
    }

    private func readEntry(_ reader: CandumpReader) throws -> CandumpReader.Entry? {
        do {
            return try reader.next()
        } catch {
            throw CLIError("cannot read log \(error)")
        }
    }
}

/// Prints decoded frames as a table for people or as JSON lines for programs.
struct DecodePrinter {
    let format: DBCDecodeCommand.Format
    let decoders: [CompiledDecoder]
    private var headerPrinted = false

    init(format: DBCDecodeCommand.Format, decoders: [CompiledDecoder]) {
        self.format = format
        self.decoders = decoders
    }

    mutating func write(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: TextOutput) {
        switch format {
        case .jsonl: writeJSON(frame, decoderIndex: decoderIndex, result: result, to: output)
        case .table: writeTable(frame, decoderIndex: decoderIndex, result: result, to: output)
        }
    }

    /// `{"t": …, "bus": …, "id": …, "ext": …, "fd": …, "msg": …, "sig": {…}, "err": …}`, keys in that order.
    private func writeJSON(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: TextOutput) {
        output.write("{\"t\": ")
        output.write(frame.timestamp.text)
        output.write(", \"bus\": ")
        output.writeJSONString(frame.interface)
        output.write(", \"id\": \(frame.id), \"ext\": \(frame.isExtended), \"fd\": \(frame.isFD), \"msg\": ")
        guard let decoderIndex, let messageIndex = result.messageIndex else {
            output.write("null}\n")
            return
        }
        let decoder = decoders[decoderIndex]
        output.writeJSONString(decoder.messages[messageIndex].name)
        if let error = result.error {
            output.write(", \"err\": ")
            output.writeJSONString(error.description)
            output.write("}\n")
            return
        }
        output.write(", \"sig\": {")
        for (position, decoded) in result.signals.enumerated() {
            let signal = decoder.signals[Int(decoded.signalIndex)]
            if position > 0 { output.write(", ") }
            output.writeJSONString(signal.name)
            output.write(": {\"raw\": ")
            output.write(Self.json(signal.rawValue(decoded.rawBits)))
            output.write(", \"value\": ")
            output.write(Self.json(signal.physical(decoded.rawBits)))
            if let label = decoder.label(of: decoded) {
                output.write(", \"label\": ")
                output.writeJSONString(label)
            }
            output.write("}")
        }
        output.write("}}\n")
    }

    /// A JSON number: integers exactly; doubles in the shortest form that reads back identically; null for NaN and
    /// infinities, which JSON cannot express.
    static func json(_ number: CompiledSignal.Number) -> String {
        switch number {
        case .integer(let value): return value.description
        case .float(let value): return value.isFinite ? value.description : "null"
        }
    }

    /// A value for people: at most nine decimal places, so that 48.137153999999995 reads 48.137154.
    /// (JSON lines keep the exact shortest form.)
    static func readable(_ number: CompiledSignal.Number) -> String {
        guard case .float(let value) = number, value.isFinite, abs(value) < 1e9 else { return json(number) }
        return ((value * 1e9).rounded() / 1e9).description
    }

    private mutating func writeTable(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: TextOutput) {
        if !headerPrinted {
            output.write(Self.row("TIME", "BUS", "ID", "MESSAGE", "SIGNAL", "VALUE"))
            headerPrinted = true
        }
        let time = frame.timestamp.text
        let id = CandumpFormat.idText(frame)
        guard let decoderIndex, let messageIndex = result.messageIndex else {
            output.write(Self.row(time, frame.interface, String(id), "?", CandumpFormat.frameText(frame), ""))
            return
        }
        let decoder = decoders[decoderIndex]
        let name = decoder.messages[messageIndex].name
        if let error = result.error {
            output.write(Self.row(time, frame.interface, String(id), name, "error", error.description))
            return
        }
        if result.signals.isEmpty { output.write(Self.row(time, frame.interface, String(id), name, "", "")) }
        for (position, decoded) in result.signals.enumerated() {
            let signal = decoder.signals[Int(decoded.signalIndex)]
            var value = Self.readable(signal.physical(decoded.rawBits))
            let unit = decoder.dbcSignal(of: decoded).unit
            if !unit.isEmpty { value += " " + unit }
            if let label = decoder.label(of: decoded) { value += " (\(label))" }
            if position == 0 {
                output.write(Self.row(time, frame.interface, String(id), name, signal.name, value))
            } else {
                output.write(Self.row("", "", "", "", signal.name, value))
            }
        }
    }

    private static func row(_ time: String, _ bus: String, _ id: String, _ message: String, _ signal: String, _ value: String) -> String {
        pad(time, 18) + " " + pad(bus, 6) + " " + pad(id, 9) + " " + pad(message, 24) + " " + pad(signal, 28) + " " + value + "\n"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}

/// Progress on standard error for long runs, only when a person is watching (stderr is a terminal).
struct ProgressReporter {
    let enabled: Bool
    let total: Int64?
    private let start = monotonicSeconds()
    private var lastReport = monotonicSeconds()
    private var shown = false

    init(enabled: Bool, total: Int64?) {
        self.enabled = enabled
        self.total = total
    }

    mutating func update(bytes: Int64, frames: Int) {
        guard enabled else { return }
        let now = monotonicSeconds()
        // Quiet for the first two seconds: short runs need no progress line.
        guard now - start >= 2, now - lastReport >= 0.5 else { return }
        lastReport = now
        shown = true
        var line = "\r\(frames) frames"
        if let total, total > 0 {
            let percent = Double(bytes) / Double(total) * 100
            line += " (\(Int(percent))% of \(total / 1_000_000) MB)"
        }
        TextOutput.standardError().write(line + "   ")
    }

    mutating func finish() {
        if shown { TextOutput.standardError().write("\n") }
    }
}
