/* Sort and top-N. A partition's rows are gathered, ordered by a row permutation, and taken in
 * that order; with a LIMIT only the best N are kept as rows arrive, so memory stays near N.
 * Orders follow Spark: NULLS FIRST for ASC and NULLS LAST for DESC unless the query says, NaN
 * above every other double. Also the bounds of the range exchange: a sample of every
 * partition's keys, sorted, cut into equal parts. */
#include "exec.h"

#include <stdlib.h>
#include <string.h>

int op_sort_cmp_rows(const sql_plan *p, const tbml_batch *a, int64_t ra, const tbml_batch *b,
                     int64_t rb)
{
    for (int k = 0; k < p->nsort; k++) {
        int c = p->sort_cols[k];
        sql_value x, y;
        sql_value_get(&a->cols[c], ra, &x);
        sql_value_get(&b->cols[c], rb, &y);
        int r;
        if (x.isnull || y.isnull) {
            if (x.isnull && y.isnull) continue;
            r = x.isnull ? -1 : 1;
            if (!p->sort_nulls_first[k]) r = -r;
            return r;
        }
        r = sql_value_cmp(&x, &y);
        if (r) return p->sort_desc[k] ? -r : r;
    }
    return 0;
}

typedef struct {
    const sql_plan *p;
    const tbml_batch *b;
} sort_ctx;

static int cmp_idx(const void *x, const void *y, void *arg)
{
    const sort_ctx *c = arg;
    int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
    int r = op_sort_cmp_rows(c->p, c->b, i, c->b, j);
    if (r) return r;
    return (i > j) - (i < j); /* stable: equal keys keep their input order */
}

/* Sorts b by p's keys; keeps at most limit rows (limit < 0: all). */
static tbml_batch *sort_batch(const sql_plan *p, const tbml_batch *b, int64_t limit)
{
    int64_t n = b->nrows;
    int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    sort_ctx c = {p, b};
    qsort_r(idx, (size_t)n, sizeof(int64_t), cmp_idx, &c);
    if (limit >= 0 && n > limit) n = limit;
    tbml_batch *o = sql_batch_take(b, idx, n);
    tbml_free(idx);
    return o;
}

typedef struct {
    sql_sink base;
    const sql_plan *p;
    sql_blist rows;
    int64_t nrows;
} ssink;

static void compact(ssink *s)
{
    tbml_batch *all = sql_batch_concat(&s->p->schema, s->rows.b, s->rows.n);
    tbml_batch *top = sort_batch(s->p, all, s->p->limit);
    tbml_batch_free(all);
    sql_blist_clear(&s->rows);
    sql_blist_push(&s->rows, top);
    s->nrows = top->nrows;
}

static tbml_status sort_put(sql_sink *base, tbml_batch *b, int owned)
{
    ssink *s = (ssink *)base;
    if (b->nrows == 0) {
        if (owned) tbml_batch_free(b);
        return TBML_OK;
    }
    sql_blist_push(&s->rows, owned ? b : sql_batch_copy(b));
    s->nrows += b->nrows;
    int64_t lim = s->p->limit;
    int64_t keep = lim > INT64_MAX / 2 ? INT64_MAX : lim * 2;
    if (lim >= 0 && s->nrows > (keep > 65536 ? keep : 65536)) compact(s);
    return TBML_OK;
}

tbml_status op_sort_run(sql_xc *x, sql_plan *p, int part, sql_blist *out)
{
    ssink s;
    memset(&s, 0, sizeof(s));
    s.base.put = sort_put;
    s.p = p;
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    if (!st && s.nrows > 0) {
        tbml_batch *all = sql_batch_concat(&p->schema, s.rows.b, s.rows.n);
        sql_blist_clear(&s.rows);
        sql_blist_push(out, sort_batch(p, all, p->limit));
        tbml_batch_free(all);
    }
    sql_blist_clear(&s.rows);
    return st;
}

tbml_batch *op_sort_bounds(const sql_plan *p, sql_blist *parts, int nparts)
{
    int64_t total = 0;
    for (int i = 0; i < nparts; i++)
        total += sql_blist_rows(&parts[i]);
    int64_t want = 128 * (int64_t)nparts, step = total / want > 1 ? total / want : 1;
    sql_blist sample = {0};
    const tbml_schema *schema = &p->schema;
    for (int i = 0; i < nparts; i++)
        for (int64_t k = 0; k < parts[i].n; k++) {
            const tbml_batch *b = parts[i].b[k];
            int64_t m = (b->nrows + step - 1) / step;
            if (m == 0) continue;
            int64_t *idx = tbml_malloc((size_t)m * sizeof(int64_t));
            for (int64_t j = 0; j < m; j++)
                idx[j] = j * step;
            sql_blist_push(&sample, sql_batch_take(b, idx, m));
            tbml_free(idx);
        }
    tbml_batch *all = sql_batch_concat(schema, sample.b, sample.n);
    sql_blist_clear(&sample);
    tbml_batch *sorted = sort_batch(p, all, -1);
    tbml_batch_free(all);
    int64_t n = sorted->nrows, nb = n > 0 ? nparts - 1 : 0;
    int64_t *idx = tbml_malloc((size_t)(nb > 0 ? nb : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < nb; i++)
        idx[i] = (i + 1) * n / nparts;
    tbml_batch *bounds = sql_batch_take(sorted, idx, nb);
    tbml_free(idx);
    tbml_batch_free(sorted);
    return bounds;
}
