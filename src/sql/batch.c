/* Batch helpers for the operators: lists of batches, gathering rows by index (joins, sorts,
 * filters, repartitioning), copying and concatenating. Every batch made here owns all of its
 * memory, so it can cross the exchange as it is. Columns of type NULL (placeholders for
 * columns a query never reads) carry only their row count. */
#include "sql_int.h"

#include <string.h>

/* memcpy that accepts NULL with a zero size (empty columns have no arrays) */
static inline void mcpy(void *d, const void *src, size_t n)
{
    if (n) memcpy(d, src, n);
}

void sql_blist_push(sql_blist *l, tbml_batch *b)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->b = tbml_realloc(l->b, (size_t)l->cap * sizeof(*l->b));
    }
    l->b[l->n++] = b;
}

void sql_blist_clear(sql_blist *l)
{
    for (int64_t i = 0; i < l->n; i++)
        tbml_batch_free(l->b[i]);
    tbml_free(l->b);
    memset(l, 0, sizeof(*l));
}

int64_t sql_blist_rows(const sql_blist *l)
{
    int64_t n = 0;
    for (int64_t i = 0; i < l->n; i++)
        n += l->b[i]->nrows;
    return n;
}

void sql_column_take(tbml_column *dst, const tbml_column *src, const int64_t *idx, int64_t n)
{
    tbml_type t = src->type;
    tbml_column_init(dst, t, 0);
    if (t == TBML_TYPE_NULL) {
        dst->nrows = n;
        return;
    }
    size_t sz = n > 0 ? (size_t)n : 1;
    int need_valid = src->valid != NULL;
    for (int64_t i = 0; i < n && !need_valid; i++)
        need_valid = idx[i] < 0;
    if (need_valid) {
        dst->valid = tbml_malloc(sz);
        for (int64_t i = 0; i < n; i++)
            dst->valid[i] = idx[i] >= 0 && !(src->valid && !src->valid[idx[i]]);
    }
    switch (t) {
    case TBML_TYPE_BOOL:
        dst->u8 = tbml_malloc(sz);
        for (int64_t i = 0; i < n; i++)
            dst->u8[i] = idx[i] >= 0 ? src->u8[idx[i]] : 0;
        break;
    case TBML_TYPE_INT64:
    case TBML_TYPE_DATE:
    case TBML_TYPE_TIMESTAMP:
        dst->i64 = tbml_malloc(sz * 8);
        for (int64_t i = 0; i < n; i++)
            dst->i64[i] = idx[i] >= 0 ? src->i64[idx[i]] : 0;
        break;
    case TBML_TYPE_DOUBLE:
        dst->f64 = tbml_malloc(sz * 8);
        for (int64_t i = 0; i < n; i++)
            dst->f64[i] = idx[i] >= 0 ? src->f64[idx[i]] : 0;
        break;
    case TBML_TYPE_STRING: {
        int64_t tot = 0;
        for (int64_t i = 0; i < n; i++)
            if (idx[i] >= 0) tot += src->offsets[idx[i] + 1] - src->offsets[idx[i]];
        dst->offsets = tbml_realloc(dst->offsets, (sz + 1) * 8);
        tbml_free(dst->chars); /* replaces the empty one of column_init */
        dst->chars = tbml_malloc(tot > 0 ? (size_t)tot : 1);
        dst->chars_capacity = tot > 0 ? tot : 1;
        int64_t o = 0;
        dst->offsets[0] = 0;
        for (int64_t i = 0; i < n; i++) {
            if (idx[i] >= 0) {
                int64_t s = src->offsets[idx[i]], len = src->offsets[idx[i] + 1] - s;
                if (len) memcpy(dst->chars + o, src->chars + s, (size_t)len);
                o += len;
            }
            dst->offsets[i + 1] = o;
        }
        dst->chars_size = o;
        break;
    }
    case TBML_TYPE_NULL:
        break;
    }
    dst->nrows = n;
    dst->capacity = n;
}

tbml_batch *sql_batch_from_columns(const tbml_schema *schema, tbml_column *cols, int64_t nrows)
{
    tbml_batch *b = tbml_calloc(1, sizeof(*b));
    tbml_schema_copy(&b->schema, schema);
    if (schema->nfields > 0) {
        b->cols = tbml_calloc((size_t)schema->nfields, sizeof(tbml_column));
        mcpy(b->cols, cols, (size_t)schema->nfields * sizeof(tbml_column));
        memset(cols, 0, (size_t)schema->nfields * sizeof(tbml_column));
    }
    b->nrows = nrows;
    return b;
}

tbml_batch *sql_batch_take(const tbml_batch *src, const int64_t *idx, int64_t n)
{
    int nc = src->schema.nfields;
    tbml_column *cols = tbml_calloc(nc > 0 ? (size_t)nc : 1, sizeof(tbml_column));
    for (int c = 0; c < nc; c++)
        sql_column_take(&cols[c], &src->cols[c], idx, n);
    tbml_batch *b = sql_batch_from_columns(&src->schema, cols, n);
    tbml_free(cols);
    return b;
}

tbml_batch *sql_batch_copy(const tbml_batch *src)
{
    int64_t n = src->nrows;
    int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    tbml_batch *b = sql_batch_take(src, idx, n);
    tbml_free(idx);
    return b;
}

