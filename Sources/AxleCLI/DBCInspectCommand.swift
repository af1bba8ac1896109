import ArgumentParser
import AxleBase
import DBC

/// `axle dbc inspect`: what a DBC file holds, and what is wrong with it.
struct DBCInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the messages, signals, multiplexing, attributes and warnings of a DBC file."
    )

    @Argument(help: ArgumentHelp("The DBC file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let database = try loadDatabase(file, quiet: true)
        let output = TextOutput()
        if json {
            output.write(DatabaseDescription.json(database).rendered(indent: 2) + "\n")
        } else {
            output.write(DatabaseDescription.text(database))
        }
    }
}

/// Renders a database for people (text) and for programs (JSON).
enum DatabaseDescription {
    static func json(_ database: DBCDatabase) -> JSONValue {
        .object([
            ("file", .string(database.source)),
            ("version", .optional(database.version)),
            ("comment", .optional(database.comment)),
            ("nodes", .array(database.nodes.map { .object([("name", .string($0.name)), ("comment", .optional($0.comment))]) })),
            ("attributes", attributes(database.attributes)),
            ("messages", .array(database.messages.map(message))),
            ("environment_variables", .array(database.environmentVariables.map { .string($0.name) })),
            ("value_tables", .array(database.valueTables.keys.sorted().map { .string($0) })),
            ("warnings", .array(database.warnings.map { .object([("line", .integer(Int128($0.line))), ("message", .string($0.message))]) })),
        ])
    }

    static func attributes(_ values: [String: DBCAttributeValue]) -> JSONValue {
        .object(values.keys.sorted().map { key in
            switch values[key]! {
            case .integer(let value): (key, .integer(Int128(value)))
            case .float(let value): (key, .number(value))
            case .string(let value): (key, .string(value))
            }
        })
    }

    static func message(_ message: DBCMessage) -> JSONValue {
        .object([
            ("name", .string(message.name)),
            ("id", .integer(Int128(message.id))),
            ("extended", .bool(message.isExtended)),
            ("fd", .bool(message.isFD)),
            ("j1939", .bool(message.isJ1939)),
            ("pgn", message.isJ1939 ? .integer(Int128(message.pgn)) : .null),
            ("length", .integer(Int128(message.size))),
            ("senders", .array(message.transmitters.map { .string($0) })),
            ("cycle_time_ms", message.cycleTime.map { .integer(Int128($0)) } ?? .null),
            ("send_type", .optional(message.sendType)),
            ("comment", .optional(message.comment)),
            ("attributes", attributes(message.attributes)),
            ("signals", .array(message.signals.map(signal))),
            ("multiplexing", multiplexTree(message)),
            ("line", .integer(Int128(message.line))),
        ])
    }

    static func signal(_ signal: DBCSignal) -> JSONValue {
        .object([
            ("name", .string(signal.name)),
            ("start", .integer(Int128(signal.startBit))),
            ("length", .integer(Int128(signal.length))),
            ("byte_order", .string(signal.byteOrder == .littleEndian ? "little_endian" : "big_endian")),
            ("signed", .bool(signal.isSigned)),
            ("type", .string(signal.valueType.rawValue)),
            ("factor", .number(signal.factor)),
            ("offset", .number(signal.offset)),
            ("minimum", .number(signal.minimum)),
            ("maximum", .number(signal.maximum)),
            ("unit", .string(signal.unit)),
            ("receivers", .array(signal.receivers.map { .string($0) })),
            ("multiplexer", .bool(signal.multiplexing.isMultiplexer)),
            ("multiplexed_by", .optional(signal.multiplexing.multiplexerSignal)),
            ("multiplexer_values", .array(signal.multiplexing.multiplexerValues.map { .array([.integer(Int128($0.lowerBound)), .integer(Int128($0.upperBound))]) })),
            ("labels", .object(signal.valueLabels.entries.map { ($0.value.description, .string($0.label)) })),
            ("start_value", signal.startValue.map { .number($0) } ?? .null),
            ("comment", .optional(signal.comment)),
            ("attributes", attributes(signal.attributes)),
        ])
    }

