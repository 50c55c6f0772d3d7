/* Collectives built in tbml on sealed point-to-point messages, so the transport (MPI) moves only
 * ciphertext and never reduces anything: ring allreduce (reduce-scatter + allgather), all-to-all,
 * binomial-tree broadcast, gather to a root, dissemination barrier. */
#include "dist_internal.h"

#include <string.h>

/* In blocks of 8 so that gcc -O2 (whose cheap vectoriser leaves loops of unknown length scalar)
 * still adds whole vectors; the tail goes element by element. */
static void sum_f32(float *restrict a, const float *restrict b, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        for (size_t k = 0; k < 8; k++)
            a[i + k] += b[i + k];
    for (; i < count; i++)
        a[i] += b[i];
}

static void sum_f64(double *restrict a, const double *restrict b, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        for (size_t k = 0; k < 8; k++)
            a[i + k] += b[i + k];
    for (; i < count; i++)
        a[i] += b[i];
}

static void sum_i64(int64_t *restrict a, const int64_t *restrict b, size_t count)
{
    size_t i = 0;
    /* unsigned adds wrap where signed overflow would be UB */
    for (; i + 8 <= count; i += 8)
        for (size_t k = 0; k < 8; k++)
            a[i + k] = (int64_t)((uint64_t)a[i + k] + (uint64_t)b[i + k]);
    for (; i < count; i++)
        a[i] = (int64_t)((uint64_t)a[i] + (uint64_t)b[i]);
}

void dist_reduce_sum(void *acc, const void *in, size_t count, tbml_comm_dtype dt)
{
    switch (dt) {
    case TBML_DT_F32:
        sum_f32(acc, in, count);
        break;
    case TBML_DT_F64:
        sum_f64(acc, in, count);
        break;
    case TBML_DT_I64:
        sum_i64(acc, in, count);
        break;
    }
}

static size_t dtype_size(tbml_comm_dtype dt)
{
    switch (dt) {
    case TBML_DT_F32:
        return 4;
    case TBML_DT_F64:
        return 8;
    case TBML_DT_I64:
        return 8;
    }
    return 0;
}

tbml_status tbml_comm_barrier(tbml_comm_t *c)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    tbml_status st = TBML_OK;
    for (int k = 1; k < n && !st; k *= 2) {
        uint8_t out = 1, in = 0;
        dist_send_spec s = {(me + k) % n, DIST_TAG_BARRIER, &out, 1};
        dist_recv_spec r = {(me - k + n) % n, DIST_TAG_BARRIER, &in, 1, NULL};
        st = dist_exchange(c, &s, 1, &r, 1);
    }
    return st;
}

tbml_status tbml_comm_allreduce_sum(tbml_comm_t *c, void *buf, size_t count, tbml_comm_dtype dt)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    size_t es = dtype_size(dt);
    if (!es) return tbml_error(TBML_E_ARG, "allreduce: unknown data type %d", (int)dt);
    if (n == 1 || count == 0) return n == 1 ? TBML_OK : tbml_comm_barrier(c);
    uint8_t *b = buf;
    /* segment k is elements [k*count/n, (k+1)*count/n) */
