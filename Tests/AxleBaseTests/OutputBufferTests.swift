import AxleBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `axle dbc decode` prints through `OutputBuffer`; its JSON lines must stay byte-identical to what `String(value)`
/// and plain concatenation would print, whatever shortcuts the buffer takes.
@Suite("output buffer")
struct OutputBufferTests {
    @Test("integers print as String(value) does, at every digit count and across powers of ten")
    func decimalText() {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, UInt64.max, UInt64.max - 1, 1 << 63]
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            values += [power - 1, power, power + 1]
        }
        for bit in 0..<64 {
            values += [(1 << UInt64(bit)) - 1, 1 << UInt64(bit), (1 << UInt64(bit)) + 1]
        }
        var output = OutputBuffer(fileDescriptor: -1, capacity: 1 << 20)
        var expected = ""
        for value in values {
            output.appendDecimal(value)
            output.append(UInt8(ascii: " "))
            expected += "\(value) "
        }
        for value: Int64 in [-1, -9, -10, Int64.min, Int64.max, -1_234_567_890_123] {
            output.appendDecimal(value)
            output.append(UInt8(ascii: " "))
            expected += "\(value) "
        }
        #expect(String(decoding: output.pending, as: UTF8.self) == expected)
    }

    @Test("minimumDigits pads with leading zeros, as a timestamp's fraction needs")
    func leadingZeros() {
        var output = OutputBuffer(fileDescriptor: -1, capacity: 1 << 10)
        output.appendDecimal(UInt64(7), minimumDigits: 6)
        output.append(",")
        output.appendDecimal(UInt64(123_456), minimumDigits: 6)
        output.append(",")
        output.appendDecimal(UInt64(0), minimumDigits: 3)
        output.append(",")
        output.appendDecimal(UInt64(42), minimumDigits: 1)
        #expect(String(decoding: output.pending, as: UTF8.self) == "000007,123456,000,42")
    }

    @Test("padded pieces and literals of every length come out whole, and nothing past them, across many flushes")
    func paddedPiecesAcrossFlushes() throws {
        var path: [CChar] = Array("/tmp/axle-output-buffer-XXXXXX".utf8CString)
        let fd = mkstemp(&path)
        try #require(fd >= 0, "mkstemp failed, errno \(errno)")
        defer {
            close(fd)
            unlink(path)
        }
        // A pool as DecodeTexts lays it out: pieces back to back, then `overrun` spare bytes.
        let pieces = (0..<70).map { length in (0..<length).map { UInt8(ascii: "a") + UInt8(($0 + length) % 26) } }
        let pool = pieces.flatMap { $0 } + [UInt8](repeating: UInt8(ascii: "#"), count: OutputBuffer.overrun)
        var expected: [UInt8] = []
        do {
            // The smallest capacity, so that the 20,000-odd bytes flush many times, at every offset.
            var output = OutputBuffer(fileDescriptor: fd, capacity: 1)
            pool.withUnsafeBytes { bytes in
                for round in 0..<8 {
                    var start = 0
                    for piece in pieces {
                        output.append(padded: UnsafeRawBufferPointer(rebasing: bytes[start..<start + piece.count]))
                        expected += piece
                        if round % 2 == 0 {
                            output.append(", \"value\": ")
                            expected += Array(", \"value\": ".utf8)
                        }
                        start += piece.count
                    }
                }
            }
        }  // dropping the buffer writes out the rest
        let size = Int(lseek(fd, 0, SEEK_END))
        var written = [UInt8](repeating: 0, count: size)
        let read = written.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        #expect(read == expected.count)
        #expect(written == expected)
    }
}
