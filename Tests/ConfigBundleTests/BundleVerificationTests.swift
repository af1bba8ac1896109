import AxleBase
import ConfigBundle
import RemoteCommands
import Testing

/// Each refusal of a configuration bundle has its own reason (docs/configuration.md, "Refusals"), and a good bundle
/// gives back exactly the files that were signed.
@Suite("Configuration bundles: signing and verification")
struct BundleVerificationTests {
    let key = try! ConfigurationSigningKey(keyID: "config-2026", rawRepresentation: Array(repeating: 7, count: 32))
    let now: Int64 = 1_800_000_000_000
    let files: [String: [UInt8]] = [
        "profile.toml": Array("name = \"demo\"\n".utf8),
        "dbc/sedan.dbc": Array("VERSION \"\"\n".utf8),
        "catalog.toml": [],
    ]

    func manifest(version: UInt64 = 5, vehicles: BundleManifest.Vehicles = .all, notBefore: Int64? = nil, expires: Int64? = nil)
        -> BundleManifest
    {
        BundleManifest(
            version: version, profile: "demo-sedan", vehicles: vehicles, notBeforeMillis: notBefore ?? now - 1000,
            expiresAtMillis: expires ?? now + 86_400_000,
            files: files.map { BundleManifest.File(path: $0.key, contents: $0.value) })
    }

    func verifier(commandKeyIDs: Set<String> = ["backend-2026"], limits: BundleLimits = BundleLimits()) -> BundleVerifier {
        BundleVerifier(vehicleID: "VIN-1", configurationKeys: [key.publicKey], commandKeyIDs: commandKeyIDs, limits: limits)
    }

    func refusal(_ bytes: [UInt8], highWaterMark: UInt64 = 4, verifier: BundleVerifier? = nil) -> BundleRefusal? {
        if case .failure(let refusal) = (verifier ?? self.verifier()).verify(bytes, nowMillis: now, highWaterMark: highWaterMark) {
            return refusal
        }
        return nil
    }

