import AxleBase
import DBC
import TOML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads and checks firmware profiles: `profile.toml` and the DBC files it names (docs/profiles.md).
///
/// Checking does not stop at the first problem: every problem of the folder is reported with its file:line, so that
/// one run of `axle profile validate` shows everything there is to fix.
public enum ProfileLoader {
    /// The profile file inside a profile folder.
    public static let fileName = "profile.toml"

    /// Loads the profile in `directory`, or throws every problem when there is any error (warnings alone do not stop
    /// it).
    public static func load(directory: String) throws(ProfileValidationError) -> FirmwareProfile {
        let report = validate(directory: directory)
        guard let profile = report.profile, report.errors.isEmpty else {
            throw ProfileValidationError(directory: directory, problems: report.problems)
        }
        return profile
    }

    /// Checks the profile in `directory`: the profile when it has no errors, and every error and warning.
    public static func validate(directory: String) -> ProfileValidationReport {
        var builder = ProfileBuilder(directory: directory)
        let profile = builder.build()
        let problems = builder.sortedProblems()
        let hasErrors = problems.contains { !$0.isWarning }
        return ProfileValidationReport(directory: directory, profile: hasErrors ? nil : profile, problems: problems)
    }

    /// Whether `name` has the shape of a COVESA VSS name: `Vehicle` followed by `.UpperCamel` segments.
    public static func isVSSName(_ name: String) -> Bool {
        let segments = name.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 2, segments[0] == "Vehicle" else { return false }
        return segments.dropFirst().allSatisfy { segment in
            guard let first = segment.unicodeScalars.first, ("A"..."Z").contains(first) else { return false }
            return segment.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        }
    }
}

/// One pass over a profile folder, collecting problems as it goes.
private struct ProfileBuilder {
    let directory: String
    let path: String
    let problems = TOMLProblems()

    var buses: [LogicalBus] = []
    /// Buses whose DBC could not be read: their problems are reported once, and names on them are not checked.
    var unusableBuses: Set<String> = []
    var catalog: [CatalogSignal] = []
    var areas: [Area] = []
    var location: LocationSource?
    var diagnostics: DiagnosticsConfiguration?
    var vocabulary = ConditionVocabulary(signals: [:])
    /// Every catalog name and area written, also those with errors: names that only failed their own checks are
    /// not reported again wherever they are used.
    var declaredSignals: Set<String> = []
    var declaredAreas: [String] = []

    init(directory: String) {
        var trimmed = directory
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = trimmed
        path = trimmed == "/" ? "/" + ProfileLoader.fileName : trimmed + "/" + ProfileLoader.fileName
    }

    mutating func build() -> FirmwareProfile? {
        let document: TOMLDocument
        do {
            document = try TOMLDocument.load(path: path)
        } catch {
            var message = error.message
            if error.line == 0 { message += "; a profile folder holds \(ProfileLoader.fileName) and its DBC files" }
            problems.append(TOMLProblem(path: path, line: error.line, column: error.column, message: message))
            return nil
        }
        let root = TOMLTableReader(table: document.root, path: path, problems: problems, context: ProfileLoader.fileName)
        let header = readHeader(root)
        readBuses(root)
        readCatalog(root)
        readLocation(root)
        let checker = self
        diagnostics = DiagnosticsSectionReader(
            root: root, buses: buses.map(\.name), unusableBuses: unusableBuses,
            checkAgainstVSS: { name, unit, reader, line in checker.checkAgainstVSS(name, unit: unit, reader: reader, line: line) }
        ).read(catalog: &catalog, declared: &declaredSignals)
        readAreas(root)
        var vocabularySignals = Dictionary(declaredSignals.map { ($0, [ConditionVocabulary.Label]()) }, uniquingKeysWith: { a, _ in a })
        for entry in catalog { vocabularySignals[entry.name] = labels(of: entry) }
        vocabulary = ConditionVocabulary(signals: vocabularySignals, areas: declaredAreas)
        let rules = readRules(root)
        let events = readEvents(root)
        let commands = readCommands(root)
        let features = readFeatures(root)
        root.finish()
        guard let header else { return nil }
        return FirmwareProfile(
            name: header.name, platform: header.platform, firmware: header.firmware, directory: directory, buses: buses,
            catalog: catalog, rules: rules, events: events, commands: commands, areas: areas, features: features,
            location: location, diagnostics: diagnostics)
    }

    func sortedProblems() -> [TOMLProblem] {
        // profile.toml first (it is what the user edits), then each DBC file; each by line, stable otherwise.
        var paths: [String] = [path]
        for problem in problems.all where !paths.contains(problem.path) { paths.append(problem.path) }
        return problems.all.enumerated().sorted { a, b in
            let pathA = paths.firstIndex(of: a.element.path)!
            let pathB = paths.firstIndex(of: b.element.path)!
            if pathA != pathB { return pathA < pathB }
            if a.element.line != b.element.line { return a.element.line < b.element.line }
            return a.offset < b.offset
        }.map(\.element)
    }

    // MARK: [profile]

    private func readHeader(_ root: TOMLTableReader) -> (name: String, platform: String, firmware: String)? {
        guard let table = root.table("profile", required: true, context: "[profile]") else { return nil }
        let name = nonEmptyString(table, "name")
        let platform = nonEmptyString(table, "platform")
        let firmware = nonEmptyString(table, "firmware")
        if let name {
            let folder = folderName()
            if name != folder {
                table.error(
                    "the profile name '\(name)' does not match its folder '\(folder)'; the agent finds profiles by folder, so rename one of them",
                    line: table.line(of: "name"))
            }
        }
        guard let name, let platform, let firmware else { return nil }
        return (name, platform, firmware)
    }

    private func folderName() -> String {
        var resolved = directory
        if let real = realpath(directory, nil) {
            resolved = String(cString: real)
            free(real)
        }
        return String(resolved.split(separator: "/").last ?? Substring(resolved))
    }

    // MARK: [buses]

