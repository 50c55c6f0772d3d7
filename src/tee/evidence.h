/* Attestation evidence behind one interface (docs/protocols/evidence.md).
 *
 * A backend turns an enclave identity and 64 bytes of report data into evidence bytes (the
 * quote) and turns evidence back into a verified report. Backends: "none" (native, produces no
 * evidence), "sim" (a simulated quote signed by a simulated quoting key whose seed is public:
 * it proves nothing and says SIMULATED everywhere), "gramine" (inside a Gramine-SGX enclave the
 * quote comes from /dev/attestation; its verification is the DCAP slot). A DCAP quote provider
 * plugs in as another backend: fill get_quote and verify, add it to the table in evidence.c. */
#ifndef TBML_TEE_EVIDENCE_H
#define TBML_TEE_EVIDENCE_H

#include "tbml/core.h"

#define TBML_REPORT_DATA_SIZE 64

/* Evidence kinds, in the evidence header. */
enum { TBML_EVIDENCE_SIM = 1, TBML_EVIDENCE_DCAP = 2 };

/* What verified evidence says about the enclave. */
typedef struct {
    int kind;                /* TBML_EVIDENCE_* */
    int simulated;           /* 1 for sim: no hardware vouches for any of this */
    int debug;               /* debug enclave: the host can read its memory */
    uint8_t measurement[32]; /* MRENCLAVE role: tbml's manifest measurement */
    uint8_t mrsigner[32];
    uint16_t product_id, svn;
    uint8_t report_data[TBML_REPORT_DATA_SIZE];
} tbml_report_t;

typedef struct {
    const char *name;
    /* Evidence for r (identity and report data); *out is tbml_free'd by the caller. NULL for
     * backends that cannot produce evidence. */
    tbml_status (*get_quote)(const tbml_report_t *r, uint8_t **out, size_t *out_size);
    /* Checks evidence of this backend's kind and fills out. */
    tbml_status (*verify)(const uint8_t *ev, size_t size, tbml_report_t *out);
} tbml_evidence_backend;

/* The backend named name ("none", "sim", "gramine", "dcap"), or NULL. */
const tbml_evidence_backend *tbml_evidence_backend_find(const char *name);

/* Verifies any evidence, dispatching on its header. Bad signature or damage: TBML_E_AUTH;
 * a kind this build cannot verify: TBML_E_UNSUPPORTED. */
TBML_NODISCARD tbml_status tbml_evidence_verify(const uint8_t *ev, size_t size, tbml_report_t *out);

/* The simulated quoting key's public half (its seed is SHA-256 of a public string). */
TBML_NODISCARD tbml_status tbml_evidence_sim_public(uint8_t pub[32]);

#define TBML_SIM_QUOTE_SIZE 216
#define TBML_SIM_QUOTE_MAGIC "TBMLQUOT"
#define TBML_SIM_QE_SEED_STRING "tbml simulated quoting key v1 - not a secret, not a TEE"

#endif
