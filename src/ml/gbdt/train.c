/* Training: the boosting loop and depth-wise tree growth on gradient histograms, following
 * XGBoost 1.7's `hist` updater (gain, min_child_weight, gamma, learned default directions, and
 * float rounding of gains and leaf weights in the same places), so that the same parameters on
 * the same data give the same trees when every feature has at most max_bin distinct values.
 *
 * Per level: choose each open node's best split from its histogram; partition the node's rows
 * (a stable, parallel partition of one row-index array, so every node owns a contiguous range in
 * ascending row order); build the histogram of each smaller child; get the larger sibling by
 * subtracting from the parent. */
#include "gbdt_internal.h"

#include <math.h>
#include <string.h>

#define RT_EPS 1e-6 /* XGBoost's kRtEps: a split must gain more than this */

typedef struct {
    int id; /* node id in the tree */
    int64_t begin, end;
    double G, H;
    gbdt_hslot *hist; /* NULL at the last level */
    /* best split, when split */
    int split, feature, bin, default_left;
    float gain;
    double GL, HL;
} open_node;

typedef struct {
    const tbml_gbdt_params *p;
    const tbml_gbdt_matrix *m;
    tbml_pool_t *pool;
    const tbml_gbdt_train_opts *opts;
    gbdt_cuts cuts;
    gbdt_binned bins;
    uint32_t *rows, *tmp, *tmp2; /* nrows each; rows[0..nsample) are the tree's rows */
    int64_t nsample;
    uint8_t *in_sample; /* nrows; NULL when subsample == 1 */
    gbdt_gpair *gpair;  /* nrows */
    float *margin;      /* nrows */
    uint8_t *feat_on;   /* nfeatures, this tree's colsample */
    gbdt_hist_scratch scratch;
    /* the tree being grown */
    tbml_gbdt_node *nodes;
    int *node_bin;
    int nnodes, cap_nodes;
    open_node *leaves; /* nodes that ended as leaves, with their row ranges */
    int nleaves, cap_leaves;
} trainer;

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* XGBoost's CalcGainGivenWeight with alpha = 0 and no max_delta_step, rounded to float as it. */
static float calc_gain(const tbml_gbdt_params *p, double G, double H)
{
    if (H <= 0) return 0.0f;
    return (float)(G * G / (H + p->lambda));
}

/* XGBoost's CalcWeight: -G / (H + lambda), 0 below min_child_weight. */
static double calc_weight(const tbml_gbdt_params *p, double G, double H)
{
    if (H < p->min_child_weight || H <= 0) return 0.0;
    return -G / (H + p->lambda);
}

static int add_node(trainer *t)
{
    if (t->nnodes == t->cap_nodes) {
        t->cap_nodes = t->cap_nodes ? 2 * t->cap_nodes : 64;
        t->nodes = tbml_realloc(t->nodes, sizeof(*t->nodes) * (size_t)t->cap_nodes);
        t->node_bin = tbml_realloc(t->node_bin, sizeof(int) * (size_t)t->cap_nodes);
    }
    int id = t->nnodes++;
    memset(&t->nodes[id], 0, sizeof(t->nodes[id]));
    t->nodes[id].left = t->nodes[id].right = -1;
    t->node_bin[id] = 0;
    return id;
}

static void add_leaf(trainer *t, const open_node *n)
{
    if (t->nleaves == t->cap_leaves) {
        t->cap_leaves = t->cap_leaves ? 2 * t->cap_leaves : 64;
        t->leaves = tbml_realloc(t->leaves, sizeof(*t->leaves) * (size_t)t->cap_leaves);
    }
    t->leaves[t->nleaves++] = *n;
}

/* ---- gradients ----------------------------------------------------------------------------- */

struct grad_task {
    trainer *t;
    double sums[2 * 1024]; /* per thread G, H over the sampled rows */
};

static void grad_worker(int ith, int nth, void *p)
{
    struct grad_task *gt = p;
    trainer *t = gt->t;
    int64_t n = t->m->nrows, a = n * ith / nth, z = n * (ith + 1) / nth;
    const float *y = t->m->y;
    double G = 0, H = 0;
    for (int64_t r = a; r < z; r++) {
        float g, h;
        if (t->p->objective == TBML_GBDT_BINARY_LOGISTIC) {
            float pr = 1.0f / (1.0f + expf(-t->margin[r]));
            g = pr - y[r];
            h = fmaxf(pr * (1.0f - pr), 1e-16f);
        } else {
            g = t->margin[r] - y[r];
            h = 1.0f;
        }
        if (t->in_sample && !t->in_sample[r]) g = h = 0.0f;
        t->gpair[r].g = g;
        t->gpair[r].h = h;
        G += g;
        H += h;
    }
    gt->sums[2 * ith] = G;
    gt->sums[2 * ith + 1] = H;
}

