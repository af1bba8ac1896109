import AxleBase
import FirmwareProfile
import RemoteCommands

/// Feature entitlements bought over the air: `feature.activate` / `feature.revoke` store them durably
/// (`EntitlementStoring`), and the manager keeps each feature's frames in step with what the entitlement says now —
/// switching it on when its validity starts, off when it ends or is revoked, on time and also across restarts.
///
/// Time is checked on both clocks: the wall clock says when validity starts and ends, and the seconds a feature has
/// been active are counted on the monotonic clock (persisted every 10 s), so that setting the wall clock back cannot
/// stretch a 24-hour entitlement (`Entitlement.desiredState`).
///
/// Not `Sendable`: the command service's thread owns it, next to the executor that sends its frames.
public final class FeatureManager {
    /// How often entitlements are checked: a feature ends within this long of its time.
    public static let checkInterval = 0.1
    /// How often the active time is saved (and at shutdown); a crash loses at most this much, in the customer's favour.
    public static let persistInterval = 10.0

    private let definitions: [String: FeatureDefinition]
    private let store: any EntitlementStoring
    private let publisher: any FeatureStatePublisher
    private let vehicleID: String
    private let clock: any AgentClock
    private let log: CommandLog
    private var entitlements: [Entitlement] = []
    /// Per feature, the active seconds the store already holds: saving adds only what was counted since.
    private var savedActiveSeconds: [String: Double] = [:]
    private var lastCheck: Double
    private var lastPersisted: Double
    private var loaded = false

