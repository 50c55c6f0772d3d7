/* Named primary keys, password-sealed key files, and the sealed file format v1
 * (docs/formats/sealed-file.md, docs/formats/key-file.md).
 *
 * A sealed file is envelope-encrypted: a fresh random data key per file, wrapped by a named
 * primary key whose name is in the header. The body is a run of fixed-size AES-256-GCM
 * segments whose index and last-segment flag are bound into the nonce and AAD, with the whole
 * header authenticated, so truncation, reordering, swapping segments between files, header
 * edits and appended bytes all fail with TBML_E_AUTH. Segments can be opened independently, so
 * one file can be decrypted in parallel by ranges. */
#ifndef TBML_SEAL_H
#define TBML_SEAL_H

#include "tbml/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_KEY_SIZE 32
#define TBML_KEY_NAME_MAX 64 /* bytes; names are [A-Za-z0-9._-]+ */

/* ---- primary keys --------------------------------------------------------------------------- */

/* A named 256-bit primary key, held in secure memory and wiped on free. Opaque. */
typedef struct tbml_key tbml_key_t;

/* 1 if name is a valid key name (1..64 chars of [A-Za-z0-9._-], not starting with '.'). */
int tbml_key_name_valid(const char *name);

/* Makes a new random key named name. Free with tbml_key_free. */
TBML_NODISCARD tbml_status tbml_key_generate(const char *name, tbml_key_t **out);
/* Wraps existing key bytes (e.g. released by the key service). Copies them. */
TBML_NODISCARD tbml_status tbml_key_from_bytes(const char *name, const uint8_t bytes[TBML_KEY_SIZE],
                                               tbml_key_t **out);
const char *tbml_key_name(const tbml_key_t *key);
/* The raw key bytes. For src/ modules that derive subkeys (kms, dist); never log them. */
const uint8_t *tbml_key_bytes(const tbml_key_t *key);
void tbml_key_free(tbml_key_t *key);

/* Writes key to path as a key file sealed under password (Argon2id, then AES-256-GCM), mode
 * 0600, through a temporary file + fsync + rename: no partial file is ever left behind.
 * Refuses to overwrite an existing file (TBML_E_ARG). */
TBML_NODISCARD tbml_status tbml_keyfile_write(const char *path, const tbml_key_t *key,
                                              const char *password, size_t password_size,
                                              tbml_pwhash_params params);
/* Reads a key file. Wrong password: TBML_E_PASSWORD. Damaged file: TBML_E_FORMAT or
 * TBML_E_AUTH. Messages name the path. */
TBML_NODISCARD tbml_status tbml_keyfile_read(const char *path, const char *password,
                                             size_t password_size, tbml_key_t **out);
/* The same on bytes in memory (the fuzz target's entry); name is used in messages. */
TBML_NODISCARD tbml_status tbml_keyfile_parse(const uint8_t *buf, size_t size, const char *name,
                                              const char *password, size_t password_size,
                                              tbml_key_t **out);

/* ---- sealed files --------------------------------------------------------------------------- */

#define TBML_SEAL_MAGIC "TBMLSEAL" /* 8 bytes, first in every sealed file */
#define TBML_SEAL_VERSION 1
#define TBML_SEAL_SEGMENT_DEFAULT 65536u
#define TBML_SEAL_SEGMENT_MIN 16u
#define TBML_SEAL_SEGMENT_MAX (64u << 20)

typedef struct {
    uint16_t version;
    char key_name[TBML_KEY_NAME_MAX + 1];
    uint32_t segment_size;  /* plaintext bytes per full segment */
    uint32_t header_size;   /* bytes before the first segment */
    uint64_t length;        /* plaintext bytes; from the file size (UINT64_MAX if not seekable) */
    uint64_t nsegments;     /* segments in the file (0 if not known) */
} tbml_sealed_info;

