import ArgumentParser
import AxleBase
import ConfigBundle
import MQTTUplink

/// `axle-fleet config push`: a signed bundle to a fleet, in waves (docs/configuration.md, "Pushing to a fleet").
struct ConfigPushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Publish a signed bundle and roll it out in waves, stopping when too many vehicles fail.",
        discussion: """
            Publishes the bundle once for the fleet, in retained chunks of at most 64 KiB on \
            TOPIC-PREFIX/config/bundles/SHA256/INDEX, then asks the vehicles wave by wave: each vehicle of a wave \
            gets its retained TOPIC-PREFIX/VEHICLE/config/desired message, and the next wave starts once every \
            vehicle of this one has reported on the version (TOPIC-PREFIX/VEHICLE/config/state). --waves are \
            cumulative percentages of the listed vehicles, rounded up, in the order listed. The rollout stops \
            when, with at least --min-reports vehicles reported, more than --max-failures percent of them failed \
            (FAILED or ROLLED_BACK), or when a wave's vehicles have not all reported within --wave-timeout.
            Exit codes: 0 every vehicle APPLIED the version; 1 the rollout stopped (failures, silent vehicles) or \
            the bundle cannot be pushed; 3 the broker could not be reached or did not acknowledge; 64 the command \
            line is wrong; 130 interrupted.
            Example:
              axle-fleet config push --broker mqtt://broker:1883 \\
                  --bundle demo-sedan-7.axlecfg --vehicles fleet.txt \\
                  --waves 5,25,100 --max-failures 5 --min-reports 3
            """
    )

    @OptionGroup var broker: BrokerOptions

    @Option(help: ArgumentHelp("The signed bundle (from 'config sign').", valueName: "file"))
    var bundle: String

    @OptionGroup var selection: VehicleSelection

    @Option(help: ArgumentHelp("Cumulative percentages of the vehicles per wave, rising to 100.", valueName: "list"))
    var waves: String = "1,10,50,100"

    @Option(name: .customLong("max-failures"), help: ArgumentHelp("Stop when more than this percentage of the vehicles that reported failed.", valueName: "percent"))
    var maxFailures: Double = 10

    @Option(name: .customLong("min-reports"), help: ArgumentHelp("Judge the failure percentage only once this many vehicles have reported.", valueName: "n"))
    var minReports: Int = 1

    @Option(name: .customLong("wave-timeout"), help: ArgumentHelp("How long a wave's vehicles have to report: 30s, 10m, 2h.", valueName: "duration"))
    var waveTimeout: String = "10m"

    @Flag(help: "Print one JSON document with the outcome on standard output (progress goes to standard error).")
    var json = false

    func validate() throws {
        _ = try validating { () throws(FleetError) in try RolloutPlan.percentages(waves) }
        guard maxFailures >= 0, maxFailures <= 100 else { throw ValidationError("--max-failures takes a percentage from 0 to 100") }
        guard minReports >= 1 else { throw ValidationError("--min-reports takes a number of vehicles from 1") }
        _ = try validating { () throws(FleetError) in try DurationText.parse(waveTimeout, option: "--wave-timeout") }
    }

    func run() throws {
        try reportingFailures {
            let ids = try selection.ids(prefix: broker.topicPrefix)
            let pushed = try PushedBundle.read(bundle, nowMillis: wallClockMillis())
            if let refusal = pushed.refusal(for: ids) { throw FleetError(refusal) }
            let plan = RolloutPlan(vehicles: ids, percentages: try RolloutPlan.percentages(waves))
            let tally = RolloutTally(version: pushed.manifest.version, maximumFailurePercent: maxFailures, minimumReports: minReports)
            let timeout = Double(try DurationText.parse(waveTimeout, option: "--wave-timeout")) / 1000
            try ConfigRollout(
                broker: broker, bundle: pushed, plan: plan, tally: tally, waveTimeoutSeconds: timeout, json: json,
                vehiclesArgument: selection.argumentText
            ).run()
        }
    }
}

