import AgentCore
import AxleBase
import CANFrames
import Diagnostics
import FirmwareProfile
import Synchronization
import Testing

/// ECUs behind a fake bus on a fake clock: each answers whole requests through a closure, segmented by ISO-TP as a
/// real ECU does (a first frame, then consecutive frames once our flow control came). `receive` moves the clock to the
/// deadline when nothing is due, so the tests never sleep.
final class FakeDiagnosticBus: DiagnosticLink, @unchecked Sendable {
    // Unchecked: the engine's thread is the only one that calls it, except `inject`, which holds the lock.
    struct ECU {
        var requestID: UInt32
        var responseID: UInt32
        /// nil: silent.
        var answer: ([UInt8]) -> [UInt8]?
        var receiver = ISOTPReceiver()
        var sender: ISOTPSender?
    }

    let clock: FakeClock
    var ecus: [ECU]
    /// Every request reassembled, with its ECU's request id, in order.
    private(set) var requests: [(id: UInt32, bytes: [UInt8])] = []
    /// Frames sent and heard, both ways.
    private(set) var frameCount = 0
    /// Set when a request reached an ECU that had not finished answering the one before.
    private(set) var overlaps = 0
    private var queued: [(due: Double, frame: CANFrame)] = []
    private let injected = Mutex<[CANFrame]>([])
    /// Simulated ECU answer time.
    let answerDelay = 0.005

    init(clock: FakeClock, ecus: [ECU]) {
        self.clock = clock
        self.ecus = ecus
    }

    func inject(_ frame: CANFrame) { injected.withLock { $0.append(frame) } }

    func send(_ frame: CANFrame) throws(DiagnosticLinkError) {
        frameCount += 1
        guard let index = ecus.firstIndex(where: { $0.requestID == frame.id }),
            let parsed = try? ISOTPFrame.parse(frame.data) else { return }
        let now = clock.monotonicSeconds()
        if case .flowControl = parsed {
            ecus[index].sender?.receive(parsed, now: now)
            pump(index, at: now)
            return
        }
        guard let request = ecus[index].receiver.receive(parsed, now: now).message else { return }
        requests.append((frame.id, request))
        if ecus[index].sender != nil || queued.contains(where: { $0.frame.id == ecus[index].responseID }) { overlaps += 1 }
        guard let answer = ecus[index].answer(request), var sender = try? ISOTPSender(message: answer) else { return }
        if case .send(let first) = sender.next(now: now) { enqueue(first, ecu: index, at: now + answerDelay) }
        ecus[index].sender = sender.isDone ? nil : sender
    }

    private func pump(_ index: Int, at time: Double) {
        guard var sender = ecus[index].sender else { return }
        var at = time + 0.001
        loop: while true {
            switch sender.next(now: at) {
            case .send(let frame):
                enqueue(frame, ecu: index, at: at)
                at += 0.001
            case .waitUntil(let until): at = until
            default: break loop
            }
        }
        ecus[index].sender = sender.isDone ? nil : sender
    }

    private func enqueue(_ frame: ISOTPFrame, ecu index: Int, at time: Double) {
        let micros = Int64(time * 1e6)
        queued.append((time, CANFrame(
            id: ecus[index].responseID, data: frame.encoded(padding: 0xAA),
            timestamp: CANTimestamp(seconds: micros / 1_000_000, nanoseconds: UInt32(micros % 1_000_000) * 1000), interface: "can")))
    }

    func receive(until deadline: Double, into frames: inout [CANFrame]) throws(DiagnosticLinkError) {
        let extra = injected.withLock { list in
            defer { list.removeAll() }
            return list
        }
        if !extra.isEmpty {
            frames += extra
            return
        }
        queued.sort { $0.due < $1.due }
        guard let next = queued.first, next.due <= deadline else {
            let now = clock.monotonicSeconds()
            if deadline > now { clock.advance(seconds: deadline - now) }
            return
        }
        let now = clock.monotonicSeconds()
        if next.due > now { clock.advance(seconds: next.due - now) }
        queued.removeFirst()
        frameCount += 1
        frames.append(next.frame)
    }
}

