import AxleBase
import ConfigBundle

// The policy of `axle-fleet config push` (docs/configuration.md, "Pushing to a fleet"), apart from the MQTT wiring:
// which vehicles each wave adds, what a vehicle's report says about the version being pushed, and when the rollout
// goes on, waits or stops. Pure, with the clock passed in, so that it is tested without a broker.

/// The waves of a staged rollout: cumulative percentages of the fleet, each rounded up to whole vehicles, taken in
/// the order the vehicles were listed.
///
/// 20 vehicles with 1, 10, 50, 100 make waves of 1, 1, 8 and 10 vehicles (1, 2, 10 and 20 in all). A percentage
/// that adds no vehicle (10 % of 3 vehicles is still the first one) makes no wave of its own.
public struct RolloutPlan: Sendable, Equatable {
    /// One wave: the vehicles it adds to those of the waves before it.
    public struct Wave: Sendable, Equatable {
        /// From 1.
        public var number: Int
        /// The share of the fleet that has been asked once this wave is out (the first percentage that reached it).
        public var percent: Double
        /// The vehicles this wave adds.
        public var vehicles: [String]
        /// The vehicles of this wave and every wave before it.
        public var cumulativeCount: Int
    }

    /// What `--waves` is when not given.
    public static let defaultPercentages: [Double] = [1, 10, 50, 100]

    /// Every vehicle, in the order given.
    public var vehicles: [String]
    public var waves: [Wave]

    /// Plans the waves; `percentages` must be `RolloutPlan.percentages(_:)`'s kind (rising, ending at 100).
    public init(vehicles: [String], percentages: [Double]) {
        self.vehicles = vehicles
        var waves: [Wave] = []
        var count = 0
        for percent in percentages {
            // A tolerance below one vehicle in a billion: 0.1 % of 1000 is 1.0000000000000002 in binary floating
            // point, and must stay one vehicle.
            let wanted = min(vehicles.count, Int((percent * Double(vehicles.count) / 100 - 1e-9).rounded(.up)))
            guard wanted > count else { continue }
            waves.append(Wave(
                number: waves.count + 1, percent: percent, vehicles: Array(vehicles[count..<wanted]), cumulativeCount: wanted))
            count = wanted
        }
        self.waves = waves
    }

    /// Reads `--waves`: comma-separated percentages above 0, rising, the last one 100 (so that every listed vehicle
    /// is asked in the end).
    public static func percentages(_ text: String) throws(FleetError) -> [Double] {
        var values: [Double] = []
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = word.filter { $0 != " " }
            guard let value = Double(trimmed.hasSuffix("%") ? String(trimmed.dropLast()) : trimmed), value > 0, value <= 100
            else {
                throw FleetError.usage("--waves '\(text)': '\(word)' is not a percentage above 0 and at most 100; write such as 1,10,50,100")
            }
            if let last = values.last, value <= last {
                throw FleetError.usage("--waves '\(text)': the percentages must rise (each wave's is the share of the fleet asked so far)")
            }
            values.append(value)
        }
        guard values.last == 100 else {
            throw FleetError.usage("--waves '\(text)': the last wave must be 100, so that every listed vehicle is asked; push to fewer vehicles by listing fewer")
        }
        return values
    }

    /// "1 %", "0.5 %".
    public static func percentText(_ percent: Double) -> String {
        percent == percent.rounded() ? "\(Int(percent)) %" : "\(percent) %"
    }
}

/// What a vehicle's configuration report says about the version being pushed.
public enum RolloutOutcome: Sendable, Equatable {
    /// The vehicle runs the version: `last` is the version and APPLIED, or `active` is the version and `last` is
    /// about another one.
    case applied
    /// The vehicle is taking the version (APPLYING) or trying it (TRIAL).
    case inProgress(ConfigurationStatus)
    /// The vehicle will never run the version: it refused it or staging failed (FAILED), it rolled it back
    /// (ROLLED_BACK), or it has already taken this version or a higher one without running it (FAILED,
    /// `version_not_above_high_water_mark`: it would refuse a replay).
    case failed(ConfigurationStatus, reason: String?, text: String?)

    /// The reason the tool gives when a vehicle's high-water mark has passed the version: the vehicle's own code for
    /// refusing such a bundle.
    public static let passedReason = "version_not_above_high_water_mark"

    /// The outcome `report` gives for `version`; nil when the report is not about it (a state retained from before
    /// the push, about an older version).
    public static func of(_ report: ConfigurationReport, version: UInt64) -> RolloutOutcome? {
        // `last` first: during its trial the version may already be the active one, and it can still be rolled back.
        if let last = report.last, last.version == version {
            switch last.status {
            case .applied: return .applied
            case .applying, .trial: return .inProgress(last.status)
            case .failed, .rolledBack: return .failed(last.status, reason: last.reason, text: last.text)
            }
        }
        // Running it, and `last` is about a later version (or the version was installed some other way).
        if report.active.version == version { return .applied }
        if report.highWaterMark >= version {
            return .failed(
                .failed, reason: passedReason,
                text: "the vehicle has taken version \(report.highWaterMark) and runs version \(report.active.version): it never takes version \(version)")
        }
        return nil
    }

