import Foundation
import Testing
@testable import FirmwareProfile

@Suite("catalog range policy")
struct RangePolicyTests {
    @Test("range is \"check\" by default, \"ignore\" when written, and anything else is an error naming both")
    func rangePolicy() throws {
        let fixture = try ProfileFixture(fixtureHead.replacingOccurrences(
            of: #""Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }"#,
            with: #""Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h", range = "ignore" }"#))
        defer { fixture.remove() }
        let report = fixture.validate()
        let profile = try #require(report.profile, "\(summary(report))")
        #expect(profile.catalog.first { $0.name == "Vehicle.Speed" }?.range == .ignore)
        #expect(profile.catalog.first { $0.name == "Vehicle.Powertrain.Transmission.CurrentGear" }?.range == .check)

        let found = try problems(of: fixtureHead.replacingOccurrences(
            of: #""Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }"#,
            with: #""Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h", range = "off" }"#))
        #expect(found == [
            #"profile.toml:10: error: 'range' of "Vehicle.Speed" is "off"; write "check" (the default: values outside the DBC's range and J1939's not-available and error values are not readings) or "ignore" (every value is a reading)"#,
        ])
    }
}
