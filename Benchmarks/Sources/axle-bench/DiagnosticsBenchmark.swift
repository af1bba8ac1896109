import ArgumentParser
import CANBus
import CANFrames
import Diagnostics

#if canImport(Glibc)
import Glibc
#endif

/// The scan tool's OBD-II polling against one simulated ECU, on a bus in memory: the build machines' kernel has no
/// CAN (and UML's system calls are too slow to time), so the tester is Axle's own `FunctionalISOTPChannel` (the code
/// `axle diag pids` runs), and the ECU is a thread running the Diagnostics ISO-TP state machines, joined by
/// `MemoryCANBus`, which delivers each frame after its time on the wire at the bus's bitrate (one frame at a time).
/// What this leaves out: the kernel's socket path (a system call per frame each way) and a real controller.
///
/// Prints three results: `diag-pids` (PIDs per second asking up to six per request, the ECU answering after
/// `--ecu-delay-ms`), `diag-latency` (request to whole answer, p50/p99), `diag-flow-control` (a first frame's
/// arrival to the tester's flow control going out, p50/p99). `--link socketpair` joins the two by a Unix socket pair
/// instead (a system call per frame each way, the reader woken by the kernel; no wire time), and the results' names
/// end in `-socketpair`.
struct DiagnosticsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "OBD-II polling against a simulated ECU over an in-memory bus: PIDs/s, request latency, flow-control latency."
    )

    @Option(help: "How long to poll.")
    var seconds: Double = 5

    @Option(name: .customLong("ecu-delay-ms"), help: "How long the simulated ECU takes before it answers.")
    var ecuDelayMilliseconds: Double = 5

    @Option(help: "The bus's bitrate: each frame takes its bits' time on the wire.")
    var bitrate: Int = 500_000

    @Option(name: .customLong("pids-per-request"), help: "PIDs asked per request (at most 6).")
    var pidsPerRequest: Int = 6

    /// What joins the tester and the ECU.
    enum Link: String, ExpressibleByArgument {
        /// `MemoryCANBus`: frames take their wire time at `--bitrate`.
        case memory
        /// `SocketPairLink`: a Unix socket pair, so that every frame is a system call each way and the reader is
        /// woken by the kernel as a CAN socket's is; no wire time.
        case socketpair
    }

    @Option(help: "memory (frames take their wire time) or socketpair (a system call per frame, no wire time).")
    var link: Link = .memory

    func validate() throws {
        guard (1...6).contains(pidsPerRequest) else { throw ValidationError("--pids-per-request is 1 to 6") }
        guard seconds > 0, ecuDelayMilliseconds >= 0, bitrate > 0 else { throw ValidationError("positive values only") }
    }

    /// The PIDs asked, in turn (those of the simulated ECU: 1- and 2-byte values).
    static let pids: [UInt8] = [0x05, 0x0C, 0x0D, 0x0F, 0x10, 0x11, 0x04, 0x0B, 0x1F, 0x2F, 0x42, 0x46]

    func run() throws {
        let tester: any CANFrameLink
        let ecuSide: any CANFrameLink
        let flowControlLog: FlowControlLog
        switch link {
        case .memory:
            let bus = MemoryCANBus(bitsPerFrame: 111, bitrate: Double(bitrate))
            (tester, ecuSide, flowControlLog) = (bus.endpoint(name: "tester"), bus.endpoint(name: "ecu"), bus.log)
        case .socketpair:
            let pair = try SocketPairLink.pair()
            (tester, ecuSide, flowControlLog) = (pair.tester, pair.ecu, pair.tester.log)
        }
        let ecu = SimulatedOBDECU(link: ecuSide, delay: ecuDelayMilliseconds / 1000)
        let ecuThread = BenchmarkThread { ecu.run() }
        let channel = FunctionalISOTPChannel(link: tester, interface: "mem0", padding: 0xCC)
        var settings = FunctionalExchange.Settings()
        settings.window = 0.5

        // Warm-up: the first request finds the ECU (the window), as `axle diag pids` does.
        _ = try channel.request([0x01, 0x05], addressing: .standard, settings: settings)
        flowControlLog.reset()

        var latencies: [Double] = []
        var pidsRead = 0
        var failures = 0
        var next = 0
        let start = ClockSample.now()
        while start.wallSecondsElapsed() < seconds {
            let asked = (0..<pidsPerRequest).map { Self.pids[(next + $0) % Self.pids.count] }
            next += pidsPerRequest
            let sent = ClockSample.now()
            let answers = try channel.request([0x01] + asked, addressing: .standard, expecting: [0x7E8], settings: settings)
            latencies.append(sent.wallSecondsElapsed() * 1000)
            guard let message = answers.first?.message, let values = OBDMessage.currentData(inAnswer: message), values.count == asked.count else {
                failures += 1
                continue
            }
            pidsRead += values.count
        }
        let elapsed = Elapsed(from: start, to: .now())
        ecu.stop()
        ecuThread.join()

        let suffix = link == .memory ? "" : "-\(link.rawValue)"
        var pidsLine = ResultLine(benchmark: "diag-pids" + suffix)
        pidsLine.add("pids_per_s", .number(Double(pidsRead) / elapsed.wallSeconds))
        pidsLine.add("requests", .integer(latencies.count))
        pidsLine.add("failures", .integer(failures))
        pidsLine.add("pids_per_request", .integer(pidsPerRequest))
        pidsLine.add("ecu_delay_ms", .number(ecuDelayMilliseconds))
        pidsLine.add("bitrate", .integer(bitrate))
        pidsLine.add("seconds", .number(elapsed.wallSeconds))
        pidsLine.add("cpu_seconds", .number(elapsed.cpuSeconds))
        pidsLine.add("link", .string(link.rawValue))
        pidsLine.add("cpus", .string(allowedCPUs()))
        pidsLine.print()

        var latencyLine = ResultLine(benchmark: "diag-latency" + suffix)
        latencyLine.add("p50_ms", .number(percentile(latencies, 0.5)))
        latencyLine.add("p99_ms", .number(percentile(latencies, 0.99)))
        latencyLine.add("max_ms", .number(latencies.max() ?? .nan))
        latencyLine.add("samples", .integer(latencies.count))
        latencyLine.add("ecu_delay_ms", .number(ecuDelayMilliseconds))
        latencyLine.add("frames_per_answer", .integer(flowControlLog.framesPerAnswer))
        latencyLine.add("link", .string(link.rawValue))
        latencyLine.add("cpus", .string(allowedCPUs()))
        latencyLine.print()

        let flowControl = flowControlLog.microseconds()
        var flowLine = ResultLine(benchmark: "diag-flow-control" + suffix)
        flowLine.add("p50_us", .number(percentile(flowControl, 0.5)))
        flowLine.add("p99_us", .number(percentile(flowControl, 0.99)))
        flowLine.add("max_us", .number(flowControl.max() ?? .nan))
        flowLine.add("samples", .integer(flowControl.count))
        flowLine.add("link", .string(link.rawValue))
        flowLine.add("cpus", .string(allowedCPUs()))
        flowLine.print()
    }
}

