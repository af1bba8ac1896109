/// A request the collection engine cannot carry out: what was asked, and what would work instead.
public struct CollectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure; codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unknownRule
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No collection rule or event of the profile has the given name.
        public static let unknownRule = Code(.unknownRule)

        public var description: String {
            switch base {
            case .unknownRule: "unknown rule"
            }
        }
    }

    public let code: Code
    /// The name that was asked for.
    public let name: String
    /// Every rule and event name of the profile, in profile order.
    public let knownNames: [String]
    /// The profile the engine runs.
    public let profile: String

    public init(_ code: Code, name: String, knownNames: [String], profile: String) {
        self.code = code
        self.name = name
        self.knownNames = knownNames
        self.profile = profile
    }

    public var description: String {
        let known = knownNames.isEmpty ? "it has none" : "it has: \(knownNames.joined(separator: ", "))"
        return "profile \(profile) has no collection rule or event named \"\(name)\"; \(known) "
            + "(the names of the rules and events in its profile.toml)"
    }
}
