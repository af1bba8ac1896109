import ArgumentParser
import AxleBase
import CANBus
import CANFrames
import DBC
import VehicleSimulator

#if canImport(Glibc)
import Glibc
#endif

/// `axle simulate`: a simulated vehicle, to a candump log or a live SocketCAN interface.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Produce realistic CAN traffic from a DBC and a driving scenario.",
        discussion: """
            Every message of the DBC is sent at its cycle time (GenMsgCycleTime, else 100 ms), with rolling \
            counters and checksums; signals the profile maps follow the scenario, the others keep their start value.

            Profiles: \(SimulatorProfile.builtIn.map(\.name).joined(separator: ", ")) (for \
            Firmware-Profiles/demo-sedan/demo_sedan.dbc and \
            Firmware-Profiles/fleet-truck-j1939/fleet_truck_j1939.dbc).

            Scenarios:
            \(Scenario.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n"))

            With --out, frames go to a candump log, as fast as possible unless --speed is given. With --to, they go \
            to a SocketCAN interface in real time, and command frames heard there (a trunk-open or lock request) \
            change what the vehicle reports after a short delay. See docs/simulator.md.
            """
    )

    @Option(help: ArgumentHelp("The DBC file.", valueName: "file"))
    var dbc: String

    @Option(help: ArgumentHelp("How the DBC's signals map to the vehicle: \(SimulatorProfile.builtIn.map(\.name).joined(separator: " or ")).", valueName: "name"))
    var profile: String

    @Option(help: ArgumentHelp("What the vehicle does: \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var scenario: String

    @Option(help: ArgumentHelp("Send to this SocketCAN interface in real time and react to commands heard on it.", valueName: "interface"))
    var to: String?

    @Option(help: ArgumentHelp("Write a candump log to this file ('-' for standard output).", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Seconds of simulated time (default: 60 with --out; until interrupted with --to).", valueName: "seconds"))
    var duration: Double?

    @Option(help: "Speed factor such as 1 or 10, or 'max' (default: max with --out, 1 with --to).")
    var speed: String?

    @Option(help: "Seed for sensor noise and timing jitter: the same seed gives the same frames.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Unix time of the first frame, such as 1767225600 (default: now).", valueName: "seconds"))
    var start: Double?

    @Option(help: ArgumentHelp("Interface name written in the log.", valueName: "name"))
    var interface: String = "can0"

    @Flag(name: .customLong("ignore-commands"), help: "With --to: hear command frames but never act on them (a vehicle that does not answer, for testing a sender's timeout).")
    var ignoreCommands = false

    func validate() throws {
        if (to == nil) == (out == nil) { throw ValidationError("give exactly one of --to INTERFACE and --out FILE") }
        if SimulatorProfile.builtIn(named: profile) == nil {
            throw ValidationError("unknown profile '\(profile)'; choose \(SimulatorProfile.builtIn.map(\.name).joined(separator: " or "))")
        }
        if Scenario(rawValue: scenario) == nil {
            throw ValidationError("unknown scenario '\(scenario)'; choose one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration takes a positive number of seconds") }
        if let speed, speed != "max", Double(speed).map({ $0 > 0 && $0.isFinite }) != true {
            throw ValidationError("--speed takes a positive factor such as 1, 10 or 0.5, or 'max'")
        }
        if let start, !(start >= 0 && start < 1e11) { throw ValidationError("--start takes a Unix time in seconds, such as 1767225600") }
    }

    func run() throws {
        let database = try loadDatabase(dbc)
        let profile = SimulatorProfile.builtIn(named: self.profile)!
        let scenario = Scenario(rawValue: self.scenario)!
        var simulator: VehicleSimulator
        do {
            simulator = try VehicleSimulator(
                database: database, scenario: scenario, profile: profile, seed: seed, start: startTimestamp(),
                interface: to ?? interface)
        } catch {
            throw CLIError(error.description)
        }
        let stderr = TextOutput.standardError()
        for warning in simulator.warnings { stderr.write("axle simulate: warning: \(warning)\n") }
        // nil: as fast as possible.
        let factor: Double? = (speed ?? (to == nil ? "max" : "1")) == "max" ? nil : Double(speed ?? "1")
        if let out {
            let (frames, seconds) = try writeLog(&simulator, to: out, duration: duration ?? 60, factor: factor)
            stderr.write("simulated \(Self.readable(seconds)) s of \(scenario.rawValue) (\(profile.name), seed \(seed)): \(frames) frames written to \(out == "-" ? "standard output" : out)\n")
        } else if let to {
            try drive(&simulator, interface: to, database: database, duration: duration, factor: factor)
        }
        if simulator.unencodableFrames > 0 {
            stderr.write("axle simulate: \(simulator.unencodableFrames) frames could not be encoded and were left out (a bug: please report it with the DBC)\n")
        }
    }

    /// Writes the simulation to a candump log; returns the frames written and the seconds simulated.
    private func writeLog(_ simulator: inout VehicleSimulator, to path: String, duration: Double, factor: Double?) throws -> (Int, Double) {
        var writer = path == "-" ? nil : try RotatingLogWriter(path: path, maximumBytes: .max, keep: 0)
        let standardOutput = path == "-" ? TextOutput() : nil
        let wallStart = monotonicSeconds()
        var written = 0
        var now = 0.0
        var bytes: [UInt8] = []
        while now < duration {
            // Paced output goes out in small steps so that a reader (tail -f) sees a steady stream.
            now = min(now + (factor == nil ? 1 : 0.02), duration)
            if let factor { sleep(untilMonotonic: wallStart + now / factor) }
            bytes.removeAll(keepingCapacity: true)
            for frame in simulator.advance(to: now) {
                CandumpFormat.append(frame, to: &bytes)
                bytes.append(0x0A)
                written += 1
            }
            if let standardOutput {
                standardOutput.write(bytes: bytes)
                if factor != nil { standardOutput.flush() }
            } else {
                try writer?.write(bytes)
            }
        }
        standardOutput?.flush()
        try writer?.close()
        return (written, now)
    }

    /// Sends the simulation to a live interface in real time (scaled by `factor`) and feeds command frames heard
    /// there back to the simulator.
    private func drive(_ simulator: inout VehicleSimulator, interface: String, database: DBCDatabase, duration: Double?, factor: Double?) throws {
        let socket = try openSocket(interface, enableFD: false)
        var filters: [CANFilter] = []
        for command in simulator.profile.commands {
            guard let message = database.message(named: command.message) else { continue }
            let filter = message.isJ1939 ? CANFilter.j1939(pgn: message.pgn) : CANFilter.exact(id: message.id, isExtended: message.isExtended)
            if !filters.contains(filter) { filters.append(filter) }
        }
        // The engine ECU answers diagnostic requests heard on the bus (its own id and OBD-II's functional 0x7DF).
        if let request = simulator.profile.diagnostics?.obdRequestID {
            filters += [CANFilter.exact(id: request, isExtended: false), CANFilter.exact(id: 0x7DF, isExtended: false)]
        }
        do {
            try socket.setFilters(filters)
        } catch {
            throw CLIError(error.description)
        }
        let stderr = TextOutput.standardError()
        stderr.write("simulating \(simulator.scenario.rawValue) (\(simulator.profile.name)) on \(interface): \(simulator.messages.count) messages; listening for \(filters.count) command messages\(duration == nil ? "; Ctrl-C stops" : "")\n")
        let wallStart = monotonicSeconds()
        var batch = CANSocket.Batch()
        var sent = 0
        while true {
            var now = factor.map { (monotonicSeconds() - wallStart) * $0 } ?? (simulator.nextFrameTime ?? simulator.time + 0.1)
            let finished = duration.map { now >= $0 } ?? false
            if let duration { now = min(now, duration) }
            for frame in simulator.advance(to: now) {
                do {
                    try socket.send(frame)
                } catch {
                    throw CLIError(error.description)
                }
                sent += 1
            }
            if finished { break }
            // Wait for the next frame due, but no longer than 20 ms, so that commands are picked up promptly.
            var wait: Int32 = 0
            if let factor, let next = simulator.nextFrameTime {
                wait = Int32(min(max(((next - now) / factor * 1000).rounded(.up), 0), 20))
            }
            do {
                try socket.receive(timeoutMilliseconds: wait, into: &batch)
            } catch {
                throw CLIError(error.description)
            }
            for frame in batch.frames where !ignoreCommands {
                for action in simulator.receive(frame) {
                    stderr.write("\(Self.readable(simulator.time)) s: \(CandumpFormat.frameText(frame)) → \(action.rawValue) in \(Self.readable(simulator.profile.reactionDelay)) s\n")
                }
            }
        }
        stderr.write("simulated \(Self.readable(simulator.time)) s: \(sent) frames sent to \(interface)\n")
    }

    private func startTimestamp() -> CANTimestamp {
        if let start {
            let seconds = start.rounded(.down)
            return CANTimestamp(seconds: Int64(seconds), nanoseconds: UInt32(((start - seconds) * 1e6).rounded()) * 1000)
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return CANTimestamp(seconds: Int64(now.tv_sec), nanoseconds: UInt32(now.tv_nsec / 1000 * 1000))
    }

    /// Seconds with at most three decimals: `60`, `12.345`.
    static func readable(_ seconds: Double) -> String {
        let milliseconds = (seconds * 1000).rounded()
        if milliseconds.truncatingRemainder(dividingBy: 1000) == 0 { return String(Int64(milliseconds / 1000)) }
        return String(milliseconds / 1000)
    }
}
