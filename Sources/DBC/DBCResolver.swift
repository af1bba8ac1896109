/// Links what `StatementReader` recorded into a finished `DBCDatabase`: comments, labels, attributes, value types,
/// senders and multiplexing attached to their messages and signals; long names applied; layout checked.
struct DBCResolver {
    private var reader: StatementReader
    private var database: DBCDatabase
    private var messages: [ParsedMessage]
    private var messageIndex: [UInt32: Int] = [:]
    private var warnings: [DBCDiagnostic]

    init(reader: StatementReader) {
        self.reader = reader
        self.database = reader.database
        self.messages = reader.messages
        self.warnings = reader.warnings
    }

    mutating func resolve() -> DBCDatabase {
        for (index, parsed) in messages.enumerated() {
            if let earlier = messageIndex[parsed.dbcID] {
                warn(line: parsed.message.line, "message \(parsed.message.name) has the same id as \(messages[earlier].message.name) (line \(messages[earlier].message.line)); frames decode as \(parsed.message.name)")
            }
            messageIndex[parsed.dbcID] = index
        }
        applyDefaults()
        for reference in reader.pending { apply(reference) }
        for index in messages.indices {
            var parsed = messages[index]
            resolveMultiplexing(&parsed, messageIndex: index)
            applyLongNames(&parsed.message)
            deriveMessageProperties(&parsed.message)
            checkLayout(parsed.message)
            messages[index] = parsed
        }
        for index in database.nodes.indices {
            if case .string(let long)? = database.nodes[index].attributes["SystemNodeLongSymbol"], !long.isEmpty {
                database.nodes[index].name = long
            }
        }
        database.messages = messages.map(\.message)
        database.independentSignals = reader.independentSignals
        database.warnings = warnings
        return database
    }

    // MARK: Attributes

    private var definitions: [String: DBCAttributeDefinition] = [:]

    private mutating func applyDefaults() {
        for definition in database.attributeDefinitions { definitions[definition.name] = definition }
        for (name, raw, line) in reader.defaults {
            guard var definition = definitions[name] else {
                warn(line: line, "BA_DEF_DEF_: default for undefined attribute \"\(name)\"; ignored")
                continue
            }
            definition.defaultValue = value(of: raw, for: definition, line: line)
            definitions[name] = definition
        }
        database.attributeDefinitions = database.attributeDefinitions.map { definitions[$0.name] ?? $0 }
        for definition in database.attributeDefinitions where definition.objectKind == .database {
            if let value = definition.defaultValue { database.attributes[definition.name] = value }
        }
    }

    /// An attribute value in the type its definition gives; enumeration indexes become their labels.
    private mutating func value(of raw: RawAttributeValue, for definition: DBCAttributeDefinition?, line: Int) -> DBCAttributeValue {
        switch (raw, definition?.type) {
        case (.number(let number), .enumeration(let labels)?):
            let index = number.integer.map { Int(clamping: $0) } ?? Int(clampingDouble: number.value)
            if labels.indices.contains(index) { return .string(labels[index]) }
            warn(line: line, "value \(number.literal) of attribute \"\(definition!.name)\" is not an index into its \(labels.count) enumeration values")
            return .integer(Int64(index))
        case (.number(let number), .float?):
            return .float(number.value)
        case (.number(let number), _):
            if let exact = number.integer { return .integer(Int64(clamping: exact)) }
            if case .integer? = definition?.type, number.value.rounded() == number.value { return .integer(Int64(clampingDouble: number.value)) }
            return .float(number.value)
        case (.string(let text), _):
            return .string(text)
        }
    }

    private func locateSignal(_ messageID: UInt32, _ name: String) -> (message: Int, signal: Int)? {
        guard let message = messageIndex[messageID],
            let signal = messages[message].message.signals.firstIndex(where: { $0.shortName == name })
        else { return nil }
        return (message, signal)
    }

