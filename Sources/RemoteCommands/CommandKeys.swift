import AxleBase
import Crypto

#if canImport(FoundationEssentials)
// swift-crypto's Ed25519 API hands signatures and keys back as `Data`; only the conversions to [UInt8] use it.
import FoundationEssentials
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A key file that cannot be read, written or used; `description` names the file, what is wrong and what to do.
public struct KeyFileError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Key ids: what the envelope's `key` names and the trust store looks up.
package enum KeyID {
    /// `[A-Za-z0-9._-]{1,64}`.
    package static func isValid(_ keyID: String) -> Bool {
        let bytes = Array(keyID.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    package static func check(_ keyID: String, in place: String) throws(KeyFileError) {
        guard isValid(keyID) else {
            throw KeyFileError(
                "\(place)key id \"\(keyID)\" is not valid: use 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
    }
}

/// The one-line key file format: `<kind> <key id> <base64 of 32 bytes>`. The kind names the key's role as well as
/// its half: command keys and configuration keys (`ConfigBundle`) are kept apart by their files, so that a key made
/// for one role is refused where the other is expected.
package enum KeyFileText {
    package static let publicKind = "axle-ed25519-public"
    package static let privateKind = "axle-ed25519-private"
    package static let configurationPublicKind = "axle-config-ed25519-public"
    package static let configurationPrivateKind = "axle-config-ed25519-private"

    package static func render(kind: String, keyID: String, bytes: [UInt8]) -> String {
        "\(kind) \(keyID) \(Base64.encode(bytes))\n"
    }

    /// What a key file of `kind` holds, for messages.
    static func describe(_ kind: String) -> String {
        switch kind {
        case publicKind: "a command public key"
        case privateKind: "a command signing key"
        case configurationPublicKind: "a configuration public key"
        case configurationPrivateKind: "a configuration signing key"
        default: "a key"
        }
    }

    /// The key id and the 32 key bytes of the file at `path`, which must be of `kind`.
    package static func read(path: String, kind: String) throws(KeyFileError) -> (keyID: String, bytes: [UInt8]) {
        let contents: [UInt8]
        do {
            // A signing key others can read, or a trust key others can replace, is refused (as ssh does).
            let isPublic = kind == publicKind || kind == configurationPublicKind
            contents = try KeyFileAccess.read(path: path, kind: isPublic ? .trusted : .secret, limit: 4096)
        } catch {
            throw KeyFileError(error.description)
        }
        guard let text = String(validating: contents, as: UTF8.self) else {
            throw KeyFileError("\(path): not a key file (expected one line '\(kind) <key-id> <base64 key>')")
        }
        var line = Substring(text)
        while let last = line.last, last == "\n" || last == "\r\n" || last == "\r" || last == " " { line.removeLast() }
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        let expected = "expected one line '\(kind) <key-id> <base64 key>'"
        guard fields.count == 3, !line.contains("\n") else {
            throw KeyFileError("\(path): \(expected)")
        }
        guard fields[0] == kind else {
            let pairs = [publicKind: privateKind, privateKind: publicKind,
                configurationPublicKind: configurationPrivateKind, configurationPrivateKind: configurationPublicKind]
            if String(fields[0]) == pairs[kind] {
                throw KeyFileError(
                    kind == publicKind || kind == configurationPublicKind
                        ? "\(path): this is a private key file; give the public one (PREFIX.pub) here"
                        : "\(path): this is a public key file; signing needs the private one (PREFIX.key)")
            }
            let known = [publicKind, privateKind, configurationPublicKind, configurationPrivateKind]
            if known.contains(String(fields[0])) {
                let wanted = kind == configurationPrivateKind || kind == configurationPublicKind
                    ? "configuration bundles are signed and checked with configuration keys (axle-fleet config keygen)"
                    : "commands are signed and checked with command keys (axle-fleet keygen)"
                throw KeyFileError("\(path): this is \(describe(String(fields[0]))), not \(describe(kind)); \(wanted)")
            }
            throw KeyFileError("\(path): starts with \"\(fields[0])\"; \(expected)")
        }
        let keyID = String(fields[1])
        try KeyID.check(keyID, in: "\(path): ")
        guard let bytes = Base64.decode(String(fields[2])), bytes.count == 32 else {
            throw KeyFileError("\(path): the key is not the base64 of 32 bytes; the file is damaged, make a new key pair")
        }
        return (keyID, bytes)
    }
}

/// A backend public key the vehicle trusts (an Ed25519 key, raw 32 bytes), as read from `PREFIX.pub`.
public struct CommandPublicKey: Sendable, Equatable {
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

    /// Reads a `PREFIX.pub` file (`axle-ed25519-public <key-id> <base64>`).
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let (keyID, bytes) = try KeyFileText.read(path: path, kind: KeyFileText.publicKind)
        do {
            try self.init(keyID: keyID, rawRepresentation: bytes)
        } catch {
            throw KeyFileError("\(path): \(error.description)")
        }
    }

    /// The file's text, newline included.
    public var fileText: String {
        KeyFileText.render(kind: KeyFileText.publicKind, keyID: keyID, bytes: rawRepresentation)
    }

    /// Whether `signature` is this key's Ed25519 signature of the domain string followed by `body`.
    public func isValidSignature(_ signature: [UInt8], forBody body: [UInt8]) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { return false }
        return key.isValidSignature(signature, for: SignedCommand.signedBytes(body: body))
    }
}

/// A backend signing key (Ed25519), as generated by `axle-fleet keygen` and read from `PREFIX.key`.
public struct CommandSigningKey: Sendable {
    public let keyID: String
    /// The 32-byte private seed; kept as bytes (the key object is rebuilt per signature, which is cheap).
    private let seed: [UInt8]

    /// A key from its id and its 32-byte private seed (RFC 8032), e.g. to derive a fixed test key.
    public init(keyID: String, rawRepresentation seed: [UInt8]) throws(KeyFileError) {
        try KeyID.check(keyID, in: "")
        guard seed.count == 32, (try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)) != nil else {
            throw KeyFileError("private key \"\(keyID)\": an Ed25519 private key is a 32-byte seed, not \(seed.count) bytes")
        }
        self.keyID = keyID
        self.seed = seed
    }

    /// A new random key.
    public static func generate(keyID: String) throws(KeyFileError) -> CommandSigningKey {
        try KeyID.check(keyID, in: "")
        let key = Curve25519.Signing.PrivateKey()
        return try CommandSigningKey(keyID: keyID, rawRepresentation: Array(key.rawRepresentation))
    }

    /// Reads a `PREFIX.key` file (`axle-ed25519-private <key-id> <base64 seed>`).
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let (keyID, bytes) = try KeyFileText.read(path: path, kind: KeyFileText.privateKind)
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

    /// The matching public key, for the vehicles' trust stores.
    public var publicKey: CommandPublicKey {
        // The key id was checked and the key is 32 bytes, so this cannot fail.
        try! CommandPublicKey(keyID: keyID, rawRepresentation: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The private key file's text, newline included.
    public var fileText: String {
        KeyFileText.render(kind: KeyFileText.privateKind, keyID: keyID, bytes: seed)
    }

    /// Writes `PREFIX.key` (mode 0600) and `PREFIX.pub` (0644). Refuses when either exists: overwriting a key would
    /// lock out every vehicle that trusts the old one.
    public func write(prefix: String) throws(KeyFileError) {
        let keyPath = prefix + ".key"
        let publicPath = prefix + ".pub"
        for path in [keyPath, publicPath] {
            var info = stat()
            if lstat(path, &info) == 0 {
                throw KeyFileError("\(path) already exists; choose another --out prefix or move the old key away first")
            }
        }
        try Self.createFile(keyPath, text: fileText, mode: 0o600)
        do {
            try Self.createFile(publicPath, text: publicKey.fileText, mode: 0o644)
        } catch {
            unlink(keyPath)
            throw error
        }
    }

    /// Creates a new file (O_EXCL: never an existing one) with `text`, flushed to disk.
    package static func createFile(_ path: String, text: String, mode: mode_t) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw KeyFileError("\(path) already exists; choose another --out prefix or move the old key away first")
            }
            throw KeyFileError("\(SystemError(call: "open", subject: path, errno: code)): check the directory exists and is writable")
        }
        defer { close(fd) }
        // The umask may have narrowed the mode; a private key must not be wider than 0600 either way.
        fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                unlink(path)
                throw KeyFileError("\(SystemError(call: "write", subject: path, errno: code))")
            }
            written += count
        }
        fsync(fd)
    }

    /// Signs `request`: the body is `request.bodyBytes()`, the signature covers the domain string and the body.
    public func sign(_ request: CommandRequest) -> SignedCommand {
        let body = request.bodyBytes()
        return SignedCommand(keyID: keyID, body: body, signature: signature(forBody: body))
    }

    /// The Ed25519 signature of the domain string followed by `body` (for bodies written by other means).
    public func signature(forBody body: [UInt8]) -> [UInt8] {
        do {
            return Array(try privateKey.signature(for: SignedCommand.signedBytes(body: body)))
        } catch {
            // BoringSSL's Ed25519 signing fails only when memory runs out; there is nothing sensible to return.
            fatalError("Ed25519 signing failed: \(error)")
        }
    }
}
