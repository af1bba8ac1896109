import AxleBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on a loopback port to a target port, for network trouble between a client and a broker: `cut()`
/// closes every connection and stops listening (a blind spot: connections die, new ones are refused), `restore()`
/// listens again on the same port. Runs on a dedicated thread with poll.
public final class TCPRelay: Sendable {
    /// Where clients connect (the same after `cut()`/`restore()`).
    public let port: Int
    /// Where connections are forwarded (127.0.0.1).
    public let targetPort: Int
    private let core: Core

    /// Listens on `port` (nil: a free one) and forwards each connection to 127.0.0.1:`targetPort`.
    public init(targetPort: Int, port: Int? = nil) throws {
        self.targetPort = targetPort
        var listener: Int32 = -1
        var chosen = 0
        for _ in 0..<(port == nil ? 8 : 1) {
            chosen = try port ?? LoopbackPort.free()
            if let made = try? Self.listen(port: chosen) {
                listener = made
                break
            }
        }
        guard listener >= 0 else { throw TestSupportError("TCPRelay: cannot listen on a loopback port") }
        self.port = chosen
        core = try Core(listener: listener, targetPort: targetPort)
        startDedicatedThread(name: "tcp-relay-\(chosen)") { [core] in core.run() }
    }

    deinit {
        core.shutdown()
    }

    /// Closes every relayed connection and the listening socket; returns once they are closed.
    public func cut() {
        core.request { state in
            state.cutsRequested += 1
            // A listener not yet taken up by the thread (a cut right after init or restore) must not survive the cut.
            if let pending = state.pendingListener {
                close(pending)
                state.pendingListener = nil
            }
        }
    }

    /// Listens again on the same port after `cut()`.
    public func restore() throws {
        // The port can be briefly held by a socket of a client that was connecting while the relay was cut (on
        // loopback, a connect to a port nobody listens on can pick that very port as its own and connect to
        // itself); it is freed when that client closes or dies.
        var listener: Int32 = -1
        var lastError: (any Error)?
        let deadline = monotonicSeconds() + 10
        repeat {
            do {
                listener = try Self.listen(port: port)
            } catch {
                lastError = error
                usleep(50_000)
            }
        } while listener < 0 && monotonicSeconds() < deadline
        guard listener >= 0 else {
            let sockets = (try? ChildProcess.run("/bin/ss", ["-tanp", "sport = :\(port) or dport = :\(port)"]))?.output ?? ""
            throw TestSupportError("\(lastError.map { "\($0)" } ?? "cannot listen"); sockets on the port:\n\(sockets)")
        }
        core.request { $0.pendingListener = listener }
    }

    /// Connections being relayed now.
    public var activeConnections: Int { core.state.withLock { $0.activeConnections } }

    /// Connections accepted since the relay started.
    public var acceptedConnections: Int { core.state.withLock { $0.acceptedConnections } }

