/* What the operators that spill share: batches as records of sealed spill files (the hash
 * aggregate, the external sort and the grace hash join all write and read them the same way),
 * lists of records, the query's scratch folder and the per-task memory budget. */
#include "exec.h"

#include <string.h>

tbml_status sql_spill_put(tbml_spill_t *f, const tbml_batch *b)
{
    uint8_t *buf;
    size_t size;
    sql_batch_encode(b, &buf, &size);
    uint64_t n = size;
    tbml_status st = tbml_spill_write(f, &n, sizeof(n));
    if (!st) st = tbml_spill_write(f, buf, size);
    tbml_free(buf);
    return st;
}

tbml_status sql_spill_get(tbml_spill_t *f, uint64_t *off, uint8_t **buf, size_t *cap,
                          tbml_batch **out)
{
    uint64_t n, end = tbml_spill_size(f), o = *off;
    size_t got;
    tbml_status st = tbml_spill_pread(f, &n, sizeof(n), o, &got);
    if (st) return st;
    if (got != sizeof(n) || n > end - o - sizeof(n))
        return tbml_error(TBML_E_FORMAT, "spill file: record at %llu cut short",
                          (unsigned long long)o);
    if (n > *cap) {
        tbml_free(*buf);
        *cap = (size_t)n;
        *buf = tbml_malloc(*cap);
    }
    if ((st = tbml_spill_pread(f, *buf, (size_t)n, o + sizeof(n), &got))) return st;
    if (got != n) return tbml_error(TBML_E_FORMAT, "spill file: record cut short");
    if ((st = sql_batch_decode(*buf, (size_t)n, out))) return st;
    *off = o + sizeof(n) + n;
    return TBML_OK;
}

tbml_status sql_spill_slices(tbml_batch *b, int owned, int64_t slice,
                             tbml_status (*hold)(void *arg, tbml_batch *piece), void *arg)
{
    tbml_status st = TBML_OK;
    int64_t *idx = tbml_malloc((size_t)slice * sizeof(int64_t));
    for (int64_t off = 0; off < b->nrows && !st; off += slice) {
        int64_t k = b->nrows - off < slice ? b->nrows - off : slice;
        for (int64_t r = 0; r < k; r++)
            idx[r] = off + r;
        st = hold(arg, sql_batch_take(b, idx, k));
    }
    tbml_free(idx);
    if (owned) tbml_batch_free(b);
    return st;
}

tbml_status sql_spill_put_list(tbml_spill_t *f, sql_reclist *l, const tbml_batch *b)
{
    uint64_t off = tbml_spill_size(f);
    tbml_status st = sql_spill_put(f, b);
    if (st) return st;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->off = tbml_realloc(l->off, (size_t)l->cap * sizeof(uint64_t));
    }
    l->off[l->n++] = off;
    l->rows += b->nrows;
    l->bytes += (int64_t)(tbml_spill_size(f) - off);
    return TBML_OK;
}

void sql_reclist_clear(sql_reclist *l)
{
    tbml_free(l->off);
    memset(l, 0, sizeof(*l));
}

tbml_status sql_xc_scratch(sql_xc *x, tbml_scratch_t **out)
{
    tbml_status st = TBML_OK;
    pthread_mutex_lock(&x->scratch_mu);
    if (!x->scratch) st = tbml_scratch_create(NULL, &x->scratch);
    if (!st) *out = x->scratch;
    pthread_mutex_unlock(&x->scratch_mu);
    return st;
}

int64_t sql_xc_task_memory(const sql_xc *x)
{
    return sql_session_agg_memory(x->cx->s);
}
