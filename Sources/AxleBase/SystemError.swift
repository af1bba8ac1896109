#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which call, on what, and the `errno` it returned.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let subject: String
    public let errno: Int32

    public init(call: String, subject: String, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        "\(subject): \(Self.text(errno: errno)) (\(call))"
    }

    /// What an errno value means, as the C library says it ("No such file or directory"): the one place that
    /// turns errno into text, for messages that name the call in their own words.
    public static func text(errno: Int32) -> String {
        String(cString: strerror(errno))
    }
}

/// Runs a system call, retrying on `EINTR`, and throws `SystemError` when it fails.
///
/// The one place where `errno` is read, so every caller reports failures the same way (the swift-nio way).
@discardableResult
@inline(__always)
public func retryingOnInterrupt<T: FixedWidthInteger>(
    _ call: String, subject: String, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(call: call, subject: subject, errno: code)
    }
}
