/* Shared by the CSV and JSON reader fuzz targets: the first two bytes pick options, the rest is
 * the file. Each input is read whole and again in tiny ranges; both must agree (the split rule
 * must never lose, duplicate or change a record), and show() must format whatever was read. */
#ifndef TBML_FUZZ_READERS_H
#define TBML_FUZZ_READERS_H

#include "tbml/readers.h"
#include "tbml/show.h"

#include <string.h>

typedef tbml_status (*fuzz_read_fn)(tbml_input_t *, tbml_read_options *, tbml_table **);

/* Reads data as o says: show() and the schema tree of the table (NULL on failure); schema, when
 * not NULL, gets a copy of the table's schema. */
static char *fuzz_read(fuzz_read_fn fn, const uint8_t *data, size_t size, tbml_read_options *o,
                       tbml_status *st, tbml_schema *schema)
{
    tbml_input_t *in;
    tbml_table *t = NULL;
    if (tbml_input_from_memory(data, size, "fuzz", &in)) return NULL;
    *st = fn(in, o, &t);
    tbml_input_close(in);
    if (*st) {
        TBML_ASSERT(t == NULL);
        TBML_ASSERT(strncmp(tbml_errmsg(), "fuzz", 4) == 0); /* messages name the file */
        return NULL;
    }
    char *s = tbml_show_string(t, 1000000, 0);
    char *tree = tbml_schema_tree_string(&t->schema);
    if (schema) tbml_schema_copy(schema, &t->schema);
    size_t n = strlen(s), m = strlen(tree);
    s = tbml_realloc(s, n + m + 1);
    memcpy(s + n, tree, m + 1);
    tbml_free(tree);
    tbml_table_free(t);
    return s;
}

static void fuzz_readers(fuzz_read_fn fn, int csv, const uint8_t *data, size_t size)
{
    if (size < 2) return;
    uint8_t a = data[0], b = data[1];
    data += 2;
    size -= 2;
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.mode = (tbml_parse_mode)(a % 3);
    if (csv) {
        o.header = (a >> 2) & 1;
        o.infer_schema = (a >> 3) & 1;
        o.multiline = (a >> 4) & 1;
        static const char delims[] = {',', ';', '\t', '|'};
        o.delimiter = delims[(a >> 5) & 3];
        o.quote = (a >> 7) ? '\'' : '"';
        if (b & 0x40) o.escape = '\0'; /* else Spark's backslash */
    }
    tbml_status st1 = 0, st2 = 0, st3 = 0;
    tbml_schema inferred;
    tbml_schema_init(&inferred);
    char *whole = fuzz_read(fn, data, size, &o, &st1, &inferred);
    o.chunk_size = 1 + b % 64;
    char *split = fuzz_read(fn, data, size, &o, &st2, NULL);
    TBML_ASSERT(st1 == st2);
    TBML_ASSERT((whole == NULL) == (split == NULL));
    if (whole) TBML_ASSERT(strcmp(whole, split) == 0);
    if (csv && o.infer_schema && whole && inferred.nfields > 0) {
        /* one-pass inference reads what the inferred schema, given, reads */
        o.schema = &inferred;
        char *given = fuzz_read(fn, data, size, &o, &st3, NULL);
        TBML_ASSERT(st3 == TBML_OK && given && strcmp(whole, given) == 0);
        tbml_free(given);
    }
    tbml_schema_clear(&inferred);
    tbml_free(whole);
    tbml_free(split);
}

#endif
