import Crypto

#if canImport(FoundationEssentials)
// swift-crypto hashes `DataProtocol` values; the conformance of [UInt8] and its slices comes from here.
import FoundationEssentials
#endif

/// Why a vehicle refuses a configuration bundle: one code per cause, so that the backend can tell a forgery from a
/// stale or misaddressed bundle (docs/configuration.md, "Refusals").
public struct BundleRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The refusal's code, as reported (`rawValue`).
    public enum Reason: String, Sendable, CaseIterable {
        /// Not a bundle, cut short, or a manifest that cannot be read.
        case malformed
        /// Signed by a key this vehicle does not trust for configuration.
        case unknownKey = "unknown_key"
        /// Signed (or claiming to be signed) by a key the vehicle trusts for commands only.
        case wrongRoleKey = "wrong_role_key"
        /// The signature does not verify with the named configuration key.
        case badSignature = "bad_signature"
        /// Past its expiry.
        case expired
        /// Before its not-before time.
        case notYetValid = "not_yet_valid"
        /// Addressed to other vehicles.
        case notForThisVehicle = "not_for_this_vehicle"
        /// Its version is not above the highest this vehicle has taken (a rollback or a replay).
        case versionNotAbove = "version_not_above_high_water_mark"
        /// A file's size or SHA-256 differs from the manifest, or the bundle holds more or fewer bytes.
        case fileMismatch = "file_mismatch"
        /// Beyond the vehicle's size limits.
        case tooLarge = "too_large"
    }

    public var reason: Reason
    /// What exactly, for people.
    public var text: String

    public init(_ reason: Reason, _ text: String) {
        self.reason = reason
        self.text = text
    }

    public var description: String { "\(reason.rawValue): \(text)" }
}

/// The most a vehicle takes in one bundle, against endless or oversized data.
public struct BundleLimits: Sendable, Equatable {
    public var maximumManifestBytes = 64 << 10
    public var maximumFiles = 256
    public var maximumFileBytes = 8 << 20
    public var maximumTotalBytes = 16 << 20

    public init() {}
}

/// A bundle that passed every check: its manifest and each file's contents.
public struct VerifiedBundle: Sendable, Equatable {
    public var keyID: String
    public var manifest: BundleManifest
    /// In the manifest's order.
    public var files: [(path: String, contents: ArraySlice<UInt8>)]

    public static func == (lhs: VerifiedBundle, rhs: VerifiedBundle) -> Bool {
        lhs.keyID == rhs.keyID && lhs.manifest == rhs.manifest
            && lhs.files.map(\.path) == rhs.files.map(\.path) && lhs.files.map(\.contents) == rhs.files.map(\.contents)
    }
}

/// Checks bundles for one vehicle: the key's role first, then the signature over the manifest, then what the
/// signed manifest says (times, vehicle, version, sizes), then every file against it. Nothing is parsed from the
/// manifest before its signature checked out.
public struct BundleVerifier: Sendable {
    public var vehicleID: String
    /// Keys trusted to sign configuration.
    public var configurationKeys: [ConfigurationPublicKey]
    /// Ids of the keys this vehicle trusts for commands: a bundle naming one is refused `wrong_role_key`.
    public var commandKeyIDs: Set<String>
    public var limits: BundleLimits
    /// A bundle is taken this long before its not-before time, for a vehicle clock a little behind the backend's.
    public var clockSkewMillis: Int64 = 60_000

    public init(
        vehicleID: String, configurationKeys: [ConfigurationPublicKey], commandKeyIDs: Set<String> = [],
        limits: BundleLimits = BundleLimits()
    ) {
        self.vehicleID = vehicleID
        self.configurationKeys = configurationKeys
        self.commandKeyIDs = commandKeyIDs
        self.limits = limits
    }