    private mutating func readBuses(_ root: TOMLTableReader) {
        guard let table = root.table("buses", required: true, context: "[buses]") else { return }
        let entries = table.entries()
        if entries.isEmpty {
            table.error("[buses] names no bus; add one, such as [buses.body] with dbc = \"body.dbc\"")
        }
        for entry in entries {
            guard let busTable = entry.value.tableValue else {
                table.error(
                    "'\(entry.key)' in [buses] must be a table ([buses.\(entry.key)] with dbc = \"…\"), found \(entry.value.foundDescription)",
                    line: entry.line)
                continue
            }
            let reader = table.child(busTable, context: "[buses.\(Self.quotedKey(entry.key))]")
            let dbc = nonEmptyString(reader, "dbc")
            let isFD = reader.bool("fd") ?? false
            if !Self.isSimpleName(entry.key) {
                reader.error(
                    "bus name '\(entry.key)' must be lowercase letters, digits, '-' or '_', starting with a letter",
                    line: entry.line)
            }
            guard let dbc else {
                unusableBuses.insert(entry.key)
                continue
            }
            let dbcPath = dbc.hasPrefix("/") ? dbc : directory + "/" + dbc
            let database: DBCDatabase
            do {
                database = try DBCParser.parse(contentsOf: dbcPath)
            } catch let error as SystemError {
                reader.error(
                    "cannot read the DBC file \(dbcPath) of bus '\(entry.key)': \(SystemError.text(errno: error.errno)); 'dbc' is relative to the profile folder",
                    line: reader.line(of: "dbc"))
                unusableBuses.insert(entry.key)
                continue
            } catch let error as DBCParseError {
                for warning in error.warnings { problems.append(Self.problem(warning)) }
                problems.append(Self.problem(error.diagnostic))
                reader.error(
                    "the DBC file of bus '\(entry.key)' cannot be used; its error is reported at \(Self.fileName(dbcPath)):\(error.diagnostic.line)",
                    line: reader.line(of: "dbc"))
                unusableBuses.insert(entry.key)
                continue
            } catch {
                reader.error("cannot read the DBC file \(dbcPath): \(error)", line: reader.line(of: "dbc"))
                unusableBuses.insert(entry.key)
                continue
            }
            for warning in database.warnings { problems.append(Self.problem(warning)) }
            if !isFD, let long = database.messages.first(where: \.isFD) {
                reader.error(
                    "bus '\(entry.key)' carries CAN FD frames (message \(long.name), \(long.size) bytes, at \(dbcPath):\(long.line)) but 'fd' is false; set fd = true",
                    line: reader.contains("fd") ? reader.line(of: "fd") : entry.line)
            }
            buses.append(LogicalBus(name: entry.key, dbcPath: dbcPath, database: database, isFD: isFD, line: entry.line))
        }
    }

    private static func problem(_ diagnostic: DBCDiagnostic) -> TOMLProblem {
        TOMLProblem(
            path: diagnostic.file, line: diagnostic.line, column: diagnostic.column, message: diagnostic.message,
            isWarning: diagnostic.severity == .warning)
    }

    /// The bus a catalog entry or command uses: `bus` when given, the only bus otherwise. Reports what is wrong;
    /// nil also when the bus exists but its DBC is unusable (already reported).
    private func resolveBus(_ reader: TOMLTableReader, what: String) -> LogicalBus? {
        let allNames = buses.map(\.name) + unusableBuses.sorted()
        if let name = reader.string("bus") {
            if let bus = buses.first(where: { $0.name == name }) { return bus }
            if unusableBuses.contains(name) { return nil }
            var message = "unknown bus '\(name)' in \(what)"
            if allNames.isEmpty {
                message += "; [buses] defines none"
            } else {
                message += "; the buses are \(allNames.joined(separator: ", "))"
                if let suggestion = TOMLTableReader.nearest(to: name, in: allNames) { message += " (did you mean '\(suggestion)'?)" }
            }
            reader.error(message, line: reader.line(of: "bus"))
            return nil
        }
        if allNames.count == 1 { return buses.first }
        if allNames.count > 1 {
            reader.error("\(what) needs bus = \"…\": the profile has \(allNames.count) buses (\(allNames.joined(separator: ", ")))")
        }
        return nil
    }

    // MARK: [signals]

    private mutating func readCatalog(_ root: TOMLTableReader) {
        guard let table = root.table("signals", required: true, context: "[signals]") else { return }
        let leaves = Self.flatten(table.entries(), isLeaf: { $0["source"] != nil })
        if leaves.isEmpty {
            table.error("[signals] is empty; the catalog names each DBC signal the profile uses")
        }
        var firstLine: [String: Int] = [:]
        var sources: [String: (name: String, line: Int)] = [:]
        for leaf in leaves {
            guard let entryTable = leaf.value.tableValue else {
                table.error(
                    "catalog entry \"\(leaf.name)\" must be a table such as { source = \"Message.Signal\", unit = \"km/h\" }, found \(leaf.value.foundDescription)",
                    line: leaf.line)
                continue
            }
            let reader = table.child(entryTable, context: "[signals.\"\(leaf.name)\"]")
            let source = nonEmptyString(reader, "source")
            let unitValue = reader.value("unit")
            let staleAfter = reader.duration("stale-after")
            var range = CatalogSignal.RangePolicy.check
            if let text = reader.string("range") {
                if let policy = CatalogSignal.RangePolicy(rawValue: text) {
                    range = policy
                } else {
                    reader.error(
                        "'range' of \"\(leaf.name)\" is \"\(text)\"; write \"check\" (the default: values outside the DBC's range and J1939's not-available and error values are not readings) or \"ignore\" (every value is a reading)",
                        line: reader.line(of: "range"))
                }
            }
            let bus = resolveBus(reader, what: "catalog entry \"\(leaf.name)\"")

            if !ProfileLoader.isVSSName(leaf.name) {
                reader.error(
                    "'\(leaf.name)' is not a VSS name: it must be 'Vehicle' followed by '.UpperCamel' segments, such as Vehicle.Speed or Vehicle.Private.MyValue",
                    line: leaf.line)
            }
            declaredSignals.insert(leaf.name)
            if let first = firstLine[leaf.name] {
                reader.error("catalog name '\(leaf.name)' is defined twice: first at line \(first)", line: leaf.line)
                continue
            }
            firstLine[leaf.name] = leaf.line
            if let stale = staleAfter, stale <= 0 {
                reader.error("'stale-after' of \"\(leaf.name)\" must be longer than 0", line: reader.line(of: "stale-after"))
            }
            var unit: String?
            if let unitValue {
                if let text = unitValue.stringValue {
                    unit = text
                    if text.trimmedOfWhitespace().isEmpty {
                        reader.error(
                            "'unit' of \"\(leaf.name)\" is empty; leave the key out for a signal without a unit (a state or a flag)",
                            line: unitValue.line)
                    }
                } else {
                    reader.error("'unit' in [signals.\"\(leaf.name)\"] must be a string, found \(unitValue.foundDescription)", line: unitValue.line)
                }
            }
            if ProfileLoader.isVSSName(leaf.name) {
                checkAgainstVSS(leaf.name, unit: unit, reader: reader, line: leaf.line)
            }
            guard let source, let bus else { continue }
            guard let (message, signal) = findSignal(source, on: bus, reader: reader, key: "source", what: "\"\(leaf.name)\"") else { continue }
            if unitValue == nil, !signal.unit.isEmpty {
                reader.error(
                    "catalog entry \"\(leaf.name)\" needs a unit: the DBC gives \"\(signal.unit)\" for \(message.name).\(signal.name); write the VSS unit, such as unit = \"\(Self.vssUnit(forDBC: signal.unit))\"",
                    line: leaf.line)
            } else if let unit, !unit.isEmpty, !signal.unit.isEmpty, !Self.unitsAgree(unit, signal.unit) {
                reader.warning(
                    "the unit \"\(unit)\" of \"\(leaf.name)\" differs from the DBC's \"\(signal.unit)\" for \(message.name).\(signal.name); Axle does not convert units, so values stay in \(signal.unit)",
                    line: reader.line(of: "unit"))
            }
            let key = "\(bus.name) \(message.name).\(signal.name)"
            if let earlier = sources[key] {
                reader.warning(
                    "\"\(leaf.name)\" reads the same DBC signal (\(message.name).\(signal.name) on bus '\(bus.name)') as \"\(earlier.name)\" (line \(earlier.line))",
                    line: leaf.line)
            } else {
                sources[key] = (leaf.name, leaf.line)
            }
            catalog.append(CatalogSignal(
                name: leaf.name, bus: bus.name, message: message.name, signal: signal.name, unit: unit ?? "",
                staleAfterSeconds: staleAfter.flatMap { $0 > 0 ? $0 : nil } ?? Self.defaultStaleAfter(signal, in: message),
                range: range, line: leaf.line))
        }
    }

