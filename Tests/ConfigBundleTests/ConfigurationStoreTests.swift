import AxleBase
import AxleTestSupport
import ConfigBundle
import FirmwareProfile
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The vehicle's staging of verified bundles: a directory per version, `current` and `previous` links switched by
/// rename, the high-water mark (docs/configuration.md, "On the vehicle"). Real files, the real profile validator.
@Suite("Configuration store: staging, switching, rolling back")
struct ConfigurationStoreTests {
    static let demo = AxleProcess.packageRoot + "/Firmware-Profiles/demo-sedan"
    let key = try! ConfigurationSigningKey(keyID: "config-test", rawRepresentation: Array(repeating: 3, count: 32))

    /// What `axle profile validate` checks, as the agent will ask it.
    static func validate(_ directory: String) -> String? {
        let report = ProfileLoader.validate(directory: directory)
        return report.isValid ? nil : report.errors.map(\.description).joined(separator: "; ")
    }

    func bundle(version: UInt64, files: [String: [UInt8]]) throws -> VerifiedBundle {
        let now = wallClockMillis()
        let manifest = BundleManifest(
            version: version, profile: "demo-sedan", vehicles: .all, notBeforeMillis: now - 1000, expiresAtMillis: now + 60_000,
            files: files.map { BundleManifest.File(path: $0.key, contents: $0.value) })
        let bytes = ConfigurationBundle.make(manifest: manifest, contents: files, key: key)
        return try BundleVerifier(vehicleID: "VIN-1", configurationKeys: [key.publicKey])
            .verify(bytes, nowMillis: now, highWaterMark: 0).get()
    }

    func text(_ path: String) -> String? {
        (try? FileInput.readAll(path: path)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("stage and activate two versions, roll back the second: current, previous, files and the mark follow")
    func stageActivateRollBack() throws {
        let root = try makeTestDirectory(prefix: "axle-config-store")
        defer { removeTree(root) }
        let files = try ProfileDirectory.files(at: Self.demo)
        let store = try ConfigurationStore(root: root)
        #expect(store.highWaterMark == 0 && store.current == nil)

        try store.stage(try bundle(version: 1, files: files), validate: Self.validate)
        #expect(store.highWaterMark == 1)
        #expect(store.current == nil, "staging alone switches nothing")
        try store.activate(1)
        #expect(store.current == 1 && store.previous == nil)
        #expect(text((store.currentProfileDirectory ?? "") + "/profile.toml") == text(Self.demo + "/profile.toml"))
        #expect(store.currentProfileDirectory == root + "/current/demo-sedan")
        #expect(Self.validate(store.currentProfileDirectory ?? "") == nil)

        var changed = files
        changed["profile.toml"] = files["profile.toml"]! + Array("\n# version 2\n".utf8)
        try store.stage(try bundle(version: 2, files: changed), validate: Self.validate)
        try store.activate(2)
        #expect(store.current == 2 && store.previous == 1)
        #expect(text((store.currentProfileDirectory ?? "") + "/profile.toml")?.hasSuffix("# version 2\n") == true)

        // The trial failed: back to 1, version 2 gone, and never taken again.
        try store.rollBack()
        #expect(store.current == 1 && store.previous == nil)
        #expect(!ProfileDirectoryExists.check(store.directory(of: 2)))
        #expect(store.highWaterMark == 2)
        #expect(throws: ConfigurationStoreError.self) { try store.stage(try bundle(version: 2, files: changed), validate: Self.validate) }

        // A reopened store reads the same state.
        let reopened = try ConfigurationStore(root: root)
        #expect(reopened.current == 1 && reopened.highWaterMark == 2)
    }

    @Test("a profile that does not validate is not staged, the active one is untouched, and its version is spent")
    func invalidProfileIsRefused() throws {
        let root = try makeTestDirectory(prefix: "axle-config-store-invalid")
        defer { removeTree(root) }
        let files = try ProfileDirectory.files(at: Self.demo)
        let store = try ConfigurationStore(root: root)
        try store.stage(try bundle(version: 4, files: files), validate: Self.validate)
        try store.activate(4)

        var broken = files
        broken["profile.toml"] = Array("[profile\nname = \n".utf8)
        do {
            try store.stage(try bundle(version: 5, files: broken), validate: Self.validate)
            Issue.record("a broken profile was staged")
        } catch let error as ConfigurationStoreError {
            #expect(error.code == .invalid)
            #expect(error.text.contains("profile.toml"), "\(error)")
        }
        #expect(store.current == 4)
        #expect(store.highWaterMark == 5)
        #expect(!ProfileDirectoryExists.check(root + "/staging-5") && !ProfileDirectoryExists.check(store.directory(of: 5)))
        #expect(throws: ConfigurationStoreError.self) { try store.activate(5) }
    }

    @Test("a staging directory left by a crash is removed when the store opens; the active version stays")
    func crashLeftoversAreCleared() throws {
        let root = try makeTestDirectory(prefix: "axle-config-store-crash")
        defer { removeTree(root) }
        let store = try ConfigurationStore(root: root)
        try store.stage(try bundle(version: 1, files: try ProfileDirectory.files(at: Self.demo)), validate: Self.validate)
        try store.activate(1)
        #expect(mkdir(root + "/staging-2", 0o755) == 0)
        _ = try AxleProcess.writeFile(root + "/staging-2/profile.toml", "half written")
        let reopened = try ConfigurationStore(root: root)
        #expect(!ProfileDirectoryExists.check(root + "/staging-2"))
        #expect(reopened.current == 1)
    }
}

/// Whether anything exists at a path (a dangling link included).
enum ProfileDirectoryExists {
    static func check(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