    static func listen(port: Int) throws -> Int32 {
        let descriptor = socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw SystemError(call: "socket", subject: "relay", errno: errno) }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = LoopbackPort.loopbackAddress(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(descriptor, 64) == 0 else {
            let error = SystemError(call: "bind/listen", subject: "127.0.0.1:\(port)", errno: errno)
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// The relay's thread and what it shares with the callers.
    final class Core: Sendable {
        struct State {
            var cutsRequested = 0
            var cutsDone = 0
            var pendingListener: Int32?
            var closing = false
            var closed = false
            var activeConnections = 0
            var acceptedConnections = 0
            var requestsDone = 0
            var requests = 0
        }

        let state = Mutex(State())
        let targetPort: Int
        private let wakeRead: Int32
        private let wakeWrite: Int32

        init(listener: Int32, targetPort: Int) throws {
            self.targetPort = targetPort
            var descriptors: [Int32] = [-1, -1]
            guard pipe(&descriptors) == 0 else { throw SystemError(call: "pipe", subject: "relay wake-up", errno: errno) }
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            }
            wakeRead = descriptors[0]
            wakeWrite = descriptors[1]
            state.withLock { $0.pendingListener = listener }
        }

        deinit {
            close(wakeRead)
            close(wakeWrite)
        }

        /// Changes the state, wakes the thread and waits (bounded) until it has acted on the change.
        func request(_ change: (inout State) -> Void) {
            let ticket = state.withLock { state -> Int in
                change(&state)
                state.requests += 1
                return state.requests
            }
            wake()
            waitUntil(timeoutSeconds: 10, pollSeconds: 0.005) { state.withLock { $0.requestsDone >= ticket || $0.closed } }
        }

        func shutdown() {
            state.withLock { $0.closing = true }
            wake()
        }

        private func wake() {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }

        func run() {
            var listener: Int32 = -1
            var pairs: [(Int32, Int32)] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            func closeAll() {
                for (a, b) in pairs {
                    close(a)
                    close(b)
                }
                pairs.removeAll()
            }
            while true {
                let control = state.withLock { state -> (closing: Bool, cut: Bool, listener: Int32?, requests: Int) in
                    let result = (state.closing, state.cutsRequested > state.cutsDone, state.pendingListener, state.requests)
                    state.pendingListener = nil
                    state.cutsDone = state.cutsRequested
                    return result
                }
                if control.closing {
                    closeAll()
                    if listener >= 0 { close(listener) }
                    state.withLock {
                        $0.closed = true
                        $0.activeConnections = 0
                    }
                    return
                }
                if control.cut {
                    closeAll()
                    if listener >= 0 { close(listener) }
                    listener = -1
                }
                if let newListener = control.listener {
                    if listener >= 0 { close(listener) }
                    listener = newListener
                }
                let connectionCount = pairs.count
                state.withLock {
                    $0.requestsDone = control.requests
                    $0.activeConnections = connectionCount
                }

                var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                if listener >= 0 { descriptors.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
                let pairsStart = descriptors.count
                for (a, b) in pairs {
                    descriptors.append(pollfd(fd: a, events: Int16(POLLIN), revents: 0))
                    descriptors.append(pollfd(fd: b, events: Int16(POLLIN), revents: 0))
                }
                guard poll(&descriptors, nfds_t(descriptors.count), 500) > 0 else { continue }
                if descriptors[0].revents != 0 {
                    while read(wakeRead, &buffer, buffer.count) > 0 {}
                }
                if listener >= 0, descriptors[1].revents != 0 {
                    acceptOne(listener: listener, into: &pairs)
                }
                var dead = Set<Int>()
                for index in pairsStart..<descriptors.count where descriptors[index].revents != 0 {
                    let pairIndex = (index - pairsStart) / 2
                    if dead.contains(pairIndex) { continue }
                    let (a, b) = pairs[pairIndex]
                    let from = descriptors[index].fd
                    let to = from == a ? b : a
                    let count = read(from, &buffer, buffer.count)
                    if count <= 0 || !sendAll(to, buffer, count) { dead.insert(pairIndex) }
                }
                for pairIndex in dead.sorted(by: >) {
                    close(pairs[pairIndex].0)
                    close(pairs[pairIndex].1)
                    pairs.remove(at: pairIndex)
                }
            }
        }

        private func acceptOne(listener: Int32, into pairs: inout [(Int32, Int32)]) {
            // The listener is non-blocking: a client that connected and died before this accept (a killed agent)
            // leaves nothing to accept, and a blocking accept would stall the relay until the next client.
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            // On Linux an accepted socket does not inherit the listener's O_NONBLOCK: it stays blocking, as sendAll
            // expects.
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = LoopbackPort.loopbackAddress(port: targetPort)
            let connected = upstream >= 0 && withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else {
                // The target is down: the client sees its connection close, as it would through a real network.
                if upstream >= 0 { close(upstream) }
                close(client)
                return
            }
            pairs.append((client, upstream))
            state.withLock { $0.acceptedConnections += 1 }
        }

        private func sendAll(_ descriptor: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes {
                    send(descriptor, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }
}
