/* Scan: a table's rows, cut into units of at most SCAN_CHUNK rows (whole batches or slices of
 * large ones) dealt round-robin to the partitions. A unit goes out as a borrowed view of the
 * table's memory; columns the query never reads become row-count-only placeholders, which is
 * how column pruning reaches the scan. Also the one-row relation of SELECT without FROM. */
#include "exec.h"

#include <string.h>

#define SCAN_CHUNK 65536

/* A view of rows [off, off + n) of column c (no copy). */
static void slice(tbml_column *v, const tbml_column *c, int64_t off, int64_t n)
{
    memset(v, 0, sizeof(*v));
    v->type = c->type;
    v->nrows = n;
    v->capacity = n;
    if (c->type == TBML_TYPE_NULL) return;
    if (c->valid) v->valid = c->valid + off;
    switch (c->type) {
    case TBML_TYPE_BOOL:
        v->u8 = c->u8 + off;
        break;
    case TBML_TYPE_DOUBLE:
        v->f64 = c->f64 + off;
        break;
    case TBML_TYPE_STRING:
        v->offsets = c->offsets + off;
        v->chars = c->chars;
        v->chars_size = c->chars_size;
        break;
    default:
        v->i64 = c->i64 + off;
        break;
    }
}

tbml_status op_scan_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    const tbml_table *t = p->table;
    int nc = t->schema.nfields;
    tbml_column *cols = tbml_calloc(nc > 0 ? (size_t)nc : 1, sizeof(tbml_column));
    tbml_status st = TBML_OK;
    int64_t unit = 0;
    for (int64_t bi = 0; bi < t->nbatches && !st; bi++) {
        const tbml_batch *b = t->batches[bi];
        for (int64_t off = 0; off < b->nrows && !st; off += SCAN_CHUNK, unit++) {
            if (unit % x->nparts != part) continue;
            int64_t n = b->nrows - off < SCAN_CHUNK ? b->nrows - off : SCAN_CHUNK;
            for (int c = 0; c < nc; c++) {
                if (p->used[c]) {
                    slice(&cols[c], &b->cols[c], off, n);
                } else {
                    memset(&cols[c], 0, sizeof(cols[c]));
                    cols[c].type = TBML_TYPE_NULL;
                    cols[c].nrows = n;
                }
            }
            tbml_batch view;
            memset(&view, 0, sizeof(view));
            view.schema = t->schema;
            view.nrows = n;
            view.cols = cols;
            __atomic_fetch_add(&x->rows, n, __ATOMIC_RELAXED);
            st = out->put(out, &view, 0);
        }
    }
    tbml_free(cols);
    return st;
}

tbml_status op_values_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    (void)x;
    if (part != 0) return TBML_OK;
    tbml_batch *b = tbml_calloc(1, sizeof(*b));
    tbml_schema_init(&b->schema);
    b->nrows = 1;
    (void)p;
    return out->put(out, b, 1);
}