    /// Checks the header (all but the files): what can be decided from the first bytes of a transfer.
    /// `highWaterMark`: the highest version this vehicle has taken (0 for none).
    public func verifyHeader(
        _ bundle: ConfigurationBundle, nowMillis: Int64, highWaterMark: UInt64
    ) -> Result<BundleManifest, BundleRefusal> {
        // The role first: a key id the vehicle trusts for commands never signs configuration, even should a
        // configuration key carry the same id by mistake.
        if commandKeyIDs.contains(bundle.keyID) {
            return .failure(BundleRefusal(
                .wrongRoleKey,
                "signed with \"\(bundle.keyID)\", a key this vehicle trusts for commands only; configuration is taken only from configuration keys"))
        }
        let key = configurationKeys.first { $0.keyID == bundle.keyID }
        guard let key else {
            let trusted = configurationKeys.map(\.keyID).joined(separator: ", ")
            return .failure(BundleRefusal(
                .unknownKey,
                "signed with \"\(bundle.keyID)\", which this vehicle does not trust for configuration (trusted: \(trusted.isEmpty ? "none" : trusted))"))
        }
        guard key.isValidSignature(bundle.signature, forManifest: bundle.manifestBytes) else {
            return .failure(BundleRefusal(.badSignature, "the signature does not verify with key \"\(key.keyID)\""))
        }
        let manifest: BundleManifest
        do {
            manifest = try BundleManifest.parse(bundle.manifestBytes)
        } catch {
            return .failure(BundleRefusal(.malformed, error.description))
        }
        if nowMillis >= manifest.expiresAtMillis {
            return .failure(BundleRefusal(
                .expired, "version \(manifest.version) expired at \(manifest.expiresAtMillis) ms, \(nowMillis - manifest.expiresAtMillis) ms ago"))
        }
        if nowMillis + clockSkewMillis < manifest.notBeforeMillis {
            return .failure(BundleRefusal(
                .notYetValid, "version \(manifest.version) is valid from \(manifest.notBeforeMillis) ms, \(manifest.notBeforeMillis - nowMillis) ms from now"))
        }
        guard manifest.vehicles.includes(vehicleID) else {
            return .failure(BundleRefusal(.notForThisVehicle, "version \(manifest.version) is not addressed to \(vehicleID)"))
        }
        guard manifest.version > highWaterMark else {
            return .failure(BundleRefusal(
                .versionNotAbove, "version \(manifest.version) is not above \(highWaterMark), the highest this vehicle has taken"))
        }
        if manifest.files.count > limits.maximumFiles {
            return .failure(BundleRefusal(.tooLarge, "\(manifest.files.count) files, more than the \(limits.maximumFiles) allowed"))
        }
        if let large = manifest.files.first(where: { $0.size > limits.maximumFileBytes }) {
            return .failure(BundleRefusal(
                .tooLarge, "\(large.path) is \(large.size) bytes, more than the \(limits.maximumFileBytes) allowed per file"))
        }
        if manifest.totalFileBytes > limits.maximumTotalBytes {
            return .failure(BundleRefusal(
                .tooLarge, "the files hold \(manifest.totalFileBytes) bytes, more than the \(limits.maximumTotalBytes) allowed"))
        }
        return .success(manifest)
    }

    /// Checks a whole bundle: the header, then every file's size and SHA-256.
    public func verify(_ bytes: [UInt8], nowMillis: Int64, highWaterMark: UInt64) -> Result<VerifiedBundle, BundleRefusal> {
        let bundle: ConfigurationBundle
        switch ConfigurationBundle.split(bytes, maximumManifestBytes: limits.maximumManifestBytes) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let split): bundle = split
        }
        let manifest: BundleManifest
        switch verifyHeader(bundle, nowMillis: nowMillis, highWaterMark: highWaterMark) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let checked): manifest = checked
        }
        guard bundle.content.count == manifest.totalFileBytes else {
            return .failure(BundleRefusal(
                .fileMismatch, "the bundle holds \(bundle.content.count) bytes of files, the manifest lists \(manifest.totalFileBytes)"))
        }
        var files: [(path: String, contents: ArraySlice<UInt8>)] = []
        var offset = bundle.content.startIndex
        for file in manifest.files {
            let contents = bundle.content[offset..<offset + file.size]
            offset += file.size
            guard Array(SHA256.hash(data: contents)) == file.sha256 else {
                return .failure(BundleRefusal(.fileMismatch, "\(file.path): its SHA-256 differs from the manifest's"))
            }
            files.append((file.path, contents))
        }
        return .success(VerifiedBundle(keyID: bundle.keyID, manifest: manifest, files: files))
    }
}
