/* Hash aggregate in three modes: PARTIAL (raw rows -> per-group states, before the exchange),
 * FINAL (merges states that the hash exchange brought together), SINGLE (raw rows of whole
 * groups -> results; used with DISTINCT aggregates, DISTINCT itself and one partition). Groups
 * live in an open-addressing table keyed by the hash of the key columns; keys are kept as
 * columns, states as one struct per (group, aggregate). NULL keys form one group, as in SQL. */
#include "exec.h"

#include <math.h>
#include <string.h>

typedef struct {
    int64_t cnt;
    int64_t i;
    double f, mean, m2;
    sql_value v; /* MIN/MAX; a string is owned */
    int has;
    sql_vset *set; /* DISTINCT */
} astate;

typedef struct {
    const sql_plan *p;
    int nkeys, naggs;
    tbml_column *keys;
    int64_t ngroups, gcap;
    uint64_t *ghash;
    int64_t *slots; /* group id + 1; 0 = empty */
    int64_t scap;
    astate *st;
    /* one string or integer key: each group's key packed in a word, so a probe compares words */
    uint64_t *gword;
    int64_t null_group; /* the group of the NULL key, -1 until seen */
} aggtab;

static int key_eq(const tbml_column *a, int64_t ra, const tbml_column *b, int64_t rb)
{
    int an = a->type == TBML_TYPE_NULL || tbml_column_is_null(a, ra);
    int bn = b->type == TBML_TYPE_NULL || tbml_column_is_null(b, rb);
    if (an || bn) return an && bn;
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
        if (n1 != n2) return 0;
        if (n1 <= 16) { /* short keys: a byte loop beats a memcmp call */
            for (size_t i = 0; i < n1; i++)
                if (s1[i] != s2[i]) return 0;
            return 1;
        }
        return memcmp(s1, s2, n1) == 0;
    }
    default:
        return a->i64[ra] == b->i64[rb];
    }
}

static void grow_slots(aggtab *t)
{
    int64_t ncap = t->scap ? t->scap * 2 : 1024;
    int64_t *ns = tbml_calloc((size_t)ncap, sizeof(int64_t));
    for (int64_t g = 0; g < t->ngroups; g++) {
        int64_t i = (int64_t)(t->ghash[g] & (uint64_t)(ncap - 1));
        while (ns[i])
            i = (i + 1) & (ncap - 1);
        ns[i] = g + 1;
    }
    tbml_free(t->slots);
    t->slots = ns;
    t->scap = ncap;
}

static int64_t new_group(aggtab *t, const tbml_column *kc, int64_t row, uint64_t h)
{
    if (t->ngroups == t->gcap) {
        t->gcap = t->gcap ? t->gcap * 2 : 256;
        t->ghash = tbml_realloc(t->ghash, (size_t)t->gcap * sizeof(uint64_t));
        t->gword = tbml_realloc(t->gword, (size_t)t->gcap * sizeof(uint64_t));
        t->st = tbml_realloc(t->st,
                             (size_t)t->gcap * (size_t)(t->naggs ? t->naggs : 1) * sizeof(astate));
    }
    int64_t g = t->ngroups++;
    t->ghash[g] = h;
    for (int k = 0; k < t->nkeys; k++)
        tbml_column_append_from(&t->keys[k], &kc[k], row);
    memset(&t->st[g * t->naggs], 0, (size_t)t->naggs * sizeof(astate));
    for (int a = 0; a < t->naggs; a++)
        if (t->p->aggs[a].distinct && t->p->mode != AGG_FINAL)
            t->st[g * t->naggs + a].set = sql_vset_new();
    return g;
}

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A string's first (up to) 8 bytes in a word, unique for strings of one length up to 8: two
 * overlapping 4-byte loads, or first/middle/last byte below 4 (no byte loop, no branch per byte).
 */
static inline uint64_t pack8(const char *s, size_t n)
{
    if (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        return w;
    }
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << 32;
    }
    if (n == 0) return 0;
    return (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n >> 1] << 8 |
           (uint64_t)(uint8_t)s[n - 1] << 16;
}

/* One string or one integer key: the probe compares a packed word (and for strings longer than
 * 8 bytes, the bytes) instead of going through the generic key comparison. */
