import AxleBase
import CANBus
import CANFrames
import DBC
import FirmwareProfile
import VehicleSimulator

#if canImport(Glibc)
import Glibc
#endif

/// Produces frames for the pipeline on its thread: the vehicle's buses, the simulated vehicle or a candump replay.
/// `next(into:until:)` returns at least every 200 ms or so, so that the thread can notice a shutdown, and tries not
/// to wait past `deadline` (monotonic seconds: a remote command's next frame or timeout); it returns false when the
/// source has ended (a replay's end, a simulation's duration).
protocol FrameSource {
    mutating func next(into frames: inout [CANFrame], until deadline: Double) throws -> Bool
    /// A configuration update switched to `profile`: read what it decodes from now on. The buses are the same (an
    /// update cannot change them), so only what is filtered may change.
    mutating func adopt(_ profile: FirmwareProfile)
}

extension FrameSource {
    /// A simulated vehicle and a recording are what they are: a new profile does not change their frames.
    mutating func adopt(_ profile: FirmwareProfile) {}
}

/// The in-process simulated vehicle, paced against the monotonic clock (or as fast as possible). It hears the
/// agent's command frames (`commands`) as if on its bus, and a command's arrival (`wakeup`) cuts its wait short.
struct SimulatedSource: FrameSource {
    private var simulator: VehicleSimulator
    private let commands: SimulatorCommandQueue
    private let wakeup: PipelineWakeup
    /// The diagnostics service's ears on the simulated bus (ECU answers, DM1); nil without `[diagnostics]`.
    private let diagnosticTap: SimulatorDiagnosticTap?
    private let speed: Double?
    private let duration: Double?
    private let wallStart = monotonicSeconds()
    private var simulated = 0.0
    /// Simulated seconds per step: small when paced, so frames flow steadily; large when running flat out.
    private let step: Double

