import AxleBase

/// The vehicle's configuration state: the result of `config`, and the `configuration` member of `status`.
///
/// The document is the configuration report the agent publishes on `…/config/state` (docs/configuration.md, "The
/// state report"), carried as it is: ConfigBundle's `ConfigurationReport` alone names and reads its members, so that
/// what `axle config` shows and what the backend reads can never differ. This target does not import ConfigBundle
/// (the control socket's clients need no cryptography); `axle` reads the document with `ConfigurationReport.parse`.
public struct ConfigurationState: Sendable, Equatable {
    /// The report's JSON object; nil when the agent has no report yet (its configuration service has not read its
    /// store).
    public var report: JSONValue?

    public init(report: JSONValue?) {
        self.report = report
    }

    /// The report as sent on the socket: its object, or `{}` when there is none (a report always has `active`; a
    /// response's result cannot be null).
    public func toJSON() -> JSONValue { report ?? .object([]) }

    /// Reads the result of `config`: the report's object, or `{}` (or null) for none.
    public init(json: JSONValue) throws(ControlDecodingError) {
        if json.isNull || json == .object([]) {
            report = nil
            return
        }
        // Checks that it is an object; its members are the report's to read.
        _ = try JSONObjectReader(json)
        report = json
    }
}
