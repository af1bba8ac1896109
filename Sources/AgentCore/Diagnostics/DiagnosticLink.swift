import AxleBase
import CANFrames
import Diagnostics
import FirmwareProfile

/// The diagnostics service's view of the buses, frame by frame: a raw CAN socket on a vehicle, the in-process
/// simulator with `axled --simulate`, a fake in tests. One thread uses a link at a time.
///
/// Frames carry their logical bus name (the profile's `[buses]` key) in `interface` both ways: the link maps it to and
/// from the operating system's interface.
public protocol DiagnosticLink: AnyObject {
    /// Puts one frame on its bus.
    func send(_ frame: CANFrame) throws(DiagnosticLinkError)
    /// Appends the frames heard (answers, flow control, J1939 transport) to `frames`, waiting until `deadline` (the
    /// clock's monotonic seconds) for the first one and returning as soon as any came. Frames carry the time they
    /// were heard on the frames' clock (the kernel's wall clock, or the simulation's).
    func receive(until deadline: Double, into frames: inout [CANFrame]) throws(DiagnosticLinkError)
}

/// A link that cannot send or receive (a socket error, an interface gone): the exchange under way fails with it.
public struct DiagnosticLinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What one request to an ECU brought, for the scheduler, `axle diag` through the agent and remote commands.
public struct DiagnosticAnswer: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The positive answer, whole (first byte: the service + 0x40).
        case positive([UInt8])
        /// The ECU refused: the negative response code and its ISO 14229 name.
        case negative(code: UInt8, name: String)
        /// No (final) answer within P2 (or P2* after "response pending"), or a transfer that broke off.
        case timedOut(String)
        /// The request was not sent: unknown ECU, a link error, a bad request, the agent stopping.
        case failed(String)
    }

    public var outcome: Outcome
    /// How many "response pending" (NRC 0x78) answers came first.
    public var pendingCount: Int
    /// CAN frames the exchange put on and drew from the bus (the budget's currency).
    public var frames: Int
    /// When the answer's last frame was heard, on the frames' clock (Unix µs); 0 without an answer.
    public var timeMicros: Int64
    /// From the request's first frame to the answer's last, on the monotonic clock.
    public var seconds: Double

    public init(outcome: Outcome, pendingCount: Int = 0, frames: Int = 0, timeMicros: Int64 = 0, seconds: Double = 0) {
        self.outcome = outcome
        self.pendingCount = pendingCount
        self.frames = frames
        self.timeMicros = timeMicros
        self.seconds = seconds
    }

    /// The positive answer's bytes; nil otherwise.
    public var positive: [UInt8]? {
        if case .positive(let bytes) = outcome { bytes } else { nil }
    }

    /// For logs and `axle status`: "negative: requestOutOfRange (0x31)", "timed out: …".
    public var problem: String? {
        switch outcome {
        case .positive: nil
        case .negative(let code, let name): "refused: \(name) (0x\(DiagnosticsHex.byte(code)))"
        case .timedOut(let reason): "no answer: \(reason)"
        case .failed(let reason): reason
        }
    }
}

/// One request and its answer over a `DiagnosticLink`: ISO-TP (Diagnostics' sender and receiver state machines)
/// around `UDSExchange`, which waits P2 and, after each "response pending", P2*. OBD-II modes follow the same rule
/// (positive answer = service + 0x40, negative `7F <service> <code>`), so one exchange serves both protocols.
///
/// Frames that are not this ECU's answer are handed to `overheard` (J1939 DM1 transfers go on while the agent waits).
/// Flow control is sent as soon as the first frame is read, on the same thread.
public struct DiagnosticConversation {
    public var settings = UDSExchange.Settings()

    public init() {}

