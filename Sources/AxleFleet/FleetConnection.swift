import AxleBase
import MQTTUplink
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A bounded queue from the MQTT network thread to the command's thread, which waits on it with a deadline.
///
/// `@unchecked Sendable`: the pthread mutex and condition variable live at fixed heap addresses (they must not move)
/// and guard `events` and `dropped`; nothing is touched without holding the mutex.
final class EventInbox: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var events: [MQTTClientEvent] = []
    private var head = 0
    private var dropped = 0
    private var interrupted = false
    private let capacity: Int

    /// At most `capacity` events wait; more messages are dropped (and counted) rather than blocking the network
    /// thread, whose keepalive must not stall behind a slow terminal.
    init(capacity: Int = 10_000) {
        self.capacity = capacity
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines are on the monotonic clock: a wall-clock change must not shorten or stretch a wait.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Adds an event (network thread). Connection events are always kept; messages beyond the capacity are dropped.
    func put(_ event: MQTTClientEvent) {
        pthread_mutex_lock(mutex)
        if case .message = event, events.count - head >= capacity {
            dropped += 1
        } else {
            events.append(event)
        }
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// What `take` found.
    enum Taken {
        case event(MQTTClientEvent)
        case timedOut
        case interrupted
    }

    /// Ends every wait, now and later (SIGINT, SIGTERM).
    func interrupt() {
        pthread_mutex_lock(mutex)
        interrupted = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The next event; `.timedOut` when none arrived before the monotonic `deadline`.
    func take(deadline: Double) -> Taken {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == events.count || interrupted {
            if interrupted { return .interrupted }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return .timedOut }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let target = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + remaining
            var until = timespec(tv_sec: Int(target), tv_nsec: Int((target - target.rounded(.down)) * 1e9))
            _ = pthread_cond_timedwait(condition, mutex, &until)
        }
        let event = events[head]
        head += 1
        if head > 1024, head * 2 > events.count {
            events.removeFirst(head)
            head = 0
        }
        return .event(event)
    }

    /// Messages dropped so far because the queue was full.
    func takeDroppedCount() -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let count = dropped
        dropped = 0
        return count
    }
}

/// One short-lived MQTT connection of `axle-fleet`: connect, subscribe and wait for the SUBACK, publish and wait for
/// the PUBACK, then read messages until a deadline. Clean start and no session: nothing is left on the broker.
final class FleetConnection: Sendable {
    let client: MQTTClient
    private let inbox = EventInbox()
    /// Messages that arrived while waiting for an acknowledgement, handed out first by `nextMessage`.
    private let held = Mutex<[MQTTMessage]>([])

    /// Creates the client (TLS files are checked now).
    init(configuration: MQTTConfiguration) throws(FleetError) {
        do {
            client = try MQTTClient(configuration: configuration)
        } catch {
            throw FleetError("\(error)")
        }
    }

    private var broker: String {
        let configuration = client.configuration
        return "\(configuration.tls == nil ? "mqtt" : "mqtts")://\(configuration.host):\(configuration.port)"
    }

    /// Connects; the first failed attempt ends the wait (a tool should say so, not retry silently for ever).
    func connect(timeoutSeconds: Double) throws(FleetError) {
        client.start { [inbox] event in inbox.put(event) }
        let deadline = monotonicSeconds() + timeoutSeconds
        while true {
            let event = try event(until: deadline) {
                FleetError.noAnswer("no connection to the broker \(broker) within \(secondsText(timeoutSeconds)); check --broker and the network")
            }
            switch event {
            case .connected: return
            case .connectFailed(let reason, _):
                throw FleetError.noAnswer("cannot connect to \(broker): \(reason)")
            default: continue
            }
        }
    }

