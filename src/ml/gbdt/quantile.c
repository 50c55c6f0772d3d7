/* Quantile cuts and binning: each feature's values are cut once, before training, into at most
 * max_bin bins, as XGBoost's `hist` method does. With few distinct values every value gets its
 * own bin (so splits are exact); otherwise cuts sit at evenly spaced ranks of the sorted values,
 * taken from a seeded sample of rows when there are many. */
#include "gbdt_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows beyond this are sampled for the cuts: rank error about 1/sqrt(n) of a bin's mass at
 * 256 bins, far inside what XGBoost's own sketch allows, at a fraction of sorting everything. */
#define SKETCH_MAX_ROWS 262144

/* Sorts n non-NaN floats in O(n): LSD radix sort, three 11-bit digits, on keys whose unsigned
 * order is the floats' order (flip all bits of negatives, the sign bit of the rest). tmp has n
 * entries. -0.0 sorts before +0.0, which only decides which of two equal values comes first. */
static void sort_floats(float *v, uint32_t *tmp, int64_t n)
{
    uint32_t *k = (uint32_t *)v;
    for (int64_t i = 0; i < n; i++)
        k[i] = (k[i] & 0x80000000u) ? ~k[i] : k[i] | 0x80000000u;
    uint32_t *src = k, *dst = tmp;
    for (int pass = 0; pass < 3; pass++) {
        int shift = 11 * pass;
        int64_t count[2048] = {0};
        for (int64_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 2047]++;
        int64_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            int64_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 2047]++] = src[i];
        uint32_t *sw = src;
        src = dst;
        dst = sw;
    }
    /* three passes: the result is in tmp */
    for (int64_t i = 0; i < n; i++)
        k[i] = (src[i] & 0x80000000u) ? src[i] & 0x7fffffffu : ~src[i];
}

struct cuts_task {
    const tbml_gbdt_matrix *m;
    const int64_t *sample; /* nsample row ids, or NULL for all rows */
    int64_t nsample;
    float *colmajor; /* the sampled rows, feature by feature: nfeatures * n */
    int max_bin;
    float **fcuts; /* per feature, malloc'd */
    uint32_t *ncuts;
    float *mins;
};

/* Cuts of feature f from its sorted non-missing values v[0..n). */
static void feature_cuts(const float *v, int64_t n, int max_bin, float **out, uint32_t *nout,
                         float *min)
{
    float *cuts = tbml_malloc(sizeof(float) * ((size_t)max_bin + 1));
    uint32_t k = 0;
    if (n == 0) {
        /* only missing values: one bin, never split on */
        cuts[k++] = 1e-5f;
        *min = -1e-5f;
    } else {
        int64_t uniq = 1;
        for (int64_t i = 1; i < n; i++)
            uniq += v[i] != v[i - 1];
        if (uniq <= max_bin) {
            /* every distinct value but the smallest starts a bin (XGBoost's AddCutPoint) */
            for (int64_t i = 1; i < n; i++)
                if (v[i] != v[i - 1]) cuts[k++] = v[i];
        } else {
            for (int i = 1; i < max_bin; i++) {
                float c = v[(int64_t)((double)i * (double)n / max_bin)];
                if (c > v[0] && (k == 0 || c > cuts[k - 1])) cuts[k++] = c;
            }
        }
        float mx = v[n - 1];
        cuts[k++] = mx + (fabsf(mx) + 1e-5f);
        *min = v[0] - (fabsf(v[0]) + 1e-5f);
    }
    *out = cuts;
    *nout = k;
}

/* Gathers the sampled rows column by column, so each feature's values are read from one
 * contiguous run instead of one cache line per row per feature. */
static void transpose_worker(int ith, int nth, void *p)
{
    struct cuts_task *t = p;
    const tbml_gbdt_matrix *m = t->m;
    int64_t n = t->sample ? t->nsample : m->nrows;
    int64_t a = n * ith / nth, z = n * (ith + 1) / nth;
    for (int64_t i = a; i < z; i++) {
        const float *x = m->x + (t->sample ? t->sample[i] : i) * m->nfeatures;
        for (int f = 0; f < m->nfeatures; f++)
            t->colmajor[f * n + i] = x[f];
    }
}

