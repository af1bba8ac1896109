/// The one way to write a duration in Axle, in every file and on every command line: a number and a unit, `250ms`,
/// `30s`, `5m` or `5min`, `2h`, `1d`, fractions allowed (`1.5h`). axled's configuration, firmware profiles (their
/// TOML values and their conditions) and axle-fleet's options all read durations here, so that what one accepts the
/// others accept, and all say the same thing about what they refuse (`DurationSyntax.forms`).
public enum DurationSyntax {
    /// Each unit and its length in seconds.
    public static let units: [(name: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("min", 60), ("h", 3600), ("d", 86_400),
    ]

    /// What a duration looks like, for error messages: "… is not a duration: write \(forms)".
    public static let forms = "a number with ms, s, m (or min), h or d, such as 250ms, 30s, 5m, 2h or 1d"

    /// Seconds per `unit`, nil for a word that is no duration unit.
    public static func seconds(perUnit unit: some StringProtocol) -> Double? {
        units.first { $0.name == unit }?.seconds
    }

    /// Seconds in `text` (surrounding whitespace ignored, a space between number and unit allowed); nil when it is not
    /// a duration. A number without a unit is seconds only when `bareNumberIsSeconds` (command-line options such as
    /// `--ttl 30`); in files a unit is required, so that `timeout = "5"` cannot mean five of something unsaid.
    /// Negative values parse (callers that refuse them say so in their own words); signs other than `-`, `inf` and
    /// `nan` do not.
    public static func seconds(in text: some StringProtocol, bareNumberIsSeconds: Bool = false) -> Double? {
        let trimmed = text.trimmedOfWhitespace()
        // The unit is the trailing run of letters: "5min" → "min", "250ms" → "ms".
        let unitStart = trimmed.lastIndex { !$0.isLetter }.map { trimmed.index(after: $0) } ?? trimmed.startIndex
        let unit = trimmed[unitStart...]
        let number = trimmed[..<unitStart].trimmedOfWhitespace()
        let scale: Double
        if unit.isEmpty {
            guard bareNumberIsSeconds else { return nil }
            scale = 1
        } else {
            guard let perUnit = seconds(perUnit: unit) else { return nil }
            scale = perUnit
        }
        guard let first = number.first, first.isNumber || first == "." || first == "-",
            number.dropFirst().allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number), value.isFinite
        else { return nil }
        return value * scale
    }
}