    /// Warns when a catalog name outside `Vehicle.Private` is not a VSS signal, is deprecated, or has another unit
    /// than the specification gives it: a backend that reads VSS names expects the standard meaning and unit.
    private func checkAgainstVSS(_ name: String, unit: String?, reader: TOMLTableReader, line: Int) {
        if VSSSpecification.isPrivate(name) { return }
        let release = "VSS \(VSSSpecification.version)"
        guard let entry = VSSSpecification.entry(named: name) else {
            // Only names of about the same length can be near misses; this keeps the hint cheap over ~1,000 names.
            let candidates = VSSSpecification.signalNames.filter { abs($0.count - name.count) <= 2 }
            let hint = TOMLTableReader.nearest(to: name, in: candidates).map { "did you mean '\($0)'? " } ?? ""
            reader.warning(
                "'\(name)' is not a \(release) signal; \(hint)a name of your own goes under \(VSSSpecification.privateBranch), such as \(VSSSpecification.privateBranch).\(name.split(separator: ".").last ?? "")",
                line: line)
            return
        }
        if entry.kind == .branch {
            reader.warning("'\(name)' is a \(release) branch, not a signal; name one of its signals", line: line)
            return
        }
        if let deprecation = entry.deprecation {
            let advice = entry.replacement.map { "; use '\($0)'" } ?? ""
            reader.warning("'\(name)' is deprecated in \(release) (\"\(deprecation)\")\(advice)", line: line)
        }
        guard let unit, !unit.isEmpty else { return }
        if entry.unit.isEmpty {
            reader.warning(
                "\(release) gives \"\(name)\" no unit, but the profile says \"\(unit)\"; leave 'unit' out",
                line: reader.line(of: "unit"))
        } else if !Self.unitsAgree(entry.unit, unit) {
            reader.warning(
                "the unit \"\(unit)\" of \"\(name)\" differs from \(release)'s \"\(entry.unit)\"; a consumer of VSS names expects \(entry.unit) (Axle does not convert units: scale the DBC signal or use a name under \(VSSSpecification.privateBranch))",
                line: reader.line(of: "unit"))
        }
    }

    /// `Message.Signal` on a bus's DBC, reporting an unknown message or signal with the names that exist.
    private func findSignal(
        _ source: String, on bus: LogicalBus, reader: TOMLTableReader, key: String, what: String
    ) -> (DBCMessage, DBCSignal)? {
        let parts = source.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains(".") else {
            reader.error("'\(key)' of \(what) must be \"Message.Signal\" from the DBC, found \"\(source)\"", line: reader.line(of: key))
            return nil
        }
        guard let message = findMessage(String(parts[0]), on: bus, reader: reader, key: key) else { return nil }
        guard let signal = message.signal(named: String(parts[1])) else {
            reader.error(
                "message \(message.name) has no signal '\(parts[1])'\(Self.suggestion(String(parts[1]), message.signals.map(\.name), noun: "its signals"))",
                line: reader.line(of: key))
            return nil
        }
        return (message, signal)
    }

    private func findMessage(_ name: String, on bus: LogicalBus, reader: TOMLTableReader, key: String) -> DBCMessage? {
        if let message = bus.database.message(named: name) { return message }
        reader.error(
            "bus '\(bus.name)' (\(Self.fileName(bus.dbcPath))) has no message '\(name)'\(Self.suggestion(name, bus.database.messages.map(\.name), noun: "its messages"))",
            line: reader.line(of: key))
        return nil
    }

    /// 3 × the message's cycle time (× the switch values for a multiplexed signal, which is in one frame of
    /// several), else 5 s.
    static func defaultStaleAfter(_ signal: DBCSignal, in message: DBCMessage) -> Double {
        guard let cycle = message.cycleTime, cycle > 0 else { return 5 }
        var frames = 1
        if let switchName = signal.multiplexing.multiplexerSignal {
            var values = Set<UInt64>()
            for other in message.signals where other.multiplexing.multiplexerSignal == switchName {
                for range in other.multiplexing.multiplexerValues where range.upperBound - range.lowerBound < 256 {
                    values.formUnion(range)
                }
            }
            frames = max(1, values.count)
        }
        return 3 * Double(cycle) / 1000 * Double(frames)
    }

