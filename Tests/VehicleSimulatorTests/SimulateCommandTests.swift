import CANFrames
import DBC
import Testing
import VehicleSimulator

#if canImport(Glibc)
import Glibc
#endif

/// End to end: the built `axle simulate` writing candump logs, read back as a user would.
@Suite("axle simulate", .serialized)
struct SimulateCommandTests {
    @Test("--out writes a candump log of the scenario, the same for the same seed")
    func writesLog() throws {
        let directory = try AxleExecutable.temporaryDirectory()
        let arguments = [
            "simulate", "--dbc", Fixtures.demoSedanPath, "--profile", "demo-sedan", "--scenario", "crash",
            "--duration", "50", "--seed", "3", "--start", "1767225600",
        ]
        let first = try AxleExecutable.run(arguments + ["--out", directory + "/first.log"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("simulated 50 s of crash (demo-sedan, seed 3):"))
        #expect(first.stderr.contains("frames written to \(directory)/first.log"))
        let second = try AxleExecutable.run(arguments + ["--out", directory + "/second.log"])
        #expect(second.status == 0)

        let text = String(decoding: try AxleExecutable.read(directory + "/first.log"), as: UTF8.self)
        #expect(String(decoding: try AxleExecutable.read(directory + "/second.log"), as: UTF8.self) == text)
        let frames = try text.split(separator: "\n").map { try CandumpFormat.parse(line: String($0)) }
        #expect(frames.count > 6000)
        #expect(try #require(frames.first).timestamp.seconds == 1_767_225_600)
        #expect(Trace.seconds(try #require(frames.last).timestamp) <= 50)
        let trace = Trace(frames: frames, database: try Fixtures.demoSedan())
        #expect(trace.undecoded == 0)
        #expect(trace.every("CrashStatus.CrashDetected", to: 39.9) { $0 == 0 })
        #expect(trace.every("CrashStatus.CrashDetected", from: 40.1) { $0 == 1 })
        #expect(trace.every("VehicleMotion.VehicleSpeed", from: 43) { $0 == 0 })
    }

    @Test("--out - prints the log; the truck profile gives J1939 frames")
    func standardOutput() throws {
        let result = try AxleExecutable.run([
            "simulate", "--dbc", Fixtures.fleetTruckPath, "--profile", "fleet-truck-j1939", "--scenario", "cargo-warming",
            "--out", "-", "--duration", "2", "--start", "1767225600", "--interface", "can1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let frames = try result.stdout.split(separator: "\n").map { try CandumpFormat.parse(line: String($0)) }
        #expect(frames.count > 150 && frames.count < 200)
        #expect(frames.allSatisfy { $0.isExtended && $0.interface == "can1" })
        #expect(frames.contains { $0.id == 0x0CF0_0400 })
    }

    @Test("wrong arguments are usage errors that say what to do")
    func usageErrors() throws {
        let base = ["simulate", "--dbc", Fixtures.demoSedanPath, "--profile", "demo-sedan"]
        let both = try AxleExecutable.run(base + ["--scenario", "parked", "--out", "/tmp/x.log", "--to", "vcan0"])
        #expect(both.status == 64)
        #expect(both.stderr.contains("exactly one of --to INTERFACE and --out FILE"))
        let scenario = try AxleExecutable.run(base + ["--scenario", "rally", "--out", "-"])
        #expect(scenario.status == 64)
        #expect(scenario.stderr.contains("city-drive") && scenario.stderr.contains("cargo-warming"))
        let speed = try AxleExecutable.run(base + ["--scenario", "parked", "--out", "-", "--speed", "fast"])
        #expect(speed.status == 64)
        let profile = try AxleExecutable.run([
            "simulate", "--dbc", Fixtures.demoSedanPath, "--profile", "fleet-truck-j1939", "--scenario", "parked", "--out", "-",
        ])
        #expect(profile.status == 1)
        #expect(profile.stderr.contains("does not fit"))
    }
}

/// Runs the built `axle` executable, found next to the test bundle.
enum AxleExecutable {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var path: String {
        if let path = getenv("AXLE_BIN") { return String(cString: path) }
        var directory = CommandLine.arguments[0]
        while !directory.isEmpty, !directory.hasSuffix(".xctest"), directory != "/" {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        }
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) }
        return directory + "/axle"
    }

    static func run(_ arguments: [String]) throws -> Result {
        let directory = try temporaryDirectory()
        let command = ([path] + arguments).map(quote).joined(separator: " ")
            + " </dev/null >\(quote(directory + "/stdout")) 2>\(quote(directory + "/stderr"))"
        let status = system(command)
        return Result(
            status: (status >> 8) & 0xFF,
            stdout: String(decoding: try AxleExecutable.read(directory + "/stdout"), as: UTF8.self),
            stderr: String(decoding: try AxleExecutable.read(directory + "/stderr"), as: UTF8.self))
    }

    /// The whole file at `path` (the target does not depend on AxleBase's `FileInput`).
    static func read(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw ReadError(path: path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    struct ReadError: Error {
        var path: String
    }

    static func quote(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/axle-simulate-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
}