    @Test("a good bundle verifies and gives back every file as signed, in path order")
    func goodBundle() throws {
        let bytes = ConfigurationBundle.make(manifest: manifest(), contents: files, key: key)
        let verified = try verifier().verify(bytes, nowMillis: now, highWaterMark: 4).get()
        #expect(verified.keyID == "config-2026")
        #expect(verified.manifest.version == 5)
        #expect(verified.files.map(\.path) == ["catalog.toml", "dbc/sedan.dbc", "profile.toml"])
        for file in verified.files { #expect(Array(file.contents) == files[file.path]) }
        // The manifest reads back as written, and its JSON is what was signed.
        #expect(try BundleManifest.parse(manifest().json()) == manifest())
    }

    @Test("bad signature: one flipped byte in the manifest")
    func badSignature() {
        var bytes = ConfigurationBundle.make(manifest: manifest(), contents: files, key: key)
        let manifestStart = 8 + 1 + "config-2026".utf8.count + 4
        // "version":5 becomes "version":6 — still a valid manifest, no longer the signed one.
        let text = Array(#""version":5"#.utf8)
        let at = (manifestStart..<bytes.count - text.count).first { Array(bytes[$0..<$0 + text.count]) == text }!
        bytes[at + text.count - 1] = UInt8(ascii: "6")
        #expect(refusal(bytes)?.reason == .badSignature)
    }

    @Test("wrong role: signed by a key the vehicle trusts for commands")
    func commandKey() throws {
        // The command key's seed used to sign a bundle, under its command key id.
        let commandKey = try CommandSigningKey.generate(keyID: "backend-2026")
        let impostor = try ConfigurationSigningKey(
            keyID: "backend-2026",
            rawRepresentation: Array(try Base64Seed.of(commandKey)))
        let bytes = ConfigurationBundle.make(manifest: manifest(), contents: files, key: impostor)
        let refused = refusal(bytes)
        #expect(refused?.reason == .wrongRoleKey)
        #expect(refused?.text.contains("commands only") == true)
    }

    @Test("unknown key: signed by a configuration key the vehicle does not trust")
    func unknownKey() throws {
        let other = try ConfigurationSigningKey.generate(keyID: "config-rogue")
        #expect(refusal(ConfigurationBundle.make(manifest: manifest(), contents: files, key: other))?.reason == .unknownKey)
    }

    @Test("expired, and not yet valid (beyond the minute of clock skew allowed)")
    func times() {
        let expired = manifest(notBefore: now - 10_000, expires: now - 1)
        #expect(refusal(ConfigurationBundle.make(manifest: expired, contents: files, key: key))?.reason == .expired)
        let future = manifest(notBefore: now + 60_001, expires: now + 120_000)
        #expect(refusal(ConfigurationBundle.make(manifest: future, contents: files, key: key))?.reason == .notYetValid)
        let withinSkew = manifest(notBefore: now + 59_000, expires: now + 120_000)
        #expect(refusal(ConfigurationBundle.make(manifest: withinSkew, contents: files, key: key)) == nil)
    }

    @Test("not for this vehicle; for it when listed")
    func vehicles() {
        let others = manifest(vehicles: .only(["VIN-2", "VIN-3"]))
        #expect(refusal(ConfigurationBundle.make(manifest: others, contents: files, key: key))?.reason == .notForThisVehicle)
        let listed = manifest(vehicles: .only(["VIN-2", "VIN-1"]))
        #expect(refusal(ConfigurationBundle.make(manifest: listed, contents: files, key: key)) == nil)
    }

    @Test("a version at or below the high-water mark is refused (replay, rollback)")
    func highWaterMark() {
        let bytes = ConfigurationBundle.make(manifest: manifest(version: 5), contents: files, key: key)
        #expect(refusal(bytes, highWaterMark: 5)?.reason == .versionNotAbove)
        #expect(refusal(bytes, highWaterMark: 9)?.reason == .versionNotAbove)
        #expect(refusal(bytes, highWaterMark: 4) == nil)
    }

    @Test("file mismatch: changed contents, a missing byte, an extra byte")
    func fileMismatch() {
        let good = ConfigurationBundle.make(manifest: manifest(), contents: files, key: key)
        var changed = good
        changed[changed.count - 2] ^= 0x01
        let refused = refusal(changed)
        #expect(refused?.reason == .fileMismatch)
        #expect(refused?.text.contains("profile.toml") == true)
        #expect(refusal(Array(good.dropLast()))?.reason == .fileMismatch)
        #expect(refusal(good + [0])?.reason == .fileMismatch)
    }

    @Test("too large: the manifest, a file, the total, the number of files")
    func tooLarge() {
        let bytes = ConfigurationBundle.make(manifest: manifest(), contents: files, key: key)
        var limits = BundleLimits()
        limits.maximumManifestBytes = 100
        #expect(refusal(bytes, verifier: verifier(limits: limits))?.reason == .tooLarge)
        limits = BundleLimits()
        limits.maximumFileBytes = 12
        #expect(refusal(bytes, verifier: verifier(limits: limits))?.reason == .tooLarge)
        limits = BundleLimits()
        limits.maximumTotalBytes = 20
        #expect(refusal(bytes, verifier: verifier(limits: limits))?.reason == .tooLarge)
        limits = BundleLimits()
        limits.maximumFiles = 2
        #expect(refusal(bytes, verifier: verifier(limits: limits))?.reason == .tooLarge)
    }

    @Test("malformed: not a bundle, cut in the header, unsafe paths in a signed manifest")
    func malformed() {
        #expect(refusal(Array("hello".utf8))?.reason == .malformed)
        let good = ConfigurationBundle.make(manifest: manifest(), contents: files, key: key)
        #expect(refusal(Array(good.prefix(30)))?.reason == .malformed)
        for path in ["../etc/passwd", "/etc/passwd", "dbc//x.dbc", "a b.toml", "./profile.toml"] {
            let unsafe = manifest().json()
            let text = String(decoding: unsafe, as: UTF8.self).replacingFirst("profile.toml", with: path)
            var bytes = ConfigurationBundle.magic + [UInt8(key.keyID.utf8.count)] + Array(key.keyID.utf8)
            let manifestBytes = Array(text.utf8)
            let length = UInt32(manifestBytes.count)
            bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            bytes += manifestBytes + key.signature(forManifest: manifestBytes)
            #expect(refusal(bytes)?.reason == .malformed, "\(path)")
        }
        // A profile name that is not one safe directory name, signed.
        let text = String(decoding: manifest().json(), as: UTF8.self)
            .replacingFirst(#""profile":"demo-sedan""#, with: #""profile":"../etc""#)
        let manifestBytes = Array(text.utf8)
        let length = UInt32(manifestBytes.count)
        var bytes = ConfigurationBundle.magic + [UInt8(key.keyID.utf8.count)] + Array(key.keyID.utf8)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += manifestBytes + key.signature(forManifest: manifestBytes)
        #expect(refusal(bytes)?.reason == .malformed)
        #expect(refusal(bytes)?.text.contains("profile") == true)
    }

    @Test("every reason has its own code")
    func distinctCodes() {
        let codes = BundleRefusal.Reason.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(codes.count == 10)
    }
}

/// The 32-byte seed of a command key, read back from its key file's text (the test's way to sign with it).
enum Base64Seed {
    static func of(_ key: CommandSigningKey) throws -> [UInt8] {
        let field = key.fileText.split(separator: " ")[2].split(separator: "\n")[0]
        return Base64.decode(String(field))!
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let parts = split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return self }
        return String(parts[0]) + replacement + String(parts[1])
    }
}