    private func labels(of entry: CatalogSignal) -> [ConditionVocabulary.Label] {
        guard let bus = buses.first(where: { $0.name == entry.bus }),
            let signal = bus.database.message(named: entry.message)?.signal(named: entry.signal)
        else { return [] }
        return signal.valueLabels.entries.map {
            ConditionVocabulary.Label(label: $0.label, value: Double($0.value) * signal.factor + signal.offset)
        }
    }

    // MARK: [location]

    /// `[location]`: gpsd's address and the catalog names the receiver feeds. A name the catalog has from a bus is
    /// shared (`prefer` says which wins); any other becomes a catalog entry of its own, with the quantity's unit.
    private mutating func readLocation(_ root: TOMLTableReader) {
        guard let reader = root.table("location", context: "[location]") else { return }
        var host = LocationSource.defaultHost
        var port = LocationSource.defaultPort
        if let text = reader.string("gpsd") {
            if let address = LocationSource.address(text) {
                (host, port) = address
            } else {
                reader.error(
                    "'gpsd' in [location] is \"\(text)\", not an address: write \"HOST:PORT\" with a port from 1 to 65535, such as \"127.0.0.1:2947\" (gpsd's default)",
                    line: reader.line(of: "gpsd"))
            }
        }
        var prefer = LocationSource.Preference.gpsd
        if let text = reader.string("prefer") {
            if let preference = LocationSource.Preference(rawValue: text) {
                prefer = preference
            } else {
                reader.error(
                    "'prefer' in [location] is \"\(text)\"; write \"gpsd\" (the default: the receiver's value while it has a fix, the bus's otherwise) or \"can\" (the bus's value always)",
                    line: reader.line(of: "prefer"))
            }
        }
        let staleAfter = reader.duration("stale-after")
        if let staleAfter, staleAfter <= 0 {
            reader.error("'stale-after' in [location] must be longer than 0", line: reader.line(of: "stale-after"))
        }
        guard let table = reader.table("signals", required: true, context: "[location.signals]") else { return }
        let known = LocationQuantity.allCases.map(\.rawValue).joined(separator: ", ")
        var signals: [LocationSource.Signal] = []
        var firstLine: [String: Int] = [:]
        for leaf in Self.flattenStrings(table.entries()) {
            guard let text = leaf.value.stringValue else {
                table.error(
                    "\"\(leaf.name)\" in [location.signals] must name what the receiver gives it (one of \(known)), found \(leaf.value.foundDescription)",
                    line: leaf.line)
                continue
            }
            guard let quantity = LocationQuantity(rawValue: text) else {
                table.error(
                    "\"\(leaf.name)\" in [location.signals] is \"\(text)\", which gpsd does not give\(Self.suggestion(text, LocationQuantity.allCases.map(\.rawValue), noun: "the quantities"))",
                    line: leaf.line)
                continue
            }
            if let first = firstLine[leaf.name] {
                table.error("\"\(leaf.name)\" is named twice in [location.signals]: first at line \(first)", line: leaf.line)
                continue
            }
            firstLine[leaf.name] = leaf.line
            guard ProfileLoader.isVSSName(leaf.name) else {
                table.error(
                    "'\(leaf.name)' is not a VSS name: it must be 'Vehicle' followed by '.UpperCamel' segments, such as Vehicle.CurrentLocation.Latitude",
                    line: leaf.line)
                continue
            }
            declaredSignals.insert(leaf.name)
            signals.append(LocationSource.Signal(name: leaf.name, quantity: quantity, line: leaf.line))
            if let index = catalog.firstIndex(where: { $0.name == leaf.name }) {
                // The bus gives this name too: both feed one catalog entry, so their units must be the same.
                if !Self.unitsAgree(quantity.unit, catalog[index].unit) {
                    table.error(
                        "\"\(leaf.name)\" is in [signals] with unit \"\(catalog[index].unit)\" (line \(catalog[index].line)), but the receiver gives \(quantity.rawValue) in \"\(quantity.unit)\": one name cannot carry two units; name the receiver's value under another name",
                        line: leaf.line)
                    continue
                }
                catalog[index].location = quantity
            } else {
                checkAgainstVSS(leaf.name, unit: quantity.unit, reader: table, line: leaf.line)
                catalog.append(CatalogSignal(
                    name: leaf.name, bus: "", message: "", signal: "", unit: quantity.unit,
                    staleAfterSeconds: staleAfter.flatMap { $0 > 0 ? $0 : nil } ?? Self.defaultLocationStaleAfter,
                    location: quantity, line: leaf.line))
            }
        }
        if table.entries().isEmpty {
            table.error("[location.signals] is empty; name the catalog signals the receiver feeds, such as \"Vehicle.CurrentLocation.Latitude\" = \"latitude\"")
        }
        location = LocationSource(host: host, port: port, signals: signals, prefer: prefer, line: reader.line)
    }

    /// gpsd reports about once a second: a position three reports old is stale, as a bus signal three cycles old is.
    static let defaultLocationStaleAfter = 3.0

    /// Entries of `[location.signals]`, whose keys may be dotted names written without quotes.
    static func flattenStrings(
        _ entries: [TOMLTable.Entry], prefix: String = ""
    ) -> [(name: String, value: TOMLValue, line: Int)] {
        var leaves: [(name: String, value: TOMLValue, line: Int)] = []
        for entry in entries {
            let name = prefix.isEmpty ? entry.key : prefix + "." + entry.key
            if let table = entry.value.tableValue, !table.isEmpty {
                leaves += flattenStrings(table.entries, prefix: name)
            } else {
                leaves.append((name, entry.value, entry.line))
            }
        }
        return leaves
    }

    // MARK: [areas]

