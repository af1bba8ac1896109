import AxleBase
import Diagnostics
import TOML

/// Reads and checks `[diagnostics]` (docs/profiles.md, "Diagnostics"): every problem with its line and what to write
/// instead. Polled parameters become catalog entries of their own, so rules and events use them like bus signals.
struct DiagnosticsSectionReader {
    let root: TOMLTableReader
    /// Usable buses, and buses whose DBC could not be read (names on them are not reported again).
    let buses: [String]
    let unusableBuses: Set<String>
    /// Warns when a catalog name is not a VSS signal or has another unit than VSS gives it.
    let checkAgainstVSS: (_ name: String, _ unit: String?, _ reader: TOMLTableReader, _ line: Int) -> Void

    /// The section, with the new catalog entries appended to `catalog` and their names to `declared`; nil without
    /// `[diagnostics]` (or when it is not a table).
    func read(catalog: inout [CatalogSignal], declared: inout Set<String>) -> DiagnosticsConfiguration? {
        guard let reader = root.table("diagnostics", context: "[diagnostics]") else { return nil }
        let (ecus, declaredECUs) = readECUs(reader)
        let parameters = readParameters(reader, ecus: ecus, declaredECUs: declaredECUs, catalog: &catalog, declared: &declared)
        let (framesPerSecond, budgetText) = readBudget(reader)
        var ignition: String?
        if let name = reader.string("ignition") {
            if declared.contains(name) {
                ignition = name
            } else {
                var message = "'ignition' in [diagnostics] names \"\(name)\", which is not in the catalog; name the catalog signal that is non-zero while the ignition is on, such as \"Vehicle.LowVoltageSystemState\""
                if let near = TOMLTableReader.nearest(to: name, in: catalog.map(\.name)) { message += " (did you mean \"\(near)\"?)" }
                reader.error(message, line: reader.line(of: "ignition"))
            }
        } else if !parameters.isEmpty || ecus.contains(where: { $0.faults != nil }) {
            reader.warning(
                "[diagnostics] polls ECUs but names no 'ignition' signal: polling never stops, which keeps a parked car's ECUs awake; set ignition = \"<catalog signal that is non-zero while the ignition is on>\"")
        }
        var dm1: DM1Listening?
        if let table = reader.table("dm1", context: "[diagnostics.dm1]") {
            let silence = table.duration("silence") ?? 3.0
            if silence <= 0 { table.error("'silence' in [diagnostics.dm1] must be longer than 0", line: table.line(of: "silence")) }
            if let bus = resolveBus(table, what: "[diagnostics.dm1]") {
                dm1 = DM1Listening(bus: bus, silenceSeconds: max(silence, 0.1), line: table.line)
            }
        }
        if ecus.isEmpty, dm1 == nil {
            reader.error("[diagnostics] declares no ECU ([diagnostics.ecus.NAME]) and no DM1 listening ([diagnostics.dm1]); add one or remove the section")
        }
        return DiagnosticsConfiguration(
            ecus: ecus, parameters: parameters, ignition: ignition, framesPerSecond: framesPerSecond,
            budgetText: budgetText, dm1: dm1, line: reader.line)
    }

    // MARK: ECUs

