/* Hash aggregate in three modes: PARTIAL (raw rows -> per-group states, before the exchange),
 * FINAL (merges states that the hash exchange brought together), SINGLE (raw rows of whole
 * groups -> results; used with DISTINCT aggregates, DISTINCT itself and one partition). Groups
 * live in an open-addressing table keyed by the hash of the key columns; keys are kept as
 * columns, states as one struct per (group, aggregate). NULL keys form one group, as in SQL.
 *
 * Spilling (grace hash, hybrid): the table counts its bytes (keys, states, strings, DISTINCT
 * sets). Once they pass the task's budget (sql_session_agg_memory) it takes no new groups: rows
 * of groups it holds still update it, the others go, split by a hash of their key, to
 * SPILL_FANOUT sealed spill files (tbml/scratch.h, records as spill.c writes them). When the input
 * ends the table is emitted, then each spill file is aggregated in turn by a fresh table, which may
 * spill again with a different hash. Every group is aggregated whole by one table, so the result is
 * the in-memory one; only the order of groups differs. */
#include "exec.h"

#include "tbml/scratch.h"

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
    /* spilling */
    tbml_session_t *sess;
    int part, depth;
    int64_t budget;              /* bytes; 0 = no limit */
    int64_t str_size, set_count; /* MIN/MAX strings held, DISTINCT values held */
    int frozen;                  /* over budget: no new groups, their rows spill */
    tbml_scratch_t **scratch;    /* the run's scratch folder, made at the first spill */
    tbml_spill_t **spill;        /* SPILL_FANOUT files while frozen */
    uint64_t *miss_hash;         /* per row of the current batch: hash of a row that spills */
    int64_t miss_cap;
} aggtab;

#define SPILL_FANOUT 16
#define SPILL_MAX_DEPTH 8 /* deeper, the table ignores its budget (hash collisions only) */
/* A table spills only once it holds this many groups, whatever the budget: each level then
 * takes a fair bite, and the number of spill files stays near (groups / this) * fanout. */
#define SPILL_MIN_GROUPS 16
/* Under a budget, a bigger batch (a whole exchanged partition may come as one) goes in slices
 * of this many rows, so that the table sees its size grow. */
#define SPILL_SLICE_ROWS 4096

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
            if (t->null_group < 0 && t->frozen) {
                gid[r] = -1;
                t->miss_hash[r] = 0;
                continue;
            }
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
        if (g < 0 && t->frozen) {
            t->miss_hash[r] = h;
        } else if (g < 0) {
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
        if (g < 0 && t->frozen) {
            t->miss_hash[r] = h[r];
        } else if (g < 0) {
            g = new_group(t, b->cols, r, h[r]);
            t->slots[i] = g + 1;
        }
        gid[r] = g;
    }
    tbml_free(h);
    tbml_free(kc);
}

