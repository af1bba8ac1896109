#include "CZstd.h"

int64_t CZstd_declaredSize(const void *src, size_t size) {
    unsigned long long declared = ZSTD_getFrameContentSize(src, size);
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN) return CZstd_SIZE_UNKNOWN;
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared > (unsigned long long)INT64_MAX) return CZstd_SIZE_ERROR;
    return (int64_t)declared;
}

size_t CZstd_compressBound(size_t size) {
    return ZSTD_compressBound(size);
}

int64_t CZstd_compress(void *dst, size_t capacity, const void *src, size_t size, int level) {
    size_t result = ZSTD_compress(dst, capacity, src, size, level);
    if (ZSTD_isError(result)) return -(int64_t)ZSTD_getErrorCode(result);
    return (int64_t)result;
}

int64_t CZstd_decompressBounded(void *dst, size_t capacity, const void *src, size_t size, int window_log_max) {
    if (size == 0) return -(int64_t)ZSTD_error_srcSize_wrong;
    ZSTD_DCtx *context = ZSTD_createDCtx();
    if (context == NULL) return -(int64_t)ZSTD_error_memory_allocation;
    int64_t result;
    size_t status = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, window_log_max);
    if (ZSTD_isError(status)) {
        result = -(int64_t)ZSTD_getErrorCode(status);
        goto done;
    }
    ZSTD_inBuffer input = { src, size, 0 };
    ZSTD_outBuffer output = { dst, capacity, 0 };
    for (;;) {
        size_t inputBefore = input.pos, outputBefore = output.pos;
        size_t expected = ZSTD_decompressStream(context, &output, &input);
        if (ZSTD_isError(expected)) {
            result = -(int64_t)ZSTD_getErrorCode(expected);
            goto done;
        }
        // 0: a frame ended and everything is flushed; more input may hold further frames.
        if (expected == 0 && input.pos == input.size) {
            result = (int64_t)output.pos;
            goto done;
        }
        // Without progress, either the output is full while the frame has more to give, or the input ended early.
        if (input.pos == inputBefore && output.pos == outputBefore) {
            result = output.pos == output.size ? -(int64_t)ZSTD_error_dstSize_tooSmall
                                               : -(int64_t)ZSTD_error_srcSize_wrong;
            goto done;
        }
    }
done:
    ZSTD_freeDCtx(context);
    return result;
}

int CZstd_errorOutputTooSmall(void) {
    return ZSTD_error_dstSize_tooSmall;
}

const char *CZstd_errorDescription(int code) {
    return ZSTD_getErrorString((ZSTD_ErrorCode)code);
}
