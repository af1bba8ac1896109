import AxleBase
import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches the vehicle's network (netlink: link, address, route changes) and calls back on each change.
///
/// A burst of kernel messages (a link coming up brings its addresses and routes with it) is one change: the callback
/// runs once the burst has been quiet for `quietSeconds`. Meant to drive `MQTTClient.linkChanged()`.
public final class LinkWatcher: Sendable {
    private let descriptor: Int32
    private let stopping = Atomic<Bool>(false)
    private let onChange: @Sendable () -> Void
    private let quietSeconds: Double

    /// Opens a NETLINK_ROUTE socket and starts watching on a dedicated thread.
    public init(quietSeconds: Double = 0.2, onChange: @escaping @Sendable () -> Void) throws {
        let result = CMosquitto_openRouteMonitor()
        guard result >= 0 else {
            throw MQTTUplinkError(
                .system, "cannot watch the vehicle's network (netlink route socket): \(SystemError.text(errno: -result))")
        }
        descriptor = result
        self.onChange = onChange
        self.quietSeconds = quietSeconds
        startDedicatedThread(name: "link-watcher") { [self] in run() }
    }

    /// Stops watching within about 200 ms; no callback runs after that.
    public func stop() {
        stopping.store(true, ordering: .releasing)
    }

    private func run() {
        defer { close(descriptor) }
        while !stopping.load(ordering: .acquiring) {
            let changes = CMosquitto_readRouteChanges(descriptor, 200)
            if changes == 0 { continue }
            if changes < 0 && changes != -ENOBUFS {
                // Not expected on a netlink socket; do not spin on it.
                usleep(200_000)
                continue
            }
            // ENOBUFS: the kernel dropped messages, so something changed. Wait for the burst to end, but report
            // within a second even on a network that never settles.
            let reportBy = monotonicSeconds() + 1
            while !stopping.load(ordering: .acquiring), monotonicSeconds() < reportBy {
                let more = CMosquitto_readRouteChanges(descriptor, Int32(quietSeconds * 1000))
                if more == 0 { break }
            }
            if !stopping.load(ordering: .acquiring) { onChange() }
        }
    }
}
