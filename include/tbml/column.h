/* Column vectors, schemas, batches and tables: the data that flows between readers, operators
 * and writers. Layout follows Apache Arrow's ideas in plain C: one typed array per column, a
 * validity byte per row, strings as offsets into one character buffer. Batches are immutable
 * once built and are passed between threads (and, in distributed mode, serialised by the
 * exchange), so nothing in a batch points outside it. */
#ifndef TBML_COLUMN_H
#define TBML_COLUMN_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TBML_TYPE_NULL = 0, /* the type of a bare NULL literal; becomes another type on use */
    TBML_TYPE_BOOL,     /* uint8_t 0/1 */
    TBML_TYPE_INT64,    /* int64_t: Spark's "long" (ints from files are long, as Spark infers) */
    TBML_TYPE_DOUBLE,   /* double */
    TBML_TYPE_STRING,   /* UTF-8, offsets + bytes */
    TBML_TYPE_DATE,     /* int64_t days since 1970-01-01 */
    TBML_TYPE_TIMESTAMP /* int64_t microseconds since 1970-01-01 00:00:00 UTC */
} tbml_type;

/* Spark's name for a type, as printSchema shows it: "boolean", "long", "double", "string",
 * "date", "timestamp", "void". */
const char *tbml_type_name(tbml_type t);

typedef struct {
    char *name;
    tbml_type type;
    int nullable;
} tbml_field;

typedef struct {
    int nfields;
    tbml_field *fields;
} tbml_schema;

/* One column of a batch. Exactly one of the arrays is used, by type:
 *   BOOL: u8; INT64, DATE, TIMESTAMP: i64; DOUBLE: f64; STRING: offsets (nrows + 1) and chars.
 * valid: one byte per row (1 = value, 0 = NULL), or NULL when no row is null. */
typedef struct {
    tbml_type type;
    int64_t nrows;
    uint8_t *valid;
    uint8_t *u8;
    int64_t *i64;
    double *f64;
    int64_t *offsets;
    char *chars;
    int64_t chars_size; /* bytes used in chars */
    int64_t capacity;   /* rows allocated (for builders) */
    int64_t chars_capacity;
} tbml_column;

static inline int tbml_column_is_null(const tbml_column *c, int64_t row)
{
    return c->valid && !c->valid[row];
}

/* A batch: ncols columns of nrows each, described by schema (owned by the batch). */
typedef struct {
    tbml_schema schema;
    int64_t nrows;
    tbml_column *cols;
} tbml_batch;

/* Where a file reader's batches came from: batch i holds the rows of the input's byte range
 * range[i] (ranges as tbml_input_scan_lines cuts them, in file order; a directory's are its
 * files' ranges in name order, numbered on from one file to the next). A distributed read
 * (tbml_read_options.comm) holds only the ranges k with k % size == rank; the other ranks hold
 * the rest. The SQL scan deals rows to partitions by range, so a query's partitions, and so its
 * output, are the same whether one process or many read the file. */
typedef struct {
    int64_t *range;  /* per batch (nbatches entries) */
    int64_t nranges; /* ranges in the whole input */
    int64_t rows;    /* rows in the whole input, over all ranks */
    int rank, size;  /* this rank's share; size 1: the whole input is here */
} tbml_table_ranges;

/* A table: a schema and a list of batches (owned). The unit readers return and views hold. */
typedef struct {
    tbml_schema schema;
    int64_t nbatches;
    tbml_batch **batches;
    int64_t cap;
    tbml_table_ranges *ranges; /* a file reader's table; NULL for others (owned) */
} tbml_table;

/* ---- schemas ---- */
void tbml_schema_init(tbml_schema *s);
void tbml_schema_add(tbml_schema *s, const char *name, tbml_type type, int nullable);
void tbml_schema_copy(tbml_schema *dst, const tbml_schema *src);
/* Index of the field named name (case-insensitive, as Spark's default), or -1. */
int tbml_schema_find(const tbml_schema *s, const char *name);
void tbml_schema_clear(tbml_schema *s);

/* ---- columns (builders: append, then hand to a batch) ---- */
void tbml_column_init(tbml_column *c, tbml_type type, int64_t capacity);
void tbml_column_clear(tbml_column *c);
void tbml_column_append_null(tbml_column *c);
void tbml_column_append_bool(tbml_column *c, int v);
void tbml_column_append_i64(tbml_column *c, int64_t v); /* INT64, DATE, TIMESTAMP */
void tbml_column_append_f64(tbml_column *c, double v);
void tbml_column_append_str(tbml_column *c, const char *s, size_t size);
/* Drops rows from the end so that nrows rows remain (nrows <= c->nrows). */
void tbml_column_truncate(tbml_column *c, int64_t nrows);
/* Appends row `row` of src (same type) to c. */
void tbml_column_append_from(tbml_column *c, const tbml_column *src, int64_t row);
static inline const char *tbml_column_str(const tbml_column *c, int64_t row, size_t *size)
{
    *size = (size_t)(c->offsets[row + 1] - c->offsets[row]);
    return c->chars ? c->chars + c->offsets[row] : ""; /* no bytes yet: only empty strings */
}

/* ---- batches and tables ---- */
/* A new batch with schema copied and ncols empty columns of the schema's types. */
tbml_batch *tbml_batch_new(const tbml_schema *schema, int64_t capacity);
/* Sets nrows from the columns (all must agree; asserted). */
void tbml_batch_seal(tbml_batch *b);
void tbml_batch_free(tbml_batch *b);

tbml_table *tbml_table_new(const tbml_schema *schema);
/* Takes ownership of b. */
void tbml_table_append(tbml_table *t, tbml_batch *b);
int64_t tbml_table_nrows(const tbml_table *t);
void tbml_table_free(tbml_table *t);

#ifdef __cplusplus
}
#endif
#endif
