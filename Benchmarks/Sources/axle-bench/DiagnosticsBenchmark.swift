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
/// arrival to the tester's flow control going out, p50/p99).
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

    func validate() throws {
        guard (1...6).contains(pidsPerRequest) else { throw ValidationError("--pids-per-request is 1 to 6") }
        guard seconds > 0, ecuDelayMilliseconds >= 0, bitrate > 0 else { throw ValidationError("positive values only") }
    }

    /// The PIDs asked, in turn (those of the simulated ECU: 1- and 2-byte values).
    static let pids: [UInt8] = [0x05, 0x0C, 0x0D, 0x0F, 0x10, 0x11, 0x04, 0x0B, 0x1F, 0x2F, 0x42, 0x46]

    func run() throws {
        let bus = MemoryCANBus(bitsPerFrame: 111, bitrate: Double(bitrate))
        let tester = bus.endpoint(name: "tester")
        let ecuSide = bus.endpoint(name: "ecu")
        let ecu = SimulatedOBDECU(link: ecuSide, delay: ecuDelayMilliseconds / 1000)
        let ecuThread = BenchmarkThread { ecu.run() }
        let channel = FunctionalISOTPChannel(link: tester, interface: "mem0", padding: 0xCC)
        var settings = FunctionalExchange.Settings()
        settings.window = 0.5

        // Warm-up: the first request finds the ECU (the window), as `axle diag pids` does.
        _ = try channel.request([0x01, 0x05], addressing: .standard, settings: settings)
        bus.resetFlowControlTimes()

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

        var pidsLine = ResultLine(benchmark: "diag-pids")
        pidsLine.add("pids_per_s", .number(Double(pidsRead) / elapsed.wallSeconds))
        pidsLine.add("requests", .integer(latencies.count))
        pidsLine.add("failures", .integer(failures))
        pidsLine.add("pids_per_request", .integer(pidsPerRequest))
        pidsLine.add("ecu_delay_ms", .number(ecuDelayMilliseconds))
        pidsLine.add("bitrate", .integer(bitrate))
        pidsLine.add("seconds", .number(elapsed.wallSeconds))
        pidsLine.add("cpu_seconds", .number(elapsed.cpuSeconds))
        pidsLine.add("bus", .string("in memory (no kernel CAN on the build machines)"))
        pidsLine.add("cpus", .string(allowedCPUs()))
        pidsLine.print()

        var latencyLine = ResultLine(benchmark: "diag-latency")
        latencyLine.add("p50_ms", .number(percentile(latencies, 0.5)))
        latencyLine.add("p99_ms", .number(percentile(latencies, 0.99)))
        latencyLine.add("max_ms", .number(latencies.max() ?? .nan))
        latencyLine.add("samples", .integer(latencies.count))
        latencyLine.add("ecu_delay_ms", .number(ecuDelayMilliseconds))
        latencyLine.add("frames_per_answer", .integer(bus.framesPerAnswer))
        latencyLine.add("cpus", .string(allowedCPUs()))
        latencyLine.print()

        let flowControl = bus.flowControlMicroseconds()
        var flowLine = ResultLine(benchmark: "diag-flow-control")
        flowLine.add("p50_us", .number(percentile(flowControl, 0.5)))
        flowLine.add("p99_us", .number(percentile(flowControl, 0.99)))
        flowLine.add("max_us", .number(flowControl.max() ?? .nan))
        flowLine.add("samples", .integer(flowControl.count))
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

/// A CAN bus in memory between two endpoints: a frame sent is delivered to the other endpoint once the bus has
/// carried it (`bitsPerFrame` at `bitrate`, one frame at a time, in order). It also records, for the benchmark, when
/// each ISO-TP first frame reached the tester and when the tester's flow control left.
///
/// `@unchecked Sendable`: every field is guarded by `mutex`.
final class MemoryCANBus: @unchecked Sendable {
    let frameSeconds: Double
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var queues: [String: [(time: Double, frame: CANFrame)]] = [:]
    private var busFreeAt = 0.0
    private var firstFrameArrivals: [Double] = []
    private var flowControlLatencies: [Double] = []
    private var answerFrames = 0
    private var lastAnswerFrames = 0

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

    /// Frames of the ECU's last answer (first frame to the last consecutive frame).
    var framesPerAnswer: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return lastAnswerFrames
    }

    func resetFlowControlTimes() {
        pthread_mutex_lock(&mutex)
        firstFrameArrivals.removeAll()
        flowControlLatencies.removeAll()
        pthread_mutex_unlock(&mutex)
    }

    func flowControlMicroseconds() -> [Double] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return flowControlLatencies
    }

    fileprivate func send(_ frame: CANFrame, from sender: String) {
        pthread_mutex_lock(&mutex)
        let now = monotonicNow()
        busFreeAt = max(busFreeAt, now) + frameSeconds
        let pci = frame.data.first.map { $0 >> 4 } ?? 0
        if sender == "tester", pci == 3, !firstFrameArrivals.isEmpty {
            // A flow control from the tester answers the first frame that reached it.
            flowControlLatencies.append((now - firstFrameArrivals.removeFirst()) * 1e6)
        }
        if sender == "ecu" {
            answerFrames = pci == 1 || pci == 0 ? 1 : answerFrames + (pci == 2 ? 1 : 0)
            lastAnswerFrames = answerFrames
        }
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
                if name == "tester", head.frame.data.first.map({ $0 >> 4 }) == 1 { firstFrameArrivals.append(head.time) }
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

/// An engine ECU answering OBD-II mode 01 on 0x7E8 (functional requests on 0x7DF, flow control on 0x7E0), built on
/// the Diagnostics ISO-TP state machines: it waits `delay` before each answer, as an ECU's software does.
///
/// `@unchecked Sendable`: `stopped` is only read and written under the bus's ordering (a flag checked once a loop).
final class SimulatedOBDECU: @unchecked Sendable {
    let link: MemoryCANBus.Endpoint
    let delay: Double
    private var stopped = false
    private var batch = CANSocket.Batch()

    static let values: [UInt8: [UInt8]] = [
        0x04: [0x80], 0x05: [123], 0x0B: [35], 0x0C: [0x1A, 0xF8], 0x0D: [50], 0x0F: [60], 0x10: [0x01, 0xF4],
        0x11: [0x33], 0x1F: [0x02, 0x58], 0x2F: [0xBF], 0x42: [0x36, 0xB0], 0x46: [55],
    ]

    init(link: MemoryCANBus.Endpoint, delay: Double) {
        self.link = link
        self.delay = delay
    }

    func stop() { stopped = true }

    func run() {
        while !stopped {
            link.bus.receive(link.name, timeoutMilliseconds: 50, into: &batch)
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
                link.bus.send(CANFrame(id: 0x7E8, data: frame.encoded(padding: 0x55)), from: link.name)
            case .waitUntil(let time):
                let remaining = time - monotonicNow()
                if remaining > 0 { usleep(UInt32(remaining * 1e6)) }
            case .awaitFlowControl(let deadline):
                let milliseconds = Int32(max(1, (deadline - monotonicNow()) * 1000))
                link.bus.receive(link.name, timeoutMilliseconds: milliseconds, into: &batch)
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