    /// Subscribes to every filter and waits until the broker has granted them all.
    func subscribe(_ filters: [String], timeoutSeconds: Double) throws(FleetError) {
        var pending: [Int32: String] = [:]
        for filter in filters {
            guard let messageID = client.subscribe(filter, qos: 1) else {
                throw FleetError("cannot subscribe to '\(filter)': the filter is invalid or the connection was lost")
            }
            pending[messageID] = filter
        }
        let deadline = monotonicSeconds() + timeoutSeconds
        while !pending.isEmpty {
            let event = try event(until: deadline) {
                FleetError.noAnswer("the broker \(broker) did not confirm the subscription to \(pending.values.sorted().joined(separator: ", ")) within \(secondsText(timeoutSeconds))")
            }
            switch event {
            case .subscribed(let messageID, let granted):
                guard let filter = pending.removeValue(forKey: messageID) else { continue }
                if granted.contains(where: { $0 >= 0x80 }) {
                    throw FleetError("the broker \(broker) refused the subscription to '\(filter)' (reason code \(granted.map(String.init).joined(separator: ","))); check the broker's access rules for this client")
                }
            case .message(let message): held.withLock { $0.append(message) }
            case .disconnected(let reason), .connectFailed(let reason, _):
                throw FleetError.noAnswer("lost the connection to \(broker) while subscribing: \(reason)")
            default: continue
            }
        }
    }

    /// Publishes and waits for the broker's acknowledgement; returns its reason code (0 or 0x10 on success).
    /// `subject` names the message in errors.
    func publish(_ message: MQTTMessage, timeoutSeconds: Double, subject: String = "the command") throws(FleetError) -> Int32 {
        let messageID: Int32
        switch client.publish(message) {
        case .sent(let id): messageID = id
        case .notConnected: throw FleetError.noAnswer("lost the connection to \(broker) before publishing; try again")
        case .permanentFailure(let reason): throw FleetError("cannot publish to \(message.topic): \(reason)")
        case .transientFailure(let reason): throw FleetError("cannot publish to \(message.topic) now: \(reason); try again")
        }
        let deadline = monotonicSeconds() + timeoutSeconds
        while true {
            let event = try event(until: deadline) {
                FleetError.noAnswer("the broker \(broker) did not acknowledge \(subject) within \(secondsText(timeoutSeconds))")
            }
            switch event {
            case .acknowledged(let id, let reasonCode) where id == messageID: return reasonCode
            case .message(let message): held.withLock { $0.append(message) }
            case .disconnected(let reason):
                throw FleetError.noAnswer("lost the connection to \(broker) before it acknowledged \(subject): \(reason); the vehicle may or may not have it")
            default: continue
            }
        }
    }

    /// The next event before `deadline`; `timedOut()` when none came, `FleetError.interrupted` after `interrupt()`.
    private func event(until deadline: Double, timedOut: () -> FleetError) throws(FleetError) -> MQTTClientEvent {
        switch inbox.take(deadline: deadline) {
        case .event(let event): return event
        case .timedOut: throw timedOut()
        case .interrupted: throw FleetError.interrupted
        }
    }

    /// Ends every wait of this connection (from a signal-handling thread).
    func interrupt() { inbox.interrupt() }

    /// What `nextMessage` found.
    enum Next {
        case message(MQTTMessage)
        case timedOut
        case lost(String)
        case interrupted
    }

    /// The next message, waiting at most until the monotonic `deadline`. A lost connection is reported once; the
    /// client reconnects by itself (and subscribes again) meanwhile.
    func nextMessage(deadline: Double) -> Next {
        if let message = held.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return .message(message) }
        while true {
            switch inbox.take(deadline: deadline) {
            case .timedOut: return .timedOut
            case .interrupted: return .interrupted
            case .event(.message(let message)): return .message(message)
            case .event(.disconnected(let reason)): return .lost(reason)
            case .event: continue
            }
        }
    }

    /// Messages dropped because the output could not keep up.
    func takeDroppedCount() -> Int { inbox.takeDroppedCount() }

    /// Disconnects cleanly.
    func close() {
        client.stop(final: nil, timeoutSeconds: 2)
    }
}
