import FirmwareProfile

/// The catalog signals each receiver quantity feeds (`[location.signals]`; one quantity may feed several names).
public struct LocationCatalog: Sendable {
    private let indices: [LocationQuantity: [Int]]

    public init(profile: FirmwareProfile) {
        var indices: [LocationQuantity: [Int]] = [:]
        for (index, entry) in profile.catalog.enumerated() {
            if let quantity = entry.location { indices[quantity, default: []].append(index) }
        }
        self.indices = indices
    }

    /// Whether the profile publishes anything from the receiver.
    public var isEmpty: Bool { indices.isEmpty }

    /// The readings as samples of their catalog signals, all stamped `timeMicros` (the agent's clock).
    public func samples(_ readings: [LocationReading], timeMicros: Int64) -> [ExternalSample] {
        readings.flatMap { reading in
            (indices[reading.quantity] ?? []).map {
                ExternalSample(catalogIndex: $0, timeMicros: timeMicros, value: reading.value, origin: .location)
            }
        }
    }
}
