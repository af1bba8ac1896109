import AxleBase
import MQTTUplink
import RemoteCommands
import TelemetryPayload

/// Turns what vehicles publish under `{prefix}/{vehicle}/…` into output lines: telemetry samples, events, status,
/// features, command requests and responses. A payload it cannot read becomes an `error` line, never a failure.
public struct WatchRenderer: Sendable {
    /// Text for people, or one JSON object per line (`jsonl`) for programs.
    public enum Format: String, Sendable, CaseIterable {
        case text
        case jsonl
    }

    /// The topic prefix, without a trailing slash.
    public let prefix: String
    public let format: Format

    /// A renderer for topics under `prefix`.
    public init(prefix: String, format: Format) {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        self.format = format
    }

    /// The lines (without newlines) for one message; `receivedAtMillis` stamps text lines of messages that carry no
    /// time of their own.
    public func lines(for message: MQTTMessage, receivedAtMillis: Int64 = wallClockMillis()) -> [String] {
        let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let prefixLevels = prefix.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count > prefixLevels.count + 1, Array(levels.prefix(prefixLevels.count)) == prefixLevels else {
            return [error(topic: message.topic, vehicle: nil, why: "not a vehicle topic under \(prefix)/", at: receivedAtMillis)]
        }
        let vehicle = levels[prefixLevels.count]
        let kind = levels[(prefixLevels.count + 1)...].joined(separator: "/")
        switch kind {
        case "telemetry", "events":
            return telemetry(message, vehicle: vehicle, at: receivedAtMillis)
        case "status", "features":
            return document(kind: kind, message, vehicle: vehicle, at: receivedAtMillis)
        case "cmd/req":
            return [request(message, vehicle: vehicle, at: receivedAtMillis)]
        case _ where kind == "cmd/res" || kind.hasPrefix("cmd/res/"):
            return response(message, vehicle: vehicle, at: receivedAtMillis)
        default:
            return [error(topic: message.topic, vehicle: vehicle, why: "unknown topic kind '\(kind)'", at: receivedAtMillis)]
        }
    }

    // MARK: - Kinds