/// Records what the engine hands out.
final class RecordingDiagnosticsOutput: DiagnosticsOutput, @unchecked Sendable {
    // Unchecked: written on the engine's thread, read by the test after it stopped.
    var samples: [ExternalSample] = []
    var alerts: [DiagnosticAlert] = []
    var problems: [String] = []
    func deliver(_ samples: [ExternalSample]) { self.samples += samples }
    func alert(_ alert: DiagnosticAlert) { alerts.append(alert) }
    func problem(_ text: String) { problems.append(text) }
}

enum DiagnosticsFixture {
    static func ecu(_ name: String, _ request: UInt32, protocol kind: DiagnosticECU.DiagnosticProtocol = .obd, faults: Double? = nil) -> DiagnosticECU {
        DiagnosticECU(
            name: name, bus: "can", requestID: request, responseID: request + 8, isExtended: false, diagnosticProtocol: kind,
            padding: 0x55, responseTimeoutSeconds: 0.1,
            faults: faults.map { .init(intervalSeconds: $0, includePending: false, statusMask: 0x08) }, line: 1)
    }

    static func profile(
        ecus: [DiagnosticECU], parameters: [DiagnosticParameter], framesPerSecond: Double = 1000, ignition: String? = nil,
        dm1: DM1Listening? = nil
    ) -> FirmwareProfile {
        var catalog = parameters.map {
            CatalogSignal(name: $0.name, bus: "", message: "", signal: "", unit: $0.unit, staleAfterSeconds: 3, diagnostic: $0.sourceText, line: 1)
        }
        if let ignition {
            catalog.append(CatalogSignal(name: ignition, bus: "can", message: "M", signal: "S", unit: "", staleAfterSeconds: 1, line: 1))
        }
        let configuration = DiagnosticsConfiguration(
            ecus: ecus, parameters: parameters, ignition: ignition, framesPerSecond: framesPerSecond, budgetText: "test",
            dm1: dm1, line: 1)
        return FirmwareProfile(
            name: "test", platform: "test", firmware: "1", directory: "/", buses: [], catalog: catalog, rules: [], events: [],
            commands: [], diagnostics: configuration)
    }

    static func pid(_ pid: UInt8, ecu: String = "engine", every: Double = 1) -> DiagnosticParameter {
        DiagnosticParameter(
            name: "Vehicle.Private.Pid\(pid)", ecu: ecu, source: .pid(pid), unit: OBDParameter.standard[pid]?.unit ?? "",
            intervalSeconds: every, line: 1)
    }

    /// An OBD-II ECU that answers every standard PID with data bytes all `value`, and mode 03 with `codes`.
    static func obdAnswer(value: UInt8 = 100, codes: @escaping () -> [UInt16] = { [] }) -> ([UInt8]) -> [UInt8]? {
        { request in
            switch request.first {
            case 0x01:
                if request.count > 7 { return [0x7F, 0x01, 0x12] }
                var answer: [UInt8] = [0x41]
                for pid in request.dropFirst() {
                    if pid == 0x01 {
                        let count = UInt8(codes().count)
                        answer += [pid, (count > 0 ? 0x80 : 0) | count, 0, 0, 0]
                    } else if let count = OBDParameter.byteCount(of: pid) {
                        answer += [pid] + Array(repeating: value, count: count)
                    }
                }
                return answer
            case 0x03:
                let list = codes()
                return [0x43, UInt8(list.count)] + list.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
            default:
                return [0x7F, request.first ?? 0, 0x11]
            }
        }
    }
}

@Suite struct DiagnosticsEngineTests {
    typealias Fixture = DiagnosticsFixture

    func engine(
        _ profile: FirmwareProfile, bus: FakeDiagnosticBus, ignition: @escaping () -> Bool? = { nil },
        requests: DiagnosticRequestQueue = DiagnosticRequestQueue()
    ) -> (DiagnosticsEngine, RecordingDiagnosticsOutput) {
        let output = RecordingDiagnosticsOutput()
        let engine = DiagnosticsEngine(
            profile: profile, link: bus, clock: bus.clock, requests: requests, ignition: ignition, output: output)
        return (engine, output)
    }

