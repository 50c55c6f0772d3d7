/* Sort and top-N. A partition's rows are gathered, ordered by a row permutation, and taken in
 * that order; with a LIMIT only the best N are kept as rows arrive, so memory stays near N.
 * Orders follow Spark: NULLS FIRST for ASC and NULLS LAST for DESC unless the query says, NaN
 * above every other double. The sort is stable: rows with equal keys keep their input order.
 * Also the bounds of the range exchange: a sample of every partition's keys, sorted, cut into
 * equal parts.
 *
 * External sort (Spark's UnsafeExternalSorter): a full sort (no LIMIT) counts the bytes it
 * holds; past the task's memory budget it sorts them and writes them as a sorted run to the
 * partition's sealed spill file (records of SORT_RECORD_ROWS rows), and starts again. At the
 * end the rest becomes the last run, and streaming the partition merges the runs k ways,
 * reading one record of each at a time. Ties between runs go to the earlier run, which holds
 * the earlier input rows, so the output is the in-memory sort's, row for row. */
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

/* Below this many rows a partition does not spill, whatever the budget: a run is then never
 * a handful of rows, and the merge's fan-in stays near rows / SORT_MIN_RUN_ROWS. */
#define SORT_MIN_RUN_ROWS 16
/* Rows per record of a run: the merge holds one record of every run. */
#define SORT_RECORD_ROWS 1024
/* Under a budget a bigger input batch is taken in slices of this many rows, so that the
 * sort's own copy of the rows stays near the budget. */
#define SORT_SLICE_ROWS 1024

/* The runs of a partition that spilled: run r is the records runs[r] of f, in order. */
typedef struct sortspill {
    tbml_spill_t *f;
    sql_reclist *runs;
    int nruns, cap;
} sortspill;

static void sortspill_free(sortspill *ss)
{
    if (!ss) return;
    for (int r = 0; r < ss->nruns; r++)
        sql_reclist_clear(&ss->runs[r]);
    tbml_free(ss->runs);
    tbml_spill_free(ss->f);
    tbml_free(ss);
}

