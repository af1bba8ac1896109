import AxleBase

/// The backend keys a vehicle accepts commands from: several at once for rotation, and a revocation list.
public struct TrustStore: Sendable {
    /// Keys by key id.
    public var keys: [String: CommandPublicKey]
    /// Key ids refused even when their key is in `keys`.
    public var revokedKeyIDs: Set<String>

    public init(keys: [CommandPublicKey], revokedKeyIDs: Set<String> = []) {
        var byID: [String: CommandPublicKey] = [:]
        for key in keys { byID[key.keyID] = key }
        self.keys = byID
        self.revokedKeyIDs = revokedKeyIDs
    }
}

/// One parameter a command takes: its type (numbers with optional bounds) and its default.
public struct ParameterSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case number(min: Double?, max: Double?)
        case string
        case bool
    }

    public var name: String
    public var kind: Kind
    /// Filled in when the parameter is absent; nil means the parameter is required (unless `isOptional`).
    public var defaultValue: CommandValue?
    /// May be absent with no default (e.g. `diagnostics.snapshot`'s `signals`: absent means all).
    public var isOptional: Bool

    public init(name: String, kind: Kind, defaultValue: CommandValue? = nil, isOptional: Bool = false) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.isOptional = isOptional
    }
}

/// The commands a vehicle knows, with their parameters: the profile's commands plus `builtIn`.
public struct CommandCatalog: Sendable {
    /// Command name → its parameters.
    public var commands: [String: [ParameterSpec]]

    public init(_ commands: [String: [ParameterSpec]]) {
        self.commands = commands
    }

    /// Commands every vehicle has, whatever its profile (docs/commands.md lists their parameters).
    public static let builtIn: [String: [ParameterSpec]] = [
        "collection.update": [
            ParameterSpec(name: "rule", kind: .string),
            ParameterSpec(name: "enabled", kind: .bool),
        ],
        "diagnostics.snapshot": [
            ParameterSpec(name: "signals", kind: .string, isOptional: true)
        ],
        // Remote diagnostics: `ecu` is a `[diagnostics.ecus]` name (absent: every ECU of the profile).
        "diagnostics.read_dtc": [
            ParameterSpec(name: "ecu", kind: .string, isOptional: true)
        ],
        "diagnostics.clear_dtc": [
            ParameterSpec(name: "ecu", kind: .string, isOptional: true)
        ],
        "diagnostics.read_vin": [
            ParameterSpec(name: "ecu", kind: .string, isOptional: true)
        ],
        "diagnostics.read": [
            ParameterSpec(name: "names", kind: .string),
            ParameterSpec(name: "ecu", kind: .string, isOptional: true),
        ],
        "feature.activate": [
            ParameterSpec(name: "feature", kind: .string),
            ParameterSpec(name: "valid_from", kind: .number(min: 0, max: nil), isOptional: true),
            ParameterSpec(name: "valid_until", kind: .number(min: 0, max: nil), isOptional: true),
        ],
        "feature.revoke": [
            ParameterSpec(name: "feature", kind: .string)
        ],
    ]

    /// The parameters of `name`, or nil when the command is unknown.
    public func parameters(of name: String) -> [ParameterSpec]? {
        commands[name]
    }

    /// `parameters` checked against the spec, with defaults filled in; the error text names the parameter.
    func checked(_ parameters: [String: CommandValue], specs: [ParameterSpec]) throws(CommandFormatError) -> [String: CommandValue] {
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in parameters.keys.sorted() where byName[name] == nil {
            let known = specs.map(\.name).sorted()
            throw CommandFormatError(
                "unknown parameter \"\(name)\"; this command takes "
                    + (known.isEmpty ? "no parameters" : known.joined(separator: ", ")))
        }
        var result = parameters
        for spec in specs {
            guard let value = parameters[spec.name] else {
                if let defaultValue = spec.defaultValue {
                    result[spec.name] = defaultValue
                } else if !spec.isOptional {
                    throw CommandFormatError("missing required parameter \"\(spec.name)\" (\(spec.kind.description))")
                }
                continue
            }
            switch (spec.kind, value) {
            case (.number(let minimum, let maximum), .number(let number)):
                if let minimum, number < minimum {
                    throw CommandFormatError("parameter \"\(spec.name)\" is \(value.display), below the minimum \(CommandValue.number(minimum).display)")
                }
                if let maximum, number > maximum {
                    throw CommandFormatError("parameter \"\(spec.name)\" is \(value.display), above the maximum \(CommandValue.number(maximum).display)")
                }
            case (.string, .string), (.bool, .bool):
                break
            default:
                throw CommandFormatError("parameter \"\(spec.name)\" must be a \(spec.kind.description), not the \(value.kindName) \(value.display)")
            }
        }
        return result
    }
}

