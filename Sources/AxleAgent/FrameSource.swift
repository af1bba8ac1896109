import AxleBase
import CANFrames
import DBC
import VehicleSimulator

#if canImport(Glibc)
import Glibc
#endif

/// Produces frames for the recorder on the source thread: the simulated vehicle or a candump replay.
/// `next()` returns nil when the source has ended (a replay's end, a simulation's duration).
protocol FrameSource {
    mutating func next(into frames: inout [CANFrame]) throws -> Bool
}

/// The in-process simulated vehicle, paced against the monotonic clock (or as fast as possible).
struct SimulatedSource: FrameSource {
    private var simulator: VehicleSimulator
    private let speed: Double?
    private let duration: Double?
    private let wallStart = monotonicSeconds()
    private var simulated = 0.0
    /// Simulated seconds per step: small when paced, so frames flow steadily; large when running flat out.
    private let step: Double

    init(database: DBCDatabase, scenario: String, profileName: String, speed: Double?, duration: Double?, startUnixSeconds: Double) throws {
        guard let scenario = Scenario(rawValue: scenario) else {
            throw AgentConfigurationError("unknown scenario '\(scenario)'; choose one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let profile = SimulatorProfile.builtIn(named: profileName) else {
            throw AgentConfigurationError("the simulator has no vehicle for profile '\(profileName)'; it has \(SimulatorProfile.builtIn.map(\.name).joined(separator: ", "))")
        }
        let seconds = startUnixSeconds.rounded(.down)
        let start = CANTimestamp(seconds: Int64(seconds), nanoseconds: UInt32((startUnixSeconds - seconds) * 1e9), fractionDigits: 6)
        do {
            simulator = try VehicleSimulator(database: database, scenario: scenario, profile: profile, start: start)
        } catch {
            throw AgentConfigurationError("the simulated vehicle cannot run: \(error)")
        }
        self.speed = speed
        self.duration = duration
        self.step = speed == nil ? 1 : 0.02
    }

    mutating func next(into frames: inout [CANFrame]) throws -> Bool {
        if let duration, simulated >= duration { return false }
        simulated += step
        if let duration { simulated = min(simulated, duration) }
        if let speed { sleep(untilMonotonic: wallStart + simulated / speed) }
        frames.append(contentsOf: simulator.advance(to: simulated))
        return true
    }
}

/// A candump log, at its recorded pace times `speed` (or as fast as possible). Malformed lines are counted and
/// skipped, never fatal.
struct ReplaySource: FrameSource {
    private let reader: CandumpReader
    private var pacer: ReplayPacer
    private(set) var malformedLines = 0
    private let log: @Sendable (String) -> Void

    init(path: String, speed: Double?, log: @escaping @Sendable (String) -> Void) throws {
        do {
            reader = try CandumpReader(path: path)
        } catch {
            throw AgentConfigurationError("cannot read the replay log \(error)")
        }
        pacer = ReplayPacer(speed: speed)
        self.log = log
    }

    mutating func next(into frames: inout [CANFrame]) throws -> Bool {
        // Up to 256 frames per call, so that the caller can check for shutdown between batches.
        for _ in 0..<256 {
            guard let entry = try reader.next() else { return !frames.isEmpty }
            switch entry {
            case .frame(let frame):
                pacer.wait(until: frame.timestamp.timeInterval)
                frames.append(frame)
            case .malformed(let line, let error):
                malformedLines += 1
                if malformedLines <= 10 { log("\(reader.path):\(line): skipped: \(error)") }
            }
        }
        return true
    }
}
