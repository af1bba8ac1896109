import AxleBase
import Synchronization

/// Severity of a log line; journald reads the `<N>` prefix (sd-daemon(3)) as the priority.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case error = 3, warning = 4, notice = 5, info = 6, debug = 7

    public init?(name: String) {
        switch name.lowercased() {
        case "error": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    /// More severe levels are smaller: a line is written when its level is at most the configured one.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One-line structured log records on standard error: `<6>uplink: connected session_present=true`.
/// journald keeps the priority; a terminal shows the text as is.
///
/// Every record is exactly one line: control characters in the text (a newline, ESC) are written as visible escapes
/// (`UntrustedText.printable`), because parts of it may come from outside — an unsigned command's id could otherwise
/// start a new journald record with a priority of its choosing, or drive the terminal of whoever reads the log.
public final class AgentLog: Sendable {
    public let level: LogLevel
    private let output: Mutex<TextOutput?>

    public init(level: LogLevel) {
        self.level = level
        self.output = Mutex(TextOutput.standardError())
    }

    /// Also handed every warning and error, whatever the level (the status report's "last errors").
    private let problems = Mutex<(@Sendable (String, String) -> Void)?>(nil)

    public var onProblem: (@Sendable (_ component: String, _ text: String) -> Void)? {
        get { problems.withLock { $0 } }
        set { problems.withLock { $0 = newValue } }
    }

    public func callAsFunction(_ messageLevel: LogLevel, _ component: String, _ text: String) {
        let isProblem = messageLevel <= .warning
        guard isProblem || messageLevel <= level else { return }
        let component = UntrustedText.printable(component)
        let text = UntrustedText.printable(text)
        // The status report shows these to `axle status`: escaped like the log line.
        if isProblem, let sink = problems.withLock({ $0 }) { sink(component, text) }
        guard messageLevel <= level else { return }
        output.withLock { $0?.write("<\(messageLevel.rawValue)>\(component): \(text)\n") }
    }

    /// A closure for components that log at one level.
    public func writer(_ messageLevel: LogLevel, _ component: String) -> @Sendable (String) -> Void {
        { text in self(messageLevel, component, text) }
    }
}