static void group_ids_one(aggtab *t, const tbml_column *c, int64_t n, int64_t *gid)
{
    int is_str = c->type == TBML_TYPE_STRING, all_null = c->type == TBML_TYPE_NULL;
    for (int64_t r = 0; r < n; r++) {
        if (all_null || tbml_column_is_null(c, r)) {
            if (t->null_group < 0) t->null_group = new_group(t, c, r, 0);
            gid[r] = t->null_group;
            continue;
        }
        uint64_t w, h;
        size_t len = 0;
        const char *sp = NULL;
        if (is_str) {
            sp = tbml_column_str(c, r, &len);
            w = pack8(sp, len);
            h = mix(w ^ ((uint64_t)len << 56) ^
                    (len > 8 ? pack8(sp + len - 8, 8) * 0x9e3779b97f4a7c15ULL : 0));
        } else {
            w = (uint64_t)c->i64[r];
            h = mix(w);
        }
        if ((t->ngroups + 1) * 2 > t->scap) grow_slots(t);
        int64_t i = (int64_t)(h & (uint64_t)(t->scap - 1)), g = -1;
        while (t->slots[i]) {
            int64_t k = t->slots[i] - 1;
            if (t->ghash[k] == h && t->gword[k] == w && k != t->null_group) {
                if (!is_str) {
                    g = k;
                    break;
                }
                size_t kl;
                const char *ks = tbml_column_str(&t->keys[0], k, &kl);
                if (kl == len && (len <= 8 || memcmp(ks, sp, len) == 0)) {
                    g = k;
                    break;
                }
            }
            i = (i + 1) & (t->scap - 1);
        }
        if (g < 0) {
            g = new_group(t, c, r, h);
            t->gword[g] = w;
            t->slots[i] = g + 1;
        }
        gid[r] = g;
    }
}

/* Group ids of every row of b (keys are its first nkeys columns). */
static void group_ids(aggtab *t, const tbml_batch *b, int64_t *gid)
{
    int64_t n = b->nrows;
    if (t->nkeys == 0) {
        if (t->ngroups == 0) new_group(t, NULL, 0, 0);
        memset(gid, 0, (size_t)n * sizeof(int64_t));
        return;
    }
    /* decided by the plan's key type, so every batch of a table takes the same path */
    tbml_type kt = t->p->child[0]->schema.fields[0].type;
    if (t->nkeys == 1 && (kt == TBML_TYPE_STRING || kt == TBML_TYPE_INT64 || kt == TBML_TYPE_DATE ||
                          kt == TBML_TYPE_TIMESTAMP)) {
        group_ids_one(t, &b->cols[0], n, gid);
        return;
    }
    const tbml_column **kc = tbml_malloc((size_t)t->nkeys * sizeof(*kc));
    for (int k = 0; k < t->nkeys; k++)
        kc[k] = &b->cols[k];
    uint64_t *h = tbml_malloc((size_t)(n > 0 ? n : 1) * sizeof(uint64_t));
    sql_hash_columns(kc, t->nkeys, n, h);
    for (int64_t r = 0; r < n; r++) {
        if ((t->ngroups + 1) * 2 > t->scap) grow_slots(t);
        int64_t i = (int64_t)(h[r] & (uint64_t)(t->scap - 1)), g = -1;
        while (t->slots[i]) {
            int64_t c = t->slots[i] - 1;
            if (t->ghash[c] == h[r]) {
                int eq = 1;
                for (int k = 0; k < t->nkeys && eq; k++)
                    eq = key_eq(kc[k], r, &t->keys[k], c);
                if (eq) {
                    g = c;
                    break;
                }
            }
            i = (i + 1) & (t->scap - 1);
        }
        if (g < 0) {
            g = new_group(t, b->cols, r, h[r]);
            t->slots[i] = g + 1;
        }
        gid[r] = g;
    }
    tbml_free(h);
    tbml_free(kc);
}

static void minmax_update(astate *s, const sql_value *v, int is_max)
{
    if (s->has) {
        int c = sql_value_cmp(v, &s->v);
        if (is_max ? c <= 0 : c >= 0) return;
    }
    if (s->v.type == TBML_TYPE_STRING && s->has) tbml_free((void *)s->v.s);
    s->v = *v;
    if (v->type == TBML_TYPE_STRING) {
        char *c = tbml_malloc(v->n + 1);
        memcpy(c, v->s, v->n);
        s->v.s = c;
    }
    s->has = 1;
}

static void welford(astate *s, double x)
{
    s->cnt++;
    double d = x - s->mean;
    s->mean += d / (double)s->cnt;
    s->m2 += d * (x - s->mean);
}

