/* libFuzzer target for the IDX parser: untrusted bytes as an IDX file. A parse that succeeds
 * must describe exactly the bytes it was given. */
#include "tbml/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_idx_t *t = NULL;
    tbml_status st = tbml_idx_parse(data, size, "fuzz.idx", &t);
    if (st == TBML_OK) {
        if (!t || size != 4 + 4 * (size_t)t->ndim + t->count * t->elem_size) __builtin_trap();
        tbml_idx_free(t);
    } else if (t) {
        __builtin_trap(); /* [out] written on failure */
    }
    return 0;
}
