/* The gradient histogram: for each tree node to be split, the sums of gradient and hessian per
 * (feature, bin). This is where training spends its time, so it is one kernel with one job:
 * rows are split between threads into per-thread partial histograms (no locks, no atomics),
 * which are then summed in thread order so the result depends only on the thread count. Being
 * sums over rows, the finished histograms are also what a distributed trainer allreduces. */
#include "gbdt_internal.h"

#include <string.h>

struct hist_task {
    const gbdt_binned *b;
    const uint32_t *rows;
    const gbdt_gpair *gpair;
    gbdt_hist_job *jobs;
    int njobs;
    gbdt_hslot *scratch; /* nth * njobs * nslots */
    size_t nslots;
};

/* Both sums of a slot in one 16-byte vector: one load, one add, one store per (row, feature)
 * instead of two of each (SSE2's addpd; GCC's vector extension keeps it portable). */
typedef double v2d __attribute__((vector_size(16)));

/* hist is (nslots); a row's bins are (nfeatures) of BIN_T */
#define HIST_ROWS(NAME, BIN_T, FIELD)                                                              \
    static void NAME(const gbdt_binned *b, const uint32_t *rows, const gbdt_gpair *gpair,          \
                     int64_t begin, int64_t end, gbdt_hslot *hist)                                 \
    {                                                                                              \
        const int nf = b->nfeatures;                                                               \
        const uint32_t *slot = b->slot_ptr;                                                        \
        const BIN_T *bins = b->FIELD;                                                              \
        v2d *h2 = (v2d *)(void *)hist;                                                             \
        for (int64_t i = begin; i < end; i++) {                                                    \
            uint32_t r = rows[i];                                                                  \
            const BIN_T *rb = bins + (size_t)r * (size_t)nf;                                       \
            const v2d gh = {gpair[r].g, gpair[r].h};                                               \
            if (i + 8 < end) { /* the next rows' bins and gradients: both are gathers */           \
                __builtin_prefetch(bins + (size_t)rows[i + 8] * (size_t)nf);                       \
                __builtin_prefetch(gpair + rows[i + 8]);                                           \
            }                                                                                      \
            for (int f = 0; f < nf; f++)                                                           \
                h2[slot[f] + rb[f]] += gh;                                                         \
        }                                                                                          \
    }
HIST_ROWS(hist_rows8, uint8_t, rows8)
HIST_ROWS(hist_rows16, uint16_t, rows16)

static void hist_rows(const gbdt_binned *b, const uint32_t *rows, const gbdt_gpair *gpair,
                      int64_t begin, int64_t end, gbdt_hslot *hist)
{
    _Static_assert(sizeof(gbdt_hslot) == sizeof(v2d), "a slot is two doubles");
    if (b->rows8)
        hist_rows8(b, rows, gpair, begin, end, hist);
    else
        hist_rows16(b, rows, gpair, begin, end, hist);
}

static void hist_worker(int ith, int nth, void *p)
{
    struct hist_task *t = p;
    gbdt_hslot *mine = t->scratch + (size_t)ith * (size_t)t->njobs * t->nslots;
    memset(mine, 0, sizeof(gbdt_hslot) * (size_t)t->njobs * t->nslots);
    for (int j = 0; j < t->njobs; j++) {
        int64_t n = t->jobs[j].end - t->jobs[j].begin;
        int64_t a = t->jobs[j].begin + n * ith / nth, z = t->jobs[j].begin + n * (ith + 1) / nth;
        hist_rows(t->b, t->rows, t->gpair, a, z, mine + (size_t)j * t->nslots);
    }
}

/* Sums the threads' partials slot by slot, thread 0 first; each thread owns a slice of slots. */
static void reduce_worker(int ith, int nth, void *p)
{
    struct hist_task *t = p;
    size_t total = (size_t)t->njobs * t->nslots;
    size_t a = total * (size_t)ith / (size_t)nth, z = total * (size_t)(ith + 1) / (size_t)nth;
    gbdt_hslot *out = t->jobs[0].hist;
    for (size_t i = a; i < z; i++) {
        double g = 0, h = 0;
        for (int k = 0; k < nth; k++) {
            const gbdt_hslot *s = t->scratch + (size_t)k * total + i;
            g += s->g;
            h += s->h;
        }
        out[i].g = g;
        out[i].h = h;
    }
}

int gbdt_hist_build(const gbdt_binned *b, const uint32_t *rows, const gbdt_gpair *gpair,
                    gbdt_hist_job *jobs, int njobs, tbml_pool_t *pool, gbdt_hist_scratch *scratch,
                    tbml_gbdt_allreduce_fn allreduce, void *allreduce_ctx)
{
    if (njobs == 0) return 0;
    int nth = tbml_pool_size(pool);
    size_t need = (size_t)njobs * b->nslots;
    for (int j = 1; j < njobs; j++)
        TBML_ASSERT(jobs[j].hist == jobs[0].hist + (size_t)j * b->nslots);
    if (scratch->nth != nth || scratch->cap_slots < need) {
        tbml_free(scratch->buf);
        scratch->nth = nth;
        scratch->cap_slots = need;
        scratch->buf = tbml_malloc(sizeof(gbdt_hslot) * need * (size_t)nth);
    }
    struct hist_task t = {b, rows, gpair, jobs, njobs, scratch->buf, b->nslots};
    if (nth == 1) {
        /* one thread: sum straight into the output, no reduce pass */
        memset(jobs[0].hist, 0, sizeof(gbdt_hslot) * need);
        for (int j = 0; j < njobs; j++)
            hist_rows(b, rows, gpair, jobs[j].begin, jobs[j].end, jobs[j].hist);
    } else {
        tbml_pool_run(pool, hist_worker, &t);
        tbml_pool_run(pool, reduce_worker, &t);
    }
    /* the distributed hook: local sums in, global sums out */
    if (allreduce && allreduce(allreduce_ctx, (double *)jobs[0].hist, need * 2) != 0) return -1;
    return 0;
}

void gbdt_hist_build_ref(const gbdt_binned *b, const uint32_t *rows, const gbdt_gpair *gpair,
                         int64_t begin, int64_t end, gbdt_hslot *hist)
{
    memset(hist, 0, sizeof(gbdt_hslot) * b->nslots);
    for (int64_t i = begin; i < end; i++) {
        uint32_t r = rows[i];
        for (int f = 0; f < b->nfeatures; f++) {
            uint32_t bin = gbdt_bin(b, r, f);
            hist[b->slot_ptr[f] + bin].g += gpair[r].g;
            hist[b->slot_ptr[f] + bin].h += gpair[r].h;
        }
    }
}

void gbdt_hist_scratch_clear(gbdt_hist_scratch *s)
{
    tbml_free(s->buf);
    memset(s, 0, sizeof(*s));
}
