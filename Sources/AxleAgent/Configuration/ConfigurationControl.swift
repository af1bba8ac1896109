import AgentControl
import ConfigBundle

extension AgentControlService {
    /// `config` (`axle config`) and the `configuration` member of `status`: the configuration service's latest report,
    /// the document it publishes on `…/config/state`.
    func configurationState() -> ConfigurationState {
        ConfigurationState(report: configurationReports.current?.json)
    }
}
