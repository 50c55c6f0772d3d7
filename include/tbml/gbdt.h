/* Gradient-boosted decision trees, as XGBoost's `hist` tree method grows them: features are cut
 * into quantile bins once, trees grow depth-wise from per-node gradient histograms, and each
 * split learns which way missing values (NaN) go. Parameters carry XGBoost's names and meaning,
 * so a model trained here with the same parameters and data is close to XGBoost's (identical
 * when every feature has at most max_bin distinct values and no sampling is used).
 *
 * Objectives: reg:squarederror and binary:logistic. Models save to docs/formats/gbdt-model.md,
 * sealed (docs/formats/sealed-file.md) when a key is given. */
#ifndef TBML_GBDT_H
#define TBML_GBDT_H

#include "tbml/column.h"
#include "tbml/core.h"
#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TBML_GBDT_REG_SQUAREDERROR = 0, /* "reg:squarederror": prediction = margin */
    TBML_GBDT_BINARY_LOGISTIC = 1,  /* "binary:logistic": prediction = sigmoid(margin) */
} tbml_gbdt_objective;

/* XGBoost's names; defaults (tbml_gbdt_params_default) are XGBoost 1.7's. */
typedef struct {
    tbml_gbdt_objective objective;
    int num_round;           /* trees to grow (default 10, as BigDL's XGBClassifier) */
    int max_depth;           /* 6 */
    double eta;              /* learning rate, 0.3 */
    double min_child_weight; /* least hessian sum in a child, 1 */
    double lambda;           /* L2 on leaf weights, 1 */
    double gamma;            /* least loss reduction to split (min_split_loss), 0 */
    double subsample;        /* fraction of rows per tree, 1 */
    double colsample_bytree; /* fraction of features per tree, 1 */
    int max_bin;             /* quantile bins per feature, 256 */
    int nthread;             /* threads; <= 0 means all cores (used when no pool is passed) */
    double base_score;       /* initial prediction (a probability for binary:logistic), 0.5 */
    uint64_t seed;           /* for subsample and colsample_bytree, 0 */
} tbml_gbdt_params;

void tbml_gbdt_params_default(tbml_gbdt_params *p);

/* Sets one parameter by its XGBoost name ("max_depth", "eta", "objective", ... also the aliases
 * "learning_rate", "min_split_loss", "reg_lambda", "n_estimators"/"num_boost_round"). Fails with
 * TBML_E_ARG naming the parameter on an unknown name or a value out of range. */
TBML_NODISCARD tbml_status tbml_gbdt_param_set(tbml_gbdt_params *p, const char *name,
                                               const char *value);
/* Range checks of all parameters (as tbml_gbdt_param_set does one at a time). */
TBML_NODISCARD tbml_status tbml_gbdt_params_check(const tbml_gbdt_params *p);
const char *tbml_gbdt_objective_name(tbml_gbdt_objective o);

/* Histograms are sums over rows, so a distributed trainer sums each worker's histograms (and
 * root gradient sums) with an allreduce before splits are chosen. When set, train calls
 * fn(ctx, buf, count) on every buffer of doubles it has summed locally and expects buf to hold
 * the global sums on return. It must not fail half-way: return non-zero and the training fails. */
typedef int (*tbml_gbdt_allreduce_fn)(void *ctx, double *buf, size_t count);

/* A dense float feature matrix, row-major (row r, feature f at x[r * nfeatures + f]), NaN for a
 * missing value, and a label per row. Names are optional (NULL) and used in messages, the model
 * file and importance tables. */
typedef struct {
    int64_t nrows;
    int nfeatures;
    float *x;             /* nrows * nfeatures */
    float *y;             /* nrows */
    char **feature_names; /* nfeatures strings, or NULL */
    char *label_name;     /* or NULL */
} tbml_gbdt_matrix;

/* Converts a table (e.g. from the CSV reader) into a matrix: every column but label becomes a
 * feature. Numeric columns (long, double, boolean) convert; NULL becomes NaN (a missing value)
 * in a feature and is an error in the label. A string column, or a label that is not a column,
 * fails with TBML_E_TYPE / TBML_E_NOTFOUND and a message naming source and column (and the row,
 * counted from 1, for a bad value). Free with tbml_gbdt_matrix_free. */
