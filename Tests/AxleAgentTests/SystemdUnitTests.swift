import AxleBase
import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `systemd-analyze`, if installed (scripts/setup.sh installs the `systemd` package).
private let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { (path: String) in
    access(path, X_OK) == 0
}
private let skipWithoutSystemdAnalyze = "systemd-analyze is not installed: run scripts/setup.sh (Debian package systemd)"

/// The files under Systemd/ as an integrator installs them: systemd accepts the unit and rates its sandbox, the unit
/// keeps what the agent needs (notify, watchdog, CAN and netlink sockets), and `make install` puts everything in place.
/// None of this needs a running systemd.
@Suite struct SystemdUnitTests {
    static let systemdFolder = AxleProcess.packageRoot + "/Systemd"
    static let builtBinaries = directoryOf(AxleProcess.builtExecutable("axled"))

    // MARK: systemd's own checks

    @Test(.enabled(if: systemdAnalyze != nil, Comment(rawValue: skipWithoutSystemdAnalyze)))
    func systemdAnalyzeVerifyAcceptsTheUnit() throws {
        let unit = try UnitUnderTest(binaryDirectory: Self.builtBinaries)
        defer { unit.cleanUp() }
        let complaints = try unit.verify()
        #expect(complaints == [], "systemd-analyze verify \(unit.path) complained about Systemd/axled.service")
    }

    @Test(.enabled(if: systemdAnalyze != nil, Comment(rawValue: skipWithoutSystemdAnalyze)))
    func verifyWouldCatchABrokenUnit() throws {
        // The check above is only worth something if verify's complaints about our unit reach it.
        let unit = try UnitUnderTest(binaryDirectory: "/nonexistent/bin", extraServiceLines: ["RestartSecs=5s"])
        defer { unit.cleanUp() }
        let complaints = try unit.verify()
        #expect(complaints.contains { $0.contains("/nonexistent/bin/axled") }, "\(complaints)")
        #expect(complaints.contains { $0.contains("RestartSecs") }, "\(complaints)")
    }

    @Test(.enabled(if: systemdAnalyze != nil, Comment(rawValue: skipWithoutSystemdAnalyze)))
    func sandboxExposureIsAtMostTwo() throws {
        let unit = try UnitUnderTest(binaryDirectory: Self.builtBinaries)
        defer { unit.cleanUp() }
        let result = try ChildProcess.run(systemdAnalyze!, ["security", "--offline=yes", unit.path])
        let marker = "Overall exposure level for axled.service:"
        let scoreLine = result.output.split(separator: "\n").first { $0.contains(marker) }
        let score = scoreLine.flatMap { line in
            line[line.firstRange(of: marker)!.upperBound...].split(separator: " ").first.flatMap { Double($0) }
        }
        let exposed = result.output.split(separator: "\n").filter { $0.hasPrefix("✗") }.joined(separator: "\n")
        let found = try #require(score, "no exposure score in the output of systemd-analyze security:\n\(result.output)" as Comment)
        #expect(found <= 2.0, "Systemd/axled.service exposes too much (\(found) > 2.0); settings it lacks:\n\(exposed)")
    }

    // MARK: What the agent relies on

    @Test func unitKeepsWhatTheAgentNeeds() throws {
        let unit = try UnitFile(path: Self.systemdFolder + "/axled.service")
        // READY=1 and WATCHDOG=1 only count with Type=notify, and only from the main process.
        #expect(unit["Service", "Type"] == ["notify"])
        #expect(unit["Service", "NotifyAccess"] == ["main"])
        #expect(unit["Service", "WatchdogSec"].count == 1)
        #expect(unit["Service", "Restart"] == ["on-failure"])
        #expect(unit["Service", "ExecStart"] == ["@BINDIR@/axled --config /etc/axle/axled.toml"])
        // A stable owner for the socket group and the outbox files: the sysusers user, not a dynamic one.
        #expect(unit["Service", "User"] == ["axle"])
        #expect(unit["Service", "Group"] == ["axle"])
        #expect(unit["Service", "DynamicUser"].allSatisfy { $0 == "no" })
        #expect(unit["Service", "StateDirectory"] == ["axle"])
        #expect(unit["Service", "RuntimeDirectory"] == ["axle"])
        // Group members must be able to reach /run/axle/axled.sock, others not.
        let runtimeMode = unit["Service", "RuntimeDirectoryMode"].last.flatMap { Int($0, radix: 8) } ?? 0o755
        #expect(runtimeMode & 0o050 == 0o050)
        #expect(runtimeMode & 0o007 == 0)
        // Without these families the agent cannot read CAN, reach the broker or follow the network.
        let families = Set(unit["Service", "RestrictAddressFamilies"].flatMap { $0.split(separator: " ").map(String.init) })
        #expect(families.isSuperset(of: ["AF_UNIX", "AF_INET", "AF_INET6", "AF_CAN", "AF_NETLINK"]), "\(families)")
        // A private network namespace has no can0.
        #expect(unit["Service", "PrivateNetwork"].allSatisfy { $0 == "no" })
        #expect(unit["Service", "CapabilityBoundingSet"] == [""])
        #expect(unit["Service", "AmbientCapabilities"] == [""])
    }

