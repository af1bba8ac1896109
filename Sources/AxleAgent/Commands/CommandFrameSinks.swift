import AgentCore
import AxleBase
import CANBus
import CANFrames
import Synchronization

// The command executor's frame sinks (AgentCore's `CommandFrameSink`): the executor calls them on the command
// service's thread.

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
            // A short wait for room in the driver's queue: the command service must not stall on a bus that is off
            // (its repeat frames and confirmations of other commands are due).
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
