import AxleBase
import AxleTestSupport
import ConfigBundle
import FirmwareProfile
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import AxleAgent

/// A staged profile runs only when it validates as `axle profile validate` says and stays within axled.toml's
/// allow-list (by default, what the installed profile has): real profile folders, the demo sedan's copied and edited.
@Suite("staged profile check")
struct StagedProfileCheckTests {
    static let demo = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan"

    /// The demo sedan, installed as `axled --profile` names it.
    let installed: FirmwareProfile

    init() throws {
        installed = try ProfileLoader.load(directory: Self.demo)
    }

    /// A copy of the demo sedan with `edit` applied to its profile.toml, in a new directory removed when `body` ends.
    private func staged<T>(_ edit: (String) -> String, _ body: (String) throws -> T) throws -> T {
        let parent = try makeTestDirectory(prefix: "axle-staged")
        defer { removeTree(parent) }
        // The folder is named after the profile, as the loader requires (the agent finds profiles by folder).
        let directory = parent + "/demo-sedan"
        #expect(mkdir(directory, 0o755) == 0)
        _ = try AxleProcess.writeFile(directory + "/demo_sedan.dbc", AxleProcess.readText(Self.demo + "/demo_sedan.dbc"))
        let original = AxleProcess.readText(Self.demo + "/profile.toml")
        let edited = edit(original)
        #expect(edited != original, "the edit must change the profile")
        _ = try AxleProcess.writeFile(directory + "/profile.toml", edited)
        return try body(directory)
    }

    private func check(
        settings: ConfigurationUpdateSettings = ConfigurationUpdateSettings(), _ edit: (String) -> String
    ) throws -> Result<FirmwareProfile, StagedProfileProblem> {
        try staged(edit) { directory in
            StagedProfileCheck.check(
                directory: directory, installed: installed, allowList: ProfileAllowList(settings: settings, installed: installed))
        }
    }

    /// The problem of a refused check, or a recorded issue.
    private func refusal(_ result: Result<FirmwareProfile, StagedProfileProblem>) -> StagedProfileProblem? {
        if case .failure(let problem) = result { return problem }
        Issue.record("the staged profile must be refused")
        return nil
    }

    private static func appending(_ text: String) -> (String) -> String { { $0 + "\n" + text + "\n" } }

