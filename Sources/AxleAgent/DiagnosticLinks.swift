import AgentCore
import AxleBase
import CANBus
import CANFrames
import Diagnostics
import Dispatch
import FirmwareProfile
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The diagnostics service's link on a vehicle: one raw CAN socket per bus it uses, each bound to the bus's interface
/// and filtered in the kernel to the ECUs' answer ids (and, on the DM1 bus, J1939's transport and DM1 groups), so the
/// rest of a busy bus never reaches this thread. The pipeline keeps its own socket: raw sockets each get every frame.
///
/// ISO-TP runs in user space over these sockets (Diagnostics' state machines), which works on kernels without the
/// ISO-TP module. A socket that fails is reopened on the next send or receive; the exchange under way fails.
final class SocketCANDiagnosticLink: DiagnosticLink {
    private struct Bus {
        let name: String
        let interface: String
        let filters: [CANFilter]
        var socket: CANSocket?
    }

    private var buses: [Bus]
    private var batch = CANSocket.Batch()
    private var nextOpen = 0.0
    private let log: @Sendable (String) -> Void

    init(configuration: DiagnosticsConfiguration, interfaces: [String: String], log: @escaping @Sendable (String) -> Void) {
        var names: [String] = []
        for ecu in configuration.ecus where !names.contains(ecu.bus) { names.append(ecu.bus) }
        if let dm1 = configuration.dm1, !names.contains(dm1.bus) { names.append(dm1.bus) }
        buses = names.map { name in
            var filters = configuration.ecus.filter { $0.bus == name }.map { CANFilter.exact(id: $0.responseID, isExtended: $0.isExtended) }
            if configuration.dm1?.bus == name {
                filters += [J1939PGN.transportConnection, J1939PGN.transportData, J1939PGN.dm1].map { CANFilter.j1939(pgn: $0) }
            }
            return Bus(name: name, interface: interfaces[name] ?? name, filters: filters)
        }
        self.log = log
        openMissing()
    }

    private func openMissing() {
        guard monotonicSeconds() >= nextOpen else { return }
        nextOpen = monotonicSeconds() + 1
        for index in buses.indices where buses[index].socket == nil {
            do {
                let socket = try CANSocket(interface: buses[index].interface, enableFD: false)
                try socket.setFilters(buses[index].filters)
                buses[index].socket = socket
            } catch {
                log("cannot open \(buses[index].interface) for diagnostics: \(error); retrying every second")
            }
        }
    }

    func send(_ frame: CANFrame) throws(DiagnosticLinkError) {
        openMissing()
        guard let index = buses.firstIndex(where: { $0.name == frame.interface }), let socket = buses[index].socket else {
            throw DiagnosticLinkError("bus '\(frame.interface)' is not open")
        }
        var outgoing = frame
        outgoing.interface = buses[index].interface
        do {
            try socket.send(outgoing, timeoutMilliseconds: 100)
        } catch {
            socket.close()
            buses[index].socket = nil
            throw DiagnosticLinkError("\(error)")
        }
    }

    func receive(until deadline: Double, into frames: inout [CANFrame]) throws(DiagnosticLinkError) {
        openMissing()
        let open = buses.indices.filter { buses[$0].socket != nil }
        guard !open.isEmpty else {
            let seconds = max(0, min(deadline - monotonicSeconds(), 0.1))
            usleep(UInt32(seconds * 1_000_000))
            return
        }
        // One bus: wait on its socket. Several: take turns in slices of 5 ms.
        let slice = open.count == 1 ? 1000.0 : 5.0
        repeat {
            for index in open {
                guard let socket = buses[index].socket else { continue }
                let milliseconds = Int32(max(0, min((deadline - monotonicSeconds()) * 1000, slice)).rounded(.up))
                do {
                    try socket.receive(timeoutMilliseconds: milliseconds, into: &batch)
                } catch {
                    socket.close()
                    buses[index].socket = nil
                    throw DiagnosticLinkError("\(error)")
                }
                for var frame in batch.frames where frame.kind == .data {
                    frame.interface = buses[index].name
                    frames.append(frame)
                }
            }
        } while frames.isEmpty && monotonicSeconds() < deadline
    }
}

/// Frames the in-process simulator put on its bus that the diagnostics service listens for (answers, J1939 DM1 and
/// transport), handed over by the pipeline thread that runs the simulator. Bounded; a full tap drops and counts.
final class SimulatorDiagnosticTap: Sendable {
    private let frames = Mutex<[CANFrame]>([])
    private let dropped = Atomic<Int>(0)
    private let arrived = DispatchSemaphore(value: 0)
    private let answerIDs: Set<UInt32>
    private let listensToJ1939: Bool
    static let capacity = 4096

    init(configuration: DiagnosticsConfiguration?) {
        answerIDs = Set(configuration?.ecus.map(\.responseID) ?? [])
        listensToJ1939 = configuration?.dm1 != nil
    }

    /// Whether the service wants `frame`.
    func wants(_ frame: CANFrame) -> Bool {
        if answerIDs.contains(frame.id) { return true }
        guard listensToJ1939, frame.isExtended else { return false }
        let pgn = J1939Identifier(canID: frame.id).pgn
        return pgn == J1939PGN.dm1 || pgn == J1939PGN.transportConnection || pgn == J1939PGN.transportData
    }

    /// On the pipeline thread: the frames of one simulation step.
    func offer(_ batch: [CANFrame]) {
        var taken = false
        for frame in batch where wants(frame) {
            let room = frames.withLock { frames in
                guard frames.count < Self.capacity else { return false }
                frames.append(frame)
                return true
            }
            if room { taken = true } else { dropped.add(1, ordering: .relaxed) }
        }
        if taken { arrived.signal() }
    }

    func take(until deadline: Double) -> [CANFrame] {
        while true {
            let taken = frames.withLock { frames in
                defer { frames.removeAll() }
                return frames
            }
            if !taken.isEmpty { return taken }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return [] }
            _ = arrived.wait(timeout: .now() + remaining)
        }
    }
}

/// The diagnostics service's link with `axled --simulate`: requests go to the simulated vehicle like command frames
/// (it takes them on its next step and wakes for them), answers come back through the tap. The simulator has one bus.
final class SimulatorDiagnosticLink: DiagnosticLink {
    private let queue: SimulatorCommandQueue
    private let tap: SimulatorDiagnosticTap
    private let wakeup: PipelineWakeup
    private let bus: String

    init(queue: SimulatorCommandQueue, tap: SimulatorDiagnosticTap, wakeup: PipelineWakeup, bus: String) {
        self.queue = queue
        self.tap = tap
        self.wakeup = wakeup
        self.bus = bus
    }

    func send(_ frame: CANFrame) throws(DiagnosticLinkError) {
        queue.append(frame)
        wakeup.signal()
    }

    func receive(until deadline: Double, into frames: inout [CANFrame]) throws(DiagnosticLinkError) {
        for var frame in tap.take(until: deadline) {
            frame.interface = bus
            frames.append(frame)
        }
    }
}