    init(
        database: DBCDatabase, scenario: String, profileName: String, speed: Double?, duration: Double?, startUnixSeconds: Double,
        commands: SimulatorCommandQueue, wakeup: PipelineWakeup, diagnosticTap: SimulatorDiagnosticTap? = nil
    ) throws {
        self.commands = commands
        self.wakeup = wakeup
        self.diagnosticTap = diagnosticTap
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

    mutating func next(into frames: inout [CANFrame], until deadline: Double) throws -> Bool {
        for frame in commands.takeAll() { simulator.receive(frame) }
        if let duration, simulated >= duration { return false }
        var target = simulated + step
        if let duration { target = min(target, duration) }
        if let speed {
            let due = wallStart + target / speed
            if wakeup.wait(untilMonotonic: min(due, deadline)) || monotonicSeconds() < due {
                // Woken early (a command, or its next frame is due): simulate up to now only.
                target = max(simulated, min(target, (monotonicSeconds() - wallStart) * speed))
            }
        }
        simulated = target
        let produced = simulator.advance(to: simulated)
        diagnosticTap?.offer(produced)
        frames.append(contentsOf: produced)
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
        // The frames keep their logged timestamps, so pacing only needs to be right to about a batch interval's
        // hundredth: 10 ms lets one wake-up serve hundreds of frames at high rates.
        pacer = ReplayPacer(speed: speed, slackSeconds: 0.01)
        self.log = log
    }

    mutating func next(into frames: inout [CANFrame], until deadline: Double) throws -> Bool {
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

/// The vehicle's CAN buses through SocketCAN. One interface: a socket bound to it. Several: one socket bound to every
/// CAN interface (the kernel tells each frame's interface), keeping the configured ones, so that one thread and one
/// system call per batch serve all buses.
///
/// - Kernel filters let through only the ids the profile decodes (`filters`), so the kernel drops the rest of a busy
///   bus before it costs the agent a wake-up; error frames come regardless (docs/can.md).
/// - An interface that is missing, down, or deleted and re-created is not fatal: the agent keeps draining its outbox
///   and reopens the socket every second until the interface is back (a CAN transceiver that comes up after the agent).
/// - A bus-off error frame makes the source ask that controller to restart, at most once per backoff period (0.1 s,
///   doubling to 5 s, per interface), so that a bus that keeps failing is not hammered. Restarting needs
///   CAP_NET_ADMIN and a real controller; where it fails (vcan, no capability) the event is logged and counted only.
final class SocketCANSource: FrameSource {
    /// Bus-off events seen and controller restarts that succeeded, per interface.
    struct BusOffCounts: Equatable {
        var events = 0
        var restarts = 0
    }

    let interfaces: [String]
    private let wanted: Set<String>
    /// nil: capture everything.
    private var filters: [CANFilter]?
    private var socket: CANSocket?
    private var batch = CANSocket.Batch()
    private var nextOpenAttempt = 0.0
    private let log: @Sendable (String) -> Void
    private(set) var kernelDrops: UInt64 = 0
    private(set) var opens = 0
    private(set) var busOff: [String: BusOffCounts] = [:]
    /// Per interface: when the next restart may be attempted, and the backoff after that.
    private var restartSchedule: [String: (next: Double, backoff: Double)] = [:]

    /// The kernel filters for the frames `profile` decodes: each catalog message's id, J1939 messages by parameter
    /// group. nil (capture everything) when there would be more than the C shim passes to the kernel.
    static func kernelFilters(for profile: FirmwareProfile) -> [CANFilter]? {
        var filters: [CANFilter] = []
        var seen = Set<CANFilter>()
        for bus in profile.buses {
            let messages = Set(profile.catalog.filter { $0.bus == bus.name }.map(\.message))
            for filter in CompiledDecoder(database: bus.database, messageNames: messages).kernelFilters where seen.insert(filter).inserted {
                filters.append(filter)
            }
        }
        return filters.count <= CANSocket.maximumFilters ? filters : nil
    }

    init(interfaces: [String], filters: [CANFilter]?, log: @escaping @Sendable (String) -> Void) {
        self.interfaces = interfaces
        self.wanted = Set(interfaces)
        self.filters = filters
        self.log = log
        open()
    }

    var isOpen: Bool { socket != nil }

    func adopt(_ profile: FirmwareProfile) {
        filters = Self.kernelFilters(for: profile)
        guard let socket else { return }  // The next open sets them.
        do {
            // An empty list would pass nothing but error frames: capture everything instead, as at open.
            try socket.setFilters(filters ?? [CANFilter(id: 0, mask: 0)])
            log("\(filters.map { "\($0.count) kernel filters" } ?? "no kernel filters") for profile \(profile.name)")
        } catch {
            log("cannot change the kernel filters: \(error); reopening")
            socket.close()
            self.socket = nil
        }
    }

    private func open() {
        nextOpenAttempt = monotonicSeconds() + 1
        do {
            let socket = try CANSocket(interface: interfaces.count == 1 ? interfaces[0] : "")
            if let filters { try socket.setFilters(filters) }
            try socket.receiveErrorFrames()
            self.socket = socket
            opens += 1
            let filtering = filters.map { "\($0.count) kernel filters" } ?? "no kernel filters"
            log("reading \(interfaces.joined(separator: ", ")) (\(filtering))")
        } catch {
            log("cannot open \(interfaces.joined(separator: ", ")): \(error); retrying every second")
        }
    }

    func next(into frames: inout [CANFrame], until deadline: Double) throws -> Bool {
        guard let socket else {
            if monotonicSeconds() >= nextOpenAttempt { open() } else { usleep(100_000) }
            return true
        }
        do {
            // At most 50 ms on a silent bus, so that a remote command waits no longer for its turn; a live bus
            // returns far sooner.
            let wait = Int32(max(0, min(50, (deadline - monotonicSeconds()) * 1000)).rounded(.up))
            try socket.receive(timeoutMilliseconds: wait, into: &batch)
        } catch {
            // ENETDOWN once for an interface that went down, ENODEV for one that was deleted: reopening handles both.
            log("\(error); reopening")
            socket.close()
            self.socket = nil
            return true
        }
        if batch.kernelDrops > 0 {
            kernelDrops += UInt64(batch.kernelDrops)
            log("the kernel dropped \(batch.kernelDrops) frames (receive queue full; raise net.core.rmem_max)")
        }
        for frame in batch.frames where interfaces.count == 1 || wanted.contains(frame.interface) {
            switch frame.kind {
            case .data: frames.append(frame)
            case .error where frame.id & Self.busOffClass != 0: busOffSeen(on: frame.interface)
            default: break
            }
        }
        return true
    }

    /// CAN_ERR_BUSOFF, the error class of a controller that left the bus.
    static let busOffClass: UInt32 = 0x40

    private func busOffSeen(on interface: String) {
        busOff[interface, default: BusOffCounts()].events += 1
        let now = monotonicSeconds()
        let schedule = restartSchedule[interface] ?? (next: 0, backoff: 0.1)
        guard now >= schedule.next else { return }
        restartSchedule[interface] = (next: now + schedule.backoff, backoff: min(schedule.backoff * 2, 5))
        if BusHealth.restart(interface: interface) {
            busOff[interface, default: BusOffCounts()].restarts += 1
            log("\(interface): bus-off; the controller was restarted")
        } else {
            log("\(interface): bus-off; the controller could not be restarted (needs CAP_NET_ADMIN and a real controller); \(busOff[interface]!.events) bus-off events so far")
        }
    }
}