typedef struct {
    sql_sink base;
    sql_xc *x;
    const sql_plan *p;
    int part;
    sql_blist rows;
    int64_t nrows, size;
    int64_t budget; /* bytes; 0 = no limit (and never with a LIMIT) */
    sortspill *ss;
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

/* Sorts the rows held and writes them as the next run. */
static tbml_status write_run(ssink *s)
{
    tbml_status st;
    sortspill *ss = s->ss;
    if (!ss) {
        tbml_scratch_t *scratch;
        if ((st = sql_xc_scratch(s->x, &scratch))) return st;
        ss = tbml_calloc(1, sizeof(*ss));
        if ((st = tbml_spill_create(scratch, &ss->f))) {
            tbml_free(ss);
            return st;
        }
        s->ss = ss;
        TBML_LOG_I("sql: sort of partition %d over its memory budget (%lld of %lld bytes, %lld "
                   "rows): spilling sorted runs to a sealed file",
                   s->part, (long long)s->size, (long long)s->budget, (long long)s->nrows);
    }
    if (ss->nruns == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 8;
        ss->runs = tbml_realloc(ss->runs, (size_t)ss->cap * sizeof(sql_reclist));
    }
    sql_reclist *run = &ss->runs[ss->nruns++];
    memset(run, 0, sizeof(*run));
    tbml_batch *all = sql_batch_concat(&s->p->schema, s->rows.b, s->rows.n);
    sql_blist_clear(&s->rows);
    s->nrows = s->size = 0;
    tbml_batch *sorted = sort_batch(s->p, all, -1);
    tbml_batch_free(all);
    int64_t n = sorted->nrows;
    int64_t *idx = tbml_malloc(SORT_RECORD_ROWS * sizeof(int64_t));
    st = TBML_OK;
    for (int64_t off = 0; off < n && !st; off += SORT_RECORD_ROWS) {
        int64_t k = n - off < SORT_RECORD_ROWS ? n - off : SORT_RECORD_ROWS;
        for (int64_t r = 0; r < k; r++)
            idx[r] = off + r;
        tbml_batch *rec = sql_batch_take(sorted, idx, k);
        st = sql_spill_put_list(ss->f, run, rec);
        tbml_batch_free(rec);
    }
    tbml_free(idx);
    tbml_batch_free(sorted);
    return st;
}

static tbml_status hold(void *arg, tbml_batch *b)
{
    ssink *s = arg;
    sql_blist_push(&s->rows, b);
    s->nrows += b->nrows;
    if (s->budget <= 0) return TBML_OK;
    /* the rows, and the permutation and the sorted copy the sort will make of them */
    s->size += sql_batch_size(b) + 8 * b->nrows;
    if (s->size > s->budget && s->nrows >= SORT_MIN_RUN_ROWS) return write_run(s);
    return TBML_OK;
}

static tbml_status sort_put(sql_sink *base, tbml_batch *b, int owned)
{
    ssink *s = (ssink *)base;
    if (b->nrows == 0) {
        if (owned) tbml_batch_free(b);
        return TBML_OK;
    }
    if (s->budget > 0 && b->nrows > SORT_SLICE_ROWS)
        return sql_spill_slices(b, owned, SORT_SLICE_ROWS, hold, s);
    if (s->budget > 0) return hold(s, owned ? b : sql_batch_copy(b));
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
    s.x = x;
    s.p = p;
    s.part = part;
    /* a top-N holds about N rows whatever its input: it never spills */
    s.budget = p->limit < 0 ? sql_xc_task_memory(x) : 0;
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    if (!st && s.ss) {
        if (s.nrows > 0) st = write_run(&s);
        if (!st) st = tbml_spill_finish(s.ss->f);
        if (!st) {
            int64_t size = (int64_t)tbml_spill_size(s.ss->f);
            sql_session_note_spill(x->cx->s, 1, size);
            TBML_LOG_I("sql: sort of partition %d spilled %lld bytes in %d sorted runs to 1 file",
                       part, (long long)size, s.ss->nruns);
            p->rt->ss[part] = s.ss;
            s.ss = NULL;
        }
    } else if (!st && s.nrows > 0) {
        tbml_batch *all = sql_batch_concat(&p->schema, s.rows.b, s.rows.n);
        sql_blist_clear(&s.rows);
        sql_blist_push(out, sort_batch(p, all, p->limit));
        tbml_batch_free(all);
    }
    sql_blist_clear(&s.rows);
    sortspill_free(s.ss);
    return st;
}

/* ---- the k-way merge of a spilled partition's runs ---- */
typedef struct {
    tbml_batch *b; /* the run's current record; NULL once the run is done */
    int64_t row;   /* the next row of b */
    int64_t rec;   /* the next record to read */
} mrun;

typedef struct {
    const sql_plan *p;
    sortspill *ss;
    mrun *r;
    int *heap, nheap;
    uint8_t *buf;
    size_t cap;
} merger;

/* run a before run b: smaller key, or the same key and an earlier run (stability) */
static int before(const merger *m, int a, int b)
{
    int c = op_sort_cmp_rows(m->p, m->r[a].b, m->r[a].row, m->r[b].b, m->r[b].row);
    return c < 0 || (c == 0 && a < b);
}

static void sift_down(merger *m, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && before(m, m->heap[l], m->heap[best])) best = l;
        if (r < m->nheap && before(m, m->heap[r], m->heap[best])) best = r;
        if (best == i) return;
        int t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Loads run i's next record (skipping empty ones); r[i].b = NULL when the run is done. */
static tbml_status next_record(merger *m, int i)
{
    mrun *r = &m->r[i];
    const sql_reclist *run = &m->ss->runs[i];
    tbml_batch_free(r->b);
    r->b = NULL;
    r->row = 0;
    while (r->rec < run->n) {
        uint64_t off = run->off[r->rec++];
        tbml_batch *b;
        tbml_status st = sql_spill_get(m->ss->f, &off, &m->buf, &m->cap, &b);
        if (st) return st;
        if (b->nrows > 0) {
            r->b = b;
            return TBML_OK;
        }
        tbml_batch_free(b);
    }
    return TBML_OK;
}

/* Output columns shaped like the runs' records: a placeholder stays a placeholder. */
static tbml_column *out_columns(const tbml_batch *like, int64_t cap)
{
    int nc = like->schema.nfields;
    tbml_column *cols = tbml_calloc(nc > 0 ? (size_t)nc : 1, sizeof(tbml_column));
    for (int c = 0; c < nc; c++)
        tbml_column_init(&cols[c], like->cols[c].type,
                         like->cols[c].type == TBML_TYPE_NULL ? 0 : cap);
    return cols;
}

static tbml_status merge_stream(sql_plan *p, sortspill *ss, sql_sink *out)
{
    merger m;
    memset(&m, 0, sizeof(m));
    m.p = p;
    m.ss = ss;
    m.r = tbml_calloc((size_t)ss->nruns + 1, sizeof(mrun));
    m.heap = tbml_calloc((size_t)ss->nruns + 1, sizeof(int));
    tbml_status st = TBML_OK;
    for (int i = 0; i < ss->nruns && !st; i++)
        if (!(st = next_record(&m, i)) && m.r[i].b) m.heap[m.nheap++] = i;
    for (int i = m.nheap / 2 - 1; i >= 0; i--)
        sift_down(&m, i);
    int nc = p->schema.nfields;
    tbml_column *cols = NULL;
    int64_t n = 0;
    while (!st && m.nheap > 0) {
        int w = m.heap[0];
        mrun *r = &m.r[w];
        if (!cols) cols = out_columns(r->b, SORT_RECORD_ROWS);
        for (int c = 0; c < nc; c++) {
            if (cols[c].type == TBML_TYPE_NULL)
                cols[c].nrows++;
            else
                tbml_column_append_from(&cols[c], &r->b->cols[c], r->row);
        }
        n++;
        if (++r->row == r->b->nrows && (st = next_record(&m, w))) break;
        if (!r->b) m.heap[0] = m.heap[--m.nheap];
        sift_down(&m, 0);
        if (n == SORT_RECORD_ROWS || (m.nheap == 0 && n > 0)) {
            st = out->put(out, sql_batch_from_columns(&p->schema, cols, n), 1);
            tbml_free(cols);
            cols = NULL;
            n = 0;
        }
    }
    if (cols) {
        for (int c = 0; c < nc; c++)
            tbml_column_clear(&cols[c]);
        tbml_free(cols);
    }
    for (int i = 0; i < ss->nruns; i++)
        tbml_batch_free(m.r[i].b);
    tbml_free(m.r);
    tbml_free(m.heap);
    tbml_free(m.buf);
    return st;
}

tbml_status op_sort_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    (void)x;
    struct sql_rt *rt = p->rt;
    if (rt->ss && rt->ss[part]) return merge_stream(p, rt->ss[part], out);
    sql_blist *l = &rt->parts[part];
    for (int64_t i = 0; i < l->n; i++) {
        tbml_status st = out->put(out, l->b[i], 0);
        if (st) return st;
    }
    return TBML_OK;
}

void op_sort_free(sql_xc *x, struct sql_rt *rt)
{
    if (!rt->ss) return;
    for (int i = 0; i < x->nparts; i++)
        sortspill_free(rt->ss[i]);
    tbml_free(rt->ss);
    rt->ss = NULL;
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
