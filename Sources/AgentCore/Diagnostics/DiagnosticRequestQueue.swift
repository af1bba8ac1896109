import AxleBase
import Synchronization

/// The one way for other parts of the agent (remote commands, the control socket for `axle diag`) to ask an ECU
/// something while the diagnostics service runs: requests wait here and the service's thread sends each between two
/// polls, so that two requesters (or a requester and the poll schedule) never talk to one ECU at once.
///
/// Thread-safe. `ask` blocks the calling thread until the answer; call it from a thread that may block (the command
/// service's, the control socket's), never from the pipeline.
public final class DiagnosticRequestQueue: Sendable {
    final class Pending: Sendable {
        let ecu: String
        let request: [UInt8]
        let timeoutSeconds: Double
        let done = StopToken()
        let answer = Mutex<DiagnosticAnswer?>(nil)

        init(ecu: String, request: [UInt8], timeoutSeconds: Double) {
            self.ecu = ecu
            self.request = request
            self.timeoutSeconds = timeoutSeconds
        }

        func complete(_ result: DiagnosticAnswer) {
            answer.withLock { if $0 == nil { $0 = result } }
            done.requestStop()
        }
    }

    private struct State {
        var serving = false
        var ecus: [String] = []
        var pending: [Pending] = []
    }

    private let state = Mutex(State())
    /// Called after each request is queued, to cut the service's wait short.
    private let wake: Mutex<(@Sendable () -> Void)?> = Mutex(nil)

    /// At most this many requests wait at once; more are refused at once rather than queued for minutes.
    public static let capacity = 16

    public init() {}

    /// Sends `request` (the service byte first, such as `[0x22, 0xF1, 0x90]` or `[0x03]`) to the ECU the profile names
    /// `ecu` in `[diagnostics.ecus]`, and returns its answer.
    ///
    /// `timeoutSeconds` is P2 for this request: how long the ECU has to answer (each "response pending", NRC 0x78,
    /// extends the wait by P2*, 5 s, as for every request). The call also waits for the exchange under way to end (at
    /// most one ECU's P2) and for earlier requests. It returns `.failed` at once when the profile has no such ECU, when
    /// no diagnostics service runs (no `[diagnostics]`, a replay) or too many requests wait, and when the agent stops.
    public func ask(ecu: String, request: [UInt8], timeoutSeconds: Double) -> DiagnosticAnswer {
        let pending = Pending(ecu: ecu, request: request, timeoutSeconds: max(0.001, timeoutSeconds))
        let refusal: String? = state.withLock { state in
            guard state.serving else {
                return "no diagnostics service runs (the profile has no [diagnostics] ECU, or the agent replays a log)"
            }
            guard state.ecus.contains(ecu) else {
                return "unknown ECU '\(ecu)'; the profile's ECUs are \(state.ecus.joined(separator: ", "))"
            }
            guard state.pending.count < Self.capacity else {
                return "\(Self.capacity) diagnostic requests are waiting already; try again later"
            }
            state.pending.append(pending)
            return nil
        }
        if let refusal { return DiagnosticAnswer(outcome: .failed(refusal)) }
        wake.withLock { $0 }?()
        pending.done.wait(seconds: .infinity)
        return pending.answer.withLock { $0 } ?? DiagnosticAnswer(outcome: .failed("the agent is stopping"))
    }

    /// The ECU names requests may use (empty while no service runs).
    public var ecuNames: [String] { state.withLock { $0.serving ? $0.ecus : [] } }

    // MARK: The service's side

    /// The service starts serving requests for `ecus`; `wake` cuts its wait short when one comes.
    public func open(ecus: [String], wake: @escaping @Sendable () -> Void) {
        self.wake.withLock { $0 = wake }
        state.withLock {
            $0.serving = true
            $0.ecus = ecus
        }
    }

    /// The next waiting request, oldest first.
    func take() -> Pending? {
        state.withLock { $0.pending.isEmpty ? nil : $0.pending.removeFirst() }
    }

    /// The service stops: waiting requests fail, and new ones are refused.
    public func close() {
        let left = state.withLock { state in
            state.serving = false
            defer { state.pending.removeAll() }
            return state.pending
        }
        for pending in left { pending.complete(DiagnosticAnswer(outcome: .failed("the agent is stopping"))) }
    }
}
