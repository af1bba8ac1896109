/// The COVESA Vehicle Signal Specification that profile catalog names are checked against (docs/profiles.md).
///
/// The table is generated from COVESA's own export (third_party/vss-5.0, MPL-2.0) into
/// `VSSSignals.generated.swift`. Lookups read that text in place rather than building a dictionary: `axled` checks
/// its profile's few dozen names once at start, and a dictionary of all 1,411 entries would stay resident for the
/// agent's life (about 0.4 MB measured, against a 20 MB budget).
public enum VSSSpecification {
    /// One branch or signal of the specification.
    public struct Entry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case branch, sensor, actuator, attribute }

        public let name: String
        public let kind: Kind
        /// The VSS unit, such as `celsius` or `km/h`; empty when the signal has none.
        public let unit: String
        /// The deprecation note as VSS writes it, such as "v5.0 moved to EngineCoolant.Temperature"; nil when current.
        public let deprecation: String?
        /// The full name the deprecation note points to, when it names one signal.
        public let replacement: String?
    }

    /// The VSS release, such as "5.0".
    public static let version = VSSSignalTable.version

    /// Names under this branch are the profile author's own and are not checked against the specification.
    public static let privateBranch = "Vehicle.Private"

    /// The entry named `name`, or nil when VSS has no such branch or signal.
    public static func entry(named name: String) -> Entry? {
        // Each line is `name|kind|unit|replacement|deprecation`: find the line that starts with "name|", byte-wise
        // (80 kB of ASCII; a scan per catalog entry takes microseconds in a release build).
        let table = VSSSignalTable.lines.utf8
        let key = Array((name + "|").utf8)
        var lineStart = table.startIndex
        while lineStart < table.endIndex {
            let lineEnd = table[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? table.endIndex
            if table[lineStart..<lineEnd].starts(with: key) {
                return parse(Substring(VSSSignalTable.lines[lineStart..<lineEnd]))
            }
            lineStart = lineEnd < table.endIndex ? table.index(after: lineEnd) : lineEnd
        }
        return nil
    }

    /// Every signal (not branch) name, sorted, for "did you mean" hints (made on each call: only a name that is not
    /// in VSS asks for it).
    public static var signalNames: [String] {
        VSSSignalTable.lines.split(separator: "\n").compactMap { line in
            let entry = parse(line)
            return entry.kind == .branch ? nil : entry.name
        }.sorted()
    }

    /// Whether `name` is the profile author's own: `Vehicle.Private` or below.
    public static func isPrivate(_ name: String) -> Bool {
        name == privateBranch || name.hasPrefix(privateBranch + ".")
    }

    private static func parse(_ line: Substring) -> Entry {
        let fields = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        precondition(fields.count == 5, "VSSSignals.generated.swift: malformed line \(line)")
        let kind: Entry.Kind = switch fields[1] {
        case "b": .branch
        case "s": .sensor
        case "a": .actuator
        default: .attribute
        }
        return Entry(
            name: fields[0], kind: kind, unit: fields[2],
            deprecation: fields[4].isEmpty ? nil : fields[4], replacement: fields[3].isEmpty ? nil : fields[3])
    }
}
