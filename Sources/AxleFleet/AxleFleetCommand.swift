import ArgumentParser
import AxleBase
import RemoteCommands

/// `axle-fleet`, the backend tool: signing keys, signed commands and feature entitlements, and a view of what
/// vehicles publish. Each subcommand is thin; the logic sits in small types with their own tests.
public struct AxleFleetCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "axle-fleet",
        abstract: "Axle backend tool: signing keys, signed remote commands, feature entitlements, and watching vehicles.",
        discussion: """
            Commands are signed with an Ed25519 key made by 'keygen'; vehicles trust its public half \
            (axled --trust-key PREFIX.pub). Requests go to TOPIC-PREFIX/VEHICLE/cmd/req and the vehicle answers \
            with one status per change (docs/commands.md, docs/axle-fleet.md).
            Exit codes: 0 success (for command send and feature grant|revoke: the command SUCCEEDED); 1 the \
            command did not succeed (REJECTED, FAILED, TIMED_OUT, INTERRUPTED) or an operation failed (an \
            unreadable key or payload, a file that exists, the broker refused); 3 no final status arrived within \
            --wait, or the broker could not be reached; 64 the command line is wrong; 130 interrupted (SIGINT, \
            SIGTERM) before a final status.
            """,
        version: "axle-fleet \(AxleVersion.current)",
        subcommands: [KeygenCommand.self, CommandGroup.self, FeatureGroup.self, WatchCommand.self, ConfigGroup.self]
    )

    public init() {}

    /// Runs the tool with the process's arguments and exits. Declared here so that `main.swift` needs no import of
    /// ArgumentParser (member imports are explicit in this package).
    public static func main() {
        main(nil)
    }
}

/// Runs a subcommand's body, printing a `FleetError` as one line on standard error with its exit code.
func reportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as FleetError {
        TextOutput.standardError().write("Error: \(error.description)\n")
        throw ExitCode(error.exitCode)
    } catch let exit as FleetExit {
        throw ExitCode(exit.code)
    }
}

/// Converts a `FleetError` found while validating into the argument parser's usage error (exit code 64).
func validating<T>(_ body: () throws(FleetError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError(error.description)
    }
}

/// `axle-fleet keygen`: a new signing key pair.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 signing key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (for the vehicles).",
        discussion: """
            The key id (written in both files and in every command the key signs) is the last path component of \
            PREFIX unless --key-id is given: letters, digits, '.', '_' and '-', at most 64. Existing files are \
            never overwritten.
            """
    )

    @Option(help: ArgumentHelp("Path prefix of the two files, such as keys/ops-2026.", valueName: "prefix"))
    var out: String

    @Option(name: .customLong("key-id"), help: ArgumentHelp("The key id (default: the prefix's file name).", valueName: "id"))
    var keyID: String?

    func validate() throws {
        if out.isEmpty || out.hasSuffix("/") { throw ValidationError("--out takes a path prefix such as keys/ops-2026, not a folder") }
    }

    func run() throws {
        try reportingFailures {
            let name = keyID ?? String(out.split(separator: "/").last ?? Substring(out))
            do throws(KeyFileError) {
                let key: CommandSigningKey
                do throws(KeyFileError) {
                    key = try CommandSigningKey.generate(keyID: name)
                } catch where keyID == nil {
                    throw KeyFileError("\(error.description) (the key id comes from --out; give one with --key-id)")
                }
                try key.write(prefix: out)
                let output = TextOutput()
                output.write("key id: \(key.keyID)\n")
                output.write("private key: \(out).key (mode 0600; keep it secret, sign with --key \(out).key)\n")
                output.write("public key: \(out).pub (install it on vehicles: axled --trust-key \(out).pub)\n")
                output.flush()
            } catch {
                throw FleetError(error.description)
            }
        }
    }
}
