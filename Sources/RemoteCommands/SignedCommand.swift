import AxleBase

/// The MQTT payload of a command request: the body bytes as signed, the signing key's id and the signature.
///
/// `{"v":1,"key":"<key id>","body":"<base64 body>","sig":"<base64 signature>"}`: the body travels verbatim, so a
/// verifier checks the signature over the exact bytes the signer produced and no canonical JSON is needed.
public struct SignedCommand: Sendable, Equatable {
    public var keyID: String
    public var body: [UInt8]
    /// 64 bytes of Ed25519 signature; empty when the envelope carried none.
    public var signature: [UInt8]

    /// The envelope format version this code writes and accepts.
    public static let version = 1
    /// What the signature covers before the body: keeps a command signature from being valid in any other protocol
    /// that signs JSON with the same key.
    public static let signingDomain: [UInt8] = Array("axle-command-v1\n".utf8)

    public init(keyID: String, body: [UInt8], signature: [UInt8]) {
        self.keyID = keyID
        self.body = body
        self.signature = signature
    }

    /// The bytes Ed25519 signs: the domain string, then the body.
    public static func signedBytes(body: [UInt8]) -> [UInt8] {
        signingDomain + body
    }

    /// The envelope JSON (compact, members in the documented order).
    public func payload() -> [UInt8] {
        let envelope: JSONValue = .object([
            ("v", .integer(Int128(Self.version))),
            ("key", .string(keyID)),
            ("body", .string(Base64.encode(body))),
            ("sig", .string(Base64.encode(signature))),
        ])
        return Array(envelope.rendered().utf8)
    }

    /// Reads an envelope. `sig` may be absent or empty (the verifier reports `missing_signature`); anything else
    /// out of place — unknown or repeated members, a version other than 1, non-canonical base64, a body over
    /// `CommandRequest.maximumBodyBytes` — is an error. The body itself is not read here.
    public static func parse(payload: [UInt8]) throws(CommandFormatError) -> SignedCommand {
        let members = try CommandRequest.objectMembers(of: payload, what: "the envelope")
        var fields: [String: JSONValue] = [:]
        for (key, value) in members {
            guard ["v", "key", "body", "sig"].contains(key) else {
                throw CommandFormatError("the envelope has an unknown member \"\(key)\" (expected v, key, body, sig)")
            }
            guard fields.updateValue(value, forKey: key) == nil else {
                throw CommandFormatError("the envelope has the member \"\(key)\" twice")
            }
        }
        guard let version = fields["v"] else { throw CommandFormatError("the envelope has no \"v\" (format version)") }
        guard case .integer(let number) = version, number == Int128(Self.version) else {
            throw CommandFormatError(
                "the envelope's format version is \(version.shownInMessage)"
                    + "\(version.isWholeNumberInRange ? "" : ", not a whole number in range"); this agent reads version \(Self.version)")
        }
        guard let keyID = fields["key"]?.stringValue, !keyID.isEmpty else {
            throw CommandFormatError("the envelope has no \"key\" string naming the signing key")
        }
        guard let bodyText = fields["body"]?.stringValue else {
            throw CommandFormatError("the envelope has no \"body\" string (the base64 of the body)")
        }
        guard bodyText.utf8.count <= (CommandRequest.maximumBodyBytes + 2) / 3 * 4 else {
            throw CommandFormatError("the body is longer than the \(CommandRequest.maximumBodyBytes) bytes allowed")
        }
        guard let body = Base64.decode(bodyText) else {
            throw CommandFormatError("the envelope's \"body\" is not canonical standard base64 (RFC 4648, with padding)")
        }
        guard body.count <= CommandRequest.maximumBodyBytes else {
            throw CommandFormatError(
                "the body is \(body.count) bytes, more than the \(CommandRequest.maximumBodyBytes) allowed")
        }
        var signature: [UInt8] = []
        if let sigValue = fields["sig"], !sigValue.isNull {
            guard let sigText = sigValue.stringValue else {
                throw CommandFormatError("the envelope's \"sig\" must be a base64 string, not \(sigValue.rendered())")
            }
            guard sigText.utf8.count <= 1024, let decoded = Base64.decode(sigText) else {
                throw CommandFormatError("the envelope's \"sig\" is not canonical standard base64 (RFC 4648, with padding)")
            }
            signature = decoded
        }
        return SignedCommand(keyID: keyID, body: body, signature: signature)
    }
}