/* ---- split finding ------------------------------------------------------------------------- */

/* Best split of n over the features this tree may use, as XGBoost's EnumerateSplit: a forward
 * scan sends missing values right; a backward scan, done only when the node has missing values
 * for the feature, sends them left. Ties keep the earlier candidate. */
static void find_split(trainer *t, open_node *n)
{
    const tbml_gbdt_params *p = t->p;
    const gbdt_binned *b = &t->bins;
    const double mcw = p->min_child_weight;
    float parent_gain = calc_gain(p, n->G, n->H);
    float best = 0.0f;
    n->split = 0;
    for (int f = 0; f < b->nfeatures; f++) {
        if (!t->feat_on[f]) continue;
        const gbdt_hslot *hs = n->hist + b->slot_ptr[f];
        int nb = (int)(b->slot_ptr[f + 1] - b->slot_ptr[f]) - 1;
        double GL = 0, HL = 0;
        for (int i = 0; i < nb; i++) {
            GL += hs[i].g;
            HL += hs[i].h;
            if (HL < mcw) continue;
            double GR = n->G - GL, HR = n->H - HL;
            if (HR < mcw) continue;
            float loss = calc_gain(p, GL, HL) + calc_gain(p, GR, HR) - parent_gain;
            if (loss > best) {
                best = loss;
                n->split = 1, n->feature = f, n->bin = i, n->default_left = 0;
                n->GL = GL, n->HL = HL;
            }
        }
        if (hs[nb].h == 0.0 && hs[nb].g == 0.0) continue; /* no missing values here */
        double GR = 0, HR = 0;
        for (int i = nb - 1; i >= 0; i--) {
            GR += hs[i].g;
            HR += hs[i].h;
            if (HR < mcw) continue;
            double GLb = n->G - GR, HLb = n->H - HR;
            if (HLb < mcw) continue;
            float loss = calc_gain(p, GLb, HLb) + calc_gain(p, GR, HR) - parent_gain;
            if (loss > best) {
                best = loss;
                n->split = 1, n->feature = f, n->bin = i - 1, n->default_left = 1;
                n->GL = GLb, n->HL = HLb;
            }
        }
    }
    /* XGBoost's CPUExpandEntry::IsValid */
    if (n->split && (best <= RT_EPS || n->HL == 0.0 || n->H - n->HL == 0.0 || best < p->gamma))
        n->split = 0;
    n->gain = best;
}

/* ---- partition ----------------------------------------------------------------------------- */

struct part_task {
    trainer *t;
    open_node *splits;
    int nsplit;
    int64_t *nleft; /* nsplit * nth */
};

static void chunk(int64_t begin, int64_t end, int ith, int nth, int64_t *a, int64_t *z)
{
    int64_t n = end - begin;
    *a = begin + n * ith / nth;
    *z = begin + n * (ith + 1) / nth;
}

/* One read of the bins per row: each thread splits its chunk [a, z) into lefts at tmp[a..) and
 * rights at tmp2[a..), both in row order. */
static void split_worker(int ith, int nth, void *p)
{
    struct part_task *pt = p;
    trainer *t = pt->t;
    const gbdt_binned *b = &t->bins;
    for (int s = 0; s < pt->nsplit; s++) {
        const open_node *n = &pt->splits[s];
        int64_t a, z, l = 0, r = 0;
        chunk(n->begin, n->end, ith, nth, &a, &z);
        const uint16_t *col = b->cols + (size_t)n->feature * (size_t)b->nrows;
        const int nb = (int)(b->slot_ptr[n->feature + 1] - b->slot_ptr[n->feature]) - 1;
        const int split_bin = n->bin, dl = n->default_left;
        uint32_t *lo = t->tmp + a, *hi = t->tmp2 + a;
        for (int64_t i = a; i < z; i++) {
            uint32_t row = t->rows[i];
            if (i + 16 < z) __builtin_prefetch(col + t->rows[i + 16]);
            int bin = col[row];
            int left = bin == nb ? dl : bin <= split_bin;
            /* branch-free: write to both, advance one */
            lo[l] = row;
            hi[r] = row;
            l += left;
            r += !left;
        }
        pt->nleft[s * nth + ith] = l;
    }
}

