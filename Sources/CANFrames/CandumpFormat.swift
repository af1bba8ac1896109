/// The log format of can-utils `candump -l` (and `-L`), read and written in every variant it has:
///
///     (1436509052.249713) can0 123#DEADBEEF        classic, 11-bit id (3 hex digits)
///     (1436509052.249713) can0 12345678#0011       classic, 29-bit id (8 hex digits)
///     (1436509052.249713) can0 123#R  /  123#R5    remote frame, optional DLC
///     (1436509052.249713) can0 123##1AABB          CAN FD: flags nibble (BRS=1, ESI=2) then data
///     (1436509052.249713) can0 123#1122334455667788_E   classic frame with a raw DLC above 8
///     (1436509052.249713) can0 20000080#0000000000000000 error frame (bit 0x20000000 in an 8-digit id)
///
/// Timestamps take any number of fraction digits (6, or 9 with `candump -N`); the interface may be padded with
/// spaces; a trailing ` R` or ` T` (from `candump -x` and python-can) gives the direction. Writing produces the
/// canonical form, so write → read → write is byte-identical.
public enum CandumpFormat {
    /// Parses one line (without its line terminator; a trailing CR is tolerated).
    public static func parse(line: String) throws(CandumpSyntaxError) -> CANFrame {
        var line = line
        let result = line.withUTF8 { bytes in
            var cache = InterfaceNameCache()
            return Result { () throws(CandumpSyntaxError) in try parse(line: UnsafeRawBufferPointer(bytes), interfaces: &cache) }
        }
        return try result.get()
    }