    /// Whether nothing more will change: APPLIED or a failure.
    public var isFinal: Bool {
        if case .inProgress = self { return false }
        return true
    }

    public var isFailure: Bool {
        if case .failed = self { return true }
        return false
    }

    /// The status as reports name it: APPLIED, APPLYING, TRIAL, FAILED, ROLLED_BACK.
    public var status: ConfigurationStatus {
        switch self {
        case .applied: .applied
        case .inProgress(let status), .failed(let status, _, _): status
        }
    }

    /// "ROLLED_BACK health_check_failed: the text", "APPLIED".
    public var text: String {
        guard case .failed(let status, let reason, let text) = self else { return status.rawValue }
        return [status.rawValue, [reason, text].compactMap { $0 }.joined(separator: ": ")].filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

/// The reports of a rollout so far, and the abort rule: once at least `minimumReports` vehicles have a final
/// outcome for the version, the rollout stops when more than `maximumFailurePercent` of them failed.
public struct RolloutTally: Sendable {
    public let version: UInt64
    public let maximumFailurePercent: Double
    public let minimumReports: Int
    /// Each vehicle's latest outcome; a final one is kept (a vehicle never retries a version).
    public private(set) var outcomes: [String: RolloutOutcome] = [:]
    /// Vehicles with a final outcome, in the order they reached it.
    public private(set) var reported: [String] = []

    public init(version: UInt64, maximumFailurePercent: Double, minimumReports: Int) {
        self.version = version
        self.maximumFailurePercent = maximumFailurePercent
        self.minimumReports = minimumReports
    }

    /// Takes a report from `vehicle`; returns the vehicle's outcome when it changed (a line to print), nil when the
    /// report is not about the version or says nothing new.
    public mutating func record(_ report: ConfigurationReport, from vehicle: String) -> RolloutOutcome? {
        guard let outcome = RolloutOutcome.of(report, version: version) else { return nil }
        if let known = outcomes[vehicle], known.isFinal || known == outcome { return nil }
        outcomes[vehicle] = outcome
        if outcome.isFinal { reported.append(vehicle) }
        return outcome
    }

    /// The vehicles that failed, in the order they reported.
    public var failed: [String] { reported.filter { outcomes[$0]?.isFailure == true } }
    public var appliedCount: Int { reported.count - failed.count }

    /// Whether the rollout must stop: enough vehicles have reported, and too many of them failed.
    public var exceedsFailureThreshold: Bool {
        reported.count >= minimumReports && Double(failed.count) * 100 > maximumFailurePercent * Double(reported.count)
    }

    /// Whether `vehicle` has a final outcome.
    public func hasReported(_ vehicle: String) -> Bool { outcomes[vehicle]?.isFinal == true }
}

/// What the rollout does next.
public enum RolloutDecision: Sendable, Equatable {
    /// Some of the wave's vehicles have not reported: wait for messages until this monotonic time.
    case wait(until: Double)
    /// Every vehicle of the wave has reported and the failures stay within the threshold: start the next wave.
    case waveComplete
    /// Too many failures: stop.
    case abortFailures
    /// The wave's time ran out before these vehicles reported: stop.
    case abortSilent([String])
}

/// One wave being watched: its vehicles and its deadline.
public struct WaveWatch: Sendable {
    public let wave: RolloutPlan.Wave
    /// Monotonic seconds.
    public let deadline: Double

    public init(wave: RolloutPlan.Wave, startedAt now: Double, timeoutSeconds: Double) {
        self.wave = wave
        deadline = now + timeoutSeconds
    }

    /// The next step at monotonic time `now`. Failures are checked first: a rollout stops as soon as the threshold
    /// is passed, without waiting for the rest of the wave.
    public func decision(_ tally: RolloutTally, now: Double) -> RolloutDecision {
        if tally.exceedsFailureThreshold { return .abortFailures }
        let silent = wave.vehicles.filter { !tally.hasReported($0) }
        if silent.isEmpty { return .waveComplete }
        if now >= deadline { return .abortSilent(silent) }
        return .wait(until: deadline)
    }
}

/// A file of vehicle ids, as `config sign --vehicles` and `config push|status --vehicles` read it.
enum VehicleListFile {
    /// One id per line; `#` starts a comment; blank lines and spaces around an id are ignored.
    static func read(_ path: String) throws(FleetError) -> [String] {
        let text: String
        do {
            text = String(decoding: try FileInput.readAll(path: path), as: UTF8.self)
        } catch {
            throw FleetError("--vehicles: \(error)")
        }
        var ids: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let id = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingSpaces()
            if !id.isEmpty { ids.append(id) }
        }
        guard !ids.isEmpty else { throw FleetError("--vehicles \(path) lists no vehicle id") }
        return ids
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and carriage returns.
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice.removeLast() }
        return String(slice)
    }
}
