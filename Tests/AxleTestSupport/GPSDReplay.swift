import AxleBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real gpsd (Debian's `gpsd` package) reading a replayed NMEA log from a pseudo-terminal, as a receiver on a
/// serial line would be read. The test starts and kills gpsd itself (`gpsd -N -n -b -S PORT`: foreground, polling
/// without a client, read-only, on a free port); no system service is involved.
public final class GPSDReplay: Sendable {
    public static let executable = "/usr/sbin/gpsd"
    public static var isAvailable: Bool { access(executable, X_OK) == 0 }

    /// The NMEA logs in `Tests/Resources/gnss` (README there).
    public static func logPath(_ name: String) -> String { AxleProcess.packageRoot + "/Tests/Resources/gnss/" + name }

    /// TIOCSPTLCK and TIOCGPTN (`_IOW('T', 0x31, int)`, `_IOR('T', 0x30, unsigned int)`: macros Swift does not
    /// import; the same numbers on x86-64 and arm64).
    static let unlockTerminal: UInt = 0x4004_5431
    static let terminalNumber: UInt = 0x8004_5430

    public let port: Int
    public let devicePath: String
    public let directory: String
    /// The log's cycles (from one GGA sentence to the next), each as the bytes written at once.
    public let cycles: [[UInt8]]
    private let master: Int32
    /// Kept open so that the terminal survives gpsd closing it (a write to a pty nobody holds fails).
    private let slave: Int32
    private let process = Mutex<ChildProcess?>(nil)
    private let feeder = Mutex<JoinableThread?>(nil)
    private let stopFeeding = StopToken()

    /// Opens the terminal, starts gpsd on it and waits until gpsd accepts connections; `start: false` leaves gpsd
    /// stopped (gpsd absent at the agent's start).
    public init(log: String, start: Bool = true) throws {
        // Missing gpsd fails the test rather than skipping it: `make test` installs it (scripts/setup.sh), and a
        // suite that quietly skips would let a broken set-up pass.
        guard Self.isAvailable else {
            throw TestSupportError("\(Self.executable) is missing: install Debian's gpsd (make test does, through scripts/setup.sh)")
        }
        directory = try makeTestDirectory(prefix: "axle-gpsd")
        var cycles: [[UInt8]] = []
        for line in AxleProcess.readText(Self.logPath(log)).split(separator: "\n") where line.hasPrefix("$") {
            let bytes = Array(line.utf8) + Array("\r\n".utf8)
            if line.contains("GGA,") || cycles.isEmpty { cycles.append(bytes) } else { cycles[cycles.count - 1] += bytes }
        }
        guard !cycles.isEmpty else { throw TestSupportError("no NMEA sentences in \(log)") }
        self.cycles = cycles
        // posix_openpt and friends by hand (Glibc's module does not export them): the multiplexer, unlock, number.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, Self.unlockTerminal, &unlock) == 0, ioctl(master, Self.terminalNumber, &number) == 0 else {
            throw TestSupportError("cannot open a pseudo-terminal: \(SystemError.text(errno: errno))")
        }
        devicePath = "/dev/pts/\(number)"
        slave = open(devicePath, O_RDWR | O_NOCTTY)
        // gpsd drops root after start: a receiver added later (plugIn) is opened as its own user.
        fchmod(slave, 0o666)
        port = try LoopbackPort.free()
        if start { try self.start() }
    }

    deinit {
        stopFeeding.requestStop()
        _ = feeder.withLock { $0?.join(seconds: 5) }
        process.withLock { $0?.terminate(timeoutSeconds: 5) }
        close(master)
        close(slave)
        removeTree(directory)
    }

    /// Starts gpsd (again) on the same port and terminal, and waits until it accepts connections.
    public func start() throws {
        try process.withLock { process in
            if process?.isRunning == true { return }
            process = try ChildProcess(
                executable: Self.executable,
                arguments: ["-N", "-n", "-b", "-S", String(port), "-F", controlSocket, devicePath],
                stderrPath: directory + "/gpsd.log", append: true)
        }
        guard waitUntil(timeoutSeconds: 10, { LoopbackPort.isAccepting(port) }) else {
            throw TestSupportError("gpsd did not accept connections on port \(port) within 10 s: \(AxleProcess.readText(directory + "/gpsd.log"))")
        }
    }

    /// gpsd's control socket: devices are added and removed through it, as hotplug scripts do.
    public var controlSocket: String { directory + "/gpsd.sock" }

    /// Removes the receiver from gpsd, as unplugging it does (gpsd reports `DEVICE` with `activated` 0).
    public func unplug() throws { try control("-\(devicePath)\n") }

    /// Gives the receiver back to gpsd, as plugging it in does.
    public func plugIn() throws { try control("+\(devicePath)\n") }

    private func control(_ command: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket: \(SystemError.text(errno: errno))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in controlSocket.utf8.prefix(path.count - 1).enumerated() { path[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw TestSupportError("gpsd's control socket: \(SystemError.text(errno: errno))") }
        var bytes = Array(command.utf8)
        _ = write(descriptor, &bytes, bytes.count)
        var reply = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &reply, reply.count)
        let answer = count > 0 ? String(decoding: reply[..<count], as: UTF8.self) : ""
        guard answer.hasPrefix("OK") else { throw TestSupportError("gpsd refused \(command.debugDescription): \(answer)") }
    }

    /// Kills gpsd at once (SIGKILL), as a crash would, and waits until it is gone.
    public func kill() {
        process.withLock { process in
            process?.send(signal: SIGKILL)
            _ = process?.wait(timeoutSeconds: 5)
        }
    }

    /// Writes the log one cycle every `interval` seconds on a thread of its own, from the start (again and again when
    /// `loop`), until the replay is released; `fixesOnly`: only the cycles whose GGA has a fix.
    public func feed(every interval: Double, loop: Bool, fixesOnly: Bool = false) {
        let cycles = fixesOnly ? cycles.filter { Self.fix(of: $0) != nil } : cycles
        let master = master
        let stop = stopFeeding
        feeder.withLock { feeder in
            feeder = JoinableThread(name: "nmea feeder") {
                var index = 0
                while !stop.wait(seconds: interval) {
                    if index == cycles.count {
                        guard loop else { return }
                        index = 0
                    }
                    // Non-blocking: while gpsd is down the terminal's buffer fills and the rest is dropped, as a
                    // receiver's output is when nobody reads the line.
                    _ = cycles[index].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
                    index += 1
                }
            }
        }
    }

    public var log: String { AxleProcess.readText(directory + "/gpsd.log") }

    /// The positions (latitude, longitude in degrees) of the log's GGA sentences with a fix (quality above 0).
    public var fixes: [(latitude: Double, longitude: Double)] { cycles.compactMap(Self.fix(of:)) }

    /// The position of a cycle's GGA sentence when it has a fix (quality above 0).
    static func fix(of cycle: [UInt8]) -> (latitude: Double, longitude: Double)? {
        let text = String(decoding: cycle, as: UTF8.self)
        guard let gga = text.split(separator: "\r\n").first(where: { $0.contains("GGA,") }) else { return nil }
        let fields = gga.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count > 6, let quality = Int(fields[6]), quality > 0,
            let latitude = degrees(fields[2], hemisphere: fields[3]),
            let longitude = degrees(fields[4], hemisphere: fields[5])
        else { return nil }
        return (latitude, longitude)
    }

    /// NMEA's `ddmm.mmmm` (or `dddmm.mmmm`) and its hemisphere as signed degrees.
    static func degrees(_ field: Substring, hemisphere: Substring) -> Double? {
        guard let value = Double(field) else { return nil }
        let whole = (value / 100).rounded(.down)
        let degrees = whole + (value - whole * 100) / 60
        return hemisphere == "S" || hemisphere == "W" ? -degrees : degrees
    }
}