    @Test func sysusersCreatesTheUserTheUnitRunsAs() throws {
        let lines = try UnitFile.meaningfulLines(Self.systemdFolder + "/axle.sysusers")
        #expect(lines.contains { $0.split(separator: " ").prefix(2) == ["u", "axle"] }, "\(lines)")
        let tmpfiles = try UnitFile.meaningfulLines(Self.systemdFolder + "/axle.tmpfiles")
        #expect(tmpfiles.contains { $0.split(separator: " ", omittingEmptySubsequences: true) == ["d", "/etc/axle", "0750", "root", "axle", "-"] })
    }

    @Test func networkdExamplesConfigureClassicAndFDBuses() throws {
        let classic = try UnitFile(path: Self.systemdFolder + "/80-can0.network")
        #expect(classic["Match", "Name"] == ["can0"])
        #expect(classic["CAN", "BitRate"] == ["500000"])
        #expect(classic["CAN", "RestartSec"].count == 1)
        #expect(classic["CAN", "FDMode"].allSatisfy { $0 == "no" })
        let fd = try UnitFile(path: Self.systemdFolder + "/81-can1-fd.network")
        #expect(fd["Match", "Name"] == ["can1"])
        #expect(fd["CAN", "FDMode"] == ["yes"])
        #expect(fd["CAN", "BitRate"] == ["500000"])
        #expect(fd["CAN", "DataBitRate"] == ["2000000"])
        #expect(fd["CAN", "RestartSec"].count == 1)
    }

    @Test func sysctlLetsTheCANReceiveBuffersTakeEffect() throws {
        let settings = try UnitFile.meaningfulLines(Self.systemdFolder + "/90-axle-can.conf").map {
            $0.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
        }
        let rmemMax = settings.first { $0.first == "net.core.rmem_max" }?.last.flatMap { Int($0) }
        // The agent asks for 1 MiB per CAN socket (Sources/CSocketCAN/shim.c); the kernel caps it at rmem_max.
        #expect((rmemMax ?? 0) >= 1 << 20, "\(settings)")
    }

    // MARK: make install

    @Test func makeInstallPutsEveryFileInPlace() throws {
        let root = try makeTestDirectory(prefix: "axle-install")
        defer { removeTree(root) }
        // BUILD_DIR: install the binaries this test run already built instead of building release ones.
        let install = try ChildProcess.run(
            "/usr/bin/make",
            ["-C", AxleProcess.packageRoot, "install", "DESTDIR=\(root)", "PREFIX=/usr", "BUILD_DIR=\(Self.builtBinaries)"],
            timeoutSeconds: 120)
        try #require(install.status == 0, "make install failed:\n\(install.output)")

        for program in ["axle", "axled"] {
            #expect(access(root + "/usr/bin/" + program, X_OK) == 0, "/usr/bin/\(program) is not installed")
        }
        let unit = try UnitFile(path: root + "/usr/lib/systemd/system/axled.service")
        // The unit names the binary where it will be at run time, not in the staging root.
        #expect(unit["Service", "ExecStart"] == ["/usr/bin/axled --config /etc/axle/axled.toml"])
        for path in [
            "/usr/lib/sysusers.d/axle.conf", "/usr/lib/tmpfiles.d/axle.conf", "/usr/lib/sysctl.d/90-axle-can.conf",
            "/usr/share/axle/examples/80-can0.network", "/usr/share/axle/examples/81-can1-fd.network",
            "/usr/share/axle/profiles/demo-sedan/demo_sedan.dbc",
            "/usr/share/axle/profiles/fleet-truck-j1939/fleet_truck_j1939.dbc",
        ] {
            #expect(access(root + path, R_OK) == 0, "\(path) is not installed")
        }
        if access(AxleProcess.packageRoot + "/docs/axled.example.toml", R_OK) == 0 {
            #expect(
                AxleProcess.readText(root + "/usr/share/axle/axled.toml.example")
                    == AxleProcess.readText(AxleProcess.packageRoot + "/docs/axled.example.toml"))
        }