    /// The usable ECUs, and the names of all declared (an ECU with errors of its own is not reported again where it
    /// is used).
    private func readECUs(_ reader: TOMLTableReader) -> ([DiagnosticECU], [String]) {
        guard let table = reader.table("ecus", context: "[diagnostics.ecus]") else { return ([], []) }
        var ecus: [DiagnosticECU] = []
        var seenRequestIDs: [String: String] = [:]
        for entry in table.entries() {
            guard let ecuTable = entry.value.tableValue else {
                table.error(
                    "'\(entry.key)' in [diagnostics.ecus] must be a table ([diagnostics.ecus.\(entry.key)] with protocol, request-id and response-id), found \(entry.value.foundDescription)",
                    line: entry.line)
                continue
            }
            let context = "[diagnostics.ecus.\(entry.key)]"
            let ecu = table.child(ecuTable, context: context)
            if !Self.isSimpleName(entry.key) {
                ecu.error("ECU name '\(entry.key)' must be lowercase letters, digits, '-' or '_', starting with a letter (remote commands name it)", line: entry.line)
            }
            var protocolKind: DiagnosticECU.DiagnosticProtocol?
            if let text = ecu.string("protocol", required: true) {
                protocolKind = DiagnosticECU.DiagnosticProtocol(rawValue: text)
                if protocolKind == nil {
                    ecu.error("'protocol' in \(context) is \"\(text)\"; write \"obd\" (SAE J1979 PIDs and modes 03/07) or \"uds\" (ISO 14229 DIDs and 0x19)", line: ecu.line(of: "protocol"))
                }
            }
            let requestID = ecu.int("request-id", required: true)
            let responseID = ecu.int("response-id", required: true)
            var extended = ecu.bool("extended")
            for (key, id) in [("request-id", requestID), ("response-id", responseID)] {
                guard let id else { continue }
                if id < 0 || id > 0x1FFF_FFFF {
                    ecu.error("'\(key)' in \(context) is \(id), not a CAN id (0 to 0x7FF, or to 0x1FFFFFFF with extended = true)", line: ecu.line(of: key))
                } else if id > 0x7FF, extended == false {
                    ecu.error("'\(key)' in \(context) is 0x\(String(id, radix: 16, uppercase: true)), which needs a 29-bit id, but extended = false", line: ecu.line(of: key))
                }
            }
            if extended == nil { extended = (requestID ?? 0) > 0x7FF || (responseID ?? 0) > 0x7FF }
            if let requestID, let responseID, requestID == responseID {
                ecu.error("\(context) has the same request and response id (0x\(String(requestID, radix: 16, uppercase: true))); the ECU answers on another id, such as 0x7E8 for 0x7E0", line: ecu.line(of: "response-id"))
            }
            if let requestID, requestID == 0x7DF || requestID == 0x18DB33F1 {
                ecu.error("'request-id' in \(context) is OBD-II's functional address 0x\(String(requestID, radix: 16, uppercase: true)), which every ECU may answer; give the ECU's physical id (0x7E0-0x7E7, or 0x18DA<ecu>F1)", line: ecu.line(of: "request-id"))
            }
            var padding: UInt8? = Self.defaultPadding
            if let value = ecu.value("padding") {
                switch value.kind {
                case .bool(false): padding = nil
                case .integer(let byte) where (0...255).contains(byte): padding = UInt8(byte)
                default:
                    ecu.error("'padding' in \(context) must be a byte (0x00 to 0xFF, such as 0x55 or 0xAA) or false (no padding), found \(value.foundDescription)", line: value.line)
                }
            }
            let timeout = ecu.duration("timeout") ?? 1.0
            if timeout <= 0 || timeout > 10 {
                ecu.error("'timeout' in \(context) (P2, how long the ECU has to answer) must be more than 0 and at most 10 s", line: ecu.line(of: "timeout"))
            }
            var faults: DiagnosticECU.FaultPolling?
            let interval = ecu.duration("faults")
            let pending = ecu.bool("pending")
            let mask = ecu.int("status-mask")
            if let interval {
                if interval < 1 {
                    ecu.error("'faults' in \(context) is \(interval) s; read fault codes at most once a second (such as \"30s\")", line: ecu.line(of: "faults"))
                }
                faults = DiagnosticECU.FaultPolling(
                    intervalSeconds: max(1, interval), includePending: pending ?? false, statusMask: UInt8(clamping: mask ?? 0x08))
            } else if pending != nil || mask != nil {
                ecu.warning("\(context) sets '\(pending != nil ? "pending" : "status-mask")' but no 'faults' interval, so its fault codes are not read; add faults = \"30s\"")
            }
            if let mask, !(1...255).contains(mask) {
                ecu.error("'status-mask' in \(context) must be 0x01 to 0xFF (0x08: confirmed codes)", line: ecu.line(of: "status-mask"))
            }
            if protocolKind == .obd, mask != nil {
                ecu.warning("'status-mask' in \(context) is for protocol \"uds\"; an OBD-II ECU is read with modes 03 (and 07 with pending = true)", line: ecu.line(of: "status-mask"))
            }
            if protocolKind == .uds, pending != nil {
                ecu.warning("'pending' in \(context) is for protocol \"obd\"; a UDS ECU's pending codes are chosen with 'status-mask' (0x04)", line: ecu.line(of: "pending"))
            }
            let bus = resolveBus(ecu, what: context)
            if let requestID, let bus {
                let key = "\(bus) \(requestID)"
                if let other = seenRequestIDs[key] {
                    ecu.error("\(context) has the request id 0x\(String(requestID, radix: 16, uppercase: true)) of ECU '\(other)' on bus '\(bus)'; each ECU has its own", line: ecu.line(of: "request-id"))
                }
                seenRequestIDs[key] = entry.key
            }
            guard let protocolKind, let requestID, let responseID, let bus, let extended,
                (0...0x1FFF_FFFF).contains(requestID), (0...0x1FFF_FFFF).contains(responseID)
            else { continue }
            ecus.append(DiagnosticECU(
                name: entry.key, bus: bus, requestID: UInt32(requestID), responseID: UInt32(responseID), isExtended: extended,
                diagnosticProtocol: protocolKind, padding: padding, responseTimeoutSeconds: timeout, faults: faults,
                line: entry.line))
        }
        return (ecus, table.entries().map(\.key))
    }

