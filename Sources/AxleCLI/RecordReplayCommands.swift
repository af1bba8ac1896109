import ArgumentParser
import AxleBase
import CANBus
import CANFrames

#if canImport(Glibc)
import Glibc
#endif

/// `axle record`: capture to candump log files, rotating by size.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record frames from CAN interfaces to a candump log (canplayer replays it), rotating by size.",
        discussion: """
            When a file reaches --max-size, it is renamed FILE.1 (older ones shift to FILE.2, …, up to --keep) and \
            a new FILE is started. Stops after -n frames, after --duration seconds, or on Ctrl-C.
            """
    )

    @Argument(help: ArgumentHelp("CAN interfaces.", valueName: "interface"))
    var interfaces: [String]

    @Option(name: .long, help: "The log file to write.")
    var out: String

    @Option(name: .long, help: "Rotate when the file reaches this many bytes (suffixes k, M, G).")
    var maxSize: String = "100M"

    @Option(name: .long, help: "How many rotated files to keep.")
    var keep: Int = 5

    @Option(name: .customShort("n"), help: "Stop after this many frames.")
    var count: Int?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    func validate() throws {
        if interfaces.isEmpty { throw ValidationError("name at least one CAN interface") }
        if Self.parseSize(maxSize) == nil { throw ValidationError("--max-size takes a size such as 500k, 100M or 2G") }
    }

    static func parseSize(_ text: String) -> Int64? {
        let multipliers: [Character: Int64] = ["k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let last = text.last, let multiplier = multipliers[last] {
            return Int64(text.dropLast()).map { $0 * multiplier }.flatMap { $0 > 0 ? $0 : nil }
        }
        return Int64(text).flatMap { $0 > 0 ? $0 : nil }
    }

    func run() throws {
        let limit = Self.parseSize(maxSize)!
        let socket = try openSocket(interfaces.count == 1 ? interfaces[0] : "")
        let wanted = Set(interfaces)
        var writer = try RotatingLogWriter(path: out, maximumBytes: limit, keep: keep)
        var batch = CANSocket.Batch()
        var recorded = 0
        let start = monotonicSeconds()
        var line: [UInt8] = []
        while count.map({ recorded < $0 }) ?? true {
            if let duration, monotonicSeconds() - start >= duration { break }
            do {
                try socket.receive(timeoutMilliseconds: 200, into: &batch)
            } catch {
                throw CLIError(error.description)
            }
            for frame in batch.frames where wanted.contains(frame.interface) {
                line.removeAll(keepingCapacity: true)
                CandumpFormat.append(frame, to: &line)
                line.append(0x0A)
                try writer.write(line)
                recorded += 1
                if let count, recorded >= count { break }
            }
        }
        try writer.close()
        TextOutput.standardError().write("recorded \(recorded) frames to \(out)\n")
    }
}

/// Appends lines to a file and rotates it by size: FILE → FILE.1 → FILE.2 …
struct RotatingLogWriter {
    let path: String
    let maximumBytes: Int64
    let keep: Int
    private var fd: Int32
    private var written: Int64 = 0

    init(path: String, maximumBytes: Int64, keep: Int) throws {
        self.path = path
        self.maximumBytes = maximumBytes
        self.keep = max(keep, 0)
        fd = -1
        try openFresh()
    }

    private mutating func openFresh() throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("cannot write \(SystemError(call: "open", subject: path, errno: errno))") }
        written = 0
    }

    mutating func write(_ bytes: [UInt8]) throws {
        if written > 0 && written + Int64(bytes.count) > maximumBytes { try rotate() }
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if result < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot write \(SystemError(call: "write", subject: path, errno: errno))")
            }
            offset += result
        }
        written += Int64(bytes.count)
    }

    private mutating func rotate() throws {
        Glibc.close(fd)
        if keep == 0 {
            try openFresh()
            return
        }
        for index in stride(from: keep - 1, through: 1, by: -1) {
            rename("\(path).\(index)", "\(path).\(index + 1)")
        }
        rename(path, "\(path).1")
        try openFresh()
    }

    mutating func close() throws {
        if fd >= 0 {
            if fsync(fd) != 0 && errno != EINVAL { throw CLIError("cannot write \(SystemError(call: "fsync", subject: path, errno: errno))") }
            Glibc.close(fd)
        }
        fd = -1
    }
}

/// `axle replay`: send a candump log to an interface with its original timing, scaled, or as fast as possible.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a candump log onto a CAN interface (original timing, scaled, or as fast as possible)."
    )

    @Argument(help: "The candump log.")
    var log: String

    @Option(name: .long, help: "The interface to send on (every frame, whatever interface the log names).")
    var to: String

    @Option(name: .long, help: "Speed factor such as 2 or 0.5, or 'max' for as fast as possible.")
    var speed: String = "1"

    @Flag(name: .long, help: "Start again at the end, until interrupted.")
    var loop = false

    func validate() throws {
        if speed != "max", Double(speed).map({ $0 > 0 }) != true {
            throw ValidationError("--speed takes a positive factor such as 1, 2 or 0.5, or 'max'")
        }
    }

    func run() throws {
        let factor = speed == "max" ? nil : Double(speed)!
        // The log first, then the bus: inputs are checked in the order a user would fix them (a missing file is
        // reported as such even on a machine with no CAN support).
        func openLog() throws -> CandumpReader {
            do {
                return try CandumpReader(path: log)
            } catch {
                throw CLIError("cannot read log \(error)")
            }
        }
        var firstReader: CandumpReader? = try openLog()
        let socket = try openSocket(to)
        var sent = 0
        var malformed = 0
        repeat {
            let reader = try firstReader.take() ?? openLog()
            var pacer = ReplayPacer(speed: factor)
            while let entry = try readEntry(reader) {
                switch entry {
                case .malformed(let line, let error):
                    malformed += 1
                    TextOutput.standardError().write("\(log):\(line): malformed log line, \(error); skipped\n")
                case .frame(let frame):
                    guard frame.kind != .error else { continue }
                    pacer.wait(until: frame.timestamp.timeInterval)
                    do {
                        try socket.send(frame)
                    } catch {
                        throw CLIError(error.description)
                    }
                    sent += 1
                }
            }
        } while loop
        TextOutput.standardError().write("replayed \(sent) frames\(malformed > 0 ? ", \(malformed) malformed lines skipped" : "")\n")
    }

    private func readEntry(_ reader: CandumpReader) throws -> CandumpReader.Entry? {
        do {
            return try reader.next()
        } catch {
            throw CLIError("cannot read log \(error)")
        }
    }
}
