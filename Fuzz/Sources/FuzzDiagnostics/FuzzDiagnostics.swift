import CLibFuzzer
import Diagnostics

@main
enum FuzzDiagnosticsMain {
    static func main() {
        CLibFuzzer_runDriver(CommandLine.argc, CommandLine.unsafeArgv, fuzz)
    }
}

/// The ids a record may name: OBD-II request and answer, a 29-bit diagnostic answer, a manufacturer's ECU, and J1939
/// transport frames (broadcast, and both directions of a connection), DM1 and a request.
private let ids: [(id: UInt32, extended: Bool)] = [
    (0x7DF, false), (0x7E8, false), (0x7BB, false), (0x18DA_F110, true),
    (0x1CEC_FF00, true), (0x1CEB_FF00, true), (0x1CEC_F900, true), (0x1CEB_F900, true), (0x1CEC_00F9, true),
    (0x18FE_CA00, true), (0x18EA_00F9, true),
]

/// libFuzzer entry point: the input is recorded traffic, one record after another: a byte choosing the id
/// (`ids[byte % count]`), a byte of time in 10 ms steps, a length byte (0-8, taken modulo 9) and that many data bytes.
/// The same records go to this node's own state machines (RTS/CTS to it, a request PGN, a functional OBD-II request).
/// Also: the data bytes of the whole input parsed as a DM1 and as an OBD-II trouble code answer, and the input sent
/// as an ISO-TP message from a sender to a receiver.
///
/// A crash or trap is the bug; so is a reassembled message longer than its protocol allows, or a message that does
/// not arrive whole through a sender and a receiver.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    var decoder = DiagnosticTrafficDecoder(additionalISOTPIDs: [0x7BB])
    // This node's own part (the scan tool): receiving RTS/CTS transfers addressed to it, a request to node 0, and a
    // functional OBD-II request answered by whatever the records hold.
    var connection = J1939ConnectionReceiver(address: 0xF9)
    var request = J1939RequestExchange(pgn: J1939PGN.dm1, destination: 0, sentAt: 0)
    var functional = FunctionalExchange(request: [0x01, 0x05], addressing: .standard, sentAt: 0)
    var time = 0.0
    var offset = 0
    while offset + 3 <= bytes.count {
        let (id, extended) = ids[Int(bytes[offset]) % ids.count]
        time += Double(bytes[offset + 1]) * 0.01
        let length = min(Int(bytes[offset + 2]) % 9, bytes.count - offset - 3)
        let frame = Array(bytes[(offset + 3)..<(offset + 3 + length)])
        offset += 3 + length
        for event in decoder.receive(canID: id, extended: extended, data: frame, time: time) {
            check(event)
        }
        for step in connection.expire(now: time) { checkFrames(step.send) }
        let step = connection.receive(canID: id, data: frame, now: time)
        checkFrames(step.send)
        if let message = step.message {
            precondition(message.data.count <= J1939TransportReceiver.maximumSize, "J1939 message of \(message.data.count) bytes")
        }
        checkFrames(request.expire(now: time))
        checkFrames(request.receive(canID: id, data: frame, now: time))
        functional.expire(now: time)
        if let flowControl = functional.receive(canID: id, data: frame, now: time) {
            precondition(flowControl.canID == 0x7E0, "flow control to \(flowControl.canID) for an answer on 0x7E8")
        }
    }
    for event in decoder.finish() { check(event) }
    for answer in request.answers { precondition((answer.data?.count ?? 0) <= J1939TransportReceiver.maximumSize) }
    for answer in functional.answers {
        precondition((answer.message?.count ?? 0) <= ISOTPFrame.maximumMessageLength, "an answer longer than ISO-TP allows")
    }

    _ = try? J1939DiagnosticMessage(data: bytes)
    _ = OBDTroubleCode.codes(inAnswer: [0x43] + bytes).map { $0.map(\.description) }
    _ = DiagnosticService(message: bytes)

    let message = Array(bytes.prefix(ISOTPFrame.maximumMessageLength))
    if !message.isEmpty {
        roundTrip(message)
    }
    return 0
}

/// The frames this node sends are classic CAN frames on 29-bit transport ids.
private func checkFrames(_ frames: [J1939Frame]) {
    for frame in frames {
        precondition(frame.data.count == 8 && frame.canID <= 0x1FFF_FFFF, "a frame of \(frame.data.count) bytes to \(frame.canID)")
    }
}

private func check(_ event: DiagnosticTrafficDecoder.Event) {
    switch event {
    case .isotp(_, let message, _):
        precondition(!message.isEmpty && message.count <= ISOTPFrame.maximumMessageLength, "ISO-TP message of \(message.count) bytes")
    case .j1939(let message):
        precondition(message.data.count <= J1939TransportReceiver.maximumSize, "J1939 message of \(message.data.count) bytes")
    case .isotpError, .j1939Error:
        break
    }
}

/// Sends `message` through a sender and a receiver that asks for blocks of 3 frames 1 ms apart: it must arrive whole.
private func roundTrip(_ message: [UInt8]) {
    guard var sender = try? ISOTPSender(message: message) else { preconditionFailure("a valid message was refused") }
    var settings = ISOTPReceiver.Settings()
    settings.blockSize = 3
    settings.separationTime = SeparationTime(rawValue: 1)
    var receiver = ISOTPReceiver(settings: settings)
    var now = 0.0
    var received: [UInt8]?
    for _ in 0..<2_000 {
        switch sender.next(now: now) {
        case .send(let frame):
            guard let parsed = try? ISOTPFrame.parse(frame.encoded(padding: 0xCC)) else { preconditionFailure("unparsable own frame") }
            let step = receiver.receive(parsed, now: now)
            precondition(step.error == nil, "receiver error: \(step.error!)")
            if let message = step.message { received = message }
            if let flowControl = step.flowControl {
                guard let parsed = try? ISOTPFrame.parse(flowControl.encoded()) else { preconditionFailure("unparsable flow control") }
                sender.receive(parsed, now: now)
            }
        case .waitUntil(let time):
            now = time
        case .done:
            precondition(received == message, "the message did not arrive whole")
            return
        case .awaitFlowControl, .failed:
            preconditionFailure("the transfer stalled")
        }
    }
    preconditionFailure("the transfer did not end")
}
