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

            --format jsonl (or --json) prints one JSON object per input frame, in input order (see docs/dbc.md).

            A value that is not a reading (J1939 "not available" or "error", or outside the DBC's [min|max]) is \
            marked: [not available] or [error] in the table, "availability" in JSON lines; its raw value is kept.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case jsonl
    }

    @Option(name: .long, help: ArgumentHelp("A DBC file (repeatable).", valueName: "file"))
    var dbc: [String] = []

    @Option(name: .long, help: "Output format: table (for people, the default) or jsonl (one JSON object per frame).")
    var format: Format?

    @Flag(name: .long, help: "The same as --format jsonl.")
    var json = false

    @Flag(name: .long, help: "Stop at the first malformed log line (exit code 1).")
    var strict = false

    @Flag(name: .long, help: "Do not print DBC warnings.")
    var quiet = false

    @Argument(help: ArgumentHelp("The candump log, or '-' for standard input.", valueName: "log"))
    var log: String = "-"

    func validate() throws {
        if dbc.isEmpty { throw ValidationError("give at least one DBC file with --dbc FILE") }
        if json, let format, format != .jsonl {
            throw ValidationError("--json means --format jsonl; give one of --json and --format \(format.rawValue)")
        }
    }

    /// `--json` is the spelling every other command has; `--format jsonl` is the same output.
    var outputFormat: Format { json ? .jsonl : format ?? .table }

    func run() throws {
        let decoders = try dbc.map { CompiledDecoder(database: try loadDatabase($0, quiet: quiet)) }
        let reader: CandumpReader
        do {
            reader = try CandumpReader(path: log)
        } catch {
            throw CLIError("cannot read log \(error)")
        }
        var output = OutputBuffer(fileDescriptor: 1, capacity: 1 << 16)
        let stderr = TextOutput.standardError()
        var printer = DecodePrinter(format: outputFormat, decoders: decoders)
        var progress = ProgressReporter(enabled: isTerminal(2), total: reader.totalBytes)
        var frames = 0
        var malformed = 0
        var result = DecodedFrame(capacity: max(decoders.map(\.maximumSignalsPerMessage).max() ?? 1, 1))

        // `decoders[index]`, and `if let` on an optional decoder, copy the decoder (retaining each of its arrays) for
        // every frame: 10-20% of the command in a profile. With one DBC, the usual case, the loop calls a decoder held
        // in a local constant, which is borrowed, not copied.
        let single = decoders.count == 1
        let first = decoders[0]
        while let entry = try readEntry(reader) {
            switch entry {
            case .frame(let frame):
                frames += 1
                var decoderIndex: Int?
                if single {
                    if first.decode(frame, into: &result) != .unknownMessage { decoderIndex = 0 }
                } else {
                    for index in decoders.indices where decoders[index].decode(frame, into: &result) != .unknownMessage {
                        decoderIndex = index
                        break
                    }
                }
                printer.write(frame, decoderIndex: decoderIndex, result: result, to: &output)
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
///
/// This is the hot loop of `axle dbc decode`, and printing costs far more than decoding (the engine decodes about
/// 20 M frames/s). So everything that does not depend on the frame (quoted names, padded table columns, units,
/// labels) is turned into bytes once in `DecodeTexts`, and a frame is printed by copying those bytes and formatting
/// its numbers straight into an `OutputBuffer`: no `String` is built per frame, and nothing is reference counted.
/// The text is exactly what the straightforward version printed (`String(number)`, `Double.description`,
/// `pad(...)`): `make differential-test` (scripts/differential/run.py) compares the JSON lines with cantools' on
/// every DBC of the corpus, and `OutputBufferTests` (AxleBaseTests) compares the number formatting with `String`.
struct DecodePrinter {
    let format: DBCDecodeCommand.Format
    let decoders: [CompiledDecoder]
    private let texts: DecodeTexts
    private var headerPrinted = false
    /// The last interface seen and its texts: logs are nearly always one or a few buses.
    private var interfaceName = ""
    private var interfaceJSON: [UInt8] = []
    private var interfaceColumn: [UInt8] = []
    /// Scratch for the `ID#DATA` text of a frame no DBC knows.
    private var frameText: [UInt8] = []

    init(format: DBCDecodeCommand.Format, decoders: [CompiledDecoder]) {
        self.format = format
        self.decoders = decoders
        self.texts = DecodeTexts(decoders: decoders)
    }

    mutating func write(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: inout OutputBuffer) {
        if frame.interface != interfaceName { cacheInterface(frame.interface) }
        switch format {
        case .jsonl: writeJSON(frame, decoderIndex: decoderIndex, result: result, to: &output)
        case .table: writeTable(frame, decoderIndex: decoderIndex, result: result, to: &output)
        }
    }

    private mutating func cacheInterface(_ name: String) {
        interfaceName = name
        interfaceJSON = jsonStringLiteral(name)
        interfaceColumn = Array((Self.pad(name, 6) + " ").utf8)
    }

    /// `{"t": …, "bus": …, "id": …, "ext": …, "fd": …, "msg": …, "sig": {…}, "err": …}`, keys in that order; a
    /// signal is `{"raw": …, "value": …, "label": …, "availability": …}`, the last only when the value is not a reading.
    private func writeJSON(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: inout OutputBuffer) {
        output.append("{\"t\": ")
        output.append(frame.timestamp)
        output.append(", \"bus\": ")
        interfaceJSON.withUnsafeBytes { output.append($0) }
        output.append(", \"id\": ")
        output.appendDecimal(UInt64(frame.id))
        output.append(frame.isExtended ? ", \"ext\": true" : ", \"ext\": false")
        output.append(frame.isFD ? ", \"fd\": true, \"msg\": " : ", \"fd\": false, \"msg\": ")
        guard let decoderIndex, let messageIndex = result.messageIndex else {
            output.append("null}\n")
            return
        }
        texts.withPool { pool in
            let message = texts.message(decoderIndex, messageIndex)
            output.append(padded: pool[message.json])
            if let error = result.error {
                output.append(", \"err\": ")
                output.appendJSONString(error.description)
                output.append("}\n")
                return
            }
            output.append(", \"sig\": {")
            for position in result.indices {
                let decoded = result[position]
                let signalIndex = Int(decoded.signalIndex)
                let signal = texts.signal(decoderIndex, signalIndex)
                if position > 0 { output.append(", ") }
                output.append(padded: pool[signal.jsonKey])
                writeRaw(decoded, signal, to: &output)
                output.append(", \"value\": ")
                writeValue(decoded, signal, decoderIndex: decoderIndex, readable: false, to: &output)
                if signal.labels >= 0, let label = texts.label(decoded, signal) {
                    output.append(", \"label\": ")
                    output.append(padded: pool[label.json])
                }
                // Only values that are not readings carry the key, so valid values print exactly as before.
                switch decoded.availability {
                case .valid: break
                case .notAvailable: output.append(", \"availability\": \"not_available\"")
                case .error: output.append(", \"availability\": \"error\"")
                }
                output.append("}")
            }
            output.append("}}\n")
        }
    }

    /// The raw value as a JSON number: integers exactly, floats in the shortest form, null for NaN and infinities.
    private func writeRaw(_ decoded: DecodedSignal, _ signal: DecodeTexts.SignalText, to output: inout OutputBuffer) {
        switch signal.raw {
        case .unsigned: output.appendDecimal(decoded.rawBits)
        case .signed: output.appendDecimal(Int64(bitPattern: decoded.rawBits))
        case .float32: Self.writeJSON(Double(Float(bitPattern: UInt32(truncatingIfNeeded: decoded.rawBits))), to: &output)
        case .float64: Self.writeJSON(Double(bitPattern: decoded.rawBits), to: &output)
        }
    }

    /// The physical value as `CompiledSignal.physical` gives it: JSON's exact integer or shortest double, or, for
    /// people (`readable`), doubles rounded to nine decimal places.
    private func writeValue(
        _ decoded: DecodedSignal, _ signal: DecodeTexts.SignalText, decoderIndex: Int, readable: Bool, to output: inout OutputBuffer
    ) {
        switch signal.value {
        case .sameAsRaw:
            writeRaw(decoded, signal, to: &output)
            return
        case .double:
            // `DecodedSignal.value` is computed exactly as `physical` computes its double (docs/dbc.md).
            if readable { Self.writeReadable(decoded.value, to: &output) } else { Self.writeJSON(decoded.value, to: &output) }
            return
        case .scaledInteger:
            // raw × factor + offset in Int64 when nothing overflows; `physical` works in Int128 for the rest.
            if signal.raw == .signed || decoded.rawBits <= UInt64(Int64.max) {
                let (product, overflow) = Int64(bitPattern: decoded.rawBits).multipliedReportingOverflow(by: signal.factor)
                let (sum, overflow2) = product.addingReportingOverflow(signal.offset)
                if !overflow && !overflow2 {
                    output.appendDecimal(sum)
                    return
                }
            }
        case .general:
            break
        }
        switch decoders[decoderIndex].signals[Int(decoded.signalIndex)].physical(decoded.rawBits) {
        case .integer(let value): output.appendDecimal(value)
        case .float(let value):
            if readable { Self.writeReadable(value, to: &output) } else { Self.writeJSON(value, to: &output) }
        }
    }

    /// A JSON number: the shortest form that reads back identically; null for NaN and infinities, which JSON
    /// cannot express.
    private static func writeJSON(_ value: Double, to output: inout OutputBuffer) {
        if value.isFinite { output.appendDouble(value) } else { output.append("null") }
    }

    /// A value for people: at most nine decimal places, so that 48.137153999999995 reads 48.137154.
    /// (JSON lines keep the exact shortest form.)
    private static func writeReadable(_ value: Double, to output: inout OutputBuffer) {
        guard value.isFinite, abs(value) < 1e9 else { return writeJSON(value, to: &output) }
        output.appendDouble((value * 1e9).rounded() / 1e9)
    }

    /// A JSON number as a string: integers exactly; doubles in the shortest form that reads back identically; null
    /// for NaN and infinities. (The frame loop writes the same text with `writeJSON`.)
    static func json(_ number: CompiledSignal.Number) -> String {
        switch number {
        case .integer(let value): return value.description
        case .float(let value): return value.isFinite ? value.description : "null"
        }
    }

    /// A value for people as a string (`axle can dump --dbc` prints these; the table writes the same text with
    /// `writeReadable`): at most nine decimal places.
    static func readable(_ number: CompiledSignal.Number) -> String {
        guard case .float(let value) = number, value.isFinite, abs(value) < 1e9 else { return json(number) }
        return ((value * 1e9).rounded() / 1e9).description
    }

    /// Columns of 18, 6, 9, 24 and 28 characters, then the value.
    private mutating func writeTable(_ frame: CANFrame, decoderIndex: Int?, result: DecodedFrame, to output: inout OutputBuffer) {
        if !headerPrinted {
            output.append(contentsOf: Self.row("TIME", "BUS", "ID", "MESSAGE", "SIGNAL", "VALUE"))
            headerPrinted = true
        }
        // Time, bus and id: ASCII, so bytes are characters when padding.
        output.append(frame.timestamp)
        output.appendSpaces(max(18 - frame.timestamp.textLength, 0) + 1)
        interfaceColumn.withUnsafeBytes { output.append($0) }
        switch frame.kind {
        case .error: output.appendHex(frame.id | 0x2000_0000, digits: 8)
        case .data, .remote: output.appendHex(frame.id, digits: frame.isExtended ? 8 : 3)
        }
        output.appendSpaces(frame.kind == .error || frame.isExtended ? 2 : 7)

        guard let decoderIndex, let messageIndex = result.messageIndex else {
            output.append(contentsOf: Self.pad("?", 24) + " ")
            frameText.removeAll(keepingCapacity: true)
            CandumpFormat.appendFrameText(frame, to: &frameText)
            frameText.withUnsafeBytes { output.append($0) }
            output.appendSpaces(28 - frameText.count)
            output.append(" \n")
            return
        }
        texts.withPool { pool in
            let message = texts.message(decoderIndex, messageIndex)
            output.append(pool[message.column])
            if let error = result.error {
                output.append(contentsOf: Self.pad("error", 28) + " ")
                output.append(contentsOf: error.description)
                output.append("\n")
                return
            }
            if result.isEmpty {
                output.appendSpaces(28 + 1)
                output.append("\n")
            }
            for position in result.indices {
                let decoded = result[position]
                let signal = texts.signal(decoderIndex, Int(decoded.signalIndex))
                // Later rows leave time, bus, id and message blank: 18 + 6 + 9 + 24 characters and four spaces.
                if position > 0 { output.appendSpaces(61) }
                output.append(pool[signal.column])
                writeValue(decoded, signal, decoderIndex: decoderIndex, readable: true, to: &output)
                output.append(pool[signal.unit])
                if signal.labels >= 0, let label = texts.label(decoded, signal) {
                    output.append(" (")
                    output.append(pool[label.plain])
                    output.append(")")
                }
                switch decoded.availability {
                case .valid: break
                case .notAvailable: output.append(" [not available]")
                case .error: output.append(" [error]")
                }
                output.append("\n")
            }
        }
    }

    static func row(_ time: String, _ bus: String, _ id: String, _ message: String, _ signal: String, _ value: String) -> String {
        pad(time, 18) + " " + pad(bus, 6) + " " + pad(id, 9) + " " + pad(message, 24) + " " + pad(signal, 28) + " " + value + "\n"
    }

    /// `text` followed by spaces up to `width` characters (as people count them); longer text is left whole.
    static func pad(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}

/// The text of every message, signal and label of the decoders, prepared as bytes once (see `DecodePrinter`).
///
/// All of it lives in one byte array, `pool`; the tables hold positions in it (`Piece`), so reading them in the
/// frame loop costs no reference counting. The pool ends with `OutputBuffer.overrun` spare bytes.
struct DecodeTexts {
    /// A run of bytes in `pool`.
    struct Piece {
        var start: Int32
        var count: Int32
    }

    struct MessageText {
        /// `"NAME"`.
        var json: Piece
        /// The message column: the name padded to 24 characters, and a space.
        var column: Piece
    }

    /// How a signal's raw value is read from its bits (`CompiledSignal.rawValue`).
    enum RawForm: UInt8 {
        case unsigned, signed, float32, float64
    }

    /// How a signal's physical value is formed (`CompiledSignal.physical`).
    enum ValueForm: UInt8 {
        /// An integer with factor 1 and offset 0: the raw integer itself.
        case sameAsRaw
        /// An integer with whole-number factor and offset: an exact integer (`factor`, `offset`).
        case scaledInteger
        /// A double: `DecodedSignal.value`.
        case double
        /// Anything else: ask `CompiledSignal.physical`.
        case general
    }

    struct SignalText {
        /// `"NAME": {"raw": `.
        var jsonKey: Piece
        /// The signal column: the name padded to 28 characters, and a space.
        var column: Piece
        /// ` UNIT`, or nothing when the DBC gives no unit.
        var unit: Piece
        var raw: RawForm
        var value: ValueForm
        var factor: Int64
        var offset: Int64
        /// Index in `labelTables`, or -1 when the signal has no `VAL_` labels.
        var labels: Int32
    }

    struct LabelText {
        /// The label as a JSON string, and as it is.
        var json: Piece
        var plain: Piece
    }

    /// A signal's labels by raw value: raw values 0..<dense.count in an array (gear positions, states: nearly
    /// every label), any others in a dictionary. Entries are indexes in `labelTexts`, -1 for none.
    struct LabelTable {
        var dense: [Int32] = []
        var sparse: [Int128: Int32] = [:]
    }

    private(set) var pool: [UInt8] = []
    private var messages: [MessageText] = []
    private var signals: [SignalText] = []
    /// Where each decoder's messages and signals start in `messages` and `signals`.
    private var messageBase: [Int] = []
    private var signalBase: [Int] = []
    private var labelTables: [LabelTable] = []
    private var labelTexts: [LabelText] = []

    init(decoders: [CompiledDecoder]) {
        for decoder in decoders {
            messageBase.append(messages.count)
            signalBase.append(signals.count)
            for message in decoder.messages {
                messages.append(MessageText(
                    json: add(jsonStringLiteral(message.name)), column: add(DecodePrinter.pad(message.name, 24) + " ")))
            }
            for signal in decoder.signals {
                let dbcSignal = decoder.database.messages[signal.databaseMessage].signals[signal.databaseSignal]
                var text = SignalText(
                    jsonKey: add(jsonStringLiteral(signal.name) + Array(": {\"raw\": ".utf8)),
                    column: add(DecodePrinter.pad(signal.name, 28) + " "),
                    unit: add(dbcSignal.unit.isEmpty ? "" : " " + dbcSignal.unit),
                    raw: .unsigned, value: .general, factor: 0, offset: 0, labels: -1)
                switch signal.valueType {
                case .integer:
                    text.raw = signal.isSigned ? .signed : .unsigned
                    switch signal.scaling {
                    case .identity: text.value = .sameAsRaw
                    case .integer:
                        // `hasIntegerScaling` keeps both below 9.2e18: they fit Int64.
                        text.value = .scaledInteger
                        text.factor = Int64(signal.factor)
                        text.offset = Int64(signal.offset)
                    case .integralFactor, .linear: text.value = .double
                    }
                case .float32:
                    text.raw = .float32
                    text.value = .double
                case .float64:
                    text.raw = .float64
                    text.value = .double
                }
                if signal.hasLabels { text.labels = addLabels(dbcSignal.valueLabels) }
                signals.append(text)
            }
        }
        // JSON lines copy pieces by whole 16-byte moves (`OutputBuffer.append(padded:)`), reading past the last.
        pool += [UInt8](repeating: 0, count: OutputBuffer.overrun)
    }

    private mutating func add(_ bytes: [UInt8]) -> Piece {
        let piece = Piece(start: Int32(pool.count), count: Int32(bytes.count))
        pool += bytes
        return piece
    }

    private mutating func add(_ text: String) -> Piece { add(Array(text.utf8)) }

    private mutating func addLabels(_ labels: DBCValueLabels) -> Int32 {
        var table = LabelTable()
        let denseLimit: Int128 = 4096
        let denseValues = labels.entries.map(\.value).filter { $0 >= 0 && $0 < denseLimit }
        let denseCount = denseValues.isEmpty ? 0 : Int(truncatingIfNeeded: denseValues.max()!) + 1
        table.dense = [Int32](repeating: -1, count: denseCount)
        for (value, label) in labels.entries {
            let index = Int32(labelTexts.count)
            labelTexts.append(LabelText(json: add(jsonStringLiteral(label)), plain: add(label)))
            if value >= 0 && value < denseLimit { table.dense[Int(value)] = index } else { table.sparse[value] = index }
        }
        labelTables.append(table)
        return Int32(labelTables.count - 1)
    }

    func message(_ decoder: Int, _ index: Int) -> MessageText { messages[messageBase[decoder] + index] }

    func signal(_ decoder: Int, _ index: Int) -> SignalText { signals[signalBase[decoder] + index] }

    /// The label of a decoded value, by the rule of `CompiledDecoder.label(of:)`: integer raw values, and float raw
    /// values that are whole numbers.
    func label(_ decoded: DecodedSignal, _ signal: DecodeTexts.SignalText) -> LabelText? {
        let key: Int128
        switch signal.raw {
        case .unsigned: key = Int128(decoded.rawBits)
        case .signed: key = Int128(Int64(bitPattern: decoded.rawBits))
        case .float32, .float64:
            let value = signal.raw == .float32
                ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: decoded.rawBits))) : Double(bitPattern: decoded.rawBits)
            guard value.rounded() == value, abs(value) < 1.7e38 else { return nil }
            key = Int128(value)
        }
        let table = labelTables[Int(signal.labels)]
        let index: Int32?
        if key >= 0 && key < Int128(table.dense.count) {
            index = table.dense[Int(key)]
        } else {
            index = table.sparse[key]
        }
        guard let index, index >= 0 else { return nil }
        return labelTexts[Int(index)]
    }

    func withPool<R>(_ body: (PoolBytes) -> R) -> R {
        pool.withUnsafeBytes { body(PoolBytes(bytes: $0)) }
    }

    /// The pool while it is borrowed: `pool[piece]` gives a piece's bytes without copying.
    struct PoolBytes {
        let bytes: UnsafeRawBufferPointer

        subscript(piece: Piece) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[Int(piece.start)..<Int(piece.start + piece.count)])
        }
    }
}

extension CANTimestamp {
    /// The number of characters of `text`.
    var textLength: Int {
        var digits = seconds < 0 ? 2 : 1
        var rest = seconds.magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return digits + 1 + Int(min(max(fractionDigits, 1), 9))
    }
}

extension OutputBuffer {
    /// `1436509052.249713`: the candump text of a timestamp (`CANTimestamp.text`), also used as a JSON number.
    mutating func append(_ timestamp: CANTimestamp) {
        appendDecimal(timestamp.seconds)
        append(UInt8(ascii: "."))
        let digits = Int(min(max(timestamp.fractionDigits, 1), 9))
        var fraction = timestamp.nanoseconds
        for _ in digits..<9 { fraction /= 10 }
        appendDecimal(UInt64(fraction), minimumDigits: digits)
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