    private mutating func readAreas(_ root: TOMLTableReader) {
        guard let table = root.table("areas", context: "[areas]") else { return }
        for entry in table.entries() {
            guard let areaTable = entry.value.tableValue else {
                table.error(
                    "'\(entry.key)' in [areas] must be a table ([areas.\(entry.key)] with latitude, longitude and circles), found \(entry.value.foundDescription)",
                    line: entry.line)
                continue
            }
            let context = "[areas.\(Self.quotedKey(entry.key))]"
            declaredAreas.append(entry.key)
            let reader = table.child(areaTable, context: context)
            let latitude = catalogName(reader, "latitude", required: true)
            let longitude = catalogName(reader, "longitude", required: true)
            let circleReaders = reader.tableArray("circles", required: true, context: "\(context) circle")
            if !Self.isSimpleName(entry.key) {
                reader.error(
                    "area name '\(entry.key)' must be lowercase letters, digits, '-' or '_', starting with a letter (it is written in inside(…))",
                    line: entry.line)
            }
            if reader.contains("circles"), circleReaders.isEmpty, reader.value("circles")?.arrayValue?.isEmpty == true {
                reader.error("area '\(entry.key)' has no circles; add { latitude = …, longitude = …, radius = … }", line: reader.line(of: "circles"))
            }
            var circles: [Area.Circle] = []
            for circle in circleReaders {
                let lat = circle.double("latitude", required: true)
                let lon = circle.double("longitude", required: true)
                let radius = circle.double("radius", required: true)
                if let lat, !(-90...90).contains(lat) {
                    circle.error("latitude \(lat) in \(circle.context) is outside -90…90", line: circle.line(of: "latitude"))
                }
                if let lon, !(-180...180).contains(lon) {
                    circle.error("longitude \(lon) in \(circle.context) is outside -180…180", line: circle.line(of: "longitude"))
                }
                if let radius, radius <= 0 {
                    circle.error("radius in \(circle.context) must be more than 0 metres", line: circle.line(of: "radius"))
                }
                if let lat, let lon, let radius { circles.append(Area.Circle(latitude: lat, longitude: lon, radiusMetres: radius)) }
            }
            guard let latitude, let longitude else { continue }
            areas.append(Area(name: entry.key, latitudeSignal: latitude, longitudeSignal: longitude, circles: circles, line: entry.line))
        }
    }

    // MARK: [[rules]]

    private func readRules(_ root: TOMLTableReader) -> [CollectionRule] {
        var rules: [CollectionRule] = []
        var names: [String: Int] = [:]
        for reader in root.tableArray("rules", context: "[rules]") {
            let name = nonEmptyString(reader, "name")
            let signals = catalogNames(reader, "signals", required: true)
            let periodic = reader.duration("periodic")
            let onChange = reader.table("on-change", context: "'on-change' of \(reader.context)")
            let aggregate = reader.table("aggregate", context: "'aggregate' of \(reader.context)")
            let enabled = reader.bool("enabled") ?? true
            var deadband = 0.0
            var heartbeat: Double?
            if let onChange {
                deadband = onChange.double("deadband") ?? 0
                heartbeat = onChange.duration("heartbeat")
                if deadband < 0 { onChange.error("'deadband' in \(onChange.context) must not be negative", line: onChange.line(of: "deadband")) }
                if let beat = heartbeat, beat <= 0 {
                    onChange.error("'heartbeat' in \(onChange.context) must be longer than 0", line: onChange.line(of: "heartbeat"))
                }
            }
            var window: Double?
            var functions: [AggregateFunction] = []
            if let aggregate {
                window = aggregate.duration("window", required: true)
                if let seconds = window, seconds <= 0 {
                    aggregate.error("'window' in \(aggregate.context) must be longer than 0", line: aggregate.line(of: "window"))
                }
                let functionNames = aggregate.stringArray("functions", required: true) ?? []
                if aggregate.contains("functions"), aggregate.value("functions")?.arrayValue?.isEmpty == true {
                    aggregate.error("'functions' in \(aggregate.context) is empty; choose from \(Self.functionList)", line: aggregate.line(of: "functions"))
                }
                for function in functionNames {
                    if let known = AggregateFunction(rawValue: function) {
                        functions.append(known)
                    } else {
                        aggregate.error(
                            "unknown aggregate function '\(function)'; the functions are \(Self.functionList)",
                            line: aggregate.line(of: "functions"))
                    }
                }
            }
            if let name {
                if let first = names[name] {
                    reader.error("rule name '\(name)' is used twice: first at line \(first)", line: reader.line(of: "name"))
                } else {
                    names[name] = reader.line
                }
            }
            let givenModes = ["periodic", "on-change", "aggregate"].filter { reader.contains($0) }
            let modeCount = givenModes.count
            let label = name.map { "rule '\($0)'" } ?? reader.context
            if modeCount == 0 {
                reader.error("\(label) needs a mode: periodic = \"1s\", on-change = { deadband = … } or aggregate = { window = \"10s\", functions = […] }")
            } else if modeCount > 1 {
                reader.error("\(label) has \(modeCount) modes (\(givenModes.joined(separator: ", "))); give exactly one")
            }
            if let seconds = periodic, seconds <= 0 {
                reader.error("'periodic' of \(label) must be longer than 0", line: reader.line(of: "periodic"))
            }
            let mode: CollectionMode? =
                if let periodic, modeCount == 1 { .periodic(intervalSeconds: periodic) }
                else if onChange != nil, modeCount == 1 { .onChange(deadband: deadband, heartbeatSeconds: heartbeat) }
                else if let window, aggregate != nil, modeCount == 1, !functions.isEmpty { .aggregate(windowSeconds: window, functions: functions) }
                else { nil }
            guard let name, let signals, let mode else { continue }
            rules.append(CollectionRule(name: name, signals: signals, mode: mode, enabled: enabled, line: reader.line))
        }
        return rules
    }

    private static let functionList = AggregateFunction.allCases.map(\.rawValue).joined(separator: ", ")

    // MARK: [[events]]

    private func readEvents(_ root: TOMLTableReader) -> [EventRule] {
        var events: [EventRule] = []
        var names: [String: Int] = [:]
        for reader in root.tableArray("events", context: "[events]") {
            let name = nonEmptyString(reader, "name")
            let condition = self.condition(reader, "when", required: true)
            let priorityText = reader.string("priority", required: true)
            let capture = catalogNames(reader, "capture", required: false)
            let pre = window(reader, "pre-trigger")
            let post = window(reader, "post-trigger")
            let enabled = reader.bool("enabled") ?? true
            if let name {
                if let first = names[name] {
                    reader.error("event name '\(name)' is used twice: first at line \(first)", line: reader.line(of: "name"))
                } else {
                    names[name] = reader.line
                }
            }
            var priority: EventPriority?
            if let priorityText {
                priority = EventPriority(rawValue: priorityText)
                if priority == nil {
                    reader.error(
                        "'priority' in \(reader.context) must be one of \(EventPriority.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(priorityText)\"",
                        line: reader.line(of: "priority"))
                }
            }
            guard let name, let condition, let priority, let pre, let post else { continue }
            if reader.contains("capture"), capture == nil { continue }
            events.append(EventRule(
                name: name, condition: condition.condition, conditionText: condition.text, priority: priority,
                capture: capture ?? condition.condition.signals, preTriggerSeconds: pre, postTriggerSeconds: post,
                enabled: enabled, line: reader.line))
        }
        return events
    }

