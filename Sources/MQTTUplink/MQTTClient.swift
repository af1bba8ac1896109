import AxleBase
import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One MQTT connection to one broker over libmosquitto, kept up on a dedicated network thread: it connects,
/// reconnects with jittered backoff, and reports what happens as `MQTTClientEvent`s.
///
/// `@unchecked Sendable`: the class holds libmosquitto's `struct mosquitto *`. Only the network thread runs the loop,
/// connects and disconnects; other threads only publish and subscribe, which libmosquitto allows once
/// `mosquitto_threaded_set(true)` is on (it then guards its queues with its own mutexes and leaves the socket to the
/// loop). Everything else the class mutates sits behind a `Mutex` or in atomics. The handle is destroyed in `deinit`,
/// which cannot run while the network thread (which holds a strong reference) is alive.
public final class MQTTClient: @unchecked Sendable {
    /// The configuration the client was made with.
    public let configuration: MQTTConfiguration
    private let handle: OpaquePointer
    /// The OpenSSL context libmosquitto uses (nil without TLS): it checks the broker's name against the
    /// certificate's subjectAltName only and keeps OpenSSL's reason for a refusal. Freed after the handle.
    private let tls: OpaquePointer?
    /// Wakes the network thread: a publish to write, `linkChanged()`, `stop()`.
    private let wakeup: Wakeup
    /// Signalled (and left signalled) when the network thread has exited.
    private let finished: Wakeup
    private let connectedFlag = Atomic<Bool>(false)
    private let linkChangeRequested = Atomic<Bool>(false)
    private let shared = Mutex(Shared())
    /// Keeps publishers out of libmosquitto while the network thread is inside a connect call (see `publish`).
    private let publishGate = Mutex(PublishGate())
    /// The last error libmosquitto logged in this attempt (OpenSSL's reason for a failed handshake is only said
    /// there). Apart from `shared`: libmosquitto logs from inside calls made while `shared` is locked.
    private let libraryError = Mutex<String?>(nil)

    private struct Shared {
        var onEvent: (@Sendable (MQTTClientEvent) -> Void)?
        var started = false
        var threadExited = false
        var networkThread: pthread_t?
        var stopRequest: StopRequest?
        /// Filters in the order they were first subscribed, with whether the broker granted them in this session.
        var subscriptions: [Subscription] = []
        /// SUBACKs still expected: message id → filter.
        var pendingSubscriptions: [Int32: String] = [:]
        var attempt = AttemptRecord()
    }

    private struct PublishGate {
        /// True while the network thread is inside `mosquitto_connect_bind_async`/`mosquitto_reconnect_async`.
        var connecting = false
        /// Messages published meanwhile, handed to libmosquitto as soon as the call returns.
        var held: [MQTTMessage] = []
    }

    /// At most this many messages wait for a connect call to return (it takes as long as a DNS lookup); more are
    /// refused as a transient failure.
    static let heldWhileConnectingLimit = 1024

    private struct Subscription {
        var filter: String
        var qos: UInt8
        var granted: Bool
    }

    private struct StopRequest {
        var final: MQTTMessage?
        var deadline: Double
        var finalMessageID: Int32?
        var finalAcknowledged = false
    }

    /// What the callbacks saw during one connection attempt; read by the network thread after each loop pass.
    private struct AttemptRecord {
        var connack: (code: Int32, sessionPresent: Bool)?
        var disconnect: (code: Int32, errno: Int32)?
    }