    func run(_ engine: DiagnosticsEngine, seconds: Double, clock: FakeClock) {
        let end = clock.monotonicSeconds() + seconds
        while clock.monotonicSeconds() < end { engine.turn(maxWaitSeconds: 0.05) }
    }

    @Test("eight PIDs due together go out as 6 + 2 in mode 01 requests, and each value reaches its catalog signal")
    func packing() {
        let clock = FakeClock()
        let pids: [UInt8] = [0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D, 0x0F, 0x11]
        let profile = Fixture.profile(ecus: [Fixture.ecu("engine", 0x7E0)], parameters: pids.map { Fixture.pid($0) })
        let bus = FakeDiagnosticBus(clock: clock, ecus: [.init(requestID: 0x7E0, responseID: 0x7E8, answer: Fixture.obdAnswer())])
        let (engine, output) = engine(profile, bus: bus)
        engine.turn(maxWaitSeconds: 0.05)
        engine.turn(maxWaitSeconds: 0.05)
        #expect(bus.requests.map(\.bytes) == [[0x01, 0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D], [0x01, 0x0F, 0x11]])
        // The first answer (25 bytes) came in a first frame and consecutive frames after our flow control.
        #expect(output.samples.count == 8)
        #expect(output.samples.first { $0.catalogIndex == 1 }?.value == 60, "PID 0x05: 100 − 40 °C")
        #expect(output.samples.first { $0.catalogIndex == 2 }?.value == 300, "PID 0x0A: 3 kPa a bit")
        #expect(output.samples.allSatisfy { $0.origin == .diagnostics && $0.timeMicros > 0 })
        #expect(bus.overlaps == 0)
    }