/* Moves each thread's lefts and rights into place: lefts of all threads in thread order,
 * then rights, which keeps the node's rows in ascending order on both sides. */
static void place_worker(int ith, int nth, void *p)
{
    struct part_task *pt = p;
    trainer *t = pt->t;
    for (int s = 0; s < pt->nsplit; s++) {
        const open_node *n = &pt->splits[s];
        int64_t L = 0, lbefore = 0, rbefore = 0;
        for (int k = 0; k < nth; k++) {
            int64_t a, z;
            chunk(n->begin, n->end, k, nth, &a, &z);
            if (k < ith) {
                lbefore += pt->nleft[s * nth + k];
                rbefore += (z - a) - pt->nleft[s * nth + k];
            }
            L += pt->nleft[s * nth + k];
        }
        int64_t a, z, nl = pt->nleft[s * nth + ith];
        chunk(n->begin, n->end, ith, nth, &a, &z);
        memcpy(t->rows + n->begin + lbefore, t->tmp + a, sizeof(uint32_t) * (size_t)nl);
        memcpy(t->rows + n->begin + L + rbefore, t->tmp2 + a,
               sizeof(uint32_t) * (size_t)(z - a - nl));
    }
}

/* Partitions each split node's rows stably; returns each one's left count in nleft_total. */
static void partition(trainer *t, open_node *splits, int nsplit, int64_t *nleft_total)
{
    int nth = tbml_pool_size(t->pool);
    struct part_task pt = {t, splits, nsplit, NULL};
    pt.nleft = tbml_malloc(sizeof(int64_t) * (size_t)nsplit * (size_t)nth);
    tbml_pool_run(t->pool, split_worker, &pt);
    tbml_pool_run(t->pool, place_worker, &pt);
    for (int s = 0; s < nsplit; s++) {
        int64_t L = 0;
        for (int k = 0; k < nth; k++)
            L += pt.nleft[s * nth + k];
        nleft_total[s] = L;
    }
    tbml_free(pt.nleft);
}

/* ---- applying a finished tree to the margins ----------------------------------------------- */

static void apply_worker(int ith, int nth, void *p)
{
    trainer *t = p;
    /* rows that grew the tree: add their leaf's value */
    for (int l = 0; l < t->nleaves; l++) {
        int64_t a, z;
        chunk(t->leaves[l].begin, t->leaves[l].end, ith, nth, &a, &z);
        float v = t->nodes[t->leaves[l].id].value;
        for (int64_t i = a; i < z; i++)
            t->margin[t->rows[i]] += v;
    }
    if (!t->in_sample) return;
    /* rows left out by subsample: walk the tree on their bins */
    int64_t a, z;
    chunk(0, t->m->nrows, ith, nth, &a, &z);
    const gbdt_binned *b = &t->bins;
    for (int64_t r = a; r < z; r++) {
        if (t->in_sample[r]) continue;
        int id = 0;
        while (t->nodes[id].left >= 0) {
            int f = t->nodes[id].feature;
            int bin = (int)gbdt_bin(b, r, f);
            int nb = (int)(b->slot_ptr[f + 1] - b->slot_ptr[f]) - 1;
            int left = bin == nb ? t->nodes[id].default_left : bin <= t->node_bin[id];
            id = left ? t->nodes[id].left : t->nodes[id].right;
        }
        t->margin[r] += t->nodes[id].value;
    }
}

/* ---- one tree ------------------------------------------------------------------------------ */

static void set_leaf(trainer *t, open_node *n)
{
    /* XGBoost rounds the weight to float before scaling by eta */
    float w = (float)calc_weight(t->p, n->G, n->H);
    t->nodes[n->id].value = w * (float)t->p->eta;
    add_leaf(t, n);
}