/// The value below which `fraction` of `values` lie (nearest rank).
func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
}

/// Monotonic seconds (CLOCK_MONOTONIC).
func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// When first frames went out or arrived and when the tester's flow control left, and the frames of the last answer.
///
/// `@unchecked Sendable`: every field is guarded by `mutex`.
final class FlowControlLog: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var firstFrames: [Double] = []
    private var latencies: [Double] = []
    private var answerFrames = 0
    private var lastAnswerFrames = 0

    init() { pthread_mutex_init(&mutex, nil) }

    /// A first frame is there for the tester (delivered, or written to its socket) at `time`.
    func firstFrame(at time: Double) {
        pthread_mutex_lock(&mutex)
        firstFrames.append(time)
        pthread_mutex_unlock(&mutex)
    }

    /// The tester's flow control leaves at `time`: it answers the oldest first frame not yet answered.
    func flowControl(at time: Double) {
        pthread_mutex_lock(&mutex)
        if !firstFrames.isEmpty { latencies.append((time - firstFrames.removeFirst()) * 1e6) }
        pthread_mutex_unlock(&mutex)
    }

    /// The ECU sent a frame whose PCI nibble is `pci`.
    func ecuFrame(pci: UInt8) {
        pthread_mutex_lock(&mutex)
        answerFrames = pci <= 1 ? 1 : answerFrames + (pci == 2 ? 1 : 0)
        lastAnswerFrames = answerFrames
        pthread_mutex_unlock(&mutex)
    }

    var framesPerAnswer: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return lastAnswerFrames
    }

    func reset() {
        pthread_mutex_lock(&mutex)
        firstFrames.removeAll()
        latencies.removeAll()
        pthread_mutex_unlock(&mutex)
    }

    func microseconds() -> [Double] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return latencies
    }
}

