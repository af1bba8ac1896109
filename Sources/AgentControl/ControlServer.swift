import AxleBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the control socket could not be served: which path, what failed, and what to do.
public struct ControlServerError: Error, Sendable, CustomStringConvertible {
    /// The socket path.
    public let path: String
    public let message: String

    /// An error about the socket at `path`.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "control socket \(path): \(message)" }
}

/// The agent's side of the control socket (docs/control.md): a Unix stream socket where each connection carries one
/// JSON request line and gets one JSON response line back, then the server closes it.
///
/// One dedicated thread accepts connections and reads them together with `poll`, so a client that connects and sends
/// nothing holds up no one; a connection that has not sent a whole line within `requestTimeout` seconds gets a
/// `bad-request` response and is closed. Requests are answered one at a time by calling the `ControlHandler` on that
/// thread.
public final class ControlServer: Sendable {
    /// The longest request line accepted, newline excluded; a longer one gets a `bad-request` response.
    public static let maximumRequestBytes = 64 << 10
    /// Connections read at the same time; more wait in the kernel's listen backlog.
    public static let maximumOpenConnections = 32
    /// `diagnostic` requests answered at the same time (each on a thread of its own while it waits for its ECU).
    public static let maximumDiagnosticRequests = 4

    /// What `start()` did about the socket's group.
    public struct Startup: Sendable, Equatable {
        /// The group the socket file was given, when `group` exists and the change was allowed.
        public let groupID: UInt32?
        /// Why the group could not be applied (so only root and the agent's user can connect), when it was asked for.
        public let groupProblem: String?

        /// What a start did.
        public init(groupID: UInt32?, groupProblem: String?) {
            self.groupID = groupID
            self.groupProblem = groupProblem
        }
    }

    /// The socket file, e.g. /run/axle/axled.sock.
    public let path: String
    /// The group whose members may connect (`axle`); nil leaves the file's group as created.
    public let group: String?
    public let policy: ControlPolicy
    /// Seconds a client has, from connecting, to send its request line.
    public let requestTimeout: Double
    private let handler: any ControlHandler
    private let running = Mutex<Running?>(nil)

    /// What a started server holds for `stop()`.
    private struct Running: Sendable {
        /// Written to wake the serving thread out of `poll` and end it.
        var wakeWrite: Int32
        /// Closed by the serving thread when it has finished.
        var doneRead: Int32
        /// The socket file's identity, so `stop()` removes only the file this server made.
        var device: UInt64
        var inode: UInt64
    }

    /// A server for `path`; nothing happens until `start()`.
    public init(
        path: String, group: String?, handler: any ControlHandler, policy: ControlPolicy = .standard,
        requestTimeout: Double = 1
    ) {
        self.path = path
        self.group = group
        self.handler = handler
        self.policy = policy
        self.requestTimeout = requestTimeout
    }

    deinit {
        stop()
    }