static tbml_status grow_tree(trainer *t, int round, double G, double H)
{
    tbml_status ret = TBML_OK;
    const tbml_gbdt_params *p = t->p;
    size_t nslots = t->bins.nslots;
    open_node *level = tbml_malloc(sizeof(open_node)), *next = NULL, *splits = NULL;
    gbdt_hslot *hcur = NULL, *hnext = NULL;
    int64_t *nleft = NULL;
    int nlevel = 1;

    t->nnodes = 0;
    t->nleaves = 0;
    memset(level, 0, sizeof(open_node));
    level[0].id = add_node(t);
    level[0].begin = 0;
    level[0].end = t->nsample;
    level[0].G = G;
    level[0].H = H;
    if (p->max_depth > 0) {
        hcur = tbml_malloc(sizeof(gbdt_hslot) * nslots);
        level[0].hist = hcur;
        gbdt_hist_job job = {0, t->nsample, hcur};
        if (gbdt_hist_build(&t->bins, t->rows, t->gpair, &job, 1, t->pool, &t->scratch,
                            t->opts->allreduce, t->opts->allreduce_ctx)) {
            ret = tbml_error(TBML_E_NET, "round %d: histogram allreduce failed", round);
            goto out;
        }
    }

    for (int depth = 0; nlevel > 0; depth++) {
        int nsplit = 0;
        splits = tbml_realloc(splits, sizeof(open_node) * (size_t)nlevel);
        for (int i = 0; i < nlevel; i++) {
            open_node *n = &level[i];
            tbml_gbdt_node *tn = &t->nodes[n->id];
            tn->cover = (float)n->H;
            n->split = 0;
            if (depth < p->max_depth && n->hist) find_split(t, n);
            if (!n->split) {
                set_leaf(t, n);
                continue;
            }
            tn->feature = n->feature;
            tn->default_left = n->default_left;
            tn->gain = n->gain;
            tn->threshold = n->bin >= 0
                                ? t->cuts.cuts[t->cuts.cut_ptr[n->feature] + (uint32_t)n->bin]
                                : t->cuts.mins[n->feature];
            t->node_bin[n->id] = n->bin;
            /* an internal node's value is its weight, as XGBoost keeps base_weight */
            tn->value = (float)calc_weight(p, n->G, n->H) * (float)p->eta;
            splits[nsplit++] = *n;
        }
        if (nsplit == 0) break;

        nleft = tbml_realloc(nleft, sizeof(int64_t) * (size_t)nsplit);
        partition(t, splits, nsplit, nleft);
        next = tbml_realloc(next, sizeof(open_node) * (size_t)nsplit * 2);
        int need_hist = depth + 1 < p->max_depth;
        if (need_hist)
            hnext = tbml_realloc(hnext, sizeof(gbdt_hslot) * nslots * (size_t)nsplit * 2);
        gbdt_hist_job *jobs =
            need_hist ? tbml_malloc(sizeof(gbdt_hist_job) * (size_t)nsplit) : NULL;
        for (int s = 0; s < nsplit; s++) {
            open_node *sp = &splits[s], *l = &next[2 * s], *r = &next[2 * s + 1];
            memset(l, 0, sizeof(*l));
            memset(r, 0, sizeof(*r));
            int lid = add_node(t), rid = add_node(t);
            t->nodes[sp->id].left = lid;
            t->nodes[sp->id].right = rid;
            l->id = lid, r->id = rid;
            l->begin = sp->begin, l->end = sp->begin + nleft[s];
            r->begin = l->end, r->end = sp->end;
            l->G = sp->GL, l->H = sp->HL;
            r->G = sp->G - sp->GL, r->H = sp->H - sp->HL;
            if (need_hist) {
                /* build the child with less hessian (the same choice on every worker), the
                 * other is parent minus it; built ones first so they are contiguous */
                open_node *small = l->H <= r->H ? l : r, *large = small == l ? r : l;
                small->hist = hnext + nslots * (size_t)s;
                large->hist = hnext + nslots * (size_t)(nsplit + s);
                jobs[s].begin = small->begin;
                jobs[s].end = small->end;
                jobs[s].hist = small->hist;
            }
        }
        if (need_hist) {
            int bad = gbdt_hist_build(&t->bins, t->rows, t->gpair, jobs, nsplit, t->pool,
                                      &t->scratch, t->opts->allreduce, t->opts->allreduce_ctx);
            tbml_free(jobs);
            if (bad) {
                ret = tbml_error(TBML_E_NET, "round %d: histogram allreduce failed", round);
                goto out;
            }
            for (int s = 0; s < nsplit; s++) {
                open_node *l = &next[2 * s], *r = &next[2 * s + 1];
                const gbdt_hslot *par = splits[s].hist;
                gbdt_hslot *small = l->hist < r->hist ? l->hist : r->hist;
                gbdt_hslot *large = small == l->hist ? r->hist : l->hist;
                for (size_t k = 0; k < nslots; k++) {
                    large[k].g = par[k].g - small[k].g;
                    large[k].h = par[k].h - small[k].h;
                }
            }
            /* the parents' histograms are no longer needed: swap buffers */
            gbdt_hslot *tmp = hcur;
            hcur = hnext;
            hnext = tmp;
        }
        open_node *tmpl = level;
        level = next;
        next = tmpl;
        nlevel = 2 * nsplit;
    }

    tbml_pool_run(t->pool, apply_worker, t);
out:
    tbml_free(level);
    tbml_free(next);
    tbml_free(splits);
    tbml_free(hcur);
    tbml_free(hnext);
    tbml_free(nleft);
    return ret;
}

