import AgentCore
import AxleBase
import FirmwareProfile
import MQTTUplink

#if canImport(Glibc)
import Glibc
#endif

/// The GNSS receiver through gpsd's JSON protocol on its TCP socket (not libgps, whose C API changed without a major
/// version): connects, asks for JSON reports with `?WATCH`, and turns each report into samples of the catalog signals
/// `[location]` names, handed to the pipeline through the external-sample inbox and stamped on the agent's clock.
///
/// gpsd absent at start, killed or restarting is routine for a vehicle: the service reconnects with full-jitter
/// backoff (0.5 s doubling to 10 s) on its own thread, and nothing else waits for it. The decisions (what a report
/// means, the fix state) are `LocationTracker`'s; this is the socket around it.
final class GPSDLocationService: BlockingService {
    let name = "location"
    private let host: String
    private let port: Int
    private let catalog: LocationCatalog
    private let inbox: ExternalSampleInbox
    private let state: AgentState
    private let log: AgentLog
    private let backoff = BackoffPolicy(baseSeconds: 0.5, capSeconds: 10)
    /// How long one connection attempt may take; a read waits at most this before looking at the stop token.
    static let connectTimeoutMilliseconds: Int32 = 2000
    static let pollMilliseconds: Int32 = 200
    /// While a receiver is open gpsd sends a report about once a second, fix or not; a connection silent for this long
    /// then is taken as dead and reopened (a gpsd that hangs). Without a receiver gpsd rightly sends nothing.
    static let silenceSeconds = 10.0

    init(host: String, port: Int, profile: FirmwareProfile, inbox: ExternalSampleInbox, state: AgentState, log: AgentLog) {
        self.host = host
        self.port = port
        self.catalog = LocationCatalog(profile: profile)
        self.inbox = inbox
        self.state = state
        self.log = log
    }

    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func run(until stop: StopToken) {
        var tracker = LocationTracker(gpsd: address, clock: SystemClock())
        state.publishLocation(tracker.status)
        var random = SystemRandomNumberGenerator()
        var failures = 0
        var lastFailure = ""
        while !stop.isStopRequested {
            let descriptor: Int32
            do {
                descriptor = try openConnection(stop: stop)
            } catch {
                // The first failure and each new reason at notice level; the retries in between at debug.
                let reason = "\(error)"
                let delay = backoff.delay(attempt: failures, using: &random)
                log(reason == lastFailure ? .debug : .notice, "location",
                    "cannot connect to gpsd at \(address): \(reason); retrying in \(Agent.formatted(delay)) s")
                lastFailure = reason
                failures += 1
                if stop.wait(seconds: delay) { break }
                continue
            }
            tracker.connected()
            state.publishLocation(tracker.status)
            log(.info, "location", "connected to gpsd at \(address)")
            let reason = session(descriptor, tracker: &tracker, stop: stop)
            close(descriptor)
            deliver(tracker.connectionLost())
            state.publishLocation(tracker.status)
            if stop.isStopRequested { break }
            log(.notice, "location", "gpsd at \(address): \(reason); reconnecting")
            failures = 0
            lastFailure = ""
            if stop.wait(seconds: backoff.delay(attempt: 0, using: &random)) { break }
        }
    }

    func interrupt() {}

    /// Reads reports until the connection ends or a stop is requested; returns why it ended.
    private func session(_ descriptor: Int32, tracker: inout LocationTracker, stop: StopToken) -> String {
        var splitter = GPSDLineSplitter()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var lastRead = monotonicSeconds()
        var lastPublished = 0.0
        guard sendAll(descriptor, GPSDReport.watchCommand) else { return "sending ?WATCH failed: \(SystemError.text(errno: errno))" }
        while !stop.isStopRequested {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Self.pollMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return "poll failed: \(SystemError.text(errno: errno))"
            }
            let now = monotonicSeconds()
            if ready == 0 {
                if tracker.status.receiver != nil, now - lastRead > Self.silenceSeconds {
                    return "no report for \(Int(Self.silenceSeconds)) s from the receiver \(UntrustedText.quoted(tracker.status.receiver ?? ""))"
                }
                continue
            }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return "gpsd closed the connection" }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return "read failed: \(SystemError.text(errno: errno))"
            }
            lastRead = now
            var readings: [LocationReading] = []
            let overlong = splitter.overlongLines
            splitter.append(buffer[..<count]) { line in
                guard let report = GPSDReport.parse(line: line) else {
                    if !line.isEmpty { tracker.skippedLine() }
                    return
                }
                if case .device(let path, false) = report {
                    log(.notice, "location", "gpsd reports the receiver \(UntrustedText.quoted(path)) gone")
                }
                readings += tracker.receive(report)
            }
            for _ in overlong..<splitter.overlongLines { tracker.skippedLine() }
            deliver(readings)
            // The control socket's view: after each report that changed a value, else at most four times a second.
            if now - lastPublished >= 0.25 || !readings.isEmpty {
                lastPublished = now
                state.publishLocation(tracker.status)
            }
        }
        return "stopped"
    }

    private func deliver(_ readings: [LocationReading]) {
        guard !readings.isEmpty else { return }
        let refused = inbox.offer(catalog.samples(readings, timeMicros: wallClockMillis() &* 1000))
        if refused > 0 { log(.warning, "location", "the pipeline's inbox is full: \(refused) location samples dropped") }
    }

    private func sendAll(_ descriptor: Int32, _ text: String) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes { send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    /// A TCP connection to gpsd, each address of the host tried in turn, each within the connect timeout.
    private func openConnection(stop: StopToken) throws(GPSDConnectionError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw GPSDConnectionError(String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            entry = current.pointee.ai_next
            let descriptor = socket(current.pointee.ai_family, current.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), current.pointee.ai_protocol)
            guard descriptor >= 0 else {
                reason = SystemError.text(errno: errno)
                continue
            }
            if connect(descriptor, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                // In slices, so that a stop during a slow connect is not held up past the shutdown budget.
                var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                var waited: Int32 = 0
                var ready: Int32 = 0
                while waited < Self.connectTimeoutMilliseconds, !stop.isStopRequested {
                    ready = poll(&poller, 1, Self.pollMilliseconds)
                    if ready != 0 && !(ready < 0 && errno == EINTR) { break }
                    waited += Self.pollMilliseconds
                }
                if ready == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error == 0 {
                        // A peer that vanished without a FIN (a gpsd host that lost power) is found by keepalive.
                        var on: Int32 = 1
                        setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
                        return descriptor
                    }
                    reason = SystemError.text(errno: error)
                } else {
                    reason = "no answer within \(Self.connectTimeoutMilliseconds / 1000) s"
                }
            } else {
                reason = SystemError.text(errno: errno)
            }
            close(descriptor)
        }
        throw GPSDConnectionError(reason)
    }
}

struct GPSDConnectionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
