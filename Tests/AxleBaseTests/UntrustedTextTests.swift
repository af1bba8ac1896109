import AxleBase
import Testing

@Suite("untrusted text made safe for logs and terminals")
struct UntrustedTextTests {
    @Test("a forged journald line stays on the line it came in")
    func newlineAndPriority() {
        let forged = "abc\n<0>axled: FAKE EMERGENCY"
        let shown = UntrustedText.printable(forged)
        #expect(shown == "abc\\n<0>axled: FAKE EMERGENCY")
        #expect(!shown.contains("\n"))
    }

    @Test("terminal escape sequences, C1 controls, DEL and bidirectional overrides are shown, not obeyed", arguments: [
        ("\u{1B}]0;owned\u{07}", "\\x1b]0;owned\\x07"),
        ("\u{1B}[2J\u{1B}[H", "\\x1b[2J\\x1b[H"),
        ("a\u{9B}31mb", "a\\x9b31mb"),
        ("x\u{7F}\r\t", "x\\x7f\\r\\t"),
        ("\u{202E}gpj.exe", "\\u{202E}gpj.exe"),
        ("line\u{2028}break", "line\\u{2028}break"),
        ("zero\u{200B}width", "zero\\u{200B}width"),
    ])
    func controls(_ text: String, _ expected: String) {
        #expect(UntrustedText.printable(text) == expected)
        #expect(!UntrustedText.printable(text).unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }

    @Test("ordinary text, including non-ASCII letters, passes unchanged, and escaping twice changes nothing")
    func ordinaryAndIdempotent() {
        for text in ["trunk.open", "Geschwindigkeit 12 km/h", "車両", "C:\\path", "🚗"] {
            #expect(UntrustedText.printable(text) == text)
        }
        let once = UntrustedText.printable("a\n\u{1B}b")
        #expect(UntrustedText.printable(once) == once)
    }

    @Test("quoting escapes quotes and backslashes so the value reads back unambiguously")
    func quoting() {
        #expect(UntrustedText.quoted("say \"hi\"\\n\n") == #""say \"hi\"\\n\n""#)
        #expect(UntrustedText.quoted("") == "\"\"")
    }

    @Test("a huge value is cut after the limit and its full size is given")
    func cut() {
        let huge = String(repeating: "v", count: 10 * 1024 * 1024)
        let shown = UntrustedText.quoted(huge)
        #expect(shown == "\"" + String(repeating: "v", count: 64) + "…(10485760 bytes)\"")
        #expect(UntrustedText.quoted("short", limit: 5) == "\"short\"")
        #expect(UntrustedText.quoted("é\u{1B}xyz", limit: 2) == "\"é\\x1b…(6 bytes)\"")
    }
}