    /// The line for `frame`, without a line terminator.
    public static func format(_ frame: CANFrame) -> String {
        var bytes: [UInt8] = []
        append(frame, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the line for `frame`, without a line terminator.
    public static func append(_ frame: CANFrame, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "("))
        frame.timestamp.append(to: &bytes)
        bytes.append(contentsOf: [UInt8(ascii: ")"), UInt8(ascii: " ")])
        bytes.append(contentsOf: frame.interface.utf8)
        bytes.append(UInt8(ascii: " "))
        appendFrameText(frame, to: &bytes)
        switch frame.direction {
        case .received?: bytes.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: "R")])
        case .transmitted?: bytes.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: "T")])
        case nil: break
        }
    }

    /// The `ID#DATA` part alone, as `cansend` takes it.
    public static func frameText(_ frame: CANFrame) -> String {
        var bytes: [UInt8] = []
        appendFrameText(frame, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the `ID#DATA` part alone.
    public static func appendFrameText(_ frame: CANFrame, to bytes: inout [UInt8]) {
        appendID(frame, to: &bytes)
        bytes.append(UInt8(ascii: "#"))
        if frame.kind == .remote {
            bytes.append(UInt8(ascii: "R"))
            if frame.length > 0 && frame.length <= 8 {
                bytes.append(hexDigits[Int(frame.length)])
                if frame.length == 8 && frame.len8DLC > 8 {
                    bytes.append(UInt8(ascii: "_"))
                    bytes.append(hexDigits[Int(frame.len8DLC & 0xF)])
                }
            }
            return
        }
        if frame.isFD {
            bytes.append(UInt8(ascii: "#"))
            bytes.append(hexDigits[Int(frame.fdFlags & 0xF)])
        }
        frame.payload.withUnsafeBytes { raw in
            for index in 0..<Int(frame.length) {
                bytes.append(hexDigits[Int(raw[index] >> 4)])
                bytes.append(hexDigits[Int(raw[index] & 0xF)])
            }
        }
        if !frame.isFD && frame.length == 8 && frame.len8DLC > 8 {
            bytes.append(UInt8(ascii: "_"))
            bytes.append(hexDigits[Int(frame.len8DLC & 0xF)])
        }
    }

    /// Parses the `ID#DATA` part alone (the `cansend` syntax), with no timestamp or interface.
    public static func parseFrameText(_ text: String, interface: String = "can0") throws(CandumpSyntaxError) -> CANFrame {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(CandumpSyntaxError) in
                var frame = CANFrame(id: 0)
                frame.interface = interface
                var cursor = ByteCursor(UnsafeRawBufferPointer(bytes))
                try parseFrameBody(&cursor, into: &frame)
                if !cursor.atEnd { throw CandumpSyntaxError(column: cursor.column, reason: "unexpected text after the frame") }
                return frame
            }
        }
        return try result.get()
    }

    /// The id as candump writes it: 3 hex digits, or 8 for 29-bit ids and error frames.
    public static func idText(_ frame: CANFrame) -> String {
        var bytes: [UInt8] = []
        appendID(frame, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendID(_ frame: CANFrame, to bytes: inout [UInt8]) {
        switch frame.kind {
        case .error: appendHex(frame.id | errorFlag, digits: 8, to: &bytes)
        case .data, .remote: appendHex(frame.id, digits: frame.isExtended ? 8 : 3, to: &bytes)
        }
    }

    static let errorFlag: UInt32 = 0x2000_0000
    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func appendHex(_ value: UInt32, digits: Int, to bytes: inout [UInt8]) {
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            bytes.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }

    /// Parses a line held in `line`; `interfaces` remembers recent interface names so that a log of millions of
    /// frames on `can0` does not build a new `String` per frame.
    public static func parse(
        line: UnsafeRawBufferPointer, interfaces: inout InterfaceNameCache
    ) throws(CandumpSyntaxError) -> CANFrame {
        var cursor = ByteCursor(line)
        cursor.trimTrailingCarriageReturn()
        var frame = CANFrame(id: 0)

        // (seconds.fraction)
        guard cursor.take(UInt8(ascii: "(")) else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected '(' and a timestamp at the start of the line")
        }
        frame.timestamp = try parseTimestamp(&cursor)
        guard cursor.take(UInt8(ascii: ")")) else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected ')' after the timestamp")
        }
        guard cursor.skipSpaces() > 0 else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected a space and an interface name after the timestamp")
        }

        // interface
        let nameStart = cursor.offset
        while let byte = cursor.peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t") { cursor.advance() }
        guard cursor.offset > nameStart else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected an interface name")
        }
        frame.interface = interfaces.name(for: UnsafeRawBufferPointer(rebasing: line[nameStart..<cursor.offset]))
        guard cursor.skipSpaces() > 0, !cursor.atEnd else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected a frame such as 123#DEADBEEF after the interface")
        }

        try parseFrameBody(&cursor, into: &frame)

        // optional direction
        if cursor.skipSpaces() > 0 {
            if cursor.take(UInt8(ascii: "R")) {
                frame.direction = .received
            } else if cursor.take(UInt8(ascii: "T")) {
                frame.direction = .transmitted
            }
            cursor.skipSpaces()
        }
        guard cursor.atEnd else {
            throw CandumpSyntaxError(column: cursor.column, reason: "unexpected text after the frame")
        }
        return frame
    }

    static func parseTimestamp(_ cursor: inout ByteCursor) throws(CandumpSyntaxError) -> CANTimestamp {
        // Every line starts with 16-20 digits: read straight from the bytes, not through `peekDigit`'s optional,
        // and with wrapping arithmetic, which the digit limits (18 and 9) keep from overflowing. This loop was
        // 6% of `axle dbc decode`.
        let bytes = cursor.bytes
        let end = cursor.end
        var offset = cursor.offset
        let secondsStart = offset
        var seconds: Int64 = 0
        while offset < end {
            let digit = bytes[offset] &- 0x30
            guard digit < 10 else { break }
            guard offset &- secondsStart < 18 else {
                cursor.offset = offset
                throw CandumpSyntaxError(column: cursor.column, reason: "timestamp is too large")
            }
            seconds = seconds &* 10 &+ Int64(digit)
            offset &+= 1
        }
        cursor.offset = offset
        guard offset > secondsStart else { throw CandumpSyntaxError(column: cursor.column, reason: "expected a timestamp in seconds") }
        var nanoseconds: UInt32 = 0
        var fractionDigits: UInt8 = 0
        if cursor.take(UInt8(ascii: ".")) {
            offset = cursor.offset
            while offset < end {
                let digit = bytes[offset] &- 0x30
                guard digit < 10 else { break }
                guard fractionDigits < 9 else {
                    cursor.offset = offset
                    throw CandumpSyntaxError(column: cursor.column, reason: "timestamp has more than 9 decimal places")
                }
                nanoseconds = nanoseconds &* 10 &+ UInt32(digit)
                fractionDigits &+= 1
                offset &+= 1
            }
            cursor.offset = offset
            guard fractionDigits > 0 else {
                throw CandumpSyntaxError(column: cursor.column, reason: "expected digits after the decimal point")
            }
            for _ in fractionDigits..<9 { nanoseconds &*= 10 }
        }
        return CANTimestamp(seconds: seconds, nanoseconds: nanoseconds, fractionDigits: max(fractionDigits, 1))
    }

    static func parseFrameBody(_ cursor: inout ByteCursor, into frame: inout CANFrame) throws(CandumpSyntaxError) {
        let idColumn = cursor.column
        var id: UInt32 = 0
        var idDigits = 0
        while let nibble = cursor.peekHex {
            guard idDigits < 8 else { break }
            id = id << 4 | UInt32(nibble)
            idDigits += 1
            cursor.advance()
        }
        guard cursor.take(UInt8(ascii: "#")) else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected '#' after a 3- or 8-digit hex CAN id")
        }
        switch idDigits {
        case 3:
            guard id <= CANFrame.maxStandardID else {
                throw CandumpSyntaxError(column: idColumn, reason: "standard CAN id \(String(id, radix: 16, uppercase: true)) is above 7FF")
            }
            frame.id = id
            frame.isExtended = false
        case 8:
            if id & errorFlag != 0 {
                frame.kind = .error
                frame.id = id & CANFrame.maxExtendedID
                frame.isExtended = false
            } else {
                guard id <= CANFrame.maxExtendedID else {
                    throw CandumpSyntaxError(column: idColumn, reason: "extended CAN id has bits above 29 set")
                }
                frame.id = id
                frame.isExtended = true
            }
        default:
            throw CandumpSyntaxError(column: idColumn, reason: "a CAN id has 3 hex digits (11-bit) or 8 (29-bit), found \(idDigits)")
        }

        if frame.kind != .error, cursor.take(UInt8(ascii: "R")) {
            frame.kind = .remote
            if let dlc = cursor.peekHex {
                guard dlc <= 8 else { throw CandumpSyntaxError(column: cursor.column, reason: "remote frame DLC above 8") }
                frame.length = dlc
                cursor.advance()
                if dlc == 8, cursor.take(UInt8(ascii: "_")) { frame.len8DLC = try parseRawDLC(&cursor) }
            }
            return
        }

        var limit = 8
        if frame.kind != .error, cursor.take(UInt8(ascii: "#")) {
            guard let flags = cursor.peekHex else {
                throw CandumpSyntaxError(column: cursor.column, reason: "expected a CAN FD flags digit after '##'")
            }
            cursor.advance()
            frame.isFD = true
            frame.fdFlags = flags
            limit = CANPayload.capacity
        }

        var length = 0
        let dataError = frame.payload.withUnsafeMutableBytes { raw -> CandumpSyntaxError? in
            // Payload bytes are random, so a digit-or-letter branch per character is mispredicted about half the
            // time: that made this loop 13% of `axle dbc decode`. Whole pairs are converted without branching on
            // the characters; anything else (a '.', an odd digit, a byte too many, the end) is left to the loop
            // below, which reports it exactly as before.
            var offset = cursor.offset
            while offset + 1 < cursor.end, length < limit {
                let high = ByteCursor.hexValue(cursor.bytes[offset])
                let low = ByteCursor.hexValue(cursor.bytes[offset + 1])
                guard high | low < 0x10 else { break }
                raw[length] = high << 4 | low
                length += 1
                offset += 2
            }
            cursor.offset = offset
            while true {
                if cursor.peek == UInt8(ascii: "."), length > 0 { cursor.advance() }
                guard let high = cursor.peekHex else { return nil }
                cursor.advance()
                guard let low = cursor.peekHex else {
                    return CandumpSyntaxError(column: cursor.column, reason: "data has an odd number of hex digits")
                }
                cursor.advance()
                guard length < limit else {
                    return CandumpSyntaxError(column: cursor.column - 2, reason: "more than \(limit) data bytes")
                }
                raw[length] = high << 4 | low
                length += 1
            }
        }
        if let dataError { throw dataError }
        if frame.isFD, !CANFrame.validFDLengths.contains(length) {
            throw CandumpSyntaxError(column: cursor.column, reason: "\(length) bytes is not a CAN FD length (0-8, 12, 16, 20, 24, 32, 48, 64)")
        }
        frame.length = UInt8(length)
        if !frame.isFD, length == 8, cursor.take(UInt8(ascii: "_")) { frame.len8DLC = try parseRawDLC(&cursor) }
    }

    static func parseRawDLC(_ cursor: inout ByteCursor) throws(CandumpSyntaxError) -> UInt8 {
        guard let dlc = cursor.peekHex, dlc > 8 else {
            throw CandumpSyntaxError(column: cursor.column, reason: "expected a raw DLC digit 9-F after '_'")
        }
        cursor.advance()
        return dlc
    }
}