/// A bundle read for pushing: its bytes, digest and manifest. The signature is not checked here (the vehicles
/// check it; `config verify` checks it on the backend).
struct PushedBundle {
    var path: String
    var bytes: [UInt8]
    var manifest: BundleManifest
    var desired: DesiredConfiguration
    /// SHA-256 of the whole file, lowercase hex: names its chunk topics.
    var sha256: String { desired.bundleSHA256 }
    /// MQTT 5 message expiry for the chunks and desired messages: the broker drops them once the bundle has expired.
    var expirySeconds: UInt32

    /// Reads and checks the bundle: a bundle, not larger than a vehicle downloads, not expired at `nowMillis`.
    static func read(_ path: String, nowMillis: Int64) throws(FleetError) -> PushedBundle {
        let bytes: [UInt8]
        do {
            bytes = try FileInput.readAll(path: path)
        } catch {
            throw FleetError("--bundle: \(error)")
        }
        guard bytes.count <= DesiredConfiguration.maximumBundleBytes else {
            throw FleetError("\(path) is \(bytes.count) bytes, more than the \(DesiredConfiguration.maximumBundleBytes) a vehicle downloads; make the profile smaller")
        }
        let (_, manifest) = try UnverifiedBundle.read(bytes, path: path, hint: "; make bundles with axle-fleet config sign")
        guard manifest.expiresAtMillis > nowMillis else {
            throw FleetError("\(path) (version \(manifest.version)) expired \(secondsText(Double(nowMillis - manifest.expiresAtMillis) / 1000)) ago; every vehicle would refuse it: sign it again with a later --not-before or a longer --valid-for")
        }
        return PushedBundle(
            path: path, bytes: bytes, manifest: manifest, desired: DesiredConfiguration(version: manifest.version, bundle: bytes),
            expirySeconds: UInt32(clamping: (manifest.expiresAtMillis - nowMillis + 999) / 1000))
    }

    /// Why the bundle cannot go to `vehicles`, naming those its manifest does not list; nil when it can.
    func refusal(for vehicles: [String]) -> String? {
        let others = vehicles.filter { !manifest.vehicles.includes($0) }
        guard !others.isEmpty, case .only(let listed) = manifest.vehicles else { return nil }
        return "\(path) is signed for \(listed.count == 1 ? "vehicle" : "vehicles") \(listed.joined(separator: ", ")) only; "
            + "\(others.count == 1 ? "vehicle" : "vehicles") \(RolloutText.names(others, limit: 20)) would refuse it (not_for_this_vehicle). "
            + "Push to the vehicles it lists, or sign a bundle for these (config sign --vehicle, or no --vehicle for every vehicle)"
    }
}

/// The rollout itself: the chunks, then each wave's desired messages and reports, over one MQTT connection.
struct ConfigRollout {
    var broker: BrokerOptions
    var bundle: PushedBundle
    var plan: RolloutPlan
    var tally: RolloutTally
    var waveTimeoutSeconds: Double
    var json: Bool
    /// The vehicles as the command line gave them, for the `config status` command the messages suggest.
    var vehiclesArgument: String

    /// How the rollout ended.
    enum Ending: String {
        case applied
        case abortedFailures = "aborted_failures"
        case abortedSilent = "aborted_silent"
    }

    /// Payload bytes sent, for the figures printed at the end (MQTT headers and topics not counted).
    private struct Traffic {
        var chunkBytes = 0
        var chunks = 0
        var desiredBytes = 0
        var desiredMessages = 0
    }

    func run() throws {
        let connection = try FleetConnection(configuration: broker.configuration())
        handleTerminationSignals { connection.interrupt() }
        defer { connection.close() }
        var rollout = self
        do {
            try rollout.push(over: connection)
        } catch let error as FleetError where error == .interrupted {
            throw FleetError(
                "interrupted; the vehicles already asked keep their desired message and may still apply version \(bundle.manifest.version) "
                    + "(see where they are with: axle-fleet config status --broker \(broker.broker) \(vehiclesArgument))",
                exitCode: 130)
        }
    }

