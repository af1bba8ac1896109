import AxleBase
import AxleTestSupport
import ConfigBundle
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axle-fleet config keygen | sign | inspect | verify` as a user runs them (docs/axle-fleet.md, docs/configuration.md).
@Suite("axle-fleet config: keys and signed configuration bundles")
struct FleetConfigCommandTests {
    static let profile = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan"

    @Test("keygen, sign the demo profile, inspect, verify; then each refusal with its reason and exit 1")
    func signInspectVerify() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-config")
        defer { removeTree(directory) }
        let prefix = directory + "/config-2026"
        let keygen = try FleetProcess.run(["config", "keygen", "--out", prefix])
        #expect(keygen.status == 0, "\(keygen.both)")
        #expect(keygen.stdout.contains("axled --config-key \(prefix).pub"))
        var info = stat()
        #expect(stat(prefix + ".key", &info) == 0 && info.st_mode & 0o777 == 0o600)

        let bundle = directory + "/demo-sedan-3.axlecfg"
        let sign = try FleetProcess.run([
            "config", "sign", "--key", prefix + ".key", "--version", "3", "--profile", Self.profile, "--out", bundle,
            "--vehicle", "demo-001", "--vehicle", "demo-002", "--valid-for", "7d",
        ])
        #expect(sign.status == 0, "\(sign.both)")
        #expect(sign.stdout.contains("version 3, 3 files"), "\(sign.stdout)")

        // The bundle carries exactly the directory's files, as the library reads them back.
        let verified = try BundleVerifier(
            vehicleID: "demo-002", configurationKeys: [try ConfigurationPublicKey(contentsOfFile: prefix + ".pub")]
        ).verify(try FileInput.readAll(path: bundle), nowMillis: wallClockMillis(), highWaterMark: 2).get()
        let files = try ProfileDirectory.files(at: Self.profile)
        #expect(verified.files.map(\.path) == files.keys.sorted())
        for file in verified.files { #expect(Array(file.contents) == files[file.path]) }
        #expect(verified.manifest.vehicles == .only(["demo-001", "demo-002"]))
        let week = verified.manifest.expiresAtMillis - verified.manifest.notBeforeMillis
        #expect(week == 7 * 86_400_000)

        let inspect = try FleetProcess.run(["config", "inspect", bundle])
        #expect(inspect.status == 0, "\(inspect.both)")
        #expect(inspect.stdout.contains("key:         config-2026"))
        #expect(inspect.stdout.contains("vehicles:    demo-001, demo-002"))
        #expect(inspect.stdout.contains("  demo_sedan.dbc\n") && inspect.stdout.contains("  profile.toml\n"))
        let json = try JSONValue.parse(try FleetProcess.run(["config", "inspect", bundle, "--json"]).stdout)
        #expect(json["manifest"]?["version"]?.intValue == 3)
        #expect(json["manifest"]?["files"]?.arrayValue?.count == 3)

        let ok = try FleetProcess.run(["config", "verify", bundle, "--config-key", prefix + ".pub"])
        #expect(ok.status == 0, "\(ok.both)")
        #expect(ok.stdout == "ok: version 3, 3 files, signed by config-2026, for demo-001\n")

        // A version the vehicle has already passed.
        let stale = try FleetProcess.run([
            "config", "verify", bundle, "--config-key", prefix + ".pub", "--high-water-mark", "3",
        ])
        #expect(stale.status == 1)
        #expect(stale.stdout.hasPrefix("refused: version_not_above_high_water_mark: "), "\(stale.both)")
        // Another vehicle.
        let other = try FleetProcess.run([
            "config", "verify", bundle, "--config-key", prefix + ".pub", "--vehicle", "demo-003",
        ])
        #expect(other.stdout.hasPrefix("refused: not_for_this_vehicle: "), "\(other.both)")
        // A configuration key the vehicle does not trust.
        let rogue = try FleetProcess.run(["config", "keygen", "--out", directory + "/rogue"])
        #expect(rogue.status == 0)
        let unknown = try FleetProcess.run(["config", "verify", bundle, "--config-key", directory + "/rogue.pub"])
        #expect(unknown.stdout.hasPrefix("refused: unknown_key: "), "\(unknown.both)")
        // A changed file.
        var bytes = try FileInput.readAll(path: bundle)
        bytes[bytes.count - 1] ^= 0x20
        let tampered = directory + "/tampered.axlecfg"
        try DurableFile.write(bytes, to: tampered)
        let mismatch = try FleetProcess.run(["config", "verify", tampered, "--config-key", prefix + ".pub"])
        #expect(mismatch.status == 1)
        #expect(mismatch.stdout.hasPrefix("refused: file_mismatch: "), "\(mismatch.both)")
    }

    @Test("a command key cannot sign a bundle, nor be trusted as a configuration key; a bundle named after one is wrong_role_key")
    func rolesStayApart() throws {
        let directory = try makeTestDirectory(prefix: "axle-fleet-config-roles")
        defer { removeTree(directory) }
        #expect(try FleetProcess.run(["keygen", "--out", directory + "/ops-2026"]).status == 0)
        let sign = try FleetProcess.run([
            "config", "sign", "--key", directory + "/ops-2026.key", "--version", "1", "--profile", Self.profile,
            "--out", directory + "/b.axlecfg",
        ])
        #expect(sign.status == 1)
        #expect(sign.stderr.contains("this is a command signing key, not a configuration signing key"), "\(sign.both)")
        #expect(!ProfileDirectoryExists.check(directory + "/b.axlecfg"))

        // The command key's seed made into a configuration key under the same id: the vehicle, which trusts
        // ops-2026 for commands, refuses it for its role before looking at the signature.
        let commandKey = try CommandSigningKey(contentsOfFile: directory + "/ops-2026.key")
        let seed = Base64.decode(String(commandKey.fileText.split(separator: " ")[2].dropLast()))!
        let impostor = try ConfigurationSigningKey(keyID: "ops-2026", rawRepresentation: seed)
        try impostor.write(prefix: directory + "/impostor")
        #expect(try FleetProcess.run([
            "config", "sign", "--key", directory + "/impostor.key", "--version", "1", "--profile", Self.profile,
            "--out", directory + "/b.axlecfg",
        ]).status == 0)
        #expect(try FleetProcess.run(["config", "keygen", "--out", directory + "/config-2026"]).status == 0)
        let refused = try FleetProcess.run([
            "config", "verify", directory + "/b.axlecfg", "--config-key", directory + "/config-2026.pub",
            "--command-key", directory + "/ops-2026.pub",
        ])
        #expect(refused.status == 1)
        #expect(refused.stdout.hasPrefix("refused: wrong_role_key: "), "\(refused.both)")
        // One key given for both roles is a mistake the tool names.
        let both = try FleetProcess.run([
            "config", "verify", directory + "/b.axlecfg", "--config-key", directory + "/impostor.pub",
            "--command-key", directory + "/ops-2026.pub",
        ])
        #expect(both.status == 1)
        #expect(both.stderr.contains("a vehicle trusts each key for one role"), "\(both.both)")
        let trustedAsConfig = try FleetProcess.run([
            "config", "verify", directory + "/b.axlecfg", "--config-key", directory + "/ops-2026.pub",
        ])
        #expect(trustedAsConfig.status == 1)
        #expect(trustedAsConfig.stderr.contains("this is a command public key, not a configuration public key"), "\(trustedAsConfig.both)")
    }
}

/// Whether anything exists at a path.
enum ProfileDirectoryExists {
    static func check(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
