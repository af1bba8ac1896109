import AxleBase
import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every refused setting of `axled` — each key of the configuration file (docs/axled.md) and each flag — is reported
/// where the person wrote it: `file:line` and the key, or the flag; with why and what is allowed; and a value echoed
/// back is escaped and cut short.
@Suite(.serialized)
struct ConfigurationErrorTests {
    /// One bad setting: in the file (`table` nil: a top-level key) or as flags.
    struct Case: Sendable, CustomTestStringConvertible {
        var table: String?
        var entry: String?
        var flags: [String] = []
        /// How the message must name the setting: the key as written (`max-inflight`), or the flag.
        var name: String
        var testDescription: String { entry.map { "\(table.map { "[\($0)] " } ?? "")\($0)" } ?? flags.joined(separator: " ") }
    }

    static func file(_ table: String?, _ entry: String, names name: String) -> Case {
        Case(table: table, entry: entry, name: name)
    }

    static func flags(_ flags: String...) -> Case {
        Case(flags: flags, name: flags[0].split(separator: "=")[0].description)
    }

    static let longPath = "/tmp/" + String(repeating: "s", count: 200)

    static let cases: [Case] = [
        file(nil, #"vehicle-id = "a/b""#, names: "vehicle-id"),
        file(nil, #"vehicle-id = """#, names: "vehicle-id"),
        file(nil, #"profile = "/nonexistent/profile""#, names: "profile"),
        file(nil, #"data-dir = """#, names: "data-dir"),
        file(nil, #"log-level = "verbose""#, names: "log-level"),
        file(nil, #"verbose = true"#, names: "verbose"),
        file("can", #"body = "can0/x""#, names: "body"),
        file("can", #"trunk = "can1""#, names: "trunk"),
        file("mqtt", #"broker = "mqtt://host:70000""#, names: "broker"),
        file("mqtt", #"broker = "http://host""#, names: "broker"),
        file("mqtt", #"broker = "mqtts://host:8883""#, names: "broker"),
        file("mqtt", #"brokr = "mqtt://host""#, names: "brokr"),
        file("mqtt", #"version = "4""#, names: "version"),
        file("mqtt", #"client-id = """#, names: "client-id"),
        file("mqtt", #"ca-file = "/nonexistent/ca.pem""#, names: "ca-file"),
        file("mqtt", #"cert-file = "/nonexistent/c.pem""#, names: "cert-file"),
        file("mqtt", #"topic-prefix = "a/+/b""#, names: "topic-prefix"),
        file("mqtt", #"keepalive = "1s""#, names: "keepalive"),
        file("mqtt", #"max-inflight = -5"#, names: "max-inflight"),
        file("mqtt", #"max-inflight = "twenty""#, names: "max-inflight"),
        file("mqtt", #"reconnect-base = "0s""#, names: "reconnect-base"),
        file("mqtt", #"reconnect-cap = "-1s""#, names: "reconnect-cap"),
        file("outbox", #"cap = "1KiB""#, names: "cap"),
        file("uplink", #"telemetry-batch = "0s""#, names: "telemetry-batch"),
        file("uplink", #"metered = "yes""#, names: "metered"),
        file("uplink", #"aws-iot = 1"#, names: "aws-iot"),
        file("uplink", #"payload-format = "xml""#, names: "payload-format"),
        file("control", #"socket = "\#(longPath)""#, names: "socket"),
        file("control", #"group = """#, names: "group"),
        file("location", #"gpsd = "gpsd host:2947""#, names: "gpsd"),
        file("location", #"gpsd = "127.0.0.1:0""#, names: "gpsd"),
        file("commands", #"trust-keys = ["missing.pub"]"#, names: "trust-keys"),
        file("commands", #"revoked-keys = [""]"#, names: "revoked-keys"),
        file("commands", #"max-lifetime = "0s""#, names: "max-lifetime"),
        file("commands", #"rate-limit = 0"#, names: "rate-limit"),
        file("commands", #"burst = 0"#, names: "burst"),

        flags("--vehicle-id", "a/b"),
        flags("--profile", "/nonexistent/profile"),
        flags("--log-level", "loud"),
        flags("--can", "body=can0/x"),
        flags("--can", "trunk=can1"),
        flags("--broker", "mqtt://host:0"),
        flags("--broker", "mqtts://host"),
        flags("--mqtt-version", "4"),
        flags("--client-id", "axled-\u{1B}]0;title\u{07}"),
        flags("--ca-file", "/nonexistent/ca.pem"),
        flags("--key-file", "/dev/null"),
        flags("--topic-prefix", "#"),
        flags("--max-inflight=-5"),
        flags("--max-inflight", "70000"),
        flags("--reconnect-base", "0"),
        flags("--reconnect-cap", "0.1"),
        flags("--outbox-cap", "0"),
        flags("--telemetry-batch", "0"),
        flags("--payload-format", "xml"),
        flags("--control-socket", longPath),
        flags("--trust-key", "/nonexistent/k.pub"),
        flags("--revoked-key", "ops\n<0>axled: FAKE EMERGENCY"),
        flags("--command-rate-limit", "0"),
        flags("--gpsd", "127.0.0.1:99999"),
    ]

    @Test("a bad setting is reported at file:line with its key, or with its flag", arguments: cases)
    func aBadSettingIsReportedWhereItWasWritten(_ bad: Case) throws {
        let directory = try makeTestDirectory(prefix: "axle-config")
        defer { removeTree(directory) }
        var arguments = ["--simulate", "city-drive"]
        // A folder of its own for the data and the socket, unless the case is about them (a flag would win over it).
        if !(bad.entry ?? "").hasPrefix("data-dir") { arguments += ["--data-dir", directory + "/data"] }
        if !(bad.entry ?? "").hasPrefix("socket") && !bad.flags.contains("--control-socket") {
            arguments += ["--control-socket", directory + "/axled.sock"]
        }
        var place = bad.name
        if let entry = bad.entry {
            // The key under test on the file's last line: line 1 at the top level, line 2 below its table's header.
            let text = (bad.table.map { "[\($0)]\n" } ?? "") + entry + "\n"
            let config = try AxleProcess.writeFile(directory + "/axled.toml", text)
            arguments += ["--config", config]
            place = "\(config):\(bad.table == nil ? 1 : 2)"
            if !entry.hasPrefix("profile") { arguments += ["--profile", AgentHarness.demoProfile] }
        } else {
            arguments += bad.flags
            if !bad.flags.contains("--profile") { arguments += ["--profile", AgentHarness.demoProfile] }
        }
        let agent = try ChildProcess(executable: AgentHarness.axled, arguments: arguments, stderrPath: directory + "/stderr")
        defer { agent.terminate(timeoutSeconds: 2) }
        let status = agent.wait(timeoutSeconds: 20)
        let stderr = AxleProcess.readText(directory + "/stderr")
        #expect(status == 1, "axled must refuse to start: \(stderr)")
        let lines = stderr.split(separator: "\n")
        let reported = lines.first { $0.hasPrefix("<3>axled: \(place): error: ") && $0.contains(bad.name) }
        #expect(reported != nil, "expected a line '\(place): error: …' naming \(bad.name):\n\(stderr)")
        // Why and what is allowed: more than the place and the value.
        #expect((reported?.count ?? 0) > "<3>axled: \(place): error: ".count + 40, "\(stderr)")
    }

    @Test("axled: max-inflight = -5, a 10 MB vehicle-id and a missing trust key file: exit 1, each at its line, output short")
    func theDaemonNamesThePlaceOfEachRefusedSetting() throws {
        let directory = try makeTestDirectory(prefix: "axle-config")
        defer { removeTree(directory) }
        let tenMegabytes = String(repeating: "v", count: 10 << 20)
        let config = try AxleProcess.writeFile(directory + "/axled.toml", """
            profile = "\(AgentHarness.demoProfile)"
            vehicle-id = "\(tenMegabytes)"

            [mqtt]
            max-inflight = -5

            [commands]
            trust-keys = [
                "keys/missing.pub",
            ]
            """)
        let agent = try ChildProcess(
            executable: AgentHarness.axled, arguments: ["--config", config, "--simulate", "city-drive"],
            stderrPath: directory + "/stderr")
        defer { agent.terminate(timeoutSeconds: 2) }
        #expect(agent.wait(timeoutSeconds: 30) == 1)
        let stderr = AxleProcess.readText(directory + "/stderr")
        #expect(stderr.utf8.count < 2000, "the 10 MB value must not be echoed: \(stderr.utf8.count) bytes")
        #expect(stderr.contains("<3>axled: \(config):2: error: vehicle-id = \"\(String(repeating: "v", count: 64))…(10485760 bytes)\""), "\(stderr.prefix(2000))")
        #expect(stderr.contains("<3>axled: \(config):5: error: [mqtt] max-inflight = -5 is outside 1 to 65535"), "\(stderr.prefix(2000))")
        #expect(!stderr.contains("maximumInflight"), "no internal field names: \(stderr.prefix(2000))")
        #expect(stderr.contains("<3>axled: \(config):9: error: [commands] trust-keys = \"keys/missing.pub\" cannot be used as a trust key: \(directory)/keys/missing.pub: No such file or directory"), "\(stderr.prefix(2000))")
    }
}