extension ParameterSpec.Kind: CustomStringConvertible {
    public var description: String {
        switch self {
        case .number(nil, nil): "number"
        case .number(let minimum, let maximum):
            "number from \(minimum.map { CommandValue.number($0).display } ?? "any") to \(maximum.map { CommandValue.number($0).display } ?? "any")"
        case .string: "string"
        case .bool: "bool"
        }
    }
}

/// How strict verification is about time and size.
public struct VerificationLimits: Sendable {
    /// Longest a command may live: expires_at at most this far after issued_at, and after now (plus the skew).
    public var maximumLifetimeMillis: Int64 = 300_000
    /// How far the sender's clock may be ahead of the vehicle's.
    public var clockSkewMillis: Int64 = 30_000
    /// Largest envelope accepted.
    public var maximumPayloadBytes = 16_384

    public init() {}
}

/// A command whose signature, addressee, time and parameters checked out.
public struct VerifiedCommand: Sendable, Equatable {
    /// Parameters with defaults filled in.
    public var request: CommandRequest
    public var keyID: String
    public var receivedAtMillis: Int64
    /// The expiry on the monotonic clock (`monotonicSeconds()`): now + (expires_at - wall now). Setting the wall
    /// clock back cannot extend a command's life past this.
    public var monotonicDeadline: Double

    public init(request: CommandRequest, keyID: String, receivedAtMillis: Int64, monotonicDeadline: Double) {
        self.request = request
        self.keyID = keyID
        self.receivedAtMillis = receivedAtMillis
        self.monotonicDeadline = monotonicDeadline
    }
}

/// Why a command was refused, for the REJECTED response and the log.
public struct CommandRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: CommandReason
    /// What is wrong and what to do.
    public var text: String
    /// From the body when it could be read at all — possibly before the signature was checked, so unauthenticated:
    /// good for addressing the response, not for any decision.
    public var commandID: String?
    public var commandName: String?
    /// Whether a trusted key's signature checked out before the request failed (wrong vehicle, expired, unknown
    /// command, bad parameters): the backend sent it, and it deserves a full answer. False for everything refused
    /// before or at the signature (malformed envelope, missing or bad signature, unknown or revoked key): anyone can
    /// send that, so its answer is short and rate-limited (docs/commands.md, "Unauthenticated requests").
    public var isAuthenticated: Bool

    public init(
        reason: CommandReason, text: String, commandID: String? = nil, commandName: String? = nil,
        isAuthenticated: Bool = false
    ) {
        self.reason = reason
        self.text = text
        self.commandID = commandID
        self.commandName = commandName
        self.isAuthenticated = isAuthenticated
    }

    /// The text an unauthenticated request's answer carries instead of `text`: short, and echoing nothing the sender
    /// chose (the full text, which names the key id, goes to the log).
    public var unauthenticatedText: String {
        switch reason {
        case .missingSignature: "the envelope has no signature: sign the command with a backend key"
        case .unknownKey: "the key is not in this vehicle's trust store"
        case .revokedKey: "the key is revoked on this vehicle"
        case .badSignature: "the signature does not match the body"
        default: "not a signed command envelope (docs/commands.md)"
        }
    }

    public var description: String { "\(reason.rawValue): \(text)" }

    /// The response reporting this rejection (id "" when the body gave none).
    public func response(vehicle: String, timeMillis: Int64) -> CommandResponse {
        CommandResponse(
            id: commandID ?? "", vehicle: vehicle, name: commandName, status: reason.status, timeMillis: timeMillis,
            reason: reason, text: text)
    }
}

/// Checks a command payload before anything happens: envelope, key, signature, addressee, time, command, parameters.
/// Pure: no clock, no disk (the journal's replay check comes after, in `CommandJournal.claim`).
public struct CommandVerifier: Sendable {
    public let vehicleID: String
    public let trustStore: TrustStore
    public let catalog: CommandCatalog
    public let limits: VerificationLimits

    public init(vehicleID: String, trustStore: TrustStore, catalog: CommandCatalog, limits: VerificationLimits = .init()) {
        self.vehicleID = vehicleID
        self.trustStore = trustStore
        self.catalog = catalog
        self.limits = limits
    }

