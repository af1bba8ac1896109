#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading input files without Foundation: whole small files, or large ones in chunks with constant memory.
public enum FileInput {
    /// The whole content of a file (a DBC, a config): a clear error names the file when it cannot be read.
    public static func readAll(path: String) throws(SystemError) -> [UInt8] {
        let fd = try retryingOnInterrupt("open", subject: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw SystemError(call: "read", subject: path, errno: EISDIR)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(Int(st.st_size), 0) + 1)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let count = try retryingOnInterrupt("read", subject: path) { read(fd, chunk.baseAddress, chunk.count) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }
}

/// A file or standard input read in fixed-size chunks: multi-gigabyte logs pass through in constant memory.
public final class ChunkedFileReader {
    public let path: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// Total size when known (regular files), for progress reports.
    public let size: Int64?

    /// Opens `path`; `-` means standard input.
    public init(path: String) throws(SystemError) {
        self.path = path
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            size = nil
            return
        }
        fd = try retryingOnInterrupt("open", subject: path) { open(path, O_RDONLY | O_CLOEXEC) }
        ownsDescriptor = true
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw SystemError(call: "read", subject: path, errno: EISDIR)
        }
        size = (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of input.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingOnInterrupt("read", subject: path) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }
}