/* raw rows (PARTIAL, SINGLE) */
static void update_raw(aggtab *t, const tbml_batch *b, const int64_t *gid)
{
    int64_t n = b->nrows;
    for (int a = 0; a < t->naggs; a++) {
        const sql_agg *g = &t->p->aggs[a];
        const tbml_column *c = g->arg >= 0 ? &b->cols[g->arg] : NULL;
        int na = t->naggs;
        if (g->fn == AGG_COUNT_STAR) {
            for (int64_t r = 0; r < n; r++)
                t->st[gid[r] * na + a].cnt++;
            continue;
        }
        int cnull = c->type == TBML_TYPE_NULL;
        if (cnull) continue;
        if (g->distinct) {
            for (int64_t r = 0; r < n; r++) {
                if (tbml_column_is_null(c, r)) continue;
                sql_value v;
                sql_value_get(c, r, &v);
                sql_vset_add(t->st[gid[r] * na + a].set, &v);
            }
            continue;
        }
        switch (g->fn) {
        case AGG_COUNT:
            for (int64_t r = 0; r < n; r++)
                if (!tbml_column_is_null(c, r)) t->st[gid[r] * na + a].cnt++;
            break;
        case AGG_SUM:
            if (g->in_type == TBML_TYPE_INT64) {
                for (int64_t r = 0; r < n; r++)
                    if (!tbml_column_is_null(c, r)) {
                        astate *s = &t->st[gid[r] * na + a];
                        s->i = (int64_t)((uint64_t)s->i + (uint64_t)c->i64[r]);
                        s->has = 1;
                    }
            } else {
                for (int64_t r = 0; r < n; r++)
                    if (!tbml_column_is_null(c, r)) {
                        astate *s = &t->st[gid[r] * na + a];
                        s->f += c->f64[r];
                        s->has = 1;
                    }
            }
            break;
        case AGG_AVG:
            for (int64_t r = 0; r < n; r++)
                if (!tbml_column_is_null(c, r)) {
                    astate *s = &t->st[gid[r] * na + a];
                    s->f += c->f64[r];
                    s->cnt++;
                }
            break;
        case AGG_MIN:
        case AGG_MAX:
            for (int64_t r = 0; r < n; r++)
                if (!tbml_column_is_null(c, r)) {
                    sql_value v;
                    sql_value_get(c, r, &v);
                    minmax_update(&t->st[gid[r] * na + a], &v, g->fn == AGG_MAX);
                }
            break;
        case AGG_STDDEV:
            for (int64_t r = 0; r < n; r++)
                if (!tbml_column_is_null(c, r)) welford(&t->st[gid[r] * na + a], c->f64[r]);
            break;
        }
    }
}

/* partial states (FINAL): the columns after the keys, in aggregate order */
static void update_merge(aggtab *t, const tbml_batch *b, const int64_t *gid)
{
    int64_t n = b->nrows;
    int col = t->nkeys, na = t->naggs;
    for (int a = 0; a < na; a++) {
        const sql_agg *g = &t->p->aggs[a];
        const tbml_column *c0 = &b->cols[col];
        switch (g->fn) {
        case AGG_COUNT:
        case AGG_COUNT_STAR:
            for (int64_t r = 0; r < n; r++)
                t->st[gid[r] * na + a].cnt += c0->i64[r];
            col += 1;
            break;
        case AGG_SUM:
            for (int64_t r = 0; r < n; r++) {
                if (tbml_column_is_null(c0, r)) continue;
                astate *s = &t->st[gid[r] * na + a];
                if (g->out_type == TBML_TYPE_INT64)
                    s->i = (int64_t)((uint64_t)s->i + (uint64_t)c0->i64[r]);
                else
                    s->f += c0->f64[r];
                s->has = 1;
            }
            col += 1;
            break;
        case AGG_AVG: {
            const tbml_column *c1 = &b->cols[col + 1];
            for (int64_t r = 0; r < n; r++) {
                astate *s = &t->st[gid[r] * na + a];
                if (!tbml_column_is_null(c0, r)) s->f += c0->f64[r];
                s->cnt += c1->i64[r];
            }
            col += 2;
            break;
        }
        case AGG_MIN:
        case AGG_MAX:
            for (int64_t r = 0; r < n; r++) {
                if (c0->type == TBML_TYPE_NULL || tbml_column_is_null(c0, r)) continue;
                sql_value v;
                sql_value_get(c0, r, &v);
                minmax_update(&t->st[gid[r] * na + a], &v, g->fn == AGG_MAX);
            }
            col += 1;
            break;
        case AGG_STDDEV: {
            const tbml_column *cm = &b->cols[col + 1], *c2 = &b->cols[col + 2];
            for (int64_t r = 0; r < n; r++) {
                int64_t nb = c0->i64[r];
                if (nb == 0) continue;
                astate *s = &t->st[gid[r] * na + a];
                double mb = cm->f64[r], m2b = c2->f64[r];
                int64_t nt = s->cnt + nb;
                double d = mb - s->mean;
                s->mean += d * (double)nb / (double)nt;
                s->m2 += m2b + d * d * (double)s->cnt * (double)nb / (double)nt;
                s->cnt = nt;
            }
            col += 3;
            break;
        }
        }
    }
}

