import ArgumentParser
import AxleBase
import ConfigBundle
import RemoteCommands

/// `axle-fleet config`: signed configuration bundles (docs/configuration.md).
struct ConfigGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Configuration keys and signed configuration bundles: keygen, sign, inspect, verify, push, status.",
        subcommands: [
            ConfigKeygenCommand.self, ConfigSignCommand.self, ConfigInspectCommand.self, ConfigVerifyCommand.self,
            ConfigPushCommand.self, ConfigStatusCommand.self,
        ]
    )
}

/// `axle-fleet config keygen`: a configuration key pair, a role apart from command keys.
struct ConfigKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 configuration key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (for the vehicles).",
        discussion: """
            A configuration key signs configuration bundles only: vehicles trust it with axled --config-key, apart \
            from the command keys (--trust-key), and each refuses a key of the other role. The key id is the last \
            path component of PREFIX unless --key-id is given. Existing files are never overwritten.
            """
    )

    @Option(help: ArgumentHelp("Path prefix of the two files, such as keys/config-2026.", valueName: "prefix"))
    var out: String

    @Option(name: .customLong("key-id"), help: ArgumentHelp("The key id (default: the prefix's file name).", valueName: "id"))
    var keyID: String?

    func validate() throws {
        if out.isEmpty || out.hasSuffix("/") { throw ValidationError("--out takes a path prefix such as keys/config-2026, not a folder") }
    }

    func run() throws {
        try reportingFailures {
            let name = keyID ?? String(out.split(separator: "/").last ?? Substring(out))
            do throws(KeyFileError) {
                let key = try ConfigurationSigningKey.generate(keyID: name)
                try key.write(prefix: out)
                let output = TextOutput()
                output.write("key id: \(key.keyID)\n")
                output.write("private key: \(out).key (mode 0600; keep it secret, sign with: axle-fleet config sign --key \(out).key)\n")
                output.write("public key: \(out).pub (install it on vehicles: axled --config-key \(out).pub)\n")
                output.flush()
            } catch {
                throw FleetError(error.description)
            }
        }
    }
}

