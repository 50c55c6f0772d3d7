/* The fixed key and password the fuzz targets and their seed corpus share, so valid files in the
 * corpus open and the fuzzer explores past authentication. Test-only; never a real secret. */
#ifndef TBML_FUZZ_KEY_H
#define TBML_FUZZ_KEY_H

#include "tbml/seal.h"

#define FUZZ_KEY_NAME "fuzz-key"
#define FUZZ_PASSWORD "fuzz-password"

static inline tbml_key_t *fuzz_key(void)
{
    static tbml_key_t *key;
    if (!key) {
        uint8_t b[TBML_KEY_SIZE];
        for (int i = 0; i < TBML_KEY_SIZE; i++)
            b[i] = (uint8_t)(0xA0 + i);
        if (tbml_key_from_bytes(FUZZ_KEY_NAME, b, &key)) __builtin_trap();
    }
    return key;
}

#endif
