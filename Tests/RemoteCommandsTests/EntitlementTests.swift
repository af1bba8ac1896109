import RemoteCommands
import Testing

@Suite("Entitlements")
struct EntitlementTests {
    @Test func desiredStateFollowsTheValidityWindow() {
        let window = Entitlement(feature: "f", validFromMillis: 10_000, validUntilMillis: 20_000, commandID: "c", state: .pending)
        #expect(window.desiredState(nowMillis: 9_999) == .pending)
        #expect(window.desiredState(nowMillis: 10_000) == .active)
        #expect(window.desiredState(nowMillis: 19_999) == .active)
        #expect(window.desiredState(nowMillis: 20_000) == .expired)

        let forever = Entitlement(feature: "f", commandID: "c", state: .active, activeSeconds: 1e9)
        #expect(forever.desiredState(nowMillis: .max) == .active)
        let fromOnly = Entitlement(feature: "f", validFromMillis: 50, commandID: "c")
        #expect(fromOnly.desiredState(nowMillis: 49) == .pending)
        #expect(fromOnly.desiredState(nowMillis: 1_000_000_000) == .active)
        let untilOnly = Entitlement(feature: "f", validUntilMillis: 50, commandID: "c", state: .active, activeSeconds: 1e6)
        #expect(untilOnly.desiredState(nowMillis: 49) == .active)
        #expect(untilOnly.desiredState(nowMillis: 50) == .expired)
    }

    @Test func revokedAndExpiredAreFinal() {
        var entitlement = Entitlement(feature: "f", validFromMillis: 0, validUntilMillis: 100_000, commandID: "c", state: .revoked)
        #expect(entitlement.desiredState(nowMillis: 50) == .revoked)
        entitlement.state = .expired
        // Even if the wall clock goes back into the window.
        #expect(entitlement.desiredState(nowMillis: 50) == .expired)
    }

    @Test func settingTheWallClockBackDoesNotExtendAFeature() {
        // Valid for 10 s; it has been active for 10 s on the monotonic clock, but the wall clock was set back
        // 1 minute, so by wall time it is only 0 s into its window.
        var entitlement = Entitlement(
            feature: "performance-boost", validFromMillis: 100_000, validUntilMillis: 110_000, commandID: "c",
            state: .active, activeSeconds: 9.9)
        #expect(entitlement.desiredState(nowMillis: 100_000) == .active)
        entitlement.activeSeconds = 10
        #expect(entitlement.desiredState(nowMillis: 100_000) == .expired)
    }
}