TBML_NODISCARD tbml_status tbml_gbdt_matrix_from_table(const tbml_table *t, const char *label,
                                                       const char *source, tbml_gbdt_matrix **out);
/* Reads a CSV file with a header (plain, or sealed under key) into a matrix. label NULL picks
 * the last column. Fails with one message naming the file: TBML_E_NOTFOUND for a missing label
 * column, TBML_E_FORMAT with "file:line:col" and the column for a value that is not a number.
 * pool (NULL: the calling thread) scans the file in parallel. */
TBML_NODISCARD tbml_status tbml_gbdt_read_csv(const char *path, const tbml_key_t *key,
                                              const char *label, tbml_pool_t *pool,
                                              tbml_gbdt_matrix **out);
/* A seeded shuffle of 0..n-1 into perm (n entries); the first *ntrain = round(train_fraction * n)
 * are the training rows, the rest the test rows. */
void tbml_gbdt_split(int64_t n, double train_fraction, uint64_t seed, int64_t *perm,
                     int64_t *ntrain);
/* A matrix holding rows idx[0..count) of m (for train/test splits). */
tbml_gbdt_matrix *tbml_gbdt_matrix_take(const tbml_gbdt_matrix *m, const int64_t *idx,
                                        int64_t count);
void tbml_gbdt_matrix_free(tbml_gbdt_matrix *m);

/* A trained model. Opaque; read-only after training, so predict may run from many threads. */
typedef struct tbml_gbdt_model tbml_gbdt_model_t;

typedef struct {
    tbml_pool_t *pool;                /* threads to use; NULL: a pool of params.nthread is made */
    tbml_gbdt_allreduce_fn allreduce; /* NULL in one process */
    void *allreduce_ctx;
    /* Where the quantile cuts come from: NULL, the training rows; else this matrix's features.
     * Workers of a distributed trainer must bin alike, so each passes the same rows here (e.g.
     * a sample gathered from all of them) along with allreduce. */
    const tbml_gbdt_matrix *cuts_from;
    /* When set (nrows entries), receives every training row's margin as the trainer tracked it
     * (leaf ranges for sampled rows, a walk of the bins for the others): predict on the same
     * rows must agree, which tests check. */
    double *train_margin_out;
    int verbose; /* log one INFO line per round with the training metric */
    /* Checkpoints: after every checkpoint_every-th round but the last (0: never), checkpoint
     * gets the model so far; its failure stops training with its status. */
    tbml_status (*checkpoint)(const tbml_gbdt_model_t *model, void *arg);
    void *checkpoint_arg;
    int checkpoint_every;
    /* Resume: start from this model's trees (a checkpoint of a run on the same rows with the
     * same parameters; others: TBML_E_ARG), recomputing the training margins from them in the
     * trainer's own float order, so the result is bit for bit the uninterrupted run's. */
    const tbml_gbdt_model_t *resume_from;
} tbml_gbdt_train_opts;

/* Trains on m (labels in {0, 1} for binary:logistic, else TBML_E_ARG naming the row). Results
 * are bit-for-bit the same for the same data, parameters and thread count. Free the model with
 * tbml_gbdt_free. opts may be NULL. */
TBML_NODISCARD tbml_status tbml_gbdt_train(const tbml_gbdt_params *params,
                                           const tbml_gbdt_matrix *m,
                                           const tbml_gbdt_train_opts *opts,
                                           tbml_gbdt_model_t **out);

/* Predicts nrows rows of x (row-major, nfeatures wide, NaN = missing): out[r] is the margin
 * when output_margin, else the prediction (probability for binary:logistic). Fails with
 * TBML_E_ARG if nfeatures differs from the model's. Does not allocate. */
TBML_NODISCARD tbml_status tbml_gbdt_predict(const tbml_gbdt_model_t *model, const float *x,
                                             int64_t nrows, int nfeatures, int output_margin,
                                             double *out);

