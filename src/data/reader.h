/* Pieces the line-oriented readers share (private to src/data/): per-chunk results, turning a
 * chunk-relative error into FILE:LINE:COL, and assembling the table in file order. */
#ifndef TBML_DATA_READER_H
#define TBML_DATA_READER_H

#include "tbml/readers.h"

typedef struct {
    int64_t nlines;   /* '\n' bytes in the chunk, to number lines across chunks */
    int64_t bad;      /* malformed records seen */
    int has_error;    /* FAILFAST: the first malformed record of this chunk */
    int64_t err_line; /* 0-based line within the chunk */
    int64_t err_col;  /* 1-based byte column */
    char err_msg[160];
    tbml_batch *batch; /* rows of this chunk, or NULL */
} reader_chunk;

/* Scans this process's share of in's ranges (all of them, or with o->comm the ranges k with
 * k % size == rank) with tbml_input_scan_lines' contract, and logs at debug level how many
 * ranges and bytes this rank read. */
tbml_status reader_scan(tbml_input_t *in, const tbml_read_options *o, size_t chunk_size,
                        tbml_chunk_fn fn, void *arg);
/* In input.c: the chunks rank, rank + size, ... of in; *read gets the bytes scanned. */
__attribute__((visibility("hidden"))) tbml_status
reader_scan_share(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size, int rank, int size,
                  tbml_chunk_fn fn, void *arg, uint64_t *read);

/* Distributed reads (o->comm with more than one rank; else these only pass st through). Every
 * rank sends its status st and size bytes of buf; bufs[r] / sizes[r] get rank r's bytes
 * (tbml_free each). When any rank failed, every rank returns a failure: its own, or the first
 * failing rank's status and message, and bufs are not filled. */
tbml_status reader_allgather(const tbml_read_options *o, tbml_status st, const void *buf,
                             size_t size, uint8_t **bufs, size_t *sizes);
/* Merges per-column inference types over the ranks with merge (commutative and associative, as
 * Spark's compatibleType is), so every rank ends with the types one process would infer. */
tbml_status reader_agree_types(const tbml_read_options *o, tbml_status st, int *types, int ncols,
                               int (*merge)(int, int));
/* This rank's index and the rank count of o->comm (0 and 1 without one). */
int reader_rank(const tbml_read_options *o);
int reader_size(const tbml_read_options *o);

/* Counts '\n' in data[0, size). */
int64_t reader_count_lines(const char *data, size_t size);

/* Records a malformed record at byte pos of the chunk (data is the chunk start) with a cause
 * (no record contents). Returns TBML_E_FORMAT in FAILFAST mode (stop), else TBML_OK. */
tbml_status reader_bad(reader_chunk *r, const tbml_read_options *o, const char *data, size_t pos,
                       const char *cause);

/* After a scan: turns the first FAILFAST error into "PATH:LINE:COL: cause" (st is the scan's
 * status), or builds the table from the chunks' batches in order (taking them), warns about bad
 * records and sets o->bad_records. Frees every batch left in chunks either way. */
tbml_status reader_finish(tbml_input_t *in, tbml_read_options *o, tbml_status st,
                          reader_chunk *chunks, int64_t nchunks, const tbml_schema *schema,
                          const char *format, tbml_table **out);

/* Parsers of single field values (s need not be NUL-terminated). Return 1 on success.
 * reader_parse_f64 with v NULL only checks the syntax. */
int reader_parse_i64(const char *s, size_t n, int64_t *v);
int reader_parse_f64(const char *s, size_t n, double *v);
int reader_parse_bool(const char *s, size_t n, int *v);

#endif
