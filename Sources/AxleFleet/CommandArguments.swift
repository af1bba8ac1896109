import AxleBase
import RemoteCommands

/// The `k=v` words after a command's name, turned into its parameters.
///
/// A value is a number when it reads as a finite decimal number (`21.5`, `-3`, `1e3`), a bool when it is `true` or
/// `false`, and a string otherwise; wrap it in double quotes (`code='"0042"'` in a shell) to keep digits a string.
public enum CommandParameterText {
    /// The most parameters a command may carry (the envelope's limit, docs/commands.md).
    public static let maximumCount = 32

    /// Parses every word; the error names the word and says how to write it.
    public static func parse(_ words: [String]) throws(FleetError) -> [String: CommandValue] {
        var parameters: [String: CommandValue] = [:]
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw FleetError.usage(
                    "'\(word)' is not a parameter: write NAME=VALUE, such as temperature=21.5 or enabled=true")
            }
            let name = String(word[..<equals])
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw FleetError.usage(
                    "parameter name '\(name)' in '\(word)': use letters, digits, '.', '_' and '-' only")
            }
            guard parameters[name] == nil else {
                throw FleetError.usage("parameter '\(name)' is given twice; give each parameter once")
            }
            parameters[name] = value(String(word[word.index(after: equals)...]))
        }
        guard parameters.count <= maximumCount else {
            throw FleetError.usage("\(parameters.count) parameters; a command takes at most \(maximumCount)")
        }
        return parameters
    }

    /// The value of one `k=v` word's right-hand side.
    public static func value(_ text: String) -> CommandValue {
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            return .string(String(text.dropFirst().dropLast()))
        }
        // Double() also reads "nan", "inf" and hexadecimal floats; only plain decimal numbers count as numbers.
        if let first = text.unicodeScalars.first, "0123456789+-.".unicodeScalars.contains(first),
            !text.contains(where: { "xXpP".contains($0) }), let number = Double(text), number.isFinite
        {
            return .number(number)
        }
        return .string(text)
    }
}

/// Durations written as on a command line: Axle's one duration syntax (`500ms`, `30s`, `2m` or `2min`, `24h`, `7d`:
/// `DurationSyntax`), where a bare number is seconds.
public enum DurationText {
    /// Milliseconds, or nil when `text` is not a positive duration.
    public static func milliseconds(_ text: String) -> Int64? {
        guard let seconds = DurationSyntax.seconds(in: text, bareNumberIsSeconds: true) else { return nil }
        let millis = (seconds * 1000).rounded()
        guard millis >= 1, millis < 1e15 else { return nil }
        return Int64(millis)
    }

    /// Milliseconds, or a usage error that names the option and shows the accepted forms.
    public static func parse(_ text: String, option: String) throws(FleetError) -> Int64 {
        guard let millis = milliseconds(text) else {
            throw FleetError.usage(
                "\(option) '\(UntrustedText.printable(text.prefix(UntrustedText.defaultLimit)))' is not a duration: write "
                    + "\(DurationSyntax.forms), above 0 (a bare number is seconds)")
        }
        return millis
    }
}

/// The MQTT topics `axle-fleet` uses for one vehicle (docs/mqtt.md, docs/commands.md).
public struct FleetTopics: Sendable, Equatable {
    /// Such as "axle/v1", without a trailing slash.
    public var prefix: String
    /// One topic level; `+` only for watching.
    public var vehicle: String

    /// Checks the prefix and the vehicle id; `allowWildcard` lets the vehicle be `+` (watch).
    public init(prefix: String, vehicle: String, allowWildcard: Bool = false) throws(FleetError) {
        let prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        if prefix.isEmpty || prefix.hasPrefix("/") || prefix.contains(where: { "+#".contains($0) }) {
            throw FleetError.usage("--topic-prefix '\(prefix)' is not usable: give levels such as 'axle/v1', with no '+', '#' or leading '/'")
        }
        let wildcard = allowWildcard && vehicle == "+"
        if !wildcard, vehicle.isEmpty || vehicle.contains(where: { "/+#".contains($0) }) || vehicle.utf8.count > 128 {
            throw FleetError.usage(
                "--vehicle '\(vehicle)' is not a vehicle id: give 1-128 characters without '/', '+' or '#'"
                    + (allowWildcard ? " (or '+' for every vehicle)" : ""))
        }
        self.prefix = prefix
        self.vehicle = vehicle
    }

    /// `{prefix}/{vehicle}`.
    public var base: String { "\(prefix)/\(vehicle)" }
    /// Where command requests go.
    public var commandRequests: String { "\(base)/cmd/req" }
    /// Where MQTT 3.1.1 vehicles answer (MQTT 5 vehicles answer to the request's Response Topic).
    public var commandResponses: String { "\(base)/cmd/res" }
    /// A private response topic for one invocation: `{prefix}/{vehicle}/cmd/res/{token}`.
    public func responseTopic(token: String) -> String { "\(commandResponses)/\(token)" }
    /// Everything the vehicle (or every vehicle) publishes.
    public var everything: String { "\(base)/#" }

    /// 16 random lowercase hex digits: a response topic no other invocation listens on.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