/// `axle-fleet config sign`: a profile directory into a signed bundle.
struct ConfigSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign every file of a profile directory into a configuration bundle.",
        discussion: """
            The manifest lists each file with its size and SHA-256, the version, the vehicles (--vehicle, repeated, \
            or --vehicles FILE with one id per line; default: all), and the validity window (--not-before, default \
            now; --valid-for, default 30d). Versions must grow: a vehicle takes only a version above the highest \
            it has taken. The bundle is written atomically (replacing --out if it exists).
            Example:
              axle-fleet config sign --key keys/config-2026.key --version 7 --profile Firmware-Profiles/demo-sedan \\
                  --out demo-sedan-7.axlecfg --vehicle demo-001 --valid-for 7d
            """
    )

    @Option(help: ArgumentHelp("The configuration signing key (PREFIX.key from 'config keygen').", valueName: "file"))
    var key: String

    @Option(help: ArgumentHelp("The bundle's version, 1 to 2^53-1; above every version signed before.", valueName: "n"))
    var version: UInt64

    @Option(help: ArgumentHelp("The profile directory; every file below it goes into the bundle.", valueName: "dir"))
    var profile: String

    @Option(help: ArgumentHelp("Where to write the bundle.", valueName: "file"))
    var out: String

    @Option(name: .customLong("vehicle"), help: ArgumentHelp("A vehicle id the bundle is for (repeat; default: all vehicles).", valueName: "id"))
    var vehicleIDs: [String] = []

    @Option(help: ArgumentHelp("A file of vehicle ids, one per line ('#' starts a comment).", valueName: "file"))
    var vehicles: String?

    @Option(name: .customLong("not-before"), help: ArgumentHelp("Valid from this unix time in milliseconds (default: now).", valueName: "ms"))
    var notBefore: Int64?

    @Option(name: .customLong("valid-for"), help: ArgumentHelp("How long it stays valid from --not-before: 12h, 7d (default 30d).", valueName: "duration"))
    var validFor: String = "30d"

    func validate() throws {
        guard (1...BundleManifest.maximumVersion).contains(version) else {
            throw ValidationError("--version must be from 1 to \(BundleManifest.maximumVersion)")
        }
        guard (DurationSyntax.seconds(in: validFor) ?? 0) >= 1 else {
            throw ValidationError("--valid-for takes \(DurationSyntax.forms), of at least 1 s")
        }
    }

    func run() throws {
        try reportingFailures {
            let signingKey: ConfigurationSigningKey
            do throws(KeyFileError) {
                signingKey = try ConfigurationSigningKey(contentsOfFile: key)
            } catch {
                throw FleetError(error.description)
            }
            var ids = vehicleIDs
            if let vehicles { ids += try VehicleListFile.read(vehicles) }
            let contents: [String: [UInt8]]
            do throws(ProfileDirectoryError) {
                contents = try ProfileDirectory.files(at: profile)
            } catch {
                throw FleetError(error.description)
            }
            let start = notBefore ?? wallClockMillis()
            // The directory's name is the profile's: a profile must sit in a folder of its own name.
            let name = profile.split(separator: "/").last.map(String.init) ?? profile
            let manifest = BundleManifest(
                version: version, profile: name, vehicles: ids.isEmpty ? .all : .only(ids), notBeforeMillis: start,
                expiresAtMillis: start + Int64(DurationSyntax.seconds(in: validFor)! * 1000),
                files: contents.map { BundleManifest.File(path: $0.key, contents: $0.value) })
            let bundle = ConfigurationBundle.make(manifest: manifest, contents: contents, key: signingKey)
            do {
                try DurableFile.write(bundle, to: out)
            } catch {
                throw FleetError("cannot write the bundle: \(error)")
            }
            let output = TextOutput()
            output.write("wrote \(out): \(name) version \(version), \(manifest.files.count) files, \(manifest.totalFileBytes) bytes of files, \(bundle.count) bytes in all, signed by \(signingKey.keyID)\n")
            output.flush()
        }
    }
}

/// `axle-fleet config inspect`: what a bundle holds, without judging it.
struct ConfigInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a bundle's key id, manifest and files (the signature is not checked: use 'config verify').",
        discussion: "With --json: {\"key\", \"bytes\", \"manifest\"} where manifest is the signed manifest as it is."
    )

    @Argument(help: ArgumentHelp("The bundle file.", valueName: "bundle"))
    var bundle: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        try reportingFailures {
            let bytes: [UInt8]
            do {
                bytes = try FileInput.readAll(path: bundle)
            } catch {
                throw FleetError("\(error)")
            }
            let (split, manifest) = try UnverifiedBundle.read(bytes, path: bundle)
            let output = TextOutput()
            defer { output.flush() }
            if json {
                let document = (try? JSONValue.parse(String(decoding: split.manifestBytes, as: UTF8.self))) ?? .null
                output.write(JSONValue.object([
                    ("key", .string(split.keyID)), ("bytes", .integer(Int128(bytes.count))), ("manifest", document),
                ]).rendered(indent: 2) + "\n")
                return
            }
            let vehicles =
                switch manifest.vehicles {
                case .all: "all"
                case .only(let ids): ids.joined(separator: ", ")
                }
            output.write("""
                bundle:      \(bundle) (\(bytes.count) bytes; signature not checked)
                key:         \(split.keyID)
                version:     \(manifest.version)
                profile:     \(manifest.profile)
                vehicles:    \(vehicles)
                not before:  \(manifest.notBeforeMillis) ms
                expires:     \(manifest.expiresAtMillis) ms
                files:       \(manifest.files.count), \(manifest.totalFileBytes) bytes

                """)
            for file in manifest.files {
                output.write("  \(String(file.size).leftPadded(to: 9))  \(BundleManifest.hex(file.sha256))  \(file.path)\n")
            }
        }
    }
}

