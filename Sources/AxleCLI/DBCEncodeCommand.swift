import ArgumentParser
import AxleBase
import CANFrames
import DBC

#if canImport(Glibc)
import Glibc
#endif

/// `axle dbc encode`: build a frame from physical values.
struct DBCEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode a message from physical values and print it as a candump line.",
        discussion: """
            Values are physical (after factor and offset) or VAL_ labels: VehicleSpeed=42.5 Gear=P. Multiplexer \
            switches are set from the multiplexed signals given; signals not given take their GenSigStartValue or 0.

            --json prints one JSON object instead: the message, the frame's id, flags and data in hex, and the \
            candump line.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The DBC file.", valueName: "file"))
    var dbc: String

    @Option(name: .long, help: "Interface name written in the candump line.")
    var interface = "can0"

    @Flag(name: .long, help: "Print a JSON object (message, id, flags, data, candump line) instead of the candump line.")
    var json = false

    @Argument(help: "The message name.")
    var message: String

    @Argument(help: ArgumentHelp("Signal values.", valueName: "signal=value"))
    var values: [String] = []

    func run() throws {
        var parsed: [String: SignalEncoder.Value] = [:]
        for item in values {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("'\(item)' is not SIGNAL=VALUE")
            }
            parsed[String(item[..<equals])] = SignalEncoder.Value(parsing: String(item[item.index(after: equals)...]))
        }
        let encoder = SignalEncoder(database: try loadDatabase(dbc))
        var frame: CANFrame
        do {
            frame = try encoder.encode(message: message, values: parsed)
        } catch {
            throw CLIError(error.description)
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        frame.timestamp = CANTimestamp(seconds: Int64(now.tv_sec), nanoseconds: UInt32(now.tv_nsec / 1000 * 1000))
        frame.interface = interface
        let line = CandumpFormat.format(frame)
        guard json else {
            TextOutput().write(line + "\n")
            return
        }
        let hex = frame.data.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + digits : digits
        }.joined()
        TextOutput().write(JSONValue.object([
            ("msg", .string(message)), ("bus", .string(interface)), ("id", .integer(Int128(frame.id))),
            ("ext", .bool(frame.isExtended)), ("fd", .bool(frame.isFD)), ("data", .string(hex)), ("candump", .string(line)),
        ]).rendered(indent: 2) + "\n")
    }
}