    /// A capture window: 0…600 s, default 0.
    private func window(_ reader: TOMLTableReader, _ key: String) -> Double? {
        guard reader.contains(key) else {
            _ = reader.value(key)
            return 0
        }
        guard let seconds = reader.duration(key) else { return nil }
        guard seconds <= 600 else {
            reader.error("'\(key)' in \(reader.context) is \(Condition.format(seconds))s; capture windows are at most 600s (10min)", line: reader.line(of: key))
            return nil
        }
        return seconds
    }

    // MARK: [commands]

    private func readCommands(_ root: TOMLTableReader) -> [CommandDefinition] {
        guard let table = root.table("commands", context: "[commands]") else { return [] }
        var commands: [CommandDefinition] = []
        var firstLine: [String: Int] = [:]
        for leaf in Self.flatten(table.entries(), isLeaf: { $0["message"] != nil }) {
            guard let commandTable = leaf.value.tableValue else {
                table.error(
                    "command '\(leaf.name)' must be a table ([commands.\"\(leaf.name)\"] with message and set), found \(leaf.value.foundDescription)",
                    line: leaf.line)
                continue
            }
            // Possible when one is written `[commands."a.b"]` and the other `[commands.a.b]`.
            if let first = firstLine[leaf.name] {
                table.error("command '\(leaf.name)' is defined twice: first at line \(first)", line: leaf.line)
                continue
            }
            firstLine[leaf.name] = leaf.line
            let reader = table.child(commandTable, context: "[commands.\"\(leaf.name)\"]")
            if let command = readCommand(leaf.name, reader, line: leaf.line) {
                commands.append(command)
            }
        }
        return commands
    }

    // MARK: [features]

    /// `[features."NAME"]`: each is read like a command, and must declare the parameter `enabled` (0…1) that its
    /// `set` uses, so that the same frames switch the feature on and off.
    private func readFeatures(_ root: TOMLTableReader) -> [FeatureDefinition] {
        guard let table = root.table("features", context: "[features]") else { return [] }
        var features: [FeatureDefinition] = []
        for entry in table.entries() {
            guard let featureTable = entry.value.tableValue else {
                table.error(
                    "feature '\(entry.key)' must be a table ([features.\"\(entry.key)\"] with message and set), found \(entry.value.foundDescription)",
                    line: entry.line)
                continue
            }
            let reader = table.child(featureTable, context: "[features.\"\(entry.key)\"]")
            if !Self.isSimpleName(entry.key) {
                reader.error("feature name '\(entry.key)' must be lowercase letters, digits, '-' or '_', starting with a letter", line: entry.line)
            }
            // The agent sends a feature's frames whenever its entitlement turns on or off, with nothing to gate them
            // and nothing to wait for: keys that would promise otherwise are refused, not silently ignored.
            for key in ["precondition", "confirm", "timeout"] where reader.contains(key) {
                reader.error(
                    "'\(key)' is not used for a feature: its frames are sent whenever the entitlement turns on or off, without a precondition or a confirmation; remove it",
                    line: reader.line(of: key))
            }
            guard let action = readCommand(entry.key, reader, line: entry.line, kind: "feature") else { continue }
            guard let enabled = action.parameters.first(where: { $0.name == "enabled" }), enabled.minimum <= 0, enabled.maximum >= 1,
                action.signals.values.contains(.parameter("enabled"))
            else {
                reader.error(
                    "feature '\(entry.key)' must switch on and off with the parameter 'enabled': declare enabled = { min = 0, max = 1 } under [features.\"\(entry.key)\".parameters] and use \"$enabled\" in 'set'",
                    line: entry.line)
                continue
            }
            features.append(FeatureDefinition(name: entry.key, action: action))
        }
        return features
    }