/* ---- the boosting loop --------------------------------------------------------------------- */

static void model_append_tree(tbml_gbdt_model_t *m, const trainer *t)
{
    int64_t base = m->tree_ptr[m->ntrees];
    m->tree_ptr = tbml_realloc(m->tree_ptr, sizeof(int64_t) * ((size_t)m->ntrees + 2));
    m->nodes = tbml_realloc(m->nodes, sizeof(tbml_gbdt_node) * (size_t)(base + t->nnodes));
    memcpy(m->nodes + base, t->nodes, sizeof(tbml_gbdt_node) * (size_t)t->nnodes);
    m->ntrees++;
    m->tree_ptr[m->ntrees] = base + t->nnodes;
}

static void sample_tree(trainer *t, int round)
{
    const tbml_gbdt_params *p = t->p;
    int nf = t->m->nfeatures;
    uint64_t key = mix64(p->seed * 0x9e3779b97f4a7c15ull + (uint64_t)round + 1);
    /* colsample_bytree: max(1, floor(fraction * features)) features, chosen by a shuffle */
    int keep = (int)(p->colsample_bytree * nf);
    if (keep < 1) keep = 1;
    if (keep >= nf) {
        memset(t->feat_on, 1, (size_t)nf);
    } else {
        int *perm = tbml_malloc(sizeof(int) * (size_t)nf);
        for (int f = 0; f < nf; f++)
            perm[f] = f;
        uint64_t s = key ^ 0x636f6c73ull;
        for (int f = nf - 1; f > 0; f--) {
            s = mix64(s + 0x9e3779b97f4a7c15ull);
            int j = (int)(s % (uint64_t)(f + 1));
            int tmp = perm[f];
            perm[f] = perm[j];
            perm[j] = tmp;
        }
        memset(t->feat_on, 0, (size_t)nf);
        for (int k = 0; k < keep; k++)
            t->feat_on[perm[k]] = 1;
        tbml_free(perm);
    }
    /* subsample: each row independently, from a hash of (seed, round, row), so the sample does
     * not depend on the thread count */
    if (!t->in_sample) {
        t->nsample = t->m->nrows;
        for (int64_t r = 0; r < t->m->nrows; r++)
            t->rows[r] = (uint32_t)r;
        return;
    }
    uint64_t limit = (uint64_t)(p->subsample * 18446744073709551615.0);
    int64_t k = 0;
    for (int64_t r = 0; r < t->m->nrows; r++) {
        int in = mix64(key + (uint64_t)r * 0x9e3779b97f4a7c15ull) <= limit;
        t->in_sample[r] = (uint8_t)in;
        if (in) t->rows[k++] = (uint32_t)r;
    }
    t->nsample = k;
}

static double train_metric(const trainer *t)
{
    double s = 0;
    const float *y = t->m->y;
    for (int64_t r = 0; r < t->m->nrows; r++) {
        if (t->p->objective == TBML_GBDT_BINARY_LOGISTIC) {
            double pr = 1.0 / (1.0 + exp(-(double)t->margin[r]));
            pr = fmin(fmax(pr, 1e-16), 1 - 1e-16);
            s -= y[r] * log(pr) + (1 - y[r]) * log(1 - pr);
        } else {
            double d = t->margin[r] - y[r];
            s += d * d;
        }
    }
    s /= (double)t->m->nrows;
    return t->p->objective == TBML_GBDT_BINARY_LOGISTIC ? s : sqrt(s);
}

