import AxleBase
import Testing
import TOML

@Suite("TOML checked reader")
struct TOMLTableReaderTests {
    func reader(_ text: String) throws -> (TOMLTableReader, TOMLProblems) {
        let problems = TOMLProblems()
        let document = try TOMLDocument.parse(text, path: "agent.toml")
        return (TOMLTableReader(table: document.root, path: "agent.toml", problems: problems, context: "agent.toml"), problems)
    }

    @Test("typed values are read, and absent optional keys are nil without a problem")
    func typedValues() throws {
        let (root, problems) = try reader("""
            [uplink]
            host = "broker.example"
            port = 8883
            ratio = 1
            jitter = 0.25
            tls = true
            topics = ["a", "b"]
            """)
        let uplink = try #require(root.table("uplink"))
        #expect(uplink.string("host") == "broker.example")
        #expect(uplink.int("port") == 8883)
        #expect(uplink.double("ratio") == 1, "an integer is a number")
        #expect(uplink.double("jitter") == 0.25)
        #expect(uplink.bool("tls") == true)
        #expect(uplink.stringArray("topics") == ["a", "b"])
        #expect(uplink.string("username") == nil)
        root.finish()
        #expect(problems.isEmpty, "\(problems.all)")
    }

    @Test("a missing required key is reported at the table's line")
    func missingRequired() throws {
        let (root, problems) = try reader("\n[uplink]\nport = 1\n")
        let uplink = try #require(root.table("uplink"))
        #expect(uplink.string("host", required: true) == nil)
        _ = uplink.int("port")
        root.finish()
        #expect(problems.all.map(\.description) == ["agent.toml:2: error: missing required key 'host' in [uplink]"])
    }

