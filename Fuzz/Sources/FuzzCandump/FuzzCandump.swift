import CANFrames
import CLibFuzzer

@main
enum FuzzCandumpMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// libFuzzer entry point: the input is a candump log, one frame per line.
///
/// Syntax errors are expected. A line that parses must survive write → read → write unchanged: the frame read back
/// equals the first one and the second line is byte-identical to the first. Any difference traps, which libFuzzer
/// reports as a crash with the input that caused it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    var interfaces = InterfaceNameCache()
    for lineBytes in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        let line = String(decoding: lineBytes, as: UTF8.self)
        checkRoundTrip(line)
        // The byte-level entry point that `CandumpReader` uses, with its interface cache kept across lines.
        let viaBytes = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: lineBytes))
        let direct = try? CandumpFormat.parse(line: viaBytes, interfaces: &interfaces)
        if let direct, String(validating: lineBytes, as: UTF8.self) != nil {
            // For valid UTF-8 both entry points see the same bytes, so they must agree.
            precondition(direct == (try? CandumpFormat.parse(line: line)), "byte and String parsers disagree on \(line)")
        }
    }
    return 0
}

private func checkRoundTrip(_ line: String) {
    guard let frame = try? CandumpFormat.parse(line: line) else { return }
    let written = CandumpFormat.format(frame)
    let reread: CANFrame
    do {
        reread = try CandumpFormat.parse(line: written)
    } catch {
        preconditionFailure("written line does not parse: \(error)\n  input:   \(line)\n  written: \(written)")
    }
    precondition(reread == frame, "frame changed on write → read\n  input:   \(line)\n  written: \(written)")
    let rewritten = CandumpFormat.format(reread)
    precondition(rewritten == written, "write → read → write not identical\n  first:  \(written)\n  second: \(rewritten)")
}