    public func exchange(
        _ request: [UInt8], with ecu: DiagnosticECU, link: any DiagnosticLink, clock: any AgentClock,
        overheard: (CANFrame) -> Void
    ) -> DiagnosticAnswer {
        guard !request.isEmpty else { return DiagnosticAnswer(outcome: .failed("an empty request: give at least the service byte")) }
        var settings = settings
        settings.responseTimeout = ecu.responseTimeoutSeconds
        var sender: ISOTPSender
        do {
            sender = try ISOTPSender(message: request)
        } catch {
            return DiagnosticAnswer(outcome: .failed("\(error)"))
        }
        var receiver = ISOTPReceiver()
        let started = clock.monotonicSeconds()
        var frames = 0
        var exchange: UDSExchange?
        var heard: [CANFrame] = []
        var lastTime: Int64 = 0

        func transmit(_ frame: ISOTPFrame) throws(DiagnosticLinkError) {
            try link.send(CANFrame(
                id: ecu.requestID, isExtended: ecu.isExtended, data: frame.encoded(padding: ecu.padding), interface: ecu.bus))
            frames += 1
        }
        func answer(_ outcome: DiagnosticAnswer.Outcome) -> DiagnosticAnswer {
            DiagnosticAnswer(
                outcome: outcome, pendingCount: exchange?.pendingCount ?? 0, frames: frames, timeMicros: lastTime,
                seconds: clock.monotonicSeconds() - started)
        }

        do {
            while true {
                let now = clock.monotonicSeconds()
                // Sending: the request's frames, paced by the ECU's flow control.
                var waitUntil: Double
                if let current = exchange {
                    switch current.outcome {
                    case .waiting(let deadline): waitUntil = deadline
                    case .positive(let bytes): return answer(.positive(bytes))
                    case .negative(let refusal): return answer(.negative(code: refusal.code, name: refusal.codeName))
                    case .timedOut(let reason): return answer(.timedOut(reason))
                    }
                } else {
                    switch sender.next(now: now) {
                    case .send(let frame):
                        try transmit(frame)
                        if sender.isDone { exchange = UDSExchange(request: request, sentAt: clock.monotonicSeconds(), settings: settings) }
                        continue
                    case .waitUntil(let time): waitUntil = time
                    case .awaitFlowControl(let deadline): waitUntil = deadline
                    case .done:
                        exchange = UDSExchange(request: request, sentAt: now, settings: settings)
                        continue
                    case .failed(let error): return answer(.timedOut(error.description))
                    }
                }
                // While an answer arrives frame by frame, ISO-TP's N_Cr sets the pace, not P2.
                if let deadline = receiver.deadline { waitUntil = exchange == nil ? min(waitUntil, deadline) : deadline }
                if waitUntil > now {
                    heard.removeAll(keepingCapacity: true)
                    try link.receive(until: waitUntil, into: &heard)
                    for frame in heard {
                        guard frame.kind == .data, frame.id == ecu.responseID, frame.isExtended == ecu.isExtended,
                            frame.interface == ecu.bus
                        else {
                            overheard(frame)
                            continue
                        }
                        frames += 1
                        let time = clock.monotonicSeconds()
                        guard let parsed = try? ISOTPFrame.parse(frame.data) else { continue }
                        if exchange == nil {
                            // Still sending: only flow control matters.
                            sender.receive(parsed, now: time)
                            continue
                        }
                        let step = receiver.receive(parsed, now: time)
                        if let flowControl = step.flowControl { try transmit(flowControl) }
                        if let message = step.message {
                            lastTime = frame.timestamp.seconds &* 1_000_000 &+ Int64(frame.timestamp.nanoseconds / 1000)
                            exchange?.receive(message, now: time)
                        }
                    }
                }
                let after = clock.monotonicSeconds()
                if let error = receiver.expire(now: after) { return answer(.timedOut(error.description)) }
                // An answer arriving frame by frame is not cut off by P2: ISO-TP's own N_Cr watches it.
                if !receiver.isReceiving { exchange?.expire(now: after) }
            }
        } catch {
            return answer(.failed("the bus: \(error)"))
        }
    }
}
