import RemoteCommands

/// Builds and signs command requests the way `axle-fleet` issues them (docs/commands.md, docs/axle-fleet.md).
///
/// The counter is the issue time in microseconds since the epoch: it grows with every command a key signs as long
/// as no two are issued in the same microsecond and the clock is not set back, which is why one key must never be
/// shared by issuers that could reuse a counter (the vehicle rejects a reused counter as a replay).
public struct CommandIssuer: Sendable {
    /// The backend key that signs.
    public let key: CommandSigningKey

    /// An issuer signing with `key`.
    public init(key: CommandSigningKey) {
        self.key = key
    }

    /// A request issued at `nowMicros`, valid for `ttlMillis`.
    public static func request(
        vehicle: String, name: String, parameters: [String: CommandValue], ttlMillis: Int64,
        nowMicros: Int64 = wallClockMicros()
    ) -> CommandRequest {
        let now = nowMicros / 1000
        return CommandRequest(
            vehicle: vehicle, name: name, parameters: parameters, issuedAtMillis: now, expiresAtMillis: now + ttlMillis,
            counter: UInt64(max(nowMicros, 0)))
    }

    /// The request signed: what goes on the wire (`payload()`).
    public func sign(_ request: CommandRequest) -> SignedCommand {
        key.sign(request)
    }

    /// The parameters of `feature.activate`: valid from `fromMillis` (when given) for `durationMillis` (no end
    /// without a duration), counted from `fromMillis`, else from `nowMillis`.
    public static func activationParameters(
        feature: String, durationMillis: Int64?, fromMillis: Int64?, nowMillis: Int64
    ) -> [String: CommandValue] {
        var parameters: [String: CommandValue] = ["feature": .string(feature)]
        if let fromMillis { parameters["valid_from"] = .number(Double(fromMillis)) }
        if let durationMillis { parameters["valid_until"] = .number(Double((fromMillis ?? nowMillis) + durationMillis)) }
        return parameters
    }

    /// The parameters of `feature.revoke`.
    public static func revocationParameters(feature: String) -> [String: CommandValue] {
        ["feature": .string(feature)]
    }
}
