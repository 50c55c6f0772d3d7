/* Hash join: inner, left, right, full outer, left semi and left anti, with equi-keys and an
 * optional residual condition over the joined row. The build side (the right one, or the left
 * one when that is the small side of a broadcast) becomes a chained hash table per partition,
 * or one shared read-only table when broadcast; the probe side streams through it. Keys with a
 * NULL never match. Rows of the build side that found no partner are emitted after the probe
 * stream ends (right and full joins; never broadcast, so each partition owns its table). */
#include "exec.h"

#include <math.h>
#include <string.h>

typedef struct jtable {
    tbml_batch *rows;
    tbml_column *ktmp;
    const tbml_column **kc;
    int nk;
    int64_t *head, *next;
    uint64_t *hash;
    int64_t mask;
    uint8_t *matched;
} jtable;

static int key_eq(const tbml_column *a, int64_t ra, const tbml_column *b, int64_t rb)
{
    switch (a->type) {
    case TBML_TYPE_BOOL:
        return a->u8[ra] == b->u8[rb];
    case TBML_TYPE_DOUBLE: {
        double x = a->f64[ra], y = b->f64[rb];
        return x == y || (isnan(x) && isnan(y));
    }
    case TBML_TYPE_STRING: {
        size_t n1, n2;
        const char *s1 = tbml_column_str(a, ra, &n1), *s2 = tbml_column_str(b, rb, &n2);
        return n1 == n2 && (n1 == 0 || memcmp(s1, s2, n1) == 0);
    }
    case TBML_TYPE_NULL:
        return 0;
    default:
        return a->i64[ra] == b->i64[rb];
    }
}

static int any_null(const tbml_column *const *kc, int nk, int64_t r)
{
    for (int k = 0; k < nk; k++)
        if (kc[k]->type == TBML_TYPE_NULL || tbml_column_is_null(kc[k], r)) return 1;
    return 0;
}

typedef struct {
    sql_sink base;
    sql_blist l;
} lsink;

static tbml_status list_put(sql_sink *base, tbml_batch *b, int owned)
{
    lsink *s = (lsink *)base;
    if (b->nrows)
        sql_blist_push(&s->l, owned ? b : sql_batch_copy(b));
    else if (owned)
        tbml_batch_free(b);
    return TBML_OK;
}

static void jtable_free(jtable *t)
{
    if (!t) return;
    for (int k = 0; k < t->nk; k++)
        if (t->kc[k] == &t->ktmp[k]) tbml_column_clear(&t->ktmp[k]);
    tbml_free(t->ktmp);
    tbml_free(t->kc);
    tbml_batch_free(t->rows);
    tbml_free(t->head);
    tbml_free(t->next);
    tbml_free(t->hash);
    tbml_free(t->matched);
    tbml_free(t);
}

tbml_status op_join_build(sql_xc *x, sql_plan *p, int part)
{
    int bs = p->build_side;
    struct sql_rt *rt =
        p->rt; /* the driver made rt->jt: one slot when broadcast, else one a partition */
    lsink s = {{list_put}, {0}};
    tbml_status st = sql_stream(x, p->child[bs], part < 0 ? 0 : part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    if (st) {
        sql_blist_clear(&s.l);
        return st;
    }
    jtable *t = tbml_calloc(1, sizeof(*t));
    t->rows = sql_batch_concat(&p->child[bs]->schema, s.l.b, s.l.n);
    sql_blist_clear(&s.l);
    t->nk = p->njkeys;
    t->ktmp = tbml_calloc((size_t)(t->nk + 1), sizeof(tbml_column));
    t->kc = tbml_calloc((size_t)(t->nk + 1), sizeof(*t->kc));
    sql_expr **keys = bs ? p->rkeys : p->lkeys;
    for (int k = 0; k < t->nk; k++)
        if ((st = sql_eval(keys[k], t->rows, &t->ktmp[k], &t->kc[k]))) {
            t->nk = k;
            jtable_free(t);
            return st;
        }
    int64_t n = t->rows->nrows, nb = 16;
    while (nb < n * 2)
        nb *= 2;
    t->mask = nb - 1;
    t->head = tbml_malloc((size_t)nb * sizeof(int64_t));
    memset(t->head, 0xff, (size_t)nb * sizeof(int64_t));
    t->next = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    t->hash = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(uint64_t));
    t->matched = tbml_calloc((size_t)(n > 0 ? n : 1), 1);
    sql_hash_columns(t->kc, t->nk, n, t->hash);
    /* insert in reverse so chains list rows in input order */
    for (int64_t r = n - 1; r >= 0; r--) {
        if (any_null(t->kc, t->nk, r)) {
            t->next[r] = -1;
            continue;
        }
        int64_t bkt = (int64_t)(t->hash[r] & (uint64_t)t->mask);
        t->next[r] = t->head[bkt];
        t->head[bkt] = r;
    }
    rt->jt[part < 0 ? 0 : part] = t;
    return TBML_OK;
}

