/// One OBD-II request to every ECU at once (functional addressing, ISO 15765-4) and the answers of each ECU that
/// answers. A pure state machine, like `UDSExchange`, which it runs once per ECU: the caller sends the request as a
/// single frame to `addressing.functionalRequestID`, feeds it the frames that arrive on answer ids with their time,
/// sends the flow control frames it returns (to that ECU's physical id), and calls `expire(now:)` at `deadline`.
///
/// Nobody knows how many ECUs will answer, so answers are collected for a window; an ECU that has begun answering
/// within it (a first frame, a "response pending") is waited for past it, until its answer is whole. When the
/// ECUs that will answer are known (`expecting`, from an earlier request), the exchange ends as soon as they all have.
public struct FunctionalExchange: Sendable {
    public struct Settings: Sendable {
        /// How long answers are collected (ECUs promise 50 ms; testers commonly allow more).
        public var window = 0.5
        /// P2*: the wait after each "response pending" (7F xx 78).
        public var pendingTimeout = 5.0
        /// At most this many "response pending" answers in a row from one ECU.
        public var maximumPending = 20
        /// Reassembly of each ECU's answer: the block size and STmin asked for, N_Cr.
        public var receiver = ISOTPReceiver.Settings()

        public init() {}
    }

    /// One ECU's answer: a positive answer, a refusal, or why there is neither.
    public struct Answer: Sendable, Equatable {
        /// The CAN id the ECU answers on (0x7E8, 0x18DAF110…).
        public var responder: UInt32
        /// The positive answer (its first byte is the service + 0x40).
        public var message: [UInt8]?
        /// A negative answer other than "response pending".
        public var negative: UDSNegativeResponse?
        /// A broken transfer, or silence after "response pending".
        public var failure: String?
        /// How many "response pending" answers came first.
        public var pendingCount: Int
        /// When the answer was complete.
        public var time: Double

        public init(
            responder: UInt32, message: [UInt8]? = nil, negative: UDSNegativeResponse? = nil, failure: String? = nil,
            pendingCount: Int = 0, time: Double = 0
        ) {
            self.responder = responder
            self.message = message
            self.negative = negative
            self.failure = failure
            self.pendingCount = pendingCount
            self.time = time
        }
    }

    /// A flow control frame to send now to one ECU (its physical request id).
    public struct FlowControl: Sendable, Equatable {
        public var canID: UInt32
        public var frame: ISOTPFrame
    }

    private struct Responder {
        var receiver: ISOTPReceiver
        var exchange: UDSExchange
    }

    public let request: [UInt8]
    public let addressing: OBDAddressing
    public let settings: Settings
    public let windowEnd: Double
    private let expected: Set<UInt32>
    private var responders: [UInt32: Responder] = [:]
    /// The answers so far, in the order they completed.
    private(set) public var answers: [Answer] = []

    /// The exchange for `request` (1 to 7 bytes: a functional request is one single frame), sent at `now`.
    public init(
        request: [UInt8], addressing: OBDAddressing, sentAt now: Double, expecting: Set<UInt32> = [],
        settings: Settings = Settings()
    ) {
        precondition((1...7).contains(request.count), "a functional request is a single frame of 1 to 7 bytes")
        self.request = request
        self.addressing = addressing
        self.settings = settings
        self.expected = expecting
        windowEnd = now + settings.window
    }

    /// The responders whose answers are complete.
    public var answered: Set<UInt32> { Set(answers.map(\.responder)) }

    /// True when nothing more is awaited at `now`: the window is over (or every expected ECU answered) and no ECU is
    /// still part-way through an answer.
    public func isFinished(now: Double) -> Bool {
        guard responders.isEmpty else { return false }
        return now >= windowEnd || (!expected.isEmpty && expected.isSubset(of: answered))
    }

    /// When `expire(now:)` has something to do, or the window ends.
    public var deadline: Double {
        var earliest = windowEnd
        for responder in responders.values {
            if let deadline = responder.receiver.deadline { earliest = min(earliest, deadline) }
            if case .waiting(let deadline) = responder.exchange.outcome { earliest = min(earliest, deadline) }
        }
        return earliest
    }

    /// Feeds one frame from the bus; frames on ids that are not this addressing's answer ids, and frames of an ECU
    /// that has answered already, are ignored. Returns the flow control to send to that ECU now, if any.
    public mutating func receive(canID: UInt32, data: [UInt8], now: Double) -> FlowControl? {
        guard addressing.isAnswerID(canID), !answered.contains(canID),
            let physicalID = OBDAddressing.physicalRequestID(forAnswerID: canID)
        else { return nil }
        var responder = responders[canID] ?? Responder(
            receiver: ISOTPReceiver(settings: settings.receiver),
            exchange: UDSExchange(request: request, sentAt: now, settings: exchangeSettings))
        let frame: ISOTPFrame
        do {
            guard let parsed = try ISOTPFrame.parse(data) else { return nil }
            frame = parsed
        } catch {
            finish(canID, responder, failure: "ISO-TP: \(error.description)", now: now)
            return nil
        }
        let step = responder.receiver.receive(frame, now: now)
        let flowControl = step.flowControl.map { FlowControl(canID: physicalID, frame: $0) }
        if let error = step.error {
            finish(canID, responder, failure: "ISO-TP: \(error.description)", now: now)
            return flowControl
        }
        if let message = step.message {
            responder.exchange.receive(message, now: now)
            switch responder.exchange.outcome {
            case .positive(let answer):
                finish(canID, responder, message: answer, now: now)
                return flowControl
            case .negative(let negative):
                finish(canID, responder, negative: negative, now: now)
                return flowControl
            case .timedOut(let reason):
                finish(canID, responder, failure: reason, now: now)
                return flowControl
            case .waiting:
                break
            }
        }
        responders[canID] = responder
        return flowControl
    }

    /// Ends the answers that are overdue at `now`: a transfer past N_Cr, silence past P2* after "response pending".
    public mutating func expire(now: Double) {
        for (id, var responder) in responders {
            if let error = responder.receiver.expire(now: now) {
                finish(id, responder, failure: "ISO-TP: \(error.description)", now: now)
                continue
            }
            guard !responder.receiver.isReceiving else { continue }
            responder.exchange.expire(now: now)
            if case .timedOut(let reason) = responder.exchange.outcome {
                finish(id, responder, failure: reason, now: now)
            } else {
                responders[id] = responder
            }
        }
    }

    private var exchangeSettings: UDSExchange.Settings {
        var exchange = UDSExchange.Settings()
        exchange.responseTimeout = max(settings.window, settings.receiver.consecutiveFrameTimeout)
        exchange.pendingTimeout = settings.pendingTimeout
        exchange.maximumPending = settings.maximumPending
        return exchange
    }

    private mutating func finish(
        _ id: UInt32, _ responder: Responder, message: [UInt8]? = nil, negative: UDSNegativeResponse? = nil,
        failure: String? = nil, now: Double
    ) {
        responders[id] = nil
        answers.append(Answer(
            responder: id, message: message, negative: negative, failure: failure,
            pendingCount: responder.exchange.pendingCount, time: now))
    }
}
