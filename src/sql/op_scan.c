/* Scan: a table's rows, cut into units of at most SCAN_CHUNK rows (whole batches or slices of
 * large ones) dealt round-robin to the partitions. A unit goes out as a borrowed view of the
 * table's memory; columns the query never reads become row-count-only placeholders, which is
 * how column pruning reaches the scan. Also the one-row relation of SELECT without FROM.
 *
 * A file reader's table (tbml_table_ranges) is dealt by input range instead: range k's rows go,
 * in order, to partition k % P. A distributed read holds range k on rank k % size, which owns
 * partition k % P whenever P is a multiple of the rank count or the input has at most P ranges,
 * so each rank scans only what it read and the partitions are the same as in one process. When
 * neither holds (a SET of the partitions after the read), sql_scan_prepare first gathers the
 * whole table onto every rank. */
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
    const tbml_table_ranges *rg = t->ranges;
    int nc = t->schema.nfields;
    tbml_column *cols = tbml_calloc(nc > 0 ? (size_t)nc : 1, sizeof(tbml_column));
    tbml_status st = TBML_OK;
    int64_t unit = 0;
    for (int64_t bi = 0; bi < t->nbatches && !st; bi++) {
        const tbml_batch *b = t->batches[bi];
        if (rg && rg->range[bi] % x->nparts != part) continue;
        for (int64_t off = 0; off < b->nrows && !st; off += SCAN_CHUNK, unit++) {
            if (!rg && unit % x->nparts != part) continue;
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

/* The whole of a distributed read on every rank: each rank's batches with their ranges, all
 * gathered and put back in range order. Every rank calls it for the same tables (the plan and
 * the tables' ranges are the same everywhere). */
static tbml_status unsplit(sql_xc *x, tbml_table *t)
{
    tbml_table_ranges *rg = t->ranges;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (int64_t i = 0; i < t->nbatches; i++) {
        uint8_t *enc;
        size_t size;
        sql_batch_encode(t->batches[i], &enc, &size);
        uint8_t h[16];
        for (int k = 0; k < 8; k++) {
            h[k] = (uint8_t)((uint64_t)rg->range[i] >> (8 * k));
            h[8 + k] = (uint8_t)((uint64_t)size >> (8 * k));
        }
        if (n + 16 + size > cap) {
            cap = (n + 16 + size) * 2;
            buf = tbml_realloc(buf, cap);
        }
        memcpy(buf + n, h, 16);
        memcpy(buf + n + 16, enc, size);
        n += 16 + size;
        tbml_free(enc);
    }
    const void **sb = tbml_calloc((size_t)x->size, sizeof(*sb));
    size_t *ss = tbml_calloc((size_t)x->size, sizeof(size_t));
    uint8_t **rb = tbml_calloc((size_t)x->size, sizeof(*rb));
    size_t *rs = tbml_calloc((size_t)x->size, sizeof(size_t));
    for (int r = 0; r < x->size; r++) {
        sb[r] = buf;
        ss[r] = n;
    }
    tbml_status st = tbml_comm_alltoallv(x->comm, sb, ss, rb, rs);
    /* by range: batch of range k, or NULL when the range had no rows */
    int64_t nr = rg->nranges;
    tbml_batch **by = tbml_calloc(nr > 0 ? (size_t)nr : 1, sizeof(*by));
    for (int r = 0; r < x->size && !st; r++) {
        if (r == x->rank) continue; /* this rank's batches are in t already */
        for (size_t o = 0; o < rs[r] && !st;) {
            uint64_t k = 0, size = 0;
            if (rs[r] - o < 16) {
                st = tbml_error(TBML_E_FORMAT, "scan: truncated table from rank %d", r);
                break;
            }
            for (int i = 0; i < 8; i++) {
                k |= (uint64_t)rb[r][o + (size_t)i] << (8 * i);
                size |= (uint64_t)rb[r][o + 8 + (size_t)i] << (8 * i);
            }
            o += 16;
            if (k >= (uint64_t)nr || by[k] || size > rs[r] - o) {
                st = tbml_error(TBML_E_FORMAT, "scan: bad table block from rank %d", r);
                break;
            }
            tbml_batch *b;
            if ((st = sql_batch_decode(rb[r] + o, (size_t)size, &b))) break;
            tbml_schema_clear(&b->schema);
            tbml_schema_copy(&b->schema, &t->schema);
            by[k] = b;
            o += (size_t)size;
        }
    }
    if (!st) {
        for (int64_t i = 0; i < t->nbatches; i++)
            by[rg->range[i]] = t->batches[i];
        int64_t m = 0;
        for (int64_t k = 0; k < nr; k++)
            if (by[k]) m++;
        t->batches = tbml_realloc(t->batches, (size_t)(m ? m : 1) * sizeof(*t->batches));
        rg->range = tbml_realloc(rg->range, (size_t)(m ? m : 1) * sizeof(int64_t));
        t->cap = m;
        t->nbatches = 0;
        for (int64_t k = 0; k < nr; k++)
            if (by[k]) {
                rg->range[t->nbatches] = k;
                t->batches[t->nbatches++] = by[k];
            }
        rg->rank = 0;
        rg->size = 1;
    } else {
        for (int64_t k = 0; k < nr; k++) /* only the received ones are set yet */
            tbml_batch_free(by[k]);
    }
    for (int r = 0; r < x->size; r++)
        tbml_free(rb[r]);
    tbml_free(by);
    tbml_free(rb);
    tbml_free(rs);
    tbml_free(sb);
    tbml_free(ss);
    tbml_free(buf);
    return st;
}

tbml_status sql_scan_prepare(sql_xc *x, sql_plan *p)
{
    tbml_status st;
    for (int i = 0; i < p->nchild; i++)
        if ((st = sql_scan_prepare(x, p->child[i]))) return st;
    if (p->kind != P_SCAN || !p->table->ranges || p->table->ranges->size <= 1) return TBML_OK;
    const tbml_table_ranges *rg = p->table->ranges;
    if (!x->comm || rg->size != x->size || rg->rank != x->rank)
        return tbml_error(TBML_E_ARG,
                          "view %s was read by %d ranks, but this query runs on %d process%s",
                          p->table_name, rg->size, x->size, x->size == 1 ? "" : "es");
    /* range k is here (k % size == rank) and partition k % P is run here ((k % P) % size ==
     * rank) for every k exactly when this holds */
    if (rg->nranges <= x->nparts || x->nparts % x->size == 0) return TBML_OK;
    TBML_LOG_D("scan %s: %d partitions, %d ranks: gathering the whole table", p->table_name,
               x->nparts, x->size);
    return unsplit(x, (tbml_table *)p->table);
}
