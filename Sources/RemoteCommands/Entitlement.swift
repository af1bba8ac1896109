/// A feature bought over the air (`feature.activate`): what it is, when it is valid, and where it stands.
public struct Entitlement: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case pending, active, expired, revoked
    }

    public var feature: String
    /// nil: valid from the grant on.
    public var validFromMillis: Int64?
    /// nil: no end.
    public var validUntilMillis: Int64?
    /// The `feature.activate` command that granted it.
    public var commandID: String
    /// The state last acted on (the agent moves it towards `desiredState`).
    public var state: State
    /// Seconds the entitlement has been active, accumulated on the monotonic clock (persisted): with validity
    /// length (until - from) it bounds the life even if the wall clock is set back.
    public var activeSeconds: Double

    public init(
        feature: String, validFromMillis: Int64? = nil, validUntilMillis: Int64? = nil, commandID: String,
        state: State = .pending, activeSeconds: Double = 0
    ) {
        self.feature = feature
        self.validFromMillis = validFromMillis
        self.validUntilMillis = validUntilMillis
        self.commandID = commandID
        self.state = state
        self.activeSeconds = activeSeconds
    }

    /// What should be true now. Revoked and expired are final; before `validFrom` pending; from `validUntil` on
    /// expired; also expired once `activeSeconds` reaches the validity length (from and until both known), so that
    /// setting the wall clock back does not extend the feature; otherwise active.
    public func desiredState(nowMillis: Int64) -> State {
        if state == .revoked || state == .expired { return state }
        if let validFromMillis, nowMillis < validFromMillis { return .pending }
        if let validUntilMillis, nowMillis >= validUntilMillis { return .expired }
        if let validFromMillis, let validUntilMillis,
            activeSeconds >= Double(validUntilMillis - validFromMillis) / 1000
        {
            return .expired
        }
        return .active
    }
}