    private enum ConnectionOutcome {
        case stopped
        case retryNow
        case failed(String)
        case lost(String)
    }

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// Creates the client and applies the configuration (TLS files are checked now: a clear error for a bad path).
    public init(configuration: MQTTConfiguration) throws {
        _ = Self.libraryInitialised
        try Self.validate(configuration)
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanStart, nil) else {
            throw MQTTUplinkError(
                .library, "libmosquitto could not create a client for '\(configuration.clientID)' (out of memory?)")
        }
        // Configured before `self` is complete: a throwing init of a complete object would also run deinit, which
        // destroys the handle a second time.
        var tls: OpaquePointer?
        do {
            try Self.configure(handle, configuration)
            tls = try Self.makeTLSContext(handle, configuration)
            wakeup = try Wakeup(purpose: "MQTT network thread")
            finished = try Wakeup(purpose: "MQTT client stop")
        } catch {
            mosquitto_destroy(handle)
            CMosquitto_tlsFree(tls)
            throw error
        }
        self.tls = tls
        self.handle = handle
        self.configuration = configuration
    }

    deinit {
        mosquitto_destroy(handle)
        CMosquitto_tlsFree(tls)
    }

    /// True between CONNACK and the loss of the connection.
    public var isConnected: Bool { connectedFlag.load(ordering: .acquiring) }

    /// Starts the network thread: connects, and reconnects forever with BackoffPolicy (full jitter). `onEvent` runs on
    /// that thread; it must be quick.
    public func start(onEvent: @escaping @Sendable (MQTTClientEvent) -> Void) {
        let shouldStart = shared.withLock { shared -> Bool in
            guard !shared.started, shared.stopRequest == nil else { return false }
            shared.started = true
            shared.onEvent = onEvent
            return true
        }
        guard shouldStart else { return }
        // Unretained: the network thread's closure holds the strong reference for as long as callbacks can run.
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        startDedicatedThread(name: "mqtt-\(configuration.clientID)") { [self] in
            shared.withLock { $0.networkThread = pthread_self() }
            // OpenSSL writes with write(2): a broker that vanished would raise SIGPIPE and kill the agent. Blocked on
            // this thread only (the one that writes to the socket), the write fails with EPIPE instead.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            run()
            shared.withLock { $0.threadExited = true }
            finished.signal()
        }
    }

    /// Publishes one message (MQTT 5 properties are sent on v5 only).
    ///
    /// A connect call resets libmosquitto's queue (what was queued before is sent again after CONNACK), then opens the
    /// socket and queues CONNECT. A QoS 1/2 message handed over between the reset and the new socket stayed in RAM
    /// unsent until the *next* reconnect (a command answer at start-up was lost so); one handed over between the
    /// socket and CONNECT went out before CONNECT, and the broker closed the connection. So while the network thread
    /// is inside that call, messages wait here and are handed over right after it: the outcome is then
    /// `.notConnected(messageID: 0)` (the id they get is not known here; the message is "maybe queued" like any
    /// other published while not connected).
    public func publish(_ message: MQTTMessage) -> PublishOutcome {
        publishGate.withLock { gate in
            if gate.connecting {
                // The checks libmosquitto would make now, so that a message that can never be sent is not held.
                guard message.qos <= 2, mosquitto_pub_topic_check(message.topic) == MOSQ_ERR_SUCCESS.rawValue else {
                    return outcome(ofPublish: MOSQ_ERR_INVAL.rawValue, messageID: 0)
                }
                guard gate.held.count < Self.heldWhileConnectingLimit else {
                    return .transientFailure(reason: "the client is connecting and already holds \(gate.held.count) messages")
                }
                gate.held.append(message)
                return .notConnected(messageID: 0)
            }
            var messageID: Int32 = 0
            let rc = send(message, messageID: &messageID)
            return outcome(ofPublish: rc, messageID: messageID)
        }
    }

    /// Runs a libmosquitto connect call with publishers held off (see `publish`), then hands over what they published.
    /// Returns the call's result and its errno (read before the hand-over can change it).
    private func withPublishersHeld(_ connectCall: () -> Int32) -> (rc: Int32, errno: Int32) {
        publishGate.withLock { $0.connecting = true }
        let rc = connectCall()
        let callErrno = errno
        publishGate.withLock { gate in
            gate.connecting = false
            for message in gate.held {
                var messageID: Int32 = 0
                // Checked when held; what libmosquitto could still refuse (size, memory) has no one left to tell.
                _ = send(message, messageID: &messageID)
            }
            gate.held.removeAll()
        }
        return (rc, callErrno)
    }

    /// Subscribes to `filter`; returns the SUBSCRIBE's message id, or nil when not connected (the subscription is
    /// then sent on the next connection) or when the filter is invalid. Subscriptions are renewed after every
    /// reconnect in which the broker did not keep the session.
    public func subscribe(_ filter: String, qos: UInt8) -> Int32? {
        guard mosquitto_sub_topic_check(filter) == MOSQ_ERR_SUCCESS.rawValue, qos <= 2 else { return nil }
        shared.withLock { shared in
            if let index = shared.subscriptions.firstIndex(where: { $0.filter == filter }) {
                shared.subscriptions[index].qos = qos
                shared.subscriptions[index].granted = false
            } else {
                shared.subscriptions.append(Subscription(filter: filter, qos: qos, granted: false))
            }
        }
        guard isConnected else { return nil }
        return sendSubscribe(filter, qos: qos)
    }

    /// Forgets `filter` (it is not renewed after a reconnect) and, when connected, unsubscribes from it.
    public func unsubscribe(_ filter: String) {
        shared.withLock { shared in
            shared.subscriptions.removeAll { $0.filter == filter }
            shared.pendingSubscriptions = shared.pendingSubscriptions.filter { $0.value != filter }
        }
        guard isConnected else { return }
        var messageID: Int32 = 0
        if mosquitto_unsubscribe(handle, &messageID, filter) == MOSQ_ERR_SUCCESS.rawValue { wakeup.signal() }
    }

    /// The vehicle's own network changed (link up, new address/route): forget the backoff and connect now (a live
    /// connection is replaced too: it may be stuck on the old route).
    public func linkChanged() {
        linkChangeRequested.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// Publishes `final` (e.g. retained "offline" status) if connected, waits for it to be written (bounded by
    /// timeout), disconnects cleanly (no Last Will then), stops the thread.
    public func stop(final: MQTTMessage?, timeoutSeconds: Double) {
        let deadline = monotonicSeconds() + max(0, timeoutSeconds)
        let (mustWait, networkThread) = shared.withLock { shared -> (Bool, pthread_t?) in
            if shared.stopRequest == nil {
                shared.stopRequest = StopRequest(final: final, deadline: deadline)
            }
            return (shared.started && !shared.threadExited, shared.networkThread)
        }
        wakeup.signal()
        guard mustWait else { return }
        // Called from `onEvent` (on the network thread itself): it cannot wait for itself to finish.
        if let networkThread, pthread_equal(networkThread, pthread_self()) != 0 { return }
        // The thread honours the deadline; the margin covers a loop pass in progress and a slow DNS lookup.
        let giveUp = deadline + 5
        while !finished.wait(milliseconds: 100), monotonicSeconds() < giveUp {}
    }

    // MARK: - Configuration

    private static func validate(_ configuration: MQTTConfiguration) throws {
        func invalid(_ text: String) -> MQTTUplinkError {
            MQTTUplinkError(.invalidConfiguration, "MQTT configuration for '\(configuration.clientID)': \(text)")
        }
        if configuration.host.isEmpty { throw invalid("no broker host") }
        if !(1...65535).contains(configuration.port) {
            throw invalid("broker port \(configuration.port) is not from 1 to 65535")
        }
        if configuration.clientID.isEmpty && !configuration.cleanStart {
            throw invalid("a persistent session (cleanStart false) needs a client id")
        }
        if !(5...65535).contains(configuration.keepAliveSeconds) {
            throw invalid("keepAliveSeconds \(configuration.keepAliveSeconds) is not from 5 to 65535")
        }
        if !(1...65535).contains(configuration.maximumInflight) {
            throw invalid("maximumInflight \(configuration.maximumInflight) is not from 1 to 65535")
        }
        if !(configuration.connectTimeoutSeconds > 0) {
            throw invalid("connectTimeoutSeconds must be more than 0")
        }
        if let will = configuration.will, will.qos > 2 { throw invalid("the Last Will's QoS \(will.qos) is not 0, 1 or 2") }
        if let tls = configuration.tls {
            if (tls.certificateFile == nil) != (tls.keyFile == nil) {
                throw invalid("mutual TLS needs both tls.certificateFile and tls.keyFile (only one is set)")
            }
            for (role, path) in [("CA", tls.caFile), ("client certificate", tls.certificateFile), ("client key", tls.keyFile)] {
                guard let path else { continue }
                if access(path, R_OK) != 0 {
                    let why = SystemError.text(errno: errno)
                    throw MQTTUplinkError(.unreadableFile, "TLS \(role) file \(path): \(why) (check the path and its permissions)")
                }
            }
            if let keyFile = tls.keyFile {
                // The vehicle's identity: a key others can read is refused as ssh refuses one (libmosquitto reads any).
                do {
                    _ = try KeyFileAccess.read(path: keyFile, kind: .secret)
                } catch {
                    throw MQTTUplinkError(.unreadableFile, "TLS client key (key-file): \(error.description)")
                }
            }
        }
    }

    private static func configure(_ handle: OpaquePointer, _ configuration: MQTTConfiguration) throws {
        let v5 = configuration.protocolVersion == .v5
        func check(_ rc: Int32, _ what: String) throws {
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw MQTTUplinkError(.library, "libmosquitto rejected \(what): \(String(cString: mosquitto_strerror(rc)))")
            }
        }
        try check(
            mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311),
            "the protocol version")
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(configuration.maximumInflight)), "maximumInflight")
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY")
        if configuration.username != nil || configuration.password != nil {
            try check(mosquitto_username_pw_set(handle, configuration.username, configuration.password), "the username/password")
        }
        if let tls = configuration.tls {
            let rc = mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw MQTTUplinkError(
                    .unreadableFile,
                    "TLS files (CA \(tls.caFile), certificate \(tls.certificateFile ?? "none"), key \(tls.keyFile ?? "none")) "
                        + "rejected by libmosquitto: \(String(cString: mosquitto_strerror(rc))) (check that they are PEM files)")
            }
            // SSL_VERIFY_PEER; "tlsv1.2" means TLS 1.2 or newer in libmosquitto.
            try check(mosquitto_tls_opts_set(handle, 1, "tlsv1.2", nil), "the TLS options")
            // The broker's name is checked by OpenSSL in the context made by `makeTLSContext`, not by libmosquitto.
        }
        if let will = configuration.will {
            let rc: Int32
            if v5 && !will.properties.isEmpty {
                let (list, error) = MosquittoProperties.make(will.properties)
                guard error == MOSQ_ERR_SUCCESS.rawValue else {
                    throw MQTTUplinkError(
                        .invalidConfiguration, "the Last Will's properties: \(String(cString: mosquitto_strerror(error)))")
                }
                rc = will.payload.withUnsafeBytes {
                    mosquitto_will_set_v5(
                        handle, will.topic, Int32($0.count), $0.baseAddress, Int32(will.qos), will.retain, list)
                }
                // On success libmosquitto owns the list; on failure it is ours to free.
                if rc != MOSQ_ERR_SUCCESS.rawValue {
                    var owned = list
                    mosquitto_property_free_all(&owned)
                }
            } else {
                rc = will.payload.withUnsafeBytes {
                    mosquitto_will_set(handle, will.topic, Int32($0.count), $0.baseAddress, Int32(will.qos), will.retain)
                }
            }
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw MQTTUplinkError(
                    .invalidConfiguration,
                    "the Last Will on '\(will.topic)': \(String(cString: mosquitto_strerror(rc))) (a will topic has no wildcards)")
            }
        }
        if v5 {
            var properties: OpaquePointer?
            defer { mosquitto_property_free_all(&properties) }
            try check(
                mosquitto_property_add_int32(
                    &properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), configuration.sessionExpirySeconds),
                "the session expiry interval")
            try check(
                CMosquitto_storeConnectProperties(handle, configuration.host, Int32(configuration.port), properties),
                "the CONNECT properties")
        }
        installCallbacks(handle)
    }

    /// The OpenSSL context that makes the broker's name checks follow RFC 6125: the name connected to (host name or
    /// IP address) must be in the certificate's subjectAltName; a CN alone, which libmosquitto 2.0 accepts, is not.
    private static func makeTLSContext(_ handle: OpaquePointer, _ configuration: MQTTConfiguration) throws -> OpaquePointer? {
        guard let tls = configuration.tls else { return nil }
        var rc: Int32 = 0
        guard let context = CMosquitto_tlsCreate(handle, tls.verifyHostname ? configuration.host : nil, &rc) else {
            throw MQTTUplinkError(
                .library, "cannot set up TLS for the broker '\(configuration.host)': \(String(cString: mosquitto_strerror(rc)))")
        }
        return context
    }

    private static func client(_ context: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(context!).takeUnretainedValue()
    }

    private static func installCallbacks(_ handle: OpaquePointer) {
        mosquitto_connect_v5_callback_set(handle) { _, context, code, flags, _ in
            MQTTClient.client(context).shared.withLock { $0.attempt.connack = (code, flags & 1 != 0) }
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, context, code, _ in
            let error = errno
            MQTTClient.client(context).shared.withLock { $0.attempt.disconnect = (code, error) }
        }
        mosquitto_publish_v5_callback_set(handle) { _, context, messageID, reasonCode, _ in
            MQTTClient.client(context).didPublish(messageID: messageID, reasonCode: reasonCode)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, context, messageID, count, granted, _ in
            let grantedQoS = (0..<Int(max(count, 0))).map { granted?[$0] ?? 0x80 }
            MQTTClient.client(context).didSubscribe(messageID: messageID, grantedQoS: grantedQoS)
        }
        mosquitto_message_v5_callback_set(handle) { _, context, message, properties in
            guard let message = message?.pointee else { return }
            MQTTClient.client(context).didReceive(message, properties: properties)
        }
        mosquitto_log_callback_set(handle) { _, context, level, text in
            guard level & MOSQ_LOG_ERR != 0, let text else { return }
            let line = String(cString: text)
            MQTTClient.client(context).libraryError.withLock { $0 = line }
        }
    }

    // MARK: - Callbacks (network thread)

    private func emit(_ event: MQTTClientEvent) {
        let handler = shared.withLock { $0.onEvent }
        handler?(event)
    }

    private func didPublish(messageID: Int32, reasonCode: Int32) {
        shared.withLock { shared in
            if shared.stopRequest?.finalMessageID == messageID { shared.stopRequest?.finalAcknowledged = true }
        }
        emit(.acknowledged(messageID: messageID, reasonCode: reasonCode))
    }

    private func didSubscribe(messageID: Int32, grantedQoS: [Int32]) {
        shared.withLock { shared in
            guard let filter = shared.pendingSubscriptions.removeValue(forKey: messageID),
                let index = shared.subscriptions.firstIndex(where: { $0.filter == filter })
            else { return }
            shared.subscriptions[index].granted = grantedQoS.allSatisfy { $0 < 0x80 }
        }
        emit(.subscribed(messageID: messageID, grantedQoS: grantedQoS))
    }

    private func didReceive(_ message: mosquitto_message, properties: OpaquePointer?) {
        let topic = message.topic.map { String(cString: $0) } ?? ""
        let payload = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(message.payloadlen))) } ?? []
        let received = MQTTMessage(
            topic: topic, payload: payload, qos: UInt8(clamping: message.qos), retain: message.retain,
            properties: configuration.protocolVersion == .v5 ? MosquittoProperties.read(properties) : MQTTProperties())
        emit(.message(received))
    }

    // MARK: - Publishing and subscribing (any thread)

    private func send(_ message: MQTTMessage, messageID: inout Int32) -> Int32 {
        guard message.qos <= 2 else { return MOSQ_ERR_INVAL.rawValue }
        let rc: Int32
        if configuration.protocolVersion == .v5 && !message.properties.isEmpty {
            var (list, error) = MosquittoProperties.make(message.properties)
            guard error == MOSQ_ERR_SUCCESS.rawValue else { return error }
            defer { mosquitto_property_free_all(&list) }
            rc = message.payload.withUnsafeBytes {
                mosquitto_publish_v5(
                    handle, &messageID, message.topic, Int32($0.count), $0.baseAddress, Int32(message.qos),
                    message.retain, list)
            }
        } else {
            rc = message.payload.withUnsafeBytes {
                mosquitto_publish(
                    handle, &messageID, message.topic, Int32($0.count), $0.baseAddress, Int32(message.qos), message.retain)
            }
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue { wakeup.signal() }
        return rc
    }

    private func outcome(ofPublish rc: Int32, messageID: Int32) -> PublishOutcome {
        switch mosq_err_t(rawValue: rc) {
        case MOSQ_ERR_SUCCESS, MOSQ_ERR_NO_CONN:
            // Before CONNACK libmosquitto accepts publishes onto a socket that is not up yet: "maybe queued" too.
            return rc == MOSQ_ERR_SUCCESS.rawValue && isConnected
                ? .sent(messageID: messageID) : .notConnected(messageID: messageID)
        case MOSQ_ERR_INVAL:
            return .permanentFailure(reason: "invalid message: a topic must be non-empty UTF-8 without + or # wildcards, QoS 0-2")
        case MOSQ_ERR_PAYLOAD_SIZE:
            return .permanentFailure(reason: "payload too large for MQTT (at most 268,435,455 bytes)")
        case MOSQ_ERR_MALFORMED_UTF8:
            return .permanentFailure(reason: "topic or property is not valid UTF-8")
        case MOSQ_ERR_OVERSIZE_PACKET:
            return .permanentFailure(reason: "message larger than the broker's maximum packet size")
        case MOSQ_ERR_QOS_NOT_SUPPORTED:
            return .permanentFailure(reason: "the broker does not support this QoS")
        case MOSQ_ERR_RETAIN_NOT_SUPPORTED:
            return .permanentFailure(reason: "the broker does not support retained messages")
        case MOSQ_ERR_DUPLICATE_PROPERTY, MOSQ_ERR_PROTOCOL:
            return .permanentFailure(reason: "invalid MQTT 5 properties: \(String(cString: mosquitto_strerror(rc)))")
        default:
            return .transientFailure(reason: String(cString: mosquitto_strerror(rc)))
        }
    }

    private func sendSubscribe(_ filter: String, qos: UInt8) -> Int32? {
        var messageID: Int32 = 0
        // Lock across the call so the SUBACK callback (network thread) finds the pending entry.
        let rc = shared.withLock { shared -> Int32 in
            let rc =
                configuration.protocolVersion == .v5
                ? mosquitto_subscribe_v5(handle, &messageID, filter, Int32(qos), 0, nil)
                : mosquitto_subscribe(handle, &messageID, filter, Int32(qos))
            if rc == MOSQ_ERR_SUCCESS.rawValue { shared.pendingSubscriptions[messageID] = filter }
            return rc
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { return nil }
        wakeup.signal()
        return messageID
    }

    // MARK: - The network thread

    private var stopRequested: Bool { shared.withLock { $0.stopRequest != nil } }

    private func run() {
        var generator = SystemRandomNumberGenerator()
        var attempt = 0
        var initialised = false
        while !stopRequested {
            linkChangeRequested.store(false, ordering: .relaxed)
            let delay: Double
            switch runConnection(initialised: &initialised) {
            case .stopped:
                return
            case .retryNow:
                attempt = 0
                continue
            case .failed(let reason):
                delay = configuration.reconnect.delay(attempt: attempt, using: &generator)
                attempt += 1
                emit(.connectFailed(reason: reason, retryInSeconds: delay))
            case .lost(let reason):
                emit(.disconnected(reason: reason))
                // Even the first retry is jittered: a broker restart drops the whole fleet at the same instant.
                delay = configuration.reconnect.delay(attempt: 0, using: &generator)
                attempt = 1
            }
            let retryAt = monotonicSeconds() + delay
            while !stopRequested, !linkChangeRequested.load(ordering: .acquiring) {
                let remaining = retryAt - monotonicSeconds()
                if remaining <= 0 { break }
                if wakeup.wait(milliseconds: Int32(min(remaining, 1) * 1000) + 1) { wakeup.drain() }
            }
            // A change of the vehicle's own network is local news, not a sign of an overloaded broker: start over.
            if linkChangeRequested.load(ordering: .acquiring) { attempt = 0 }
        }
    }

    /// One connection: from the attempt to its end (failure, loss or stop).
    private func runConnection(initialised: inout Bool) -> ConnectionOutcome {
        shared.withLock { $0.attempt = AttemptRecord() }
        libraryError.withLock { $0 = nil }
        if let tls { CMosquitto_tlsClearVerifyError(tls) }
        let (rc, connectErrno): (Int32, Int32)
        if initialised {
            (rc, connectErrno) = withPublishersHeld { mosquitto_reconnect_async(handle) }
        } else {
            (rc, connectErrno) = withPublishersHeld {
                mosquitto_connect_bind_async(
                    handle, configuration.host, Int32(configuration.port), Int32(configuration.keepAliveSeconds), nil)
            }
            // INVAL and NOMEM come before libmosquitto has stored the host; anything else (a refused TCP connect,
            // a DNS failure) comes after, and later attempts reconnect.
            initialised = rc != MOSQ_ERR_INVAL.rawValue && rc != MOSQ_ERR_NOMEM.rawValue
        }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            return .failed(describeFailure(code: rc, errno: connectErrno, beforeConnack: true))
        }
        let deadline = monotonicSeconds() + configuration.connectTimeoutSeconds
        var isUp = false
        while true {
            if shared.withLock({ $0.stopRequest != nil }) { return performStop(connected: isUp) }
            if linkChangeRequested.exchange(false, ordering: .acquiringAndReleasing) {
                guard isUp else { return .retryNow }
                // The vehicle's network changed under a live connection (a tunnel's end, a new cell, a new address).
                // Its TCP connection may be stuck retransmitting with a backoff of many seconds, or bound to an
                // address that is gone; keepalive would take up to 1.5 × keepalive to notice. A new connection costs
                // one CONNECT, and the persistent session re-sends whatever was in flight.
                let socket = mosquitto_socket(handle)
                if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
                connectedFlag.store(false, ordering: .releasing)
                emit(.disconnected(reason: "the vehicle's network changed: connecting again"))
                return .retryNow
            }
            var timeout: Int32 = 1000
            if !isUp {
                let remaining = deadline - monotonicSeconds()
                if remaining <= 0 {
                    // Abort the TCP attempt so the kernel stops retrying it; the next attempt closes the socket.
                    let socket = mosquitto_socket(handle)
                    if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
                    return .failed(
                        "no answer from the broker at \(address) within \(formatSeconds(configuration.connectTimeoutSeconds)) "
                            + "(check the network, the broker address and any firewall)")
                }
                timeout = Int32(min(remaining, 0.25) * 1000) + 1
            }
            waitForActivity(milliseconds: timeout)
            let loopResult = mosquitto_loop(handle, 0, 1)
            let loopErrno = errno
            let record = shared.withLock { $0.attempt }
            if !isUp, let connack = record.connack {
                guard connack.code == 0 else { return .failed(describeRefusal(code: connack.code)) }
                isUp = true
                connectedFlag.store(true, ordering: .releasing)
                emit(.connected(sessionPresent: connack.sessionPresent))
                renewSubscriptions(sessionPresent: connack.sessionPresent)
            }
            if mosquitto_socket(handle) < 0 || loopResult != MOSQ_ERR_SUCCESS.rawValue {
                let reason = describeFailure(
                    code: record.disconnect?.code ?? loopResult, errno: record.disconnect?.errno ?? loopErrno,
                    beforeConnack: !isUp)
                guard isUp else { return .failed(reason) }
                connectedFlag.store(false, ordering: .releasing)
                return .lost(reason)
            }
        }
    }

    /// Polls the broker socket (and the wake-up pipe) so the loop runs as soon as there is work.
    private func waitForActivity(milliseconds: Int32) {
        var descriptors = [pollfd(fd: wakeup.readDescriptor, events: Int16(POLLIN), revents: 0)]
        let socket = mosquitto_socket(handle)
        if socket >= 0 {
            let events = Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0)
            descriptors.append(pollfd(fd: socket, events: events, revents: 0))
        }
        if poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0, descriptors[0].revents != 0 {
            wakeup.drain()
        }
    }

    private func renewSubscriptions(sessionPresent: Bool) {
        let toSend = shared.withLock { shared -> [Subscription] in
            if !sessionPresent {
                for index in shared.subscriptions.indices { shared.subscriptions[index].granted = false }
            }
            shared.pendingSubscriptions = [:]
            return shared.subscriptions.filter { !$0.granted }
        }
        for subscription in toSend { _ = sendSubscribe(subscription.filter, qos: subscription.qos) }
    }

    private func performStop(connected isUp: Bool) -> ConnectionOutcome {
        guard isUp else { return .stopped }
        let (final, deadline) = shared.withLock { ($0.stopRequest?.final, $0.stopRequest?.deadline ?? 0) }
        func loopUntil(_ deadline: Double, _ done: () -> Bool) -> Bool {
            while !done() {
                let remaining = deadline - monotonicSeconds()
                if remaining <= 0 { return false }
                waitForActivity(milliseconds: Int32(min(remaining, 0.1) * 1000) + 1)
                if mosquitto_loop(handle, 0, 1) != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 {
                    return false
                }
            }
            return true
        }
        var stillUp = true
        if let final {
            var messageID: Int32 = 0
            let rc = shared.withLock { shared -> Int32 in
                // Under the lock, so the acknowledgement cannot arrive before the id is known.
                let rc = send(final, messageID: &messageID)
                shared.stopRequest?.finalMessageID = messageID
                return rc
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                stillUp = loopUntil(deadline) {
                    final.qos == 0
                        ? !mosquitto_want_write(handle)
                        : shared.withLock { $0.stopRequest?.finalAcknowledged ?? false }
                }
                || mosquitto_socket(handle) >= 0
            }
        }
        if stillUp {
            // A DISCONNECT with reason 0 (normal): the broker discards the Last Will. libmosquitto closes the socket
            // once the packet is written.
            mosquitto_disconnect(handle)
            _ = loopUntil(max(deadline, monotonicSeconds() + 0.5)) { mosquitto_socket(handle) < 0 }
        }
        connectedFlag.store(false, ordering: .releasing)
        emit(.disconnected(reason: "stopped by the agent"))
        return .stopped
    }

    // MARK: - Reasons a person can act on

    private var address: String {
        configuration.host.contains(":") ? "[\(configuration.host)]:\(configuration.port)" : "\(configuration.host):\(configuration.port)"
    }

    /// Whether the broker is given by IP address (IPv6 has colons; an IPv4 address no letters), not by name.
    private var hostIsAddress: Bool {
        configuration.host.contains(":") || !configuration.host.contains(where: \.isLetter)
    }

    private func describeRefusal(code: Int32) -> String {
        let text =
            configuration.protocolVersion == .v5
            ? String(cString: mosquitto_reason_string(code)) : String(cString: mosquitto_connack_string(code))
        let hint: String
        switch code {
        case 4, 5, 0x86, 0x87, 0x8C:
            hint = "check the username, password or client certificate, and the broker's access rules"
        case 2, 0x85:
            hint = "the broker does not accept the client id '\(configuration.clientID)'"
        case 1, 0x84:
            hint = "the broker does not speak this MQTT version; try the other protocolVersion"
        default:
            hint = "see the broker's log"
        }
        return "the broker at \(address) refused the connection: \(text) (code \(code); \(hint))"
    }

    private func describeFailure(code: Int32, errno: Int32, beforeConnack: Bool) -> String {
        let libraryError = libraryError.withLock { $0 }
        if let tlsFailure = describeTLSFailure(libraryError) { return tlsFailure }
        let endedUnexplained =
            (code == MOSQ_ERR_ERRNO.rawValue && [EPROTO, ECONNRESET, EPIPE, 0].contains(errno))
            || code == MOSQ_ERR_CONN_LOST.rawValue || code == MOSQ_ERR_TLS.rawValue
        if configuration.tls != nil, beforeConnack, endedUnexplained {
            // With TLS 1.3 the broker checks the client certificate after the client has finished its handshake,
            // and OpenSSL often reports only a closed connection ("Protocol error") without the broker's alert.
            return "TLS with \(address) ended before the broker accepted the connection "
                + "(\(errno != 0 ? SystemError.text(errno: errno) : String(cString: mosquitto_strerror(code)))): the broker "
                + "probably refused this vehicle's client certificate (missing, expired, or not signed by a CA it "
                + "trusts; check tls.certificateFile and tls.keyFile, and the broker's log)"
        }
        if code >= 0x80 {
            // An MQTT 5 DISCONNECT from the broker carries a reason code, not a libmosquitto error.
            return "the broker at \(address) disconnected: \(String(cString: mosquitto_reason_string(code))) (code \(code))"
        }
        let what: String
        switch mosq_err_t(rawValue: code) {
        case MOSQ_ERR_ERRNO:
            let system = SystemError.text(errno: errno)
            switch errno {
            case ECONNREFUSED:
                what = "connection refused by \(address) (is the broker running and listening on that port?)"
            case ENETUNREACH, EHOSTUNREACH:
                what = "\(address) is unreachable: \(system) (is the vehicle's network up?)"
            case ETIMEDOUT:
                what = "connection to \(address) timed out"
            case 0:
                what = "connection to \(address) lost"
            default:
                what = "connection to \(address) failed: \(system)"
            }
        case MOSQ_ERR_EAI:
            what = "cannot resolve the broker host '\(configuration.host)' (check the name and the vehicle's DNS)"
        case MOSQ_ERR_KEEPALIVE:
            what = "the broker at \(address) stopped answering (nothing heard within the keepalive of \(configuration.keepAliveSeconds) s)"
        case MOSQ_ERR_CONN_LOST:
            what = "connection to \(address) lost"
        case MOSQ_ERR_TLS, MOSQ_ERR_TLS_HANDSHAKE:
            what = "TLS with \(address) failed (see the broker's log)"
        case MOSQ_ERR_SUCCESS:
            what = "connection to \(address) closed"
        default:
            what = "connection to \(address) failed: \(String(cString: mosquitto_strerror(code)))"
        }
        if let libraryError { return what + " [libmosquitto: \(libraryError)]" }
        return what
    }

    /// OpenSSL's reason, said the way an operator can act on it; nil when libmosquitto logged no OpenSSL error.
    /// Every reason returned starts with "TLS " (`MQTTClientEvent.isTLSFailure` relies on it).
    private func describeTLSFailure(_ libraryError: String?) -> String? {
        guard let libraryError, libraryError.contains("OpenSSL") || libraryError.contains("SSL") else { return nil }
        // "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed" → "certificate verify failed"
        let detail = libraryError.split(separator: ":", omittingEmptySubsequences: true).last
            .map { $0.trimmingCharacters(in: " ") } ?? libraryError
        // Why OpenSSL refused the certificate ("IP address mismatch"), kept by the shim's verification.
        let verifyError = tls.map { String(cString: CMosquitto_tlsVerifyError($0)) } ?? ""
        if verifyError == "hostname mismatch" || verifyError == "IP address mismatch" {
            return "TLS with \(address) failed: the broker's certificate does not name \(configuration.host) in its "
                + "subjectAltName (\(detail): \(verifyError)); a name only in the certificate's CN is not accepted "
                + "(RFC 6125): the broker needs a certificate with subjectAltName "
                + "\(hostIsAddress ? "IP" : "DNS"):\(configuration.host)"
        }
        if detail.contains("certificate verify failed") {
            let reason = verifyError.isEmpty ? detail : "\(detail): \(verifyError)"
            return "TLS with \(address) failed: the broker's certificate was not accepted (\(reason)); check that "
                + "tls.caFile holds the CA that signed it and that the certificate names \(configuration.host)"
        }
        if detail.contains("alert") {
            return "TLS with \(address) failed: the broker refused this vehicle's identity (\(detail)); it requires "
                + "a client certificate (tls.certificateFile, tls.keyFile) signed by a CA it trusts"
        }
        return "TLS with \(address) failed: \(detail)"
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = self
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
