import AgentCore
import AxleBase
import CommandStore
import MQTTUplink
import RemoteCommands
import Synchronization

/// Publishes command statuses: to the request's MQTT 5 Response Topic when it lies in the vehicle's `…/cmd/res`
/// subtree (`UplinkTopics.answerTopic`), else to `…/cmd/res`, with the request's Correlation Data when that is short.
/// Statuses of commands the journal holds (claimed: ACCEPTED onwards, rate-limited, INTERRUPTED) go through the outbox
/// (`DurableMessages`), so that one made while the link is down survives a crash and arrives after the reconnection.
/// Refusals before the journal claims a command (a signed request for another vehicle or out of time, busy, a replay,
/// a journal that cannot record) go straight through the client at QoS 1 (`sendDirect`): nothing on the vehicle
/// records them, the sender may send again, and storing them would let a replayed command fill the outbox with
/// answers that are never evicted before telemetry. Answers to unauthenticated requests go straight through at QoS 0.
struct CommandResponder: Sendable {
    let client: MQTTClient
    let topics: UplinkTopics
    let durable: DurableMessages

    /// Longest Correlation Data echoed; longer is left out of the answer (`axle-fleet` sends the 36-byte command id).
    /// Not signed, so without a bound any sender could make the vehicle publish 60 kB per request.
    static let maximumCorrelationBytes = 128

    /// A status of a command the journal holds: QoS 1, through the outbox.
    func send(
        id: String, name: String?, status: CommandStatus, reason: CommandReason?, text: String?, result: JSONValue? = nil,
        to reply: ReplyAddress
    ) {
        let response = CommandResponse(
            id: id, vehicle: topics.vehicleID, name: name, status: status, timeMillis: wallClockMillis(), reason: reason,
            text: text, result: result)
        durable.publish(Self.message(response, to: reply, qos: 1, topics: topics), members: response.members())
    }

    /// A refusal of a request whose signature checked out, before the journal claimed it: QoS 1, straight through the
    /// client (lost with the process if the link is down; the sender may send again).
    func sendDirect(
        id: String, name: String?, status: CommandStatus, reason: CommandReason?, text: String?, to reply: ReplyAddress
    ) {
        let response = CommandResponse(
            id: id, vehicle: topics.vehicleID, name: name, status: status, timeMillis: wallClockMillis(), reason: reason,
            text: text)
        _ = client.publish(Self.message(response, to: reply, qos: 1, topics: topics))
    }

    /// The answer to a request refused before its signature checked out: QoS 0, so that no session ever sends it
    /// again, and small — the id only when it is a well-formed UUID, no name, a fixed text.
    func sendUnauthenticated(_ rejection: CommandRejection, to reply: ReplyAddress) {
        _ = client.publish(Self.unauthenticatedAnswer(rejection, to: reply, topics: topics, timeMillis: wallClockMillis()))
    }

    static func unauthenticatedAnswer(
        _ rejection: CommandRejection, to reply: ReplyAddress, topics: UplinkTopics, timeMillis: Int64
    ) -> MQTTMessage {
        let id = rejection.commandID.flatMap { CommandRequest.isValidID($0) ? $0 : nil } ?? ""
        let response = CommandResponse(
            id: id, vehicle: topics.vehicleID, name: nil, status: .rejected, timeMillis: timeMillis,
            reason: rejection.reason, text: rejection.unauthenticatedText)
        return message(response, to: reply, qos: 0, topics: topics)
    }

    static func message(_ response: CommandResponse, to reply: ReplyAddress, qos: UInt8, topics: UplinkTopics) -> MQTTMessage {
        var properties = MQTTProperties()
        properties.contentType = "application/json"
        if let correlation = reply.correlationData, correlation.count <= Self.maximumCorrelationBytes {
            properties.correlationData = correlation
        }
        return MQTTMessage(
            topic: topics.answerTopic(requested: reply.responseTopic), payload: response.payload(), qos: qos, retain: false,
            properties: properties)
    }
}

/// The first stage of a remote command. On the MQTT client's thread, as each request arrives: verification
/// (signature first, then key, vehicle, times, name, parameters), so that nothing unauthenticated is queued or
/// journaled. Requests refused before their signature checked out get a short QoS 0 answer within a token bucket of
/// their own, and beyond it none; every other failure gets its full answer. Verified commands wait in a bounded
/// queue for the command service's thread (`CommandService`), which claims them in the journal (the replay check),
/// applies the command rate limit and executes what passes. A verified command is never dropped unanswered: with
/// the queue full it is REJECTED `busy`.
final class CommandIntake: Sendable {
    /// Verified commands waiting for the journal; beyond this many a new one is answered `busy`.
    static let queueLimit = 1024
    /// Answers to unauthenticated requests: this many at once, then `unauthenticatedAnswersPerSecond`. Anyone can send
    /// such a request; unbounded, each one would cost the vehicle a publish (a flood got about 1,500 answers a second).
    static let unauthenticatedAnswerBurst = 60
    static let unauthenticatedAnswersPerSecond = 2.0

    /// Replaced when a configuration update brings other command definitions (`adopt(catalog:)`).
    private let verifierBox: Mutex<CommandVerifier>
    private let journal: CommandJournal
    private let responder: CommandResponder
    private let log: AgentLog
    private let waiting = BoundedQueue<AcceptedCommand>(capacity: CommandIntake.queueLimit)
    /// Wakes the command service when a verified command is queued.
    private let onWaiting: @Sendable () -> Void
    private let limiter: Mutex<TokenBucket>
    private let unauthenticatedLimiter: Mutex<TokenBucket>
    /// Unauthenticated requests left unanswered (over their bucket), since the start.
    private let unanswered = Atomic<Int>(0)