extension CANFrame {
    /// Payload lengths a CAN FD frame can have.
    public static let validFDLengths: Set<Int> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
}

/// Why a candump line could not be read, and at which column (1-based).
public struct CandumpSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: Int
    public var reason: String

    public init(column: Int, reason: String) {
        self.column = column
        self.reason = reason
    }

    public var description: String { "column \(column): \(reason)" }
}

/// Interface names seen recently, so that parsing a line does not allocate a new `String` for `can0` every time.
public struct InterfaceNameCache {
    private var names: [(bytes: [UInt8], name: String)] = []

    public init() {}

    mutating func name(for bytes: UnsafeRawBufferPointer) -> String {
        // A byte loop over raw buffers rather than `elementsEqual`, whose generic iterators cost more than the rest
        // of this function for every line.
        for entry in names where entry.bytes.count == bytes.count {
            let same = entry.bytes.withUnsafeBytes { known in
                for index in 0..<bytes.count where known[index] != bytes[index] { return false }
                return true
            }
            if same { return entry.name }
        }
        let name = String(decoding: bytes, as: UTF8.self)
        if names.count < 16 { names.append((Array(bytes), name)) }
        return name
    }
}

/// A read position in one line of bytes.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var end: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.end = bytes.count
    }

    var atEnd: Bool { offset >= end }
    var column: Int { offset + 1 }
    var peek: UInt8? { offset < end ? bytes[offset] : nil }

    var peekDigit: UInt8? {
        guard let byte = peek, byte >= 0x30, byte <= 0x39 else { return nil }
        return byte - 0x30
    }

    var peekHex: UInt8? {
        guard let byte = peek else { return nil }
        let value = Self.hexValue(byte)
        return value < 0x10 ? value : nil
    }

    /// The value of a hex digit (either case), or 0xFF for any other byte. Computed without branching on the
    /// byte: ids and payloads are random hex, which a digit-or-letter branch would mispredict half the time.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8 {
        // '0'-'9' are 0x30-0x39 (bit 6 clear); 'A'-'F' and 'a'-'f' end in 1-6 and have bit 6 set: add 9.
        let value = (byte & 0xF) &+ 9 &* (byte >> 6)
        let isDigit = byte &- 0x30 < 10
        let isLetter = (byte | 0x20) &- 0x61 < 6
        return isDigit || isLetter ? value : 0xFF
    }

    mutating func advance() { offset += 1 }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        offset += 1
        return true
    }

    @discardableResult
    mutating func skipSpaces() -> Int {
        let start = offset
        while let byte = peek, byte == 0x20 || byte == 0x09 { offset += 1 }
        return offset - start
    }

    mutating func trimTrailingCarriageReturn() {
        if end > 0, bytes[end - 1] == 0x0D { end -= 1 }
    }
}