static void cuts_worker(int ith, int nth, void *p)
{
    struct cuts_task *t = p;
    const tbml_gbdt_matrix *m = t->m;
    int64_t n = t->sample ? t->nsample : m->nrows;
    float *v = tbml_malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    uint32_t *tmp = tbml_malloc(sizeof(uint32_t) * (size_t)(n > 0 ? n : 1));
    for (int f = ith; f < m->nfeatures; f += nth) {
        int64_t k = 0;
        const float *col = t->colmajor + f * n;
        for (int64_t i = 0; i < n; i++)
            if (!isnan(col[i])) v[k++] = col[i];
        sort_floats(v, tmp, k);
        feature_cuts(v, k, t->max_bin, &t->fcuts[f], &t->ncuts[f], &t->mins[f]);
    }
    tbml_free(v);
    tbml_free(tmp);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

tbml_status gbdt_cuts_build(const tbml_gbdt_matrix *m, int max_bin, tbml_pool_t *pool,
                            gbdt_cuts *out)
{
    struct cuts_task t = {.m = m, .max_bin = max_bin};
    int64_t *sample = NULL;
    if (m->nrows > SKETCH_MAX_ROWS) {
        /* reservoir-free sample: a fixed stride walk with seeded jitter keeps it reproducible */
        uint64_t s = 0x74626d6cull; /* fixed: the cuts must not depend on params.seed */
        sample = tbml_malloc(sizeof(int64_t) * SKETCH_MAX_ROWS);
        double step = (double)m->nrows / SKETCH_MAX_ROWS;
        for (int64_t i = 0; i < SKETCH_MAX_ROWS; i++) {
            int64_t base = (int64_t)(i * step);
            int64_t span = (int64_t)((i + 1) * step) - base;
            sample[i] = base + (span > 1 ? (int64_t)(splitmix64(&s) % (uint64_t)span) : 0);
        }
        t.sample = sample;
        t.nsample = SKETCH_MAX_ROWS;
    }
    t.fcuts = tbml_calloc((size_t)m->nfeatures, sizeof(float *));
    t.ncuts = tbml_calloc((size_t)m->nfeatures, sizeof(uint32_t));
    t.mins = tbml_calloc((size_t)m->nfeatures, sizeof(float));
    int64_t n = t.sample ? t.nsample : m->nrows;
    t.colmajor = tbml_malloc(sizeof(float) * (size_t)(n * m->nfeatures + 1));
    tbml_pool_run(pool, transpose_worker, &t);
    tbml_pool_run(pool, cuts_worker, &t);
    tbml_free(t.colmajor);

    out->nfeatures = m->nfeatures;
    out->cut_ptr = tbml_malloc(sizeof(uint32_t) * ((size_t)m->nfeatures + 1));
    out->cut_ptr[0] = 0;
    for (int f = 0; f < m->nfeatures; f++)
        out->cut_ptr[f + 1] = out->cut_ptr[f] + t.ncuts[f];
    out->cuts = tbml_malloc(sizeof(float) * (out->cut_ptr[m->nfeatures] + 1));
    for (int f = 0; f < m->nfeatures; f++) {
        memcpy(out->cuts + out->cut_ptr[f], t.fcuts[f], sizeof(float) * t.ncuts[f]);
        tbml_free(t.fcuts[f]);
    }
    out->mins = t.mins;
    tbml_free(t.fcuts);
    tbml_free(t.ncuts);
    tbml_free(sample);
    return TBML_OK;
}

void gbdt_cuts_clear(gbdt_cuts *c)
{
    tbml_free(c->cut_ptr);
    tbml_free(c->cuts);
    tbml_free(c->mins);
    memset(c, 0, sizeof(*c));
}

static inline uint32_t bin_of(const gbdt_cuts *c, int f, float v)
{
    uint32_t lo = c->cut_ptr[f], hi = c->cut_ptr[f + 1], n = hi - lo;
    if (isnan(v)) return n;
    /* upper bound: the first cut > v; values past the last cut (unseen when sampling) clamp */
    const float *cuts = c->cuts + lo;
    uint32_t base = 0, len = n;
    while (len > 1) {
        /* upper bound without branches: a mask instead of a jump the predictor gets wrong half
         * of the time on real data */
        uint32_t half = len / 2;
        base += half & (0u - (uint32_t)(cuts[base + half - 1] <= v));
        len -= half;
    }
    uint32_t a = base + (cuts[base] <= v);
    return a < n ? a : n - 1;
}

uint32_t gbdt_bin_of(const gbdt_cuts *c, int f, float v)
{
    return bin_of(c, f, v);
}

struct bin_task {
    const tbml_gbdt_matrix *m;
    const gbdt_cuts *c;
    gbdt_binned *b;
    uint8_t *missing; /* nth * nfeatures: thread saw a missing value of feature f */
};

static void bin_worker(int ith, int nth, void *p)
{
    struct bin_task *t = p;
    int64_t n = t->m->nrows, nf = t->m->nfeatures;
    int64_t r0 = n * ith / nth, r1 = n * (ith + 1) / nth;
    uint8_t *miss = t->missing + (size_t)ith * (size_t)nf;
    /* blocks of rows that stay in L2, feature by feature, so the column writes are sequential */
    enum { BLOCK = 1024 };
    for (int64_t b0 = r0; b0 < r1; b0 += BLOCK) {
        int64_t b1 = b0 + BLOCK < r1 ? b0 + BLOCK : r1;
        for (int f = 0; f < nf; f++) {
            uint16_t *col = t->b->cols + f * n;
            uint8_t any = 0;
            for (int64_t r = b0; r < b1; r++) {
                float v = t->m->x[r * nf + f];
                any |= isnan(v);
                col[r] = (uint16_t)bin_of(t->c, f, v);
            }
            miss[f] |= any;
        }
    }
}

static void rows_worker(int ith, int nth, void *p)
{
    struct bin_task *t = p;
    gbdt_binned *b = t->b;
    int64_t n = b->nrows, nf = b->nfeatures;
    int64_t r0 = n * ith / nth, r1 = n * (ith + 1) / nth;
    for (int f = 0; f < nf; f++) {
        const uint16_t *col = b->cols + f * n;
        if (b->rows8)
            for (int64_t r = r0; r < r1; r++)
                b->rows8[r * nf + f] = (uint8_t)col[r];
        else
            for (int64_t r = r0; r < r1; r++)
                b->rows16[r * nf + f] = col[r];
    }
}

void gbdt_binned_build(const tbml_gbdt_matrix *m, const gbdt_cuts *c, tbml_pool_t *pool,
                       gbdt_binned *out)
{
    int nth = tbml_pool_size(pool);
    size_t cells = (size_t)(m->nrows * m->nfeatures + 1);
    memset(out, 0, sizeof(*out));
    out->nrows = m->nrows;
    out->nfeatures = m->nfeatures;
    out->cols = tbml_malloc(sizeof(uint16_t) * cells);
    out->slot_ptr = tbml_malloc(sizeof(uint32_t) * ((size_t)m->nfeatures + 1));
    for (int f = 0; f <= m->nfeatures; f++)
        out->slot_ptr[f] = c->cut_ptr[f] + (uint32_t)f;
    out->nslots = out->slot_ptr[m->nfeatures];
    struct bin_task t = {m, c, out, tbml_calloc((size_t)nth * (size_t)m->nfeatures, 1)};
    tbml_pool_run(pool, bin_worker, &t);
    /* one byte per bin code when every code fits: bins 0..255, and the missing code nbins only
     * where the feature has missing values */
    int narrow = 1;
    for (int f = 0; f < m->nfeatures; f++) {
        int missing = 0;
        for (int k = 0; k < nth; k++)
            missing |= t.missing[(size_t)k * (size_t)m->nfeatures + (size_t)f];
        uint32_t nb = c->cut_ptr[f + 1] - c->cut_ptr[f];
        narrow &= (missing ? nb : nb - 1) <= 255;
    }
    if (narrow)
        out->rows8 = tbml_malloc(cells);
    else
        out->rows16 = tbml_malloc(sizeof(uint16_t) * cells);
    tbml_pool_run(pool, rows_worker, &t);
    tbml_free(t.missing);
}

void gbdt_binned_clear(gbdt_binned *b)
{
    tbml_free(b->rows8);
    tbml_free(b->rows16);
    tbml_free(b->cols);
    tbml_free(b->slot_ptr);
    memset(b, 0, sizeof(*b));
}
