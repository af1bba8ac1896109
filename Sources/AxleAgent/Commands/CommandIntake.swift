import AxleBase
import Dispatch
import MQTTUplink
import RemoteCommands
import Synchronization

/// Publishes command statuses: to the request's MQTT 5 Response Topic with its Correlation Data, else (MQTT 3.1.1)
/// to `…/cmd/res`. QoS 1 straight through the client, not the outbox: a status is only worth its moment, and the
/// journal (`axle commands`) keeps what happened.
struct CommandResponder: Sendable {
    let client: MQTTClient
    let topics: UplinkTopics

    func send(
        id: String, name: String?, status: CommandStatus, reason: CommandReason?, text: String?, result: JSONValue? = nil,
        to reply: ReplyAddress
    ) {
        let response = CommandResponse(
            id: id, vehicle: topics.vehicleID, name: name, status: status, timeMillis: wallClockMillis(), reason: reason,
            text: text, result: result)
        var properties = MQTTProperties()
        properties.contentType = "application/json"
        properties.correlationData = reply.correlationData
        _ = client.publish(MQTTMessage(
            topic: reply.responseTopic ?? topics.commandResponses, payload: response.payload(), qos: 1, retain: false,
            properties: properties))
    }
}

/// The first stage of a remote command, on its own thread: verification (signature, key, vehicle, times, name,
/// parameters), the journal's replay check, and the rate limit. What passes goes to the pipeline thread
/// (`CommandInbox`), which checks the precondition on live signals and executes it; what fails is answered REJECTED
/// with its reason here.
final class CommandIntake: Sendable {
    private struct Received: Sendable {
        let payload: [UInt8]
        let reply: ReplyAddress
    }

    /// Requests waiting for verification; beyond this many the newest are dropped (a flood, never a backend's pace).
    static let queueLimit = 1024

    private let verifier: CommandVerifier
    private let journal: CommandJournal
    private let responder: CommandResponder
    private let inbox: CommandInbox
    private let log: AgentLog
    private let queue = Mutex<[Received]>([])
    private let available = DispatchSemaphore(value: 0)
    private let limiter: Mutex<TokenBucket>
    private let dropped = Atomic<Int>(0)

    init(
        verifier: CommandVerifier, journal: CommandJournal, responder: CommandResponder, inbox: CommandInbox,
        settings: CommandSettings, log: AgentLog
    ) {
        self.verifier = verifier
        self.journal = journal
        self.responder = responder
        self.inbox = inbox
        self.log = log
        self.limiter = Mutex(TokenBucket(ratePerSecond: settings.ratePerSecond, burst: settings.burst, now: monotonicSeconds()))
    }

    /// On the MQTT client's thread: copies the request and returns at once.
    func receive(_ message: MQTTMessage) {
        let reply = ReplyAddress(responseTopic: message.properties.responseTopic, correlationData: message.properties.correlationData)
        let accepted = queue.withLock { queue in
            guard queue.count < Self.queueLimit else { return false }
            queue.append(Received(payload: message.payload, reply: reply))
            return true
        }
        if accepted {
            available.signal()
        } else if dropped.add(1, ordering: .relaxed).newValue % 100 == 1 {
            log(.warning, "commands", "more than \(Self.queueLimit) command requests waiting: dropping (\(dropped.load(ordering: .relaxed)) so far)")
        }
    }

    /// The intake thread's loop; never returns.
    func run() {
        while true {
            available.wait()
            guard let next = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            handle(next)
        }
    }

    private func handle(_ received: Received) {
        let result = verifier.verify(payload: received.payload, nowMillis: wallClockMillis(), monotonicNow: monotonicSeconds())
        let command: VerifiedCommand
        switch result {
        case .failure(let rejection):
            log(.warning, "commands", "rejected \(rejection.commandName ?? "a command") \(rejection.commandID ?? "(no id)"): \(rejection.reason.rawValue): \(rejection.text)")
            responder.send(
                id: rejection.commandID ?? "", name: rejection.commandName, status: .rejected, reason: rejection.reason,
                text: rejection.text, to: received.reply)
            return
        case .success(let verified):
            command = verified
        }
        let request = command.request
        do {
            switch try journal.claim(command, reply: received.reply) {
            case .replay(let previous):
                let text = "command \(previous.id) (key \(previous.keyID), counter \(previous.counter)) was already received and is \(previous.status.rawValue): it runs at most once; send a new command"
                log(.warning, "commands", "rejected \(request.name) \(request.id): replay")
                responder.send(id: request.id, name: request.name, status: .rejected, reason: .replay, text: text, to: received.reply)
                return
            case .claimed:
                break
            }
        } catch {
            log(.error, "commands", "\(request.id): the journal cannot record it: \(error)")
            responder.send(
                id: request.id, name: request.name, status: .failed, reason: nil,
                text: "the vehicle cannot journal the command, so it was not run: \(error)", to: received.reply)
            return
        }
        let allowed = limiter.withLock { $0.take(now: monotonicSeconds()) }
        guard allowed else {
            let text = "more commands than the vehicle accepts (\(limiter.withLock { $0.description })); wait and send a new command"
            try? journal.finish(id: request.id, status: .rejected, reason: .rateLimited, text: text, atMillis: wallClockMillis())
            log(.warning, "commands", "rejected \(request.name) \(request.id): rate limited")
            responder.send(id: request.id, name: request.name, status: .rejected, reason: .rateLimited, text: text, to: received.reply)
            return
        }
        inbox.post(AcceptedCommand(command: command, reply: received.reply))
    }
}

/// A token bucket: `burst` commands at once, then `ratePerSecond` sustained.
struct TokenBucket: Sendable, CustomStringConvertible {
    let ratePerSecond: Double
    let burst: Int
    private var tokens: Double
    private var updated: Double

    init(ratePerSecond: Double, burst: Int, now: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.tokens = Double(burst)
        self.updated = now
    }

    mutating func take(now: Double) -> Bool {
        tokens = min(Double(burst), tokens + (now - updated) * ratePerSecond)
        updated = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    var description: String { "\(CommandExecutor.number(ratePerSecond)) per second, \(burst) at once" }
}
