import AxleBase
import Crypto
import RemoteCommands

#if canImport(FoundationEssentials)
// swift-crypto's Ed25519 API hands signatures and keys back as `Data`; only the conversions to [UInt8] use it.
import FoundationEssentials
#endif

/// A configuration key the vehicle trusts (Ed25519, raw 32 bytes), as read from `PREFIX.pub` of
/// `axle-fleet config keygen`. A role of its own: a command key cannot sign a configuration, nor this one a command
/// (the key files differ, the signed bytes start with a different domain string, and the vehicle keeps two lists).
public struct ConfigurationPublicKey: Sendable, Equatable {
    public let keyID: String
    public let rawRepresentation: [UInt8]

    /// A key from its id and 32 raw bytes.
    public init(keyID: String, rawRepresentation: [UInt8]) throws(KeyFileError) {
        try KeyID.check(keyID, in: "")
        guard rawRepresentation.count == 32,
            (try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)) != nil
        else {
            throw KeyFileError("public key \"\(keyID)\": an Ed25519 public key is 32 bytes, not \(rawRepresentation.count)")
        }
        self.keyID = keyID
        self.rawRepresentation = rawRepresentation
    }

    /// Reads a `PREFIX.pub` file (`axle-config-ed25519-public <key-id> <base64>`); a command key's file is refused.
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let (keyID, bytes) = try KeyFileText.read(path: path, kind: KeyFileText.configurationPublicKind)
        do {
            try self.init(keyID: keyID, rawRepresentation: bytes)
        } catch {
            throw KeyFileError("\(path): \(error.description)")
        }
    }

    /// The file's text, newline included.
    public var fileText: String {
        KeyFileText.render(kind: KeyFileText.configurationPublicKind, keyID: keyID, bytes: rawRepresentation)
    }

    /// Whether `signature` is this key's Ed25519 signature of the domain string followed by `manifest`.
    public func isValidSignature(_ signature: [UInt8], forManifest manifest: [UInt8]) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { return false }
        return key.isValidSignature(signature, for: ConfigurationBundle.signedBytes(manifest: manifest))
    }
}

/// A configuration signing key (Ed25519), as made by `axle-fleet config keygen` and read from `PREFIX.key`.
public struct ConfigurationSigningKey: Sendable {
    public let keyID: String
    /// The 32-byte private seed (RFC 8032).
    private let seed: [UInt8]

    /// A key from its id and its 32-byte seed, e.g. to derive a fixed test key.
    public init(keyID: String, rawRepresentation seed: [UInt8]) throws(KeyFileError) {
        try KeyID.check(keyID, in: "")
        guard seed.count == 32, (try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)) != nil else {
            throw KeyFileError("private key \"\(keyID)\": an Ed25519 private key is a 32-byte seed, not \(seed.count) bytes")
        }
        self.keyID = keyID
        self.seed = seed
    }

    /// A new random key.
    public static func generate(keyID: String) throws(KeyFileError) -> ConfigurationSigningKey {
        try KeyID.check(keyID, in: "")
        let key = Curve25519.Signing.PrivateKey()
        return try ConfigurationSigningKey(keyID: keyID, rawRepresentation: Array(key.rawRepresentation))
    }

    /// Reads a `PREFIX.key` file (`axle-config-ed25519-private <key-id> <base64 seed>`); a command key is refused.
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let (keyID, bytes) = try KeyFileText.read(path: path, kind: KeyFileText.configurationPrivateKind)
        do {
            try self.init(keyID: keyID, rawRepresentation: bytes)
        } catch {
            throw KeyFileError("\(path): \(error.description)")
        }
    }

    private var privateKey: Curve25519.Signing.PrivateKey {
        // The seed was checked when this value was made.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// The matching public key, for the vehicles (`axled --config-key`).
    public var publicKey: ConfigurationPublicKey {
        // The key id was checked and the key is 32 bytes, so this cannot fail.
        try! ConfigurationPublicKey(keyID: keyID, rawRepresentation: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The private key file's text, newline included.
    public var fileText: String {
        KeyFileText.render(kind: KeyFileText.configurationPrivateKind, keyID: keyID, bytes: seed)
    }

    /// Writes `PREFIX.key` (mode 0600) and `PREFIX.pub` (0644); refuses when either exists.
    public func write(prefix: String) throws(KeyFileError) {
        let keyPath = prefix + ".key"
        let publicPath = prefix + ".pub"
        for path in [keyPath, publicPath] where ProfileDirectory.exists(path) {
            throw KeyFileError("\(path) already exists; choose another --out prefix or move the old key away first")
        }
        try CommandSigningKey.createFile(keyPath, text: fileText, mode: 0o600)
        do {
            try CommandSigningKey.createFile(publicPath, text: publicKey.fileText, mode: 0o644)
        } catch {
            ProfileDirectory.remove(keyPath)
            throw error
        }
    }

    /// The Ed25519 signature of the domain string followed by `manifest`.
    public func signature(forManifest manifest: [UInt8]) -> [UInt8] {
        do {
            return Array(try privateKey.signature(for: ConfigurationBundle.signedBytes(manifest: manifest)))
        } catch {
            // BoringSSL's Ed25519 signing fails only when memory runs out; there is nothing sensible to return.
            fatalError("Ed25519 signing failed: \(error)")
        }
    }
}
