import ConfigBundle
import Synchronization

/// The vehicle's latest configuration report (docs/configuration.md, "The state report"), written by the
/// configuration service and read by the control socket's threads (`axle config`, `axle status`).
final class ConfigurationReportBoard: Sendable {
    private let latest = Mutex<ConfigurationReport?>(nil)

    init() {}

    /// nil until the configuration service has read its store at start.
    var current: ConfigurationReport? { latest.withLock { $0 } }

    func publish(_ report: ConfigurationReport) {
        latest.withLock { $0 = report }
    }
}