static void minmax_update(aggtab *t, astate *s, const sql_value *v, int is_max)
{
    if (s->has) {
        int c = sql_value_cmp(v, &s->v);
        if (is_max ? c <= 0 : c >= 0) return;
    }
    if (s->v.type == TBML_TYPE_STRING && s->has) {
        t->str_size -= (int64_t)s->v.n + 1;
        tbml_free((void *)s->v.s);
    }
    s->v = *v;
    if (v->type == TBML_TYPE_STRING) {
        t->str_size += (int64_t)v->n + 1;
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
                t->set_count += sql_vset_add(t->st[gid[r] * na + a].set, &v);
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
                    minmax_update(t, &t->st[gid[r] * na + a], &v, g->fn == AGG_MAX);
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
                minmax_update(t, &t->st[gid[r] * na + a], &v, g->fn == AGG_MAX);
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

/* Bytes the table's groups use (not its spare capacity, so that a table of a few groups never
 * counts as big): hashes, states, slots at the highest load, keys, strings and DISTINCT sets. */
static int64_t tab_size(const aggtab *t)
{
    int64_t b = t->ngroups * (int64_t)(4 * sizeof(uint64_t) + (size_t)t->naggs * sizeof(astate)) +
                t->str_size + t->set_count * 48;
    for (int k = 0; k < t->nkeys; k++)
        b += t->keys[k].nrows * 9 + t->keys[k].chars_size;
    return b;
}

static void tab_init(aggtab *t, const sql_plan *p, tbml_session_t *sess, int part, int depth,
                     tbml_scratch_t **scratch)
{
    memset(t, 0, sizeof(*t));
    t->p = p;
    t->nkeys = p->nkeys;
    t->naggs = p->naggs;
    t->keys = tbml_calloc((size_t)(t->nkeys > 0 ? t->nkeys : 1), sizeof(tbml_column));
    t->null_group = -1;
    for (int k = 0; k < t->nkeys; k++)
        tbml_column_init(&t->keys[k], p->child[0]->schema.fields[k].type, 0);
    t->sess = sess;
    t->part = part;
    t->depth = depth;
    t->budget = depth < SPILL_MAX_DEPTH ? sql_session_agg_memory(sess) : 0;
    t->scratch = scratch;
}

static void tab_free(aggtab *t)
{
    for (int64_t g = 0; g < t->ngroups; g++)
        for (int a = 0; a < t->naggs; a++) {
            astate *as = &t->st[g * t->naggs + a];
            if (as->has && as->v.type == TBML_TYPE_STRING) tbml_free((void *)as->v.s);
            sql_vset_free(as->set);
        }
    for (int k = 0; k < t->nkeys; k++)
        tbml_column_clear(&t->keys[k]);
    tbml_free(t->keys);
    tbml_free(t->ghash);
    tbml_free(t->gword);
    tbml_free(t->slots);
    tbml_free(t->st);
    tbml_free(t->miss_hash);
    if (t->spill)
        for (int i = 0; i < SPILL_FANOUT; i++)
            tbml_spill_free(t->spill[i]);
    tbml_free(t->spill);
    memset(t, 0, sizeof(*t));
}

/* Over budget: stop taking groups; spill files are made as rows come for them. */
static tbml_status tab_freeze(aggtab *t)
{
    tbml_status st;
    if (!*t->scratch && (st = tbml_scratch_create(NULL, t->scratch))) return st;
    t->spill = tbml_calloc(SPILL_FANOUT, sizeof(tbml_spill_t *));
    t->frozen = 1;
    TBML_LOG_I("sql: hash aggregate of partition %d over its memory budget (%lld of %lld bytes, "
               "%lld groups, level %d): spilling new groups to up to %d sealed files",
               t->part, (long long)tab_size(t), (long long)t->budget, (long long)t->ngroups,
               t->depth, SPILL_FANOUT);
    return TBML_OK;
}

/* The spill file of a key hash: a different split at every level, so that a spill file that
 * is still too big splits again. */
static int spill_index(const aggtab *t, uint64_t h)
{
    return (int)(mix(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(t->depth + 1)) % SPILL_FANOUT);
}

static void update(aggtab *t, int mode, const tbml_batch *b, const int64_t *gid)
{
    if (mode == AGG_FINAL)
        update_merge(t, b, gid);
    else
        update_raw(t, b, gid);
}

/* A frozen table's batch with rows of new groups (gid < 0): the rows of held groups update the
 * table, the others go to their spill file. gid is overwritten. */
static tbml_status split_put(aggtab *t, int mode, const tbml_batch *b, int64_t *gid)
{
    tbml_status st = TBML_OK;
    int64_t n = b->nrows, m = 0, cnt[SPILL_FANOUT] = {0};
    int64_t *idx = tbml_malloc((size_t)n * sizeof(int64_t));
    int8_t *which = tbml_malloc((size_t)n);
    for (int64_t r = 0; r < n; r++) {
        which[r] = -1;
        if (gid[r] >= 0) {
            idx[m] = r;
            gid[m++] = gid[r];
        } else {
            which[r] = (int8_t)spill_index(t, t->miss_hash[r]);
            cnt[which[r]]++;
        }
    }
    if (m > 0) {
        tbml_batch *in = sql_batch_take(b, idx, m);
        update(t, mode, in, gid);
        tbml_batch_free(in);
    }
    for (int f = 0; f < SPILL_FANOUT && !st; f++) {
        if (!cnt[f]) continue;
        int64_t k = 0;
        for (int64_t r = 0; r < n; r++)
            if (which[r] == f) idx[k++] = r;
        if (!t->spill[f]) st = tbml_spill_create(*t->scratch, &t->spill[f]);
        if (st) break;
        tbml_batch *sb = sql_batch_take(b, idx, k);
        st = sql_spill_put(t->spill[f], sb);
        tbml_batch_free(sb);
    }
    tbml_free(which);
    tbml_free(idx);
    return st;
}

static tbml_status tab_put(aggtab *t, int mode, const tbml_batch *b)
{
    tbml_status st = TBML_OK;
    int64_t n = b->nrows;
    if (n == 0) return TBML_OK;
    if (t->budget > 0 && !t->frozen && t->nkeys > 0 && n > SPILL_SLICE_ROWS) {
        int64_t *idx = tbml_malloc(SPILL_SLICE_ROWS * sizeof(int64_t));
        for (int64_t off = 0; off < n && !st; off += SPILL_SLICE_ROWS) {
            int64_t k = n - off < SPILL_SLICE_ROWS ? n - off : SPILL_SLICE_ROWS;
            for (int64_t r = 0; r < k; r++)
                idx[r] = off + r;
            tbml_batch *slice = sql_batch_take(b, idx, k);
            st = tab_put(t, mode, slice);
            tbml_batch_free(slice);
        }
        tbml_free(idx);
        return st;
    }
    int64_t *gid = tbml_malloc((size_t)n * sizeof(int64_t));
    if (t->frozen && t->miss_cap < n) {
        tbml_free(t->miss_hash);
        t->miss_hash = tbml_malloc((size_t)n * sizeof(uint64_t));
        t->miss_cap = n;
    }
    group_ids(t, b, gid);
    int64_t nin = n;
    if (t->frozen) {
        nin = 0;
        for (int64_t r = 0; r < n; r++)
            nin += gid[r] >= 0;
    }
    if (nin == n)
        update(t, mode, b, gid);
    else
        st = split_put(t, mode, b, gid);
    if (!st && !t->frozen && t->budget > 0 && t->nkeys > 0 && t->ngroups >= SPILL_MIN_GROUPS &&
        tab_size(t) > t->budget)
        st = tab_freeze(t);
    tbml_free(gid);
    return st;
}

/* Emits the table, then aggregates each of its spill files with a fresh table (which may spill
 * again). *files, *bytes: spill files and bytes written here and below. */
static tbml_status tab_finish(aggtab *t, int mode, sql_blist *out, int64_t *files, int64_t *bytes)
{
    tbml_status st = TBML_OK;
    if (t->ngroups > 0) sql_blist_push(out, emit(t, mode));
    if (!t->frozen) return TBML_OK;
    uint64_t level_bytes = 0;
    int nfiles = 0;
    for (int f = 0; f < SPILL_FANOUT && !st; f++) {
        if (!t->spill[f]) continue;
        st = tbml_spill_finish(t->spill[f]);
        level_bytes += tbml_spill_size(t->spill[f]);
        nfiles++;
    }
    if (st || nfiles == 0) return st;
    *files += nfiles;
    *bytes += (int64_t)level_bytes;
    sql_session_note_spill(t->sess, nfiles, (int64_t)level_bytes);
    TBML_LOG_I("sql: hash aggregate of partition %d spilled %llu bytes into %d files (level %d)",
               t->part, (unsigned long long)level_bytes, nfiles, t->depth);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int f = 0; f < SPILL_FANOUT && !st; f++) {
        tbml_spill_t *sp = t->spill[f];
        if (!sp) continue;
        t->spill[f] = NULL; /* the table below may be deep; free each file once read */
        aggtab sub;
        tab_init(&sub, t->p, t->sess, t->part, t->depth + 1, t->scratch);
        uint64_t off = 0, end = tbml_spill_size(sp);
        while (!st && off < end) {
            tbml_batch *b = NULL;
            st = sql_spill_get(sp, &off, &buf, &cap, &b);
            if (!st) st = tab_put(&sub, mode, b);
            tbml_batch_free(b);
        }
        tbml_spill_free(sp);
        if (!st) st = tab_finish(&sub, mode, out, files, bytes);
        tab_free(&sub);
    }
    tbml_free(buf);
    return st;
}

typedef struct {
    sql_sink base;
    aggtab *t;
    int mode;
} asink;

static tbml_status agg_put(sql_sink *base, tbml_batch *b, int owned)
{
    asink *s = (asink *)base;
    tbml_status st = tab_put(s->t, s->mode, b);
    if (owned) tbml_batch_free(b);
    return st;
}

tbml_status op_agg_run(sql_xc *x, sql_plan *p, int part, sql_blist *out)
{
    aggtab t;
    tbml_scratch_t *scratch = NULL;
    int64_t files = 0, bytes = 0;
    tab_init(&t, p, x->cx->s, part, 0, &scratch);
    asink s = {{agg_put}, &t, p->mode};
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    if (st == SQL_STOP) st = TBML_OK;
    if (!st) {
        /* a global aggregate gives one row even over no input, from the one partition that
         * holds the result */
        if (t.nkeys == 0 && t.ngroups == 0 && p->mode != AGG_PARTIAL && part == 0)
            new_group(&t, NULL, 0, 0);
        st = tab_finish(&t, p->mode, out, &files, &bytes);
    }
    if (files > 0)
        TBML_LOG_I("sql: hash aggregate of partition %d done: %lld spill files, %lld bytes spilled",
                   part, (long long)files, (long long)bytes);
    tab_free(&t);
    /* the spill files are unnamed and already closed; this removes the folder and the key */
    tbml_scratch_free(scratch);
    return st;
}
