import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// A failure `axle-fleet` reports as one sentence on standard error, with the exit code its root command documents.
public struct FleetError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What failed and what to do next.
    public var description: String
    /// 1: the command or the operation failed; 3: the broker or the vehicle did not answer in time; 64: usage.
    public var exitCode: Int32

    /// An error with exit code 1 unless told otherwise.
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }

    /// The broker could not be reached or a final status did not arrive in time (exit code 3).
    public static func noAnswer(_ description: String) -> FleetError { FleetError(description, exitCode: 3) }

    /// SIGINT or SIGTERM ended a wait (exit code 130, as a shell reports Ctrl-C).
    public static let interrupted = FleetError("interrupted", exitCode: 130)

    /// The command line is wrong in a way only found after parsing (exit code 64).
    public static func usage(_ description: String) -> FleetError { FleetError(description, exitCode: 64) }
}

/// Unix time in microseconds (CLOCK_REALTIME): the command counter's source.
public func wallClockMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

/// "14:02:03.123" in local time, for the text output of statuses and samples.
func localClockText(millis: Int64) -> String {
    var seconds = time_t(millis / 1000)
    var parts = tm()
    localtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let fraction = Int(((millis % 1000) + 1000) % 1000)
    let milli = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
    return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(milli)"
}

/// Seconds as messages show them: "30 s", "1.5 s".
func secondsText(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\((seconds * 10).rounded() / 10) s"
}

/// Writes `bytes` to `path` with `mode`; `exclusive` refuses to replace an existing file.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t, exclusive: Bool) throws(FleetError) {
    let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
    let fd: Int32
    do {
        fd = try retryingOnInterrupt("open", subject: path) { open(path, flags, mode) }
    } catch {
        if error.errno == EEXIST {
            throw FleetError("\(path) already exists; remove it first or choose another path")
        }
        throw FleetError("cannot write \(error)")
    }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let written: Int
        do {
            written = try retryingOnInterrupt("write", subject: path) {
                bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            }
        } catch {
            throw FleetError("cannot write \(error)")
        }
        offset += written
    }
}

/// Turns SIGINT and SIGTERM into a call of `onSignal` on a thread of its own, instead of ending the process: the
/// tool then closes its MQTT connection and flushes its output. Call before any other thread starts (threads
/// inherit the blocked signals).
func handleTerminationSignals(_ onSignal: @escaping @Sendable () -> Void) {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    startDedicatedThread(name: "signals") {
        var received: Int32 = 0
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        while sigwait(&signals, &received) != 0 {}
        onSignal()
    }
}