    private mutating func push(over connection: FleetConnection) throws {
        let progress = json ? TextOutput.standardError() : TextOutput()
        defer { progress.flush() }
        func say(_ line: String) {
            progress.write(line + "\n")
            progress.flush()
        }
        let version = bundle.manifest.version
        let desired = bundle.desired
        let prefix = try FleetTopics(prefix: broker.topicPrefix, vehicle: plan.vehicles[0]).prefix
        say("bundle \(bundle.path): \(bundle.manifest.profile) version \(version), \(bundle.bytes.count) bytes, sha256 \(bundle.sha256)")
        say("rollout: \(plan.vehicles.count) \(plan.vehicles.count == 1 ? "vehicle" : "vehicles") in \(plan.waves.count) \(plan.waves.count == 1 ? "wave" : "waves") (\(plan.waves.map { "\($0.cumulativeCount)" }.joined(separator: ", ")) in all)")

        try connection.connect(timeoutSeconds: 10)
        var traffic = Traffic()
        let expiry = bundle.expirySeconds
        func properties(_ contentType: String) -> MQTTProperties {
            MQTTProperties(contentType: contentType, messageExpirySeconds: expiry)
        }
        for index in 0..<desired.chunks {
            let message = MQTTMessage(
                topic: ConfigurationTopics.chunk(prefix: prefix, bundleSHA256: bundle.sha256, index: index),
                payload: Array(bundle.bytes[desired.range(ofChunk: index)]), qos: 1, retain: true,
                properties: properties("application/octet-stream"))
            try Self.check(try connection.publish(message, timeoutSeconds: 30, subject: "chunk \(index) of the bundle"), message)
            traffic.chunks += 1
            traffic.chunkBytes += message.payload.count
        }
        say("chunks: \(desired.chunks) of at most \(desired.chunkBytes) bytes, retained on \(prefix)/config/bundles/\(bundle.sha256)/0-\(desired.chunks - 1)")

        let width = min(24, plan.vehicles.map(\.count).max() ?? 0)
        var topicVehicle: [String: String] = [:]
        var ending = Ending.applied
        var stoppedWave: RolloutPlan.Wave?
        var silent: [String] = []
        waves: for wave in plan.waves {
            say("wave \(wave.number) of \(plan.waves.count) (\(RolloutPlan.percentText(wave.percent)), \(wave.cumulativeCount) of \(plan.vehicles.count)): \(RolloutText.names(wave.vehicles, limit: 10))")
            let topics = wave.vehicles.map { ConfigurationTopics(prefix: prefix, vehicleID: $0) }
            for topic in topics { topicVehicle[topic.state] = topic.vehicleID }
            // Subscribed (SUBACK received) before asking: a vehicle that answers within milliseconds is not missed.
            try connection.subscribe(topics.map(\.state), timeoutSeconds: 30)
            let payload = Array(desired.json.rendered().utf8)
            for topic in topics {
                let message = MQTTMessage(topic: topic.desired, payload: payload, qos: 1, retain: true, properties: properties("application/json"))
                try Self.check(try connection.publish(message, timeoutSeconds: 30, subject: "the desired configuration of \(topic.vehicleID)"), message)
                traffic.desiredMessages += 1
                traffic.desiredBytes += payload.count
            }
            let watch = WaveWatch(wave: wave, startedAt: monotonicSeconds(), timeoutSeconds: waveTimeoutSeconds)
            while true {
                switch watch.decision(tally, now: monotonicSeconds()) {
                case .waveComplete:
                    let failed = wave.vehicles.filter { tally.outcomes[$0]?.isFailure == true }.count
                    say("wave \(wave.number) of \(plan.waves.count): \(wave.vehicles.count - failed) APPLIED, \(failed) failed (\(tally.appliedCount) of \(plan.vehicles.count) vehicles APPLIED so far)")
                    continue waves
                case .abortFailures:
                    ending = .abortedFailures
                    stoppedWave = wave
                    break waves
                case .abortSilent(let vehicles):
                    ending = .abortedSilent
                    stoppedWave = wave
                    silent = vehicles
                    break waves
                case .wait(let deadline):
                    switch connection.nextMessage(deadline: deadline) {
                    case .message(let message):
                        guard let vehicle = topicVehicle[message.topic], !message.payload.isEmpty else { continue }
                        let report: ConfigurationReport
                        do {
                            report = try ConfigurationReport.parse(try JSONValue.parse(String(decoding: message.payload, as: UTF8.self)))
                        } catch {
                            TextOutput.standardError().write("warning: an unreadable configuration report from \(vehicle) on \(message.topic): \(error)\n")
                            continue
                        }
                        if let outcome = tally.record(report, from: vehicle) {
                            say("  \(vehicle.padded(to: width))  \(outcome.text)")
                        }
                    case .lost(let reason):
                        TextOutput.standardError().write("warning: lost the connection to the broker (\(reason)); reconnecting (retained reports arrive again)\n")
                    case .interrupted:
                        throw FleetError.interrupted
                    case .timedOut:
                        continue
                    }
                }
            }
        }

        let total = traffic.chunkBytes + traffic.desiredBytes
        say("bytes published: \(traffic.chunkBytes) in \(traffic.chunks) \(traffic.chunks == 1 ? "chunk" : "chunks") (once for the fleet) + \(traffic.desiredBytes) in \(traffic.desiredMessages) desired \(traffic.desiredMessages == 1 ? "message" : "messages") = \(total) (payloads; the bundle is \(bundle.bytes.count) bytes)")
        let notAsked = stoppedWave.map { stopped in plan.waves.filter { $0.number > stopped.number } } ?? []
        let notAskedCount = notAsked.reduce(0) { $0 + $1.vehicles.count }
        let notAskedText = notAsked.isEmpty
            ? "" : "; \(notAsked.count == 1 ? "wave" : "waves") \(notAsked.map { "\($0.number)" }.joined(separator: ", ")) (\(notAskedCount) \(notAskedCount == 1 ? "vehicle" : "vehicles")) not started"
        for vehicle in tally.failed {
            say("failed: \(vehicle.padded(to: width))  \(tally.outcomes[vehicle]!.text)")
        }
        if json {
            let output = TextOutput()
            output.write(document(ending: ending, stoppedWave: stoppedWave, traffic: traffic).rendered(indent: 2) + "\n")
            output.flush()
        }
        let statusHint = "see every vehicle with: axle-fleet config status --broker \(broker.broker) \(vehiclesArgument)"
        switch ending {
        case .applied:
            say("done: version \(version) APPLIED on all \(plan.vehicles.count) \(plan.vehicles.count == 1 ? "vehicle" : "vehicles")")
        case .abortedFailures:
            let failed = tally.failed.count, reported = tally.reported.count
            let percent = (Double(failed) * 1000 / Double(reported)).rounded() / 10
            throw FleetError(
                "rollout of version \(version) stopped in wave \(stoppedWave!.number) of \(plan.waves.count): \(failed) of the \(reported) "
                    + "\(reported == 1 ? "vehicle" : "vehicles") that reported failed (\(percent == percent.rounded() ? "\(Int(percent))" : "\(percent)") %, more than "
                    + "--max-failures \(RolloutPlan.percentText(tally.maximumFailurePercent))): \(RolloutText.names(tally.failed, limit: 20))\(notAskedText). "
                    + "Fix the cause (the reasons are above) and push a new version; \(statusHint)")
        case .abortedSilent:
            throw FleetError(
                "rollout of version \(version) stopped in wave \(stoppedWave!.number) of \(plan.waves.count): no final report within "
                    + "\(secondsText(waveTimeoutSeconds)) from \(RolloutText.names(silent, limit: 20))\(notAskedText). They keep their desired "
                    + "message and apply it when they connect; push again to go on (vehicles that APPLIED count at once) or raise --wave-timeout")
        }
    }

