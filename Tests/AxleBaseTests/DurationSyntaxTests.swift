import AxleBase
import Testing

@Suite("one duration syntax")
struct DurationSyntaxTests {
    @Test("every unit, fractions and a space before the unit", arguments: [
        ("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("5min", 300.0), ("2h", 7200.0), ("1d", 86_400.0),
        ("1.5h", 5400.0), (".5s", 0.5), (" 10 s ", 10.0), ("0s", 0.0), ("-5s", -5.0),
    ])
    func accepted(_ text: String, _ seconds: Double) {
        #expect(DurationSyntax.seconds(in: text) == seconds, "\(text)")
    }

    @Test("what is not a duration", arguments: ["", "5", "s", "5 minutes", "5sec", "+5s", "1e3s", "inf s", "nans", "5.5.5s", "5ss", "5mS"])
    func refused(_ text: String) {
        #expect(DurationSyntax.seconds(in: text) == nil, "\(text)")
    }

    @Test("a bare number is seconds only where asked for (command-line options)")
    func bareNumbers() {
        #expect(DurationSyntax.seconds(in: "30", bareNumberIsSeconds: true) == 30)
        #expect(DurationSyntax.seconds(in: "30") == nil)
        #expect(DurationSyntax.seconds(perUnit: "min") == 60 && DurationSyntax.seconds(perUnit: "sec") == nil)
    }
}
