/* The driver: runs a physical plan stage by stage. prepare() walks the plan bottom-up and
 * materialises each breaker on all partitions at once (one tbml_pool_run per stage); then the
 * last stage streams the root on every partition and collects the rows in partition order.
 * Exchanges are run here, through the backend interface of exchange.h: a source partition
 * streams its child and sends each row to its destination (hash of the keys, range bound,
 * every partition, or partition 0). */
#include "exec.h"

#include <stdio.h>
#include <string.h>

/* ---- stage runner: fn(part) for every partition on the pool, first error kept ---- */
typedef tbml_status (*part_fn)(sql_xc *x, sql_plan *p, int part);

typedef struct {
    sql_xc *x;
    sql_plan *p;
    part_fn fn;
    tbml_status *st;
    char (*msg)[1024];
} stage_arg;

static void stage_task(int ith, int nth, void *arg)
{
    stage_arg *a = arg;
    for (int part = ith; part < a->x->nparts; part += nth) {
        if (!sql_xc_owns(a->x, part)) continue;
        tbml_status st = a->fn(a->x, a->p, part);
        if (st < 0) {
            a->st[part] = st;
            snprintf(a->msg[part], sizeof(a->msg[part]), "%s", tbml_errmsg());
            return;
        }
    }
}

static tbml_status run_stage(sql_xc *x, sql_plan *p, part_fn fn)
{
    int P = x->nparts;
    stage_arg a = {x, p, fn, tbml_calloc((size_t)P, sizeof(tbml_status)),
                   tbml_calloc((size_t)P, 1024)};
    tbml_pool_run(x->pool, stage_task, &a);
    tbml_status st = TBML_OK;
    for (int i = 0; i < P; i++)
        if (a.st[i]) {
            st = tbml_error(a.st[i], "%s", a.msg[i]);
            break;
        }
    tbml_free(a.st);
    tbml_free(a.msg);
    x->stage++;
    sql_session_progress(x->cx->s, x->stage, x->nstages,
                         __atomic_load_n(&x->rows, __ATOMIC_RELAXED),
                         __atomic_load_n(&x->bytes, __ATOMIC_RELAXED), 0);
    return st;
}

static struct sql_rt *rt_of(sql_xc *x, sql_plan *p)
{
    if (!p->rt) {
        p->rt = tbml_calloc(1, sizeof(struct sql_rt));
        p->rt->parts = tbml_calloc((size_t)x->nparts, sizeof(sql_blist));
    }
    return p->rt;
}

/* ---- exchange ---- */
typedef struct {
    sql_sink base;
    sql_xc *x;
    sql_plan *p;
    int src;
    const tbml_batch *bounds;
    sql_blist *keep; /* range exchange, first pass: materialise */
} xsink;

static tbml_status route(xsink *s, const tbml_batch *b)
{
    sql_xc *x = s->x;
    sql_plan *p = s->p;
    sql_exchange *ex = p->rt->x;
    int P = x->nparts;
    int64_t n = b->nrows;
    if (n == 0) return TBML_OK;
    __atomic_fetch_add(&x->bytes, sql_batch_size(b), __ATOMIC_RELAXED);
    if (p->exch == EXCH_BROADCAST || p->exch == EXCH_GATHER) {
        tbml_batch *c = sql_batch_copy(b);
        return x->xb->send(ex, s->src, p->exch == EXCH_GATHER ? 0 : SQL_EXCHANGE_ALL, c);
    }
    int *dst = tbml_malloc((size_t)n * sizeof(int));
    tbml_status st = TBML_OK;
    if (p->exch == EXCH_HASH) {
        const tbml_column **kc = tbml_calloc((size_t)(p->nhkeys + 1), sizeof(*kc));
        tbml_column *tmp = tbml_calloc((size_t)(p->nhkeys + 1), sizeof(*tmp));
        int k;
        for (k = 0; k < p->nhkeys; k++)
            if ((st = sql_eval(p->hkeys[k], b, &tmp[k], &kc[k]))) break;
        if (!st) sql_spark_partition(kc, p->nhkeys, n, P, dst);
        for (int j = 0; j < k; j++)
            if (kc[j] == &tmp[j]) tbml_column_clear(&tmp[j]);
        tbml_free(kc);
        tbml_free(tmp);
    } else {
        /* range: the first bound not below the row names its partition */
        const tbml_batch *bd = s->bounds;
        for (int64_t i = 0; i < n; i++) {
            int64_t lo = 0, hi = bd->nrows;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (op_sort_cmp_rows(p, b, i, bd, mid) <= 0)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            dst[i] = (int)lo;
        }
    }
    if (!st) {
        /* counting sort of the rows by destination, then one take per destination */
        int64_t *idx = tbml_malloc((size_t)n * sizeof(int64_t));
        int64_t *start = tbml_calloc((size_t)P + 1, sizeof(int64_t));
        for (int64_t i = 0; i < n; i++)
            start[dst[i] + 1]++;
        for (int d = 0; d < P; d++)
            start[d + 1] += start[d];
        int64_t *fill = tbml_malloc((size_t)P * sizeof(int64_t));
        memcpy(fill, start, (size_t)P * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++)
            idx[fill[dst[i]]++] = i;
        for (int d = 0; d < P && !st; d++) {
            int64_t cnt = start[d + 1] - start[d];
            if (!cnt) continue;
            if (cnt == n) {
                st = x->xb->send(ex, s->src, d, sql_batch_copy(b));
                break;
            }
            st = x->xb->send(ex, s->src, d, sql_batch_take(b, idx + start[d], cnt));
        }
        tbml_free(fill);
        tbml_free(start);
        tbml_free(idx);
    }
    tbml_free(dst);
    return st;
}