    private mutating func apply(_ reference: PendingReference) {
        switch reference {
        case .comment(let target, let text, let line):
            switch target {
            case .database:
                database.comment = database.comment.map { $0 + "\n" + text } ?? text
            case .node(let name):
                if let index = database.nodes.firstIndex(where: { $0.shortName == name }) {
                    database.nodes[index].comment = text
                } else { warn(line: line, "CM_ for unknown node \(name); ignored") }
            case .message(let id):
                if let index = messageIndex[id] { messages[index].message.comment = text } else {
                    warn(line: line, "CM_ for unknown message id \(id); ignored")
                }
            case .signal(let id, let name):
                if let (message, signal) = locateSignal(id, name) {
                    messages[message].message.signals[signal].comment = text
                } else { warn(line: line, "CM_ for unknown signal \(name) in message id \(id); ignored") }
            case .environmentVariable(let name):
                if let index = database.environmentVariables.firstIndex(where: { $0.name == name }) {
                    database.environmentVariables[index].comment = text
                } else { warn(line: line, "CM_ for unknown environment variable \(name); ignored") }
            }

        case .valueLabels(let target, let labels, let line):
            switch target {
            case .signal(let id, let name):
                if let (message, signal) = locateSignal(id, name) {
                    messages[message].message.signals[signal].valueLabels = DBCValueLabels(labels)
                } else { warn(line: line, "VAL_ for unknown signal \(name) in message id \(id); ignored") }
            case .environmentVariable(let name):
                if let index = database.environmentVariables.firstIndex(where: { $0.name == name }) {
                    database.environmentVariables[index].valueLabels = DBCValueLabels(labels)
                } else { warn(line: line, "VAL_ for unknown signal or environment variable \(name); ignored") }
            case .database, .node, .message:
                break
            }

        case .attribute(let name, let target, let raw, let line):
            let definition = definitions[name]
            if definition == nil { warn(line: line, "BA_ \"\(name)\" has no BA_DEF_; kept as written") }
            let value = value(of: raw, for: definition, line: line)
            switch target {
            case .database:
                database.attributes[name] = value
            case .node(let node):
                if let index = database.nodes.firstIndex(where: { $0.shortName == node }) {
                    database.nodes[index].attributes[name] = value
                } else { warn(line: line, "BA_ \"\(name)\" for unknown node \(node); ignored") }
            case .message(let id):
                if let index = messageIndex[id] { messages[index].message.attributes[name] = value } else {
                    warn(line: line, "BA_ \"\(name)\" for unknown message id \(id); ignored")
                }
            case .signal(let id, let signalName):
                if let (message, signal) = locateSignal(id, signalName) {
                    messages[message].message.signals[signal].attributes[name] = value
                } else { warn(line: line, "BA_ \"\(name)\" for unknown signal \(signalName) in message id \(id); ignored") }
            case .environmentVariable(let variable):
                if let index = database.environmentVariables.firstIndex(where: { $0.name == variable }) {
                    database.environmentVariables[index].attributes[name] = value
                } else { warn(line: line, "BA_ \"\(name)\" for unknown environment variable \(variable); ignored") }
            }

        case .valueType(let id, let name, let type, let line):
            guard let (message, signal) = locateSignal(id, name) else {
                warn(line: line, "SIG_VALTYPE_ for unknown signal \(name) in message id \(id); ignored")
                return
            }
            let length = messages[message].message.signals[signal].length
            switch (type, length) {
            case (0, _): messages[message].message.signals[signal].valueType = .integer
            case (1, 32): messages[message].message.signals[signal].valueType = .float32
            case (2, 64): messages[message].message.signals[signal].valueType = .float64
            default:
                warn(line: line, "SIG_VALTYPE_ \(type) needs a \(type == 1 ? 32 : 64)-bit signal, but \(name) has \(length) bits; decoded as an integer")
            }

        case .multiplexValues(let id, let name, let multiplexer, let ranges, let line):
            guard let (message, signal) = locateSignal(id, name) else {
                warn(line: line, "SG_MUL_VAL_ for unknown signal \(name) in message id \(id); ignored")
                return
            }
            guard messages[message].message.signals.contains(where: { $0.shortName == multiplexer }) else {
                warn(line: line, "SG_MUL_VAL_ names \(multiplexer), which is not a signal of message id \(id); ignored")
                return
            }
            extendedMultiplexing[message, default: [:]][signal] = (multiplexer, ranges)

        case .senders(let id, let nodes, let line):
            guard let index = messageIndex[id] else {
                warn(line: line, "BO_TX_BU_ for unknown message id \(id); ignored")
                return
            }
            for node in nodes where !messages[index].message.transmitters.contains(node) {
                messages[index].message.transmitters.append(node)
            }

        case .signalGroup(let id, let group, let line):
            if let index = messageIndex[id] { messages[index].message.signalGroups.append(group) } else {
                warn(line: line, "SIG_GROUP_ for unknown message id \(id); ignored")
            }

        case .environmentData(let name, let size, let line):
            if let index = database.environmentVariables.firstIndex(where: { $0.name == name }) {
                database.environmentVariables[index].dataSize = size
            } else { warn(line: line, "ENVVAR_DATA_ for unknown environment variable \(name); ignored") }
        }
    }