void op_join_free(struct sql_rt *rt)
{
    for (int i = 0; i < rt->njt; i++)
        jtable_free(rt->jt[i]);
    tbml_free(rt->jt);
    rt->jt = NULL;
}

/* All-NULL column of n rows. */
static void null_column(tbml_column *c, tbml_type t, int64_t n)
{
    int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    memset(idx, 0xff, (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    tbml_column src;
    tbml_column_init(&src, t, 0);
    sql_column_take(c, &src, idx, n);
    tbml_column_clear(&src);
    tbml_free(idx);
}

/* The joined rows (lb[lidx[i]] ++ rb[ridx[i]]); a NULL batch or index -1 gives NULLs. */
static tbml_batch *joined(const sql_plan *p, const tbml_batch *lb, const int64_t *lidx,
                          const tbml_batch *rb, const int64_t *ridx, int64_t n, int left_only)
{
    const tbml_schema *ls = &p->child[0]->schema, *rs = &p->child[1]->schema;
    int nl = ls->nfields, nr = left_only ? 0 : rs->nfields;
    tbml_column *cols = tbml_calloc((size_t)(nl + nr + 1), sizeof(tbml_column));
    for (int c = 0; c < nl; c++) {
        if (lb)
            sql_column_take(&cols[c], &lb->cols[c], lidx, n);
        else
            null_column(&cols[c], ls->fields[c].type, n);
    }
    for (int c = 0; c < nr; c++) {
        if (rb)
            sql_column_take(&cols[nl + c], &rb->cols[c], ridx, n);
        else
            null_column(&cols[nl + c], rs->fields[c].type, n);
    }
    tbml_schema s;
    tbml_schema_init(&s);
    for (int c = 0; c < nl; c++)
        tbml_schema_add(&s, ls->fields[c].name, ls->fields[c].type, 1);
    for (int c = 0; c < nr; c++)
        tbml_schema_add(&s, rs->fields[c].name, rs->fields[c].type, 1);
    tbml_batch *b = sql_batch_from_columns(&s, cols, n);
    tbml_schema_clear(&s);
    tbml_free(cols);
    return b;
}

typedef struct {
    sql_sink base;
    sql_plan *p;
    jtable *t;
    sql_sink *next;
} psink;

static tbml_status probe_put(sql_sink *base, tbml_batch *b, int owned)
{
    psink *s = (psink *)base;
    sql_plan *p = s->p;
    jtable *t = s->t;
    int bs = p->build_side, jt = p->join_type;
    int64_t n = b->nrows;
    tbml_status st = TBML_OK;
    int nk = p->njkeys;
    sql_expr **keys = bs ? p->lkeys : p->rkeys;
    tbml_column *ktmp = tbml_calloc((size_t)(nk + 1), sizeof(tbml_column));
    const tbml_column **kc = tbml_calloc((size_t)(nk + 1), sizeof(*kc));
    uint64_t *h = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(uint64_t));
    int64_t *pi = NULL, *bi = NULL, np = 0, cap = 0;
    uint8_t *pmatched = tbml_calloc((size_t)(n > 0 ? n : 1), 1);
    tbml_batch *jb = NULL;
    int k;
    for (k = 0; k < nk; k++)
        if ((st = sql_eval(keys[k], b, &ktmp[k], &kc[k]))) goto out;
    sql_hash_columns(kc, nk, n, h);
    for (int64_t r = 0; r < n; r++) {
        if (any_null(kc, nk, r)) continue;
        for (int64_t j = t->head[h[r] & (uint64_t)t->mask]; j >= 0; j = t->next[j]) {
            if (t->hash[j] != h[r]) continue;
            int eq = 1;
            for (int q = 0; q < nk && eq; q++)
                eq = key_eq(kc[q], r, t->kc[q], j);
            if (!eq) continue;
            if (np == cap) {
                cap = cap ? cap * 2 : 1024;
                pi = tbml_realloc(pi, (size_t)cap * sizeof(int64_t));
                bi = tbml_realloc(bi, (size_t)cap * sizeof(int64_t));
            }
            pi[np] = r;
            bi[np++] = j;
        }
    }
    /* the candidate pairs as joined rows, then the residual condition */
    const tbml_batch *lb = bs ? b : t->rows, *rb = bs ? t->rows : b;
    const int64_t *li = bs ? pi : bi, *ri = bs ? bi : pi;
    int semi = jt == JOIN_SEMI || jt == JOIN_ANTI;
    if (np > 0 || p->residual) {
        if (p->residual || !semi) jb = joined(p, lb, li, rb, ri, np, 0);
        if (p->residual && np > 0) {
            int64_t *sel, nsel;
            if ((st = sql_eval_select(p->residual, jb, &sel, &nsel))) {
                tbml_free(sel);
                goto out;
            }
            if (nsel < np) {
                tbml_batch *f = sql_batch_take(jb, sel, nsel);
                tbml_batch_free(jb);
                jb = f;
                for (int64_t i = 0; i < nsel; i++) {
                    pi[i] = pi[sel[i]];
                    bi[i] = bi[sel[i]];
                }
                np = nsel;
            }
            tbml_free(sel);
        }
    }
    for (int64_t i = 0; i < np; i++)
        pmatched[pi[i]] = 1;
    if (!p->broadcast) /* a shared broadcast table is read-only */
        for (int64_t i = 0; i < np; i++)
            t->matched[bi[i]] = 1;
    if (semi) {
        int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t)), m = 0;
        for (int64_t r = 0; r < n; r++)
            if (pmatched[r] == (jt == JOIN_SEMI)) idx[m++] = r;
        if (m) st = s->next->put(s->next, sql_batch_take(b, idx, m), 1);
        tbml_free(idx);
        goto out;
    }
    if (np > 0) {
        st = s->next->put(s->next, jb, 1);
        jb = NULL;
        if (st) goto out;
    }
    int keep_probe =
        jt == JOIN_FULL || (jt == JOIN_LEFT && bs == 1) || (jt == JOIN_RIGHT && bs == 0);
    if (keep_probe) {
        int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t)), m = 0;
        for (int64_t r = 0; r < n; r++)
            if (!pmatched[r]) idx[m++] = r;
        if (m) {
            tbml_batch *o =
                bs ? joined(p, b, idx, NULL, NULL, m, 0) : joined(p, NULL, NULL, b, idx, m, 0);
            st = s->next->put(s->next, o, 1);
        }
        tbml_free(idx);
    }
