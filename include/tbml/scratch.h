/* Local storage encryption for a job's temporary data (the seed's spark.io.encryption.enabled):
 * shuffle and spill files sealed under a per-job ephemeral key that lives only in this process's
 * memory, in a private folder removed at exit, on a fatal signal, and by tbml_scratch_free.
 *
 * Spill files are unnamed (O_TMPFILE): they never appear in the folder and the kernel frees them
 * when the process ends however it ends, SIGKILL included; their bytes on disk are sealed-file
 * segments (docs/formats/sealed-file.md), unreadable without the key that died with the process. */
#ifndef TBML_SCRATCH_H
#define TBML_SCRATCH_H

#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tbml_scratch tbml_scratch_t;
typedef struct tbml_spill tbml_spill_t;

/* Makes a private folder (0700) under parent (NULL: $TMPDIR, else /tmp) and a random key.
 * Free with tbml_scratch_free, which removes the folder. */
TBML_NODISCARD tbml_status tbml_scratch_create(const char *parent, tbml_scratch_t **out);
void tbml_scratch_free(tbml_scratch_t *s);
const char *tbml_scratch_dir(const tbml_scratch_t *s);

/* A new spill file: write, finish, then read back (sequentially or at offsets) as often as
 * needed. One thread at a time per file; many files may be used at once. */
TBML_NODISCARD tbml_status tbml_spill_create(tbml_scratch_t *s, tbml_spill_t **out);
TBML_NODISCARD tbml_status tbml_spill_write(tbml_spill_t *f, const void *buf, size_t size);
/* Seals the last segment; afterwards the file is read-only. */
TBML_NODISCARD tbml_status tbml_spill_finish(tbml_spill_t *f);
/* Plaintext bytes written. */
uint64_t tbml_spill_size(const tbml_spill_t *f);
/* Reads [offset, offset + size) clipped at the end into buf; *got bytes. Every byte is
 * authenticated (TBML_E_AUTH if the file was changed on disk; buf wiped). */
TBML_NODISCARD tbml_status tbml_spill_pread(tbml_spill_t *f, void *buf, size_t size, uint64_t offset,
                                            size_t *got);
/* The descriptor of the sealed bytes (tests look at what reaches the disk). */
int tbml_spill_fd(const tbml_spill_t *f);
void tbml_spill_free(tbml_spill_t *f);

#ifdef __cplusplus
}
#endif
#endif