/// A CAN bus in memory between two endpoints: a frame sent is delivered to the other endpoint once the bus has
/// carried it (`bitsPerFrame` at `bitrate`, one frame at a time, in order). First frames count as there for the tester
/// from their delivery time.
///
/// `@unchecked Sendable`: every field is guarded by `mutex`.
final class MemoryCANBus: @unchecked Sendable {
    let frameSeconds: Double
    let log = FlowControlLog()
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var queues: [String: [(time: Double, frame: CANFrame)]] = [:]
    private var busFreeAt = 0.0

    init(bitsPerFrame: Int, bitrate: Double) {
        frameSeconds = Double(bitsPerFrame) / bitrate
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_mutex_init(&mutex, nil)
    }

    func endpoint(name: String) -> Endpoint {
        pthread_mutex_lock(&mutex)
        queues[name] = []
        pthread_mutex_unlock(&mutex)
        return Endpoint(bus: self, name: name)
    }

    fileprivate func send(_ frame: CANFrame, from sender: String) {
        pthread_mutex_lock(&mutex)
        let now = monotonicNow()
        busFreeAt = max(busFreeAt, now) + frameSeconds
        let pci = frame.data.first.map { $0 >> 4 } ?? 0
        if sender == "tester", pci == 3 { log.flowControl(at: now) }
        if sender == "ecu" { log.ecuFrame(pci: pci) }
        for name in queues.keys where name != sender { queues[name]!.append((busFreeAt, frame)) }
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    fileprivate func receive(_ name: String, timeoutMilliseconds: Int32, into batch: inout CANSocket.Batch) {
        batch.frames.removeAll(keepingCapacity: true)
        let deadline = monotonicNow() + Double(max(timeoutMilliseconds, 0)) / 1000
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while true {
            let now = monotonicNow()
            var queue = queues[name]!
            while let head = queue.first, head.time <= now {
                queue.removeFirst()
                if name == "tester", head.frame.data.first.map({ $0 >> 4 }) == 1 { log.firstFrame(at: head.time) }
                batch.frames.append(head.frame)
            }
            queues[name] = queue
            if !batch.frames.isEmpty || now >= deadline { return }
            let wake = min(deadline, queue.first?.time ?? deadline)
            var time = timespec(tv_sec: Int(wake), tv_nsec: Int((wake - Double(Int(wake))) * 1e9))
            pthread_cond_timedwait(&condition, &mutex, &time)
        }
    }

    /// One side of the bus, as a `CANFrameLink`.
    final class Endpoint: CANFrameLink, @unchecked Sendable {
        let bus: MemoryCANBus
        let name: String

        init(bus: MemoryCANBus, name: String) {
            self.bus = bus
            self.name = name
        }

        func send(_ frame: CANFrame, timeoutMilliseconds: Int32) throws(CANBusError) {
            bus.send(frame, from: name)
        }

        func receive(timeoutMilliseconds: Int32, into batch: inout CANSocket.Batch, interfaceName: String?) throws(CANBusError) {
            bus.receive(name, timeoutMilliseconds: timeoutMilliseconds, into: &batch)
        }
    }
}

/// One end of a Unix socket pair (SOCK_SEQPACKET) carrying CAN frames as 14-byte packets (id, extended flag, length,
/// 8 data bytes): each frame is a system call each way and the reader waits in `poll`, as on a CAN socket. First
/// frames count as there for the tester from the moment the ECU wrote them.
///
/// `@unchecked Sendable`: one thread uses each end; `log` is thread-safe.
final class SocketPairLink: CANFrameLink, @unchecked Sendable {
    let fd: Int32
    let isTester: Bool
    let log: FlowControlLog

    private init(fd: Int32, isTester: Bool, log: FlowControlLog) {
        self.fd = fd
        self.isTester = isTester
        self.log = log
    }

    deinit { close(fd) }

