/* Hash join: inner, left, right, full outer, left semi and left anti, with equi-keys and an
 * optional residual condition over the joined row. The build side (the right one, or the left
 * one when that is the small side of a broadcast) becomes a chained hash table per partition,
 * or one shared read-only table when broadcast; the probe side streams through it. Keys with a
 * NULL never match. Rows of the build side that found no partner are emitted after the probe
 * stream ends (right and full joins; never broadcast, so each partition owns its table).
 *
 * Grace hash join (a shuffled join's build side past the task's memory budget): the build
 * rows go, split by a hash of their key (sql_hash_columns mixed with a seed per level, unlike
 * the exchange's Murmur3 with seed 42), into JOIN_FANOUT partitions of the task's sealed spill
 * file; when the probe side streams, its rows are split the same way into a second file, and
 * the join runs partition by partition, each within the budget: a partition whose build side
 * is still too big splits again with the next level's seed (up to JOIN_MAX_DEPTH levels);
 * one that does not split (a skewed key: its rows all share a hash) is joined a budget-sized
 * chunk of its build rows at a time against the whole probe partition, the probe rows'
 * matches kept in a bitmap, so that semi, anti and outer rows come out once. Rows with a NULL
 * key match nothing: they skip the partitions and come out at the end where the join keeps
 * them (probe rows of left, full and anti joins; build rows of right and full joins). Only
 * the order of the output differs from the in-memory join's. */
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
    struct jspill *spill; /* the build side went to a spill file: no rows here */
} jtable;

#define JOIN_FANOUT 16
/* A partition that is still too big splits again, at most this many levels deep; deeper (or
 * when a split does not divide it) it is joined in chunks. */
#define JOIN_MAX_DEPTH 3
/* A build side spills only past this many rows, whatever the budget. */
#define JOIN_MIN_ROWS 16
/* Bytes a table adds to its rows: chains, hashes, buckets and the matched flags. */
#define JOIN_ROW_OVERHEAD 41

/* Partitions of one side of a join in a spill file; nulls: rows with a NULL key. */
typedef struct {
    sql_reclist part[JOIN_FANOUT], nulls;
} jparts;

typedef struct jspill {
    tbml_spill_t *f; /* the build side */
    jparts b;
} jspill;

static void jparts_clear(jparts *j)
{
    for (int i = 0; i < JOIN_FANOUT; i++)
        sql_reclist_clear(&j->part[i]);
    sql_reclist_clear(&j->nulls);
}

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
    if (t->spill) {
        tbml_spill_free(t->spill->f);
        jparts_clear(&t->spill->b);
        tbml_free(t->spill);
    }
    tbml_free(t);
}

/* The hash table of the build rows (taken, freed with the table). */
static tbml_status jtable_make(const sql_plan *p, tbml_batch *rows, jtable **out)
{
    tbml_status st;
    jtable *t = tbml_calloc(1, sizeof(*t));
    t->rows = rows;
    t->nk = p->njkeys;
    t->ktmp = tbml_calloc((size_t)(t->nk + 1), sizeof(tbml_column));
    t->kc = tbml_calloc((size_t)(t->nk + 1), sizeof(*t->kc));
    sql_expr **keys = p->build_side ? p->rkeys : p->lkeys;
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
    *out = t;
    return TBML_OK;
}

/* The join keeps build rows without a partner (with NULLs for the probe side), or probe rows
 * without one. */
static int keep_build(const sql_plan *p)
{
    int jt = p->join_type, bs = p->build_side;
    return jt == JOIN_FULL || (jt == JOIN_RIGHT && bs == 1) || (jt == JOIN_LEFT && bs == 0);
}
static int keep_probe(const sql_plan *p)
{
    int jt = p->join_type, bs = p->build_side;
    return jt == JOIN_FULL || (jt == JOIN_LEFT && bs == 1) || (jt == JOIN_RIGHT && bs == 0);
}

/* ---- grace hash partitioning ---- */

/* Splits b by the hash of its keys (keys: that side's expressions) at level depth into the
 * partitions of j in f. Rows with a NULL key go to j->nulls when keep_nulls, else nowhere. */
