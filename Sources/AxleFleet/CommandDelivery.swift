import AxleBase
import MQTTUplink
import RemoteCommands

/// Which responses belong to the command being followed.
struct ResponseMatcher: Sendable {
    /// The command's id.
    var commandID: String
    /// The private response topic (MQTT 5), or nil (MQTT 3.1.1: the shared `cmd/res` topic).
    var responseTopic: String?

    /// The response, when `message` answers this command; nil for anything else (another command's answer on the
    /// shared 3.1.1 topic). On the private MQTT 5 topic a response is also taken when its Correlation Data is this
    /// command's id, so that a rejection the vehicle could not attribute (a payload too damaged to read its id)
    /// still ends the wait.
    func response(in message: MQTTMessage) -> Result<CommandResponse, CommandFormatError>? {
        if let responseTopic, message.topic != responseTopic { return nil }
        let response: CommandResponse
        do {
            response = try CommandResponse.parse(message.payload)
        } catch {
            return responseTopic == nil ? nil : .failure(error)
        }
        if response.id == commandID { return .success(response) }
        if responseTopic != nil, message.properties.correlationData == Array(commandID.utf8) { return .success(response) }
        return nil
    }
}

/// Sends one signed command and prints each status as it arrives, until a final one (or the wait runs out).
struct CommandDelivery {
    var broker: BrokerOptions
    var topics: FleetTopics
    var json: Bool
    /// Seconds to wait for a final status after publishing; nil: until 30 s past the command's expiry.
    var waitSeconds: Double?

    /// Publishes `payload` (the signed envelope of `request`) and follows it. Returns normally only on SUCCEEDED; a final status other than that exits
    /// 1 (after its line was printed), no final status in time exits 3.
    func run(payload: [UInt8], request: CommandRequest) throws {
        let connection = try FleetConnection(configuration: broker.configuration())
        handleTerminationSignals { connection.interrupt() }
        defer { connection.close() }
        let status: CommandStatus
        do {
            status = try follow(payload, request: request, over: connection)
        } catch let error as FleetError where error == .interrupted {
            throw FleetError(
                "interrupted before a final status; the command may still run on the vehicle "
                    + "(follow it with: axle-fleet watch --broker \(broker.broker) --vehicle \(topics.vehicle))",
                exitCode: 130)
        }
        guard status == .succeeded else { throw FleetExit(code: 1) }
    }

    private func follow(_ payload: [UInt8], request: CommandRequest, over connection: FleetConnection) throws -> CommandStatus {
        let errors = TextOutput.standardError()
        let output = TextOutput()
        defer { output.flush() }
        try connection.connect(timeoutSeconds: 10)
        let responseTopic = broker.isMQTT5 ? topics.responseTopic(token: FleetTopics.randomToken()) : nil
        // Subscribed (SUBACK received) before publishing: a vehicle answering within milliseconds is not missed.
        try connection.subscribe([responseTopic ?? topics.commandResponses], timeoutSeconds: 10)

        let nowMillis = wallClockMillis()
        let remainingMillis = request.expiresAtMillis - nowMillis
        var properties = MQTTProperties(contentType: "application/json")
        if remainingMillis > 0 {
            // The broker drops the request once the command has expired: a vehicle that comes online later never
            // receives a command it would only reject.
            properties.messageExpirySeconds = UInt32(clamping: (remainingMillis + 999) / 1000)
        } else {
            errors.write("warning: the command expired \(secondsText(Double(-remainingMillis) / 1000)) ago; the vehicle will reject it (expired)\n")
        }
        if let responseTopic {
            properties.responseTopic = responseTopic
            properties.correlationData = Array(request.id.utf8)
        }
        let message = MQTTMessage(topic: topics.commandRequests, payload: payload, qos: 1, properties: properties)
        let reasonCode = try connection.publish(message, timeoutSeconds: 10)
        if reasonCode == 0x10 {
            throw FleetError.noAnswer(
                "nobody subscribes to \(topics.commandRequests): vehicle \(topics.vehicle) is not connected to this broker "
                    + "and has no session on it, so the command was not delivered (check the vehicle id and --topic-prefix)")
        }
        if reasonCode >= 0x80 {
            throw FleetError(
                "the broker refused the command on \(topics.commandRequests) (MQTT reason code 0x\(String(reasonCode, radix: 16))); "
                    + "check the broker's access rules for this client")
        }
        let wait = waitSeconds ?? Double(max(remainingMillis, 0)) / 1000 + 30
        errors.write("sent \(request.name) to \(topics.vehicle) (id \(request.id)); waiting up to \(secondsText(wait)) for its status\n")

        let matcher = ResponseMatcher(commandID: request.id, responseTopic: responseTopic)
        let deadline = monotonicSeconds() + wait
        var last: CommandStatus?
        while true {
            switch connection.nextMessage(deadline: deadline) {
            case .message(let message):
                switch matcher.response(in: message) {
                case nil:
                    continue
                case .failure(let error):
                    errors.write("warning: an unreadable response on \(message.topic): \(error)\n")
                case .success(let response):
                    output.write((json ? ResponseFormatter.json(payload: message.payload, response: response) : ResponseFormatter.text(response)) + "\n")
                    output.flush()
                    last = response.status
                    if response.status.isFinal { return response.status }
                }
            case .lost(let reason):
                errors.write("warning: lost the connection to the broker (\(reason)); reconnecting, statuses sent meanwhile are lost\n")
            case .interrupted:
                throw FleetError.interrupted
            case .timedOut:
                throw FleetError.noAnswer(
                    "no final status from \(topics.vehicle) within \(secondsText(wait)) (last status: \(last?.rawValue ?? "none")); "
                        + "the vehicle may be offline or the command still running: raise --wait, or follow it with "
                        + "axle-fleet watch --broker \(broker.broker) --vehicle \(topics.vehicle)")
            }
        }
    }
}

/// Ends the process with `code` without printing anything more (the output already says why).
struct FleetExit: Error {
    var code: Int32
}