    static func pair() throws -> (tester: SocketPairLink, ecu: SocketPairLink) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &fds) == 0 else {
            throw ValidationError("socketpair failed: errno \(errno)")
        }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let log = FlowControlLog()
        return (SocketPairLink(fd: fds[0], isTester: true, log: log), SocketPairLink(fd: fds[1], isTester: false, log: log))
    }

    func send(_ frame: CANFrame, timeoutMilliseconds: Int32) throws(CANBusError) {
        let data = frame.data
        var packet = [UInt8](repeating: 0, count: 14)
        packet[0] = UInt8(frame.id >> 24 & 0xFF)
        packet[1] = UInt8(frame.id >> 16 & 0xFF)
        packet[2] = UInt8(frame.id >> 8 & 0xFF)
        packet[3] = UInt8(frame.id & 0xFF)
        packet[4] = frame.isExtended ? 1 : 0
        packet[5] = UInt8(data.count)
        for (index, byte) in data.prefix(8).enumerated() { packet[6 + index] = byte }
        let pci = data.first.map { $0 >> 4 } ?? 0
        let now = monotonicNow()
        if isTester, pci == 3 { log.flowControl(at: now) }
        if !isTester {
            log.ecuFrame(pci: pci)
            if pci == 1 { log.firstFrame(at: now) }
        }
        guard write(fd, packet, packet.count) == packet.count else {
            throw CANBusError(interface: "socketpair", operation: "send", code: errno)
        }
    }

    func receive(timeoutMilliseconds: Int32, into batch: inout CANSocket.Batch, interfaceName: String?) throws(CANBusError) {
        batch.frames.removeAll(keepingCapacity: true)
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else { return }
        var packet = [UInt8](repeating: 0, count: 14)
        while read(fd, &packet, packet.count) == packet.count {
            let id = UInt32(packet[0]) << 24 | UInt32(packet[1]) << 16 | UInt32(packet[2]) << 8 | UInt32(packet[3])
            batch.frames.append(CANFrame(id: id, isExtended: packet[4] == 1, data: packet[6..<(6 + Int(min(packet[5], 8)))]))
        }
    }
}

/// An engine ECU answering OBD-II mode 01 on 0x7E8 (functional requests on 0x7DF, flow control on 0x7E0), built on
/// the Diagnostics ISO-TP state machines: it waits `delay` before each answer, as an ECU's software does.
///
/// `@unchecked Sendable`: it runs on its own thread; the tester's thread only sets `stopped`, a flag this thread
/// reads once a loop (a late read costs one more 50 ms wait).
final class SimulatedOBDECU: @unchecked Sendable {
    let link: any CANFrameLink
    let delay: Double
    private var stopped = false
    private var batch = CANSocket.Batch()

    static let values: [UInt8: [UInt8]] = [
        0x04: [0x80], 0x05: [123], 0x0B: [35], 0x0C: [0x1A, 0xF8], 0x0D: [50], 0x0F: [60], 0x10: [0x01, 0xF4],
        0x11: [0x33], 0x1F: [0x02, 0x58], 0x2F: [0xBF], 0x42: [0x36, 0xB0], 0x46: [55],
    ]

    init(link: any CANFrameLink, delay: Double) {
        self.link = link
        self.delay = delay
    }

    func stop() { stopped = true }

    func run() {
        while !stopped {
            try? link.receive(timeoutMilliseconds: 50, into: &batch, interfaceName: nil)
            for frame in batch.frames where frame.id == 0x7DF {
                guard case .single(let request)? = try? ISOTPFrame.parse(frame.data), request.first == 0x01 else { continue }
                var answer: [UInt8] = [0x41]
                for pid in request.dropFirst() {
                    if let value = Self.values[pid] { answer += [pid] + value }
                }
                let due = monotonicNow() + delay
                while monotonicNow() < due {
                    let remaining = due - monotonicNow()
                    if remaining > 0 { usleep(UInt32(remaining * 1e6)) }
                }
                send(answer)
            }
        }
    }

    private func send(_ message: [UInt8]) {
        guard var sender = try? ISOTPSender(message: message) else { return }
        while true {
            switch sender.next(now: monotonicNow()) {
            case .send(let frame):
                try? link.send(CANFrame(id: 0x7E8, data: frame.encoded(padding: 0x55)), timeoutMilliseconds: 1000)
            case .waitUntil(let time):
                let remaining = time - monotonicNow()
                if remaining > 0 { usleep(UInt32(remaining * 1e6)) }
            case .awaitFlowControl(let deadline):
                let milliseconds = Int32(max(1, (deadline - monotonicNow()) * 1000))
                try? link.receive(timeoutMilliseconds: milliseconds, into: &batch, interfaceName: nil)
                for frame in batch.frames {
                    // (The tester sends nothing else while an answer is under way.)
                    if frame.id == 0x7E0, let parsed = try? ISOTPFrame.parse(frame.data) {
                        sender.receive(parsed, now: monotonicNow())
                    }
                }
            case .done, .failed:
                return
            }
        }
    }
}

/// A thread for the simulated ECU (the tester runs on the main thread).
final class BenchmarkThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<BenchmarkThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, context)
    }

    func join() { pthread_join(thread, nil) }
}
