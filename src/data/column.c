/* Column vectors, schemas, batches and tables (include/tbml/column.h). Builders grow by doubling;
 * the validity array is only allocated when the first NULL arrives, so all-valid columns (the
 * common case) carry no per-row validity cost. */
#include "tbml/column.h"

#include <string.h>
#include <strings.h>

const char *tbml_type_name(tbml_type t)
{
    switch (t) {
    case TBML_TYPE_NULL:
        return "void";
    case TBML_TYPE_BOOL:
        return "boolean";
    case TBML_TYPE_INT64:
        return "long";
    case TBML_TYPE_DOUBLE:
        return "double";
    case TBML_TYPE_STRING:
        return "string";
    case TBML_TYPE_DATE:
        return "date";
    case TBML_TYPE_TIMESTAMP:
        return "timestamp";
    }
    return "unknown";
}

/* ---- schemas ---- */

void tbml_schema_init(tbml_schema *s)
{
    s->nfields = 0;
    s->fields = NULL;
}

void tbml_schema_add(tbml_schema *s, const char *name, tbml_type type, int nullable)
{
    s->fields = tbml_realloc(s->fields, (size_t)(s->nfields + 1) * sizeof(tbml_field));
    s->fields[s->nfields].name = tbml_strdup(name);
    s->fields[s->nfields].type = type;
    s->fields[s->nfields].nullable = nullable;
    s->nfields++;
}

void tbml_schema_copy(tbml_schema *dst, const tbml_schema *src)
{
    tbml_schema_init(dst);
    if (src->nfields == 0) return;
    dst->fields = tbml_malloc((size_t)src->nfields * sizeof(tbml_field));
    for (int i = 0; i < src->nfields; i++) {
        dst->fields[i] = src->fields[i];
        dst->fields[i].name = tbml_strdup(src->fields[i].name);
    }
    dst->nfields = src->nfields;
}

int tbml_schema_find(const tbml_schema *s, const char *name)
{
    for (int i = 0; i < s->nfields; i++)
        if (strcasecmp(s->fields[i].name, name) == 0) return i;
    return -1;
}

void tbml_schema_clear(tbml_schema *s)
{
    for (int i = 0; i < s->nfields; i++)
        tbml_free(s->fields[i].name);
    tbml_free(s->fields);
    tbml_schema_init(s);
}

/* ---- columns ---- */

static int64_t grow_to(int64_t cap, int64_t need)
{
    if (cap < 16) cap = 16;
    while (cap < need)
        cap *= 2;
    return cap;
}

/* Makes room for one more row (arrays of the column's type, and validity if present). */
static void column_reserve(tbml_column *c, int64_t rows)
{
    if (rows <= c->capacity) return;
    int64_t cap = grow_to(c->capacity, rows);
    size_t n = (size_t)cap;
    switch (c->type) {
    case TBML_TYPE_NULL:
        break;
    case TBML_TYPE_BOOL:
        c->u8 = tbml_realloc(c->u8, n);
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        c->i64 = tbml_realloc(c->i64, n * sizeof(int64_t));
        break;
    case TBML_TYPE_DOUBLE:
        c->f64 = tbml_realloc(c->f64, n * sizeof(double));
        break;
    case TBML_TYPE_STRING:
        c->offsets = tbml_realloc(c->offsets, (n + 1) * sizeof(int64_t));
        if (c->capacity == 0) c->offsets[0] = 0;
        break;
    }
    if (c->valid) c->valid = tbml_realloc(c->valid, n);
    c->capacity = cap;
}

void tbml_column_init(tbml_column *c, tbml_type type, int64_t capacity)
{
    memset(c, 0, sizeof(*c));
    c->type = type;
    if (type == TBML_TYPE_STRING) {
        /* offsets[0] must exist even for an empty column, so readers can index nrows + 1 */
        c->offsets = tbml_malloc(sizeof(int64_t));
        c->offsets[0] = 0;
        /* and chars too: tbml_column_str's chars + offset must not be NULL + 0 (undefined) for a
         * column of empty strings */
        c->chars = tbml_malloc(1);
        c->chars_capacity = 1;
    }
    if (capacity > 0) column_reserve(c, capacity);
}

void tbml_column_clear(tbml_column *c)
{
    tbml_free(c->valid);
    tbml_free(c->u8);
    tbml_free(c->i64);
    tbml_free(c->f64);
    tbml_free(c->offsets);
    tbml_free(c->chars);
    tbml_type t = c->type;
    memset(c, 0, sizeof(*c));
    c->type = t;
}

/* Starts a row: reserves room and marks it valid (creating no validity array). */
static int64_t begin_row(tbml_column *c)
{
    column_reserve(c, c->nrows + 1);
    if (c->valid) c->valid[c->nrows] = 1;
    return c->nrows;
}

void tbml_column_append_null(tbml_column *c)
{
    int64_t r = begin_row(c);
    if (!c->valid) {
        /* first NULL: every earlier row was a value */
        c->valid = tbml_malloc((size_t)c->capacity);
        memset(c->valid, 1, (size_t)c->capacity);
    }
    c->valid[r] = 0;
    switch (c->type) {
    case TBML_TYPE_NULL:
        break;
    case TBML_TYPE_BOOL:
        c->u8[r] = 0;
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        c->i64[r] = 0;
        break;
    case TBML_TYPE_DOUBLE:
        c->f64[r] = 0;
        break;
    case TBML_TYPE_STRING:
        c->offsets[r + 1] = c->chars_size;
        break;
    }
    c->nrows++;
}