    // MARK: Multiplexing

    /// `SG_MUL_VAL_` entries per message index, then per signal index.
    private var extendedMultiplexing: [Int: [Int: (multiplexer: String, ranges: [ClosedRange<UInt64>])]] = [:]

    /// Decides which switch each signal depends on, as cantools does (docs/dbc.md, "Multiplexing"): with one `M`
    /// signal, every `mN` signal depends on it (plus any `SG_MUL_VAL_` ranges); with several, `SG_MUL_VAL_` says
    /// which switch and which values, and an `mN` signal it does not mention is treated as always present.
    private mutating func resolveMultiplexing(_ parsed: inout ParsedMessage, messageIndex index: Int) {
        let markers = parsed.markers
        let switches = markers.indices.filter { markers[$0]?.hasSuffix("M") == true }
        let extended = extendedMultiplexing[index] ?? [:]
        for index in parsed.message.signals.indices {
            guard let marker = markers[index] else { continue }
            let name = parsed.message.signals[index].name
            var multiplexing = DBCMultiplexing(isMultiplexer: marker.hasSuffix("M"))
            var switchValue: UInt64?
            if marker.hasPrefix("m") {
                let digits = marker.dropFirst().prefix { $0.isNumber }
                guard let value = UInt64(digits), digits.count + 1 + (multiplexing.isMultiplexer ? 1 : 0) == marker.count else {
                    warn(line: parsed.message.signals[index].line, "signal \(name) has multiplex marker \(marker); expected M, mN or mNM; treated as always present")
                    parsed.message.signals[index].multiplexing = DBCMultiplexing()
                    continue
                }
                switchValue = value
            } else if marker != "M" {
                warn(line: parsed.message.signals[index].line, "signal \(name) has multiplex marker \(marker); expected M, mN or mNM; treated as always present")
                continue
            }
            if switches.count == 1 {
                let switchName = parsed.message.signals[switches[0]].shortName
                if index != switches[0], let switchValue {
                    multiplexing.multiplexerSignal = switchName
                    multiplexing.multiplexerValues = [switchValue...switchValue] + (extended[index]?.ranges ?? [])
                }
            } else if let entry = extended[index] {
                multiplexing.multiplexerSignal = entry.multiplexer
                multiplexing.multiplexerValues = entry.ranges
            } else if switchValue != nil {
                let reason = switches.isEmpty ? "the message has no multiplexer (M) signal" : "the message has several multiplexers and no SG_MUL_VAL_ says which one applies"
                warn(line: parsed.message.signals[index].line, "signal \(name) is multiplexed (\(marker)) but \(reason); treated as always present")
            }
            parsed.message.signals[index].multiplexing = multiplexing
        }
        if switches.count != 1 {
            for (index, entry) in extended {
                // SG_MUL_VAL_ for a signal without a multiplex marker still makes it depend on the named switch.
                if markers[index] == nil {
                    parsed.message.signals[index].multiplexing.multiplexerSignal = entry.multiplexer
                    parsed.message.signals[index].multiplexing.multiplexerValues = entry.ranges
                }
                // A signal that SG_MUL_VAL_ names as a switch is one, even when its own marker is malformed
                // (opendbc's vw_pq.dbc writes a bare `m`); cantools then never decodes its dependents.
                if let switchIndex = parsed.message.signals.firstIndex(where: { $0.shortName == entry.multiplexer }) {
                    parsed.message.signals[switchIndex].multiplexing.isMultiplexer = true
                }
            }
        }
        // A dependency cycle (A switched by B, B by A) would leave no signal to start from.
        for index in parsed.message.signals.indices where dependsOnItself(parsed.message, index) {
            warn(line: parsed.message.signals[index].line, "signal \(parsed.message.signals[index].name) is, through its multiplexers, switched by itself; treated as always present")
            parsed.message.signals[index].multiplexing.multiplexerSignal = nil
        }
    }