out:
    for (int q = 0; q < k; q++)
        if (kc[q] == &ktmp[q]) tbml_column_clear(&ktmp[q]);
    tbml_free(ktmp);
    tbml_free(kc);
    tbml_free(h);
    tbml_free(pi);
    tbml_free(bi);
    tbml_free(pmatched);
    tbml_batch_free(jb);
    if (owned) tbml_batch_free(b);
    return st;
}

tbml_status op_join_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    jtable *t = p->rt->jt[p->broadcast ? 0 : part];
    psink s = {{probe_put}, p, t, out};
    int bs = p->build_side, jt = p->join_type;
    tbml_status st = sql_stream(x, p->child[1 - bs], part, &s.base);
    if (st) return st;
    int keep_build =
        jt == JOIN_FULL || (jt == JOIN_RIGHT && bs == 1) || (jt == JOIN_LEFT && bs == 0);
    if (keep_build && !p->broadcast) {
        int64_t n = t->rows->nrows, m = 0;
        int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
        for (int64_t r = 0; r < n; r++)
            if (!t->matched[r]) idx[m++] = r;
        if (m) {
            tbml_batch *o = bs ? joined(p, NULL, NULL, t->rows, idx, m, 0)
                               : joined(p, t->rows, idx, NULL, NULL, m, 0);
            st = out->put(out, o, 1);
        }
        tbml_free(idx);
    }
    return st;
}
