/* The trusted runtime: job manifests, their measurement and signature, measured launch, and the
 * submit path that does manifest + sign + run in one call (docs/formats/manifest.md).
 *
 * A manifest fixes everything the host could otherwise choose: the program, its argv and
 * environment, its working folder, every file it trusts (with SHA-256), its sealed inputs, limits,
 * log level and TEE backend. The measurement is SHA-256 over a documented canonical byte string of
 * the manifest, so anyone can recompute it from the same inputs. The signature is RSA-3072 with
 * e = 3 (the SGX enclave-signing key shape); MRSIGNER is SHA-256 of the modulus. */
#ifndef TBML_TEE_H
#define TBML_TEE_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_MANIFEST_VERSION 1
#define TBML_MEASUREMENT_SIZE 32
/* The bytes hashed for the measurement start with this line (then the canonical JSON). */
#define TBML_MEASUREMENT_PREFIX "tbml-measurement-v1\n"
/* The bytes the enclave key signs: this line, then the 32-byte measurement. */
#define TBML_SIGSTRUCT_PREFIX "tbml-sigstruct-v1\n"

/* A parsed, validated manifest. Opaque; one thread at a time. */
typedef struct tbml_manifest tbml_manifest_t;

/* What `tbml manifest` and `tbml submit` take besides APP ARGS. Lists are argv-style arrays
 * owned by the caller. Zero-initialise, then set what was given. */
typedef struct {
    const char *name;      /* job name; default: the entrypoint's base name */
    const char *backend;   /* "none", "sim" or "gramine"; default "none" */
    const char *log_level; /* default "warn" */
    uint64_t memory_size;  /* enclave / address-space limit in bytes; 0 = none */
    int threads;           /* 0 = unset */
    int product_id, svn;   /* ISV product id and security version, 0..65535 */
    int debug;             /* debug enclave (its memory is readable by the host) */
    const char **trusted;  /* --trusted PATH: extra trusted files */
    size_t ntrusted;
    const char **inputs; /* --input PATH[=SHA256]: expected inputs (hash taken now if absent) */
    size_t ninputs;
    const char **sealed; /* --sealed PATH: sealed inputs (key name read from the header) */
    size_t nsealed;
    const char **outputs; /* --output PATH: files the job writes, hashed into the receipt */
    size_t noutputs;
    const char **env; /* --env K=V added to the fixed environment */
    size_t nenv;
    const char **conf; /* --conf k=v, kept in the manifest (measured) */
    size_t nconf;
    const char *receipt; /* --receipt PATH: where `tbml run` writes the result receipt */
} tbml_manifest_options;

/* Parses one submit/manifest option at argv[*i] into opt (its strings point into argv; lists
 * are grown with tbml_realloc and freed by tbml_manifest_options_free). Returns 1 and advances
 * *i past the option and its value if it took it, 0 if argv[*i] is not one of these options,
 * or a negative status (TBML_E_ARG, message set) for a bad value. Recognised: --name,
 * --tee-backend, --sgx-enabled true|false, --sgx-log-level/--log-level, --sgx-driver-memory,
 * --sgx-executor-memory, --driver-memory, --executor-memory, --executor-cores, --master
 * local[N], --product-id, --svn, --debug, --trusted, --input, --sealed, --output, --env,
 * --conf, --receipt. */
int tbml_manifest_option(int argc, char **argv, int *i, tbml_manifest_options *opt);
void tbml_manifest_options_free(tbml_manifest_options *opt);

/* Builds a manifest for APP ARGS (argv[0] is APP): resolves APP on PATH, measures it, the ELF
 * interpreter and every shared library it needs (DT_NEEDED resolution done here, see
 * docs/formats/manifest.md), a #! interpreter, every argument naming an existing file, and the
 * extra files. The result is unsigned. Fails naming the file that could not be read. */
TBML_NODISCARD tbml_status tbml_manifest_build(const tbml_manifest_options *opt, int argc,
                                               char *const *argv, tbml_manifest_t **out);

/* Reads and strictly validates a manifest (unknown members, wrong types, bad hashes: TBML_E_FORMAT
 * with the member's name). Does not check signatures or files. */
TBML_NODISCARD tbml_status tbml_manifest_load(const char *path, tbml_manifest_t **out);
TBML_NODISCARD tbml_status tbml_manifest_parse(const void *buf, size_t size, const char *name,
                                               tbml_manifest_t **out);
