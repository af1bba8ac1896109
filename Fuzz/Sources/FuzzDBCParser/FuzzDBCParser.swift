import CANFrames
import CLibFuzzer
import DBC

@main
enum FuzzDBCParserMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// libFuzzer entry point: the input is DBC text. Parse errors are expected; traps and memory errors are findings.
///
/// A database that parses is compiled and every message is decoded three times (all bits clear, all bits set, and
/// bytes taken from the input), because the decoder reads unaligned 64-bit words past the payload and trusts what
/// compiling worked out; then every message is encoded, with no values and with each signal at its limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    guard let database = try? DBCParser.parse(bytes: bytes, source: "fuzz.dbc") else { return 0 }
    exerciseDecoder(database, input: bytes)
    exerciseEncoder(database)
    return 0
}

private func exerciseDecoder(_ database: DBCDatabase, input: [UInt8]) {
    let decoder = CompiledDecoder(database: database)
    var result = DecodedFrame()
    for message in decoder.messages {
        let length = min(max(message.size, 0), CANPayload.capacity)
        let payloads: [[UInt8]] = [
            [UInt8](repeating: 0x00, count: length),
            [UInt8](repeating: 0xFF, count: length),
            (0..<length).map { input.isEmpty ? 0 : input[$0 % input.count] },
            // One byte short: the `tooShort` path.
            [UInt8](repeating: 0xA5, count: max(length - 1, 0)),
        ]
        for payload in payloads {
            let frame = CANFrame(id: message.id, isExtended: message.isExtended, isFD: message.size > 8, data: payload)
            _ = decoder.decode(frame, into: &result)
            for signal in result.signals {
                _ = decoder.label(of: signal)
                _ = decoder.dbcSignal(of: signal)
            }
        }
    }
}

private func exerciseEncoder(_ database: DBCDatabase) {
    let encoder = SignalEncoder(database: database)
    for message in database.messages {
        _ = try? encoder.encode(message: message.name, values: [:])
        for signal in message.signals {
            var candidates: [SignalEncoder.Value] = [.number(signal.minimum), .number(signal.maximum), .number(signal.offset)]
            if let first = signal.valueLabels.entries.first { candidates.append(.label(first.label)) }
            for value in candidates {
                _ = try? encoder.encode(message: message.name, values: [signal.name: value])
            }
        }
    }
}