    @Test("type errors say what was expected and what was found, at the value's line")
    func typeErrors() throws {
        let (root, problems) = try reader("""
            host = 1883
            port = "1883"
            count = 2.0
            tls = "yes"
            topics = ["a", 2]
            radius = "500m"
            section = 3
            """)
        _ = root.string("host")
        _ = root.int("port")
        _ = root.int("count")
        _ = root.bool("tls")
        _ = root.stringArray("topics")
        _ = root.double("radius")
        _ = root.table("section")
        root.finish()
        #expect(problems.all.map(\.description) == [
            "agent.toml:1: error: 'host' in agent.toml must be a string, found the integer 1883",
            "agent.toml:2: error: 'port' in agent.toml must be an integer, found the string \"1883\"",
            "agent.toml:3: error: 'count' in agent.toml must be an integer (write 2 without '.0'), found the float 2.0",
            "agent.toml:4: error: 'tls' in agent.toml must be true or false, found the string \"yes\"",
            "agent.toml:5: error: element 2 of 'topics' in agent.toml must be a string, found the integer 2",
            "agent.toml:6: error: 'radius' in agent.toml must be a number, found the string \"500m\"",
            "agent.toml:7: error: 'section' in agent.toml must be a table, found the integer 3",
        ])
    }

    @Test("keys and values from the file are shown escaped and cut short in messages")
    func untrustedTextInMessages() throws {
        let longKey = String(repeating: "k", count: 100_000)
        let (root, problems) = try reader("""
            "\\u001b]0;owned\\u0007" = 1
            \(longKey) = 2
            count = "\\u001b[2J"
            """)
        _ = root.int("count")
        root.finish()
        let messages = problems.errors.map(\.description)
        #expect(messages.count == 3, "\(messages)")
        #expect(!messages.contains { $0.unicodeScalars.contains { $0.value < 0x20 } }, "no control characters: \(messages)")
        #expect(messages.contains { $0.hasPrefix("agent.toml:1: error: unknown key '\\x1b]0;owned\\x07'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("agent.toml:2: error: unknown key '\(String(repeating: "k", count: 64))…(100000 bytes)'") && $0.utf8.count < 1000 }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("agent.toml:3: error: 'count' in agent.toml must be an integer, found the string \"\\x1b[2J\"") }, "\(messages)")
    }

    @Test("durations: units from ms to days (m and min both minutes), plain numbers are seconds, junk and negatives are reported")
    func durations() throws {
        let (root, problems) = try reader("""
            a = "250ms"
            b = "10s"
            c = "5min"
            d = "2h"
            e = "1d"
            f = 30
            g = 1.5
            h = "1.5s"
            bad = "10 parsecs"
            minutes = "5m"
            negative = "-1s"
            """)
        #expect(root.duration("a") == 0.25)
        #expect(root.duration("b") == 10)
        #expect(root.duration("c") == 300)
        #expect(root.duration("d") == 7200)
        #expect(root.duration("e") == 86_400)
        #expect(root.duration("f") == 30)
        #expect(root.duration("g") == 1.5)
        #expect(root.duration("h") == 1.5)
        #expect(root.duration("bad") == nil)
        #expect(root.duration("minutes") == 300, "m and min are minutes, as everywhere in Axle (DurationSyntax)")
        #expect(root.duration("negative") == nil)
        #expect(problems.errors.map(\.line) == [9, 11])
        #expect(problems.errors[0].message.contains("must be a duration, \(DurationSyntax.forms), found the string \"10 parsecs\""))
        #expect(problems.errors[1].message == "'negative' in agent.toml must not be negative")
    }

    @Test("byte sizes: binary and decimal units, plain integers are bytes")
    func byteSizes() throws {
        let (root, problems) = try reader("""
            a = "512KiB"
            b = "256MiB"
            c = "1GiB"
            d = "10MB"
            e = 4096
            f = "1.5GiB"
            bad = "lots"
            """)
        #expect(root.byteSize("a") == 524_288)
        #expect(root.byteSize("b") == 268_435_456)
        #expect(root.byteSize("c") == 1_073_741_824)
        #expect(root.byteSize("d") == 10_000_000)
        #expect(root.byteSize("e") == 4096)
        #expect(root.byteSize("f") == 1_610_612_736)
        #expect(root.byteSize("bad") == nil)
        #expect(problems.errors.count == 1)
        #expect(problems.errors.first?.line == 7)
    }

    @Test("finish reports every key nothing read, with the known keys and a suggestion for typos")
    func unknownKeys() throws {
        let (root, problems) = try reader("""
            [uplink]
            host = "x"
            prot = 1
            stale_after = "1s"

            [[rules]]
            name = "a"
            periodc = "1s"
            """)
        if let uplink = root.table("uplink") {
            _ = uplink.string("host")
            _ = uplink.int("port")
            _ = uplink.duration("stale-after")
        }
        for rule in root.tableArray("rules", context: "[rules]") {
            _ = rule.string("name")
            _ = rule.duration("periodic")
        }
        root.finish()
        #expect(problems.all.map(\.description) == [
            "agent.toml:3: error: unknown key 'prot' in [uplink] (did you mean 'port'?); known keys: host, port, stale-after",
            "agent.toml:4: error: unknown key 'stale_after' in [uplink] (did you mean 'stale-after'?); known keys: host, port, stale-after",
            "agent.toml:8: error: unknown key 'periodc' in [rules] #1 (did you mean 'periodic'?); known keys: name, periodic",
        ])
    }

    @Test("unknown top-level sections are reported too, and finish is idempotent")
    func unknownSection() throws {
        let (root, problems) = try reader("[uplnk]\nhost = 1\n")
        _ = root.table("uplink")
        root.finish()
        root.finish()
        #expect(problems.all.count == 1)
        #expect(problems.all.first?.message == "unknown key 'uplnk' in agent.toml (did you mean 'uplink'?); known keys: uplink")
    }

    @Test("arrays of tables accept [[headers]] and arrays of inline tables; other elements are reported")
    func tableArrays() throws {
        let (root, problems) = try reader("""
            circles = [ { r = 1 }, { r = 2 }, 3 ]
            [[rules]]
            r = 4
            """)
        let circles = root.tableArray("circles", context: "circle")
        #expect(circles.compactMap { $0.int("r") } == [1, 2])
        #expect(circles.map(\.context) == ["circle #1", "circle #2"])
        #expect(root.tableArray("rules").compactMap { $0.int("r") } == [4])
        root.finish()
        #expect(problems.all.map(\.description) == ["agent.toml:1: error: element 3 of 'circles' in agent.toml must be a table, found the integer 3"])
    }

    @Test("problem descriptions: warnings, whole-file problems, columns")
    func problemDescriptions() {
        #expect(TOMLProblem(path: "p.toml", line: 3, message: "m", isWarning: true).description == "p.toml:3: warning: m")
        #expect(TOMLProblem(path: "p.toml", line: 0, message: "m").description == "p.toml: error: m")
        #expect(TOMLProblem(path: "x.dbc", line: 3, column: 7, message: "m").description == "x.dbc:3:7: error: m")
        let problems = TOMLProblems()
        problems.warning(path: "p", line: 1, "w")
        #expect(!problems.isEmpty && !problems.hasErrors)
        problems.error(path: "p", line: 2, "e")
        #expect(problems.errors.count == 1 && problems.warnings.count == 1)
    }
}
