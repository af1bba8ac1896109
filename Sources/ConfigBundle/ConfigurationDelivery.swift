import AxleBase
import Crypto

// What travels over MQTT for a configuration update (docs/configuration.md, "Delivery over MQTT" and "The state
// report"): the backend's desired version per vehicle, the bundle in retained chunks shared by the fleet, and the
// vehicle's state. Shared by the agent (taking bundles, reporting) and axle-fleet (pushing, reading reports).

/// The configuration topics of one vehicle, and the fleet's bundle chunks.
public struct ConfigurationTopics: Sendable, Equatable {
    /// Such as "axle/v1" (no trailing slash).
    public var prefix: String
    public var vehicleID: String

    public init(prefix: String, vehicleID: String) {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        self.vehicleID = vehicleID
    }

    /// Retained, backend → vehicle: the version the vehicle should run (`DesiredConfiguration`).
    public var desired: String { "\(prefix)/\(vehicleID)/config/desired" }
    /// Retained, vehicle → backend: what the vehicle runs and what became of the last version it received
    /// (`ConfigurationReport`).
    public var state: String { "\(prefix)/\(vehicleID)/config/state" }

    /// Retained, backend → vehicles: chunk `index` (from 0) of the bundle whose SHA-256 is `bundleSHA256` (hex). One
    /// copy on the broker serves every vehicle the bundle is for.
    public static func chunk(prefix: String, bundleSHA256: String, index: Int) -> String {
        "\(prefix)/config/bundles/\(bundleSHA256)/\(index)"
    }

    public func chunk(bundleSHA256: String, index: Int) -> String {
        Self.chunk(prefix: prefix, bundleSHA256: bundleSHA256, index: index)
    }
}

/// The version the backend wants a vehicle to run, and where its bundle is: the retained message on
/// `…/config/desired`.
///
/// ```json
/// {"version":7,"bundle_sha256":"<64 lowercase hex digits>","bytes":145308,"chunk_bytes":65536,"chunks":3}
/// ```
public struct DesiredConfiguration: Sendable, Equatable {
    /// The largest chunk: half of AWS IoT Core's 128 KB message limit, so that a chunk passes every broker we know.
    public static let maximumChunkBytes = 64 << 10
    /// The largest bundle a vehicle downloads: the verifier's limits (16 MiB of files, a 64 KiB manifest) and the
    /// header around them.
    public static let maximumBundleBytes = (16 << 20) + (64 << 10) + 256

    public var version: UInt64
    /// The SHA-256 of the whole bundle, 64 lowercase hex digits: names its chunk topics, and is checked once every
    /// chunk has arrived, before the bundle is verified.
    public var bundleSHA256: String
    public var bytes: Int
    public var chunkBytes: Int

    public init(version: UInt64, bundleSHA256: String, bytes: Int, chunkBytes: Int = DesiredConfiguration.maximumChunkBytes) {
        self.version = version
        self.bundleSHA256 = bundleSHA256
        self.bytes = bytes
        self.chunkBytes = chunkBytes
    }

    /// The desired message for `bundle` (its bytes as signed), at `version`.
    public init(version: UInt64, bundle: [UInt8], chunkBytes: Int = DesiredConfiguration.maximumChunkBytes) {
        self.init(version: version, bundleSHA256: Self.digest(of: bundle), bytes: bundle.count, chunkBytes: chunkBytes)
    }

    /// The SHA-256 of `bytes`, as `bundle_sha256` writes it (64 lowercase hex digits).
    public static func digest(of bytes: some Collection<UInt8>) -> String {
        BundleManifest.hex(Array(SHA256.hash(data: Array(bytes))))
    }

    /// How many chunks the bundle travels in.
    public var chunks: Int { (bytes + chunkBytes - 1) / chunkBytes }

    /// The byte range of chunk `index` in the bundle.
    public func range(ofChunk index: Int) -> Range<Int> {
        index * chunkBytes..<min((index + 1) * chunkBytes, bytes)
    }

    public var json: JSONValue {
        .object([
            ("version", .integer(Int128(version))), ("bundle_sha256", .string(bundleSHA256)),
            ("bytes", .integer(Int128(bytes))), ("chunk_bytes", .integer(Int128(chunkBytes))),
            ("chunks", .integer(Int128(chunks))),
        ])
    }

