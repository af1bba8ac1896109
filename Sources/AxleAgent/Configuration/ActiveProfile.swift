import DBC
import FirmwareProfile
import Synchronization

/// The firmware profile the agent runs now: the one it started with, until a configuration update switches to
/// another (docs/configuration.md). Read by the threads that answer about it (the control socket, the command
/// intake's catalog); the services that run a profile are given theirs when they start.
final class ActiveProfile: Sendable {
    /// A profile with what is derived from it once per switch.
    struct Snapshot: Sendable {
        let profile: FirmwareProfile
        /// Per catalog signal: its DBC signal (for value labels).
        let dbcSignals: [DBCSignal?]
    }

    private let snapshot: Mutex<Snapshot>

    init(_ profile: FirmwareProfile) {
        snapshot = Mutex(Snapshot(profile: profile, dbcSignals: profile.catalogDBCSignals()))
    }

    var current: Snapshot { snapshot.withLock { $0 } }
    var profile: FirmwareProfile { current.profile }

    func switchTo(_ profile: FirmwareProfile) {
        let next = Snapshot(profile: profile, dbcSignals: profile.catalogDBCSignals())
        snapshot.withLock { $0 = next }
    }
}