static tbml_status xsink_put(sql_sink *base, tbml_batch *b, int owned)
{
    xsink *s = (xsink *)base;
    tbml_status st;
    if (s->keep) {
        sql_blist_push(s->keep, owned ? b : sql_batch_copy(b));
        return TBML_OK;
    }
    if (owned && (s->p->exch == EXCH_GATHER || s->p->exch == EXCH_BROADCAST) && b->nrows > 0) {
        __atomic_fetch_add(&s->x->bytes, sql_batch_size(b), __ATOMIC_RELAXED);
        return s->x->xb->send(s->p->rt->x, s->src, s->p->exch == EXCH_GATHER ? 0 : SQL_EXCHANGE_ALL,
                              b);
    }
    st = route(s, b);
    if (owned) tbml_batch_free(b);
    return st;
}

static tbml_status exchange_part(sql_xc *x, sql_plan *p, int part)
{
    xsink s = {{xsink_put}, x, p, part, NULL, NULL};
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    return st == SQL_STOP ? TBML_OK : st;
}

/* range exchange, pass 1: keep the child's rows; pass 2: route them by the sampled bounds */
static tbml_status range_keep_part(sql_xc *x, sql_plan *p, int part)
{
    xsink s = {{xsink_put}, x, p, part, NULL, &p->rt->parts[part]};
    tbml_status st = sql_stream(x, p->child[0], part, &s.base);
    return st == SQL_STOP ? TBML_OK : st;
}

static tbml_status range_send_part(sql_xc *x, sql_plan *p, int part)
{
    sql_blist *l = &p->rt->parts[part];
    xsink s = {{xsink_put}, x, p, part, p->rt->bounds, NULL};
    tbml_status st = TBML_OK;
    for (int64_t i = 0; i < l->n && !st; i++)
        st = route(&s, l->b[i]);
    sql_blist_clear(l);
    return st;
}

/* Every rank sends every other the same bytes (an all-gather over the sealed all-to-all);
 * bufs[r] gets rank r's (tbml_free each). */
static tbml_status allgather(sql_xc *x, const uint8_t *buf, size_t size, uint8_t **bufs,
                             size_t *sizes)
{
    const void **sb = tbml_calloc((size_t)x->size, sizeof(*sb));
    size_t *ss = tbml_calloc((size_t)x->size, sizeof(size_t));
    for (int r = 0; r < x->size; r++) {
        sb[r] = buf;
        ss[r] = size;
    }
    tbml_status st = tbml_comm_alltoallv(x->comm, sb, ss, bufs, sizes);
    tbml_free(sb);
    tbml_free(ss);
    return st;
}

/* Range exchange, distributed: each rank's bounds were sampled from its own partitions; the
 * bounds every rank routes by are cut from all ranks' bounds together, in rank order, so they
 * agree on every rank. (Equal keys still meet in one partition in source order, so the sorted
 * result does not depend on where the bounds fall.) */
