import AgentCore
import Outbox
import Testing

@testable import AxleAgent

/// The drainer's copy of the outbox's classes (`RecordClass`, AgentCore) must stay the same as `PriorityClass`: the
/// adapter converts by raw value, and draining order is raw-value order.
@Suite struct DrainerAdapterTests {
    @Test func recordClassMatchesPriorityClassCaseForCase() {
        #expect(RecordClass.allCases.map(\.rawValue) == PriorityClass.allCases.map(\.rawValue))
        #expect(RecordClass.allCases.map(\.description) == PriorityClass.allCases.map(\.description))
        for priority in PriorityClass.allCases {
            #expect(PriorityClass(RecordClass(priority)) == priority)
        }
    }

    @Test func theDrainSettingsCarryTheUplinkPolicy() {
        var policy = UplinkPolicy.standard
        policy.window = 7
        policy.awsIoTCompatible = true
        let settings = DrainSettings(policy, acknowledgementTimeoutSeconds: 12, housekeepingSeconds: 3)
        #expect(settings.window == 7)
        #expect(settings.qosAtMostOne)
        #expect(settings.publishIntervalSeconds[.bulk] == 60, "bulk goes out once a minute by default")
        #expect(settings.publishIntervalSeconds[.critical] == 0)
        #expect(settings.acknowledgementTimeoutSeconds == 12)
        #expect(settings.housekeepingSeconds == 3)
    }
}