    @Test("the installed profile's allow-list: its commands and features, the ids they write, the services it polls")
    func defaults() {
        let list = ProfileAllowList(settings: ConfigurationUpdateSettings(), installed: installed)
        #expect(list.commands == [
            "trunk.open", "doors.lock", "doors.unlock", "climate.precondition", "climate.stop", "charging.start",
            "charging.stop", "performance-boost", "heated-seats",
        ])
        // TrunkCommand 0x200, LockCommand 0x201, ClimateCommand 0x202, ChargingCommand 0x203, FeatureCommand 0x210,
        // and the engine ECU's request id 0x7E0.
        #expect(list.writeIDs == [0x200, 0x201, 0x202, 0x203, 0x210, 0x7E0])
        // PIDs (0x01), the MIL (0x01), stored and pending codes (0x03, 0x07).
        #expect(list.diagnosticServices == [0x01, 0x03, 0x07])
        #expect(list.buses == ["body"])
    }

    @Test("a new collection rule passes, and the staged profile comes back with it")
    func newRulePasses() throws {
        let result = try check(Self.appending("""
            [[rules]]
            name = "speed-fast"
            signals = ["Vehicle.Speed"]
            periodic = "100ms"
            """))
        let profile = try result.get()
        #expect(profile.rules.contains { $0.name == "speed-fast" })
    }

    @Test("a new command definition is not allowed, and the problem names it with its line")
    func newCommandFails() throws {
        let problem = refusal(try check(Self.appending("""
            [commands."horn.sound"]
            message = "TrunkCommand"
            set = { TrunkOpenRequest = 1 }
            """)))
        #expect(problem?.failure == .notAllowed)
        #expect(problem?.text.contains(#"the command "horn.sound" is not allowed"#) == true, "\(problem?.text ?? "")")
        // Named as the sender knows the file: relative to the profile, not in the vehicle's staging folder.
        #expect(problem?.text.contains("): profile.toml:") == true, "\(problem?.text ?? "")")
        // Only the command: the CAN id it writes (TrunkCommand's) is one the vehicle writes already.
        #expect(problem?.text.contains("CAN id") == false, "\(problem?.text ?? "")")
    }

    @Test("a known command made to write a new CAN id is not allowed, and the problem names the id")
    func newWriteIDFails() throws {
        let problem = refusal(try check {
            $0.replacing(
                "[commands.\"charging.stop\"]\nmessage = \"ChargingCommand\"\nset = { ChargingRequest = \"Stop\" }",
                with: "[commands.\"charging.stop\"]\nmessage = \"EngineStatus\"\nset = { EngineSpeed = 0 }")
        })
        #expect(problem?.failure == .notAllowed)
        #expect(problem?.text.contains(#"the command "charging.stop" (message EngineStatus) would write the CAN id 0x100"#) == true, "\(problem?.text ?? "")")
    }

    @Test("a new diagnostic service is not allowed: UDS fault codes (0x19) of a new ECU, and its request id")
    func newDiagnosticServiceFails() throws {
        let problem = refusal(try check(Self.appending("""
            [diagnostics.ecus.bms]
            protocol = "uds"
            request-id = 0x7E4
            response-id = 0x7EC
            faults = "10s"
            """)))
        #expect(problem?.failure == .notAllowed)
        #expect(problem?.text.contains(#"fault polling of the ECU "bms" would use the diagnostic service 0x19 (UDS ReadDTCInformation)"#) == true, "\(problem?.text ?? "")")
        #expect(problem?.text.contains("would write the CAN id 0x7E4") == true, "\(problem?.text ?? "")")
    }

    @Test("a renamed bus is not allowed: buses are the vehicle's wiring")
    func renamedBusFails() throws {
        let problem = refusal(try check { $0.replacing("[buses.body]", with: "[buses.chassis]") })
        #expect(problem?.failure == .notAllowed)
        #expect(problem?.text.contains("the buses chassis are not the installed profile's (body)") == true, "\(problem?.text ?? "")")
    }

    @Test("a syntax error fails as invalid, with the file and line axle profile validate gives")
    func syntaxErrorIsInvalid() throws {
        let lines = AxleProcess.readText(Self.demo + "/profile.toml").split(separator: "\n", omittingEmptySubsequences: false).count
        try staged(Self.appending("this is = = not TOML")) { directory in
            let result = StagedProfileCheck.check(
                directory: directory, installed: installed,
                allowList: ProfileAllowList(settings: ConfigurationUpdateSettings(), installed: installed))
            let problem = self.refusal(result)
            #expect(problem?.failure == .invalid)
            // The same problems as `axle profile validate` on the folder, with the file named relative to it.
            let validation = ProfileLoader.validate(directory: directory)
            let first = try #require(validation.errors.first)
            #expect("\(first)".hasPrefix("\(directory)/profile.toml:\(lines + 1)"), "\(first)")
            let relative = String("\(first)".dropFirst(directory.count + 1))
            #expect(problem?.text.contains("): " + relative) == true, "\(problem?.text ?? "")")
            #expect(problem?.text.contains(directory) == false, "\(problem?.text ?? "")")
        }
    }

    @Test("an allow-list in axled.toml wider than the installed profile lets the addition through, and a narrower one refuses what the installed profile has")
    func explicitAllowList() throws {
        var wider = ConfigurationUpdateSettings()
        wider.allowedCommands = ProfileAllowList.commandNames(of: installed).map(\.name) + ["horn.sound"]
        let addition = Self.appending("""
            [commands."horn.sound"]
            message = "TrunkCommand"
            set = { TrunkOpenRequest = 1 }
            """)
        #expect(try check(settings: wider, addition).get().commands.contains { $0.name == "horn.sound" })

        var narrower = ConfigurationUpdateSettings()
        narrower.allowedDiagnosticServices = [0x01]
        let problem = refusal(try check(settings: narrower, Self.appending("# an unchanged profile")))
        #expect(problem?.text.contains("0x03 (OBD-II stored fault codes)") == true, "\(problem?.text ?? "")")
        #expect(problem?.text.contains("[configuration] allow-diagnostic-services (0x01)") == true, "\(problem?.text ?? "")")
    }
}