    /// Creates the socket and starts serving on a dedicated thread.
    ///
    /// A socket file left by an agent that died is removed; if another process still listens there, or the path is
    /// some other kind of file, nothing is touched and this throws. The socket gets mode 0660 and, when `group`
    /// exists (`getgrnam`), that group, both before it accepts connections.
    @discardableResult
    public func start() throws(ControlServerError) -> Startup {
        try running.withLock { running throws(ControlServerError) -> Startup in
            guard running == nil else { throw ControlServerError(path: path, message: "the server is already running") }
            guard let address = UnixSocket.address(path) else {
                throw ControlServerError(
                    path: path,
                    message: "the path is empty or longer than \(UnixSocket.pathCapacity - 1) bytes; choose a shorter one")
            }
            try removeStaleSocket()
            let listener: Int32
            do {
                listener = try UnixSocket.make(nonBlocking: true, subject: path)
            } catch {
                throw ControlServerError(path: path, message: "cannot create a socket: \(error)")
            }
            var closeListener = true
            defer { if closeListener { close(listener) } }
            var bindAddress = address
            let bound = withUnsafePointer(to: &bindAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0 else {
                let code = errno
                throw ControlServerError(
                    path: path,
                    message: "cannot create the socket file: \(SystemError.text(errno: code)) (bind); its directory "
                        + "must exist and be writable by axled (systemd: RuntimeDirectory=axle)")
            }
            // Mode and group are set before listen(): until then every connect is refused, so no client can slip in
            // while the file still has the mode the umask gave it.
            var startup = Startup(groupID: nil, groupProblem: nil)
            guard chmod(path, 0o660) == 0 else {
                let code = errno
                unlink(path)
                throw ControlServerError(path: path, message: "cannot set mode 0660: \(SystemError.text(errno: code)) (chmod)")
            }
            if let group { startup = applyGroup(group) }
            guard listen(listener, 16) == 0 else {
                let code = errno
                unlink(path)
                throw ControlServerError(path: path, message: "cannot listen: \(SystemError.text(errno: code)) (listen)")
            }
            var status = stat()
            guard stat(path, &status) == 0 else {
                let code = errno
                throw ControlServerError(path: path, message: "the socket file vanished: \(SystemError.text(errno: code))")
            }
            var wake: [Int32] = [-1, -1]
            var done: [Int32] = [-1, -1]
            guard UnixSocket.makePipe(&wake, nonBlockingRead: true) else {
                unlink(path)
                throw ControlServerError(path: path, message: "cannot create a pipe: \(SystemError.text(errno: errno))")
            }
            guard UnixSocket.makePipe(&done, nonBlockingRead: false) else {
                close(wake[0])
                close(wake[1])
                unlink(path)
                throw ControlServerError(path: path, message: "cannot create a pipe: \(SystemError.text(errno: errno))")
            }
            closeListener = false
            let loop = ServeLoop(
                listener: listener, wakeRead: wake[0], handler: handler, policy: policy, requestTimeout: requestTimeout)
            let doneWrite = done[1]
            startDedicatedThread(name: "control socket") {
                var loop = loop
                loop.run()
                close(doneWrite)
            }
            running = Running(
                wakeWrite: wake[1], doneRead: done[0], device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            return startup
        }
    }

    /// Stops serving: open connections are closed unanswered, the thread ends before this returns, and the socket
    /// file is removed (unless another process has replaced it meanwhile). Does nothing when not running. Must not be
    /// called from a `ControlHandler` method (it waits for the thread that calls them).
    public func stop() {
        guard let stopping = running.withLock({ running -> Running? in
            defer { running = nil }
            return running
        }) else { return }
        var byte: UInt8 = 1
        _ = write(stopping.wakeWrite, &byte, 1)
        // read() returns 0 once the serving thread has closed its end: it has finished.
        while read(stopping.doneRead, &byte, 1) < 0 && errno == EINTR {}
        close(stopping.wakeWrite)
        close(stopping.doneRead)
        var status = stat()
        if stat(path, &status) == 0, UInt64(status.st_dev) == stopping.device, UInt64(status.st_ino) == stopping.inode {
            unlink(path)
        }
    }

    /// Clears the way for a new socket file: nothing there, or a socket nobody listens on (removed).
    private func removeStaleSocket() throws(ControlServerError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw ControlServerError(path: path, message: "cannot check the path: \(SystemError.text(errno: errno)) (lstat)")
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlServerError(
                path: path, message: "this path exists and is not a socket; remove it or configure another socket path")
        }
        if let address = UnixSocket.address(path), let probe = try? UnixSocket.make(nonBlocking: true, subject: path) {
            let result = UnixSocket.connect(probe, to: address)
            close(probe)
            // EAGAIN: the listener's backlog is full, so something is very much listening.
            if result == 0 || result == EAGAIN {
                throw ControlServerError(
                    path: path,
                    message: "another process is serving this socket (a second axled?); stop it first "
                        + "(systemctl stop axled) or configure another socket path")
            }
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw ControlServerError(
                path: path, message: "cannot remove the stale socket file: \(SystemError.text(errno: errno)) (unlink)")
        }
    }

    /// Gives the socket file `group`; a missing group or a refused change is reported, not fatal: the socket still
    /// works for root and the agent's user.
    private func applyGroup(_ group: String) -> Startup {
        guard let entry = getgrnam(group) else {
            return Startup(
                groupID: nil,
                groupProblem: "group '\(group)' does not exist, so only root and the agent's user can use the control "
                    + "socket; create it with 'groupadd --system \(group)'")
        }
        let gid = entry.pointee.gr_gid
        guard chown(path, uid_t.max, gid) == 0 else {
            return Startup(
                groupID: nil,
                groupProblem: "cannot give the control socket to group '\(group)': "
                    + "\(SystemError.text(errno: errno)) (chown); run axled as root or as a member of '\(group)'")
        }
        return Startup(groupID: UInt32(gid), groupProblem: nil)
    }
}

/// The serving thread's state: the listener and the connections still sending their request.
private struct ServeLoop: Sendable {
    struct Connection {
        var fd: Int32
        var peerUID: UInt32?
        var received: [UInt8] = []
        var deadline: Double
    }

