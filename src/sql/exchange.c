/* The local exchange backend: partitions are threads of this process. Each source writes only
 * its own row of cells[src][dst], so sends take no locks; finish (called after the pool's
 * barrier) builds each destination's list in source order, which keeps results deterministic
 * for a given partition count. Also the batch encoding a distributed backend sends. */
#include "exchange.h"

#include <string.h>

struct sql_exchange {
    int nparts, serialize;
    sql_blist *cells; /* (nparts) x (nparts + 1): the last column is "every partition" */
    tbml_batch ***lists;
    int64_t *nlists;
    sql_blist owned; /* decoded copies in serialize mode */
};

static tbml_status local_open(int nparts, int serialize, sql_exchange **out)
{
    sql_exchange *x = tbml_calloc(1, sizeof(*x));
    x->nparts = nparts;
    x->serialize = serialize;
    x->cells = tbml_calloc((size_t)nparts * (size_t)(nparts + 1), sizeof(sql_blist));
    x->lists = tbml_calloc((size_t)nparts, sizeof(*x->lists));
    x->nlists = tbml_calloc((size_t)nparts, sizeof(*x->nlists));
    *out = x;
    return TBML_OK;
}

static tbml_status local_send(sql_exchange *x, int src, int dst, tbml_batch *b)
{
    TBML_ASSERT(src >= 0 && src < x->nparts && dst >= SQL_EXCHANGE_ALL && dst < x->nparts);
    if (x->serialize) {
        /* prove the batch stands alone: only its bytes cross */
        uint8_t *buf;
        size_t size;
        sql_batch_encode(b, &buf, &size);
        tbml_batch_free(b);
        tbml_status st = sql_batch_decode(buf, size, &b);
        tbml_free(buf);
        if (st) return st;
    }
    int col = dst == SQL_EXCHANGE_ALL ? x->nparts : dst;
    sql_blist_push(&x->cells[(size_t)src * (size_t)(x->nparts + 1) + (size_t)col], b);
    return TBML_OK;
}

/* Builds each destination's list from cells[src][dst] and the "every partition" column, in
 * source order; shared by the local and the comm backends so both deliver in the same order. */
void sql_exchange_assemble(int P, sql_blist *cells, tbml_batch ***lists, int64_t *nlists)
{
    for (int d = 0; d < P; d++) {
        int64_t n = 0;
        for (int s = 0; s < P; s++)
            n += cells[(size_t)s * (size_t)(P + 1) + (size_t)d].n +
                 cells[(size_t)s * (size_t)(P + 1) + (size_t)P].n;
        lists[d] = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(tbml_batch *));
        int64_t k = 0;
        for (int s = 0; s < P; s++) {
            sql_blist *c = &cells[(size_t)s * (size_t)(P + 1) + (size_t)d];
            for (int64_t i = 0; i < c->n; i++)
                lists[d][k++] = c->b[i];
            c = &cells[(size_t)s * (size_t)(P + 1) + (size_t)P];
            for (int64_t i = 0; i < c->n; i++)
                lists[d][k++] = c->b[i];
        }
        nlists[d] = k;
    }
}

static tbml_status local_finish(sql_exchange *x)
{
    sql_exchange_assemble(x->nparts, x->cells, x->lists, x->nlists);
    return TBML_OK;
}

static tbml_status local_recv(sql_exchange *x, int dst, tbml_batch *const **bs, int64_t *n)
{
    TBML_ASSERT(dst >= 0 && dst < x->nparts);
    *bs = x->lists[dst];
    *n = x->nlists[dst];
    return TBML_OK;
}

static void local_close(sql_exchange *x)
{
    if (!x) return;
    size_t ncells = (size_t)x->nparts * (size_t)(x->nparts + 1);
    for (size_t i = 0; i < ncells; i++)
        sql_blist_clear(&x->cells[i]);
    for (int d = 0; d < x->nparts; d++)
        tbml_free(x->lists[d]);
    tbml_free(x->cells);
    tbml_free(x->lists);
    tbml_free(x->nlists);
    tbml_free(x);
}

const sql_exchange_backend sql_exchange_local = {"local",      local_open, local_send,
                                                 local_finish, local_recv, local_close};

/* ---- encoding: "TBMB", u32 ncols, u64 nrows, then per column: u8 type, u8 has_valid,
 * u32 name length, name, [valid bytes], data (u8 | i64 | f64 | offsets + u64 chars size + chars) */

void sql_batch_encode(const tbml_batch *b, uint8_t **out, size_t *size)
{
    tbml_bytes w = {0};
    tbml_bytes_put(&w, "TBMB", 4);
    tbml_bytes_put_u32(&w, (uint32_t)b->schema.nfields);
    tbml_bytes_put_u64(&w, (uint64_t)b->nrows);
    for (int c = 0; c < b->schema.nfields; c++) {
        const tbml_column *col = &b->cols[c];
        const tbml_field *f = &b->schema.fields[c];
        uint8_t hdr[2] = {(uint8_t)col->type, (uint8_t)(col->valid != NULL)};
        tbml_bytes_put(&w, hdr, 2);
        uint8_t ftype = (uint8_t)f->type;
        tbml_bytes_put(&w, &ftype, 1);
        tbml_bytes_put_u32(&w, (uint32_t)strlen(f->name));
        tbml_bytes_put(&w, f->name, strlen(f->name));
        size_t n = (size_t)b->nrows;
        if (col->type == TBML_TYPE_NULL) continue;
        if (col->valid) tbml_bytes_put(&w, col->valid, n);
        switch (col->type) {
        case TBML_TYPE_BOOL:
            tbml_bytes_put(&w, col->u8, n);
            break;
        case TBML_TYPE_DOUBLE:
            for (size_t i = 0; i < n; i++) {
                uint64_t u;
                memcpy(&u, &col->f64[i], 8);
                tbml_bytes_put_u64(&w, u);
            }
            break;
        case TBML_TYPE_STRING:
            for (size_t i = 0; i <= n; i++)
                tbml_bytes_put_u64(&w, (uint64_t)(col->offsets[i] - col->offsets[0]));
            if (col->offsets[n] > col->offsets[0])
                tbml_bytes_put(&w, col->chars + col->offsets[0],
                               (size_t)(col->offsets[n] - col->offsets[0]));
            break;
        default:
            for (size_t i = 0; i < n; i++)
                tbml_bytes_put_u64(&w, (uint64_t)col->i64[i]);
            break;
        }
    }
    *out = w.p;
    *size = w.n;
}