    /// Reads a desired message; every member must be present and consistent (a vehicle never guesses).
    public static func parse(_ payload: [UInt8]) throws(ConfigurationMessageError) -> DesiredConfiguration {
        let value: JSONValue
        do {
            value = try JSONValue.parse(String(decoding: payload, as: UTF8.self))
        } catch {
            throw ConfigurationMessageError("the desired configuration is not JSON: \(error)")
        }
        guard let version = value["version"]?.intValue, version >= 1, UInt64(version) <= BundleManifest.maximumVersion
        else { throw ConfigurationMessageError("the desired configuration has no version from 1 to 2^53-1") }
        guard let digest = value["bundle_sha256"]?.stringValue, digest.utf8.count == 64,
            digest.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { throw ConfigurationMessageError("the desired configuration's bundle_sha256 is not 64 lowercase hex digits") }
        guard let bytes = value["bytes"]?.intValue, bytes > 0, bytes <= maximumBundleBytes else {
            throw ConfigurationMessageError("the desired configuration's bytes is not from 1 to \(maximumBundleBytes)")
        }
        guard let chunkBytes = value["chunk_bytes"]?.intValue, chunkBytes > 0, chunkBytes <= maximumChunkBytes else {
            throw ConfigurationMessageError("the desired configuration's chunk_bytes is not from 1 to \(maximumChunkBytes)")
        }
        let desired = DesiredConfiguration(version: UInt64(version), bundleSHA256: digest, bytes: bytes, chunkBytes: chunkBytes)
        guard value["chunks"]?.intValue == desired.chunks else {
            throw ConfigurationMessageError("the desired configuration's chunks is not bytes / chunk_bytes rounded up (\(desired.chunks))")
        }
        return desired
    }
}

/// A configuration message that cannot be read.
public struct ConfigurationMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where a version received stands (docs/configuration.md, "The state report").
public enum ConfigurationStatus: String, Sendable, Equatable, CaseIterable {
    /// Being received, verified, staged and switched to.
    case applying = "APPLYING"
    /// Running, until the health check passes or fails.
    case trial = "TRIAL"
    /// Passed its trial: the vehicle runs it.
    case applied = "APPLIED"
    /// Never run: refused, or staging failed. `reason` says why.
    case failed = "FAILED"
    /// Ran and was switched back (a failed health check, or the agent restarted during its trial).
    case rolledBack = "ROLLED_BACK"

    /// Whether nothing more will happen to this version: it is never retried.
    public var isFinal: Bool { self == .applied || self == .failed || self == .rolledBack }
}

/// The vehicle's configuration state: the retained message on `…/config/state`, also `axle config`'s answer.
///
/// ```json
/// {"active":{"version":2,"profile":"demo-sedan","bundle_sha256":"…"},
///  "previous":{"version":0,"profile":"demo-sedan"},
///  "last":{"version":3,"bundle_sha256":"…","status":"ROLLED_BACK","reason":"health_check_failed","text":"…"},
///  "high_water_mark":3,"at_ms":1796620388429}
/// ```
///
/// Version 0 is the profile installed on the vehicle's disk (`axled --profile`); it has no bundle.
public struct ConfigurationReport: Sendable, Equatable {
    /// A version the vehicle has on disk.
    public struct Installed: Sendable, Equatable {
        public var version: UInt64
        public var profile: String
        /// nil for version 0.
        public var bundleSHA256: String?

        public init(version: UInt64, profile: String, bundleSHA256: String?) {
            self.version = version
            self.profile = profile
            self.bundleSHA256 = bundleSHA256
        }
    }

    /// The last version the vehicle received, and what became of it.
    public struct Received: Sendable, Equatable {
        public var version: UInt64
        public var bundleSHA256: String
        public var status: ConfigurationStatus
        /// Why it failed or was rolled back (a `ConfigurationFailure` code), nil otherwise.
        public var reason: String?
        /// What happened, for people.
        public var text: String?

        public init(version: UInt64, bundleSHA256: String, status: ConfigurationStatus, reason: String? = nil, text: String? = nil) {
            self.version = version
            self.bundleSHA256 = bundleSHA256
            self.status = status
            self.reason = reason
            self.text = text
        }