    /// What reading a connection produced.
    enum Reading {
        case waiting
        case line(ArraySlice<UInt8>)
        case tooLong
        case closed
    }

    let listener: Int32
    let wakeRead: Int32
    let handler: any ControlHandler
    let policy: ControlPolicy
    let requestTimeout: Double
    /// `diagnostic` requests being answered on threads of their own.
    let asideRequests = AsideCount()

    final class AsideCount: Sendable {
        let value = Atomic<Int>(0)
    }

    mutating func run() {
        var connections: [Connection] = []
        defer {
            for connection in connections { close(connection.fd) }
            close(listener)
            close(wakeRead)
        }
        while true {
            let accepting = connections.count < ControlServer.maximumOpenConnections
            var entries = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if accepting { entries.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            let first = entries.count
            for connection in connections { entries.append(pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)) }
            let timeout: Int32
            if let nearest = connections.map(\.deadline).min() {
                timeout = Int32(max(0, min(60_000, (nearest - monotonicSeconds()) * 1000)).rounded(.up))
            } else {
                timeout = -1
            }
            let ready = poll(&entries, nfds_t(entries.count), timeout)
            if ready < 0 {
                // EINTR is routine; anything else (ENOMEM) is retried after a pause rather than spinning.
                if errno != EINTR { usleep(100_000) }
                continue
            }
            if entries[0].revents != 0 { return }

            var stillOpen: [Connection] = []
            let now = monotonicSeconds()
            for (index, var connection) in connections.enumerated() {
                if entries[first + index].revents != 0 {
                    switch read(&connection) {
                    case .waiting: stillOpen.append(connection)
                    case .line(let line):
                        switch request(line, peerUID: connection.peerUID) {
                        case .failure(let failure): finish(connection, .failure(failure))
                        case .success(let request) where request.isDiagnostic: answerAside(connection, request)
                        case .success(let request): finish(connection, answer(request))
                        }
                    case .tooLong:
                        finish(connection, .failure(ControlFailure(
                            .badRequest,
                            "the request line is longer than \(ControlServer.maximumRequestBytes) bytes; send one JSON "
                                + "object on one line")))
                    case .closed: close(connection.fd)
                    }
                } else if now >= connection.deadline {
                    finish(connection, .failure(ControlFailure(
                        .badRequest,
                        "no complete request line within \(requestTimeout) s; send one JSON object followed by a newline")))
                } else {
                    stillOpen.append(connection)
                }
            }
            connections = stillOpen
            if accepting, entries[1].revents != 0 { acceptConnections(into: &connections) }
        }
    }

    private func acceptConnections(into connections: inout [Connection]) {
        while connections.count < ControlServer.maximumOpenConnections {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }  // EAGAIN: no more waiting; other errors concern that one client only
            UnixSocket.setCloseOnExec(fd)
            UnixSocket.setNonBlocking(fd)
            connections.append(Connection(
                fd: fd, peerUID: UnixSocket.peerUID(fd), deadline: monotonicSeconds() + requestTimeout))
        }
    }