    init(
        verifier: CommandVerifier, journal: CommandJournal, responder: CommandResponder, settings: CommandSettings,
        log: AgentLog, onWaiting: @escaping @Sendable () -> Void
    ) {
        self.verifierBox = Mutex(verifier)
        self.journal = journal
        self.responder = responder
        self.log = log
        self.onWaiting = onWaiting
        let now = monotonicSeconds()
        self.limiter = Mutex(TokenBucket(ratePerSecond: settings.ratePerSecond, burst: settings.burst, now: now))
        self.unauthenticatedLimiter = Mutex(TokenBucket(
            ratePerSecond: Self.unauthenticatedAnswersPerSecond, burst: Self.unauthenticatedAnswerBurst, now: now))
    }

    /// A configuration update switched profiles: commands are checked against its definitions from now on.
    func adopt(catalog: CommandCatalog) {
        verifierBox.withLock { verifier in
            verifier = CommandVerifier(
                vehicleID: verifier.vehicleID, trustStore: verifier.trustStore, catalog: catalog, limits: verifier.limits)
        }
    }

    /// On the MQTT client's thread: verifies the request (an Ed25519 check at most, tens of microseconds), answers a
    /// refusal, queues a verified command and returns.
    func receive(_ message: MQTTMessage) {
        let verifier = verifierBox.withLock { $0 }
        let reply = ReplyAddress(responseTopic: message.properties.responseTopic, correlationData: message.properties.correlationData)
        switch verifier.verify(payload: message.payload, nowMillis: wallClockMillis(), monotonicNow: monotonicSeconds()) {
        case .failure(let rejection) where !rejection.isAuthenticated:
            refuseUnauthenticated(rejection, reply: reply)
        case .failure(let rejection):
            log(.warning, "commands", "rejected \(rejection.commandName ?? "a command") \(rejection.commandID ?? "(no id)"): \(rejection.reason.rawValue): \(rejection.text)")
            responder.sendDirect(
                id: rejection.commandID ?? "", name: rejection.commandName, status: .rejected, reason: rejection.reason,
                text: rejection.text, to: reply)
        case .success(let command):
            if waiting.offer(AcceptedCommand(command: command, reply: reply)) {
                onWaiting()
            } else {
                let request = command.request
                log(.warning, "commands", "rejected \(request.name) \(request.id): busy (\(Self.queueLimit) commands waiting)")
                responder.sendDirect(
                    id: request.id, name: request.name, status: .rejected, reason: .busy,
                    text: "\(Self.queueLimit) commands are waiting on the vehicle; it was not run and can be sent again", to: reply)
            }
        }
    }

    private func refuseUnauthenticated(_ rejection: CommandRejection, reply: ReplyAddress) {
        guard unauthenticatedLimiter.withLock({ $0.take(now: monotonicSeconds()) }) else {
            let count = unanswered.add(1, ordering: .relaxed).newValue
            if count % 1000 == 1 {
                log(.warning, "commands", "unauthenticated requests beyond \(unauthenticatedLimiter.withLock { $0.description }) are not answered: \(count) so far")
            }
            return
        }
        log(.warning, "commands", "rejected an unauthenticated request: \(rejection.reason.rawValue): \(rejection.text)")
        responder.sendUnauthenticated(rejection, to: reply)
    }

    /// On the command service's thread: claims every waiting command in the journal (durably, so it runs at most
    /// once) and applies the rate limit, answering those refused; returns the commands to execute, oldest first.
    func claimWaiting() -> [AcceptedCommand] {
        waiting.takeAll().filter(claim)
    }

    private func claim(_ accepted: AcceptedCommand) -> Bool {
        let request = accepted.command.request
        let reply = accepted.reply
        do {
            switch try journal.claim(accepted.command, reply: reply) {
            case .replay(let previous):
                let text = "command \(previous.id) (key \(previous.keyID), counter \(previous.counter)) was already received and is \(previous.status.rawValue): it runs at most once; send a new command"
                log(.warning, "commands", "rejected \(request.name) \(request.id): replay")
                responder.sendDirect(id: request.id, name: request.name, status: .rejected, reason: .replay, text: text, to: reply)
                return false
            case .claimed:
                break
            }
        } catch {
            log(.error, "commands", "\(request.id): the journal cannot record it: \(error)")
            responder.sendDirect(
                id: request.id, name: request.name, status: .failed, reason: nil,
                text: "the vehicle cannot journal the command, so it was not run: \(error)", to: reply)
            return false
        }
        let allowed = limiter.withLock { $0.take(now: monotonicSeconds()) }
        guard allowed else {
            let text = "more commands than the vehicle accepts (\(limiter.withLock { $0.description })); wait and send a new command"
            try? journal.finish(id: request.id, status: .rejected, reason: .rateLimited, text: text, atMillis: wallClockMillis())
            log(.warning, "commands", "rejected \(request.name) \(request.id): rate limited")
            responder.send(id: request.id, name: request.name, status: .rejected, reason: .rateLimited, text: text, to: reply)
            return false
        }
        return true
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
