/// The COVESA Vehicle Signal Specification that profile catalog names are checked against (docs/profiles.md).
///
/// The table is generated from COVESA's own export (third_party/vss-5.0, MPL-2.0) into
/// `VSSSignals.generated.swift`, and split into a dictionary once, on first use.
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
    public static func entry(named name: String) -> Entry? { entries[name] }

    /// Every signal (not branch) name, for "did you mean" hints.
    public static var signalNames: [String] { signalNameList }

    /// Whether `name` is the profile author's own: `Vehicle.Private` or below.
    public static func isPrivate(_ name: String) -> Bool {
        name == privateBranch || name.hasPrefix(privateBranch + ".")
    }

    private static let entries: [String: Entry] = {
        var entries: [String: Entry] = [:]
        for line in VSSSignalTable.lines.split(separator: "\n") {
            let fields = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            precondition(fields.count == 5, "VSSSignals.generated.swift: malformed line \(line)")
            let kind: Entry.Kind = switch fields[1] {
            case "b": .branch
            case "s": .sensor
            case "a": .actuator
            default: .attribute
            }
            entries[fields[0]] = Entry(
                name: fields[0], kind: kind, unit: fields[2],
                deprecation: fields[4].isEmpty ? nil : fields[4], replacement: fields[3].isEmpty ? nil : fields[3])
        }
        return entries
    }()

    private static let signalNameList: [String] = entries.values.filter { $0.kind != .branch }.map(\.name).sorted()
}
