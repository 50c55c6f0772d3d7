/* Internal interfaces of src/tee: ELF dependency resolution, file hashing, canonical JSON. */
#ifndef TBML_TEE_INTERNAL_H
#define TBML_TEE_INTERNAL_H

#include "evidence.h"
#include "tbml/tee.h"

#include <jansson.h>

#define TEE_HIDDEN __attribute__((visibility("hidden")))

/* A growable list of owned strings. */
typedef struct {
    char **items;
    size_t count;
} tee_strlist;
TEE_HIDDEN void tee_strlist_add(tee_strlist *l, const char *s);
TEE_HIDDEN int tee_strlist_has(const tee_strlist *l, const char *s);
TEE_HIDDEN void tee_strlist_free(tee_strlist *l);

/* Resolves what the dynamic loader would load for the ELF file at path: its PT_INTERP and the
 * transitive closure of DT_NEEDED, searched in DT_RPATH (when no DT_RUNPATH), DT_RUNPATH ($ORIGIN
 * expanded), the folders of /etc/ld.so.conf (includes followed), then /lib and /usr/lib.
 * LD_LIBRARY_PATH is ignored on purpose: the manifest fixes the environment. Appends absolute
 * paths to out (no duplicates, by real path). A file that is not ELF appends nothing and is ok;
 * a needed library that cannot be found fails with TBML_E_NOTFOUND naming it. */
TEE_HIDDEN tbml_status tee_elf_deps(const char *path, tee_strlist *out);

/* SHA-256 of a whole file, read through fd (not closed). */
TEE_HIDDEN tbml_status tee_hash_fd(int fd, const char *path, uint8_t out[32]);
TEE_HIDDEN tbml_status tee_hash_file(const char *path, uint8_t out[32]);

/* RFC 8785 canonical JSON of v (integers, strings, booleans, null, arrays, objects only) appended
 * to a growing buffer. Reals fail with TBML_E_FORMAT. */
typedef struct {
    char *data;
    size_t size, cap;
} tee_buf;
TEE_HIDDEN void tee_buf_add(tee_buf *b, const void *p, size_t n);
TEE_HIDDEN void tee_buf_str(tee_buf *b, const char *s);
TEE_HIDDEN tbml_status tee_canonical_json(const json_t *v, tee_buf *b);
/* SHA-256 of prefix (prefix_size bytes, a domain string or a chain link; may be empty) followed
 * by the canonical JSON of v: what receipts and the key service's audit log commit to. */
TEE_HIDDEN tbml_status tee_json_sha256(const void *prefix, size_t prefix_size, const json_t *v,
                                       uint8_t out[32]);

/* Validates root as a manifest and wraps it, taking the reference on success. */
TEE_HIDDEN tbml_status tee_manifest_wrap(json_t *root, const char *name, tbml_manifest_t **out);

/* The manifest's JSON root (borrowed). */
TEE_HIDDEN json_t *tee_manifest_json(const tbml_manifest_t *m);

/* Parses 64 hex digits into 32 bytes: 0 on success, -1 otherwise. */
TEE_HIDDEN int tee_unhex(const char *hex, uint8_t *out, size_t size);

/* The identity a quote is made for: m's product id, svn and debug flag with the given measurement
 * and signer; report_data is left zero for the caller to fill. */
TEE_HIDDEN void tee_report_ident(const tbml_manifest_t *m, const uint8_t meas[32],
                                 const uint8_t signer[32], tbml_report_t *out);

/* Writes the result receipt for a finished job (receipt.c). */
TEE_HIDDEN tbml_status tee_receipt_write(const tbml_manifest_t *m, const uint8_t meas[32],
                                         const uint8_t signer[32], int exit_code, const char *path);

#endif
