/// How important a stored record is; lower raw values are more important, so `<` is draining order (`critical`
/// first). The agent core's copy of the outbox's `PriorityClass`, with the same cases and raw values.
///
/// A copy, not the outbox's type: `PriorityClass` lives in the `Outbox` target, which wraps SQLite, and the core must
/// not depend on a C library; moving it to a C-free target would change the type every user of the outbox names (the
/// CLI, the control socket, their tests) for the sake of four cases. The drainer's adapter in `AxleAgent` converts by
/// raw value, and a test there checks that the two enums still agree.
public enum RecordClass: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case critical = 0
    case alert = 1
    case telemetry = 2
    case bulk = 3

    /// The class's name, as the outbox and the configuration spell it.
    public var description: String {
        switch self {
        case .critical: "critical"
        case .alert: "alert"
        case .telemetry: "telemetry"
        case .bulk: "bulk"
        }
    }

    public static func < (lhs: RecordClass, rhs: RecordClass) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// Classes that may be sent: in metered mode (a roaming SIM, a costly plan) only critical and alert records.
    public static func sendable(metered: Bool) -> Set<RecordClass> {
        metered ? [.critical, .alert] : Set(RecordClass.allCases)
    }
}