    @Test("requests from other threads are served between polls, one at a time: no ECU is asked twice at once")
    func askSerializedWithPolls() throws {
        let clock = FakeClock()
        let profile = Fixture.profile(
            ecus: [Fixture.ecu("engine", 0x7E0)], parameters: [Fixture.pid(0x05, every: 0.1), Fixture.pid(0x0C, every: 0.1)])
        let bus = FakeDiagnosticBus(clock: clock, ecus: [.init(requestID: 0x7E0, responseID: 0x7E8, answer: { request in
            request == [0x09, 0x02] ? [0x49, 0x02, 0x01] + Array("1AXLE00DEMOSEDAN1".utf8) : Fixture.obdAnswer()(request)
        })])
        let requests = DiagnosticRequestQueue()
        let (engine, _) = engine(profile, bus: bus, requests: requests)
        #expect(requests.ask(ecu: "engine", request: [0x09, 0x02], timeoutSeconds: 1).outcome == .failed(
            "no diagnostics service runs (the profile has no [diagnostics] ECU, or the agent replays a log)"))
        requests.open(ecus: ["engine"]) {}
        let stop = StopToken()
        let box = UncheckedBox(engine)
        let thread = JoinableThread(name: "engine") {
            while !stop.isStopRequested { box.value.turn(maxWaitSeconds: 0.05) }
            box.value.close()
        }
        let answers = Mutex<[Int: DiagnosticAnswer]>([:])
        let askers = ([[0x09, 0x02], [0x03]] as [[UInt8]]).enumerated().map { index, request in
            JoinableThread(name: "asker \(index)") {
                let answer = requests.ask(ecu: "engine", request: request, timeoutSeconds: 1)
                answers.withLock { $0[index] = answer }
            }
        }
        let unknown = requests.ask(ecu: "gearbox", request: [0x03], timeoutSeconds: 1)
        for asker in askers { _ = asker.join(seconds: 10) }
        stop.requestStop()
        let (vin, codes) = answers.withLock { ($0[0] ?? DiagnosticAnswer(outcome: .failed("none")), $0[1] ?? DiagnosticAnswer(outcome: .failed("none"))) }
        _ = thread.join(seconds: 5)
        #expect(OBDMessage.vin(inAnswer: vin.positive ?? []) == "1AXLE00DEMOSEDAN1", "\(vin)")
        #expect(codes.positive == [0x43, 0x00])
        #expect(unknown.outcome == .failed("unknown ECU 'gearbox'; the profile's ECUs are engine"))
        #expect(bus.requests.count > 2, "polls went on around the requests")
        #expect(bus.overlaps == 0)
        #expect(requests.ask(ecu: "engine", request: [0x03], timeoutSeconds: 1).outcome.isFailure, "refused once closed")
    }

    @Test("the bus-load budget holds: 20 frames/s asked for 10 PIDs every 100 ms spends at most 20 a second (+ one burst)")
    func budget() {
        let clock = FakeClock()
        let parameters = [0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D, 0x0F, 0x11, 0x1F, 0x2F].map { Fixture.pid(UInt8($0), every: 0.1) }
        let profile = Fixture.profile(ecus: [Fixture.ecu("engine", 0x7E0)], parameters: parameters, framesPerSecond: 20)
        let bus = FakeDiagnosticBus(clock: clock, ecus: [.init(requestID: 0x7E0, responseID: 0x7E8, answer: Fixture.obdAnswer())])
        let (engine, output) = engine(profile, bus: bus)
        run(engine, seconds: 30, clock: clock)
        #expect(bus.frameCount <= 20 * 30 + 20, "\(bus.frameCount) frames in 30 s")
        #expect(bus.frameCount >= 20 * 30 * 8 / 10, "the budget is used, not wasted: \(bus.frameCount)")
        #expect(engine.status.frames == bus.frameCount)
        #expect(!output.samples.isEmpty)
    }

    @Test("ignition off: nothing is polled; back on: every value is asked at once")
    func ignitionBackOff() {
        let clock = FakeClock()
        let profile = Fixture.profile(
            ecus: [Fixture.ecu("engine", 0x7E0, faults: 10)], parameters: [Fixture.pid(0x05, every: 60)],
            ignition: "Vehicle.LowVoltageSystemState")
        let bus = FakeDiagnosticBus(clock: clock, ecus: [.init(requestID: 0x7E0, responseID: 0x7E8, answer: Fixture.obdAnswer())])
        let ignition = Mutex<Bool?>(false)
        let (engine, _) = engine(profile, bus: bus, ignition: { ignition.withLock { $0 } })
        run(engine, seconds: 120, clock: clock)
        #expect(bus.requests.isEmpty, "a parked car is left alone: \(bus.requests.map(\.bytes))")
        #expect(engine.status.polling == false)
        ignition.withLock { $0 = true }
        run(engine, seconds: 1, clock: clock)
        #expect(bus.requests.map(\.bytes).contains([0x01, 0x05]), "the PID is asked within a second, not after its 60 s")
        #expect(bus.requests.map(\.bytes).contains([0x03]), "and the fault codes")
        let asked = bus.requests.count
        ignition.withLock { $0 = false }
        run(engine, seconds: 120, clock: clock)
        #expect(bus.requests.count == asked)
    }

    @Test("fault codes: an alert when P0217 appears (MIL on), none while it stays, one when it is cleared")
    func faultSetChanges() {
        let clock = FakeClock()
        let codes = Mutex<[UInt16]>([])
        let profile = Fixture.profile(ecus: [Fixture.ecu("engine", 0x7E0, faults: 5)], parameters: [])
        let bus = FakeDiagnosticBus(clock: clock, ecus: [
            .init(requestID: 0x7E0, responseID: 0x7E8, answer: Fixture.obdAnswer(codes: { codes.withLock { $0 } })),
        ])
        let (engine, output) = engine(profile, bus: bus)
        run(engine, seconds: 12, clock: clock)
        #expect(output.alerts.isEmpty, "no fault at start: nothing to say")
        codes.withLock { $0 = [0x0217] }
        run(engine, seconds: 12, clock: clock)
        codes.withLock { $0 = [0x0217, 0x0300] }
        run(engine, seconds: 6, clock: clock)
        codes.withLock { $0 = [] }
        run(engine, seconds: 6, clock: clock)
        #expect(output.alerts.map { $0.attributes["codes"] } == ["P0217", "P0217,P0300", ""])
        #expect(output.alerts.map { $0.attributes["mil"] } == ["on", "on", "off"])
        #expect(output.alerts.map { $0.attributes["added"] } == ["P0217", "P0300", ""])
        #expect(output.alerts.last?.attributes["cleared"] == "P0217,P0300")
        #expect(output.alerts.allSatisfy { $0.name == "diagnostics.faults_changed" && $0.attributes["ecu"] == "engine" })
        #expect(engine.status.ecus[0].faults.isEmpty && engine.status.ecus[0].mil == "off")
    }

    @Test("a silent ECU times out, is backed off 1, 2, 4 … s and counted; the other ECU is polled all along")
    func silentECU() {
        let clock = FakeClock()
        let profile = Fixture.profile(
            ecus: [Fixture.ecu("engine", 0x7E0), Fixture.ecu("gearbox", 0x7E1)],
            parameters: [Fixture.pid(0x05, every: 0.5), Fixture.pid(0x0D, ecu: "gearbox", every: 0.5)])
        let bus = FakeDiagnosticBus(clock: clock, ecus: [
            .init(requestID: 0x7E0, responseID: 0x7E8, answer: Fixture.obdAnswer()),
            .init(requestID: 0x7E1, responseID: 0x7E9, answer: { _ in nil }),
        ])
        let (engine, output) = engine(profile, bus: bus)
        run(engine, seconds: 20, clock: clock)
        let silent = bus.requests.filter { $0.id == 0x7E1 }.count
        let answered = bus.requests.filter { $0.id == 0x7E0 }.count
        #expect(silent >= 4 && silent <= 6, "1 + 2 + 4 + 8 s of back-off in 20 s: \(silent) requests")
        #expect(answered >= 35, "the engine every 0.5 s: \(answered)")
        #expect(engine.status.ecus[1].timeouts == silent && engine.status.ecus[1].silentCount == silent)
        #expect(output.problems.filter { $0.contains("gearbox") }.count == 1, "one log line, the rest counted: \(output.problems)")
    }

    @Test("a refusal is an answer: counted, no value, no back-off")
    func refusal() {
        let clock = FakeClock()
        let profile = Fixture.profile(ecus: [Fixture.ecu("bms", 0x7E4, protocol: .uds)], parameters: [
            DiagnosticParameter(name: "Vehicle.Private.CellVoltage", ecu: "bms", source: .did(0xF40D, .init(
                start: 1, length: 2, signed: false, littleEndian: false, factor: 0.001, offset: 0)), unit: "V", intervalSeconds: 1, line: 1),
            DiagnosticParameter(name: "Vehicle.Private.Secret", ecu: "bms", source: .did(0xF40E, .init(
                start: 0, length: 1, signed: true, littleEndian: false, factor: 1, offset: 0)), unit: "", intervalSeconds: 1, line: 1),
        ])
        let bus = FakeDiagnosticBus(clock: clock, ecus: [.init(requestID: 0x7E4, responseID: 0x7EC, answer: { request in
            request == [0x22, 0xF4, 0x0D] ? [0x62, 0xF4, 0x0D, 0x00, 0x0E, 0xD8] : [0x7F, 0x22, 0x31]
        })])
        let (engine, output) = engine(profile, bus: bus)
        run(engine, seconds: 5, clock: clock)
        #expect(output.samples.allSatisfy { $0.catalogIndex == 0 && abs(($0.value ?? 0) - 3.8) < 1e-9 }, "0x0ED8 × 0.001 V")
        #expect(output.samples.count >= 4)
        #expect(engine.status.ecus[0].refusals >= 4 && engine.status.ecus[0].timeouts == 0)
        #expect(output.problems.contains { $0.contains("requestOutOfRange (0x31)") })
    }

    @Test("J1939 DM1 by BAM: an alert with lamps and SPN/FMI/OC; silence clears it")
    func dm1() {
        let clock = FakeClock()
        let profile = Fixture.profile(ecus: [], parameters: [], dm1: DM1Listening(bus: "can", silenceSeconds: 3, line: 1))
        let bus = FakeDiagnosticBus(clock: clock, ecus: [])
        let (engine, output) = engine(profile, bus: bus)
        // Two faults (10 bytes): amber lamp; SPN 111 FMI 1 OC 1, SPN 110 FMI 0 OC 2.
        let data: [UInt8] = [0x04, 0xFF, 111, 0, 0x01, 1, 110, 0, 0x00, 2]
        for _ in 0..<3 {
            bus.inject(CANFrame(id: 0x1CECFF00, isExtended: true, data: [0x20, 10, 0, 2, 0xFF, 0xCA, 0xFE, 0x00], interface: "can"))
            bus.inject(CANFrame(id: 0x1CEBFF00, isExtended: true, data: [1] + data[0..<7], interface: "can"))
            bus.inject(CANFrame(id: 0x1CEBFF00, isExtended: true, data: [2] + data[7...] + [0xFF, 0xFF, 0xFF, 0xFF], interface: "can"))
            run(engine, seconds: 1, clock: clock)
        }
        run(engine, seconds: 5, clock: clock)
        #expect(output.alerts.count == 2, "\(output.alerts)")
        let first = output.alerts.first
        #expect(first?.name == "diagnostics.dm1_changed")
        #expect(first?.attributes["codes"] == "SPN 111 FMI 1,SPN 110 FMI 0")
        #expect(first?.attributes["amber_warning"] == "on" && first?.attributes["red_stop"] == "off")
        #expect(first?.attributes["faults"] == #"[{"spn":111,"fmi":1,"oc":1},{"spn":110,"fmi":0,"oc":2}]"#)
        #expect(first?.attributes["source_address"] == "0")
        #expect(output.alerts.last?.attributes["codes"] == "" && output.alerts.last?.attributes["cleared"] == "SPN 111 FMI 1,SPN 110 FMI 0")
    }
}

