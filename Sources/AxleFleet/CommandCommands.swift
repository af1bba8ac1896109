import ArgumentParser
import AxleBase
import RemoteCommands

/// `axle-fleet command`: signed remote commands.
struct CommandGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "command",
        abstract: "Send a signed remote command and follow its status, or write one to a file.",
        subcommands: [SendCommand.self, CreateCommand.self]
    )
}

/// How a command's statuses are shown and how long to wait for them: shared by `command send` and `feature`.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Print each status as one JSON object per line (the vehicle's response payload).")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for a final status (default: the time to live + 30).", valueName: "seconds"))
    var wait: Double?

    func validate() throws {
        if let wait, !(wait > 0 && wait.isFinite) { throw ValidationError("--wait takes a positive number of seconds") }
    }
}

/// The signing key and how long a command stays valid: shared by every command that signs.
struct SigningOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The signing key (PREFIX.key from keygen).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("How long the command stays valid: 500ms, 30s, 2m (vehicles refuse more than 5 min by default).", valueName: "duration"))
    var ttl: String = "30s"

    func validate() throws {
        _ = try validating { () throws(FleetError) in try DurationText.parse(ttl, option: "--ttl") }
    }

    var ttlMillis: Int64 { DurationText.milliseconds(ttl) ?? 30_000 }

    /// The key, read from `--key`.
    func issuer() throws(FleetError) -> CommandIssuer {
        guard let key else { throw FleetError.usage("give the signing key with --key PREFIX.key") }
        do {
            return CommandIssuer(key: try CommandSigningKey(contentsOfFile: key))
        } catch {
            throw FleetError(error.description)
        }
    }
}

/// `axle-fleet command send`.
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Sign and send a command, print each status as it arrives, and exit 0 only on SUCCEEDED.",
        discussion: """
            Parameters are NAME=VALUE words: a number when VALUE reads as one, true/false as a bool, a string \
            otherwise ('"42"' keeps digits a string). With --payload FILE a payload made by 'command create' is \
            sent as it is (its vehicle is the default for --vehicle).
            Examples:
              axle-fleet command send --broker mqtt://broker:1883 --vehicle demo-001 --key keys/ops.key trunk.open
              axle-fleet command send --broker mqtt://broker:1883 --vehicle demo-001 --key keys/ops.key \\
                  climate.precondition temperature=21.5 duration=600 --ttl 1m --json
              axle-fleet command send --broker mqtt://broker:1883 --payload trunk.json
            """
    )

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var signing: SigningOptions
    @OptionGroup var follow: FollowOptions

    @Option(help: ArgumentHelp("The vehicle id (default with --payload: the payload's vehicle).", valueName: "id"))
    var vehicle: String?

    @Option(help: ArgumentHelp("Send this payload file (from 'command create') as it is.", valueName: "file"))
    var payload: String?

    @Argument(help: ArgumentHelp("The command's name, then its parameters as NAME=VALUE.", valueName: "name [k=v …]"))
    var words: [String] = []

    func validate() throws {
        if payload != nil {
            if !words.isEmpty { throw ValidationError("--payload sends a finished command: give no command name or parameters") }
            if signing.key != nil { throw ValidationError("--payload is already signed: drop --key") }
            return
        }
        guard let name = words.first else { throw ValidationError("give the command's name, such as trunk.open (or --payload FILE)") }
        if name.contains("=") { throw ValidationError("the command's name comes before its parameters: '\(name)' looks like a parameter") }
        if vehicle == nil { throw ValidationError("give the vehicle with --vehicle ID") }
        if signing.key == nil { throw ValidationError("give the signing key with --key PREFIX.key") }
        _ = try validating { () throws(FleetError) in try CommandParameterText.parse(Array(words.dropFirst())) }
        _ = try validating { () throws(FleetError) in try FleetTopics(prefix: broker.topicPrefix, vehicle: vehicle ?? "") }
    }

    func run() throws {
        try reportingFailures {
            let bytes: [UInt8]
            let request: CommandRequest
            if let payload {
                // Sent byte for byte as the file holds it.
                (bytes, request) = try PayloadFile.read(payload)
                if let vehicle, vehicle != request.vehicle {
                    TextOutput.standardError().write(
                        "warning: \(payload) is signed for vehicle \(request.vehicle); \(vehicle) will reject it (wrong_vehicle)\n")
                }
            } else {
                let issuer = try signing.issuer()
                request = CommandIssuer.request(
                    vehicle: vehicle ?? "", name: words[0], parameters: try CommandParameterText.parse(Array(words.dropFirst())),
                    ttlMillis: signing.ttlMillis)
                bytes = issuer.sign(request).payload()
            }
            let topics = try FleetTopics(prefix: broker.topicPrefix, vehicle: vehicle ?? request.vehicle)
            try CommandDelivery(broker: broker, topics: topics, json: follow.json, waitSeconds: follow.wait)
                .run(payload: bytes, request: request)
        }
    }
}

/// `axle-fleet command create`.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Sign a command and write the exact MQTT payload to a file (send it later with 'command send --payload').",
        discussion: """
            The command's validity starts now: send it within --ttl.
            Example:
              axle-fleet command create --vehicle demo-001 --key keys/ops.key trunk.open --ttl 5m --out trunk.json
            """
    )

    @OptionGroup var signing: SigningOptions

    @Option(help: ArgumentHelp("The vehicle id.", valueName: "id"))
    var vehicle: String

    @Option(help: ArgumentHelp("Where to write the payload (replaced if it exists).", valueName: "file"))
    var out: String

    @Argument(help: ArgumentHelp("The command's name, then its parameters as NAME=VALUE.", valueName: "name [k=v …]"))
    var words: [String] = []

    func validate() throws {
        guard let name = words.first else { throw ValidationError("give the command's name, such as trunk.open") }
        if name.contains("=") { throw ValidationError("the command's name comes before its parameters: '\(name)' looks like a parameter") }
        if signing.key == nil { throw ValidationError("give the signing key with --key PREFIX.key") }
        _ = try validating { () throws(FleetError) in try CommandParameterText.parse(Array(words.dropFirst())) }
        _ = try validating { () throws(FleetError) in try FleetTopics(prefix: "axle/v1", vehicle: vehicle) }
    }

    func run() throws {
        try reportingFailures {
            let issuer = try signing.issuer()
            let request = CommandIssuer.request(
                vehicle: vehicle, name: words[0], parameters: try CommandParameterText.parse(Array(words.dropFirst())),
                ttlMillis: signing.ttlMillis)
            try writeFile(out, issuer.sign(request).payload(), mode: 0o644, exclusive: false)
            let output = TextOutput()
            output.write("wrote \(out): \(request.name) for \(request.vehicle), id \(request.id), key \(issuer.key.keyID), expires at \(request.expiresAtMillis) (unix ms)\n")
            output.flush()
        }
    }
}

/// Reading a payload file made by `command create`.
enum PayloadFile {
    /// The file's bytes and the request its envelope carries; the error names the file and what is wrong.
    static func read(_ path: String) throws(FleetError) -> ([UInt8], CommandRequest) {
        let bytes: [UInt8]
        do {
            bytes = try FileInput.readAll(path: path)
        } catch {
            throw FleetError("cannot read the payload: \(error)")
        }
        do {
            let signed = try SignedCommand.parse(payload: bytes)
            return (bytes, try CommandRequest.parse(body: signed.body))
        } catch {
            throw FleetError("\(path) is not a command payload (\(error)); make one with axle-fleet command create")
        }
    }
}
