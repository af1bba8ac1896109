import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
// Glibc imports RUSAGE_SELF as an enum case; getrusage takes its raw value.
private let RUSAGE_SELF_WHO = RUSAGE_SELF.rawValue
#else
private let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

/// A point in time on two clocks: the monotonic wall clock and the CPU time this process has used (user + system).
///
/// Throughput is reported against both. On a machine whose other cores are busy they differ: wall time then
/// includes time slices lost to other processes, CPU time counts only what this benchmark got.
struct ClockSample {
    /// `clock_gettime(CLOCK_MONOTONIC)`, in nanoseconds.
    var wallNanoseconds: Int64
    /// `getrusage(RUSAGE_SELF)` user + system time, in nanoseconds (microsecond resolution).
    var cpuNanoseconds: Int64

    static func now() -> ClockSample {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        var usage = rusage()
        getrusage(RUSAGE_SELF_WHO, &usage)
        let cpuMicroseconds = Int64(usage.ru_utime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec)
            + Int64(usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_stime.tv_usec)
        return ClockSample(
            wallNanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec),
            cpuNanoseconds: cpuMicroseconds * 1000)
    }

    /// Wall-clock seconds since `self`, read from the monotonic clock alone (cheap enough for loop checks).
    func wallSecondsElapsed() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) - wallNanoseconds) / 1e9
    }
}

/// The time between two samples.
struct Elapsed {
    var wallSeconds: Double
    var cpuSeconds: Double

    init(from start: ClockSample, to end: ClockSample) {
        wallSeconds = Double(end.wallNanoseconds - start.wallNanoseconds) / 1e9
        cpuSeconds = Double(end.cpuNanoseconds - start.cpuNanoseconds) / 1e9
    }

    /// The CPU time when the clock could measure it, else the wall time: what one core spent on the work.
    var busySeconds: Double { cpuSeconds > 0 ? cpuSeconds : wallSeconds }
}

/// The cores this process may run on, as `taskset` left them ("1", "0-1"): `Cpus_allowed_list` of /proc/self/status.
func allowedCPUs() -> String {
    guard let file = fopen("/proc/self/status", "r") else { return "?" }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    let key = "Cpus_allowed_list:"
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(key) {
            return String(text.dropFirst(key.count).filter { !$0.isWhitespace })
        }
    }
    return "?"
}

/// One benchmark result, printed as a single JSON object on standard output.
struct ResultLine {
    private var fields: [(String, String)] = []

    init(benchmark: String) {
        add("benchmark", .string(benchmark))
        add("implementation", .string("axle"))
    }

    enum Value {
        case string(String)
        case integer(Int)
        case number(Double)
    }

    mutating func add(_ key: String, _ value: Value) {
        let text: String
        switch value {
        case .string(let string): text = Self.quoted(string)
        case .integer(let integer): text = String(integer)
        case .number(let number): text = number.isFinite ? String(number) : "null"
        }
        fields.append((key, text))
    }

    func print() {
        Swift.print("{" + fields.map { Self.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}")
    }

    private static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The median of `values` (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The file name without its folder, as results name their inputs.
func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// The size of a regular file in bytes (`stat`).
func fileSize(_ path: String) throws -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ValidationError("cannot stat \(path): errno \(errno)") }
    return Int(info.st_size)
}
