import ArgumentParser
import AxleBase
import CANBus
import CANFrames
import DBC

#if canImport(Glibc)
import Glibc
#endif

/// `ID:MASK` in hex, as can-utils writes filters.
struct FilterArgument: ExpressibleByArgument {
    var filter: CANFilter

    init?(argument: String) {
        let parts = argument.split(separator: ":")
        guard parts.count == 2, let id = UInt32(parts[0], radix: 16), let mask = UInt32(parts[1], radix: 16) else { return nil }
        // An id above 11 bits, or written with 8 digits, means a 29-bit id (as candump does).
        let isExtended = parts[0].count == 8 || id > 0x7FF
        filter = CANFilter(id: id | (isExtended ? CANFilter.extendedFlag : 0), mask: mask | CANFilter.extendedFlag)
    }
}

/// Opens a socket for a command, turning failures into plain sentences.
func openSocket(_ interface: String, enableFD: Bool = true) throws -> CANSocket {
    do {
        return try CANSocket(interface: interface, enableFD: enableFD)
    } catch {
        throw CLIError(error.description)
    }
}

/// `axle candump`: live capture in candump log format.
struct CandumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candump",
        abstract: "Capture frames from CAN interfaces and print them in candump -L log format.",
        discussion: """
            Timestamps are the kernel's receive times, as can-utils prints them. With --dbc, each line is followed \
            by the decoded signals after ' ; '.
            """
    )

    @Argument(help: ArgumentHelp("CAN interfaces, such as can0 vcan0.", valueName: "interface"))
    var interfaces: [String]

    @Option(name: .customShort("n"), help: "Exit after this many frames.")
    var count: Int?

    @Option(name: .long, help: ArgumentHelp("Only frames matching ID:MASK (hex; repeatable).", valueName: "id:mask"))
    var filter: [FilterArgument] = []

    @Option(name: .long, help: ArgumentHelp("Decode with this DBC file.", valueName: "file"))
    var dbc: String?

    @Flag(name: [.customShort("e"), .long], help: "Also capture controller error frames.")
    var errors = false

    @Flag(name: .long, help: "With --dbc: let the kernel pass only frames the DBC defines (J1939 by PGN).")
    var onlyKnown = false

    @Option(name: .long, help: "Stop after this many seconds without frames (default: wait forever).")
    var timeout: Double?

    func validate() throws {
        if interfaces.isEmpty { throw ValidationError("name at least one CAN interface, such as can0") }
        if let count, count <= 0 { throw ValidationError("-n takes a positive number of frames") }
        if onlyKnown && dbc == nil { throw ValidationError("--only-known needs --dbc FILE") }
    }

    func run() throws {
        let decoder = try dbc.map { CompiledDecoder(database: try loadDatabase($0)) }
        // One socket bound to every interface when several are named, filtered by name below.
        let socket = try openSocket(interfaces.count == 1 ? interfaces[0] : "")
        for interface in interfaces where interfaces.count > 1 && BusHealth.read(interface: interface).exists == false {
            throw CLIError(CANBusError(interface: interface, operation: "open a CAN socket", code: ENODEV).description)
        }
        do throws(CANBusError) {
            if onlyKnown, let decoder {
                try socket.setFilters(decoder.kernelFilters + filter.map(\.filter))
            } else if !filter.isEmpty {
                try socket.setFilters(filter.map(\.filter))
            }
            if errors { try socket.receiveErrorFrames() }
        } catch {
            throw CLIError(error.description)
        }
        let wanted = Set(interfaces)
        let output = TextOutput()
        var batch = CANSocket.Batch()
        var result = DecodedFrame()
        var printed = 0
        var line: [UInt8] = []
        var idleSince = monotonicSeconds()
        while count.map({ printed < $0 }) ?? true {
            do {
                try socket.receive(timeoutMilliseconds: 200, into: &batch)
            } catch {
                throw CLIError(error.description)
            }
            if batch.kernelDrops > 0 {
                TextOutput.standardError().write("axle candump: the kernel dropped \(batch.kernelDrops) frames (receive queue full)\n")
            }
            if batch.frames.isEmpty {
                if let timeout, monotonicSeconds() - idleSince >= timeout { break }
                continue
            }
            idleSince = monotonicSeconds()
            for frame in batch.frames where wanted.contains(frame.interface) {
                line.removeAll(keepingCapacity: true)
                CandumpFormat.append(frame, to: &line)
                if let decoder, decoder.decode(frame, into: &result) == .decoded {
                    line.append(contentsOf: " ;".utf8)
                    for decoded in result {
                        line.append(contentsOf: " \(decoder.name(of: decoded))=\(DecodePrinter.readable(decoder.signals[Int(decoded.signalIndex)].physical(decoded.rawBits)))".utf8)
                    }
                }
                line.append(0x0A)
                output.write(bytes: line)
                printed += 1
                if let count, printed >= count { break }
            }
            output.flush()
        }
        output.flush()
    }
}

/// `axle cansend`: send one frame, in cansend syntax.
struct CansendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cansend",
        abstract: "Send one frame: 123#DEADBEEF, 12345678#R, 123##1AABB (CAN FD with flags), as can-utils cansend."
    )

    @Argument(help: "The CAN interface.")
    var interface: String

    @Argument(help: "The frame, such as 123#DEADBEEF.")
    var frame: String

    func run() throws {
        let parsed: CANFrame
        do {
            parsed = try CandumpFormat.parseFrameText(frame, interface: interface)
        } catch {
            throw CLIError("malformed frame '\(frame)' at \(error); expected ID#DATA such as 123#DEADBEEF, 12345678#R or 123##1AABB")
        }
        let socket = try openSocket(interface, enableFD: parsed.isFD)
        do {
            try socket.send(parsed)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// `axle bus status`: interface state, controller health and load.
struct BusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Bus health.",
        subcommands: [BusStatusCommand.self]
    )
}