        let uninstall = try ChildProcess.run(
            "/usr/bin/make", ["-C", AxleProcess.packageRoot, "uninstall", "DESTDIR=\(root)", "PREFIX=/usr"])
        #expect(uninstall.status == 0, "\(uninstall.output)")
        #expect(access(root + "/usr/bin/axled", F_OK) != 0)
        #expect(access(root + "/usr/lib/systemd/system/axled.service", F_OK) != 0)
        #expect(access(root + "/usr/share/axle", F_OK) != 0)
    }

    /// Root only: sysusers and tmpfiles write /etc/passwd and chown files inside the image.
    @Test(.enabled(if: geteuid() == 0 && access("/usr/bin/systemd-sysusers", X_OK) == 0
        && access("/usr/bin/systemd-tmpfiles", X_OK) == 0, "needs root and systemd-sysusers/systemd-tmpfiles"))
    func installedImageGetsTheUserAndAPrivateConfigDirectory() throws {
        let root = try makeTestDirectory(prefix: "axle-image")
        defer { removeTree(root) }
        let install = try ChildProcess.run(
            "/usr/bin/make",
            ["-C", AxleProcess.packageRoot, "install", "DESTDIR=\(root)", "PREFIX=/usr", "BUILD_DIR=\(Self.builtBinaries)"],
            timeoutSeconds: 120)
        try #require(install.status == 0, "make install failed:\n\(install.output)")
        mkdir(root + "/etc", 0o755)
        // What the first boot of the image does: create users, then directories, from the installed snippets.
        let sysusers = try ChildProcess.run("/usr/bin/systemd-sysusers", ["--root=\(root)"])
        try #require(sysusers.status == 0, "\(sysusers.output)")
        let tmpfiles = try ChildProcess.run("/usr/bin/systemd-tmpfiles", ["--root=\(root)", "--create", "axle.conf"])
        try #require(tmpfiles.status == 0, "\(tmpfiles.output)")

        let group = AxleProcess.readText(root + "/etc/group").split(separator: "\n").first { $0.hasPrefix("axle:") }
        let groupID = try #require(group.flatMap { $0.split(separator: ":", omittingEmptySubsequences: false)[2] }.flatMap { UInt32($0) })
        #expect(AxleProcess.readText(root + "/etc/passwd").split(separator: "\n").contains { $0.hasPrefix("axle:") })
        var status = stat()
        try #require(stat(root + "/etc/axle", &status) == 0, "/etc/axle was not created")
        #expect(status.st_mode & 0o7777 == 0o750)
        #expect(status.st_uid == 0)
        #expect(status.st_gid == groupID)
    }
}

/// The unit with @BINDIR@ filled in, in a directory of its own (systemd names the unit after the file).
private struct UnitUnderTest {
    let directory: String
    var path: String { directory + "/axled.service" }

    init(binaryDirectory: String, extraServiceLines: [String] = []) throws {
        directory = try makeTestDirectory(prefix: "axle-unit")
        var text = AxleProcess.readText(SystemdUnitTests.systemdFolder + "/axled.service")
        try #require(text.contains("@BINDIR@/axled"), "Systemd/axled.service does not start @BINDIR@/axled")
        text = text.replacing("@BINDIR@", with: binaryDirectory)
        if !extraServiceLines.isEmpty {
            text = text.replacing("[Service]\n", with: "[Service]\n" + extraServiceLines.joined(separator: "\n") + "\n")
        }
        try AxleProcess.writeFile(path, text)
    }

    /// What `systemd-analyze verify` says about this unit. Lines about other units are left out: a container may lack
    /// standard units or have broken ones, which says nothing about ours.
    func verify() throws -> [String] {
        let result = try ChildProcess.run(systemdAnalyze!, ["verify", "--man=no", "--generators=no", path])
        let lines = result.output.split(separator: "\n").map(String.init)
        // "Unit sysinit.target not found." is about the machine: our unit only names standard targets.
        return lines.filter { line in
            (line.hasPrefix(path) || line.hasPrefix("axled.service:")) && !line.hasSuffix("not found.")
        }
    }

    func cleanUp() { removeTree(directory) }
}

/// An INI-style systemd file (unit, .network): values by section and key, in order, comments left out.
private struct UnitFile {
    private var entries: [(section: String, key: String, value: String)] = []

    init(path: String) throws {
        var section = ""
        for line in try Self.meaningfulLines(path) {
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                entries.append((section, line[..<equals].trimmingSpaces, line[line.index(after: equals)...].trimmingSpaces))
            }
        }
    }

    /// Every value given to `key` in `section`.
    subscript(section: String, key: String) -> [String] {
        entries.filter { $0.section == section && $0.key == key }.map(\.value)
    }

    /// The file's lines without blank lines and comments; throws when it cannot be read.
    static func meaningfulLines(_ path: String) throws -> [String] {
        let text = String(decoding: try FileInput.readAll(path: path), as: UTF8.self)
        return text.split(separator: "\n").map { $0.trimmingSpaces }.filter {
            !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix(";")
        }
    }
}

private func directoryOf(_ path: String) -> String {
    String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    fileprivate var trimmingSpaces: String { self[...].trimmingSpaces }
}