/* Takes over the trees of a checkpoint (opts->resume_from) and adds them to the margins as
 * apply_worker did, tree after tree in float, reaching each row's leaf by its values as predict
 * does (the same leaf the trainer's bin walk reached: tests check predict against the tracked
 * margins). */
static tbml_status resume_trees(tbml_gbdt_model_t *model, const tbml_gbdt_model_t *from, trainer *t)
{
    const tbml_gbdt_params *p = t->p, *q = &from->params;
    if (from->nfeatures != t->m->nfeatures || from->ntrees > p->num_round ||
        q->objective != p->objective || q->max_depth != p->max_depth || q->eta != p->eta ||
        q->min_child_weight != p->min_child_weight || q->lambda != p->lambda ||
        q->gamma != p->gamma || q->subsample != p->subsample ||
        q->colsample_bytree != p->colsample_bytree || q->max_bin != p->max_bin ||
        q->seed != p->seed || q->base_score != p->base_score)
        return tbml_error(TBML_E_ARG,
                          "gbdt: the checkpoint's model (%d trees on %d features) was trained "
                          "with other parameters or data; resume with the same ones",
                          from->ntrees, from->nfeatures);
    int64_t nn = from->tree_ptr[from->ntrees];
    model->tree_ptr = tbml_realloc(model->tree_ptr, sizeof(int64_t) * ((size_t)from->ntrees + 1));
    memcpy(model->tree_ptr, from->tree_ptr, sizeof(int64_t) * ((size_t)from->ntrees + 1));
    model->nodes = tbml_realloc(model->nodes, sizeof(tbml_gbdt_node) * (size_t)(nn + 1));
    memcpy(model->nodes, from->nodes, sizeof(tbml_gbdt_node) * (size_t)nn);
    model->ntrees = from->ntrees;
    const tbml_gbdt_matrix *m = t->m;
    for (int64_t r = 0; r < m->nrows; r++) {
        const float *xr = m->x + r * m->nfeatures;
        for (int k = 0; k < model->ntrees; k++) {
            const tbml_gbdt_node *nodes = model->nodes + model->tree_ptr[k];
            int id = 0;
            while (nodes[id].left >= 0) {
                float v = xr[nodes[id].feature];
                int left = isnan(v) ? nodes[id].default_left : v < nodes[id].threshold;
                id = left ? nodes[id].left : nodes[id].right;
            }
            t->margin[r] += nodes[id].value;
        }
    }
    return TBML_OK;
}