void tbml_column_append_bool(tbml_column *c, int v)
{
    TBML_ASSERT(c->type == TBML_TYPE_BOOL);
    int64_t r = begin_row(c);
    c->u8[r] = v ? 1 : 0;
    c->nrows++;
}

void tbml_column_append_i64(tbml_column *c, int64_t v)
{
    TBML_ASSERT(c->type == TBML_TYPE_INT64 || c->type == TBML_TYPE_DATE ||
                c->type == TBML_TYPE_TIMESTAMP);
    int64_t r = begin_row(c);
    c->i64[r] = v;
    c->nrows++;
}

void tbml_column_append_f64(tbml_column *c, double v)
{
    TBML_ASSERT(c->type == TBML_TYPE_DOUBLE);
    int64_t r = begin_row(c);
    c->f64[r] = v;
    c->nrows++;
}

void tbml_column_append_str(tbml_column *c, const char *s, size_t size)
{
    TBML_ASSERT(c->type == TBML_TYPE_STRING);
    int64_t r = begin_row(c);
    int64_t need = c->chars_size + (int64_t)size;
    if (need > c->chars_capacity) {
        int64_t cap = c->chars_capacity < 64 ? 64 : c->chars_capacity;
        while (cap < need)
            cap *= 2;
        c->chars = tbml_realloc(c->chars, (size_t)cap);
        c->chars_capacity = cap;
    }
    if (size) memcpy(c->chars + c->chars_size, s, size);
    c->chars_size = need;
    c->offsets[r + 1] = need;
    c->nrows++;
}

void tbml_column_truncate(tbml_column *c, int64_t nrows)
{
    TBML_ASSERT(nrows >= 0 && nrows <= c->nrows);
    c->nrows = nrows;
    if (c->type == TBML_TYPE_STRING) c->chars_size = c->offsets[nrows];
}

void tbml_column_append_from(tbml_column *c, const tbml_column *src, int64_t row)
{
    TBML_ASSERT(row >= 0 && row < src->nrows);
    if (tbml_column_is_null(src, row) || src->type == TBML_TYPE_NULL) {
        tbml_column_append_null(c);
        return;
    }
    TBML_ASSERT(c->type == src->type);
    switch (src->type) {
    case TBML_TYPE_NULL:
        break;
    case TBML_TYPE_BOOL:
        tbml_column_append_bool(c, src->u8[row]);
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        tbml_column_append_i64(c, src->i64[row]);
        break;
    case TBML_TYPE_DOUBLE:
        tbml_column_append_f64(c, src->f64[row]);
        break;
    case TBML_TYPE_STRING: {
        size_t n;
        const char *s = tbml_column_str(src, row, &n);
        tbml_column_append_str(c, s, n);
        break;
    }
    }
}

/* ---- batches and tables ---- */

tbml_batch *tbml_batch_new(const tbml_schema *schema, int64_t capacity)
{
    tbml_batch *b = tbml_calloc(1, sizeof(*b));
    tbml_schema_copy(&b->schema, schema);
    if (schema->nfields > 0) b->cols = tbml_calloc((size_t)schema->nfields, sizeof(tbml_column));
    for (int i = 0; i < schema->nfields; i++)
        tbml_column_init(&b->cols[i], schema->fields[i].type, capacity);
    return b;
}

void tbml_batch_seal(tbml_batch *b)
{
    if (b->schema.nfields == 0) return; /* a batch with no columns keeps the nrows it was given */
    b->nrows = b->cols[0].nrows;
    for (int i = 1; i < b->schema.nfields; i++)
        TBML_ASSERT(b->cols[i].nrows == b->nrows);
}

void tbml_batch_free(tbml_batch *b)
{
    if (!b) return;
    for (int i = 0; i < b->schema.nfields; i++)
        tbml_column_clear(&b->cols[i]);
    tbml_free(b->cols);
    tbml_schema_clear(&b->schema);
    tbml_free(b);
}

tbml_table *tbml_table_new(const tbml_schema *schema)
{
    tbml_table *t = tbml_calloc(1, sizeof(*t));
    tbml_schema_copy(&t->schema, schema);
    return t;
}

void tbml_table_append(tbml_table *t, tbml_batch *b)
{
    /* a batch from elsewhere: the rows no longer map to one input's ranges */
    TBML_ASSERT(!t->ranges || t->ranges->size <= 1);
    if (t->ranges) tbml_free(t->ranges->range);
    tbml_free(t->ranges);
    t->ranges = NULL;
    if (t->nbatches == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->batches = tbml_realloc(t->batches, (size_t)t->cap * sizeof(tbml_batch *));
    }
    t->batches[t->nbatches++] = b;
}

int64_t tbml_table_nrows(const tbml_table *t)
{
    int64_t n = 0;
    for (int64_t i = 0; i < t->nbatches; i++)
        n += t->batches[i]->nrows;
    return n;
}

void tbml_table_free(tbml_table *t)
{
    if (!t) return;
    for (int64_t i = 0; i < t->nbatches; i++)
        tbml_batch_free(t->batches[i]);
    tbml_free(t->batches);
    if (t->ranges) tbml_free(t->ranges->range);
    tbml_free(t->ranges);
    tbml_schema_clear(&t->schema);
    tbml_free(t);
}
