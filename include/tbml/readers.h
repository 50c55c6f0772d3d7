/* Readers and writers for text lines, CSV and JSON lines, plain or sealed, in Spark's manner
 * (docs/formats/csv.md, docs/formats/json.md, docs/formats/text.md).
 *
 * Every reader returns a tbml_table whose batches follow the file's order. Inputs are split into
 * byte ranges at line starts and scanned by the pool's threads, so results do not depend on the
 * thread count. Malformed records follow Spark's modes:
 *   PERMISSIVE (default)  fields that cannot be read become NULL; a warning gives the count;
 *                         the record's text goes to the corrupt-record column, if any;
 *   DROPMALFORMED         malformed records are dropped; a warning gives the count;
 *   FAILFAST              the first malformed record (in file order) fails the read with
 *                         TBML_E_FORMAT and "FILE:LINE:COL: cause" (1-based, COL in bytes).
 * Error messages never quote record contents (they may be sealed plaintext). */
#ifndef TBML_READERS_H
#define TBML_READERS_H

#include "tbml/column.h"
#include "tbml/io.h"

typedef struct tbml_comm tbml_comm_t; /* tbml/comm.h */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TBML_MODE_PERMISSIVE = 0,
    TBML_MODE_DROPMALFORMED,
    TBML_MODE_FAILFAST
} tbml_parse_mode;

typedef struct {
    const tbml_key_t *key; /* opens sealed inputs / seals outputs; NULL: plain only */
    tbml_pool_t *pool;     /* threads that scan ranges; NULL: the calling thread */
    /* a distributed read: every rank of comm calls the reader with the same arguments and reads
     * only its share of the ranges (range k on rank k % size, a directory's ranges numbered on
     * across its files; see tbml_table_ranges); the schema
     * is inferred over all ranks' shares, FAILFAST errors and malformed counts are global, and
     * every rank returns the same status. NULL: this process reads the whole input. */
    tbml_comm_t *comm;
    size_t chunk_size;     /* bytes per range; 0: 4 MiB */
    tbml_parse_mode mode;  /* reading: PERMISSIVE */
    const tbml_schema
        *schema; /* reading: the given schema (no inference); NULL: infer or strings */
    /* CSV */
    int header;       /* first line holds the column names (reading) / write them (writing); 0 */
    int infer_schema; /* CSV: infer long/double/boolean/date/timestamp; 0 = all strings, as Spark */
    char delimiter;   /* ',' */
    char quote;       /* '"'; a quote inside a quoted field is written twice ("") */
    char escape;      /* '\\': inside quotes escapes a quote or itself, as Spark's; 0: none */
    int multiline; /* CSV: quoted fields may hold newlines; the file is then read by one thread */
    /* PERMISSIVE: the string column that gets the raw text of malformed records (NULL for good
     * ones), Spark's columnNameOfCorruptRecord. JSON adds it to an inferred schema when there
     * are malformed records; CSV and given schemas fill it when the schema has it. */
    char corrupt_column[128]; /* "_corrupt_record" */
    /* outputs */
    uint32_t segment_size; /* sealed outputs; 0: the default */
    /* results of the last read (written by the reader) */
    int64_t bad_records;
} tbml_read_options;

/* Spark's defaults. */
void tbml_read_options_init(tbml_read_options *o);

/* Sets an option by its Spark name, as OPTIONS (...) or .option(k, v) give it: header,
 * inferSchema, sep / delimiter, quote, escape, mode, multiLine, columnNameOfCorruptRecord
 * (case-insensitive names; values 'true' / 'false', one character ('' turns escape off),
 * PERMISSIVE / DROPMALFORMED / FAILFAST, or a column name). Unknown names or bad values:
 * TBML_E_ARG naming them. */
TBML_NODISCARD tbml_status tbml_read_options_set(tbml_read_options *o, const char *name,
                                                 const char *value);

/* A path may be a directory, as Spark's writers leave: its regular files whose names do not
 * start with '_' or '.' are read in name order as one input (types inferred over all of them);
 * none is TBML_E_NOTFOUND.
 *
 * spark.read.text(path): one string column "value", one row per line (the '\n' and a '\r' before
 * it removed; empty lines kept). */
TBML_NODISCARD tbml_status tbml_read_text(const char *path, tbml_read_options *o, tbml_table **out);
/* spark.read.csv(path, header, inferSchema, sep, quote, escape, mode, multiLine) or with a
 * schema. */
TBML_NODISCARD tbml_status tbml_read_csv(const char *path, tbml_read_options *o, tbml_table **out);
/* spark.read.json(path): JSON lines, one object per line; schema inferred across all records
 * (fields sorted by name), or given. */
TBML_NODISCARD tbml_status tbml_read_json(const char *path, tbml_read_options *o, tbml_table **out);

/* The same readers on an opened input (for callers that already hold one). */
TBML_NODISCARD tbml_status tbml_read_text_input(tbml_input_t *in, tbml_read_options *o,
                                                tbml_table **out);
TBML_NODISCARD tbml_status tbml_read_csv_input(tbml_input_t *in, tbml_read_options *o,
                                               tbml_table **out);
TBML_NODISCARD tbml_status tbml_read_json_input(tbml_input_t *in, tbml_read_options *o,
                                                tbml_table **out);

/* Writers: the whole table to path, plain or (o->key set) sealed, never half-written. CSV
 * writes a header when o->header, quotes fields that hold the delimiter, a quote, a newline or
 * leading/trailing spaces, writes NULL as an empty field and "" for an empty string. JSON lines
 * write one object per row in schema order and leave NULL fields out, as Spark does. Values are
 * written as show() prints them (doubles as Java does). o may be NULL (defaults). */
TBML_NODISCARD tbml_status tbml_write_csv(const tbml_table *t, const char *path,
                                          const tbml_read_options *o);
TBML_NODISCARD tbml_status tbml_write_json(const tbml_table *t, const char *path,
                                           const tbml_read_options *o);

#ifdef __cplusplus
}
#endif
#endif