typedef struct {
    int64_t cnt;
    double f;
    int64_t i;
    int is_int;
} dsum;

static void dsum_add(void *ctx, const sql_value *v)
{
    dsum *d = ctx;
    d->cnt++;
    if (v->type == TBML_TYPE_INT64)
        d->i = (int64_t)((uint64_t)d->i + (uint64_t)v->i);
    else
        d->f += v->f;
}

static tbml_batch *emit(aggtab *t, int mode)
{
    const sql_plan *p = t->p;
    int64_t ng = t->ngroups;
    int nout = p->schema.nfields;
    tbml_column *cols = tbml_calloc((size_t)(nout > 0 ? nout : 1), sizeof(tbml_column));
    for (int k = 0; k < t->nkeys; k++) {
        cols[k] = t->keys[k];
        memset(&t->keys[k], 0, sizeof(t->keys[k]));
    }
    int col = t->nkeys, na = t->naggs;
    for (int a = 0; a < na; a++) {
        const sql_agg *g = &p->aggs[a];
        if (mode == AGG_PARTIAL) {
            tbml_column *c0 = &cols[col];
            switch (g->fn) {
            case AGG_COUNT:
            case AGG_COUNT_STAR:
                tbml_column_init(c0, TBML_TYPE_INT64, ng);
                for (int64_t r = 0; r < ng; r++)
                    tbml_column_append_i64(c0, t->st[r * na + a].cnt);
                col += 1;
                break;
            case AGG_SUM:
                tbml_column_init(c0, g->out_type, ng);
                for (int64_t r = 0; r < ng; r++) {
                    astate *s = &t->st[r * na + a];
                    if (!s->has)
                        tbml_column_append_null(c0);
                    else if (g->out_type == TBML_TYPE_INT64)
                        tbml_column_append_i64(c0, s->i);
                    else
                        tbml_column_append_f64(c0, s->f);
                }
                col += 1;
                break;
            case AGG_AVG:
                tbml_column_init(c0, TBML_TYPE_DOUBLE, ng);
                tbml_column_init(&cols[col + 1], TBML_TYPE_INT64, ng);
                for (int64_t r = 0; r < ng; r++) {
                    tbml_column_append_f64(c0, t->st[r * na + a].f);
                    tbml_column_append_i64(&cols[col + 1], t->st[r * na + a].cnt);
                }
                col += 2;
                break;
            case AGG_MIN:
            case AGG_MAX:
                tbml_column_init(c0, g->out_type, ng);
                for (int64_t r = 0; r < ng; r++) {
                    astate *s = &t->st[r * na + a];
                    if (s->has)
                        sql_column_append_value(c0, &s->v);
                    else
                        tbml_column_append_null(c0);
                }
                col += 1;
                break;
            case AGG_STDDEV:
                tbml_column_init(c0, TBML_TYPE_INT64, ng);
                tbml_column_init(&cols[col + 1], TBML_TYPE_DOUBLE, ng);
                tbml_column_init(&cols[col + 2], TBML_TYPE_DOUBLE, ng);
                for (int64_t r = 0; r < ng; r++) {
                    astate *s = &t->st[r * na + a];
                    tbml_column_append_i64(c0, s->cnt);
                    tbml_column_append_f64(&cols[col + 1], s->mean);
                    tbml_column_append_f64(&cols[col + 2], s->m2);
                }
                col += 3;
                break;
            }
            continue;
        }
        tbml_column *c = &cols[col++];
        tbml_column_init(c, g->out_type, ng);
        for (int64_t r = 0; r < ng; r++) {
            astate *s = &t->st[r * na + a];
            if (g->distinct && s->set) {
                dsum d = {0, 0, 0, 0};
                sql_vset_foreach(s->set, dsum_add, &d);
                if (g->fn == AGG_COUNT) {
                    tbml_column_append_i64(c, d.cnt);
                } else if (d.cnt == 0) {
                    tbml_column_append_null(c);
                } else if (g->fn == AGG_SUM) {
                    if (g->out_type == TBML_TYPE_INT64)
                        tbml_column_append_i64(c, d.i);
                    else
                        tbml_column_append_f64(c, d.f);
                } else {
                    tbml_column_append_f64(c, d.f / (double)d.cnt);
                }
                continue;
            }
            switch (g->fn) {
            case AGG_COUNT:
            case AGG_COUNT_STAR:
                tbml_column_append_i64(c, s->cnt);
                break;
            case AGG_SUM:
                if (!s->has)
                    tbml_column_append_null(c);
                else if (g->out_type == TBML_TYPE_INT64)
                    tbml_column_append_i64(c, s->i);
                else
                    tbml_column_append_f64(c, s->f);
                break;
            case AGG_AVG:
                if (s->cnt == 0)
                    tbml_column_append_null(c);
                else
                    tbml_column_append_f64(c, s->f / (double)s->cnt);
                break;
            case AGG_MIN:
            case AGG_MAX:
                if (s->has)
                    sql_column_append_value(c, &s->v);
                else
                    tbml_column_append_null(c);
                break;
            case AGG_STDDEV:
                /* sample standard deviation; NULL below two values, as Spark 3 */
                if (s->cnt < 2)
                    tbml_column_append_null(c);
                else
                    tbml_column_append_f64(c, sqrt(s->m2 > 0 ? s->m2 / (double)(s->cnt - 1) : 0));
                break;
            }
        }
    }
    TBML_ASSERT(col == nout);
    tbml_batch *b = sql_batch_from_columns(&p->schema, cols, ng);
    tbml_free(cols);
    return b;
}

