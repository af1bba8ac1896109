import AxleBase
import CANFrames
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reads one interface on a dedicated thread and hands batches of frames to async code through a bounded buffer.
///
/// When the consumer falls behind, whole batches are dropped and counted (never queued without limit). When the
/// interface goes down or disappears, the reader keeps running and reopens it when it comes back.
public final class CANReader: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var frames: UInt64 = 0
        /// Frames the kernel dropped because the socket's receive queue was full.
        public var kernelDrops: UInt64 = 0
        /// Frames dropped because the consumer did not keep up with the bounded buffer.
        public var bufferDrops: UInt64 = 0
        /// How many times the socket was (re)opened.
        public var opens: Int = 0
        public var isOpen = false
        public var lastError: String?
        /// Bus-off events seen (error frames with CAN_ERR_BUSOFF) and controller restarts that succeeded.
        public var busOffEvents: Int = 0
        public var restarts: Int = 0
    }

    public let interface: String
    public let filters: [CANFilter]?
    /// Frames from the bus, in batches; finishes when `stop()` is called.
    public let batches: AsyncStream<[CANFrame]>
    private let continuation: AsyncStream<[CANFrame]>.Continuation
    private let state = Mutex(Statistics())
    private let stopping = Atomic<Bool>(false)

    /// `filters` nil captures everything; `capacity` is the number of batches (each up to 64 frames) buffered.
    public init(interface: String, filters: [CANFilter]? = nil, capacity: Int = 256) {
        self.interface = interface
        self.filters = filters
        (batches, continuation) = AsyncStream.makeStream(of: [CANFrame].self, bufferingPolicy: .bufferingOldest(capacity))
    }

    public var statistics: Statistics { state.withLock { $0 } }

    /// Starts the reader thread.
    public func start() {
        startDedicatedThread(name: "can-\(interface)") { [self] in run() }
    }

    /// Stops reading within about 200 ms and finishes `batches`.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    private func run() {
        var backoff: UInt32 = 50_000
        while !stopping.load(ordering: .relaxed) {
            let socket: CANSocket
            do {
                socket = try CANSocket(interface: interface)
                if let filters { try socket.setFilters(filters) }
                try socket.receiveErrorFrames()
            } catch {
                state.withLock { $0.lastError = error.description; $0.isOpen = false }
                usleep(backoff)
                backoff = min(backoff * 2, 2_000_000)
                continue
            }
            backoff = 50_000
            state.withLock { $0.opens += 1; $0.isOpen = true }
            read(socket)
            socket.close()
            state.withLock { $0.isOpen = false }
        }
        continuation.finish()
    }

    /// CAN_ERR_BUSOFF, the error class of a controller that left the bus.
    static let busOffClass: UInt32 = 0x40

    /// Reads until the socket fails (interface down or gone) or the reader is stopped.
    private func read(_ socket: CANSocket) {
        var batch = CANSocket.Batch()
        var restartBackoff = 0.1
        var nextRestart = 0.0
        while !stopping.load(ordering: .relaxed) {
            do {
                try socket.receive(timeoutMilliseconds: 200, into: &batch)
            } catch {
                state.withLock { $0.lastError = error.description }
                // A downed interface reports ENETDOWN once and then delivers again when it is up; a deleted one
                // fails for good. Reopening handles both; wait a little so a flapping link is not spun on.
                usleep(100_000)
                return
            }
            guard !batch.frames.isEmpty || batch.kernelDrops > 0 else { continue }
            let delivered: Bool
            if batch.frames.isEmpty {
                delivered = true
            } else if case .dropped = continuation.yield(batch.frames) {
                delivered = false
            } else {
                delivered = true
            }
            if batch.frames.contains(where: { $0.kind == .error && $0.id & Self.busOffClass != 0 }) {
                // Restart the controller, at most once per backoff period (doubling to 5 s) so that a bus that
                // keeps failing is not hammered. Without CAP_NET_ADMIN, or on vcan, the restart fails: counted only.
                let now = monotonicSeconds()
                var restarted = false
                if now >= nextRestart {
                    restarted = BusHealth.restart(interface: interface)
                    nextRestart = now + restartBackoff
                    restartBackoff = min(restartBackoff * 2, 5)
                }
                state.withLock { $0.busOffEvents += 1; if restarted { $0.restarts += 1 } }
            }
            let frameCount = UInt64(batch.frames.count)
            let kernelDrops = UInt64(batch.kernelDrops)
            state.withLock {
                $0.frames += frameCount
                $0.kernelDrops += kernelDrops
                if !delivered { $0.bufferDrops += frameCount }
            }
        }
    }
}
