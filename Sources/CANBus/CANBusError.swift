import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// A SocketCAN failure, explained: what was tried on which interface, why it failed, and what to do.
public struct CANBusError: Error, Sendable, CustomStringConvertible, Equatable {
    public let interface: String
    public let operation: String
    /// The `errno` value (positive).
    public let code: Int32

    public init(interface: String, operation: String, code: Int32) {
        self.interface = interface
        self.operation = operation
        self.code = code
    }

    /// The interface does not exist (yet, or any more).
    public var isMissingInterface: Bool { code == ENODEV || code == ENXIO }
    /// The interface exists but is down.
    public var isInterfaceDown: Bool { code == ENETDOWN }

    public var description: String {
        let name = interface.isEmpty ? "any CAN interface" : interface
        switch code {
        case ENODEV, ENXIO:
            return "no CAN interface named \(name) (`ip -details link show type can` and `ip link show type vcan` list them)"
        case ENETDOWN:
            return "interface \(name) is down (bring it up with `ip link set \(name) up`, or wait: Axle reopens it when it returns)"
        case EPERM, EACCES:
            return "not permitted to \(operation) on \(name) (run as a user allowed to use CAN sockets)"
        case EAFNOSUPPORT:
            return "this kernel has no CAN support (load it with `modprobe can_raw`)"
        case ENOBUFS:
            return "the transmit queue of \(name) is full (the bus is saturated or nobody acknowledges frames)"
        case ETIMEDOUT:
            return "timed out trying to \(operation) on \(name)"
        case EINVAL where operation == "send":
            return "\(name) cannot carry this frame (a CAN FD frame needs an FD-capable interface with MTU 72)"
        default:
            return "cannot \(operation) on \(name): \(SystemError.text(errno: code))"
        }
    }
}