        /// `{"version","bundle_sha256","status"[,"reason"][,"text"]}`: the report's `last`, and what the vehicle keeps
        /// of it across restarts.
        public var json: JSONValue {
            var members: [(String, JSONValue)] = [
                ("version", .integer(Int128(version))), ("bundle_sha256", .string(bundleSHA256)),
                ("status", .string(status.rawValue)),
            ]
            if let reason { members.append(("reason", .string(reason))) }
            if let text { members.append(("text", .string(text))) }
            return .object(members)
        }

        public static func parse(_ value: JSONValue) throws(ConfigurationMessageError) -> Received {
            guard let version = value["version"]?.intValue, version >= 0, let digest = value["bundle_sha256"]?.stringValue,
                let status = value["status"]?.stringValue.flatMap(ConfigurationStatus.init(rawValue:))
            else { throw ConfigurationMessageError("the configuration report's last version is incomplete") }
            return Received(
                version: UInt64(version), bundleSHA256: digest, status: status, reason: value["reason"]?.stringValue,
                text: value["text"]?.stringValue)
        }
    }

    public var active: Installed
    public var previous: Installed?
    public var last: Received?
    /// The highest version the vehicle has taken: a push must be above it.
    public var highWaterMark: UInt64
    public var atMillis: Int64

    public init(active: Installed, previous: Installed? = nil, last: Received? = nil, highWaterMark: UInt64 = 0, atMillis: Int64) {
        self.active = active
        self.previous = previous
        self.last = last
        self.highWaterMark = highWaterMark
        self.atMillis = atMillis
    }

    /// The members in their documented order (the agent adds `seq` after them when the report goes through the
    /// outbox).
    public var members: [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [("active", Self.json(active))]
        if let previous { members.append(("previous", Self.json(previous))) }
        if let last { members.append(("last", last.json)) }
        members.append(("high_water_mark", .integer(Int128(highWaterMark))))
        members.append(("at_ms", .integer(Int128(atMillis))))
        return members
    }

    public var json: JSONValue { .object(members) }

    private static func json(_ installed: Installed) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("version", .integer(Int128(installed.version))), ("profile", .string(installed.profile)),
        ]
        if let digest = installed.bundleSHA256 { members.append(("bundle_sha256", .string(digest))) }
        return .object(members)
    }

    /// Reads a report (the backend's side, `axle config`); members it does not know are ignored, so that a newer
    /// agent's report still reads.
    public static func parse(_ value: JSONValue) throws(ConfigurationMessageError) -> ConfigurationReport {
        guard let activeValue = value["active"], let active = installed(activeValue) else {
            throw ConfigurationMessageError("the configuration report has no active version")
        }
        var report = ConfigurationReport(
            active: active, previous: value["previous"].flatMap(installed),
            highWaterMark: UInt64(max(0, value["high_water_mark"]?.intValue ?? 0)),
            atMillis: Int64(value["at_ms"]?.intValue ?? 0))
        if let last = value["last"] { report.last = try Received.parse(last) }
        return report
    }

    private static func installed(_ value: JSONValue) -> Installed? {
        guard let version = value["version"]?.intValue, version >= 0, let profile = value["profile"]?.stringValue else { return nil }
        return Installed(version: UInt64(version), profile: profile, bundleSHA256: value["bundle_sha256"]?.stringValue)
    }
}

/// Why a version was not taken or not kept: the `reason` of a FAILED or ROLLED_BACK report. A bundle's own refusals
/// use `BundleRefusal.Reason`'s codes (expired, bad_signature, …); these are the rest.
public enum ConfigurationFailure: String, Sendable, CaseIterable {
    /// The downloaded bytes' SHA-256 is not the desired message's `bundle_sha256`.
    case bundleMismatch = "bundle_mismatch"
    /// The staged profile does not validate (what `axle profile validate` checks).
    case invalid
    /// The profile would widen what the vehicle may do beyond axled.toml's allow-list, or change its buses.
    case notAllowed = "not_allowed"
    /// Writing, switching or reading the files failed.
    case storage
    /// The new version ran, and its health check failed during the trial.
    case healthCheckFailed = "health_check_failed"
    /// The agent stopped (a crash, a power cut) before the version had passed its trial: it is not tried again.
    case agentRestarted = "agent_restarted"
}
