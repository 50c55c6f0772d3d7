/* Inputs and outputs that are plain or sealed, chosen by the file itself (inputs: the sealed
 * magic in the header) or by the caller (outputs: a key or none). Readers see only plaintext
 * ranges, so one reader serves both kinds, and large inputs are cut into byte ranges that a
 * thread pool scans in parallel (sealed files at segment boundaries, so each segment is
 * decrypted once). */
#ifndef TBML_IO_H
#define TBML_IO_H

#include "tbml/core.h"
#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- inputs ---------------------------------------------------------------------------------- */

typedef struct tbml_input tbml_input_t;

/* Opens path for reading. A file that starts with the sealed magic is opened with key (the
 * header's key name must match: TBML_E_KEY otherwise, and TBML_E_KEY when key is NULL); any
 * other file is plain and key is ignored. Free with tbml_input_close. Fails with TBML_E_NOTFOUND
 * (no such file), TBML_E_IO, or the sealed reader's errors (TBML_E_FORMAT, TBML_E_AUTH). */
TBML_NODISCARD tbml_status tbml_input_open(const char *path, const tbml_key_t *key,
                                           tbml_input_t **out);
void tbml_input_close(tbml_input_t *in);

/* An input over plaintext bytes in memory (borrowed: they must outlive the input); name is used
 * in messages. For tests and fuzz targets. Free with tbml_input_close. */
TBML_NODISCARD tbml_status tbml_input_from_memory(const void *data, size_t size, const char *name,
                                                  tbml_input_t **out);

const char *tbml_input_path(const tbml_input_t *in);
int tbml_input_is_sealed(const tbml_input_t *in);
/* Plaintext bytes. */
uint64_t tbml_input_size(const tbml_input_t *in);
/* The natural split unit: the segment size of a sealed file, 1 for a plain one. */
uint64_t tbml_input_block_size(const tbml_input_t *in);

/* Reads plaintext [offset, offset + size) clipped at the end; *got bytes copied (0 at or past
 * the end). Safe to call from many threads at once. Sealed bytes are authenticated before they
 * are returned (TBML_E_AUTH otherwise, buffer wiped). */
TBML_NODISCARD tbml_status tbml_input_pread(tbml_input_t *in, void *buf, size_t size,
                                            uint64_t offset, size_t *got);

/* Reads the whole plaintext into a new buffer (tbml_free it; a NUL byte follows the data). */
TBML_NODISCARD tbml_status tbml_input_read_all(tbml_input_t *in, char **out, size_t *out_size);

/* ---- parallel line scanning ------------------------------------------------------------------ */

/* A run of whole lines of an input, handed to a scan callback. Lines end with '\n' (the last one
 * of the file may lack it). The chunk owns nothing the callback may keep past its return. */
typedef struct {
    int64_t index;    /* chunk number, 0-based, in file order */
    uint64_t offset;  /* file offset of data[0] */
    const char *data; /* data[size] is a NUL, for parsers that like a terminator */
    size_t size;
} tbml_chunk;

/* Called once per chunk, from thread ith of the pool; returns a status (non-OK stops the scan:
 * chunks not yet started are skipped and the first failure, by chunk index, is returned). */
typedef tbml_status (*tbml_chunk_fn)(int ith, const tbml_chunk *chunk, void *arg);

/* Splits in into chunks of about chunk_size bytes (rounded up to the block size; 0 picks a
 * default of 4 MiB), each starting at a line start, and calls fn on each from the threads of
 * pool (NULL: the calling thread only). A line belongs to the chunk its first byte falls in, as
 * in Hadoop's line splits, so every line is seen exactly once whatever the chunk size. Every
 * chunk index in [0, tbml_input_chunk_count(in, chunk_size)) gets exactly one call (size 0 when
 * a long line swallowed the whole range), so callers can keep per-chunk results in an array and
 * put them back in file order. */
TBML_NODISCARD tbml_status tbml_input_scan_lines(tbml_input_t *in, tbml_pool_t *pool,
                                                 size_t chunk_size, tbml_chunk_fn fn, void *arg);
int64_t tbml_input_chunk_count(const tbml_input_t *in, size_t chunk_size);
/* The same over part (0-based) of nparts contiguous runs of chunks: chunk indexes
 * [count * part / nparts, count * (part + 1) / nparts). Ranks of a distributed job each scan
 * their part, so each reads and decrypts only its own segments of a sealed file. */
TBML_NODISCARD tbml_status tbml_input_scan_lines_part(tbml_input_t *in, tbml_pool_t *pool,
                                                      size_t chunk_size, int part, int nparts,
                                                      tbml_chunk_fn fn, void *arg);

/* Progress of long scans: when on and stderr is a terminal, scans longer than a second keep one
 * line on stderr up to date ("[scan FILE] 120.5 / 500.0 MB (24%)") and erase it when done; piped
 * output gets nothing. Off by default; tbml_app_init turns it on unless --conf
 * spark.ui.showConsoleProgress=false. Set once at start-up, before scans run. */
void tbml_input_set_progress(int on);

/* ---- outputs -----------------------------------------------------------------------------------
 */

/* An output file written plain (key NULL) or sealed under key, never left half-written: bytes go
 * to a temporary file that commit renames over path (see tbml_outfile_*). path "-" is stdout
 * (plain only). Free by commit or abort. */
typedef struct tbml_output tbml_output_t;
TBML_NODISCARD tbml_status tbml_output_open(const char *path, const tbml_key_t *key,
                                            tbml_output_t **out);
TBML_NODISCARD tbml_status tbml_output_write(tbml_output_t *o, const void *buf, size_t size);
/* Finishes the sealed stream, fsyncs and renames; frees o whatever the outcome. */
TBML_NODISCARD tbml_status tbml_output_commit(tbml_output_t *o);
/* Drops the temporary file and frees o. NULL is fine. */
void tbml_output_abort(tbml_output_t *o);

#ifdef __cplusplus
}
#endif
#endif
