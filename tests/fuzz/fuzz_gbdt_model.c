/* libFuzzer target for the GBDT model parser (docs/formats/gbdt-model.md). The CRC-32 trailer
 * is recomputed over the input first, so mutations reach the structure checks instead of all
 * stopping at the checksum; a model that parses is then walked by predict on a few rows, which
 * must end (children after parents) and stay inside the tree. */
#include "tbml/gbdt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    uint8_t *buf = malloc(size + 1);
    memcpy(buf, data, size);
    if (size >= 8) {
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(size - 4));
        memcpy(buf + size - 4, &crc, 4);
    }
    tbml_gbdt_model_t *m = NULL;
    if (tbml_gbdt_parse(buf, size, "fuzz.gbdt", &m) == TBML_OK) {
        int nf = tbml_gbdt_nfeatures(m);
        if (nf > 0 && nf <= 4096) {
            float *x = calloc((size_t)nf * 3, sizeof(float));
            for (int f = 0; f < nf; f++) {
                x[f] = NAN;
                x[nf + f] = (float)f - 1e6f;
                x[2 * nf + f] = 1e30f;
            }
            double out[3];
            if (tbml_gbdt_predict(m, x, 3, nf, 0, out) != TBML_OK) __builtin_trap();
            free(x);
        }
        double *imp = calloc((size_t)nf, sizeof(double));
        if (tbml_gbdt_importance(m, "gain", imp) != TBML_OK) __builtin_trap();
        free(imp);
        tbml_gbdt_free(m);
    }
    free(buf);
    return 0;
}