    /// ISO 15765-2 leaves the padding byte free; 0x55 is the commonest (its alternating bits keep bit stuffing low).
    static let defaultPadding: UInt8 = 0x55

    // MARK: Parameters

    private func readParameters(
        _ reader: TOMLTableReader, ecus: [DiagnosticECU], declaredECUs: [String], catalog: inout [CatalogSignal],
        declared: inout Set<String>
    ) -> [DiagnosticParameter] {
        guard let table = reader.table("signals", context: "[diagnostics.signals]") else { return [] }
        var parameters: [DiagnosticParameter] = []
        let leaves = Self.flatten(table.entries())
        for leaf in leaves {
            guard let entryTable = leaf.value.tableValue else {
                table.error(
                    "\"\(leaf.name)\" in [diagnostics.signals] must be a table such as { ecu = \"engine\", pid = 0x05, every = \"1s\" }, found \(leaf.value.foundDescription)",
                    line: leaf.line)
                continue
            }
            let entry = table.child(entryTable, context: "[diagnostics.signals.\"\(leaf.name)\"]")
            let ecuName = entry.string("ecu", required: true)
            let every = entry.duration("every", required: true)
            let staleAfter = entry.duration("stale-after")
            let unitText = entry.string("unit")
            let pidValue = entry.value("pid")
            let did = entry.int("did")
            if !ProfileLoader.isVSSName(leaf.name) {
                entry.error(
                    "'\(leaf.name)' is not a VSS name: it must be 'Vehicle' followed by '.UpperCamel' segments, such as Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature",
                    line: leaf.line)
                continue
            }
            if declared.contains(leaf.name) {
                let earlier = catalog.first { $0.name == leaf.name }.map { " (line \($0.line))" } ?? ""
                entry.error(
                    "\"\(leaf.name)\" is already a catalog signal\(earlier); a polled value needs a name of its own, such as one under Vehicle.Private",
                    line: leaf.line)
                continue
            }
            declared.insert(leaf.name)
            var ecu: DiagnosticECU?
            if let ecuName {
                ecu = ecus.first { $0.name == ecuName }
                if ecu == nil, !declaredECUs.contains(ecuName) {
                    var message = "\"\(leaf.name)\" asks ECU '\(ecuName)', which [diagnostics.ecus] does not declare"
                    message += Self.suggestion(ecuName, declaredECUs, noun: "the ECUs")
                    entry.error(message, line: entry.line(of: "ecu"))
                }
            }
            if let every, every < 0.1 {
                entry.error("'every' of \"\(leaf.name)\" is \(every) s; poll at most ten times a second (every = \"100ms\" or more)", line: entry.line(of: "every"))
            }
            if let staleAfter, staleAfter <= 0 {
                entry.error("'stale-after' of \"\(leaf.name)\" must be longer than 0", line: entry.line(of: "stale-after"))
            }
            var source: DiagnosticParameter.Source?
            var unit = unitText ?? ""
            switch (pidValue, did) {
            case (nil, nil):
                entry.error("\"\(leaf.name)\" needs 'pid' (an OBD-II PID: a number such as 0x05 or a name such as \"coolant_temperature\") or 'did' (a UDS data identifier such as 0xF40D)")
            case (.some, .some):
                entry.error("\"\(leaf.name)\" has both 'pid' and 'did'; an OBD-II ECU is asked for PIDs, a UDS ECU for DIDs", line: entry.line(of: "did"))
            case (.some(let value), nil):
                guard let parameter = pidParameter(value, entry: entry, name: leaf.name) else { break }
                source = .pid(parameter.pid)
                if let unitText, !Self.unitsAgree(unitText, parameter.unit) {
                    entry.warning(
                        "the unit \"\(unitText)\" of \"\(leaf.name)\" differs from \"\(parameter.unit)\", the unit SAE J1979 gives PID 0x\(DiagnosticsHex.byte(parameter.pid)) (\(parameter.name)); Axle does not convert units",
                        line: entry.line(of: "unit"))
                }
                if unitText == nil { unit = parameter.unit }
                for key in ["start", "length", "signed", "byte-order", "factor", "offset"] where entry.contains(key) {
                    entry.error("'\(key)' of \"\(leaf.name)\" is for UDS DIDs; an OBD-II PID is decoded by the standard's formula", line: entry.line(of: key))
                }
                if let ecu, ecu.diagnosticProtocol != .obd {
                    entry.error("\"\(leaf.name)\" asks ECU '\(ecu.name)' for a PID, but that ECU speaks \"\(ecu.diagnosticProtocol.rawValue)\"; ask it for a 'did'", line: entry.line(of: "pid"))
                }
            case (nil, .some(let identifier)):
                guard (0...0xFFFF).contains(identifier) else {
                    entry.error("'did' of \"\(leaf.name)\" is \(identifier), not a data identifier (0x0000 to 0xFFFF)", line: entry.line(of: "did"))
                    break
                }
                if let layout = didLayout(entry, name: leaf.name) { source = .did(UInt16(identifier), layout) }
                if let ecu, ecu.diagnosticProtocol != .uds {
                    entry.error("\"\(leaf.name)\" asks ECU '\(ecu.name)' for a DID, but that ECU speaks \"\(ecu.diagnosticProtocol.rawValue)\"; ask it for a 'pid'", line: entry.line(of: "did"))
                }
            }
            if let unitText, unitText.isEmpty {
                entry.error("'unit' of \"\(leaf.name)\" is empty; leave the key out for a value without a unit", line: entry.line(of: "unit"))
            }
            checkAgainstVSS(leaf.name, unit.isEmpty ? nil : unit, entry, leaf.line)
            guard let ecu, let every, every >= 0.1, let source else { continue }
            let parameter = DiagnosticParameter(name: leaf.name, ecu: ecu.name, source: source, unit: unit, intervalSeconds: every, line: leaf.line)
            parameters.append(parameter)
            // Fresh for three polls: a value is stale once two polls in a row brought nothing.
            catalog.append(CatalogSignal(
                name: leaf.name, bus: "", message: "", signal: "", unit: unit,
                staleAfterSeconds: staleAfter.flatMap { $0 > 0 ? $0 : nil } ?? 3 * every,
                diagnostic: "\(ecu.name) \(parameter.sourceText)", line: leaf.line))
        }
        if leaves.isEmpty {
            table.error("[diagnostics.signals] is empty; name the values to poll, such as \"Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature\" = { ecu = \"engine\", pid = 0x5C, every = \"2s\" }")
        }
        return parameters
    }

