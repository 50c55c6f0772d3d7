/* libFuzzer target for the manifest parser: untrusted JSON. A manifest that parses must have a
 * canonical form that parses again to the same measurement (the canonical bytes are a fixed
 * point), so the measurement cannot depend on formatting. */
#include "tbml/tee.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_manifest_t *m = NULL, *again = NULL;
    if (tbml_manifest_parse(data, size, "fuzz.json", &m) != TBML_OK) return 0;
    uint8_t a[32], b[32];
    char *bytes = NULL;
    size_t n = 0;
    if (tbml_manifest_measure(m, a) != TBML_OK || tbml_manifest_canonical(m, &bytes, &n) != TBML_OK)
        __builtin_trap();
    size_t skip = strlen(TBML_MEASUREMENT_PREFIX);
    if (n < skip || memcmp(bytes, TBML_MEASUREMENT_PREFIX, skip) != 0) __builtin_trap();
    if (tbml_manifest_parse(bytes + skip, n - skip, "canonical", &again) != TBML_OK)
        __builtin_trap();
    if (tbml_manifest_measure(again, b) != TBML_OK || memcmp(a, b, 32) != 0) __builtin_trap();
    tbml_free(bytes);
    tbml_manifest_free(again);
    tbml_manifest_free(m);
    return 0;
}