tbml_status tbml_gbdt_train(const tbml_gbdt_params *params, const tbml_gbdt_matrix *m,
                            const tbml_gbdt_train_opts *opts, tbml_gbdt_model_t **out)
{
    tbml_status ret;
    tbml_gbdt_train_opts noopts = {0};
    tbml_pool_t *own_pool = NULL;
    tbml_gbdt_model_t *model = NULL;
    trainer t;
    memset(&t, 0, sizeof(t));
    if (!opts) opts = &noopts;
    if ((ret = tbml_gbdt_params_check(params))) return ret;
    if (m->nrows <= 0 || m->nfeatures <= 0)
        return tbml_error(TBML_E_ARG, "gbdt: no training data (%lld rows, %d features)",
                          (long long)m->nrows, m->nfeatures);
    if (m->nrows > (int64_t)UINT32_MAX)
        return tbml_error(TBML_E_UNSUPPORTED, "gbdt: %lld rows is over the limit of 2^32 - 1",
                          (long long)m->nrows);
    for (int64_t r = 0; r < m->nrows; r++) {
        float y = m->y[r];
        if (!isfinite(y))
            return tbml_error(TBML_E_ARG, "gbdt: label of row %lld is not a finite number",
                              (long long)r + 1);
        if (params->objective == TBML_GBDT_BINARY_LOGISTIC && (y < 0.0f || y > 1.0f))
            return tbml_error(TBML_E_ARG,
                              "gbdt: binary:logistic needs labels in [0, 1], row %lld has %g",
                              (long long)r + 1, (double)y);
    }
    if (!opts->pool) {
        if ((ret = tbml_pool_create(params->nthread, &own_pool))) return ret;
    }
    t.p = params;
    t.m = m;
    t.pool = opts->pool ? opts->pool : own_pool;
    t.opts = opts;
    if (opts->cuts_from && opts->cuts_from->nfeatures != m->nfeatures) {
        ret = tbml_error(TBML_E_ARG, "gbdt: cuts_from has %d features, the data %d",
                         opts->cuts_from->nfeatures, m->nfeatures);
        goto out;
    }
    if ((ret = gbdt_cuts_build(opts->cuts_from ? opts->cuts_from : m, params->max_bin, t.pool,
                               &t.cuts)))
        goto out;
    gbdt_binned_build(m, &t.cuts, t.pool, &t.bins);
    t.rows = tbml_malloc(sizeof(uint32_t) * (size_t)m->nrows);
    t.tmp = tbml_malloc(sizeof(uint32_t) * (size_t)m->nrows);
    t.tmp2 = tbml_malloc(sizeof(uint32_t) * (size_t)m->nrows);
    t.gpair = tbml_malloc(sizeof(gbdt_gpair) * (size_t)m->nrows);
    t.margin = tbml_malloc(sizeof(float) * (size_t)m->nrows);
    t.feat_on = tbml_malloc((size_t)m->nfeatures);
    if (params->subsample < 1.0) t.in_sample = tbml_malloc((size_t)m->nrows);

    model = tbml_calloc(1, sizeof(*model));
    model->params = *params;
    model->nfeatures = m->nfeatures;
    model->base_margin = params->objective == TBML_GBDT_BINARY_LOGISTIC
                             ? log(params->base_score / (1.0 - params->base_score))
                             : params->base_score;
    model->tree_ptr = tbml_calloc(1, sizeof(int64_t));
    model->feature_names = gbdt_names_dup(m->feature_names, m->nfeatures);
    if (m->label_name) model->label_name = tbml_strdup(m->label_name);
    for (int64_t r = 0; r < m->nrows; r++)
        t.margin[r] = (float)model->base_margin;

    int first_round = 0;
    if (opts->resume_from) {
        if ((ret = resume_trees(model, opts->resume_from, &t))) goto out;
        first_round = model->ntrees;
    }
    for (int round = first_round; round < params->num_round; round++) {
        sample_tree(&t, round);
        struct grad_task *gt = tbml_malloc(sizeof(*gt));
        gt->t = &t;
        tbml_pool_run(t.pool, grad_worker, gt);
        double GH[2] = {0, 0};
        for (int k = 0; k < tbml_pool_size(t.pool); k++) {
            GH[0] += gt->sums[2 * k];
            GH[1] += gt->sums[2 * k + 1];
        }
        tbml_free(gt);
        if (opts->allreduce && opts->allreduce(opts->allreduce_ctx, GH, 2) != 0) {
            ret = tbml_error(TBML_E_NET, "round %d: gradient sum allreduce failed", round);
            goto out;
        }
        if ((ret = grow_tree(&t, round, GH[0], GH[1]))) goto out;
        model_append_tree(model, &t);
        if (opts->verbose)
            TBML_LOG_I("[%d]\ttrain-%s:%.6f", round,
                       params->objective == TBML_GBDT_BINARY_LOGISTIC ? "logloss" : "rmse",
                       train_metric(&t));
        if (opts->checkpoint && opts->checkpoint_every > 0 &&
            (round + 1) % opts->checkpoint_every == 0 && round + 1 < params->num_round &&
            (ret = opts->checkpoint(model, opts->checkpoint_arg)))
            goto out;
    }
    if (opts->train_margin_out)
        for (int64_t r = 0; r < m->nrows; r++)
            opts->train_margin_out[r] = t.margin[r];
    *out = model;
    model = NULL;
out:
    tbml_gbdt_free(model);
    gbdt_cuts_clear(&t.cuts);
    gbdt_binned_clear(&t.bins);
    gbdt_hist_scratch_clear(&t.scratch);
    tbml_free(t.rows);
    tbml_free(t.tmp);
    tbml_free(t.tmp2);
    tbml_free(t.gpair);
    tbml_free(t.margin);
    tbml_free(t.feat_on);
    tbml_free(t.in_sample);
    tbml_free(t.nodes);
    tbml_free(t.node_bin);
    tbml_free(t.leaves);
    tbml_pool_free(own_pool);
    return ret;
}
