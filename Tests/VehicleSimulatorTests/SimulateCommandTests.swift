import CANFrames
import DBC
import AxleTestSupport
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
        let directory = try AxleProcess.makeTemporaryDirectory()
        let arguments = [
            "simulate", "--dbc", Fixtures.demoSedanPath, "--profile", "demo-sedan", "--scenario", "crash",
            "--duration", "50", "--seed", "3", "--start", "1767225600",
        ]
        let first = try AxleProcess.run(arguments + ["--out", directory + "/first.log"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("simulated 50 s of crash (demo-sedan, seed 3):"))
        #expect(first.stderr.contains("frames written to \(directory)/first.log"))
        let second = try AxleProcess.run(arguments + ["--out", directory + "/second.log"])
        #expect(second.status == 0)

        let text = AxleProcess.readText(directory + "/first.log")
        #expect(AxleProcess.readText(directory + "/second.log") == text)
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
        let result = try AxleProcess.run([
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
        let both = try AxleProcess.run(base + ["--scenario", "parked", "--out", "/tmp/x.log", "--to", "vcan0"])
        #expect(both.status == 64)
        #expect(both.stderr.contains("exactly one of --to INTERFACE and --out FILE"))
        let scenario = try AxleProcess.run(base + ["--scenario", "rally", "--out", "-"])
        #expect(scenario.status == 64)
        #expect(scenario.stderr.contains("city-drive") && scenario.stderr.contains("cargo-warming"))
        let speed = try AxleProcess.run(base + ["--scenario", "parked", "--out", "-", "--speed", "fast"])
        #expect(speed.status == 64)
        let profile = try AxleProcess.run([
            "simulate", "--dbc", Fixtures.demoSedanPath, "--profile", "fleet-truck-j1939", "--scenario", "parked", "--out", "-",
        ])
        #expect(profile.status == 1)
        #expect(profile.stderr.contains("does not fit"))
    }
}
