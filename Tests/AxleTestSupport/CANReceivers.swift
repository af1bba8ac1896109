#if canImport(Glibc)
import Glibc
#endif

/// The CAN receivers the kernel has registered, as /proc/net/can/rcvlist_* lists them: one per filter of every bound
/// CAN socket. A test that starts a reader in the background (`candump`, `axle candump`, `axle record`, `axled`) waits
/// here until the reader's socket is bound with its filters before it sends traffic, instead of sleeping and hoping
/// the reader has started: a debug binary inside user-mode-linux on a busy machine can take seconds to get there.
///
/// The lists look like this (docs/can.md); a line per receiver under the header, `(vcan1: no entry)` when none:
///
///     receive list 'rx_fil':
///       device   can_id   can_mask      function          userdata       matches  ident
///        vcan1     123    000007ff  00000000f151b25f  0000000076664bf0         0  raw
public enum CANReceivers {
    /// One registered receiver: which list it is on (`all` for a socket without filters, `sff`/`eff` for exact
    /// ids, `fil` for masked ones, `inv` for inverted, `err` for error frames), its interface and filter.
    public struct Receiver: Equatable, Sendable, CustomStringConvertible {
        public var list: String
        public var interface: String
        public var canID: UInt32
        public var mask: UInt32
        /// The protocol that registered it: `raw` for raw sockets, `j1939`, `isotp`, `bcm`.
        public var protocolName: String

        public var description: String {
            "\(list) \(interface) \(String(canID, radix: 16))/\(String(mask, radix: 16)) \(protocolName)"
        }
    }

    static let lists = ["all", "fil", "inv", "sff", "eff", "err"]

    /// Every receiver registered now.
    public static func all() -> [Receiver] {
        lists.flatMap { list in
            AxleProcess.readText("/proc/net/can/rcvlist_\(list)").split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                // device, can_id, can_mask, function, userdata, matches, ident; headers and "no entry" lines differ.
                guard fields.count == 7, let canID = UInt32(fields[1], radix: 16), let mask = UInt32(fields[2], radix: 16)
                else { return nil }
                return Receiver(
                    list: list, interface: String(fields[0]), canID: canID, mask: mask, protocolName: String(fields[6]))
            }
        }
    }

    /// The receivers that see the frames of `interface`: those bound to it and those bound to every interface
    /// (device `any`, as `axle candump` binds, filtering by interface itself, and candump with several interfaces).
    public static func on(_ interface: String) -> [Receiver] {
        all().filter { $0.interface == interface || $0.interface == "any" }
    }

    /// Waits until `condition` holds for the receivers of `interface`; false after `timeoutSeconds`. The default
    /// deadline is generous because a missed start fails the test with the receivers it saw, never silently.
    @discardableResult
    public static func wait(
        on interface: String, timeoutSeconds: Double = 30, until condition: ([Receiver]) -> Bool
    ) -> Bool {
        waitUntil(timeoutSeconds: timeoutSeconds, pollSeconds: 0.02) { condition(on(interface)) }
    }

    /// Waits until nothing listens on `interface` any more: a reader a previous test stopped may close its socket a
    /// moment later, and must not be counted as (or vanish in the middle of counting) a new one.
    @discardableResult
    public static func waitUntilNone(on interface: String, timeoutSeconds: Double = 10) -> Bool {
        wait(on: interface, timeoutSeconds: timeoutSeconds) { $0.isEmpty }
    }

    /// How many raw sockets without filters (candump without a filter, `axle candump`, `axle record`) listen on
    /// `interface` now.
    public static func unfilteredReaders(on interface: String) -> Int {
        on(interface).filter { $0.list == "all" && $0.protocolName == "raw" }.count
    }

    /// Waits until at least `count` raw sockets without filters listen on `interface`. Count the readers before
    /// starting new ones and wait for that many more: a reader another test left behind must not count.
    @discardableResult
    public static func waitForUnfilteredReaders(on interface: String, count: Int, timeoutSeconds: Double = 30) -> Bool {
        wait(on: interface, timeoutSeconds: timeoutSeconds) { receivers in
            receivers.filter { $0.list == "all" && $0.protocolName == "raw" }.count >= count
        }
    }
}
