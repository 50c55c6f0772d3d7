/* libFuzzer target for the key-file parser: untrusted bytes under a fixed password. Inputs whose
 * Argon2id parameters are valid but costly are skipped (the range checks themselves still run
 * on everything else), so the fuzzer spends its time on the format, not on the KDF. */
#include "fuzz_key.h"

#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 24) {
        uint32_t t = le32(data + 12), m = le32(data + 16), p = le32(data + 20);
        int in_range = t >= 1 && t <= 64 && p >= 1 && p <= 16 && m >= 8 * p && m <= (4u << 20);
        if (in_range && (t > 2 || m > 256)) return 0;
    }
    tbml_key_t *key = NULL;
    tbml_status st =
        tbml_keyfile_parse(data, size, "fuzz.key", FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), &key);
    if (st == TBML_OK) {
        /* a key that opens has a valid name that is the one stored in the file */
        const char *name = tbml_key_name(key);
        if (!tbml_key_name_valid(name) || size < 52 + strlen(name) ||
            memcmp(data + 52, name, strlen(name)) != 0)
            __builtin_trap();
        tbml_key_free(key);
    } else if (key) {
        __builtin_trap(); /* [out] written on failure */
    }
    return 0;
}