#define SEG_LO(k) ((size_t)(((unsigned __int128)(k)*count) / (unsigned)n))
    size_t maxseg = count / (size_t)n + 1;
    /* chunks of whole elements are added in as they open, on the crypto workers; otherwise the
     * segment lands in scratch and is added after */
    int fused = dist_comm_can_reduce(c, dt);
    uint8_t *tmp = fused ? NULL : dist_comm_scratch(c, maxseg * es);
    int right = (me + 1) % n, left = (me - 1 + n) % n;
    tbml_status st = TBML_OK;
    /* reduce-scatter: after n-1 steps this rank holds the full sum of segment (me + 1) % n */
    for (int s = 0; s < n - 1 && !st; s++) {
        int sk = ((me - s) % n + n) % n, rk = ((me - s - 1) % n + n) % n;
        size_t slo = SEG_LO(sk), shi = SEG_LO(sk + 1), rlo = SEG_LO(rk), rhi = SEG_LO(rk + 1);
        dist_send_spec sp = {right, DIST_TAG_ALLREDUCE, b + slo * es, (shi - slo) * es};
        dist_recv_spec rp = {left, DIST_TAG_ALLREDUCE, fused ? b + rlo * es : tmp, (rhi - rlo) * es,
                             NULL};
        dist_exchange_extra x = {.reduce = fused ? dt : 0};
        st = dist_exchange_ex(c, &sp, 1, &rp, 1, &x);
        if (!st && !fused) dist_reduce_sum(b + rlo * es, tmp, rhi - rlo, dt);
    }
    /* allgather: pass the finished segments round the ring */
    for (int s = 0; s < n - 1 && !st; s++) {
        int sk = ((me + 1 - s) % n + n) % n, rk = ((me - s) % n + n) % n;
        size_t slo = SEG_LO(sk), shi = SEG_LO(sk + 1), rlo = SEG_LO(rk), rhi = SEG_LO(rk + 1);
        dist_send_spec sp = {right, DIST_TAG_ALLREDUCE, b + slo * es, (shi - slo) * es};
        dist_recv_spec rp = {left, DIST_TAG_ALLREDUCE, b + rlo * es, (rhi - rlo) * es, NULL};
        st = dist_exchange(c, &sp, 1, &rp, 1);
    }
#undef SEG_LO
    return st;
}

tbml_status tbml_comm_alltoallv(tbml_comm_t *c, const void *const *sendbufs,
                                const size_t *sendsizes, uint8_t **recvbufs, size_t *recvsizes)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    dist_send_spec *ss = tbml_calloc((size_t)n, sizeof(*ss));
    dist_recv_spec *rr = tbml_calloc((size_t)n, sizeof(*rr));
    int k = 0;
    /* start with the next rank up so that not every rank sends to rank 0 first */
    for (int i = 1; i < n; i++) {
        int p = (me + i) % n, q = (me - i + n) % n;
        ss[k] = (dist_send_spec){p, DIST_TAG_ALLTOALL, sendbufs[p], sendsizes[p]};
        rr[k] = (dist_recv_spec){q, DIST_TAG_ALLTOALL, NULL, 0, NULL};
        k++;
    }
    tbml_status st = n > 1 ? dist_exchange(c, ss, k, rr, k) : TBML_OK;
    if (!st) {
        for (int i = 0; i < k; i++) {
            recvbufs[rr[i].peer] = rr[i].alloc;
            recvsizes[rr[i].peer] = rr[i].size;
        }
        recvsizes[me] = sendsizes[me];
        recvbufs[me] = NULL;
        if (sendsizes[me]) {
            recvbufs[me] = tbml_malloc(sendsizes[me]);
            memcpy(recvbufs[me], sendbufs[me], sendsizes[me]);
        }
    }
    tbml_free(ss);
    tbml_free(rr);
    return st;
}

tbml_status tbml_comm_alltoall(tbml_comm_t *c, const void *sendbuf, void *recvbuf,
                               size_t block_size)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    const uint8_t *sb = sendbuf;
    uint8_t *rb = recvbuf;
    dist_send_spec *ss = tbml_calloc((size_t)n, sizeof(*ss));
    dist_recv_spec *rr = tbml_calloc((size_t)n, sizeof(*rr));
    int k = 0;
    for (int i = 1; i < n; i++) {
        int p = (me + i) % n, q = (me - i + n) % n;
        ss[k] = (dist_send_spec){p, DIST_TAG_ALLTOALL, sb + (size_t)p * block_size, block_size};
        rr[k] =
            (dist_recv_spec){q, DIST_TAG_ALLTOALL, rb + (size_t)q * block_size, block_size, NULL};
        k++;
    }
    /* the rank's own block is copied while the exchange waits on the transport or the workers */
    dist_exchange_extra x = {.copy_dst = rb + (size_t)me * block_size,
                             .copy_src = sb + (size_t)me * block_size,
                             .copy_size = block_size};
    tbml_status st = n > 1 ? dist_exchange_ex(c, ss, k, rr, k, &x) : TBML_OK;
    if (n == 1 && block_size) memmove(x.copy_dst, x.copy_src, block_size);
    tbml_free(ss);
    tbml_free(rr);
    return st;
}