/// `axle-fleet config verify`: the vehicle's checks, run on the backend before a push.
struct ConfigVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a bundle as a vehicle would; exit 0 when it would take it, 1 with the refusal's reason.",
        discussion: """
            Runs every check of the vehicle (docs/configuration.md, "Refusals"): the key's role, the signature, \
            the times (against this machine's clock), the vehicle, the version against --high-water-mark, the \
            size limits, each file's size and SHA-256. Prints 'ok ...' or 'refused: <reason>: <text>'.
            """
    )

    @Argument(help: ArgumentHelp("The bundle file.", valueName: "bundle"))
    var bundle: String

    @Option(name: .customLong("config-key"), help: ArgumentHelp("A trusted configuration public key (repeat).", valueName: "file"))
    var configKeys: [String]

    @Option(name: .customLong("command-key"), help: ArgumentHelp("A command public key the vehicle trusts (repeat): a bundle signed by one is refused wrong_role_key.", valueName: "file"))
    var commandKeys: [String] = []

    @Option(help: ArgumentHelp("The vehicle id to check for (default: any vehicle the bundle lists, or 'any').", valueName: "id"))
    var vehicle: String?

    @Option(name: .customLong("high-water-mark"), help: ArgumentHelp("The highest version the vehicle has taken (default 0).", valueName: "n"))
    var highWaterMark: UInt64 = 0

    func run() throws {
        try reportingFailures {
            var trusted: [ConfigurationPublicKey] = []
            var commandIDs: Set<String> = []
            do throws(KeyFileError) {
                for path in configKeys { trusted.append(try ConfigurationPublicKey(contentsOfFile: path)) }
                for path in commandKeys {
                    let commandKey = try CommandPublicKey(contentsOfFile: path)
                    if trusted.contains(where: { $0.rawRepresentation == commandKey.rawRepresentation }) {
                        throw KeyFileError("\(path): the same key is given as a configuration key; a vehicle trusts each key for one role")
                    }
                    commandIDs.insert(commandKey.keyID)
                }
            } catch {
                throw FleetError(error.description)
            }
            let bytes: [UInt8]
            do {
                bytes = try FileInput.readAll(path: bundle)
            } catch {
                throw FleetError("\(error)")
            }
            var vehicleID = vehicle ?? "any"
            if vehicle == nil, case .success(let split) = ConfigurationBundle.split(bytes, maximumManifestBytes: 64 << 10),
                let manifest = try? BundleManifest.parse(split.manifestBytes), case .only(let ids) = manifest.vehicles
            {
                vehicleID = ids[0]
            }
            let verifier = BundleVerifier(vehicleID: vehicleID, configurationKeys: trusted, commandKeyIDs: commandIDs)
            let output = TextOutput()
            defer { output.flush() }
            switch verifier.verify(bytes, nowMillis: wallClockMillis(), highWaterMark: highWaterMark) {
            case .success(let verified):
                output.write("ok: version \(verified.manifest.version), \(verified.files.count) files, signed by \(verified.keyID), for \(vehicleID)\n")
            case .failure(let refusal):
                output.write("refused: \(refusal.reason.rawValue): \(refusal.text)\n")
                throw FleetExit(code: 1)
            }
        }
    }
}

extension StringProtocol {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: Swift.max(0, width - count)) + self
    }
}

/// A bundle's parts and manifest read without checking the signature: what `inspect` shows and `push` sends (the
/// vehicles check everything; `config verify` does on the backend).
enum UnverifiedBundle {
    /// `hint` follows the reason when `bytes` is not a bundle at all.
    static func read(_ bytes: [UInt8], path: String, hint: String = "") throws(FleetError) -> (ConfigurationBundle, BundleManifest) {
        let split: ConfigurationBundle
        switch ConfigurationBundle.split(bytes, maximumManifestBytes: Int(UInt32.max)) {
        case .failure(let refusal): throw FleetError("\(path): \(refusal.text)\(hint)")
        case .success(let parts): split = parts
        }
        do {
            return (split, try BundleManifest.parse(split.manifestBytes))
        } catch {
            throw FleetError("\(path): \(error)")
        }
    }
}
