import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// Where the outbox lives and how much flash it may use.
public struct OutboxConfiguration: Sendable {
    /// The size cap when none is given: 256 MiB.
    public static let defaultCapBytes: Int64 = 256 << 20
    /// The smallest accepted cap: room for the schema and a few records.
    public static let minimumCapBytes: Int64 = 128 << 10

    /// The database file, e.g. /var/lib/axle/outbox.db (its directory must exist and be writable).
    public var path: String
    /// The most the database may use, as SQLite counts used pages (docs/outbox.md lists the files around it).
    public var capBytes: Int64
    /// The wall clock in unix milliseconds, for creation, expiry and drop times.
    public var clock: @Sendable () -> Int64
    /// Seconds on a monotonic clock, for pacing retries on a full disk (a wall-clock jump must not stall intake).
    public var monotonicClock: @Sendable () -> Double
    /// While the disk is full, how often (seconds) a non-critical append is really attempted; in between such
    /// appends are refused at once.
    public var diskFullRetryInterval: Double

    /// A configuration; the clocks are injectable for tests.
    public init(
        path: String,
        capBytes: Int64 = OutboxConfiguration.defaultCapBytes,
        clock: @escaping @Sendable () -> Int64 = OutboxConfiguration.systemClock,
        monotonicClock: @escaping @Sendable () -> Double = { monotonicSeconds() },
        diskFullRetryInterval: Double = 5
    ) {
        self.path = path
        self.capBytes = capBytes
        self.clock = clock
        self.monotonicClock = monotonicClock
        self.diskFullRetryInterval = diskFullRetryInterval
    }

    /// The system's wall clock in unix milliseconds (CLOCK_REALTIME).
    @Sendable
    public static func systemClock() -> Int64 { wallClockMillis() }
}