/* Binomial tree on ranks relative to root: receive from the parent, then send to the children
 * (all at once). size_known = 0: receive into a new buffer (bcast_alloc). */
static tbml_status bcast_tree(tbml_comm_t *c, int root, uint8_t **buf, size_t *size, int size_known)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    int rel = (me - root + n) % n;
    tbml_status st = TBML_OK;
    int mask = 1;
    while (mask < n && !(rel & mask))
        mask <<= 1;
    if (rel != 0) {
        int parent = ((rel - mask) + root) % n;
        static uint8_t empty[1];
        dist_recv_spec r = {parent, DIST_TAG_BCAST, size_known ? (*buf ? *buf : empty) : NULL,
                            size_known ? *size : 0, NULL};
        st = dist_exchange(c, NULL, 0, &r, 1);
        if (st) return st;
        if (!size_known) {
            *buf = r.alloc;
            *size = r.size;
        }
    }
    dist_send_spec ss[32];
    int k = 0;
    for (int m = mask >> 1; m > 0; m >>= 1)
        if (rel + m < n)
            ss[k++] = (dist_send_spec){(rel + m + root) % n, DIST_TAG_BCAST, *buf, *size};
    if (k) st = dist_exchange(c, ss, k, NULL, 0);
    return st;
}

tbml_status tbml_comm_bcast(tbml_comm_t *c, int root, void *buf, size_t size)
{
    if (root < 0 || root >= tbml_comm_size(c))
        return tbml_error(TBML_E_ARG, "bcast: no rank %d", root);
    uint8_t *b = buf;
    return bcast_tree(c, root, &b, &size, 1);
}

tbml_status tbml_comm_bcast_alloc(tbml_comm_t *c, int root, uint8_t **buf, size_t *size)
{
    if (root < 0 || root >= tbml_comm_size(c))
        return tbml_error(TBML_E_ARG, "bcast: no rank %d", root);
    uint8_t *b = tbml_comm_rank(c) == root ? *buf : NULL;
    size_t s = tbml_comm_rank(c) == root ? *size : 0;
    tbml_status st = bcast_tree(c, root, &b, &s, tbml_comm_rank(c) == root);
    if (st) return st;
    *buf = b;
    *size = s;
    return TBML_OK;
}

tbml_status tbml_comm_gather(tbml_comm_t *c, int root, const void *buf, size_t size,
                             uint8_t **recvbufs, size_t *recvsizes)
{
    int n = tbml_comm_size(c), me = tbml_comm_rank(c);
    if (root < 0 || root >= n) return tbml_error(TBML_E_ARG, "gather: no rank %d", root);
    tbml_status st = TBML_OK;
    if (me != root) {
        dist_send_spec s = {root, DIST_TAG_GATHER, buf, size};
        return dist_exchange(c, &s, 1, NULL, 0);
    }
    dist_recv_spec *rr = tbml_calloc((size_t)n, sizeof(*rr));
    int k = 0;
    for (int p = 0; p < n; p++)
        if (p != me) rr[k++] = (dist_recv_spec){p, DIST_TAG_GATHER, NULL, 0, NULL};
    if (k) st = dist_exchange(c, NULL, 0, rr, k);
    if (!st) {
        for (int i = 0; i < k; i++) {
            recvbufs[rr[i].peer] = rr[i].alloc;
            recvsizes[rr[i].peer] = rr[i].size;
        }
        recvbufs[me] = NULL;
        recvsizes[me] = size;
        if (size) {
            recvbufs[me] = tbml_malloc(size);
            memcpy(recvbufs[me], buf, size);
        }
    }
    tbml_free(rr);
    return st;
}
