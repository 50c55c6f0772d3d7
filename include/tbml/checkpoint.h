/* Training checkpoints (docs/formats/checkpoint.md): a folder of numbered files, each one
 * training state written atomically, sealed under the job's key when there is one. The trainer
 * (lenet, gbdt) owns its payload; this module owns the files: naming, the envelope (magic, kind,
 * step, CRC-32), sealing, keeping the newest few, and picking the newest that authenticates. */
#ifndef TBML_CHECKPOINT_H
#define TBML_CHECKPOINT_H

#include "tbml/core.h"
#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Payload kinds: which trainer wrote a checkpoint (a gbdt checkpoint cannot resume lenet). */
enum { TBML_CKPT_LENET = 1, TBML_CKPT_GBDT = 2 };

/* How many checkpoints tbml_ckpt_save leaves in the folder. */
#define TBML_CKPT_KEEP 2

/* Writes payload as DIR/ckpt-<step, 12 digits>.tbck through a temporary file and rename,
 * sealed under key when key != NULL, creating DIR (0700) if needed; then removes all but the
 * TBML_CKPT_KEEP newest checkpoints and any temporary file a killed writer left. */
TBML_NODISCARD tbml_status tbml_ckpt_save(const char *dir, uint32_t kind, long step,
                                          const tbml_key_t *key, const uint8_t *payload,
                                          size_t size);

/* Reads the newest checkpoint in dir that authenticates: sealed under key when key != NULL (a
 * plaintext checkpoint is then refused: anyone could have written it), otherwise plain with an
 * intact CRC, of the given kind. A newer one that fails is skipped with a warning naming it
 * (but a missing or wrong key, TBML_E_KEY, fails at once: it would fail them all).
 * None at all: TBML_E_NOTFOUND; none usable: the last failure's status. On success *payload
 * (tbml_free it; wipe first, it may be secret), *size, *step and path (the file used). */
TBML_NODISCARD tbml_status tbml_ckpt_load_latest(const char *dir, uint32_t kind,
                                                 const tbml_key_t *key, uint8_t **payload,
                                                 size_t *size, long *step, char *path,
                                                 size_t path_size);

#ifdef __cplusplus
}
#endif
#endif