/* Writes the manifest (pretty JSON, sorted keys) through a temporary file + rename. */
TBML_NODISCARD tbml_status tbml_manifest_write(const tbml_manifest_t *m, const char *path);
void tbml_manifest_free(tbml_manifest_t *m);

/* The exact bytes hashed for the measurement: TBML_MEASUREMENT_PREFIX followed by the RFC 8785
 * canonical JSON of the manifest without its "signature" member. tbml_free the result. */
TBML_NODISCARD tbml_status tbml_manifest_canonical(const tbml_manifest_t *m, char **out,
                                                   size_t *out_size);
TBML_NODISCARD tbml_status tbml_manifest_measure(const tbml_manifest_t *m,
                                                 uint8_t out[TBML_MEASUREMENT_SIZE]);

/* Signs with an RSA-3072 e=3 private key (PEM), replacing any earlier signature. */
TBML_NODISCARD tbml_status tbml_manifest_sign(tbml_manifest_t *m, const char *key_pem_path);
/* Checks the signature (e = 3 and 3072 bits enforced) against the manifest's current
 * measurement. Unsigned or mismatching: TBML_E_POLICY naming what to do. On success writes the
 * measurement (MRENCLAVE role) and MRSIGNER (each may be NULL). */
TBML_NODISCARD tbml_status tbml_manifest_verify(const tbml_manifest_t *m,
                                                uint8_t measurement[TBML_MEASUREMENT_SIZE],
                                                uint8_t mrsigner[TBML_MEASUREMENT_SIZE]);
/* Re-hashes every trusted file; the first mismatch or unreadable file fails with TBML_E_POLICY
 * naming the file, the expected and the actual hash, and what to do. */
TBML_NODISCARD tbml_status tbml_manifest_check_files(const tbml_manifest_t *m);

/* Accessors; strings are owned by m. */
const char *tbml_manifest_name(const tbml_manifest_t *m);
const char *tbml_manifest_backend(const tbml_manifest_t *m);
int tbml_manifest_product_id(const tbml_manifest_t *m);
int tbml_manifest_svn(const tbml_manifest_t *m);
int tbml_manifest_debug(const tbml_manifest_t *m);
/* The value of --conf key, or NULL. */
const char *tbml_manifest_conf(const tbml_manifest_t *m, const char *key);

/* What `tbml run` may take from the host: nothing that changes the measured job. */
typedef struct {
    const char
        *kms_url; /* --conf tbml.kms.url=...: where the key service is (its CA is measured) */
    const char *gramine_dir; /* gramine backend: where to write the exported manifest */
    int dry_run;             /* verify everything, print the command, do not exec */
} tbml_run_options;

/* The pal_loader role: verifies the signature and every trusted file, sets limits, builds the
 * environment from the manifest only, fetches keys from the key service when the manifest has
 * sealed inputs, starts the job with the manifest's argv, waits for it, and writes the signed
 * result receipt when the manifest asks for one. *exit_code gets the job's exit status (128 +
 * signal if killed). A failed check returns TBML_E_POLICY before anything runs. */
TBML_NODISCARD tbml_status tbml_tee_run(const tbml_manifest_t *m, const tbml_run_options *ropt,
                                        int *exit_code);

/* `tbml submit --sgx-enabled true --enclave-key K ...`: builds the manifest for APP ARGS, writes
 * it to manifest_out (NULL: a temporary file removed afterwards), signs it with the key at
 * enclave_key_path, and runs it. For tools/tbml/cmd_submit.c. */
TBML_NODISCARD tbml_status tbml_tee_submit(const tbml_manifest_options *opt,
                                           const char *enclave_key_path, const char *manifest_out,
                                           const tbml_run_options *ropt, int argc,
                                           char *const *argv, int *exit_code);

/* ---- result receipts (docs/formats/receipt.md) ------------------------------------------- */

/* What a verifier expects; NULL members are not checked. */
typedef struct {
    const uint8_t *measurement; /* 32 bytes */
    const uint8_t *mrsigner;    /* 32 bytes */
    int check_outputs;          /* re-hash the output files named in the receipt */
} tbml_receipt_check;

typedef struct {
    uint8_t measurement[32], mrsigner[32];
    int simulated, debug, exit_code;
    size_t ninputs, noutputs;
} tbml_receipt_info;

