/* spark.read.text: one string column "value", one row per line (docs/formats/text.md). Lines
 * end at '\n'; a '\r' just before it is dropped too, as Hadoop's LineReader does. */
#include "reader.h"

#include <string.h>

typedef struct {
    const tbml_schema *schema;
    reader_chunk *chunks;
} text_scan;

static tbml_status text_chunk(int ith, const tbml_chunk *c, void *arg)
{
    (void)ith;
    text_scan *s = arg;
    reader_chunk *r = &s->chunks[c->index];
    tbml_batch *b = tbml_batch_new(s->schema, 0);
    const char *p = c->data, *end = c->data + c->size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (nl && n > 0 && p[n - 1] == '\r') n--;
        tbml_column_append_str(&b->cols[0], p, n);
        if (nl) r->nlines++;
        p = nl ? nl + 1 : end;
    }
    tbml_batch_seal(b);
    r->batch = b;
    return TBML_OK;
}

/* Reads in as the input's ranges from base on (reader_scan). */
static tbml_status text_read(tbml_input_t *in, tbml_read_options *o, int64_t base, tbml_table **out)
{
    tbml_schema schema;
    tbml_schema_init(&schema);
    tbml_schema_add(&schema, "value", TBML_TYPE_STRING, 1);
    int64_t n = tbml_input_chunk_count(in, o->chunk_size);
    text_scan s = {.schema = &schema,
                   .chunks = tbml_calloc((size_t)(n ? n : 1), sizeof(reader_chunk))};
    tbml_status st = reader_scan(in, o, base, o->chunk_size, text_chunk, &s);
    st = reader_finish(in, o, base, st, s.chunks, n, &schema, "text", out);
    tbml_free(s.chunks);
    tbml_schema_clear(&schema);
    return st;
}

tbml_status tbml_read_text_input(tbml_input_t *in, tbml_read_options *o, tbml_table **out)
{
    return text_read(in, o, 0, out);
}

/* A directory: its part files, one after the other, their ranges numbered on as one input's
 * (so a distributed read splits the directory, not each file, over the ranks). */
static tbml_status text_read_dir(const char *path, tbml_read_options *o, tbml_table **out)
{
    char **files;
    int n;
    tbml_status st = reader_list_dir(path, &files, &n);
    if (st) return st;
    tbml_table **parts = tbml_calloc((size_t)n, sizeof(tbml_table *));
    int64_t base = 0;
    for (int k = 0; k < n && !st; k++) {
        tbml_input_t *in;
        st = tbml_input_open(files[k], o->key, &in);
        if (st) break;
        st = text_read(in, o, base, &parts[k]);
        tbml_input_close(in);
        if (!st) base += parts[k]->ranges->nranges;
    }
    if (!st) {
        tbml_schema schema;
        tbml_schema_init(&schema);
        tbml_schema_add(&schema, "value", TBML_TYPE_STRING, 1);
        *out = reader_concat(parts, n, &schema);
        tbml_schema_clear(&schema);
    }
    for (int k = 0; k < n; k++)
        tbml_table_free(parts[k]);
    tbml_free(parts);
    reader_free_list(files, n);
    return st;
}

tbml_status tbml_read_text(const char *path, tbml_read_options *o, tbml_table **out)
{
    if (reader_is_dir(path)) return text_read_dir(path, o, out);
    tbml_input_t *in;
    tbml_status st = tbml_input_open(path, o->key, &in);
    if (st) return st;
    st = tbml_read_text_input(in, o, out);
    tbml_input_close(in);
    return st;
}
