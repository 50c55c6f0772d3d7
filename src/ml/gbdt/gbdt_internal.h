/* Internals of the gradient-boosted trees shared between the files of src/ml/gbdt/: the binned
 * matrix (quantile cuts + per-row bin indices), the histogram build, and the model layout. */
#ifndef TBML_GBDT_INTERNAL_H
#define TBML_GBDT_INTERNAL_H

#include "tbml/gbdt.h"

#define GBDT_HIDDEN __attribute__((visibility("hidden")))

/* Quantile cuts as XGBoost's HistogramCuts: feature f has nbins(f) = cut_ptr[f + 1] - cut_ptr[f]
 * bins; bin i holds values v with cuts[cut_ptr[f] + i - 1] <= v < cuts[cut_ptr[f] + i] (bin 0
 * is open below), and the last cut lies above every value seen. A split "after bin i" sends
 * v < cuts[cut_ptr[f] + i] left. mins[f] lies below every value (the threshold of a split that
 * sends only missing values left). */
typedef struct {
    int nfeatures;
    uint32_t *cut_ptr; /* nfeatures + 1 */
    float *cuts;       /* cut_ptr[nfeatures] */
    float *mins;       /* nfeatures */
} gbdt_cuts;

/* The binned training matrix. cols[f * nrows + r] is row r's bin of feature f, or nbins(f) when
 * the value is missing: column-major, because partitioning reads one feature of many rows.
 * Histograms have one slot per bin plus that missing slot, so feature f's slots start at
 * slot_ptr[f] = cut_ptr[f] + f. The histogram kernel reads whole rows, so the bins are also kept
 * row-major, rows[r * nfeatures + f], in one byte when every feature's bin codes fit (as
 * XGBoost does for max_bin <= 256: half the memory traffic), else in two. */
typedef struct {
    int64_t nrows;
    int nfeatures;
    uint16_t *cols;
    uint8_t *rows8;     /* row-major, or NULL */
    uint16_t *rows16;   /* row-major when rows8 is NULL */
    uint32_t *slot_ptr; /* nfeatures + 1 */
    uint32_t nslots;    /* slot_ptr[nfeatures] */
} gbdt_binned;

static inline uint32_t gbdt_bin(const gbdt_binned *b, int64_t r, int f)
{
    return b->cols[(size_t)f * (size_t)b->nrows + (size_t)r];
}

/* One gradient pair per row, float as XGBoost's GradientPair. */
typedef struct {
    float g, h;
} gbdt_gpair;

/* One histogram slot: sums in double as XGBoost's GradientPairPrecise. 16-byte aligned, so
 * the kernel can add both sums as one vector (malloc's alignment on the platforms we build). */
typedef struct {
    _Alignas(16) double g;
    double h;
} gbdt_hslot;

/* A histogram to build: the rows rows[begin..end) summed into hist (nslots slots). */
typedef struct {
    int64_t begin, end;
    gbdt_hslot *hist;
} gbdt_hist_job;

/* Scratch for gbdt_hist_build: per-thread partial histograms. */
typedef struct {
    int nth;
    size_t cap_slots; /* per thread */
    gbdt_hslot *buf;  /* nth * cap_slots */
} gbdt_hist_scratch;

/* Computes cuts from the features of m (rows sampled when there are many, seeded). */
GBDT_HIDDEN tbml_status gbdt_cuts_build(const tbml_gbdt_matrix *m, int max_bin, tbml_pool_t *pool,
                                        gbdt_cuts *out);
GBDT_HIDDEN void gbdt_cuts_clear(gbdt_cuts *c);
/* Bins every row of m with c (in parallel over rows). */
GBDT_HIDDEN void gbdt_binned_build(const tbml_gbdt_matrix *m, const gbdt_cuts *c, tbml_pool_t *pool,
                                   gbdt_binned *out);
GBDT_HIDDEN void gbdt_binned_clear(gbdt_binned *b);
/* The bin of value v for feature f (nbins(f) for NaN). */
GBDT_HIDDEN uint32_t gbdt_bin_of(const gbdt_cuts *c, int f, float v);

/* THE histogram kernel: sums gpair over each job's rows into job->hist, split over the pool's
 * threads by rows and reduced in thread order (deterministic for a given thread count). The
 * hists of all jobs must be one contiguous buffer, jobs[0].hist first, so that a distributed
 * trainer can allreduce it in one call: gbdt_hist_build then calls allreduce (when not NULL)
 * on that buffer. Returns non-zero when the allreduce fails. */
GBDT_HIDDEN int gbdt_hist_build(const gbdt_binned *b, const uint32_t *rows, const gbdt_gpair *gpair,
                                gbdt_hist_job *jobs, int njobs, tbml_pool_t *pool,
                                gbdt_hist_scratch *scratch, tbml_gbdt_allreduce_fn allreduce,
                                void *allreduce_ctx);
/* The plain reference the kernel is tested against: one thread, row by row. */
GBDT_HIDDEN void gbdt_hist_build_ref(const gbdt_binned *b, const uint32_t *rows,
                                     const gbdt_gpair *gpair, int64_t begin, int64_t end,
                                     gbdt_hslot *hist);
GBDT_HIDDEN void gbdt_hist_scratch_clear(gbdt_hist_scratch *s);

struct tbml_gbdt_model {
    tbml_gbdt_params params; /* as trained (informational, saved) */
    int nfeatures;
    double base_margin;
    int ntrees;
    int64_t *tree_ptr;     /* ntrees + 1 offsets into nodes */
    tbml_gbdt_node *nodes; /* tree_ptr[ntrees] */
    char **feature_names;  /* nfeatures, or NULL */
    char *label_name;      /* or NULL */
};

/* Margin of one row (x has nfeatures values). */
/* Feature names travel from the matrix to the model and to row subsets: a deep copy of count
 * names (NULL for NULL), and its free (NULL is fine). */
GBDT_HIDDEN char **gbdt_names_dup(char *const *names, int count);
GBDT_HIDDEN void gbdt_names_free(char **names, int count);

GBDT_HIDDEN double gbdt_predict_row(const tbml_gbdt_model_t *m, const float *x);

#endif
