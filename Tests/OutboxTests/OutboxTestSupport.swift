import AxleTestSupport
import Outbox
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A test's temporary directory (AxleTestSupport), with the database file this target's tests use.
typealias TestDirectory = TemporaryDirectory

extension TemporaryDirectory {
    var databasePath: String { path + "/outbox.db" }
}

/// Wall and monotonic clocks the test moves by hand.
final class TestClock: Sendable {
    private let millis: Mutex<Int64>
    private let seconds = Mutex<Double>(1000)

    init(millis: Int64 = 1_700_000_000_000) {
        self.millis = Mutex(millis)
    }

    var now: Int64 { millis.withLock { $0 } }

    func advance(millis delta: Int64) {
        millis.withLock { $0 += delta }
    }

    func advance(seconds delta: Double) {
        seconds.withLock { $0 += delta }
        advance(millis: Int64(delta * 1000))
    }

    func configuration(path: String, capBytes: Int64 = OutboxConfiguration.defaultCapBytes) -> OutboxConfiguration {
        OutboxConfiguration(
            path: path, capBytes: capBytes, clock: { self.now }, monotonicClock: { self.seconds.withLock { $0 } })
    }
}

let allClasses = Set(PriorityClass.allCases)

/// The payload a test draft carries: its sequence number in text, padded to `size` bytes, so that a test can see
/// the outbox passed the right number to the closure.
func testPayload(_ sequence: UInt64, size: Int = 0) -> [UInt8] {
    var bytes = Array("record \(sequence)".utf8)
    if bytes.count < size {
        bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: size - bytes.count)
    }
    return bytes
}

func draft(
    _ priority: PriorityClass, size: Int = 0, createdAt: Int64 = 1_700_000_000_000, expiresAt: Int64? = nil,
    topic: String? = nil
) -> RecordDraft {
    RecordDraft(
        priority: priority, createdAtMillis: createdAt, expiresAtMillis: expiresAt,
        topic: topic ?? "vehicles/test/\(priority)", qos: 1, payload: { testPayload($0, size: size) })
}

func sequences(_ records: [OutboxRecord]) -> [UInt64] { records.map(\.sequence) }

/// Runs each body on its own OS thread and waits for all of them.
func runOnThreads(_ bodies: [@Sendable () -> Void]) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var threads: [pthread_t] = []
    for body in bodies {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Overwrites `count` bytes at `offset` of a file with a pattern that is no valid SQLite structure.
func overwrite(_ path: String, at offset: Int, count: Int) throws {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { throw OutboxTestError("cannot open \(path): errno \(errno)") }
    defer { close(fd) }
    let garbage = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 7) }
    let written = garbage.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset)) }
    guard written == count else { throw OutboxTestError("cannot write \(path): errno \(errno)") }
}

/// The whole file, byte for byte ([] when it cannot be read).
func fileBytes(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return bytes
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : -1
}

struct OutboxTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The error an expression threw, as an OutboxError (nil when it threw nothing or something else).
func outboxError(_ body: () throws -> Void) -> OutboxError? {
    do {
        try body()
        return nil
    } catch {
        return error as? OutboxError
    }
}
