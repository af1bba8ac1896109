import AxleBase

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `axle` executable, as a user would, and captures what it prints. Shared by every test target that
/// tests a command end to end.
public enum AxleProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `axle` executable next to the test bundle (`.build/<config>/`).
    public static var executable: String {
        if let path = getenv("AXLE_BIN") { return String(cString: path) }
        var directory = CommandLine.arguments[0]
        while !directory.isEmpty, !directory.hasSuffix(".xctest"), directory != "/" {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        }
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) }
        return directory + "/axle"
    }

    /// Another executable built with `axle` (`axled`, `axle-fleet`): the same folder.
    public static func builtExecutable(_ name: String) -> String {
        let axle = executable
        return String(axle[..<(axle.lastIndex(of: "/") ?? axle.startIndex)]) + "/" + name
    }

    /// The package root, for bundled data such as the demo DBC.
    public static var packageRoot: String {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }

    public static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let directory = try makeTemporaryDirectory()
        let outPath = directory + "/stdout"
        let errPath = directory + "/stderr"
        let inPath = directory + "/stdin"
        _ = try writeFile(inPath, stdin ?? "")
        let command = ([executable] + arguments).map(shellQuote).joined(separator: " ")
            + " <\(shellQuote(inPath)) >\(shellQuote(outPath)) 2>\(shellQuote(errPath))"
        let status = system(command)
        let exitStatus = (status >> 8) & 0xFF
        return Result(
            status: exitStatus,
            stdout: String(decoding: try FileInput.readAll(path: outPath), as: UTF8.self),
            stderr: String(decoding: try FileInput.readAll(path: errPath), as: UTF8.self))
    }

    public static func shellQuote(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    public static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/axle-cli-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    @discardableResult
    public static func writeFile(_ path: String, _ text: String) throws -> String {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SystemError(call: "open", subject: path, errno: errno) }
        var text = text
        text.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    /// The whole file as text ("" when it cannot be read).
    public static func readText(_ path: String) -> String {
        (try? FileInput.readAll(path: path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