static tbml_status merge_bounds(sql_xc *x, sql_plan *p, tbml_batch **bounds)
{
    uint8_t *enc;
    size_t size;
    sql_batch_encode(*bounds, &enc, &size);
    uint8_t **rb = tbml_calloc((size_t)x->size, sizeof(*rb));
    size_t *rs = tbml_calloc((size_t)x->size, sizeof(size_t));
    int nl = x->nparts > x->size ? x->nparts : x->size;
    sql_blist *l = tbml_calloc((size_t)nl, sizeof(sql_blist));
    tbml_status st = allgather(x, enc, size, rb, rs);
    for (int r = 0; r < x->size && !st; r++) {
        tbml_batch *b;
        if ((st = sql_batch_decode(rb[r], rs[r], &b))) break;
        /* decoded names and types are the sent ones: give it the plan's, as the sampler has */
        tbml_schema_clear(&b->schema);
        tbml_schema_copy(&b->schema, &p->schema);
        sql_blist_push(&l[r], b);
    }
    if (!st) {
        tbml_batch_free(*bounds);
        *bounds = op_sort_bounds(p, l, x->nparts);
    }
    for (int r = 0; r < x->size; r++) {
        tbml_free(rb[r]);
        sql_blist_clear(&l[r]);
    }
    tbml_free(l);
    tbml_free(rb);
    tbml_free(rs);
    tbml_free(enc);
    return st;
}

static tbml_status run_exchange(sql_xc *x, sql_plan *p)
{
    struct sql_rt *rt = rt_of(x, p);
    tbml_status st = x->comm ? sql_exchange_comm_open(x->comm, x->nparts, &rt->x)
                             : x->xb->open(x->nparts, x->serialize, &rt->x);
    if (st) return st;
    if (p->exch == EXCH_RANGE) {
        if ((st = run_stage(x, p, range_keep_part))) return st;
        rt->bounds = op_sort_bounds(p, rt->parts, x->nparts);
        if (x->comm && (st = merge_bounds(x, p, &rt->bounds))) return st;
        st = run_stage(x, p, range_send_part);
        tbml_batch_free(rt->bounds);
        rt->bounds = NULL;
        if (st) return st;
    } else {
        if ((st = run_stage(x, p, exchange_part))) return st;
    }
    if ((st = x->xb->finish(rt->x))) return st;
    rt->borrowed = 1;
    for (int d = 0; d < x->nparts; d++) {
        tbml_batch *const *bs;
        int64_t n;
        if ((st = x->xb->recv(rt->x, d, &bs, &n))) return st;
        sql_blist_clear(&rt->parts[d]);
        for (int64_t i = 0; i < n; i++)
            sql_blist_push(&rt->parts[d], bs[i]);
    }
    return TBML_OK;
}

/* ---- aggregate and sort stages ---- */
static tbml_status agg_part(sql_xc *x, sql_plan *p, int part)
{
    return op_agg_run(x, p, part, &p->rt->parts[part]);
}

static tbml_status sort_part(sql_xc *x, sql_plan *p, int part)
{
    return op_sort_run(x, p, part, &p->rt->parts[part]);
}

static tbml_status join_part(sql_xc *x, sql_plan *p, int part)
{
    return op_join_build(x, p, part);
}

static int count_stages(const sql_plan *p)
{
    int n = 0;
    for (int i = 0; i < p->nchild; i++)
        n += count_stages(p->child[i]);
    if (p->kind == P_EXCHANGE) n += p->exch == EXCH_RANGE ? 2 : 1;
    if (p->kind == P_AGG || p->kind == P_SORT) n++;
    if (p->kind == P_JOIN && !p->broadcast) n++;
    return n;
}

static tbml_status prepare(sql_xc *x, sql_plan *p)
{
    tbml_status st;
    for (int i = 0; i < p->nchild; i++)
        if ((st = prepare(x, p->child[i]))) return st;
    switch (p->kind) {
    case P_EXCHANGE:
        return run_exchange(x, p);
    case P_AGG:
        rt_of(x, p);
        return run_stage(x, p, agg_part);
    case P_SORT:
        rt_of(x, p);
        p->rt->ss = tbml_calloc((size_t)x->nparts, sizeof(*p->rt->ss));
        return run_stage(x, p, sort_part);
    case P_JOIN:
        rt_of(x, p);
        p->rt->njt = p->broadcast ? 1 : x->nparts;
        p->rt->jt = tbml_calloc((size_t)p->rt->njt, sizeof(*p->rt->jt));
        if (p->broadcast) return op_join_build(x, p, -1); /* one table, shared read-only */
        return run_stage(x, p, join_part);
    default:
        return TBML_OK;
    }
}

