import Testing
import AxleBase
@testable import CANFrames

#if canImport(Glibc)
import Glibc
#endif

/// A file in a fresh temporary directory, removed with it.
func temporaryFile(named name: String, contents: [UInt8]) throws -> String {
    var template = Array("/tmp/axle-test-XXXXXX".utf8CString)
    let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    let path = directory + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    #expect(fd >= 0)
    _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return path
}

@Suite("candump reader")
struct CandumpReaderTests {
    @Test("reads frames in order, reports malformed lines with their numbers and keeps going")
    func malformedLinesAreSkipped() throws {
        let text = """
            (1.000000) can0 100#01

            garbage
            (2.000000) can0 101#0203
            (3.000000) can0 1#02
            (4.000000) can0 102#
            """
        let path = try temporaryFile(named: "mixed.log", contents: Array(text.utf8))
        let reader = try CandumpReader(path: path)
        var ids: [UInt32] = []
        var malformed: [Int] = []
        while let entry = try reader.next() {
            switch entry {
            case .frame(let frame): ids.append(frame.id)
            case .malformed(let line, _): malformed.append(line)
            }
        }
        #expect(ids == [0x100, 0x101, 0x102])
        #expect(malformed == [3, 5])
    }

    @Test("lines that cross read-buffer boundaries and a last line without a newline")
    func bufferBoundaries() throws {
        var text = ""
        for index in 0..<5000 { text += "(\(index).000000) can0 \(String(format3(index % 0x7FF)))#0011223344556677\n" }
        text += "(9999.000000) can0 7FF#FF"
        let path = try temporaryFile(named: "long.log", contents: Array(text.utf8))
        let reader = try CandumpReader(path: path, bufferSize: 4096)
        var count = 0
        var last: CANFrame?
        while let entry = try reader.next() {
            guard case .frame(let frame) = entry else { Issue.record("unexpected malformed line \(reader.lineNumber)"); continue }
            if count < 5000 { #expect(frame.id == UInt32(count % 0x7FF)) }
            count += 1
            last = frame
        }
        #expect(count == 5001)
        #expect(last?.data == [0xFF])
        #expect(reader.bytesRead == Int64(text.utf8.count))
    }

    @Test("an over-long line is reported and the next line still read")
    func overlongLine() throws {
        let text = "(1.0) can0 123#" + String(repeating: "0", count: CandumpReader.maximumLineLength * 3) + "\n(2.0) can0 124#01\n"
        let path = try temporaryFile(named: "overlong.log", contents: Array(text.utf8))
        let reader = try CandumpReader(path: path, bufferSize: 1 << 16)
        guard case .malformed(let line, let error)? = try reader.next() else { Issue.record("expected a malformed line"); return }
        #expect(line == 1)
        #expect(error.reason.contains("longer"))
        guard case .frame(let frame)? = try reader.next() else { Issue.record("expected a frame"); return }
        #expect(frame.id == 0x124)
        #expect(try reader.next() == nil)
    }

    @Test("a missing file is a clear error naming it")
    func missingFile() {
        #expect(throws: SystemError.self) { try CandumpReader(path: "/nonexistent/axle.log") }
        do {
            _ = try CandumpReader(path: "/nonexistent/axle.log")
        } catch {
            #expect(error.description.contains("/nonexistent/axle.log"))
            #expect(error.description.contains("No such file"))
        }
    }

    func format3(_ value: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 3 - text.count) + text
    }
}

extension CandumpReader.Entry: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.frame(let a), .frame(let b)): a == b
        case (.malformed(let a, let e), .malformed(let b, let f)): a == b && e == f
        default: false
        }
    }
}