/* 1 if the first bytes of a file (size >= 8) are a sealed file's magic. */
int tbml_sealed_probe(const void *head, size_t size);

/* Reads a sealed file's header and size, without any key. Damaged or plain: TBML_E_FORMAT. */
TBML_NODISCARD tbml_status tbml_sealed_inspect(const char *path, tbml_sealed_info *out);

/* Streaming writer in bounded memory (one segment). fd need not be seekable. The caller owns fd
 * (not closed here). Nothing is authenticated until finish writes the last segment; a writer
 * freed without finish leaves a file every reader rejects, so callers write to a temporary and
 * rename after finish. The header is written at open, at fd's current position. segment_size 0
 * means TBML_SEAL_SEGMENT_DEFAULT. After any failure the writer stays failed. */
typedef struct tbml_sealed_writer tbml_sealed_writer_t;
TBML_NODISCARD tbml_status tbml_sealed_writer_open(int fd, const char *path_for_errors,
                                                   const tbml_key_t *key, uint32_t segment_size,
                                                   tbml_sealed_writer_t **out);
TBML_NODISCARD tbml_status tbml_sealed_writer_write(tbml_sealed_writer_t *w, const void *buf, size_t size);
/* Parallel sealing (seekable fd only; not mixable with _write): seals plaintext segment idx and
 * pwrite(2)s it at its place. Every segment but the last holds exactly segment_size bytes; the
 * last (last = 1) holds 1..segment_size bytes, or 0 when it is segment 0. Each index 0..last
 * must be written exactly once; calls may come from many threads at once. Then call finish,
 * which checks that the count adds up. */
TBML_NODISCARD tbml_status tbml_sealed_writer_segment(tbml_sealed_writer_t *w, uint64_t idx, int last,
                                                      const void *pt, size_t size);
TBML_NODISCARD tbml_status tbml_sealed_writer_finish(tbml_sealed_writer_t *w);
void tbml_sealed_writer_free(tbml_sealed_writer_t *w);

/* Reader. Opening reads and authenticates the header and unwraps the data key with key (a key
 * whose name differs from the header's gives TBML_E_KEY naming both). fd is owned by the caller;
 * the sealed file starts at fd's current position. On a seekable fd, info.length and
 * info.nsegments are known and random access works; open also authenticates the final segment
 * there, so a truncated or extended file fails at open with TBML_E_AUTH and info.length is
 * authenticated. On failure of any read call below, the caller's buffer is wiped. */
typedef struct tbml_sealed_reader tbml_sealed_reader_t;
TBML_NODISCARD tbml_status tbml_sealed_reader_open(int fd, const char *path_for_errors,
                                                   const tbml_key_t *key, tbml_sealed_reader_t **out);
const tbml_sealed_info *tbml_sealed_reader_info(const tbml_sealed_reader_t *r);
/* Sequential read of up to size bytes; *got = 0 only at the authenticated end of the file.
 * Works on pipes. Every byte returned came from an authenticated segment. */
TBML_NODISCARD tbml_status tbml_sealed_reader_read(tbml_sealed_reader_t *r, void *buf, size_t size,
                                                   size_t *got);
/* Random access (seekable fd only): opens segment idx into out (segment_size bytes of room),
 * *out_size = its plaintext length. Safe to call from many threads at once on one reader. */
TBML_NODISCARD tbml_status tbml_sealed_reader_segment(tbml_sealed_reader_t *r, uint64_t idx,
                                                      void *out, size_t *out_size);
/* Random access to plaintext bytes [offset, offset + size), clipped at the end; *got bytes
 * copied. Thread-safe like _segment. */
TBML_NODISCARD tbml_status tbml_sealed_reader_pread(tbml_sealed_reader_t *r, void *buf, size_t size,
                                                    uint64_t offset, size_t *got);
void tbml_sealed_reader_free(tbml_sealed_reader_t *r);

#ifdef __cplusplus
}
#endif
#endif
