/* libFuzzer target for evidence verification: untrusted quote bytes. Evidence that verifies must
 * be exactly what the sim backend produces for the report it yields (Ed25519 is deterministic),
 * so no second encoding of a report can be accepted. */
#include "tee/evidence.h"

#include "tbml/tbml.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_report_t r;
    if (tbml_evidence_verify(data, size, &r) != TBML_OK) return 0;
    uint8_t *q = NULL;
    size_t n = 0;
    const tbml_evidence_backend *sim = tbml_evidence_backend_find("sim");
    if (!r.simulated || sim->get_quote(&r, &q, &n) != TBML_OK || n != size ||
        memcmp(q, data, n) != 0)
        __builtin_trap();
    tbml_free(q);
    return 0;
}