typedef struct {
    const uint8_t *p;
    size_t n, o;
} rbuf;

static int get(rbuf *r, void *dst, size_t n)
{
    if (r->n - r->o < n) return 0;
    if (n) memcpy(dst, r->p + r->o, n);
    r->o += n;
    return 1;
}
static int get_u64(rbuf *r, uint64_t *v)
{
    uint8_t b[8];
    if (!get(r, b, 8)) return 0;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return 1;
}
static int get_u32(rbuf *r, uint32_t *v)
{
    uint8_t b[4];
    if (!get(r, b, 4)) return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

tbml_status sql_batch_decode(const uint8_t *buf, size_t size, tbml_batch **out)
{
    rbuf r = {buf, size, 0};
    char magic[4];
    uint32_t nc;
    uint64_t nrows;
    if (!get(&r, magic, 4) || memcmp(magic, "TBMB", 4) != 0 || !get_u32(&r, &nc) ||
        !get_u64(&r, &nrows) || nc > 100000 || nrows > ((uint64_t)1 << 40))
        return tbml_error(TBML_E_FORMAT, "exchange: malformed batch header");
    tbml_schema schema;
    tbml_schema_init(&schema);
    tbml_column *cols = tbml_calloc(nc ? nc : 1, sizeof(tbml_column));
    tbml_status st = TBML_OK;
    size_t n = (size_t)nrows;
    uint32_t c;
    for (c = 0; c < nc; c++) {
        uint8_t hdr[3];
        uint32_t nl;
        if (!get(&r, hdr, 3) || !get_u32(&r, &nl) || nl > 4096 || hdr[0] > TBML_TYPE_TIMESTAMP ||
            hdr[2] > TBML_TYPE_TIMESTAMP) {
            st = tbml_error(TBML_E_FORMAT, "exchange: malformed column %u", c);
            break;
        }
        char name[4097];
        if (!get(&r, name, nl)) {
            st = tbml_error(TBML_E_FORMAT, "exchange: truncated column name");
            break;
        }
        name[nl] = '\0';
        tbml_schema_add(&schema, name, (tbml_type)hdr[2], 1);
        tbml_column *col = &cols[c];
        tbml_column_init(col, (tbml_type)hdr[0], 0);
        col->nrows = (int64_t)n;
        col->capacity = (int64_t)n;
        if (col->type == TBML_TYPE_NULL) continue;
        if (r.n - r.o <
            n) { /* every stored row takes at least a byte: no allocation past the input */
            c++;
            st = tbml_error(TBML_E_FORMAT, "exchange: truncated column %u", c - 1);
            break;
        }
        size_t sz = n ? n : 1;
        int ok = 1;
        if (hdr[1]) {
            col->valid = tbml_malloc(sz);
            ok = get(&r, col->valid, n);
        }
        switch (col->type) {
        case TBML_TYPE_BOOL:
            col->u8 = tbml_malloc(sz);
            ok = ok && get(&r, col->u8, n);
            break;
        case TBML_TYPE_DOUBLE:
            col->f64 = tbml_malloc(sz * 8);
            for (size_t i = 0; ok && i < n; i++) {
                uint64_t u;
                ok = get_u64(&r, &u);
                memcpy(&col->f64[i], &u, 8);
            }
            break;
        case TBML_TYPE_STRING: {
            col->offsets = tbml_realloc(col->offsets, (sz + 1) * 8);
            for (size_t i = 0; ok && i <= n; i++) {
                uint64_t u;
                ok = get_u64(&r, &u) && u <= size &&
                     (i == 0 ? u == 0 : (int64_t)u >= col->offsets[i - 1]);
                col->offsets[i] = (int64_t)u;
            }
            if (!ok) break;
            size_t cs = (size_t)col->offsets[n];
            tbml_free(col->chars); /* replaces the empty one of column_init */
            col->chars = tbml_malloc(cs ? cs : 1);
            col->chars_size = (int64_t)cs;
            col->chars_capacity = (int64_t)(cs ? cs : 1);
            ok = get(&r, col->chars, cs);
            break;
        }
        default:
            col->i64 = tbml_malloc(sz * 8);
            for (size_t i = 0; ok && i < n; i++) {
                uint64_t u;
                ok = get_u64(&r, &u);
                col->i64[i] = (int64_t)u;
            }
            break;
        }
        if (!ok) {
            c++;
            st = tbml_error(TBML_E_FORMAT, "exchange: truncated column %u", c - 1);
            break;
        }
    }
    if (!st && r.o != r.n) st = tbml_error(TBML_E_FORMAT, "exchange: trailing bytes after batch");
    if (st) {
        for (uint32_t k = 0; k < nc; k++)
            tbml_column_clear(&cols[k]);
        tbml_free(cols);
        tbml_schema_clear(&schema);
        return st;
    }
    *out = sql_batch_from_columns(&schema, cols, (int64_t)n);
    tbml_free(cols);
    tbml_schema_clear(&schema);
    return TBML_OK;
}