    /// Switch → value → signals present, recursively.
    static func multiplexTree(_ message: DBCMessage, switchName: String? = nil) -> JSONValue {
        let level = message.signals.filter { $0.multiplexing.multiplexerSignal == switchName }
        guard switchName != nil || message.signals.contains(where: { $0.multiplexing.isMultiplexer }) else { return .null }
        return .array(level.map { signal in
            guard signal.multiplexing.isMultiplexer else { return .string(signal.name) }
            let children = message.signals.filter { $0.multiplexing.multiplexerSignal == signal.shortName }
            var values = Set<UInt64>()
            for child in children { for range in child.multiplexing.multiplexerValues where range.upperBound - range.lowerBound < 256 { values.formUnion(range) } }
            return .object([(signal.name, .object(values.sorted().map { value in
                let present = children.filter { $0.multiplexing.multiplexerValues.contains { $0.contains(value) } }
                return (String(value), .array(present.map { child in
                    child.multiplexing.isMultiplexer ? multiplexTreeNode(message, child) : .string(child.name)
                }))
            }))])
        })
    }

    private static func multiplexTreeNode(_ message: DBCMessage, _ signal: DBCSignal) -> JSONValue {
        if case .array(let nodes) = multiplexTree(message, switchName: signal.multiplexing.multiplexerSignal),
            let node = nodes.first(where: { if case .object(let members) = $0 { return members.first?.0 == signal.name } else { return false } })
        {
            return node
        }
        return .string(signal.name)
    }

    static func text(_ database: DBCDatabase) -> String {
        var out = "\(database.source): \(database.messages.count) messages, \(database.messages.reduce(0) { $0 + $1.signals.count }) signals, \(database.nodes.count) nodes"
        if database.declaresJ1939 { out += ", J1939" }
        out += "\n"
        if let version = database.version, !version.isEmpty { out += "version \(version)\n" }
        for message in database.messages {
            let id = message.isExtended ? "0x" + hex(message.id, 8) : "0x" + hex(message.id, 3)
            var facts = ["\(message.size) bytes"]
            if message.isExtended { facts.append("extended") }
            if message.isFD { facts.append("FD") }
            if message.isJ1939 { facts.append("J1939 PGN \(message.pgn)") }
            if let cycle = message.cycleTime { facts.append("every \(cycle) ms") }
            if let sender = message.transmitters.first { facts.append("from \(sender)") }
            out += "\n\(id) \(message.name) (\(facts.joined(separator: ", ")))\n"
            for signal in message.signals {
                var line = "  " + pad(signal.name, 32)
                line += " " + pad("\(signal.startBit)|\(signal.length)@\(signal.byteOrder == .littleEndian ? "1" : "0")\(signal.isSigned ? "-" : "+")", 10)
                line += " (\(format(signal.factor)),\(format(signal.offset))) [\(format(signal.minimum))|\(format(signal.maximum))]"
                if !signal.unit.isEmpty { line += " \"\(signal.unit)\"" }
                if signal.valueType != .integer { line += " \(signal.valueType.rawValue)" }
                if signal.multiplexing.isMultiplexer { line += " multiplexer" }
                if let switchName = signal.multiplexing.multiplexerSignal {
                    let values = signal.multiplexing.multiplexerValues.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                    line += " when \(switchName)=\(values.joined(separator: ","))"
                }
                if !signal.valueLabels.isEmpty {
                    let labels = signal.valueLabels.entries.prefix(4).map { "\($0.value)=\($0.label)" }
                    line += " {" + labels.joined(separator: ", ") + (signal.valueLabels.entries.count > 4 ? ", …" : "") + "}"
                }
                out += line + "\n"
            }
        }
        if !database.warnings.isEmpty {
            out += "\n\(database.warnings.count) warning\(database.warnings.count == 1 ? "" : "s"):\n"
            for warning in database.warnings { out += "  \(warning)\n" }
        }
        return out
    }

    static func hex(_ value: UInt32, _ digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
