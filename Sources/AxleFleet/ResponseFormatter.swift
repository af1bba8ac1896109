import AxleBase
import RemoteCommands

/// How `command send` and `feature grant|revoke` print each status as it arrives.
public enum ResponseFormatter {
    /// One line for people: "14:02:03.123  ACCEPTED", "14:02:03.130  REJECTED  precondition_failed: …", with the
    /// result (compact JSON) after a final status that has one. No newline.
    public static func text(_ response: CommandResponse) -> String {
        var line = "\(localClockText(millis: response.timeMillis))  \(response.status.rawValue)"
        switch (response.reason, response.text) {
        case (let reason?, let text?): line += "  \(reason.rawValue): \(text)"
        case (let reason?, nil): line += "  \(reason.rawValue)"
        case (nil, let text?): line += "  \(text)"
        case (nil, nil): break
        }
        if let result = response.result { line += "  result: \(result.rendered())" }
        return line
    }

    /// One JSON object on one line: the response payload as the vehicle sent it, re-rendered compactly (so every
    /// field the vehicle added is kept). No newline.
    public static func json(payload: [UInt8], response: CommandResponse) -> String {
        if let document = try? JSONValue.parse(String(decoding: payload, as: UTF8.self)), case .object = document {
            return document.rendered()
        }
        return String(decoding: response.payload(), as: UTF8.self)
    }
}
