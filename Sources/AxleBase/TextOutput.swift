#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered output to a file descriptor: tools that print a line per frame must not make a syscall per line.
public final class TextOutput {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let flushThreshold: Int

    public init(fileDescriptor: Int32 = 1, flushThreshold: Int = 1 << 16) {
        self.fd = fileDescriptor
        self.flushThreshold = flushThreshold
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    /// Unbuffered standard error, for diagnostics and progress.
    public static func standardError() -> TextOutput { TextOutput(fileDescriptor: 2, flushThreshold: 0) }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= flushThreshold { flush() }
    }

    public func write(bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { flush() }
    }

    public func write(byte: UInt8) {
        buffer.append(byte)
    }

    /// Appends `text` as a JSON string literal, quotes included.
    public func writeJSONString(_ text: String) {
        buffer.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): buffer.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: buffer.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: buffer.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: buffer.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Writes out everything buffered; errors such as a closed pipe end the output silently, like `cat`.
    public func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit {
        flush()
    }
}

/// Whether a file descriptor is a terminal: progress and colours go only to people, never into pipes.
public func isTerminal(_ fd: Int32) -> Bool {
    isatty(fd) == 1
}

/// Buffered output for loops that print a line per frame, millions of times (`axle dbc decode`).
///
/// `TextOutput` is a class: every append there is a dynamic exclusivity check on its buffer (a thread-local lookup
/// in the Swift runtime) and most callers hand it a freshly built `String`. Profiling `axle dbc decode` showed those
/// two costs dominating the whole command. `OutputBuffer` is a noncopyable struct that the caller keeps in a local
/// variable and passes `inout`, so exclusivity is checked by the compiler, and it formats numbers straight into its
/// bytes. Everything appended is written out when the buffer is full, when `flush()` is called, and when it is
/// dropped; write errors such as a closed pipe end the output silently, like `TextOutput`.
public struct OutputBuffer: ~Copyable {
    @usableFromInline let fileDescriptor: Int32
    @usableFromInline let storage: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var count = 0

    /// The most bytes a single number append needs: 20 digits and a sign for integers, at most 24 characters for
    /// a `Double` (`-2.2250738585072014e-308`).
    @usableFromInline static let numberRoom = 32

    public init(fileDescriptor: Int32 = 1, capacity: Int = 1 << 16) {
        self.fileDescriptor = fileDescriptor
        self.capacity = max(capacity, 4 * Self.numberRoom)
        // `append(padded:)` may write up to `overrun` bytes past what it appends.
        self.storage = .allocate(capacity: self.capacity + Self.overrun)
    }

    deinit {
        Self.writeAll(fileDescriptor, storage, count)
        storage.deallocate()
    }

    /// Writes out everything buffered.
    public mutating func flush() {
        Self.writeAll(fileDescriptor, storage, count)
        count = 0
    }

