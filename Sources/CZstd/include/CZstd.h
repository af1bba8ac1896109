// C at the edge: the zstd calls the telemetry payload needs, with the loop and the macros Swift cannot use directly
// (ZSTD_CONTENTSIZE_* are `(0ULL - 1)` expressions, which do not import). Every symbol is prefixed CZstd_. Functions
// return a size (>= 0) on success and -(zstd error code) on failure; CZstd_errorDescription explains a code.
#ifndef CZstd_H
#define CZstd_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>
#include <zstd_errors.h>

/// `CZstd_declaredSize` result: the frame does not state its decompressed size.
#define CZstd_SIZE_UNKNOWN (-1)
/// `CZstd_declaredSize` result: the bytes do not start with a zstd frame header.
#define CZstd_SIZE_ERROR (-2)

/// The decompressed size the first frame of `src` declares in its header (ZSTD_getFrameContentSize): >= 0, or
/// CZstd_SIZE_UNKNOWN, or CZstd_SIZE_ERROR.
int64_t CZstd_declaredSize(const void *src, size_t size);

/// The most bytes compressing `size` bytes can produce (ZSTD_compressBound).
size_t CZstd_compressBound(size_t size);

/// Compresses `src` into one frame that declares its size (ZSTD_compress), writing at most `capacity` bytes to `dst`.
/// Returns the compressed size, or -(zstd error code).
int64_t CZstd_compress(void *dst, size_t capacity, const void *src, size_t size, int level);

/// Decompresses every frame in `src` into `dst` (ZSTD_decompressStream), never writing more than `capacity` bytes and
/// refusing frames whose window is larger than 2^window_log_max, so hostile input costs bounded memory.
/// Returns the decompressed size, or -(zstd error code): -ZSTD_error_dstSize_tooSmall when the data decompresses to
/// more than `capacity` bytes, -ZSTD_error_srcSize_wrong when the input is empty or ends inside a frame.
int64_t CZstd_decompressBounded(void *dst, size_t capacity, const void *src, size_t size, int window_log_max);

/// The error code for "the output would exceed the capacity" (ZSTD_error_dstSize_tooSmall).
int CZstd_errorOutputTooSmall(void);

/// A readable description of a zstd error code (the positive value of a negative result above).
const char *CZstd_errorDescription(int code);

#endif
