import AxleBase

/// Reads a candump log line by line in constant memory, however large the file.
///
/// Malformed lines do not stop the reader: each comes back as `.malformed` with its line number, so callers can
/// report, count and skip it (or stop, in strict mode).
public final class CandumpReader {
    public enum Entry {
        case frame(CANFrame)
        case malformed(line: Int, error: CandumpSyntaxError)
    }

    // The state changed for every line is not checked for exclusive access at run time: as properties of a class,
    // each access was a call into the runtime (swift_beginAccess, 4% of `axle dbc decode`). The reader is used from
    // one thread at a time (it is not Sendable) and no access to them overlaps another, so the checks cannot fail.
    private let file: ChunkedFileReader
    private let buffer: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var start = 0
    @exclusivity(unchecked) private var end = 0
    @exclusivity(unchecked) private var endOfInput = false
    @exclusivity(unchecked) private var interfaces = InterfaceNameCache()
    /// The number of the line last returned (1-based).
    @exclusivity(unchecked) public private(set) var lineNumber = 0
    /// Bytes consumed so far, for progress reports.
    @exclusivity(unchecked) public private(set) var bytesRead: Int64 = 0
    /// Total size of the input when it is a regular file.
    public var totalBytes: Int64? { file.size }
    public var path: String { file.path }

    /// The longest line accepted; longer ones are reported as malformed.
    public static let maximumLineLength = 1 << 16

    /// Opens `path` (`-` for standard input).
    public init(path: String, bufferSize: Int = 1 << 20) throws(SystemError) {
        file = try ChunkedFileReader(path: path)
        buffer = .allocate(byteCount: max(bufferSize, Self.maximumLineLength * 2), alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// The next frame or malformed line, or nil at the end of the input. Blank lines are skipped.
    public func next() throws(SystemError) -> Entry? {
        while true {
            guard let line = try nextLine() else { return nil }
            lineNumber += 1
            if line.isEmpty || (line.count == 1 && line[0] == 0x0D) { continue }
            if line.count > Self.maximumLineLength {
                return .malformed(line: lineNumber, error: CandumpSyntaxError(column: 1, reason: "line is longer than \(Self.maximumLineLength) bytes"))
            }
            do {
                return .frame(try CandumpFormat.parse(line: line, interfaces: &interfaces))
            } catch {
                return .malformed(line: lineNumber, error: error)
            }
        }
    }

    /// The next line without its newline, valid until the following call.
    private func nextLine() throws(SystemError) -> UnsafeRawBufferPointer? {
        var searchFrom = start
        while true {
            if let newline = findNewline(from: searchFrom) {
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<newline])
                bytesRead += Int64(newline + 1 - start)
                start = newline + 1
                return line
            }
            if endOfInput {
                guard start < end else { return nil }
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                bytesRead += Int64(end - start)
                start = end
                return line
            }
            if end - start >= buffer.count - 1 {
                // A line longer than the whole buffer: give back what we have as one over-long line and drop the rest.
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                bytesRead += Int64(end - start)
                try skipRestOfLine()
                return line
            }
            searchFrom = end - start
            compact()
            try fill()
        }
    }

    private func findNewline(from offset: Int) -> Int? {
        guard offset < end else { return nil }
        let base = buffer.baseAddress! + offset
        guard let found = memchr(base, 0x0A, end - offset) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(buffer.baseAddress!)
    }

    private func compact() {
        if start > 0 {
            let count = end - start
            if count > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count) }
            start = 0
            end = count
        }
    }

    private func fill() throws(SystemError) {
        let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if count == 0 { endOfInput = true }
        end += count
    }

    private func skipRestOfLine() throws(SystemError) {
        start = 0
        end = 0
        while !endOfInput {
            try fill()
            if let newline = findNewline(from: 0) {
                bytesRead += Int64(newline + 1)
                start = newline + 1
                return
            }
            bytesRead += Int64(end)
            end = 0
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
