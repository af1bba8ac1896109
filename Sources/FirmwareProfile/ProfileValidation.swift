import TOML

/// The outcome of checking a profile folder: the profile when it has no errors, and every problem found.
public struct ProfileValidationReport: Sendable {
    /// The folder as given.
    public var directory: String
    /// The loaded profile; nil when there is any error.
    public var profile: FirmwareProfile?
    /// Errors and warnings, `profile.toml` first, then the DBC files, each by line.
    public var problems: [TOMLProblem]

    public init(directory: String, profile: FirmwareProfile?, problems: [TOMLProblem]) {
        self.directory = directory
        self.profile = profile
        self.problems = problems
    }

    public var errors: [TOMLProblem] { problems.filter { !$0.isWarning } }
    public var warnings: [TOMLProblem] { problems.filter(\.isWarning) }
    public var isValid: Bool { profile != nil && errors.isEmpty }
}

/// A profile that cannot be used: every problem, each as `path:line: error: message`, one per line.
public struct ProfileValidationError: Error, Sendable, CustomStringConvertible {
    public var directory: String
    /// Errors and warnings, in the report's order.
    public var problems: [TOMLProblem]

    public init(directory: String, problems: [TOMLProblem]) {
        self.directory = directory
        self.problems = problems
    }

    public var errors: [TOMLProblem] { problems.filter { !$0.isWarning } }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
