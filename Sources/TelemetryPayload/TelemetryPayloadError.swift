/// A payload that could not be encoded, compressed or decoded: what failed, and what to do about it.
public struct TelemetryPayloadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure it was; codes can be added without breaking callers that switch over known ones.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case malformed, unsupportedSchemaVersion, tooLarge, cannotSplit, encodingFailed
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The bytes are not a valid Axle telemetry payload (garbage, truncated, or inconsistent columns).
        public static let malformed = Code(.malformed)
        /// The payload uses a schema version this decoder does not know.
        public static let unsupportedSchemaVersion = Code(.unsupportedSchemaVersion)
        /// The payload decompresses to more than the allowed maximum (a decompression bomb, or a limit set too low).
        public static let tooLarge = Code(.tooLarge)
        /// A batch cannot be split into parts under the requested maximum size.
        public static let cannotSplit = Code(.cannotSplit)
        /// Protobuf or JSON encoding, or zstd compression, failed (out of memory, an invalid level).
        public static let encodingFailed = Code(.encodingFailed)

        public var description: String {
            switch base {
            case .malformed: "malformed"
            case .unsupportedSchemaVersion: "unsupported schema version"
            case .tooLarge: "too large"
            case .cannotSplit: "cannot split"
            case .encodingFailed: "encoding failed"
            }
        }
    }

    /// The kind of failure, for callers that react differently to each.
    public let code: Code
    /// The explanation a user reads: what failed and what to do.
    public let message: String

    /// An error of this kind with its explanation.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