int tbml_gbdt_nfeatures(const tbml_gbdt_model_t *model);
int tbml_gbdt_ntrees(const tbml_gbdt_model_t *model);
tbml_gbdt_objective tbml_gbdt_model_objective(const tbml_gbdt_model_t *model);
/* The feature's name from training, or NULL when the matrix had none. */
const char *tbml_gbdt_feature_name(const tbml_gbdt_model_t *model, int f);

/* XGBoost's get_score: "weight" (splits using the feature), "gain" (average loss reduction of
 * those splits), "total_gain", "cover" (average hessian sum), "total_cover". out has
 * nfeatures entries; features never used get 0. Unknown type: TBML_E_ARG. */
TBML_NODISCARD tbml_status tbml_gbdt_importance(const tbml_gbdt_model_t *model, const char *type,
                                                double *out);

/* Reading a tree for tests and tools: node ids are 0 (root) ... nnodes - 1. */
typedef struct {
    int left, right;  /* children, -1 for a leaf */
    int feature;      /* split feature (internal nodes) */
    float threshold;  /* go left when x < threshold */
    int default_left; /* where NaN goes */
    float value;      /* leaf value (eta already applied) */
    float gain;       /* loss reduction of the split */
    float cover;      /* hessian sum of the node's training rows */
} tbml_gbdt_node;
int tbml_gbdt_tree_nodes(const tbml_gbdt_model_t *model, int tree);
TBML_NODISCARD tbml_status tbml_gbdt_tree_node(const tbml_gbdt_model_t *model, int tree, int node,
                                               tbml_gbdt_node *out);
double tbml_gbdt_base_margin(const tbml_gbdt_model_t *model);

/* Writes the model to path atomically (temporary file, fsync, rename). With key, the file is
 * sealed under it; without, it is plain with a CRC-32 that catches accidental damage. */
TBML_NODISCARD tbml_status tbml_gbdt_save(const tbml_gbdt_model_t *model, const char *path,
                                          const tbml_key_t *key);
/* The model file's bytes (plain format) in a new buffer (tbml_free it). */
TBML_NODISCARD tbml_status tbml_gbdt_serialize(const tbml_gbdt_model_t *model, uint8_t **out,
                                               size_t *size);
/* Reads a model. A sealed file needs its key (TBML_E_KEY when none or another key is given,
 * TBML_E_AUTH when tampered); a damaged plain file fails with TBML_E_FORMAT naming path. */
TBML_NODISCARD tbml_status tbml_gbdt_load(const char *path, const tbml_key_t *key,
                                          tbml_gbdt_model_t **out);
/* The same on bytes already in memory (plain format only; the fuzz target's entry). */
TBML_NODISCARD tbml_status tbml_gbdt_parse(const uint8_t *buf, size_t size, const char *name,
                                           tbml_gbdt_model_t **out);
void tbml_gbdt_free(tbml_gbdt_model_t *model);

/* Spark ML's model.transform(): a new table (tbml_table_free it) with one row per row of m:
 * features (a vector string "[v1,v2,...]"), label, then for binary:logistic rawPrediction
 * "[-margin,margin]" and probability "[1-p,p]" as XGBoost4J-Spark gives them, and prediction
 * (the value, or the class 0.0/1.0). Print it with tbml_show (tbml/show.h). */
TBML_NODISCARD tbml_status tbml_gbdt_transform(const tbml_gbdt_model_t *model,
                                               const tbml_gbdt_matrix *m, tbml_table **out);
/* Feature importance as a table (feature | weight | gain | total_gain | cover), features used
 * by at least one split, largest total gain first. */
TBML_NODISCARD tbml_status tbml_gbdt_importance_table(const tbml_gbdt_model_t *model,
                                                      tbml_table **out);

/* Evaluation helpers (examples, tests, the train command). */
double tbml_gbdt_rmse(const double *pred, const float *y, int64_t n);
/* Fraction of rows where the class (prob > 0.5, as Spark's argmax) equals the 0/1 label. */
double tbml_gbdt_accuracy(const double *prob, const float *y, int64_t n);
/* Area under the ROC curve, ties counted as half (as scikit-learn's roc_auc_score). */
double tbml_gbdt_auc(const double *score, const float *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
