import AxleBase
import FirmwareProfile

/// A catalog signal's value that did not come from a bus (the GNSS receiver now; polled diagnostics later), handed
/// to the pipeline thread, which owns the collection engine.
public struct ExternalSample: Sendable, Equatable {
    public var catalogIndex: Int
    /// The agent's clock (Unix microseconds) when the value was received: never a time the source claims.
    public var timeMicros: Int64
    /// nil: no longer known (a lost fix); the engine sees the signal as not available from then on.
    public var value: Double?
    public var origin: Origin

    public enum Origin: Sendable, Equatable {
        /// The GNSS receiver through gpsd.
        case location
        /// A value the diagnostics service polled from an ECU (`[diagnostics.signals]`).
        case diagnostics
    }

    public init(catalogIndex: Int, timeMicros: Int64, value: Double?, origin: Origin) {
        self.catalogIndex = catalogIndex
        self.timeMicros = timeMicros
        self.value = value
        self.origin = origin
    }
}

/// The bounded hand-over of external samples to the pipeline: producers offer from their threads, the pipeline takes
/// everything each turn (one atomic load when nothing waits), and each offer wakes the pipeline so that a value
/// arrives promptly when no frame comes (a parked car). What does not fit is refused and counted.
public final class ExternalSampleInbox: Sendable {
    private let queue: BoundedQueue<ExternalSample>
    private let wake: @Sendable () -> Void

    /// 4,096 samples: minutes of a receiver's reports (eight values a second) if the pipeline stalled.
    public init(capacity: Int = 4096, wake: @escaping @Sendable () -> Void) {
        queue = BoundedQueue(capacity: capacity)
        self.wake = wake
    }

    /// Offers `samples` in order; returns how many were refused for lack of room.
    @discardableResult
    public func offer(_ samples: [ExternalSample]) -> Int {
        guard !samples.isEmpty else { return 0 }
        var refused = 0
        for sample in samples where !queue.offer(sample) { refused += 1 }
        wake()
        return refused
    }

    public func takeAll() -> [ExternalSample] { queue.takeAll() }

    /// Samples refused since the start.
    public var dropped: Int { queue.dropped }
}

/// Which source feeds a catalog signal that both a bus and the receiver give (`[location] prefer`): with `gpsd`, the
/// receiver's values while it has a fix, the bus's otherwise; with `can`, the bus's always.
public struct LocationArbiter: Sendable {
    /// What the pipeline does with one external sample.
    public struct Decision: Sendable, Equatable {
        /// Give it to the engine.
        public var ingest: Bool
        /// Stop (true) or resume (false) the bus's values of the signal; nil: no change.
        public var silenceBus: Bool?

        public init(ingest: Bool, silenceBus: Bool? = nil) {
            self.ingest = ingest
            self.silenceBus = silenceBus
        }
    }

    private let shared: Set<Int>
    private let prefer: LocationSource.Preference
    /// Shared signals whose bus values are silenced now.
    public private(set) var silenced: Set<Int> = []

    public init(profile: FirmwareProfile) {
        var shared = Set<Int>()
        for (index, entry) in profile.catalog.enumerated() where entry.location != nil && !entry.bus.isEmpty {
            shared.insert(index)
        }
        self.shared = shared
        self.prefer = profile.location?.prefer ?? .gpsd
    }

    public mutating func decide(_ sample: ExternalSample) -> Decision {
        guard sample.origin == .location, shared.contains(sample.catalogIndex) else { return Decision(ingest: true) }
        switch prefer {
        case .can:
            return Decision(ingest: false)
        case .gpsd:
            if sample.value != nil {
                return Decision(ingest: true, silenceBus: silenced.insert(sample.catalogIndex).inserted ? true : nil)
            }
            // The fix is lost: the bus's next value takes over; marking the signal unknown in between would make
            // its conditions blink.
            return Decision(ingest: false, silenceBus: silenced.remove(sample.catalogIndex) != nil ? false : nil)
        }
    }
}