/* ---- streaming ---- */
static tbml_status emit_list(sql_blist *l, sql_sink *out)
{
    for (int64_t i = 0; i < l->n; i++) {
        tbml_status st = out->put(out, l->b[i], 0);
        if (st) return st;
    }
    return TBML_OK;
}

tbml_status sql_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out)
{
    switch (p->kind) {
    case P_SCAN:
        return op_scan_stream(x, p, part, out);
    case P_VALUES:
        return op_values_stream(x, p, part, out);
    case P_FILTER:
        return op_filter_stream(x, p, part, out);
    case P_PROJECT:
        return op_project_stream(x, p, part, out);
    case P_LIMIT:
        return op_limit_stream(x, p, part, out);
    case P_UNION:
        return op_union_stream(x, p, part, out);
    case P_JOIN:
        return op_join_stream(x, p, part, out);
    case P_SORT:
        return op_sort_stream(x, p, part, out);
    case P_AGG:
    case P_EXCHANGE:
        return emit_list(&p->rt->parts[part], out);
    }
    return tbml_error(TBML_E_INTERNAL, "unknown plan node");
}

/* ---- collecting the result ---- */
typedef struct {
    sql_sink base;
    sql_blist *l;
} csink;

static tbml_status csink_put(sql_sink *base, tbml_batch *b, int owned)
{
    csink *s = (csink *)base;
    if (b->nrows == 0) {
        if (owned) tbml_batch_free(b);
        return TBML_OK;
    }
    sql_blist_push(s->l, owned ? b : sql_batch_copy(b));
    return TBML_OK;
}

typedef struct {
    sql_xc *x;
    sql_plan *p;
    sql_blist *outs;
    tbml_status *st;
    char (*msg)[1024];
} final_arg;

static void final_task(int ith, int nth, void *arg)
{
    final_arg *a = arg;
    for (int part = ith; part < a->x->nparts; part += nth) {
        if (!sql_xc_owns(a->x, part)) continue;
        csink s = {{csink_put}, &a->outs[part]};
        tbml_status st = sql_stream(a->x, a->p, part, &s.base);
        if (st < 0) {
            a->st[part] = st;
            snprintf(a->msg[part], sizeof(a->msg[part]), "%s", tbml_errmsg());
            return;
        }
    }
}

/* Distributed: every rank's result batches, tagged with their partition, go to rank 0, which
 * broadcasts the lot back; each rank then holds the whole result in partition order. Stream:
 * records of u32 partition, u64 size, encoded batch. */
static void put_bytes(uint8_t **buf, size_t *n, size_t *cap, const void *p, size_t k)
{
    if (*n + k > *cap) {
        *cap = (*n + k) * 2 + 256;
        *buf = tbml_realloc(*buf, *cap);
    }
    memcpy(*buf + *n, p, k);
    *n += k;
}

static tbml_status gather_result(sql_xc *x, sql_blist *outs)
{
    uint8_t *buf = NULL, *all = NULL;
    size_t n = 0, cap = 0, alln = 0;
    for (int part = 0; part < x->nparts; part++) {
        if (!sql_xc_owns(x, part)) continue;
        for (int64_t i = 0; i < outs[part].n; i++) {
            uint8_t *enc;
            size_t size;
            sql_batch_encode(outs[part].b[i], &enc, &size);
            uint8_t h[12];
            for (int k = 0; k < 4; k++)
                h[k] = (uint8_t)((uint32_t)part >> (8 * k));
            for (int k = 0; k < 8; k++)
                h[4 + k] = (uint8_t)((uint64_t)size >> (8 * k));
            put_bytes(&buf, &n, &cap, h, 12);
            put_bytes(&buf, &n, &cap, enc, size);
            tbml_free(enc);
        }
        sql_blist_clear(&outs[part]);
    }
    uint8_t **rb = tbml_calloc((size_t)x->size, sizeof(*rb));
    size_t *rs = tbml_calloc((size_t)x->size, sizeof(size_t));
    tbml_status st = tbml_comm_gather(x->comm, 0, buf, n, rb, rs);
    if (!st && x->rank == 0) {
        cap = 0;
        for (int r = 0; r < x->size; r++)
            if (rs[r]) put_bytes(&all, &alln, &cap, rb[r], rs[r]);
    }
    if (x->rank == 0)
        for (int r = 0; r < x->size; r++)
            tbml_free(rb[r]);
    tbml_free(rb);
    tbml_free(rs);
    tbml_free(buf);
    if (!st) st = tbml_comm_bcast_alloc(x->comm, 0, &all, &alln);
    for (size_t o = 0; !st && o < alln;) {
        if (alln - o < 12) {
            st = tbml_error(TBML_E_FORMAT, "sql: truncated result stream");
            break;
        }
        uint32_t part = 0;
        uint64_t size = 0;
        for (int k = 0; k < 4; k++)
            part |= (uint32_t)all[o + (size_t)k] << (8 * k);
        for (int k = 0; k < 8; k++)
            size |= (uint64_t)all[o + 4 + (size_t)k] << (8 * k);
        o += 12;
        if (part >= (uint32_t)x->nparts || size > alln - o) {
            st = tbml_error(TBML_E_FORMAT, "sql: bad record in the result stream");
            break;
        }
        tbml_batch *b;
        if ((st = sql_batch_decode(all + o, (size_t)size, &b))) break;
        sql_blist_push(&outs[part], b);
        o += (size_t)size;
    }
    tbml_free(all);
    return st;
}