    /// Refuses a publish the broker did not accept (0x10, no subscriber yet, is normal for a retained message).
    private static func check(_ reasonCode: Int32, _ message: MQTTMessage) throws(FleetError) {
        guard reasonCode >= 0x80 else { return }
        throw FleetError(
            "the broker refused \(message.payload.count) bytes on \(message.topic) (MQTT reason code 0x\(String(reasonCode, radix: 16))); "
                + "check its access rules for this client and its message size limit (mosquitto: message_size_limit)")
    }

    /// The `--json` document: the bundle, the bytes sent, each wave and each vehicle's outcome.
    private func document(ending: Ending, stoppedWave: RolloutPlan.Wave?, traffic: Traffic) -> JSONValue {
        let lastAsked = stoppedWave?.number ?? plan.waves.count
        var vehicles: [JSONValue] = []
        for wave in plan.waves {
            for vehicle in wave.vehicles {
                var members: [(String, JSONValue)] = [("vehicle", .string(vehicle)), ("wave", .integer(Int128(wave.number)))]
                if wave.number > lastAsked {
                    members.append(("status", .string("NOT_ASKED")))
                } else if let outcome = tally.outcomes[vehicle] {
                    members.append(("status", .string(outcome.status.rawValue)))
                    members.append(("final", .bool(outcome.isFinal)))
                    if case .failed(_, let reason, let text) = outcome {
                        if let reason { members.append(("reason", .string(reason))) }
                        if let text { members.append(("text", .string(text))) }
                    }
                } else {
                    members.append(("status", .string("NO_REPORT")))
                }
                vehicles.append(.object(members))
            }
        }
        return .object([
            ("version", .integer(Int128(bundle.manifest.version))), ("profile", .string(bundle.manifest.profile)),
            ("bundle", .string(bundle.path)), ("bundle_sha256", .string(bundle.sha256)),
            ("bundle_bytes", .integer(Int128(bundle.bytes.count))), ("chunks", .integer(Int128(bundle.desired.chunks))),
            ("chunk_bytes", .integer(Int128(bundle.desired.chunkBytes))),
            ("bytes_published", .object([
                ("chunks", .integer(Int128(traffic.chunkBytes))), ("desired", .integer(Int128(traffic.desiredBytes))),
                ("total", .integer(Int128(traffic.chunkBytes + traffic.desiredBytes))),
            ])),
            ("result", .string(ending.rawValue)),
            ("applied", .integer(Int128(tally.appliedCount))), ("failed", .integer(Int128(tally.failed.count))),
            ("waves", .array(plan.waves.map { wave in
                .object([
                    ("wave", .integer(Int128(wave.number))), ("percent", wave.percent == wave.percent.rounded() ? .integer(Int128(wave.percent)) : .number(wave.percent)),
                    ("vehicles", .array(wave.vehicles.map { .string($0) })),
                    ("started", .bool(wave.number <= lastAsked)),
                ])
            })),
            ("vehicles", .array(vehicles)),
        ])
    }
}

/// Lists of vehicles in messages.
enum RolloutText {
    /// "a, b, c" or "a, b, … and 7 more".
    static func names(_ vehicles: [String], limit: Int) -> String {
        guard vehicles.count > limit else { return vehicles.joined(separator: ", ") }
        return vehicles.prefix(limit).joined(separator: ", ") + " and \(vehicles.count - limit) more"
    }
}

extension String {
    /// Padded with spaces on the right to `width` characters.
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
