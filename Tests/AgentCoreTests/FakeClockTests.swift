import AgentCore
import Testing

@Suite struct FakeClockTests {
    @Test func bothReadingsAdvanceTogether() {
        let clock = FakeClock(monotonic: 10, wallMillis: 5_000)
        clock.advance(seconds: 1.5)
        #expect(clock.monotonicSeconds() == 11.5)
        #expect(clock.wallClockMillis() == 6_500)
    }

    @Test func systemClockMovesForward() {
        let clock = SystemClock()
        let first = clock.monotonicSeconds()
        #expect(clock.monotonicSeconds() >= first)
        #expect(clock.wallClockMillis() > 1_700_000_000_000)
    }
}
