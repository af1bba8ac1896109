#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer over `callback` with libFuzzer's command line, then exits with its status: what libFuzzer's own
/// `main` does. SwiftPM links an executable target's `main` to the module's `@main` type, so the fuzz targets call
/// this from there instead of relying on the `main` in libFuzzer's runtime.
_Noreturn void CLibFuzzer_runDriver(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));

#endif
