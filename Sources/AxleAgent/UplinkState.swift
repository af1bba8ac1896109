import AxleBase
import MQTTUplink
import Synchronization

/// The broker connection as `axle status` shows it: connected, connecting or disconnected, since when, and the last
/// reason it failed. Fed by the MQTT client's events on its network thread.
final class UplinkState: Sendable {
    struct Snapshot: Sendable {
        var state = "connecting"
        /// Wall-clock milliseconds of the last change of state.
        var sinceMillis: Int64 = wallClockMillis()
        var lastError: String?
    }

    let broker: String
    private let snapshot = Mutex(Snapshot())

    init(broker: String) {
        self.broker = broker
    }

    var current: Snapshot { snapshot.withLock { $0 } }

    func handle(_ event: MQTTClientEvent) {
        let now = wallClockMillis()
        snapshot.withLock {
            switch event {
            case .connected:
                $0.state = "connected"
                $0.sinceMillis = now
            case .connectFailed(let reason, _):
                if $0.state != "connecting" { $0.sinceMillis = now }
                $0.state = "connecting"
                $0.lastError = reason
            case .disconnected(let reason):
                $0.state = "disconnected"
                $0.sinceMillis = now
                $0.lastError = reason
            default:
                break
            }
        }
    }
}
