import Testing
import TelemetryPayload

/// Writes protobuf fields by hand, to make payloads the builder never would.
private struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    mutating func field(_ number: UInt64, varint value: UInt64) {
        varint(number << 3)
        varint(value)
    }

    mutating func field(_ number: UInt64, bytes value: [UInt8]) {
        varint(number << 3 | 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func field(_ number: UInt64, packedSInt64 values: [Int64]) {
        var packed = ProtobufWriter()
        for value in values { packed.varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
        field(number, bytes: packed.bytes)
    }
}

/// zstd frames made by hand: RLE blocks expand 4 bytes of input into 128 KiB of output.
private enum ZstdFrames {
    static let blockSize = 128 * 1024

    /// A frame of `blocks` RLE blocks (of 128 KiB unless told), declaring its content size or not.
    static func rle(blocks: Int, declaredSize: UInt64?, blockSize: Int = blockSize) -> [UInt8] {
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        if let declaredSize {
            // Frame header descriptor: 8-byte content size, single segment (no window descriptor).
            frame.append(0b1110_0000)
            for shift in stride(from: 0, to: 64, by: 8) { frame.append(UInt8(truncatingIfNeeded: declaredSize >> shift)) }
        } else {
            frame.append(0)
            frame.append(7 << 3)  // window descriptor: 2^(10+7) = 128 KiB
        }
        for index in 0..<blocks {
            let last: UInt32 = index == blocks - 1 ? 1 : 0
            let header = UInt32(blockSize) << 3 | 1 << 1 | last
            frame += [UInt8(header & 0xFF), UInt8(header >> 8 & 0xFF), UInt8(header >> 16 & 0xFF), UInt8(ascii: "A")]
        }
        return frame
    }
}

@Suite("malformed input")
struct MalformedInputTests {
    private func expectError(
        _ bytes: [UInt8], code: TelemetryPayloadError.Code, mentioning text: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let decoded = try TelemetryPayloadDecoder.decode(bytes)
            Issue.record("decoded \(decoded.samples.count) samples from bad input", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let text { #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation) }
        }
    }

    @Test("empty input and random bytes are refused with an error, never a crash")
    func garbage() {
        expectError([], code: .malformed, mentioning: "empty")
        var random = SeededRandom(state: 99)
        for round in 0..<3000 {
            var bytes = (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Also garbage behind each format's first bytes, so every decoding path sees it.
            switch round % 4 {
            case 1: bytes = Zstd.magic + bytes
            case 2: bytes = Array("{\"series\":".utf8) + bytes
            case 3: bytes = [0x08, 0x01] + bytes
            default: break
            }
            // Behind [0x08, 0x01] (schema_version = 1) random bytes may happen to be fields of a valid protobuf
            // message; anything else must be refused, with an error that says why.
            do {
                let decoded = try TelemetryPayloadDecoder.decode(bytes)
                #expect(round % 4 == 3, "round \(round): decoded \(decoded.samples.count) samples from random bytes \(bytes.prefix(16))")
            } catch {
                #expect(!error.description.isEmpty, "round \(round): an error without a reason")
            }
        }
    }

    @Test("every truncation of a compressed or JSON payload is refused with an error, and no truncation or bit flip crashes")
    func truncatedAndFlipped() throws {
        let builder = SyntheticDrive().batch(seconds: 1)
        let compressed = try builder.encode(format: .protobufZstd) { _ in 77 }[0]
        for length in 0..<compressed.count {
            expectError(Array(compressed[..<length]), code: .malformed)
        }
        // A JSON document cut short is never valid JSON.
        let json = try builder.encode(format: .json) { _ in 77 }[0]
        for length in stride(from: 0, to: json.count, by: max(1, json.count / 2000)) {
            expectError(Array(json[..<length]), code: .malformed)
        }
        // A protobuf message cut at a field boundary is a shorter valid message, so only some truncations can be
        // refused; the others must decode to no more than the whole payload had.
        let protobuf = try builder.encode(format: .protobuf) { _ in 77 }[0]
        let whole = try TelemetryPayloadDecoder.decode(protobuf).samples.count
        var refusedTruncations = 0
        for length in stride(from: 0, to: protobuf.count, by: max(1, protobuf.count / 2000)) {
            do {
                #expect(try TelemetryPayloadDecoder.decode(Array(protobuf[..<length])).samples.count <= whole)
            } catch {
                refusedTruncations += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(refusedTruncations > 0, "no truncation of a protobuf payload was refused")
        // The encoder writes zstd frames without a content checksum, so a flipped bit inside the compressed data can
        // decode to different values: here only a crash would be a defect. A third of the flips decode today.
        var random = SeededRandom(state: 5)
        for _ in 0..<2000 {
            var flipped = compressed
            let index = Int.random(in: 4..<flipped.count, using: &random)
            flipped[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            do {
                _ = try TelemetryPayloadDecoder.decode(flipped)
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test("a protobuf message that is not an Axle batch, or from a newer schema, is refused")
    func schemaVersion() {
        var noVersion = ProtobufWriter()
        noVersion.field(2, bytes: Array("VIN".utf8))
        expectError(noVersion.bytes, code: .malformed, mentioning: "schema_version")

        var newer = ProtobufWriter()
        newer.field(1, varint: 2)
        expectError(newer.bytes, code: .unsupportedSchemaVersion, mentioning: "version 2")
        expectError(Array(#"{"schemaVersion": 3}"#.utf8), code: .unsupportedSchemaVersion)

        // Fields a newer schema may add are skipped, in binary and JSON alike.
        var withUnknown = ProtobufWriter()
        withUnknown.field(1, varint: 1)
        withUnknown.field(99, bytes: [1, 2, 3])
        #expect((try? TelemetryPayloadDecoder.decode(withUnknown.bytes)) != nil)
        #expect((try? TelemetryPayloadDecoder.decode(Array(#"{"schemaVersion": 1, "futureField": [1]}"#.utf8))) != nil)
    }

    @Test("series whose columns disagree, or whose times overflow, are refused")
    func inconsistentSeries() {
        func batch(_ series: ProtobufWriter, base: Int64 = 0) -> [UInt8] {
            var batch = ProtobufWriter()
            batch.field(1, varint: 1)
            batch.field(5, varint: UInt64(bitPattern: base))
            batch.field(6, varint: 1000)
            batch.field(7, bytes: series.bytes)
            return batch.bytes
        }
        var shortValues = ProtobufWriter()
        shortValues.field(1, bytes: Array("Speed".utf8))
        shortValues.field(5, packedSInt64: [0, 20, 20])
        shortValues.field(6, packedSInt64: [5, 1])
        expectError(batch(shortValues), code: .malformed, mentioning: "3 times but 2 raw values")

        var both = ProtobufWriter()
        both.field(1, bytes: Array("Speed".utf8))
        both.field(5, packedSInt64: [0])
        both.field(6, packedSInt64: [5])
        both.field(7, bytes: [0, 0, 0, 0, 0, 0, 0, 0])
        expectError(batch(both), code: .malformed, mentioning: "both")

        var late = ProtobufWriter()
        late.field(1, bytes: Array("Speed".utf8))
        late.field(5, packedSInt64: [0, Int64.max / 1000])
        late.field(6, packedSInt64: [1, 1])
        expectError(batch(late, base: 1_000_000), code: .malformed, mentioning: "outside the range")

        var shortKinds = ProtobufWriter()
        shortKinds.field(1, bytes: Array("Vehicle.Private.Trailer.CargoTemperature".utf8))
        shortKinds.field(8, packedSInt64: [0, 1000])
        shortKinds.field(9, bytes: [1])
        expectError(batch(shortKinds), code: .malformed, mentioning: "2 not_reading_time_deltas but 1 not_readings")

        // Markers of a kind this decoder does not know (a later schema's) still say "no reading".
        var futureKind = ProtobufWriter()
        futureKind.field(1, bytes: Array("Vehicle.Private.Trailer.CargoTemperature".utf8))
        futureKind.field(8, packedSInt64: [5])
        futureKind.field(9, bytes: [7])
        #expect((try? TelemetryPayloadDecoder.decode(batch(futureKind)))?.notReadings.map(\.kind) == [.notAvailable])

        var noUnit = ProtobufWriter()
        noUnit.field(1, varint: 1)
        noUnit.field(7, bytes: shortValues.bytes)
        expectError(noUnit.bytes, code: .malformed, mentioning: "time_unit_micros")
    }

    @Test("zstd decompression refuses bombs, declared or not, instead of filling memory")
    func zstdBombs() throws {
        // 128 KiB from 4 bytes of block: genuine, small, accepted.
        let small = try Zstd.decompress(ZstdFrames.rle(blocks: 1, declaredSize: nil), maximumSize: 1 << 20)
        #expect(small.count == ZstdFrames.blockSize)
        #expect(small.allSatisfy { $0 == UInt8(ascii: "A") })

        // The maximum is exact, whatever the buffer sizes inside.
        let exact = ZstdFrames.rle(blocks: 1, declaredSize: nil, blockSize: 40_000)
        #expect(try Zstd.decompress(exact, maximumSize: 40_000).count == 40_000)
        #expect(throws: TelemetryPayloadError.self) { try Zstd.decompress(exact, maximumSize: 39_999) }
        #expect(throws: TelemetryPayloadError.self) { try Zstd.decompress(exact, maximumSize: 10) }
        let smallThenLarge = ZstdFrames.rle(blocks: 1, declaredSize: 100, blockSize: 100)
            + ZstdFrames.rle(blocks: 1, declaredSize: nil, blockSize: 5000)
        #expect(throws: TelemetryPayloadError.self) { try Zstd.decompress(smallThenLarge, maximumSize: 1000) }
        #expect(try Zstd.decompress(smallThenLarge, maximumSize: 5100).count == 5100)

        // A header claiming a terabyte is refused before anything is allocated.
        let declared = ZstdFrames.rle(blocks: 1, declaredSize: 1 << 40)
        do {
            _ = try Zstd.decompress(declared, maximumSize: 4 << 20)
            Issue.record("a frame declaring 1 TiB was accepted")
        } catch {
            #expect(error.code == .tooLarge)
            #expect(error.description.contains("1099511627776"))
        }

        // 512 RLE blocks (2 KiB of input) expand to 64 MiB without saying so: stopped at the maximum.
        let undeclared = ZstdFrames.rle(blocks: 512, declaredSize: nil)
        #expect(undeclared.count < 2100)
        do {
            _ = try Zstd.decompress(undeclared, maximumSize: 4 << 20)
            Issue.record("a 64 MiB bomb was accepted")
        } catch {
            #expect(error.code == .tooLarge)
        }
        expectError(undeclared, code: .tooLarge)

        // A frame whose declared size is honest but under-reports what follows (a second frame) is still bounded.
        let twoFrames = ZstdFrames.rle(blocks: 1, declaredSize: UInt64(ZstdFrames.blockSize)) + undeclared
        do {
            _ = try Zstd.decompress(twoFrames, maximumSize: 1 << 20)
            Issue.record("a second frame beyond the maximum was accepted")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test("a real payload over the caller's maximum is refused; zstd inside zstd is refused")
    func limits() throws {
        let payload = try SyntheticDrive().batch(seconds: 1).encode(format: .protobufZstd) { _ in 1 }[0]
        do {
            _ = try TelemetryPayloadDecoder.decode(payload, maximumDecompressedSize: 1000)
            Issue.record("decoded past the maximum")
        } catch {
            #expect(error.code == .tooLarge)
        }
        expectError(try Zstd.compress(payload), code: .malformed, mentioning: "another zstd payload")
        #expect(try Zstd.decompress(try Zstd.compress([1, 2, 3]), maximumSize: 3) == [1, 2, 3])
        #expect(try Zstd.decompress(try Zstd.compress([]), maximumSize: 0) == [])
    }
}
