/* The distributed exchange backend: partitions spread over the ranks of a communicator, global
 * partition p on rank p % size. A send encodes the batch at once (sql_batch_encode) into the
 * byte stream for the rank owning dst (every rank for a broadcast); finish, called by the driver
 * on every rank, moves those streams with one sealed all-to-all(v) and decodes them. Received
 * batches are listed per destination in global source order, as the local backend lists them,
 * so every partition sees the same batches in the same order as in a single-process run.
 *
 * Stream to one rank: per owned source partition, u32 src, u64 bytes, then records
 * (i32 dst or -1, u64 size, encoded batch). */
#include "exchange.h"

#include <string.h>

typedef struct {
    uint8_t *buf;
    size_t n, cap;
} cbuf;

typedef struct {
    tbml_comm_t *comm;
    int nparts, rank, size;
    cbuf *out;        /* nparts x size: what source partition s sends to rank r */
    sql_blist *cells; /* nparts x (nparts + 1), after finish: as the local backend's */
    tbml_batch ***lists;
    int64_t *nlists;
} comm_x;

#define CX(x) ((comm_x *)(void *)(x))

static void cput(cbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->buf = tbml_realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}

static void cput_u64(cbuf *b, uint64_t v)
{
    uint8_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(v >> (8 * i));
    cput(b, w, 8);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

tbml_status sql_exchange_comm_open(tbml_comm_t *c, int nparts, sql_exchange **out)
{
    comm_x *x = tbml_calloc(1, sizeof(*x));
    x->comm = c;
    x->nparts = nparts;
    x->rank = tbml_comm_rank(c);
    x->size = tbml_comm_size(c);
    x->out = tbml_calloc((size_t)nparts * (size_t)x->size, sizeof(cbuf));
    x->cells = tbml_calloc((size_t)nparts * (size_t)(nparts + 1), sizeof(sql_blist));
    x->lists = tbml_calloc((size_t)nparts, sizeof(*x->lists));
    x->nlists = tbml_calloc((size_t)nparts, sizeof(*x->nlists));
    *out = (sql_exchange *)(void *)x;
    return TBML_OK;
}

static tbml_status comm_open(int nparts, int serialize, sql_exchange **out)
{
    (void)nparts;
    (void)serialize;
    (void)out;
    return tbml_error(TBML_E_INTERNAL, "exchange: the comm backend opens with a communicator");
}

static tbml_status comm_send(sql_exchange *ex, int src, int dst, tbml_batch *b)
{
    comm_x *x = CX(ex);
    TBML_ASSERT(src >= 0 && src < x->nparts && dst >= SQL_EXCHANGE_ALL && dst < x->nparts);
    TBML_ASSERT(src % x->size == x->rank);
    uint8_t *enc;
    size_t size;
    sql_batch_encode(b, &enc, &size);
    tbml_batch_free(b);
    uint8_t d[4];
    uint32_t ud = (uint32_t)dst;
    for (int i = 0; i < 4; i++)
        d[i] = (uint8_t)(ud >> (8 * i));
    for (int r = 0; r < x->size; r++) {
        if (dst != SQL_EXCHANGE_ALL && dst % x->size != r) continue;
        cbuf *o = &x->out[(size_t)src * (size_t)x->size + (size_t)r];
        cput(o, d, 4);
        cput_u64(o, size);
        cput(o, enc, size);
    }
    tbml_free(enc);
    return TBML_OK;
}

/* Decodes one rank's stream into cells. */
static tbml_status take_stream(comm_x *x, int from, const uint8_t *p, size_t n)
{
    int P = x->nparts;
    size_t o = 0;
    while (o < n) {
        if (n - o < 12)
            return tbml_error(TBML_E_FORMAT, "exchange: truncated stream from rank %d", from);
        uint32_t src = (uint32_t)p[o] | (uint32_t)p[o + 1] << 8 | (uint32_t)p[o + 2] << 16 |
                       (uint32_t)p[o + 3] << 24;
        uint64_t len = get_u64(p + o + 4);
        o += 12;
        if (src >= (uint32_t)P || (int)src % x->size != from || len > n - o)
            return tbml_error(TBML_E_FORMAT, "exchange: bad block from rank %d", from);
        size_t end = o + (size_t)len;
        while (o < end) {
            if (end - o < 12)
                return tbml_error(TBML_E_FORMAT, "exchange: truncated record from rank %d", from);
            int32_t dst = (int32_t)((uint32_t)p[o] | (uint32_t)p[o + 1] << 8 |
                                    (uint32_t)p[o + 2] << 16 | (uint32_t)p[o + 3] << 24);
            uint64_t sz = get_u64(p + o + 4);
            o += 12;
            if (dst < SQL_EXCHANGE_ALL || dst >= P || sz > end - o ||
                (dst != SQL_EXCHANGE_ALL && dst % x->size != x->rank))
                return tbml_error(TBML_E_FORMAT, "exchange: bad record from rank %d", from);
            tbml_batch *b;
            tbml_status st = sql_batch_decode(p + o, (size_t)sz, &b);
            if (st) return st;
            o += (size_t)sz;
            int col = dst == SQL_EXCHANGE_ALL ? P : dst;
            sql_blist_push(&x->cells[(size_t)src * (size_t)(P + 1) + (size_t)col], b);
        }
    }
    return TBML_OK;
}

static tbml_status comm_finish(sql_exchange *ex)
{
    comm_x *x = CX(ex);
    int P = x->nparts, R = x->size;
    cbuf *to = tbml_calloc((size_t)R, sizeof(cbuf));
    for (int r = 0; r < R; r++)
        for (int s = x->rank; s < P; s += R) {
            cbuf *o = &x->out[(size_t)s * (size_t)R + (size_t)r];
            if (!o->n) continue;
            uint8_t h[4] = {(uint8_t)s, (uint8_t)(s >> 8), (uint8_t)(s >> 16), (uint8_t)(s >> 24)};
            cput(&to[r], h, 4);
            cput_u64(&to[r], o->n);
            cput(&to[r], o->buf, o->n);
            tbml_free(o->buf);
            memset(o, 0, sizeof(*o));
        }
    const void **sb = tbml_calloc((size_t)R, sizeof(*sb));
    size_t *ss = tbml_calloc((size_t)R, sizeof(size_t));
    uint8_t **rb = tbml_calloc((size_t)R, sizeof(*rb));
    size_t *rs = tbml_calloc((size_t)R, sizeof(size_t));
    for (int r = 0; r < R; r++) {
        sb[r] = to[r].buf;
        ss[r] = to[r].n;
    }
    tbml_status st = tbml_comm_alltoallv(x->comm, sb, ss, rb, rs);
    for (int r = 0; r < R; r++)
        tbml_free(to[r].buf);
    tbml_free(to);
    if (!st)
        for (int r = 0; r < R && !st; r++)
            st = take_stream(x, r, rb[r], rs[r]);
    for (int r = 0; r < R; r++)
        tbml_free(rb[r]);
    tbml_free(sb);
    tbml_free(ss);
    tbml_free(rb);
    tbml_free(rs);
    if (st) return st;
    sql_exchange_assemble(P, x->cells, x->lists, x->nlists);
    return TBML_OK;
}

static tbml_status comm_recv(sql_exchange *ex, int dst, tbml_batch *const **bs, int64_t *n)
{
    comm_x *x = CX(ex);
    TBML_ASSERT(dst >= 0 && dst < x->nparts);
    *bs = x->lists[dst];
    *n = x->nlists[dst];
    return TBML_OK;
}

static void comm_close(sql_exchange *ex)
{
    comm_x *x = CX(ex);
    if (!x) return;
    size_t ncells = (size_t)x->nparts * (size_t)(x->nparts + 1);
    for (size_t i = 0; i < ncells; i++)
        sql_blist_clear(&x->cells[i]);
    for (size_t i = 0; i < (size_t)x->nparts * (size_t)x->size; i++)
        tbml_free(x->out[i].buf);
    for (int d = 0; d < x->nparts; d++)
        tbml_free(x->lists[d]);
    tbml_free(x->out);
    tbml_free(x->cells);
    tbml_free(x->lists);
    tbml_free(x->nlists);
    tbml_free(x);
}

const sql_exchange_backend sql_exchange_comm = {"comm",      comm_open, comm_send,
                                                comm_finish, comm_recv, comm_close};
