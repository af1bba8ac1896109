import AxleBase
import CANBus
import CANFrames
import Dispatch
import RemoteCommands
import Synchronization

/// Wakes the pipeline thread out of its source's wait when a command arrives, so that a command does not wait for the
/// next simulated step (20 ms) before its first frame goes out. Signals coalesce into extra early wake-ups, which
/// are harmless.
final class PipelineWakeup: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func signal() { semaphore.signal() }

    /// Waits until the monotonic clock reaches `deadline` or a signal comes. True when signalled.
    @discardableResult
    func wait(untilMonotonic deadline: Double) -> Bool {
        let remaining = deadline - monotonicSeconds()
        guard remaining > 0 else { return false }
        return semaphore.wait(timeout: .now() + remaining) == .success
    }
}

/// A verified command the journal has claimed, on its way from the intake thread to the pipeline thread, which checks
/// its precondition on live signals and executes it.
struct AcceptedCommand: Sendable {
    let command: VerifiedCommand
    let reply: ReplyAddress
}

/// The hand-over between the intake thread and the pipeline thread. The pipeline takes everything on each turn; the
/// intake's rate limit bounds how much can wait here.
final class CommandInbox: Sendable {
    private let queue = Mutex<[AcceptedCommand]>([])
    private let count = Atomic<Int>(0)
    let wakeup: PipelineWakeup

    init(wakeup: PipelineWakeup) {
        self.wakeup = wakeup
    }

    func post(_ command: AcceptedCommand) {
        queue.withLock { $0.append(command) }
        count.add(1, ordering: .releasing)
        wakeup.signal()
    }

    /// Every command posted since the last call, oldest first. Costs one atomic load when there is none (the
    /// pipeline asks on every turn).
    func takeAll() -> [AcceptedCommand] {
        guard count.load(ordering: .acquiring) > 0 else { return [] }
        let taken = queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        count.subtract(taken.count, ordering: .releasing)
        return taken
    }
}

/// Where command frames go: the bus's SocketCAN interface, the in-process simulated vehicle, or nowhere (a replay).
protocol CommandFrameSink {
    /// Sends one frame on the profile's logical bus `bus`; throws a text the command's sender can read.
    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError)
}

struct CommandSendError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One sending socket per logical bus, opened on first use and reopened after an error.
struct SocketCANCommandSink: CommandFrameSink {
    let interfaces: [String: String]
    private var sockets: [String: CANSocket] = [:]

    init(interfaces: [String: String]) {
        self.interfaces = interfaces
    }

    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError) {
        guard let interface = interfaces[bus] else {
            throw CommandSendError("the profile's bus '\(bus)' is mapped to no CAN interface; map it with --can \(bus)=IFACE")
        }
        do {
            let socket: CANSocket
            if let open = sockets[bus] {
                socket = open
            } else {
                socket = try CANSocket(interface: interface)
                // The agent's own command frames are of no interest to this socket.
                try socket.setFilters([])
                sockets[bus] = socket
            }
            // A short wait for room in the driver's queue: the pipeline thread must not stall on a bus that is off.
            try socket.send(frame, timeoutMilliseconds: 20)
        } catch {
            sockets[bus]?.close()
            sockets[bus] = nil
            throw CommandSendError("cannot send on \(interface): \(error)")
        }
    }
}

/// Frames for the in-process simulated vehicle, which takes them on its next step as if heard on its bus.
final class SimulatorCommandQueue: Sendable {
    private let frames = Mutex<[CANFrame]>([])

    func append(_ frame: CANFrame) { frames.withLock { $0.append(frame) } }

    func takeAll() -> [CANFrame] {
        frames.withLock { frames in
            defer { frames.removeAll() }
            return frames
        }
    }
}

struct SimulatorCommandSink: CommandFrameSink {
    let queue: SimulatorCommandQueue
    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError) {
        queue.append(frame)
    }
}

/// A replayed log has no bus: commands fail rather than pretend.
struct NoBusSink: CommandFrameSink {
    mutating func send(_ frame: CANFrame, bus: String) throws(CommandSendError) {
        throw CommandSendError("the agent is replaying a log and has no bus to send on")
    }
}
