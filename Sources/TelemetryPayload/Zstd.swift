import CZstd

/// zstd compression of whole payloads (libzstd), with decompression bounded so hostile input cannot exhaust memory.
public enum Zstd {
    /// The level payloads are compressed with: docs/payload.md ("Compression") has the measurements behind it.
    public static let defaultLevel: Int32 = 3

    /// The first four bytes of every zstd frame (28 B5 2F FD).
    public static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// Compresses `bytes` into one zstd frame that declares its decompressed size.
    public static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) throws(TelemetryPayloadError) -> [UInt8] {
        let capacity = CZstd_compressBound(bytes.count)
        var result: Int64 = 0
        let output = [UInt8](unsafeUninitializedCapacity: max(capacity, 1)) { buffer, count in
            result = bytes.withUnsafeBytes { input in
                CZstd_compress(buffer.baseAddress, capacity, input.baseAddress, input.count, level)
            }
            count = result >= 0 ? Int(result) : 0
        }
        guard result >= 0 else {
            throw TelemetryPayloadError(
                .encodingFailed,
                "zstd could not compress \(bytes.count) bytes at level \(level): \(errorDescription(result))")
        }
        return output
    }

    /// The most bytes compressing `size` bytes can produce.
    static func compressBound(_ size: Int) -> Int {
        CZstd_compressBound(size)
    }

    /// Decompresses zstd data, refusing (not truncating) data that would decompress to more than `maximumSize` bytes.
    public static func decompress(_ bytes: [UInt8], maximumSize: Int) throws(TelemetryPayloadError) -> [UInt8] {
        let maximumSize = max(maximumSize, 0)
        let declared = bytes.withUnsafeBytes { CZstd_declaredSize($0.baseAddress, $0.count) }
        if declared == CZstd_SIZE_ERROR {
            throw TelemetryPayloadError(.malformed, "the payload is not zstd data: its frame header is invalid or truncated")
        }
        if declared > Int64(maximumSize) {
            throw TelemetryPayloadError(
                .tooLarge,
                "the zstd payload declares \(declared) bytes of content, more than the maximum of \(maximumSize) bytes; "
                    + "refusing to decompress it (raise the maximum only if such payloads are expected)")
        }
        // Frames normally declare their size. When one does not, or more frames follow, the output buffer grows
        // (decompressing again from the start) so that memory follows the real size, not the maximum.
        var capacity = declared >= 0 ? Int(declared) : min(maximumSize, max(bytes.count * 8, 64 * 1024))
        while true {
            var result: Int64 = 0
            let output = [UInt8](unsafeUninitializedCapacity: max(capacity, 1)) { buffer, count in
                result = bytes.withUnsafeBytes { input in
                    CZstd_decompressBounded(
                        buffer.baseAddress, capacity, input.baseAddress, input.count, windowLogLimit(maximumSize))
                }
                count = result >= 0 ? Int(result) : 0
            }
            if result >= 0 { return output }
            guard result == -Int64(CZstd_errorOutputTooSmall()) else {
                throw TelemetryPayloadError(.malformed, "the zstd payload is corrupt or truncated: \(errorDescription(result))")
            }
            guard capacity < maximumSize else {
                throw TelemetryPayloadError(
                    .tooLarge,
                    "the zstd payload decompresses to more than the maximum of \(maximumSize) bytes; refusing it "
                        + "(a decompression bomb, or a maximum set too low for this sender)")
            }
            capacity = capacity >= maximumSize / 4 ? maximumSize : min(maximumSize, max(capacity, 16 * 1024) * 4)
        }
    }

    /// The largest window a frame may ask for: enough for any frame whose output fits the maximum, at least what
    /// common encoders use at their default levels (8 MiB), never more than zstd's own default limit (128 MiB).
    private static func windowLogLimit(_ maximumSize: Int) -> Int32 {
        let bits = Int32(Int.bitWidth - max(maximumSize - 1, 1).leadingZeroBitCount)
        return min(max(bits, 23), 27)
    }

    private static func errorDescription(_ result: Int64) -> String {
        String(cString: CZstd_errorDescription(Int32(truncatingIfNeeded: -result)))
    }
}