    /// The bytes buffered and not yet written out.
    public var pending: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage, count: count) }

    /// Space for `byteCount` more bytes (at most `capacity`), flushing first when the buffer is too full.
    @inlinable @inline(__always)
    mutating func room(_ byteCount: Int) -> UnsafeMutablePointer<UInt8> {
        if count + byteCount > capacity { flush() }
        return storage + count
    }

    @inlinable
    public mutating func append(_ byte: UInt8) {
        room(1).pointee = byte
        count += 1
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let byteCount = bytes.count
        guard byteCount <= capacity else {
            flush()
            Self.writeAll(fileDescriptor, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), byteCount)
            return
        }
        guard byteCount > 0 else { return }
        let source = bytes.baseAddress!
        let target = UnsafeMutableRawPointer(room(byteCount))
        // Most pieces are short (a name, `", \"raw\": "`): two overlapping 8-byte moves copy 8 to 16 bytes, and a
        // byte loop fewer than 8, which is cheaper than calling memmove for each piece.
        if byteCount <= 16 {
            if byteCount >= 8 {
                target.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
                (target + byteCount - 8).storeBytes(
                    of: (source + byteCount - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
            } else {
                for index in 0..<byteCount {
                    target.storeBytes(of: source.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self)
                }
            }
        } else {
            target.copyMemory(from: source, byteCount: byteCount)
        }
        count += byteCount
    }

    /// How far past its bytes `append(padded:)` may read and write.
    public static let overrun = 32

    /// Appends `bytes` by whole 16-byte moves, which may read up to `overrun` bytes past their end: the caller
    /// keeps that many readable bytes after them (`DecodeTexts` pads its pool). For the pieces of text printed for
    /// every signal (a quoted name and `: {"raw": `, a label), whose lengths vary from one signal to the next, this
    /// takes no branch on the length below 33 bytes, where `append(_:)` mispredicts between its short-piece loops.
    @inlinable
    public mutating func append(padded bytes: UnsafeRawBufferPointer) {
        let byteCount = bytes.count
        guard byteCount <= capacity else { return append(bytes) }
        guard let source = bytes.baseAddress else { return }
        // The bytes written past `byteCount` are overwritten by whatever comes next, or never written out.
        let target = UnsafeMutableRawPointer(room(byteCount))
        target.storeBytes(of: source.loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
        (target + 16).storeBytes(of: (source + 16).loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
        var copied = 32
        while copied < byteCount {
            (target + copied).storeBytes(of: (source + copied).loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
            copied &+= 16
        }
        count += byteCount
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        append(UnsafeRawBufferPointer(bytes))
    }

    /// A literal such as `", \"raw\": "`: its UTF-8 bytes are in the binary, so nothing is built or counted.
    /// Inlined, the length is a constant and the copy a move or two: the general `append(_:)`, which the compiler
    /// keeps out of line, cost a call and two branches on the length for every literal of every signal.
    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) {
        let byteCount = text.utf8CodeUnitCount
        guard byteCount <= capacity else {
            return append(UnsafeRawBufferPointer(start: text.utf8Start, count: byteCount))
        }
        room(byteCount).update(from: text.utf8Start, count: byteCount)
        count += byteCount
    }

    public mutating func append(contentsOf text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public mutating func appendSpaces(_ spaces: Int) {
        guard spaces > 0 else { return }
        if spaces > capacity {
            for _ in 0..<spaces { append(UInt8(ascii: " ")) }
            return
        }
        room(spaces).initialize(repeating: UInt8(ascii: " "), count: spaces)
        count += spaces
    }

    /// `value` in decimal, two digits at a time from a table of the pairs 00-99: `String(value)` goes through the
    /// generic radix conversion and allocates, which cost more than decoding the frame, and a digit at a time took
    /// twice the divisions. (`minimumDigits`, at most 20, pads with leading zeros: a timestamp's fraction.)
    @inlinable
    public mutating func appendDecimal(_ value: UInt64, minimumDigits: Int = 1) {
        let digits = max(Self.decimalDigitCount(value), min(minimumDigits, 20))
        let out = room(digits)
        let pairs = Self.digitPairs
        var position = digits
        var rest = value
        while rest >= 100 {
            let pair = Int(truncatingIfNeeded: rest % 100) &* 2
            rest /= 100
            position &-= 2
            out[position] = pairs[pair]
            out[position &+ 1] = pairs[pair &+ 1]
        }
        if rest >= 10 {
            let pair = Int(truncatingIfNeeded: rest) &* 2
            position &-= 2
            out[position] = pairs[pair]
            out[position &+ 1] = pairs[pair &+ 1]
        } else {
            position &-= 1
            out[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
        }
        while position > 0 {
            position &-= 1
            out[position] = UInt8(ascii: "0")
        }
        count += digits
    }

    /// "00" "01" … "99": the text of every two-digit pair, in the binary's constant data.
    @inlinable
    static var digitPairs: UnsafePointer<UInt8> {
        let pairs: StaticString = """
            00010203040506070809101112131415161718192021222324252627282930313233343536373839\
            40414243444546474849505152535455565758596061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899
            """
        return pairs.utf8Start
    }

    /// The number of decimal digits of `value` (1 for 0), from its bit length and one comparison: the digit count
    /// of random raw values varies from frame to frame, and a loop of comparisons mispredicts where it stops.
    @inlinable
    static func decimalDigitCount(_ value: UInt64) -> Int {
        // bits × log10(2) (1233/4096) is the digit count or one more; 10^estimate tells which. Index 0 holds 0,
        // so that 0 and 1 both count one digit.
        let bits = UInt64.bitWidth &- (value | 1).leadingZeroBitCount
        let estimate = (bits &* 1233) >> 12
        return estimate &+ 1 &- (value < powersOfTen[estimate] ? 1 : 0)
    }

    @usableFromInline static let powersOfTen: [UInt64] = [
        0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
        100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
        10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
    ]

    @inlinable
    public mutating func appendDecimal(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(value.magnitude)
        } else {
            appendDecimal(UInt64(value))
        }
    }

    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        appendDecimal(Int64(value))
    }

    public mutating func appendDecimal(_ value: Int128) {
        if let small = Int64(exactly: value) {
            appendDecimal(small)
        } else {
            append(contentsOf: value.description)
        }
    }

    /// `value` in uppercase hex, `digits` digits wide (leading zeros kept), as candump writes ids.
    @inlinable
    public mutating func appendHex(_ value: UInt32, digits: Int) {
        precondition(digits > 0 && digits <= 8)
        let out = room(digits)
        var rest = value
        for position in stride(from: digits - 1, through: 0, by: -1) {
            let nibble = UInt8(truncatingIfNeeded: rest & 0xF)
            out[position] = nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "A") &+ (nibble &- 10)
            rest >>= 4
        }
        count += digits
    }

    /// Exactly the text of `value.description` (the shortest form that reads back as the same double, such as
    /// `0.30000000000000004`, `-225.0` or `1e-05`), without building a `String`: the standard library formats a
    /// double for a `TextOutputStream` by handing it ASCII bytes, which `DigitSink` copies into the buffer.
    public mutating func appendDouble(_ value: Double) {
        var sink = DigitSink(start: room(Self.numberRoom), limit: Self.numberRoom)
        value.write(to: &sink)
        count += sink.written
    }

    /// Receives the digits of one number; `_writeASCII` is how the standard library hands them over,
    /// `write(_:)` is the general path any other text would take.
    private struct DigitSink: TextOutputStream {
        let start: UnsafeMutablePointer<UInt8>
        let limit: Int
        var written = 0

        init(start: UnsafeMutablePointer<UInt8>, limit: Int) {
            self.start = start
            self.limit = limit
        }

        mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
            precondition(written + buffer.count <= limit, "a number longer than \(limit) characters")
            (start + written).update(from: buffer.baseAddress!, count: buffer.count)
            written += buffer.count
        }

        mutating func write(_ string: String) {
            for byte in string.utf8 {
                precondition(written < limit, "a number longer than \(limit) characters")
                start[written] = byte
                written += 1
            }
        }
    }

    /// Appends `text` as a JSON string literal, quotes included (the escaping of `TextOutput.writeJSONString`).
    public mutating func appendJSONString(_ text: String) {
        let literal = jsonStringLiteral(text)
        literal.withUnsafeBytes { append($0) }
    }

    @usableFromInline
    static func writeAll(_ fileDescriptor: Int32, _ bytes: UnsafePointer<UInt8>, _ byteCount: Int) {
        var offset = 0
        while offset < byteCount {
            let written = Glibc.write(fileDescriptor, bytes + offset, byteCount - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// The UTF-8 bytes of `text` as a JSON string literal, quotes included: `"`, `\` and control characters escaped,
/// everything else as it is.
public func jsonStringLiteral(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(ascii: "\"")]
    bytes.reserveCapacity(text.utf8.count + 2)
    let hex = Array("0123456789abcdef".utf8)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): bytes += [0x5C, 0x22]
        case UInt8(ascii: "\\"): bytes += [0x5C, 0x5C]
        case 0x0A: bytes += [0x5C, UInt8(ascii: "n")]
        case 0x0D: bytes += [0x5C, UInt8(ascii: "r")]
        case 0x09: bytes += [0x5C, UInt8(ascii: "t")]
        case 0..<0x20: bytes += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        default: bytes.append(byte)
        }
    }
    bytes.append(UInt8(ascii: "\""))
    return bytes
}
