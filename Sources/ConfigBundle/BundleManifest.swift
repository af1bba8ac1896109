import AxleBase
import Crypto

#if canImport(FoundationEssentials)
// swift-crypto hashes `DataProtocol` values; the conformance of [UInt8] and its slices comes from here.
import FoundationEssentials
#endif

/// The signed part of a configuration bundle: every file of a profile with its size and SHA-256, the version, the
/// vehicles it is for and its validity window (docs/configuration.md, "The manifest"). One signature over this
/// list covers every file, so files cannot be mixed from two bundles, and the list is checked before any file is
/// used.
public struct BundleManifest: Sendable, Equatable {
    /// One file of the profile directory.
    public struct File: Sendable, Equatable {
        /// Relative to the profile directory, `/`-separated (`profile.toml`, `dbc/sedan.dbc`).
        public var path: String
        public var size: Int
        /// 32 bytes.
        public var sha256: [UInt8]

        /// A file as listed.
        public init(path: String, size: Int, sha256: [UInt8]) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }

        /// The entry for `contents` at `path`.
        public init(path: String, contents: [UInt8]) {
            self.init(path: path, size: contents.count, sha256: Array(SHA256.hash(data: contents)))
        }
    }

    /// The vehicles a bundle is for.
    public enum Vehicles: Sendable, Equatable {
        case all
        /// These vehicle ids only (at least one).
        case only([String])

        /// Whether `vehicleID` is among them.
        public func includes(_ vehicleID: String) -> Bool {
            switch self {
            case .all: true
            case .only(let ids): ids.contains(vehicleID)
            }
        }
    }

    /// The manifest format this code writes and reads.
    public static let format = 1
    /// Largest version: integers up to 2^53 read back exactly in every JSON library.
    public static let maximumVersion: UInt64 = 9_007_199_254_740_991

    /// Grows with every bundle the backend signs; a vehicle applies only versions above the highest it has taken.
    public var version: UInt64
    /// The profile's name: the name of the directory its files are in, which a profile must match (a vehicle stages
    /// the files into a directory of this name). One path component of `A-Z a-z 0-9 . _ -`.
    public var profile: String
    public var vehicles: Vehicles
    /// Unix milliseconds: not to be applied before this time, nor after `expiresAtMillis`.
    public var notBeforeMillis: Int64
    public var expiresAtMillis: Int64
    /// Sorted by path (bytewise), each path once.
    public var files: [File]

    /// A manifest as given; `files` is sorted here.
    public init(
        version: UInt64, profile: String, vehicles: Vehicles, notBeforeMillis: Int64, expiresAtMillis: Int64,
        files: [File]
    ) {
        self.version = version
        self.profile = profile
        self.vehicles = vehicles
        self.notBeforeMillis = notBeforeMillis
        self.expiresAtMillis = expiresAtMillis
        self.files = files.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    /// A digest as the manifest writes it: 64 lowercase hex digits.
    public static func hex(_ digest: [UInt8]) -> String { Hex.encode(digest) }

    /// The bytes of every file together.
    public var totalFileBytes: Int { files.reduce(0) { $0 + $1.size } }

    /// The manifest's JSON, compact, members in the documented order: the bytes that are signed.
    public func json() -> [UInt8] {
        let vehicles: JSONValue =
            switch self.vehicles {
            case .all: .string("all")
            case .only(let ids): .array(ids.map { .string($0) })
            }
        let document: JSONValue = .object([
            ("format", .integer(Int128(Self.format))),
            ("version", .integer(Int128(version))),
            ("profile", .string(profile)),
            ("vehicles", vehicles),
            ("not_before_ms", .integer(Int128(notBeforeMillis))),
            ("expires_ms", .integer(Int128(expiresAtMillis))),
            ("files", .array(files.map { file in
                .object([
                    ("path", .string(file.path)), ("size", .integer(Int128(file.size))),
                    ("sha256", .string(Hex.encode(file.sha256))),
                ])
            })),
        ])
        return Array(document.rendered().utf8)
    }

    /// Reads a manifest strictly: every member present once, no unknown member, paths safe to create under a
    /// directory and in order. Throws a text for a `malformed` refusal.
    public static func parse(_ bytes: [UInt8]) throws(ManifestFormatError) -> BundleManifest {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ManifestFormatError("the manifest is not UTF-8") }
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            throw ManifestFormatError("the manifest is not JSON: \(error)")
        }
        guard case .object(let members) = document else { throw ManifestFormatError("the manifest is not a JSON object") }
        let known = ["format", "version", "profile", "vehicles", "not_before_ms", "expires_ms", "files"]
        var fields: [String: JSONValue] = [:]
        for (key, value) in members {
            guard known.contains(key) else { throw ManifestFormatError("the manifest has an unknown member \"\(key)\"") }
            guard fields.updateValue(value, forKey: key) == nil else {
                throw ManifestFormatError("the manifest has the member \"\(key)\" twice")
            }
        }
        guard case .integer(let format) = fields["format"], format == Int128(Self.format) else {
            throw ManifestFormatError("the manifest's format is not \(Self.format); this vehicle reads format \(Self.format)")
        }
        guard case .integer(let version) = fields["version"], version >= 1, version <= Int128(maximumVersion) else {
            throw ManifestFormatError("the manifest's version must be an integer from 1 to \(maximumVersion)")
        }
        guard let profile = fields["profile"]?.stringValue, !profile.contains("/"), BundlePath.problem(profile) == nil else {
            throw ManifestFormatError("the manifest's profile must be a directory name of A-Z a-z 0-9 . _ - (not . or ..)")
        }
        let vehicles: Vehicles
        switch fields["vehicles"] {
        case .string("all"):
            vehicles = .all
        case .array(let values):
            let ids = values.compactMap(\.stringValue)
            guard !ids.isEmpty, ids.count == values.count, ids.allSatisfy({ !$0.isEmpty }) else {
                throw ManifestFormatError("the manifest's vehicles must be \"all\" or a non-empty array of vehicle ids")
            }
            vehicles = .only(ids)
        default:
            throw ManifestFormatError("the manifest's vehicles must be \"all\" or a non-empty array of vehicle ids")
        }
        guard case .integer(let notBefore) = fields["not_before_ms"], let notBeforeMillis = Int64(exactly: notBefore),
            case .integer(let expires) = fields["expires_ms"], let expiresAtMillis = Int64(exactly: expires)
        else {
            throw ManifestFormatError("the manifest needs not_before_ms and expires_ms as integers (unix milliseconds)")
        }
        guard expiresAtMillis > notBeforeMillis else {
            throw ManifestFormatError("the manifest expires (expires_ms) before it becomes valid (not_before_ms)")
        }
        guard case .array(let entries) = fields["files"], !entries.isEmpty else {
            throw ManifestFormatError("the manifest lists no files")
        }
        var files: [File] = []
        for entry in entries {
            guard case .object(let parts) = entry, parts.count == 3,
                let path = entry["path"]?.stringValue, case .integer(let size)? = entry["size"], size >= 0,
                size <= Int128(Int32.max), let hex = entry["sha256"]?.stringValue, let digest = Hex.decode(hex),
                digest.count == 32
            else {
                throw ManifestFormatError(
                    "each file of the manifest is {\"path\", \"size\", \"sha256\"} with a size in bytes and 64 lowercase hex digits")
            }
            guard let problem = BundlePath.problem(path) else {
                files.append(File(path: path, size: Int(size), sha256: digest))
                continue
            }
            throw ManifestFormatError("the manifest's file \"\(path)\": \(problem)")
        }
        for (previous, next) in zip(files, files.dropFirst())
        where !Array(previous.path.utf8).lexicographicallyPrecedes(Array(next.path.utf8)) {
            throw ManifestFormatError("the manifest's files must be sorted by path, each once (\"\(next.path)\")")
        }
        return BundleManifest(
            version: UInt64(version), profile: profile, vehicles: vehicles, notBeforeMillis: notBeforeMillis, expiresAtMillis: expiresAtMillis,
            files: files)
    }
}

/// Why a manifest cannot be read.
public struct ManifestFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Which file paths a bundle may carry: relative, `/`-separated, components of `A-Z a-z 0-9 . _ -` other than `.`
/// and `..`, at most 255 bytes. Nothing a vehicle writes from a bundle can land outside its staging directory.
public enum BundlePath {
    /// Why `path` is not allowed, or nil.
    public static func problem(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard (1...255).contains(bytes.count) else { return "paths are 1 to 255 bytes long" }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components {
            guard !component.isEmpty, component != ".", component != ".." else {
                return "paths are relative, with no empty, '.' or '..' component"
            }
            let allowed = component.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
            guard allowed else { return "path components use only A-Z a-z 0-9 . _ -" }
        }
        return nil
    }
}

/// Lowercase hexadecimal, as the manifest writes digests.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of lowercase hex text (one canonical form, like the base64 of commands), or nil.
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 2 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 2)
        var index = 0
        while index < input.count {
            guard let high = value(input[index]), let low = value(input[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