    private func telemetry(_ message: MQTTMessage, vehicle: String, at received: Int64) -> [String] {
        let batch: DecodedBatch
        do {
            batch = try TelemetryPayloadDecoder.decode(message.payload)
        } catch {
            return [self.error(topic: message.topic, vehicle: vehicle, why: error.description, at: received)]
        }
        var lines: [String] = []
        lines.reserveCapacity(batch.samples.count + batch.events.count)
        let sequence = JSONValue.integer(Int128(batch.sequence))
        for sample in batch.samples {
            let millis = sample.timeMicros / 1000
            switch format {
            case .jsonl:
                var members: [(String, JSONValue)] = [
                    ("kind", "sample"), ("vehicle", .string(vehicle)), ("seq", sequence), ("signal", .string(sample.signal)),
                    ("t", .integer(Int128(millis))), ("value", Self.number(sample.value)),
                ]
                if !sample.unit.isEmpty { members.append(("unit", .string(sample.unit))) }
                lines.append(JSONValue.object(members).rendered())
            case .text:
                let unit = sample.unit.isEmpty ? "" : " \(sample.unit)"
                lines.append("\(localClockText(millis: millis))  \(vehicle)  #\(batch.sequence)  \(sample.signal) = \(Self.number(sample.value).rendered())\(unit)")
            }
        }
        for marker in batch.notReadings {
            let millis = marker.timeMicros / 1000
            switch format {
            case .jsonl:
                lines.append(JSONValue.object([
                    ("kind", "not_reading"), ("vehicle", .string(vehicle)), ("seq", sequence),
                    ("signal", .string(marker.signal)), ("t", .integer(Int128(millis))), ("status", .string(marker.kind.name)),
                ]).rendered())
            case .text:
                let status = marker.kind == .error ? "error indicator" : "not available"
                lines.append("\(localClockText(millis: millis))  \(vehicle)  #\(batch.sequence)  \(marker.signal): \(status)")
            }
        }
        for event in batch.events {
            let millis = event.timeMicros / 1000
            let windowCount = event.window?.samples.count ?? 0
            switch format {
            case .jsonl:
                var members: [(String, JSONValue)] = [
                    ("kind", "event"), ("vehicle", .string(vehicle)), ("seq", sequence), ("name", .string(event.name)),
                    ("priority", .string(event.priority)), ("t", .integer(Int128(millis))),
                    ("window_samples", .integer(Int128(windowCount))),
                ]
                if !event.attributes.isEmpty {
                    members.append(("attributes", .object(event.attributes.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
                }
                if !event.droppedRanges.isEmpty {
                    members.append((
                        "dropped",
                        .array(event.droppedRanges.map { range in
                            .object([
                                ("class", .string(range.recordClass)), ("first", .integer(Int128(range.first))),
                                ("last", .integer(Int128(range.last))), ("count", .integer(Int128(range.count))),
                                ("reason", .string(range.reason)),
                            ])
                        })))
                }
                lines.append(JSONValue.object(members).rendered())
            case .text:
                var line = "\(localClockText(millis: millis))  \(vehicle)  #\(batch.sequence)  EVENT \(event.name) (\(event.priority))"
                if windowCount > 0 { line += ", window of \(windowCount) samples" }
                for (key, value) in event.attributes.sorted(by: { $0.key < $1.key }) { line += "  \(key)=\(value)" }
                for range in event.droppedRanges {
                    line += "  dropped \(range.recordClass) \(range.first)-\(range.last) (\(range.count), \(range.reason))"
                }
                lines.append(line)
            }
        }
        return lines
    }

    /// Status and features: JSON documents shown with their members.
    private func document(kind: String, _ message: MQTTMessage, vehicle: String, at received: Int64) -> [String] {
        guard let members = Self.objectMembers(message.payload) else {
            return [error(topic: message.topic, vehicle: vehicle, why: "the \(kind) payload is not a JSON object", at: received)]
        }
        return [line(kind: kind, vehicle: vehicle, retained: message.retain, members: members, at: received)]
    }

    private func response(_ message: MQTTMessage, vehicle: String, at received: Int64) -> [String] {
        let response: CommandResponse
        do {
            response = try CommandResponse.parse(message.payload)
        } catch {
            return [self.error(topic: message.topic, vehicle: vehicle, why: "not a command response: \(error)", at: received)]
        }
        switch format {
        case .jsonl:
            let members = Self.objectMembers(message.payload) ?? []
            return [line(kind: "response", vehicle: vehicle, retained: message.retain, members: members, at: received)]
        case .text:
            return ["\(vehicle)  response  \(response.name ?? "?") \(response.id)  \(ResponseFormatter.text(response))"]
        }
    }

    private func request(_ message: MQTTMessage, vehicle: String, at received: Int64) -> String {
        let request: CommandRequest
        let keyID: String
        do {
            let signed = try SignedCommand.parse(payload: message.payload)
            keyID = signed.keyID
            request = try CommandRequest.parse(body: signed.body)
        } catch {
            return self.error(topic: message.topic, vehicle: vehicle, why: "not a command request: \(error)", at: received)
        }
        let parameters = request.parameters.sorted { $0.key < $1.key }
        switch format {
        case .jsonl:
            return JSONValue.object([
                ("kind", "request"), ("vehicle", .string(vehicle)), ("id", .string(request.id)), ("name", .string(request.name)),
                ("key", .string(keyID)), ("params", .object(parameters.map { ($0.key, $0.value.json) })),
                ("issued_at", .integer(Int128(request.issuedAtMillis))), ("expires_at", .integer(Int128(request.expiresAtMillis))),
            ]).rendered()
        case .text:
            let words = parameters.map { "\($0.key)=\($0.value.json.rendered())" }.joined(separator: " ")
            return "\(localClockText(millis: request.issuedAtMillis))  \(vehicle)  request  \(request.name) \(request.id)\(words.isEmpty ? "" : " " + words)  (key \(keyID))"
        }
    }

    private func error(topic: String, vehicle: String?, why: String, at received: Int64) -> String {
        switch format {
        case .jsonl:
            var members: [(String, JSONValue)] = [("kind", "error"), ("topic", .string(topic))]
            if let vehicle { members.append(("vehicle", .string(vehicle))) }
            members.append(("why", .string(why)))
            return JSONValue.object(members).rendered()
        case .text:
            return "\(localClockText(millis: received))  error on \(topic): \(why)"
        }
    }

    /// `kind` and `vehicle` first, then the payload's own members (its own `kind`/`vehicle` give way).
    private func line(kind: String, vehicle: String, retained: Bool, members: [(String, JSONValue)], at received: Int64) -> String {
        switch format {
        case .jsonl:
            var all: [(String, JSONValue)] = [("kind", .string(kind)), ("vehicle", .string(vehicle))]
            if retained { all.append(("retained", true)) }
            all += members.filter { $0.0 != "kind" && $0.0 != "vehicle" }
            return JSONValue.object(all).rendered()
        case .text:
            let rest = JSONValue.object(members.filter { $0.0 != "vehicle" }).rendered()
            return "\(localClockText(millis: received))  \(vehicle)  \(kind)\(retained ? " (retained)" : "")  \(rest)"
        }
    }

    // MARK: - Values

    private static func objectMembers(_ payload: [UInt8]) -> [(String, JSONValue)]? {
        guard let document = try? JSONValue.parse(String(decoding: payload, as: UTF8.self)),
            case .object(let members) = document
        else { return nil }
        return members
    }

    /// Whole numbers as integers (`42`, not `42.0`); others as they are.
    static func number(_ value: Double) -> JSONValue { .number(exactWhenWhole: value) }
}