    private func dependsOnItself(_ message: DBCMessage, _ index: Int) -> Bool {
        var current = message.signals[index].multiplexing.multiplexerSignal
        var steps = 0
        while let name = current, steps <= message.signals.count {
            if name == message.signals[index].shortName { return true }
            current = message.signals.first { $0.shortName == name }?.multiplexing.multiplexerSignal
            steps += 1
        }
        return false
    }

    // MARK: Names and derived properties

    private func applyLongNames(_ message: inout DBCMessage) {
        if case .string(let long)? = message.attributes["SystemMessageLongSymbol"], !long.isEmpty { message.name = long }
        for index in message.signals.indices {
            if case .string(let long)? = message.signals[index].attributes["SystemSignalLongSymbol"], !long.isEmpty {
                message.signals[index].name = long
            }
        }
    }

    private func attribute(_ name: String, _ explicit: [String: DBCAttributeValue]) -> DBCAttributeValue? {
        explicit[name] ?? definitions[name]?.defaultValue
    }

    private mutating func deriveMessageProperties(_ message: inout DBCMessage) {
        if let cycle = attribute("GenMsgCycleTime", message.attributes)?.numericValue, cycle > 0, cycle < 1e9 {
            message.cycleTime = Int(cycle)
        }
        if case .string(let sendType)? = attribute("GenMsgSendType", message.attributes) { message.sendType = sendType }
        if case .string(let format)? = attribute("VFrameFormat", message.attributes) {
            message.frameFormat = DBCFrameFormat(rawValue: format)
        }
        message.isJ1939 = message.isExtended
            && (message.frameFormat == .j1939 || (database.declaresJ1939 && message.frameFormat == nil))
        for index in message.signals.indices {
            if let start = attribute("GenSigStartValue", message.signals[index].attributes)?.numericValue {
                message.signals[index].startValue = start
            }
        }
    }

    /// Warns about signals outside their message and about signals that overlap while both can be present.
    private mutating func checkLayout(_ message: DBCMessage) {
        let bitCount = message.size * 8
        var masks: [[UInt64]] = []
        for signal in message.signals {
            var mask = [UInt64](repeating: 0, count: 9)
            var outside = false
            for bit in signal.occupiedBits {
                if bit < 0 || bit >= bitCount { outside = true }
                if bit >= 0 && bit < 576 { mask[bit / 64] |= 1 << UInt64(bit % 64) }
            }
            if outside {
                warn(line: signal.line, "signal \(signal.name) (start \(signal.startBit), \(signal.length) bits, \(signal.byteOrder.rawValue)) does not fit in the \(message.size) bytes of message \(message.name); it is decoded only from frames long enough to hold it")
            }
            masks.append(mask)
        }
        for first in message.signals.indices {
            for second in (first + 1)..<message.signals.count where canCoexist(message.signals[first], message.signals[second]) {
                if zip(masks[first], masks[second]).contains(where: { $0 & $1 != 0 }) {
                    warn(line: message.signals[second].line, "signals \(message.signals[first].name) and \(message.signals[second].name) of message \(message.name) share bits")
                }
            }
        }
    }

    private func canCoexist(_ a: DBCSignal, _ b: DBCSignal) -> Bool {
        guard let switchA = a.multiplexing.multiplexerSignal, let switchB = b.multiplexing.multiplexerSignal else { return true }
        guard switchA == switchB else { return false }
        return a.multiplexing.multiplexerValues.contains { range in b.multiplexing.multiplexerValues.contains { $0.overlaps(range) } }
    }

    private mutating func warn(line: Int, _ message: String) {
        warnings.append(DBCDiagnostic(severity: .warning, file: database.source, line: line, message: message))
    }
}
