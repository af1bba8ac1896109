import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// A self-pipe: one thread blocks in `poll` on `readDescriptor` (with its other descriptors), others `signal()` to
/// wake it at once. Signals coalesce; `drain()` consumes them, and a pipe that is never drained stays signalled.
final class Wakeup: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init(purpose: String) throws(MQTTUplinkError) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw MQTTUplinkError(.system, "cannot create the wake-up pipe of the \(purpose): \(SystemError.text(errno: errno))")
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Wakes the waiting thread; never blocks (a full pipe is already signalled).
    func signal() {
        var byte: UInt8 = 1
        _ = try? retryingOnInterrupt("write", subject: "wake-up pipe") { write(writeDescriptor, &byte, 1) }
    }

    /// Consumes every pending signal.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }

    /// Waits at most `milliseconds` for a signal, without consuming it. True when signalled.
    @discardableResult
    func wait(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        return ready > 0
    }
}
