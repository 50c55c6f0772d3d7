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

/* Scans this process's share of in's ranges with tbml_input_scan_lines' contract (chunk indexes
 * are in's own, from 0) and logs at debug level how many ranges and bytes this rank read. base
 * is the global index of in's first range: 0 for a file read alone, the ranges of the part files
 * before it for one file of a directory, whose ranges are numbered on across its files as one
 * input's. Without o->comm every range is read; with it, the ranges k with (base + k) % size ==
 * rank, so a directory is split over the ranks as one file is. */
tbml_status reader_scan(tbml_input_t *in, const tbml_read_options *o, int64_t base,
                        size_t chunk_size, tbml_chunk_fn fn, void *arg);
/* The first of in's chunk indexes that reader_scan gives this rank (the others follow every
 * reader_size(o)); nchunks or more when it gives none. */
int64_t reader_first(const tbml_read_options *o, int64_t base);
/* In input.c: the chunks first, first + stride, ... of in; *read gets the bytes scanned. */
__attribute__((visibility("hidden"))) tbml_status
reader_scan_share(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size, int64_t first,
                  int64_t stride, tbml_chunk_fn fn, void *arg, uint64_t *read);

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

/* After a scan (base as reader_scan's): turns the first FAILFAST error into "PATH:LINE:COL:
 * cause" (st is the scan's status), or builds the table from the chunks' batches in order
 * (taking them; its ranges are in's own, from 0), warns about bad records and sets
 * o->bad_records. Frees every batch left in chunks either way. */
tbml_status reader_finish(tbml_input_t *in, tbml_read_options *o, int64_t base, tbml_status st,
                          reader_chunk *chunks, int64_t nchunks, const tbml_schema *schema,
                          const char *format, tbml_table **out);

/* The schema index of the corrupt-record column (o->corrupt_column, found as Spark finds names:
 * case-insensitively), or -1. It takes no part in parsing; it holds the text of malformed
 * records, which only PERMISSIVE keeps (so in other modes it is all NULL). A column of another
 * type than string sets *st to TBML_E_ARG (Spark refuses it too). */
int reader_corrupt_index(const tbml_read_options *o, const tbml_schema *schema, const char *path,
                         tbml_status *st);
/* Appends a malformed record's text (p, n: the record with its line end, which is dropped with
 * a '\r' before it) to the corrupt-record column c. */
void reader_corrupt_text(const char *p, size_t n, tbml_column *c);

/* Directories (dir.c): whether path is one; its data files (regular files whose names do not
 * start with '_' or '.'), full paths in name order (reader_free_list them; none is
 * TBML_E_NOTFOUND); and one table of the files' tables in order, named by schema (each table's
 * schema must have schema's types; tables are taken and freed). Each table is a file reader's
 * (ranges set), read with base the ranges of the files before it, so the result's ranges are
 * numbered on across the files: range k of the directory on rank k % size, as for one file. */
int reader_is_dir(const char *path);
tbml_status reader_list_dir(const char *path, char ***out, int *count);
void reader_free_list(char **names, int count);
tbml_table *reader_concat(tbml_table **tables, int count, const tbml_schema *schema);

/* Parsers of single field values (s need not be NUL-terminated). Return 1 on success.
 * reader_parse_f64 with v NULL only checks the syntax. */
int reader_parse_i64(const char *s, size_t n, int64_t *v);
int reader_parse_f64(const char *s, size_t n, double *v);
int reader_parse_bool(const char *s, size_t n, int *v);

#endif