/* Verifies a receipt: its evidence (signature of the quoting key), that the evidence's report
 * data binds the receipt body, that the identity in the body is the evidence's, then chk.
 * Tampering: TBML_E_AUTH; unmet expectation or no evidence: TBML_E_POLICY. Simulated evidence
 * verifies (info->simulated = 1): callers must say SIMULATED. */
TBML_NODISCARD tbml_status tbml_receipt_verify(const char *path, const tbml_receipt_check *chk,
                                               tbml_receipt_info *info);

/* ---- the running job's own evidence (docs/protocols/evidence.md, "The job's own evidence") - */

/* Set by `tbml run` (sim backend) in the job's environment: the number of the inherited
 * descriptor on which the runtime answers quote requests (Gramine's /dev/attestation role). */
#define TBML_TEE_ATTEST_FD_ENV "TBML_TEE_ATTEST_FD"
/* Set by `tbml run` from the manifest's --conf tbml.dist.peer_measurements (comma-separated hex):
 * measurements of other code the job's distributed peers may run besides its own. */
#define TBML_TEE_PEERS_ENV "TBML_TEE_PEER_MEASUREMENTS"

/* A job's handle on its own evidence. One thread at a time. */
typedef struct tbml_tee_self tbml_tee_self_t;

/* Opens this process's way to evidence about itself: /dev/attestation inside a Gramine-SGX
 * enclave, else the runtime's descriptor in TBML_TEE_ATTEST_FD (a job started by `tbml run` with
 * the sim backend). A process started neither way gets *out = NULL and TBML_OK: it has no
 * evidence. A variable that names no usable descriptor fails (TBML_E_POLICY) rather than
 * quietly running without evidence. Free with tbml_tee_self_free. */
TBML_NODISCARD tbml_status tbml_tee_self_open(tbml_tee_self_t **out);
/* The same over an attestation descriptor the caller holds (tests). In both cases the descriptor
 * stays open after tbml_tee_self_free (a later communicator may open it again); handles on one
 * descriptor may be used from several threads. */
TBML_NODISCARD tbml_status tbml_tee_self_open_fd(int fd, tbml_tee_self_t **out);
void tbml_tee_self_free(tbml_tee_self_t *s);
/* 1 for simulated evidence (the sim backend: it proves nothing). */
int tbml_tee_self_simulated(const tbml_tee_self_t *s);

/* Evidence about this job over 64 bytes of report data the caller chooses (tbml_free *out).
 * Simulated evidence is checked on arrival (signature, report data), which also gives the job
 * its own identity for tbml_tee_self_check_peer. The runtime gone or refusing: TBML_E_POLICY. */
TBML_NODISCARD tbml_status tbml_tee_self_quote(tbml_tee_self_t *s, const uint8_t report_data[64],
                                               uint8_t **out, size_t *out_size);

/* Checks a peer's evidence against this job: it verifies (TBML_E_UNSUPPORTED for SGX quotes,
 * which need a DCAP verification provider this build lacks), it is of the same kind (simulated
 * or not), its measurement is this job's own or one listed in TBML_TEE_PEER_MEASUREMENTS, its
 * MRSIGNER and product id are this job's, its SVN not lower, it is not a debug enclave unless
 * this job is one too, and its report data equals report_data. Any failed check: TBML_E_AUTH
 * with a message that starts "evidence" and names the check. */
TBML_NODISCARD tbml_status tbml_tee_self_check_peer(tbml_tee_self_t *s, const uint8_t *ev,
                                                    size_t size, const uint8_t report_data[64]);

/* ---- the runtime's side of the sim attestation channel ------------------------------------ */

/* The identity the runtime vouches for (from the verified manifest). */
typedef struct {
    uint8_t measurement[TBML_MEASUREMENT_SIZE], mrsigner[TBML_MEASUREMENT_SIZE];
    uint16_t product_id, svn;
    int debug;
} tbml_tee_identity;

typedef struct tbml_tee_attest_server tbml_tee_attest_server_t;
/* Answers quote requests on fd (one end of a SOCK_SEQPACKET socketpair whose other end the job
 * holds) with simulated quotes for id, on a thread of its own, until stopped. Takes fd. */
TBML_NODISCARD tbml_status tbml_tee_attest_server_start(int fd, const tbml_tee_identity *id,
                                                        tbml_tee_attest_server_t **out);
/* Stops answering, joins the thread and closes fd. NULL is fine. */
void tbml_tee_attest_server_stop(tbml_tee_attest_server_t *s);

#ifdef __cplusplus
}
#endif
#endif