struct BusStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show state, error counters, load and drops of CAN interfaces.",
        discussion: "Load and drops are measured by listening for --sample seconds. Exit code 1 when an interface is missing or down."
    )

    @Argument(help: "Interfaces (default: every CAN interface).")
    var interfaces: [String] = []

    @Option(name: .long, help: "Seconds to listen to measure load.")
    var sample: Double = 1

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let names = interfaces.isEmpty ? BusHealth.canInterfaces() : interfaces
        // A mistyped name must not get an all-clear: an interface that is there but is no CAN bus (eth0, lo) is an
        // error, and a missing one is said on stderr too, where scripts and people look for what went wrong.
        let stderr = TextOutput.standardError()
        for name in names {
            let health = BusHealth.read(interface: name)
            if health.exists, !health.isCAN {
                let known = BusHealth.canInterfaces()
                throw CLIError(
                    "\(name) is not a CAN interface (link type \(BusHealth.linkType(name).map(String.init) ?? "unknown"), not 280); "
                        + (known.isEmpty ? "there are no CAN interfaces here" : "CAN interfaces here: \(known.joined(separator: ", "))"))
            }
            if !health.exists { stderr.write("axle: \(name): no such interface\n") }
        }
        stderr.flush()
        var reports: [JSONValue] = []
        var table = [["INTERFACE", "STATE", "LINK", "MTU", "BITRATE", "TX-ERR", "RX-ERR", "FRAMES/S", "LOAD", "DROPS"]]
        var healthy = true
        for name in names {
            let health = BusHealth.read(interface: name)
            var framesPerSecond: Double?
            var bitsPerSecond: Double?
            var drops: UInt32?
            if health.exists, health.isUp, let socket = try? CANSocket(interface: name) {
                let start = monotonicSeconds()
                var batch = CANSocket.Batch()
                var estimator = BusLoadEstimator(now: start, window: sample)
                var dropped: UInt32 = 0
                while monotonicSeconds() - start < sample {
                    try? socket.receive(timeoutMilliseconds: 50, into: &batch)
                    dropped &+= batch.kernelDrops
                    for frame in batch.frames { estimator.record(payloadBytes: Int(frame.length), isExtended: frame.isExtended, now: monotonicSeconds()) }
                }
                estimator.roll(now: start + max(sample, monotonicSeconds() - start))
                framesPerSecond = estimator.framesPerSecond
                bitsPerSecond = estimator.bitsPerSecond
                drops = dropped
            }
            if !health.exists || !health.isUp { healthy = false }
            let load = bitsPerSecond.flatMap { bits in health.bitrate.map { bits / Double($0) } }
            reports.append(.object([
                ("interface", .string(name)),
                ("exists", .bool(health.exists)),
                ("up", .bool(health.isUp)),
                ("running", .bool(health.isRunning)),
                ("fd", health.mtu.map { .bool($0 == 72) } ?? .null),
                ("state", .optional(health.state?.rawValue)),
                ("tx_errors", health.transmitErrors.map { .integer(Int128($0)) } ?? .null),
                ("rx_errors", health.receiveErrors.map { .integer(Int128($0)) } ?? .null),
                ("bitrate", health.bitrate.map { .integer(Int128($0)) } ?? .null),
                ("frames_per_second", framesPerSecond.map { .number($0) } ?? .null),
                ("bits_per_second", bitsPerSecond.map { .number($0) } ?? .null),
                ("load", load.map { .number($0) } ?? .null),
                ("kernel_drops", drops.map { .integer(Int128($0)) } ?? .null),
            ]))
            table.append([
                name,
                health.state?.rawValue ?? (health.exists ? "n/a" : "missing"),
                !health.exists ? "-" : health.isUp ? (health.isRunning ? "up" : "up, no carrier") : "down",
                health.mtu.map { $0 == 72 ? "72 (FD)" : String($0) } ?? "-",
                health.bitrate.map { "\($0 / 1000) kbit/s" } ?? "n/a",
                health.transmitErrors.map(String.init) ?? "n/a",
                health.receiveErrors.map(String.init) ?? "n/a",
                framesPerSecond.map { String(Int($0.rounded())) } ?? "-",
                load.map { "\(Int(($0 * 100).rounded()))%" } ?? "n/a",
                drops.map(String.init) ?? "-",
            ])
        }
        let output = TextOutput()
        if json {
            output.write(JSONValue.array(reports).rendered(indent: 2) + "\n")
        } else if names.isEmpty {
            output.write("no CAN interfaces (ip link show type can, or type vcan)\n")
        } else {
            output.write(formatTable(table))
        }
        output.flush()
        if !healthy || names.isEmpty { throw ExitCode.failure }
    }
}

/// Columns padded to their widest cell.
/// Every cell is escaped (`UntrustedText.printable`): cells show names, ids and messages that may come from outside
/// (an unsigned command's id, a file name), and a newline or escape sequence in one must not break the table or drive
/// the terminal.
func formatTable(_ rows: [[String]]) -> String {
    let rows = rows.map { $0.map(UntrustedText.printable) }
    guard let columns = rows.first?.count else { return "" }
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { column, cell in
            column == columns - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}

