import ArgumentParser
import AxleBase
import RemoteCommands

/// `axle-fleet feature`: entitlements sold over the air.
struct FeatureGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feature",
        abstract: "Grant or revoke a feature entitlement (signed feature.activate / feature.revoke commands).",
        subcommands: [GrantCommand.self, RevokeCommand.self]
    )
}

/// The vehicle and the feature: shared by `grant` and `revoke`.
struct FeatureOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The vehicle id.", valueName: "id"))
    var vehicle: String

    @Option(help: ArgumentHelp("The feature, such as performance-boost or heated-seats.", valueName: "name"))
    var feature: String

    func validate() throws {
        if feature.isEmpty { throw ValidationError("--feature must not be empty") }
    }
}

/// `axle-fleet feature grant`.
struct GrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "Activate a feature on a vehicle, for a time (--duration) or with no end; exit 0 only on SUCCEEDED.",
        discussion: """
            The entitlement runs from --from (default: now) for --duration; without --duration it has no end.
            Examples:
              axle-fleet feature grant --broker mqtt://broker:1883 --key keys/ops.key --vehicle demo-001 \\
                  --feature performance-boost --duration 24h
              axle-fleet feature grant --broker mqtt://broker:1883 --key keys/ops.key --vehicle demo-001 \\
                  --feature heated-seats
            """
    )

    @OptionGroup var target: FeatureOptions
    @OptionGroup var broker: BrokerOptions
    @OptionGroup var signing: SigningOptions
    @OptionGroup var follow: FollowOptions

    @Option(help: ArgumentHelp("How long the entitlement lasts: 10s, 30m, 24h, 7d (default: no end).", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("When the entitlement starts, in Unix seconds (default: now).", valueName: "unix-seconds"))
    var from: Int64?

    func validate() throws {
        if signing.key == nil { throw ValidationError("give the signing key with --key PREFIX.key") }
        if let duration { _ = try validating { () throws(FleetError) in try DurationText.parse(duration, option: "--duration") } }
        if let from, !(0..<100_000_000_000).contains(from) { throw ValidationError("--from takes Unix seconds, such as 1767225600") }
        _ = try validating { () throws(FleetError) in try FleetTopics(prefix: broker.topicPrefix, vehicle: target.vehicle) }
    }

    func run() throws {
        try reportingFailures {
            let issuer = try signing.issuer()
            let parameters = CommandIssuer.activationParameters(
                feature: target.feature, durationMillis: duration.flatMap(DurationText.milliseconds),
                fromMillis: from.map { $0 * 1000 }, nowMillis: wallClockMillis())
            let request = CommandIssuer.request(
                vehicle: target.vehicle, name: "feature.activate", parameters: parameters, ttlMillis: signing.ttlMillis)
            let topics = try FleetTopics(prefix: broker.topicPrefix, vehicle: target.vehicle)
            try CommandDelivery(broker: broker, topics: topics, json: follow.json, waitSeconds: follow.wait)
                .run(payload: issuer.sign(request).payload(), request: request)
        }
    }
}

/// `axle-fleet feature revoke`.
struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a feature on a vehicle at once; exit 0 only on SUCCEEDED.",
        discussion: """
            Example:
              axle-fleet feature revoke --broker mqtt://broker:1883 --key keys/ops.key --vehicle demo-001 \\
                  --feature performance-boost
            """
    )

    @OptionGroup var target: FeatureOptions
    @OptionGroup var broker: BrokerOptions
    @OptionGroup var signing: SigningOptions
    @OptionGroup var follow: FollowOptions

    func validate() throws {
        if signing.key == nil { throw ValidationError("give the signing key with --key PREFIX.key") }
        _ = try validating { () throws(FleetError) in try FleetTopics(prefix: broker.topicPrefix, vehicle: target.vehicle) }
    }

    func run() throws {
        try reportingFailures {
            let issuer = try signing.issuer()
            let request = CommandIssuer.request(
                vehicle: target.vehicle, name: "feature.revoke",
                parameters: CommandIssuer.revocationParameters(feature: target.feature), ttlMillis: signing.ttlMillis)
            let topics = try FleetTopics(prefix: broker.topicPrefix, vehicle: target.vehicle)
            try CommandDelivery(broker: broker, topics: topics, json: follow.json, waitSeconds: follow.wait)
                .run(payload: issuer.sign(request).payload(), request: request)
        }
    }
}