static tbml_status part_write(const sql_plan *p, sql_expr **keys, int depth, int keep_nulls,
                              tbml_spill_t *f, jparts *j, const tbml_batch *b)
{
    int64_t n = b->nrows, cnt[JOIN_FANOUT + 1] = {0};
    if (n == 0) return TBML_OK;
    int nk = p->njkeys, k;
    tbml_status st = TBML_OK;
    tbml_column *ktmp = tbml_calloc((size_t)(nk + 1), sizeof(tbml_column));
    const tbml_column **kc = tbml_calloc((size_t)(nk + 1), sizeof(*kc));
    uint64_t *h = tbml_malloc((size_t)n * sizeof(uint64_t));
    int8_t *which = tbml_malloc((size_t)n);
    int64_t *idx = tbml_malloc((size_t)n * sizeof(int64_t));
    for (k = 0; k < nk; k++)
        if ((st = sql_eval(keys[k], b, &ktmp[k], &kc[k]))) goto out;
    sql_hash_columns(kc, nk, n, h);
    for (int64_t r = 0; r < n; r++) {
        if (any_null(kc, nk, r))
            which[r] = keep_nulls ? JOIN_FANOUT : -1;
        else
            which[r] = (int8_t)(sql_spill_mix(h[r], (uint64_t)depth + 1) % JOIN_FANOUT);
        if (which[r] >= 0) cnt[which[r]]++;
    }
    for (int d = 0; d <= JOIN_FANOUT && !st; d++) {
        if (!cnt[d]) continue;
        sql_reclist *l = d < JOIN_FANOUT ? &j->part[d] : &j->nulls;
        if (cnt[d] == n) {
            st = sql_spill_put_list(f, l, b);
            break;
        }
        int64_t m = 0;
        for (int64_t r = 0; r < n; r++)
            if (which[r] == d) idx[m++] = r;
        tbml_batch *piece = sql_batch_take(b, idx, m);
        st = sql_spill_put_list(f, l, piece);
        tbml_batch_free(piece);
    }
out:
    for (int q = 0; q < k; q++)
        if (kc[q] == &ktmp[q]) tbml_column_clear(&ktmp[q]);
    tbml_free(ktmp);
    tbml_free(kc);
    tbml_free(h);
    tbml_free(which);
    tbml_free(idx);
    return st;
}

/* ---- build ---- */

/* Under a budget a bigger input batch is held in slices of this many rows, so that a spilled
 * partition's records (and the chunks of a skewed one) stay near the budget. */
#define JOIN_SLICE_ROWS 1024

typedef struct {
    sql_sink base;
    sql_xc *x;
    const sql_plan *p;
    int part;
    sql_blist l;
    int64_t rows, size, budget;
    jspill *spill;
} bsink;

static tbml_status build_spill_start(bsink *s)
{
    tbml_scratch_t *scratch;
    tbml_status st = sql_xc_scratch(s->x, &scratch);
    if (st) return st;
    jspill *js = tbml_calloc(1, sizeof(*js));
    if ((st = tbml_spill_create(scratch, &js->f))) {
        tbml_free(js);
        return st;
    }
    s->spill = js;
    TBML_LOG_I("sql: hash join of partition %d: build side over its memory budget (%lld of %lld "
               "bytes, %lld rows): partitioning both sides into sealed files",
               s->part, (long long)s->size, (long long)s->budget, (long long)s->rows);
    const sql_plan *p = s->p;
    sql_expr **keys = p->build_side ? p->rkeys : p->lkeys;
    for (int64_t i = 0; i < s->l.n && !st; i++)
        st = part_write(p, keys, 0, keep_build(p), js->f, &js->b, s->l.b[i]);
    sql_blist_clear(&s->l);
    return st;
}

