import AxleTestSupport
import MQTTUplink
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The netlink watcher against the real kernel: an address added to and removed from the loopback interface.
/// Needs CAP_NET_ADMIN (root on the build machines); a /32 on lo disturbs nothing else.
@Suite(.serialized, .enabled(if: geteuid() == 0, "changing an interface address needs root"))
struct LinkWatcherTests {
    @Test func anAddressChangeIsReportedAndABurstIsReportedOnce() throws {
        let changes = Atomic<Int>(0)
        let watcher = try LinkWatcher { changes.add(1, ordering: .relaxed) }
        defer { watcher.stop() }
        // Let the watcher's thread reach its first read (events before the socket exists are not the point).
        usleep(200_000)
        let address = "127.0.0.\(UInt8.random(in: 100...250))/32"
        let added = try ChildProcess.run("/usr/sbin/ip", ["addr", "add", address, "dev", "lo"])
        #expect(added.status == 0, "ip addr add: \(added.output)")
        defer { _ = try? ChildProcess.run("/usr/sbin/ip", ["addr", "del", address, "dev", "lo"]) }
        #expect(waitUntil(timeoutSeconds: 10) { changes.load(ordering: .relaxed) >= 1 })
        // The address and its local route arrive as several netlink messages: one report.
        usleep(500_000)
        #expect(changes.load(ordering: .relaxed) == 1)

        let removed = try ChildProcess.run("/usr/sbin/ip", ["addr", "del", address, "dev", "lo"])
        #expect(removed.status == 0, "ip addr del: \(removed.output)")
        #expect(waitUntil(timeoutSeconds: 10) { changes.load(ordering: .relaxed) >= 2 })
    }

    @Test func noChangeNoCallbackAndStopEndsIt() throws {
        let changes = Atomic<Int>(0)
        let watcher = try LinkWatcher { changes.add(1, ordering: .relaxed) }
        usleep(500_000)
        watcher.stop()
        usleep(400_000)
        // Other engineers' tests may change the network meanwhile; after stop() nothing is reported regardless.
        let afterStop = changes.load(ordering: .relaxed)
        let address = "127.0.0.\(UInt8.random(in: 100...250))/32"
        _ = try ChildProcess.run("/usr/sbin/ip", ["addr", "add", address, "dev", "lo"])
        _ = try ChildProcess.run("/usr/sbin/ip", ["addr", "del", address, "dev", "lo"])
        usleep(600_000)
        #expect(changes.load(ordering: .relaxed) == afterStop)
    }
}