    /// Checks in this order, the first failure deciding the reason: size and envelope (malformed), signature present
    /// (missing_signature), key known (unknown_key; a revoked id reports revoked_key even when its key was removed),
    /// revoked (revoked_key), signature (bad_signature), body (malformed), vehicle (wrong_vehicle), expires_at <= now
    /// (expired), issued_at > now + skew (not_yet_valid), lifetime over the maximum (expiry_too_far), name
    /// (unknown_command), parameters (bad_parameters).
    public func verify(payload: [UInt8], nowMillis: Int64, monotonicNow: Double) -> Result<VerifiedCommand, CommandRejection> {
        guard payload.count <= limits.maximumPayloadBytes else {
            return .failure(CommandRejection(
                reason: .malformed,
                text: "the payload is \(payload.count) bytes, more than the \(limits.maximumPayloadBytes) allowed: send a smaller command"))
        }
        let envelope: SignedCommand
        do {
            envelope = try SignedCommand.parse(payload: payload)
        } catch {
            return .failure(CommandRejection(
                reason: .malformed, text: "\(error.description): send an envelope as docs/commands.md describes"))
        }
        // Unauthenticated until the signature checks out; only used to address the response.
        let hint = Self.identity(of: envelope.body)
        var signatureChecked = false
        func reject(_ reason: CommandReason, _ text: String) -> Result<VerifiedCommand, CommandRejection> {
            .failure(CommandRejection(
                reason: reason, text: text, commandID: hint.id, commandName: hint.name, isAuthenticated: signatureChecked))
        }
        let keyID = envelope.keyID
        guard !envelope.signature.isEmpty else {
            return reject(.missingSignature, "the envelope has no signature (\"sig\"): sign the command with a backend key")
        }
        if trustStore.revokedKeyIDs.contains(keyID) {
            return reject(.revokedKey, "key \"\(keyID)\" is revoked on this vehicle: sign with a current key")
        }
        guard let key = trustStore.keys[keyID] else {
            return reject(
                .unknownKey,
                "key \"\(keyID)\" is not in this vehicle's trust store: sign with a trusted key, or add its .pub file with axled --trust-key")
        }
        guard key.isValidSignature(envelope.signature, forBody: envelope.body) else {
            return reject(
                .badSignature,
                "the signature does not match the body for key \"\(keyID)\": the payload was changed or signed with another key; sign it again")
        }
        signatureChecked = true
        var request: CommandRequest
        do {
            request = try CommandRequest.parse(body: envelope.body)
        } catch {
            return reject(.malformed, "\(error.description): the signer must write the body as docs/commands.md describes")
        }
        guard request.vehicle == vehicleID else {
            return reject(
                .wrongVehicle, "the command is for vehicle \"\(request.vehicle)\", this is \"\(vehicleID)\": send it to the right vehicle")
        }
        let remaining = request.expiresAtMillis - nowMillis
        guard remaining > 0 else {
            return reject(
                .expired,
                "expired \(Self.seconds(-remaining)) ago (expires_at \(request.expiresAtMillis)): send a new command")
        }
        guard request.issuedAtMillis <= nowMillis + limits.clockSkewMillis else {
            return reject(
                .notYetValid,
                "issued \(Self.seconds(request.issuedAtMillis - nowMillis)) in the future (issued_at \(request.issuedAtMillis), allowed clock difference \(Self.seconds(limits.clockSkewMillis))): check the sender's and the vehicle's clocks")
        }
        let lifetime = request.expiresAtMillis - request.issuedAtMillis
        guard lifetime <= limits.maximumLifetimeMillis, remaining <= limits.maximumLifetimeMillis + limits.clockSkewMillis
        else {
            return reject(
                .expiryTooFar,
                "expires \(Self.seconds(remaining)) from now and \(Self.seconds(lifetime)) after it was issued (expires_at \(request.expiresAtMillis)), more than the \(Self.seconds(limits.maximumLifetimeMillis)) allowed: use a shorter time to live")
        }
        guard let specs = catalog.parameters(of: request.name) else {
            let known = catalog.commands.keys.sorted().joined(separator: ", ")
            return reject(.unknownCommand, "\"\(request.name)\" is not a command this vehicle knows (it knows: \(known))")
        }
        do {
            request.parameters = try catalog.checked(request.parameters, specs: specs)
        } catch {
            return reject(.badParameters, "\(request.name): \(error.description)")
        }
        return .success(VerifiedCommand(
            request: request, keyID: keyID, receivedAtMillis: nowMillis,
            monotonicDeadline: monotonicNow + Double(remaining) / 1000))
    }

    /// The id and name from a body that may not verify, for the response only.
    static func identity(of body: [UInt8]) -> (id: String?, name: String?) {
        guard let members = try? CommandRequest.objectMembers(of: body, what: "the body") else { return (nil, nil) }
        let object = JSONValue.object(members)
        return (object["id"]?.stringValue, object["name"]?.stringValue)
    }

    /// Milliseconds as "12 s" or "0.25 s".
    static func seconds(_ millis: Int64) -> String {
        millis % 1000 == 0 ? "\(millis / 1000) s" : "\(Double(millis) / 1000) s"
    }
}
