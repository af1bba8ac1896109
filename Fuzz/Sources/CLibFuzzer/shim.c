#include "CLibFuzzer.h"

#include <stdlib.h>

// libFuzzer's documented entry point for use as a library ("Using libFuzzer as a library" in the LLVM docs); its
// runtime defines it but ships no header for it.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

void CLibFuzzer_runDriver(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size)) {
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback));
}
