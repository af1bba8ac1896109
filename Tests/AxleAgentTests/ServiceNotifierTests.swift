import AxleAgent
import AxleTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What systemd receives from `ServiceNotifier`: one datagram per call on the socket named in `$NOTIFY_SOCKET`, and
/// the watchdog interval it derives from `$WATCHDOG_USEC` / `$WATCHDOG_PID`.
@Suite struct ServiceNotifierTests {
    @Test(arguments: NotifySocketListener.Kind.allCases)
    func eachCallArrivesAsExactlyOneDatagram(kind: NotifySocketListener.Kind) throws {
        let listener = try NotifySocketListener(kind)
        let notifier = try #require(ServiceNotifier(environment: listener.environment()))
        notifier.ready(status: "recording can0, uplink connecting")
        notifier.status("uplink connected")
        notifier.watchdog()
        notifier.stopping()
        #expect(
            listener.waitForMessages(count: 4, timeout: 10) == [
                "READY=1\nSTATUS=recording can0, uplink connecting", "STATUS=uplink connected", "WATCHDOG=1",
                "STOPPING=1",
            ])
        // Nothing more trails behind the four calls.
        #expect(listener.waitForMessages(count: 5, timeout: 0.2).count == 4)
        #expect(listener.waitFor("READY=1", timeout: 0))
    }

    @Test func aStatusNeverSpillsIntoASecondField() throws {
        let listener = try NotifySocketListener()
        let notifier = try #require(ServiceNotifier(environment: listener.environment()))
        // A status built from an error message may contain a newline; systemd would read "READY=1" on its own line.
        notifier.status("outbox damaged\nREADY=1")
        #expect(listener.waitForMessages(count: 1, timeout: 10) == ["STATUS=outbox damaged READY=1"])
        #expect(!listener.waitFor("READY=1", timeout: 0))
    }

    @Test func aMissingSocketIsIgnoredAndLaterCallsStillArrive() throws {
        let directory = try makeTestDirectory(prefix: "axle-notify-missing")
        defer { removeTree(directory) }
        let path = directory + "/notify"
        let notifier = try #require(ServiceNotifier(environment: ["NOTIFY_SOCKET": path]))
        // systemd is not listening (yet): sendto fails with ENOENT, and the agent carries on.
        notifier.ready(status: "lost")
        notifier.watchdog()
        let listener = try NotifySocketListener(name: path)
        notifier.watchdog()
        #expect(listener.waitForMessages(count: 1, timeout: 10) == ["WATCHDOG=1"])
    }

    @Test(arguments: ["", "relative/notify", "@", "vsock:2:1234", "/" + String(repeating: "n", count: 200)])
    func anUnusableSocketNameGivesNoNotifier(name: String) {
        #expect(ServiceNotifier(environment: ["NOTIFY_SOCKET": name]) == nil)
    }

    @Test func withoutNotifySocketThereIsNoNotifier() {
        #expect(ServiceNotifier(environment: [:]) == nil)
        #expect(ServiceNotifier(environment: ["WATCHDOG_USEC": "10000000"]) == nil)
    }

    @Test(arguments: [
        (usec: "10000000", pid: nil, expected: 5.0),
        (usec: "10000000", pid: "self", expected: 5.0),
        (usec: "3000000", pid: nil, expected: 1.5),
        (usec: "10000000", pid: "other", expected: nil),
        (usec: "0", pid: nil, expected: nil),
        (usec: "ten seconds", pid: nil, expected: nil),
        (usec: nil, pid: "self", expected: nil),
    ] as [(usec: String?, pid: String?, expected: Double?)])
    func watchdogIntervalIsHalfTheTimeoutAndOnlyForTheMainProcess(
        usec: String?, pid: String?, expected: Double?
    ) throws {
        var environment = ["NOTIFY_SOCKET": "@axle-watchdog-parsing"]
        environment["WATCHDOG_USEC"] = usec
        switch pid {
        case "self": environment["WATCHDOG_PID"] = String(getpid())
        // systemd names the main process; a child that inherited the variables must not ping for it.
        case "other": environment["WATCHDOG_PID"] = String(getpid() == 1 ? 2 : 1)
        default: break
        }
        let notifier = try #require(ServiceNotifier(environment: environment))
        #expect(notifier.watchdogIntervalSeconds == expected)
    }
}
