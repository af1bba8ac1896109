/// A signed configuration bundle: one file holding the signed manifest and every file it lists
/// (docs/configuration.md, "The bundle, byte by byte"):
///
/// ```
/// 8 bytes   magic "AXLECFG1"
/// 1 byte    K, the length of the signing key's id (1...64)
/// K bytes   the key id (ASCII: A-Z a-z 0-9 . _ -)
/// 4 bytes   M, the manifest's length, big-endian
/// M bytes   the manifest (UTF-8 JSON, `BundleManifest`)
/// 64 bytes  Ed25519 signature of "axle-config-v1\n" followed by the M manifest bytes
/// then      each listed file's contents, in the manifest's order, exactly its size; nothing after the last
/// ```
///
/// Everything up to the signature is the header: a vehicle can check it (signature, key, times, vehicle, version,
/// sizes) from the first bytes of a transfer, before it takes the files.
public struct ConfigurationBundle: Sendable, Equatable {
    public static let magic: [UInt8] = Array("AXLECFG1".utf8)
    /// What the signature covers before the manifest: a command signature (domain "axle-command-v1\n") can never
    /// verify as a configuration signature, nor the other way round.
    public static let signingDomain: [UInt8] = Array("axle-config-v1\n".utf8)
    public static let signatureBytes = 64

    public var keyID: String
    /// The manifest as signed (kept as bytes: the signature covers these exactly).
    public var manifestBytes: [UInt8]
    public var signature: [UInt8]
    /// The files' contents, concatenated in the manifest's order.
    public var content: ArraySlice<UInt8>

    /// The bytes Ed25519 signs: the domain string, then the manifest.
    public static func signedBytes(manifest: [UInt8]) -> [UInt8] { signingDomain + manifest }

    /// Signs `manifest` with `key` and joins the files (`contents[path]` for each listed file).
    public static func make(
        manifest: BundleManifest, contents: [String: [UInt8]], key: ConfigurationSigningKey
    ) -> [UInt8] {
        let manifestBytes = manifest.json()
        var bytes = magic
        let keyID = Array(key.keyID.utf8)
        bytes.append(UInt8(keyID.count))
        bytes += keyID
        let length = UInt32(manifestBytes.count)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        bytes += manifestBytes
        bytes += key.signature(forManifest: manifestBytes)
        for file in manifest.files { bytes += contents[file.path] ?? [] }
        return bytes
    }

    /// Splits `bytes` into its parts without judging them; nil with a reason when even that is impossible (too
    /// short, not a bundle, a manifest longer than `maximumManifestBytes`).
    public static func split(
        _ bytes: [UInt8], maximumManifestBytes: Int
    ) -> Result<ConfigurationBundle, BundleRefusal> {
        guard bytes.count >= magic.count + 1, Array(bytes[0..<magic.count]) == magic else {
            return .failure(BundleRefusal(.malformed, "not a configuration bundle (it does not start with AXLECFG1)"))
        }
        var offset = magic.count
        let keyLength = Int(bytes[offset])
        offset += 1
        guard (1...64).contains(keyLength), bytes.count >= offset + keyLength + 4 else {
            return .failure(BundleRefusal(.malformed, "the bundle's header is cut short or its key id length is wrong"))
        }
        guard let keyID = String(validating: bytes[offset..<offset + keyLength], as: UTF8.self) else {
            return .failure(BundleRefusal(.malformed, "the bundle's key id is not text"))
        }
        offset += keyLength
        let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        guard length <= maximumManifestBytes else {
            return .failure(BundleRefusal(
                .tooLarge, "the manifest is \(length) bytes, more than the \(maximumManifestBytes) this vehicle takes"))
        }
        guard bytes.count >= offset + length + signatureBytes else {
            return .failure(BundleRefusal(.malformed, "the bundle is cut short before the end of its signature"))
        }
        let manifest = Array(bytes[offset..<offset + length])
        offset += length
        let signature = Array(bytes[offset..<offset + signatureBytes])
        offset += signatureBytes
        return .success(ConfigurationBundle(
            keyID: keyID, manifestBytes: manifest, signature: signature, content: bytes[offset...]))
    }
}