tbml_batch *sql_batch_concat(const tbml_schema *schema, tbml_batch *const *bs, int64_t nb)
{
    int nc = schema->nfields;
    int64_t total = 0;
    for (int64_t i = 0; i < nb; i++)
        total += bs[i]->nrows;
    tbml_column *cols = tbml_calloc(nc > 0 ? (size_t)nc : 1, sizeof(tbml_column));
    for (int c = 0; c < nc; c++) {
        /* a placeholder column in any input makes the result a placeholder */
        tbml_type t = schema->fields[c].type;
        for (int64_t i = 0; i < nb; i++)
            if (bs[i]->cols[c].type == TBML_TYPE_NULL) t = TBML_TYPE_NULL;
        tbml_column *d = &cols[c];
        tbml_column_init(d, t, 0);
        if (t == TBML_TYPE_NULL) {
            d->nrows = total;
            continue;
        }
        size_t sz = total > 0 ? (size_t)total : 1;
        int any_null = 0;
        for (int64_t i = 0; i < nb; i++)
            any_null |= bs[i]->cols[c].valid != NULL;
        if (any_null) d->valid = tbml_malloc(sz);
        int64_t chars = 0;
        if (t == TBML_TYPE_STRING) {
            for (int64_t i = 0; i < nb; i++)
                chars += bs[i]->cols[c].offsets[bs[i]->nrows] - bs[i]->cols[c].offsets[0];
            d->offsets = tbml_realloc(d->offsets, (sz + 1) * 8);
            d->offsets[0] = 0;
            tbml_free(d->chars); /* replaces the empty one of column_init */
            d->chars = tbml_malloc(chars > 0 ? (size_t)chars : 1);
            d->chars_capacity = chars > 0 ? chars : 1;
        } else if (t == TBML_TYPE_BOOL) {
            d->u8 = tbml_malloc(sz);
        } else if (t == TBML_TYPE_DOUBLE) {
            d->f64 = tbml_malloc(sz * 8);
        } else {
            d->i64 = tbml_malloc(sz * 8);
        }
        int64_t r = 0, co = 0;
        for (int64_t i = 0; i < nb; i++) {
            const tbml_column *s = &bs[i]->cols[c];
            int64_t n = bs[i]->nrows;
            if (any_null) {
                if (s->valid)
                    mcpy(d->valid + r, s->valid, (size_t)n);
                else
                    memset(d->valid + r, 1, (size_t)n);
            }
            switch (t) {
            case TBML_TYPE_BOOL:
                mcpy(d->u8 + r, s->u8, (size_t)n);
                break;
            case TBML_TYPE_DOUBLE:
                mcpy(d->f64 + r, s->f64, (size_t)n * 8);
                break;
            case TBML_TYPE_STRING: {
                /* the source may be a slice: its offsets need not start at 0 */
                int64_t base = s->offsets[0], len = s->offsets[n] - base;
                if (len) mcpy(d->chars + co, s->chars + base, (size_t)len);
                for (int64_t k = 0; k < n; k++)
                    d->offsets[r + k + 1] = co + s->offsets[k + 1] - base;
                co += len;
                break;
            }
            default:
                mcpy(d->i64 + r, s->i64, (size_t)n * 8);
                break;
            }
            r += n;
        }
        d->chars_size = co;
        d->nrows = total;
        d->capacity = total;
    }
    tbml_batch *b = sql_batch_from_columns(schema, cols, total);
    tbml_free(cols);
    return b;
}

int64_t sql_batch_size(const tbml_batch *b)
{
    int64_t size = 0;
    for (int c = 0; c < b->schema.nfields; c++) {
        const tbml_column *col = &b->cols[c];
        switch (col->type) {
        case TBML_TYPE_NULL:
            break;
        case TBML_TYPE_BOOL:
            size += b->nrows;
            break;
        case TBML_TYPE_STRING:
            size += col->chars_size + 8 * b->nrows;
            break;
        default:
            size += 8 * b->nrows;
            break;
        }
    }
    return size;
}

void sql_column_copy(tbml_column *dst, const tbml_column *src, int64_t n)
{
    tbml_column_init(dst, src->type, 0);
    dst->nrows = n;
    dst->capacity = n;
    if (src->type == TBML_TYPE_NULL) return;
    size_t sz = n > 0 ? (size_t)n : 1;
    if (src->valid) {
        dst->valid = tbml_malloc(sz);
        mcpy(dst->valid, src->valid, (size_t)n);
    }
    switch (src->type) {
    case TBML_TYPE_BOOL:
        dst->u8 = tbml_malloc(sz);
        mcpy(dst->u8, src->u8, (size_t)n);
        break;
    case TBML_TYPE_DOUBLE:
        dst->f64 = tbml_malloc(sz * 8);
        mcpy(dst->f64, src->f64, (size_t)n * 8);
        break;
    case TBML_TYPE_STRING: {
        int64_t base = src->offsets[0], len = src->offsets[n] - base;
        dst->offsets = tbml_realloc(dst->offsets, (sz + 1) * 8);
        for (int64_t i = 0; i <= n; i++)
            dst->offsets[i] = src->offsets[i] - base;
        tbml_free(dst->chars); /* replaces the empty one of column_init */
        dst->chars = tbml_malloc(len > 0 ? (size_t)len : 1);
        if (len) mcpy(dst->chars, src->chars + base, (size_t)len);
        dst->chars_size = len;
        dst->chars_capacity = len > 0 ? len : 1;
        break;
    }
    default:
        dst->i64 = tbml_malloc(sz * 8);
        mcpy(dst->i64, src->i64, (size_t)n * 8);
        break;
    }
}