typedef struct {
    sql_sink base;
    aggtab *t;
    int mode;
} asink;

static tbml_status agg_put(sql_sink *base, tbml_batch *b, int owned)
{
    asink *s = (asink *)base;
    int64_t n = b->nrows;
    if (n > 0) {
        int64_t *gid = tbml_malloc((size_t)n * sizeof(int64_t));
        group_ids(s->t, b, gid);
        if (s->mode == AGG_FINAL)
            update_merge(s->t, b, gid);
        else
            update_raw(s->t, b, gid);
        tbml_free(gid);
    }
    if (owned) tbml_batch_free(b);
    return TBML_OK;
}

tbml_status op_agg_run(sql_xc *x, sql_plan *p, int part, sql_blist *out)
{
    aggtab t;
    memset(&t, 0, sizeof(t));
    t.p = p;
    t.nkeys = p->nkeys;
    t.naggs = p->naggs;
    t.keys = tbml_calloc((size_t)(t.nkeys > 0 ? t.nkeys : 1), sizeof(tbml_column));
    t.null_group = -1;
    for (int k = 0; k < t.nkeys; k++)
        tbml_column_init(&t.keys[k], p->child[0]->schema.fields[k].type, 0);
    asink s = {{agg_put}, &t, p->mode};
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    if (!st) {
        /* a global aggregate gives one row even over no input, from the one partition that
         * holds the result */
        if (t.nkeys == 0 && t.ngroups == 0 && p->mode != AGG_PARTIAL && part == 0)
            new_group(&t, NULL, 0, 0);
        if (t.ngroups > 0) sql_blist_push(out, emit(&t, p->mode));
    }
    for (int64_t g = 0; g < t.ngroups; g++)
        for (int a = 0; a < t.naggs; a++) {
            astate *as = &t.st[g * t.naggs + a];
            if (as->has && as->v.type == TBML_TYPE_STRING) tbml_free((void *)as->v.s);
            sql_vset_free(as->set);
        }
    for (int k = 0; k < t.nkeys; k++)
        tbml_column_clear(&t.keys[k]);
    tbml_free(t.keys);
    tbml_free(t.ghash);
    tbml_free(t.gword);
    tbml_free(t.slots);
    tbml_free(t.st);
    return st;
}