    private func readCommand(_ name: String, _ reader: TOMLTableReader, line: Int, kind: String = "command") -> CommandDefinition? {
        let label = "\(kind) '\(name)'"
        let messageName = nonEmptyString(reader, "message")
        let bus = resolveBus(reader, what: label)
        let setTable = reader.table("set", required: true, context: "'set' of \(reader.context)")
        let counterName = reader.string("counter")
        let repeats = reader.int("repeat") ?? 1
        let interval = reader.duration("interval") ?? 0.010
        let precondition = condition(reader, "precondition", required: false)
        let confirmation = condition(reader, "confirm", required: false)
        let timeout = reader.duration("timeout") ?? 5
        let parametersTable = reader.table("parameters", context: "'parameters' of \(reader.context)")

        if kind == "command", !Self.isCommandName(name) {
            reader.error(
                "command name '\(name)' must be lowercase words joined by dots, such as trunk.open or climate.precondition",
                line: line)
        }
        if repeats < 1 { reader.error("'repeat' of \(label) must be at least 1", line: reader.line(of: "repeat")) }
        if interval <= 0, reader.contains("interval") {
            reader.error("'interval' of \(label) must be longer than 0", line: reader.line(of: "interval"))
        }
        if timeout <= 0, reader.contains("timeout") {
            reader.error("'timeout' of \(label) must be longer than 0", line: reader.line(of: "timeout"))
        }
        if repeats >= 1, interval > 0, timeout > 0, Double(repeats - 1) * interval >= timeout {
            reader.warning(
                "\(label) sends \(repeats) frames \(Condition.format(interval * 1000))ms apart, which takes longer than its timeout of \(Condition.format(timeout))s",
                line: reader.line(of: "timeout"))
        }

        var parameters: [CommandParameter] = []
        var parametersOK = true
        if let parametersTable {
            for entry in parametersTable.entries() {
                guard let parameterTable = entry.value.tableValue else {
                    parametersTable.error(
                        "parameter '\(entry.key)' of \(label) must be a table such as { min = 16, max = 28, default = 21, unit = \"celsius\" }, found \(entry.value.foundDescription)",
                        line: entry.line)
                    parametersOK = false
                    continue
                }
                let parameter = parametersTable.child(parameterTable, context: "parameter '\(entry.key)' of \(label)")
                let minimum = parameter.double("min", required: true)
                let maximum = parameter.double("max", required: true)
                let defaultValue = parameter.double("default")
                let unit = parameter.string("unit") ?? ""
                if !Self.isSimpleName(entry.key) {
                    parameter.error("parameter name '\(entry.key)' must be lowercase letters, digits, '-' or '_', starting with a letter", line: entry.line)
                }
                guard let minimum, let maximum else {
                    parametersOK = false
                    continue
                }
                if minimum > maximum {
                    parameter.error("parameter '\(entry.key)' of \(label) has min \(Condition.format(minimum)) above max \(Condition.format(maximum))", line: parameter.line(of: "min"))
                    parametersOK = false
                }
                if let value = defaultValue, value < minimum || value > maximum {
                    parameter.error(
                        "the default \(Condition.format(value)) of parameter '\(entry.key)' is outside its range \(Condition.format(minimum))…\(Condition.format(maximum))",
                        line: parameter.line(of: "default"))
                    parametersOK = false
                }
                parameters.append(CommandParameter(name: entry.key, minimum: minimum, maximum: maximum, defaultValue: defaultValue, unit: unit))
            }
        }

        // The message and its signals need the bus's DBC.
        var message: DBCMessage?
        if let messageName, let bus { message = findMessage(messageName, on: bus, reader: reader, key: "message") }
        var settings: [String: SignalSetting] = [:]
        var settingsOK = setTable != nil
        var usedParameters: Set<String> = []
        if let setTable {
            let entries = setTable.entries()
            if entries.isEmpty { setTable.error("'set' of \(label) is empty; it names the signals the command writes", line: setTable.line) }
            for entry in entries {
                var setting: SignalSetting?
                let signal = message?.signal(named: entry.key)
                if let message, signal == nil {
                    setTable.error(
                        "message \(message.name) has no signal '\(entry.key)'\(Self.suggestion(entry.key, message.signals.map(\.name), noun: "its signals"))",
                        line: entry.line)
                    settingsOK = false
                }
                switch entry.value.kind {
                case .integer, .float:
                    setting = .constant(entry.value.numberValue!)
                case .bool(let flag):
                    setting = .constant(flag ? 1 : 0)
                case .string(let text) where text.hasPrefix("$"):
                    let parameter = String(text.dropFirst())
                    usedParameters.insert(parameter)
                    if parameters.contains(where: { $0.name == parameter }) {
                        setting = .parameter(parameter)
                    } else if !(parametersTable?.contains(parameter) ?? false) {
                        // (A parameter that is declared but has errors of its own was reported with them.)
                        let declared = parameters.map(\.name)
                        setTable.error(
                            "'\(entry.key)' uses the parameter '\(text)', which \(label) does not declare; add it under [\(kind)s.\"\(name)\".parameters]\(declared.isEmpty ? "" : " (declared: \(declared.joined(separator: ", ")))")",
                            line: entry.line)
                    }
                case .string(let text):
                    if let signal {
                        if let raw = signal.valueLabels.value(forLabel: text) {
                            setting = .constant(Double(raw) * signal.factor + signal.offset)
                        } else if signal.valueLabels.isEmpty {
                            setTable.error(
                                "signal \(signal.name) has no value labels, so \"\(text)\" cannot be resolved; give a number (or \"$parameter\")",
                                line: entry.line)
                        } else {
                            setTable.error(
                                "signal \(signal.name) has no value labelled \"\(text)\"; its labels are \(signal.valueLabels.entries.map { "\"\($0.label)\"" }.joined(separator: ", "))",
                                line: entry.line)
                        }
                    }
                default:
                    setTable.error(
                        "'\(entry.key)' in \(setTable.context) must be a number, a \"Label\" of the DBC or a \"$parameter\", found \(entry.value.foundDescription)",
                        line: entry.line)
                }
                // Keyed by the DBC's name for the signal, whichever of its names the profile used.
                if let setting { settings[signal?.name ?? entry.key] = setting } else { settingsOK = false }
            }
        }
        for parameter in parameters where !usedParameters.contains(parameter.name) {
            reader.warning("parameter '\(parameter.name)' of \(label) is not used in 'set'", line: parametersTable?.line(of: parameter.name))
        }
        var counter: String?
        if let counterName {
            if let message {
                if let signal = message.signal(named: counterName) {
                    counter = signal.name
                    if settings[signal.name] != nil {
                        reader.error("\(signal.name) is both set by \(label) and its counter; a counter is counted, not set", line: reader.line(of: "counter"))
                    }
                } else {
                    reader.error(
                        "the counter '\(counterName)' is not a signal of message \(message.name)\(Self.suggestion(counterName, message.signals.map(\.name), noun: "its signals"))",
                        line: reader.line(of: "counter"))
                }
            }
        }
        if let message, let bus, settingsOK, parametersOK {
            checkEncodable(label, message: message, bus: bus, settings: settings, parameters: parameters, reader: reader, line: line)
        }
        guard let bus, let message, settingsOK, parametersOK else { return nil }
        if counterName != nil, counter == nil { return nil }
        if reader.contains("precondition"), precondition == nil { return nil }
        if reader.contains("confirm"), confirmation == nil { return nil }
        return CommandDefinition(
            name: name, bus: bus.name, message: message.name, signals: settings, parameters: parameters,
            counterSignal: counter, repeats: max(1, repeats), intervalSeconds: interval, precondition: precondition?.condition,
            confirmation: confirmation?.condition, timeoutSeconds: timeout, line: line, preconditionText: precondition?.text,
            confirmationText: confirmation?.text)
    }

    /// Builds the command's frame with the DBC encoder for the defaults and for each parameter's minimum and
    /// maximum, so a command that would fail in the vehicle fails here instead.
    private func checkEncodable(
        _ label: String, message: DBCMessage, bus: LogicalBus, settings: [String: SignalSetting],
        parameters: [CommandParameter], reader: TOMLTableReader, line: Int
    ) {
        let encoder = SignalEncoder(database: bus.database)
        let base = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.defaultValue ?? $0.minimum) })
        // Each case: how the message names it (empty without parameters), and the parameter values.
        var cases: [(description: String, values: [String: Double])] = [("", base)]
        if !parameters.isEmpty {
            cases[0].description = " with " + parameters.map { "\($0.name) = \(Condition.format(base[$0.name]!))" }.joined(separator: ", ")
                + (parameters.allSatisfy { $0.defaultValue != nil } ? " (the defaults)" : " (defaults, minimum for required parameters)")
        }
        for parameter in parameters {
            for (bound, value) in [("minimum", parameter.minimum), ("maximum", parameter.maximum)] {
                var values = base
                values[parameter.name] = value
                cases.append((" with \(parameter.name) = \(Condition.format(value)) (its \(bound))", values))
            }
        }
        var reported: Set<String> = []
        for testCase in cases {
            var values: [String: SignalEncoder.Value] = [:]
            for (signal, setting) in settings {
                switch setting {
                case .constant(let value): values[signal] = .number(value)
                case .parameter(let name): values[signal] = .number(testCase.values[name] ?? 0)
                }
            }
            do {
                _ = try encoder.encode(message: message.name, values: values)
            } catch {
                guard reported.insert(error.message).inserted else { continue }
                reader.error("\(label) cannot be encoded\(testCase.description): \(error.message)", line: line)
            }
        }
    }

    // MARK: Shared readers

    /// A condition key, parsed; a problem names the key and the character position.
    private func condition(_ reader: TOMLTableReader, _ key: String, required: Bool) -> (condition: Condition, text: String)? {
        guard let text = reader.string(key, required: required) else { return nil }
        do {
            return (try ConditionParser.parse(text, vocabulary: vocabulary), text)
        } catch {
            reader.error("in '\(key)' at character \(error.position): \(error.message)", line: reader.line(of: key))
            return nil
        }
    }

    /// A string naming a catalog signal.
    private func catalogName(_ reader: TOMLTableReader, _ key: String, required: Bool) -> String? {
        guard let name = reader.string(key, required: required) else { return nil }
        guard catalogHas(name) else {
            reader.error("'\(key)' in \(reader.context): \(unknownCatalogMessage(name))", line: reader.line(of: key))
            return nil
        }
        return name
    }

    /// An array of catalog names; nil when any is unknown (each is reported).
    private func catalogNames(_ reader: TOMLTableReader, _ key: String, required: Bool) -> [String]? {
        guard let names = reader.stringArray(key, required: required) else { return nil }
        var ok = true
        if names.isEmpty, required {
            reader.error("'\(key)' in \(reader.context) is empty; list catalog names such as \"Vehicle.Speed\"", line: reader.line(of: key))
            ok = false
        }
        var seen: Set<String> = []
        for name in names {
            if !catalogHas(name) {
                reader.error("'\(key)' in \(reader.context): \(unknownCatalogMessage(name))", line: reader.line(of: key))
                ok = false
            } else if !seen.insert(name).inserted {
                reader.warning("'\(key)' in \(reader.context) lists \"\(name)\" twice", line: reader.line(of: key))
            }
        }
        var unique: Set<String> = []
        return ok ? names.filter { unique.insert($0).inserted } : nil
    }

    private func catalogHas(_ name: String) -> Bool {
        declaredSignals.contains(name)
    }

    private func unknownCatalogMessage(_ name: String) -> String {
        var message = "unknown signal \"\(name)\": it is not in the [signals] catalog"
        if let suggestion = TOMLTableReader.nearest(to: name, in: catalog.map(\.name)) {
            message += "; did you mean \"\(suggestion)\"?"
        }
        return message
    }

    private func nonEmptyString(_ reader: TOMLTableReader, _ key: String) -> String? {
        guard let value = reader.string(key, required: true) else { return nil }
        guard !value.trimmedOfWhitespace().isEmpty else {
            reader.error("'\(key)' in \(reader.context) is empty", line: reader.line(of: key))
            return nil
        }
        return value
    }

    // MARK: Names and text

    /// Entries of a table whose keys may be dotted names written without quotes (`Vehicle.Speed = { … }` is a
    /// nested table in TOML): nested tables are walked and their keys joined with dots until `isLeaf` holds.
    static func flatten(
        _ entries: [TOMLTable.Entry], prefix: String = "", isLeaf: (TOMLTable) -> Bool
    ) -> [(name: String, value: TOMLValue, line: Int)] {
        var leaves: [(name: String, value: TOMLValue, line: Int)] = []
        for entry in entries {
            let name = prefix.isEmpty ? entry.key : prefix + "." + entry.key
            if let table = entry.value.tableValue, !isLeaf(table), !table.isEmpty,
                table.entries.allSatisfy({ $0.value.tableValue != nil })
            {
                leaves += flatten(table.entries, prefix: name, isLeaf: isLeaf)
            } else {
                leaves.append((name, entry.value, entry.line))
            }
        }
        return leaves
    }

    static func isSimpleName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    static func isCommandName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.allSatisfy { isSimpleName(String($0)) }
    }

    static func quotedKey(_ key: String) -> String {
        isSimpleName(key) ? key : "\"\(key)\""
    }

    static func fileName(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    /// "; did you mean 'X'?" for a near miss, else the list of names when it is short.
    static func suggestion(_ name: String, _ candidates: [String], noun: String) -> String {
        if let near = TOMLTableReader.nearest(to: name, in: candidates) { return "; did you mean '\(near)'?" }
        if candidates.isEmpty { return "" }
        if candidates.count <= 12 { return "; \(noun) are \(candidates.joined(separator: ", "))" }
        return "; \(noun) are \(candidates.prefix(12).joined(separator: ", ")), …"
    }

    /// Units that name the same thing in DBC files and in VSS.
    private static let unitSynonyms: [[String]] = [
        ["degC", "°C", "C", "celsius", "Celsius", "deg C"],
        ["deg", "°", "degree", "degrees"],
        ["%", "percent"],
        ["rpm", "1/min", "min-1"],
        ["m/s2", "m/s^2", "m/s²"],
        ["L/h", "l/h"],
        ["L", "l"],
        ["km/L", "km/l"],
        ["min", "minutes"],
        ["s", "sec"],
        ["V", "volt"],
        ["A", "ampere"],
    ]

    static func unitsAgree(_ vss: String, _ dbc: String) -> Bool {
        vss == dbc || unitSynonyms.contains { $0.contains(vss) && $0.contains(dbc) }
    }

    /// The VSS spelling of a DBC unit, for the hint in a message.
    static func vssUnit(forDBC unit: String) -> String {
        switch unit {
        case "degC", "°C", "C": "celsius"
        case "deg", "°": "degrees"
        case "%": "percent"
        case "m/s2", "m/s^2": "m/s^2"
        case "L/h": "l/h"
        default: unit
        }
    }
}


