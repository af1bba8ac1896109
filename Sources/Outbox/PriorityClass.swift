/// How important a record is: the outbox drains the most important class first and evicts the least important first.
///
/// Lower raw values are more important, so `<` orders classes in draining order (`critical` first).
public enum PriorityClass: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case critical = 0
    case alert = 1
    case telemetry = 2
    case bulk = 3

    /// The class's name in configuration files, statistics and the technician CLI.
    public var description: String {
        switch self {
        case .critical: "critical"
        case .alert: "alert"
        case .telemetry: "telemetry"
        case .bulk: "bulk"
        }
    }

    /// The class with this name ("critical", "alert", "telemetry", "bulk"; any letter case), or nil.
    public init?(name: String) {
        let lowered = name.lowercased()
        guard let match = PriorityClass.allCases.first(where: { $0.description == lowered }) else { return nil }
        self = match
    }

    public static func < (lhs: PriorityClass, rhs: PriorityClass) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// How hard an append's commit is pushed to storage: `normal` (SQLite `synchronous=NORMAL`: an application crash
/// loses nothing, a power cut may lose the last commits) or `full` (`synchronous=FULL`: every commit is fsynced).
public enum Durability: Sendable {
    case normal
    case full
}