    /// Reads what has arrived, up to the first newline (or the end of input when the client shut down its side).
    private func read(_ connection: inout Connection) -> Reading {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(connection.fd, $0.baseAddress, $0.count) }
            if count > 0 {
                let searchFrom = connection.received.count
                connection.received.append(contentsOf: chunk[0..<count])
                if let newline = connection.received[searchFrom...].firstIndex(of: 0x0A) {
                    guard newline <= ControlServer.maximumRequestBytes else { return .tooLong }
                    var line = connection.received[..<newline]
                    if line.last == 0x0D { line = line.dropLast() }
                    return .line(line)
                }
                if connection.received.count > ControlServer.maximumRequestBytes { return .tooLong }
                continue
            }
            if count == 0 {
                return connection.received.isEmpty ? .closed : .line(connection.received[...])
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .waiting
            default: return .closed
            }
        }
    }

    /// Sends the response line and closes the connection; a client that does not read it within the timeout loses it.
    private func finish(_ connection: Connection, _ response: ControlResponse) {
        let text = response.toJSON().rendered() + "\n"
        _ = UnixSocket.send(connection.fd, Array(text.utf8), until: monotonicSeconds() + requestTimeout)
        close(connection.fd)
    }

    /// The request a line carries, when it is well-formed and this caller may make it.
    private func request(_ line: ArraySlice<UInt8>, peerUID: UInt32?) -> Result<ControlRequest, ControlFailure> {
        guard let text = String(validating: line, as: UTF8.self) else {
            return .failure(ControlFailure(.badRequest, "the request line is not valid UTF-8"))
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            return .failure(ControlFailure(.badRequest, "the request line is not JSON: \(error)"))
        }
        let request: ControlRequest
        do {
            request = try ControlRequest(json: document)
        } catch {
            return .failure(error)
        }
        // Without credentials (which Linux always provides) the caller counts as nobody in particular.
        let uid = peerUID ?? UInt32.max
        guard policy.permits(request, peerUID: uid) else { return .failure(policy.refusal(request, peerUID: uid)) }
        return .success(request)
    }

    /// A `diagnostic` request waits for an ECU: it is answered on a thread of its own, so that `axle status` from
    /// another terminal is not held up meanwhile. At most `ControlServer.maximumDiagnosticRequests` at once.
    private func answerAside(_ connection: Connection, _ request: ControlRequest) {
        guard asideRequests.value.add(1, ordering: .relaxed).newValue <= ControlServer.maximumDiagnosticRequests else {
            asideRequests.value.subtract(1, ordering: .relaxed)
            return finish(connection, .failure(ControlFailure(
                .failed, "\(ControlServer.maximumDiagnosticRequests) diagnostic requests are under way already; try again")))
        }
        let loop = self
        startDedicatedThread(name: "control diagnostic") {
            loop.finish(connection, loop.answer(request))
            loop.asideRequests.value.subtract(1, ordering: .relaxed)
        }
    }

    /// The response to one request the caller may make.
    private func answer(_ request: ControlRequest) -> ControlResponse {
        do {
            switch request {
            case .status: return .success(try handler.status().toJSON())
            case .signals(let filter):
                return .success(try handler.signals().filtered(by: filter.flatMap(SignalFilter.init)).toJSON())
            case .outbox: return .success(try handler.outbox().toJSON())
            case .events(let limit):
                var report = try handler.events(limit: limit)
                report.events = Array(report.events.prefix(limit))
                return .success(report.toJSON())
            case .rules: return .success(try handler.rules().toJSON())
            case .setRule(let name, let enabled): return .success(try handler.setRule(name: name, enabled: enabled).toJSON())
            case .features: return .success(try handler.features().toJSON())
            case .configuration: return .success(try handler.configurationState().toJSON())
            case .commands(let limit):
                var report = try handler.commands(limit: limit)
                report.commands = Array(report.commands.prefix(limit))
                return .success(report.toJSON())
            case .diagnostic(let ecu, let data, let timeout):
                return .success(try handler.diagnostic(ecu: ecu, data: data, timeoutSeconds: timeout).toJSON())
            }
        } catch let failure as ControlFailure {
            return .failure(failure)
        } catch {
            return .failure(ControlFailure(.failed, "the agent could not answer '\(request.name)': \(error)"))
        }
    }
}