    private func pidParameter(_ value: TOMLValue, entry: TOMLTableReader, name: String) -> OBDParameter? {
        let known = OBDParameter.standard.values.sorted { $0.pid < $1.pid }
        switch value.kind {
        case .integer(let number):
            guard (0...255).contains(number) else {
                entry.error("'pid' of \"\(name)\" is \(number), not a PID (0x00 to 0xFF)", line: value.line)
                return nil
            }
            guard let parameter = OBDParameter.standard[UInt8(number)] else {
                entry.error(
                    "PID 0x\(DiagnosticsHex.byte(UInt8(number))) of \"\(name)\" is not one Axle decodes (\(known.count) standard PIDs, listed in docs/diagnostics.md); a manufacturer's value is read from a UDS ECU with 'did'",
                    line: value.line)
                return nil
            }
            return parameter
        case .string(let text):
            if let parameter = known.first(where: { $0.name == text }) { return parameter }
            entry.error("'pid' of \"\(name)\" is \"\(text)\", which is no PID name\(Self.suggestion(text, known.map(\.name), noun: "the names"))", line: value.line)
            return nil
        default:
            entry.error("'pid' of \"\(name)\" must be a number (0x05) or a name (\"coolant_temperature\"), found \(value.foundDescription)", line: value.line)
            return nil
        }
    }