static tbml_status build_hold(void *arg, tbml_batch *b)
{
    bsink *s = arg;
    const sql_plan *p = s->p;
    if (s->spill) {
        tbml_status st = part_write(p, p->build_side ? p->rkeys : p->lkeys, 0, keep_build(p),
                                    s->spill->f, &s->spill->b, b);
        tbml_batch_free(b);
        return st;
    }
    sql_blist_push(&s->l, b);
    s->rows += b->nrows;
    if (s->budget <= 0) return TBML_OK;
    s->size += sql_batch_size(b) + JOIN_ROW_OVERHEAD * b->nrows;
    if (s->size > s->budget && s->rows >= JOIN_MIN_ROWS) return build_spill_start(s);
    return TBML_OK;
}

static tbml_status build_put(sql_sink *base, tbml_batch *b, int owned)
{
    bsink *s = (bsink *)base;
    if (b->nrows == 0) {
        if (owned) tbml_batch_free(b);
        return TBML_OK;
    }
    if (s->budget > 0 && b->nrows > JOIN_SLICE_ROWS)
        return sql_spill_slices(b, owned, JOIN_SLICE_ROWS, build_hold, s);
    return build_hold(s, owned ? b : sql_batch_copy(b));
}

tbml_status op_join_build(sql_xc *x, sql_plan *p, int part)
{
    int bs = p->build_side;
    struct sql_rt *rt =
        p->rt; /* the driver made rt->jt: one slot when broadcast, else one a partition */
    bsink s;
    memset(&s, 0, sizeof(s));
    s.base.put = build_put;
    s.x = x;
    s.p = p;
    s.part = part;
    /* a broadcast table is one, shared and read-only: it stays in memory, as in Spark */
    s.budget = p->broadcast ? 0 : sql_xc_task_memory(x);
    tbml_status st = sql_stream(x, p->child[bs], part < 0 ? 0 : part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    jtable *t = NULL;
    if (!st && s.spill) {
        if (!(st = tbml_spill_finish(s.spill->f))) {
            int64_t size = (int64_t)tbml_spill_size(s.spill->f);
            sql_session_note_spill(x->cx->s, 1, size);
            TBML_LOG_I("sql: hash join of partition %d spilled %lld bytes of its build side to 1 "
                       "file",
                       part, (long long)size);
            t = tbml_calloc(1, sizeof(*t));
            t->spill = s.spill;
            s.spill = NULL;
        }
    } else if (!st) {
        tbml_batch *rows = sql_batch_concat(&p->child[bs]->schema, s.l.b, s.l.n);
        sql_blist_clear(&s.l);
        st = jtable_make(p, rows, &t);
    }
    sql_blist_clear(&s.l);
    if (s.spill) {
        tbml_spill_free(s.spill->f);
        jparts_clear(&s.spill->b);
        tbml_free(s.spill);
    }
    if (st) return st;
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

/* The rows of probe batch b that the join emits by their match flags pm (0 or 1): semi joins
 * the matched ones, anti joins the others, outer joins the others with NULLs for the build
 * side; nothing for the rest. */
static tbml_status emit_probe_rest(const sql_plan *p, const tbml_batch *b, const uint8_t *pm,
                                   sql_sink *out)
{
    int jt = p->join_type, semi = jt == JOIN_SEMI || jt == JOIN_ANTI;
    if (!semi && !keep_probe(p)) return TBML_OK;
    int64_t n = b->nrows, m = 0;
    int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    for (int64_t r = 0; r < n; r++)
        if (pm[r] == (jt == JOIN_SEMI)) idx[m++] = r;
    tbml_status st = TBML_OK;
    if (m) {
        tbml_batch *o = semi            ? sql_batch_take(b, idx, m)
                        : p->build_side ? joined(p, b, idx, NULL, NULL, m, 0)
                                        : joined(p, NULL, NULL, b, idx, m, 0);
        st = out->put(out, o, 1);
    }
    tbml_free(idx);
    return st;
}

/* Build rows of t without a partner, with NULLs for the probe side, where the join keeps them. */
static tbml_status emit_build_rest(const sql_plan *p, const jtable *t, sql_sink *out)
{
    if (!keep_build(p) || p->broadcast) return TBML_OK;
    int64_t n = t->rows->nrows, m = 0;
    int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    for (int64_t r = 0; r < n; r++)
        if (!t->matched[r]) idx[m++] = r;
    tbml_status st = TBML_OK;
    if (m) {
        tbml_batch *o = p->build_side ? joined(p, NULL, NULL, t->rows, idx, m, 0)
                                      : joined(p, t->rows, idx, NULL, NULL, m, 0);
        st = out->put(out, o, 1);
    }
    tbml_free(idx);
    return st;
}

/* Joins probe batch b with t. pm NULL: emits everything b gives (pairs, and its semi, anti or
 * outer rows). Else only the pairs, and ORs b's match flags into pm: the caller emits the rest
 * once every chunk of the build side has seen b. */
static tbml_status probe_batch(const sql_plan *p, jtable *t, const tbml_batch *b, sql_sink *out,
                               uint8_t *pm)
{
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
    if (np > 0 && !semi) {
        st = out->put(out, jb, 1);
        jb = NULL;
        if (st) goto out;
    }
    if (pm) {
        for (int64_t r = 0; r < n; r++)
            pm[r] |= pmatched[r];
        goto out;
    }
    st = emit_probe_rest(p, b, pmatched, out);
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
    return st;
}

typedef struct {
    sql_sink base;
    const sql_plan *p;
    jtable *t;
    sql_sink *next;
} psink;

static tbml_status probe_put(sql_sink *base, tbml_batch *b, int owned)
{
    psink *s = (psink *)base;
    tbml_status st = probe_batch(s->p, s->t, b, s->next, NULL);
    if (owned) tbml_batch_free(b);
    return st;
}

/* ---- the join of a partition whose build side spilled ---- */
typedef struct {
    sql_xc *x;
    const sql_plan *p;
    int part;
    int64_t budget;
    sql_sink *out;
    uint8_t *buf; /* read buffer of sql_spill_get */
    size_t cap;
    int64_t files, bytes, chunked;
} jctx;

/* The build rows l (cleared here) joined with the whole probe partition pl; pm NULL:
 * everything is emitted, else see probe_batch. */
static tbml_status join_table(jctx *c, sql_blist *l, tbml_spill_t *pf, const sql_reclist *pl,
                              uint8_t *pm)
{
    const sql_plan *p = c->p;
    jtable *t = NULL;
    tbml_batch *rows = sql_batch_concat(&p->child[p->build_side]->schema, l->b, l->n);
    sql_blist_clear(l);
    tbml_status st = jtable_make(p, rows, &t);
    int64_t base = 0;
    for (int64_t i = 0; i < pl->n && !st; i++) {
        uint64_t off = pl->off[i];
        tbml_batch *b;
        if ((st = sql_spill_get(pf, &off, &c->buf, &c->cap, &b))) break;
        st = probe_batch(p, t, b, c->out, pm ? pm + base : NULL);
        base += b->nrows;
        tbml_batch_free(b);
    }
    if (!st) st = emit_build_rest(p, t, c->out);
    jtable_free(t);
    return st;
}

/* A partition that does not split: the build rows a budget-sized chunk at a time, each against
 * every probe row; then the probe rows that the join emits by their matches over all chunks. */
static tbml_status join_chunked(jctx *c, tbml_spill_t *bf, const sql_reclist *bl, tbml_spill_t *pf,
                                const sql_reclist *pl)
{
    const sql_plan *p = c->p;
    tbml_status st = TBML_OK;
    uint8_t *pm = tbml_calloc((size_t)pl->rows + 1, 1);
    int64_t nchunks = 0, rec = 0;
    while (rec < bl->n && !st) {
        sql_blist l = {0};
        int64_t rows = 0, size = 0;
        while (rec < bl->n && !st && (rows < JOIN_MIN_ROWS || size <= c->budget)) {
            uint64_t off = bl->off[rec++];
            tbml_batch *b;
            if ((st = sql_spill_get(bf, &off, &c->buf, &c->cap, &b))) break;
            rows += b->nrows;
            size += sql_batch_size(b) + JOIN_ROW_OVERHEAD * b->nrows;
            sql_blist_push(&l, b);
        }
        if (!st) {
            st = join_table(c, &l, pf, pl, pm);
            nchunks++;
        }
        sql_blist_clear(&l);
    }
    c->chunked++;
    TBML_LOG_I("sql: hash join of partition %d: a partition of %lld build rows (%lld bytes) does "
               "not split (a skewed key): joined in %lld chunks",
               c->part, (long long)bl->rows, (long long)bl->bytes, (long long)nchunks);
    int64_t base = 0;
    for (int64_t i = 0; i < pl->n && !st; i++) {
        uint64_t off = pl->off[i];
        tbml_batch *b;
        if ((st = sql_spill_get(pf, &off, &c->buf, &c->cap, &b))) break;
        st = emit_probe_rest(p, b, pm + base, c->out);
        base += b->nrows;
        tbml_batch_free(b);
    }
    tbml_free(pm);
    return st;
}

/* Joins build partition bl (in bf) with probe partition pl (in pf) at level depth: in memory
 * if it fits, else split again, else in chunks. */
static tbml_status join_part(jctx *c, int depth, tbml_spill_t *bf, const sql_reclist *bl,
                             tbml_spill_t *pf, const sql_reclist *pl)
{
    const sql_plan *p = c->p;
    int semi_rest = keep_probe(p) || p->join_type == JOIN_ANTI;
    if (pl->rows == 0 && !keep_build(p)) return TBML_OK;
    if (bl->rows == 0 && !semi_rest) return TBML_OK;
    tbml_status st = TBML_OK;
    if (bl->bytes + JOIN_ROW_OVERHEAD * bl->rows <= c->budget || bl->rows < JOIN_MIN_ROWS) {
        sql_blist l = {0};
        for (int64_t i = 0; i < bl->n && !st; i++) {
            uint64_t off = bl->off[i];
            tbml_batch *b;
            if (!(st = sql_spill_get(bf, &off, &c->buf, &c->cap, &b))) sql_blist_push(&l, b);
        }
        if (!st) st = join_table(c, &l, pf, pl, NULL);
        sql_blist_clear(&l);
        return st;
    }
    if (depth >= JOIN_MAX_DEPTH) return join_chunked(c, bf, bl, pf, pl);
    /* split both sides again, with the next level's seed, into one new file */
    tbml_scratch_t *scratch;
    tbml_spill_t *sf = NULL;
    jparts sb, sp;
    memset(&sb, 0, sizeof(sb));
    memset(&sp, 0, sizeof(sp));
    if ((st = sql_xc_scratch(c->x, &scratch)) || (st = tbml_spill_create(scratch, &sf))) return st;
    int bs = p->build_side;
    for (int side = 0; side < 2 && !st; side++) {
        tbml_spill_t *f = side ? pf : bf;
        const sql_reclist *l = side ? pl : bl;
        sql_expr **keys = (side ? 1 - bs : bs) ? p->rkeys : p->lkeys;
        for (int64_t i = 0; i < l->n && !st; i++) {
            uint64_t off = l->off[i];
            tbml_batch *b;
            if ((st = sql_spill_get(f, &off, &c->buf, &c->cap, &b))) break;
            st = part_write(p, keys, depth + 1, 0, sf, side ? &sp : &sb, b);
            tbml_batch_free(b);
        }
    }
    if (!st) st = tbml_spill_finish(sf);
    if (!st) {
        int64_t size = (int64_t)tbml_spill_size(sf);
        sql_session_note_spill(c->x->cx->s, 1, size);
        c->files++;
        c->bytes += size;
        int splits = 1;
        for (int i = 0; i < JOIN_FANOUT; i++)
            if (sb.part[i].rows == bl->rows) splits = 0;
        if (!splits) {
            st = join_chunked(c, bf, bl, pf, pl);
        } else {
            TBML_LOG_I("sql: hash join of partition %d: a partition of %lld build rows split again "
                       "(level %d, %lld bytes)",
                       c->part, (long long)bl->rows, depth + 1, (long long)size);
            for (int i = 0; i < JOIN_FANOUT && !st; i++)
                st = join_part(c, depth + 1, sf, &sb.part[i], sf, &sp.part[i]);
        }
    }
    jparts_clear(&sb);
    jparts_clear(&sp);
    tbml_spill_free(sf);
    return st;
}

typedef struct {
    sql_sink base;
    const sql_plan *p;
    tbml_spill_t *f;
    jparts *j;
} splitsink;

static tbml_status split_put(sql_sink *base, tbml_batch *b, int owned)
{
    splitsink *s = (splitsink *)base;
    const sql_plan *p = s->p;
    int keep = keep_probe(p) || p->join_type == JOIN_ANTI;
    tbml_status st = part_write(p, p->build_side ? p->lkeys : p->rkeys, 0, keep, s->f, s->j, b);
    if (owned) tbml_batch_free(b);
    return st;
}

/* Streams the probe side into partitions of a second file, joins them with the build side's
 * partition by partition, then emits the rows with a NULL key that the join keeps. */
static tbml_status stream_spilled(sql_xc *x, const sql_plan *p, int part, jtable *t, sql_sink *out)
{
    jctx c;
    memset(&c, 0, sizeof(c));
    c.x = x;
    c.p = p;
    c.part = part;
    c.budget = sql_xc_task_memory(x);
    c.out = out;
    jparts pj;
    memset(&pj, 0, sizeof(pj));
    tbml_spill_t *pf = NULL, *bf = t->spill->f;
    tbml_scratch_t *scratch;
    tbml_status st = sql_xc_scratch(x, &scratch);
    if (!st) st = tbml_spill_create(scratch, &pf);
    if (st) return st;
    splitsink s = {{split_put}, p, pf, &pj};
    st = sql_stream(x, p->child[1 - p->build_side], part, &s.base);
    if (!st) st = tbml_spill_finish(pf);
    if (!st) {
        int64_t size = (int64_t)tbml_spill_size(pf);
        sql_session_note_spill(x->cx->s, 1, size);
        c.files = 2;
        c.bytes = size + (int64_t)tbml_spill_size(bf);
        TBML_LOG_I("sql: hash join of partition %d spilled %lld bytes of its probe side to 1 file",
                   part, (long long)size);
    }
    for (int i = 0; i < JOIN_FANOUT && !st; i++)
        st = join_part(&c, 0, bf, &t->spill->b.part[i], pf, &pj.part[i]);
    /* NULL keys: probe rows as unmatched, build rows as unmatched */
    for (int64_t i = 0; i < pj.nulls.n && !st; i++) {
        uint64_t off = pj.nulls.off[i];
        tbml_batch *b;
        if ((st = sql_spill_get(pf, &off, &c.buf, &c.cap, &b))) break;
        uint8_t *none = tbml_calloc((size_t)b->nrows + 1, 1);
        st = emit_probe_rest(p, b, none, out);
        tbml_free(none);
        tbml_batch_free(b);
    }
    const sql_reclist *bn = &t->spill->b.nulls;
    for (int64_t i = 0; i < bn->n && !st; i++) {
        uint64_t off = bn->off[i];
        tbml_batch *b;
        if ((st = sql_spill_get(bf, &off, &c.buf, &c.cap, &b))) break;
        int64_t n = b->nrows;
        int64_t *idx = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
        for (int64_t r = 0; r < n; r++)
            idx[r] = r;
        tbml_batch *o = p->build_side ? joined(p, NULL, NULL, b, idx, n, 0)
                                      : joined(p, b, idx, NULL, NULL, n, 0);
        tbml_free(idx);
        tbml_batch_free(b);
        st = out->put(out, o, 1);
    }
    if (!st)
        TBML_LOG_I("sql: hash join of partition %d done: %lld spill files, %lld bytes spilled%s",
                   part, (long long)c.files, (long long)c.bytes,
                   c.chunked ? " (skewed partitions joined in chunks)" : "");
    tbml_free(c.buf);
    jparts_clear(&pj);
    tbml_spill_free(pf);
    return st;
}

tbml_status op_join_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    jtable *t = p->rt->jt[p->broadcast ? 0 : part];
    if (t->spill) return stream_spilled(x, p, part, t, out);
    psink s = {{probe_put}, p, t, out};
    tbml_status st = sql_stream(x, p->child[1 - p->build_side], part, &s.base);
    if (st) return st;
    return emit_build_rest(p, t, out);
}
