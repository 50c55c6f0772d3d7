/* The backend-specific half of `tbml run`: before the job starts (simulated-enclave notices,
 * key release and unsealing of sealed inputs, gramine export and delegation) and after it ends
 * (the result receipt). */
#ifndef TBML_TEE_RUNTIME_H
#define TBML_TEE_RUNTIME_H

#include "tee_internal.h"

typedef struct {
    int delegated; /* the job ran elsewhere (gramine-sgx); exit_code holds its status */
    int exit_code;
    char **argv_override; /* per argv index: replacement (sealed input -> /dev/fd/N), or NULL */
    size_t argc;
    int *fds; /* plaintext descriptors handed to the job */
    size_t nfds;
    json_t *inputs; /* [{path, sha256}] of inputs, for the receipt */
} tee_runtime;

TEE_HIDDEN tbml_status tee_runtime_start(const tbml_manifest_t *m, const tbml_run_options *ropt,
                                         const uint8_t meas[32], const uint8_t signer[32],
                                         tee_runtime *rt);
TEE_HIDDEN tbml_status tee_runtime_finish(const tbml_manifest_t *m, tee_runtime *rt,
                                          const uint8_t meas[32], const uint8_t signer[32],
                                          int exit_code);
TEE_HIDDEN void tee_runtime_free(tee_runtime *rt);

/* Writes the Gramine manifest template, the argv file and a README into dir (created if
 * missing). See docs/formats/manifest.md for the mapping. */
TEE_HIDDEN tbml_status tee_gramine_export(const tbml_manifest_t *m, const char *dir);

#endif