static void free_rt(sql_xc *x, sql_plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->nchild; i++)
        free_rt(x, p->child[i]);
    struct sql_rt *rt = p->rt;
    if (!rt) return;
    if (p->kind == P_JOIN) op_join_free(rt);
    if (p->kind == P_SORT) op_sort_free(x, rt);
    for (int i = 0; i < x->nparts; i++) {
        if (rt->borrowed) {
            tbml_free(rt->parts[i].b);
        } else {
            sql_blist_clear(&rt->parts[i]);
        }
    }
    tbml_free(rt->parts);
    if (rt->x) x->xb->close(rt->x);
    tbml_free(rt);
    p->rt = NULL;
}

tbml_status sql_exec(sql_ctx *cx, sql_plan *p, tbml_table **out)
{
    sql_xc x;
    memset(&x, 0, sizeof(x));
    x.cx = cx;
    pthread_mutex_init(&x.scratch_mu, NULL);
    x.pool = sql_session_pool(cx->s);
    x.nparts = sql_session_partitions(cx->s);
    x.serialize = sql_session_serialize(cx->s);
    x.xb = sql_session_exchange(cx->s);
    if (!x.xb) x.xb = &sql_exchange_local;
    x.comm = sql_session_comm(cx->s);
    x.rank = x.comm ? tbml_comm_rank(x.comm) : 0;
    x.size = x.comm ? tbml_comm_size(x.comm) : 1;
    if (x.size == 1) x.comm = NULL; /* one rank: the local backend is the same and faster */
    if (x.comm) x.xb = &sql_exchange_comm;
    x.nstages = count_stages(p) + 1;
    tbml_status st = sql_scan_prepare(&x, p);
    if (!st) st = prepare(&x, p);
    sql_blist *outs = tbml_calloc((size_t)x.nparts, sizeof(sql_blist));
    if (!st) {
        final_arg a = {&x, p, outs, tbml_calloc((size_t)x.nparts, sizeof(tbml_status)),
                       tbml_calloc((size_t)x.nparts, 1024)};
        tbml_pool_run(x.pool, final_task, &a);
        for (int i = 0; i < x.nparts; i++)
            if (a.st[i]) {
                st = tbml_error(a.st[i], "%s", a.msg[i]);
                break;
            }
        tbml_free(a.st);
        tbml_free(a.msg);
    }
    if (!st && x.comm) st = gather_result(&x, outs);
    if (!st) {
        tbml_table *t = tbml_table_new(&p->schema);
        int64_t rows = 0;
        for (int i = 0; i < x.nparts; i++) {
            for (int64_t k = 0; k < outs[i].n; k++) {
                tbml_batch *b = outs[i].b[k];
                /* result batches carry the plan's names and types, placeholders never reach here */
                tbml_schema_clear(&b->schema);
                tbml_schema_copy(&b->schema, &p->schema);
                rows += b->nrows;
                tbml_table_append(t, b);
            }
            tbml_free(outs[i].b);
            memset(&outs[i], 0, sizeof(outs[i]));
        }
        x.stage = x.nstages;
        sql_session_progress(cx->s, x.stage, x.nstages, rows,
                             __atomic_load_n(&x.bytes, __ATOMIC_RELAXED), 1);
        *out = t;
    }
    for (int i = 0; i < x.nparts; i++)
        sql_blist_clear(&outs[i]);
    tbml_free(outs);
    free_rt(&x, p);
    /* the spill files were unnamed and are closed; this removes the folder and the key */
    tbml_scratch_free(x.scratch);
    pthread_mutex_destroy(&x.scratch_mu);
    return st;
}