    private func didLayout(_ entry: TOMLTableReader, name: String) -> DiagnosticParameter.DataLayout? {
        let start = entry.int("start") ?? 0
        let length = entry.int("length", required: true)
        let signed = entry.bool("signed") ?? false
        let factor = entry.double("factor") ?? 1
        let offset = entry.double("offset") ?? 0
        var littleEndian = false
        if let order = entry.string("byte-order") {
            switch order {
            case "big-endian": littleEndian = false
            case "little-endian": littleEndian = true
            default:
                entry.error("'byte-order' of \"\(name)\" is \"\(order)\"; write \"big-endian\" (the default, as UDS sends numbers) or \"little-endian\"", line: entry.line(of: "byte-order"))
            }
        }
        if start < 0 { entry.error("'start' of \"\(name)\" must be 0 or more (the first data byte after the DID is 0)", line: entry.line(of: "start")) }
        guard let length else { return nil }
        guard (1...8).contains(length) else {
            entry.error("'length' of \"\(name)\" is \(length); a value has 1 to 8 bytes", line: entry.line(of: "length"))
            return nil
        }
        if factor == 0 { entry.error("'factor' of \"\(name)\" is 0, which makes every value the offset", line: entry.line(of: "factor")) }
        guard start >= 0, factor != 0 else { return nil }
        return DiagnosticParameter.DataLayout(start: start, length: length, signed: signed, littleEndian: littleEndian, factor: factor, offset: offset)
    }

    // MARK: Budget

    /// `budget = "40/s"` (frames a second) or `"2%"` of `bitrate` (500 kbit/s by default).
    private func readBudget(_ reader: TOMLTableReader) -> (Double, String) {
        let bitrate = reader.int("bitrate") ?? DiagnosticsConfiguration.defaultBitrate
        if bitrate < 10_000 || bitrate > 1_000_000 {
            reader.error("'bitrate' in [diagnostics] is \(bitrate); a classic CAN bus runs at 10,000 to 1,000,000 bit/s (500000 is common)", line: reader.line(of: "bitrate"))
        }
        let percentOf = { (percent: Double) -> (Double, String) in
            (percent / 100 * Double(bitrate) / DiagnosticsConfiguration.bitsPerFrame,
             "\(Self.format(percent))% of \(bitrate / 1000) kbit/s")
        }
        guard let text = reader.string("budget") else { return percentOf(DiagnosticsConfiguration.defaultBudgetPercent) }
        let trimmed = text.trimmedOfWhitespace()
        if trimmed.hasSuffix("%"), let percent = Double(trimmed.dropLast()), percent > 0, percent <= 50 {
            return percentOf(percent)
        }
        if trimmed.hasSuffix("/s"), let frames = Double(trimmed.dropLast(2)), frames >= 1, frames <= 10_000 {
            return (frames, "\(Self.format(frames)) frames/s")
        }
        reader.error(
            "'budget' in [diagnostics] is \"\(text)\"; write frames a second (\"40/s\", 1 to 10000) or a share of the bitrate (\"1%\", more than 0 and at most 50)",
            line: reader.line(of: "budget"))
        return percentOf(DiagnosticsConfiguration.defaultBudgetPercent)
    }

    // MARK: Shared

    private func resolveBus(_ reader: TOMLTableReader, what: String) -> String? {
        let all = buses + unusableBuses.sorted()
        if let name = reader.string("bus") {
            if buses.contains(name) { return name }
            if unusableBuses.contains(name) { return nil }
            reader.error("unknown bus '\(name)' in \(what); the buses are \(all.joined(separator: ", "))\(Self.suggestion(name, all, noun: "they"))", line: reader.line(of: "bus"))
            return nil
        }
        if all.count == 1 { return buses.first }
        if all.count > 1 { reader.error("\(what) needs bus = \"…\": the profile has \(all.count) buses (\(all.joined(separator: ", ")))") }
        return nil
    }

    static func isSimpleName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    static func suggestion(_ name: String, _ candidates: [String], noun: String) -> String {
        if let near = TOMLTableReader.nearest(to: name, in: candidates) { return " (did you mean '\(near)'?)" }
        return ""
    }

    static func unitsAgree(_ a: String, _ b: String) -> Bool {
        a == b || [["celsius", "degC", "°C"], ["percent", "%"], ["l/h", "L/h"]].contains { $0.contains(a) && $0.contains(b) }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// Entries whose keys may be dotted names written without quotes (a nested table in TOML), down to the tables
    /// that hold `ecu`.
    static func flatten(_ entries: [TOMLTable.Entry], prefix: String = "") -> [(name: String, value: TOMLValue, line: Int)] {
        var leaves: [(name: String, value: TOMLValue, line: Int)] = []
        for entry in entries {
            let name = prefix.isEmpty ? entry.key : prefix + "." + entry.key
            if let table = entry.value.tableValue, table["ecu"] == nil, !table.isEmpty,
                table.entries.allSatisfy({ $0.value.tableValue != nil })
            {
                leaves += flatten(table.entries, prefix: name)
            } else {
                leaves.append((name, entry.value, entry.line))
            }
        }
        return leaves
    }
}