@Suite struct DiagnosticSchedulerTests {
    typealias Fixture = DiagnosticsFixture

    @Test("UDS DIDs go one per request; fault polls come before parameters; ECUs take turns")
    func order() {
        let uds = Fixture.ecu("bms", 0x7E4, protocol: .uds, faults: 30)
        let layout = DiagnosticParameter.DataLayout(start: 0, length: 2, signed: false, littleEndian: false, factor: 1, offset: 0)
        let configuration = DiagnosticsConfiguration(
            ecus: [Fixture.ecu("engine", 0x7E0), uds],
            parameters: [
                Fixture.pid(0x05), Fixture.pid(0x0C),
                DiagnosticParameter(name: "Vehicle.Private.A", ecu: "bms", source: .did(0x0101, layout), unit: "", intervalSeconds: 1, line: 1),
                DiagnosticParameter(name: "Vehicle.Private.B", ecu: "bms", source: .did(0x0102, layout), unit: "", intervalSeconds: 1, line: 1),
            ],
            ignition: nil, framesPerSecond: 100, budgetText: "", dm1: nil, line: 1)
        var scheduler = DiagnosticScheduler(configuration: configuration, now: 0)
        var sent: [[UInt8]] = []
        for step in 0..<4 {
            guard case .run(let work) = scheduler.next(now: Double(step) * 0.01, ignitionOn: nil) else { break }
            sent.append(work.request)
            scheduler.finished(work, frames: 2, answered: true, now: Double(step) * 0.01)
        }
        #expect(sent == [[0x01, 0x05, 0x0C], [0x19, 0x02, 0x08], [0x22, 0x01, 0x01], [0x22, 0x01, 0x02]])
        #expect(scheduler.next(now: 0.05, ignitionOn: nil) == .wait(until: 1.0))
    }
}

extension DiagnosticAnswer.Outcome {
    var isFailure: Bool {
        if case .failed = self { true } else { false }
    }
}

/// Hands a non-Sendable engine to the one thread that runs it.
final class UncheckedBox<Value>: @unchecked Sendable {
    // Unchecked: the test's thread lets go of the value before the engine's thread uses it.
    let value: Value
    init(_ value: Value) { self.value = value }
}