    public init(
        profile: FirmwareProfile, vehicleID: String, store: any EntitlementStoring, publisher: any FeatureStatePublisher,
        clock: any AgentClock, log: @escaping CommandLog
    ) {
        self.definitions = Dictionary(profile.features.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.publisher = publisher
        self.vehicleID = vehicleID
        self.clock = clock
        self.log = log
        self.lastCheck = clock.monotonicSeconds()
        self.lastPersisted = lastCheck
    }

    /// The entitlements as the manager holds them now.
    public var current: [Entitlement] { entitlements }

    /// When `tick` next has work (monotonic clock): at once before the first load, then every `checkInterval` while an
    /// entitlement is pending or active; nil when none is (nothing changes until a command comes).
    public var nextDue: Double? {
        guard loaded else { return clock.monotonicSeconds() }
        guard entitlements.contains(where: { $0.state == .active || $0.state == .pending }) else { return nil }
        return lastCheck + Self.checkInterval
    }

    /// `feature.activate` / `feature.revoke`, already verified and claimed.
    public func handle(_ accepted: AcceptedCommand, executor: CommandExecutor) {
        let request = accepted.command.request
        guard case .string(let feature)? = request.parameters["feature"] else {
            return executor.reject(accepted, .badParameters, "\(request.name) needs the parameter feature")
        }
        guard let definition = definitions[feature] else {
            let known = definitions.keys.sorted().joined(separator: ", ")
            return executor.reject(
                accepted, .badParameters, "this vehicle has no feature '\(feature)' (it has: \(known.isEmpty ? "none" : known))")
        }
        let now = clock.wallClockMillis()
        if request.name == "feature.revoke" {
            guard let index = entitlements.firstIndex(where: { $0.feature == feature }), entitlements[index].state != .revoked else {
                return executor.reject(accepted, .badParameters, "'\(feature)' has no entitlement to revoke")
            }
            executor.begin(accepted)
            let wasActive = entitlements[index].state == .active
            entitlements[index].state = .revoked
            storeState(of: entitlements[index])
            if wasActive { executor.switchFeature(definition, enabled: false) }
            publish()
            executor.finish(accepted, .succeeded, nil, "\(feature) revoked", result: summary(of: entitlements[index]))
            return
        }
        let from = Self.millis(request.parameters["valid_from"])
        let until = Self.millis(request.parameters["valid_until"])
        if let until, until <= max(now, from ?? now) {
            return executor.reject(accepted, .badParameters, "valid_until is not after valid_from and now: the entitlement would never be active")
        }
        executor.begin(accepted)
        let entitlement = Entitlement(
            feature: feature, validFromMillis: from, validUntilMillis: until, commandID: request.id, state: .pending,
            activeSeconds: 0)
        let previous = entitlements.firstIndex { $0.feature == feature }
        let wasActive = previous.map { entitlements[$0].state == .active } ?? false
        if let previous { entitlements[previous] = entitlement } else { entitlements.append(entitlement) }
        savedActiveSeconds[feature] = 0
        do {
            try store.grant(entitlement)
        } catch {
            return executor.finish(accepted, .failed, nil, "the entitlement cannot be stored, so it was not applied: \(error)")
        }
        // A renewal of an active feature keeps it on: only a change of state sends frames.
        if wasActive, let index = entitlements.firstIndex(where: { $0.feature == feature }) {
            entitlements[index].state = .active
            storeState(of: entitlements[index])
        }
        reconcile(executor: executor, nowMillis: now)
        let state = entitlements.first { $0.feature == feature }
        executor.finish(
            accepted, .succeeded, nil, "\(feature) is \(state?.state.rawValue ?? "?")", result: state.map(summary(of:)))
    }

    /// On every turn of the command service: loads the entitlements once (switching active ones on again: the vehicle
    /// may have lost them with its power), counts active time, and switches features whose state is due to change.
    public func tick(executor: CommandExecutor) {
        let now = clock.monotonicSeconds()
        if !loaded {
            loaded = true
            lastCheck = now
            lastPersisted = now
            do {
                entitlements = try store.all()
                savedActiveSeconds = Dictionary(entitlements.map { ($0.feature, $0.activeSeconds) }, uniquingKeysWith: max)
            } catch {
                log(.error, "features", "cannot read the entitlements: \(error)")
            }
            for entitlement in entitlements where entitlement.state == .active {
                if let definition = definitions[entitlement.feature] { executor.switchFeature(definition, enabled: true) }
            }
            reconcile(executor: executor, nowMillis: clock.wallClockMillis())
            publish()
            return
        }
        guard now - lastCheck >= Self.checkInterval else { return }
        let elapsed = now - lastCheck
        lastCheck = now
        for index in entitlements.indices where entitlements[index].state == .active {
            entitlements[index].activeSeconds += elapsed
        }
        if now - lastPersisted >= Self.persistInterval {
            lastPersisted = now
            saveActiveTime()
        }
        reconcile(executor: executor, nowMillis: clock.wallClockMillis())
    }

    /// Shutdown: the active time counted since the last save.
    public func finish() {
        saveActiveTime()
    }

    private func reconcile(executor: CommandExecutor, nowMillis: Int64) {
        var changed = false
        for index in entitlements.indices {
            let desired = entitlements[index].desiredState(nowMillis: nowMillis)
            let current = entitlements[index].state
            guard desired != current else { continue }
            entitlements[index].state = desired
            changed = true
            storeState(of: entitlements[index])
            log(.notice, "features", "\(entitlements[index].feature): \(current.rawValue) → \(desired.rawValue)")
            guard let definition = definitions[entitlements[index].feature] else { continue }
            if desired == .active {
                executor.switchFeature(definition, enabled: true)
            } else if current == .active {
                executor.switchFeature(definition, enabled: false)
            }
        }
        if changed { publish() }
    }

    private func storeState(of entitlement: Entitlement) {
        do {
            try store.setState(feature: entitlement.feature, entitlement.state)
        } catch {
            log(.error, "features", "cannot store the state of \(entitlement.feature): \(error)")
        }
    }

    private func saveActiveTime() {
        for entitlement in entitlements where entitlement.state == .active {
            let delta = entitlement.activeSeconds - savedActiveSeconds[entitlement.feature, default: 0]
            guard delta > 0 else { continue }
            do {
                try store.addActiveSeconds(feature: entitlement.feature, delta)
                savedActiveSeconds[entitlement.feature] = entitlement.activeSeconds
            } catch {
                log(.error, "features", "cannot store the active time of \(entitlement.feature): \(error)")
            }
        }
    }

    /// The retained `…/features` message: every entitlement and its state.
    private func publish() {
        publisher.publishFeatures(.object([
            ("vehicle", .string(vehicleID)),
            ("t", .integer(Int128(clock.wallClockMillis()))),
            ("features", .array(entitlements.map(summary(of:)))),
        ]))
    }

    private func summary(of entitlement: Entitlement) -> JSONValue {
        .object([
            ("feature", .string(entitlement.feature)),
            ("state", .string(entitlement.state.rawValue)),
            ("valid_from", entitlement.validFromMillis.map { .integer(Int128($0)) } ?? .null),
            ("valid_until", entitlement.validUntilMillis.map { .integer(Int128($0)) } ?? .null),
            ("active_seconds", .number((entitlement.activeSeconds * 10).rounded() / 10)),
            ("command", .string(entitlement.commandID)),
        ])
    }

    private static func millis(_ value: CommandValue?) -> Int64? {
        guard case .number(let number)? = value, number.isFinite else { return nil }
        return Int64(number)
    }
}

/// One thread owns a feature manager; sharing one between threads is a compile-time error.
@available(*, unavailable)
extension FeatureManager: Sendable {}
