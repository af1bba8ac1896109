import AxleTestSupport
import CommandStore
import RemoteCommands
import Testing

@Suite("Entitlement store")
struct EntitlementStoreTests {
    @Test func entitlementsRoundTripAndSurviveReopening() throws {
        let directory = try TestDirectory()
        do {
            let store = EntitlementStore(journal: try CommandJournal(path: directory.databasePath))
            try store.grant(Entitlement(
                feature: "performance-boost", validFromMillis: 1000, validUntilMillis: 86_401_000, commandID: "a"))
            try store.grant(Entitlement(feature: "heated-seats", commandID: "b"))
            try store.setState(feature: "performance-boost", .active)
            try store.addActiveSeconds(feature: "performance-boost", 1.5)
            try store.addActiveSeconds(feature: "performance-boost", 2.25)
        }
        let store = EntitlementStore(journal: try CommandJournal(path: directory.databasePath))
        let all = try store.all()
        #expect(all == [
            Entitlement(feature: "heated-seats", commandID: "b", state: .pending, activeSeconds: 0),
            Entitlement(
                feature: "performance-boost", validFromMillis: 1000, validUntilMillis: 86_401_000, commandID: "a",
                state: .active, activeSeconds: 3.75),
        ])
        // A new grant replaces the feature's row, active time included.
        try store.grant(Entitlement(feature: "performance-boost", validUntilMillis: 5000, commandID: "c"))
        #expect(try store.all().first { $0.feature == "performance-boost" }?.commandID == "c")
        #expect(try store.all().first { $0.feature == "performance-boost" }?.activeSeconds == 0)
        #expect(throws: CommandJournalError.self) { try store.setState(feature: "unknown", .revoked) }
    }
}
