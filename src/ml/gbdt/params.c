/* GBDT parameters by XGBoost's names, with its defaults and range checks, and the evaluation
 * metrics the examples and the train command print. */
#include "gbdt_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tbml_gbdt_params_default(tbml_gbdt_params *p)
{
    memset(p, 0, sizeof(*p));
    p->objective = TBML_GBDT_REG_SQUAREDERROR;
    p->num_round = 10;
    p->max_depth = 6;
    p->eta = 0.3;
    p->min_child_weight = 1.0;
    p->lambda = 1.0;
    p->gamma = 0.0;
    p->subsample = 1.0;
    p->colsample_bytree = 1.0;
    p->max_bin = 256;
    p->nthread = 0;
    p->base_score = 0.5;
    p->seed = 0;
}

const char *tbml_gbdt_objective_name(tbml_gbdt_objective o)
{
    return o == TBML_GBDT_BINARY_LOGISTIC ? "binary:logistic" : "reg:squarederror";
}

tbml_status tbml_gbdt_params_check(const tbml_gbdt_params *p)
{
    if (p->objective != TBML_GBDT_REG_SQUAREDERROR && p->objective != TBML_GBDT_BINARY_LOGISTIC)
        return tbml_error(TBML_E_ARG, "objective: unknown objective %d", (int)p->objective);
    if (p->num_round < 0 || p->num_round > 1000000)
        return tbml_error(TBML_E_ARG, "num_round: %d is not in [0, 1000000]", p->num_round);
    if (p->max_depth < 1 || p->max_depth > 30)
        return tbml_error(TBML_E_ARG, "max_depth: %d is not in [1, 30]", p->max_depth);
    if (!(p->eta > 0 && p->eta <= 1))
        return tbml_error(TBML_E_ARG, "eta: %g is not in (0, 1]", p->eta);
    if (!(p->min_child_weight >= 0 && isfinite(p->min_child_weight)))
        return tbml_error(TBML_E_ARG, "min_child_weight: %g is not >= 0", p->min_child_weight);
    if (!(p->lambda >= 0 && isfinite(p->lambda)))
        return tbml_error(TBML_E_ARG, "lambda: %g is not >= 0", p->lambda);
    if (!(p->gamma >= 0 && isfinite(p->gamma)))
        return tbml_error(TBML_E_ARG, "gamma: %g is not >= 0", p->gamma);
    if (!(p->subsample > 0 && p->subsample <= 1))
        return tbml_error(TBML_E_ARG, "subsample: %g is not in (0, 1]", p->subsample);
    if (!(p->colsample_bytree > 0 && p->colsample_bytree <= 1))
        return tbml_error(TBML_E_ARG, "colsample_bytree: %g is not in (0, 1]", p->colsample_bytree);
    if (p->max_bin < 2 || p->max_bin > 65534)
        return tbml_error(TBML_E_ARG, "max_bin: %d is not in [2, 65534]", p->max_bin);
    if (p->nthread > 1024) return tbml_error(TBML_E_ARG, "nthread: %d is over 1024", p->nthread);
    if (p->objective == TBML_GBDT_BINARY_LOGISTIC && !(p->base_score > 0 && p->base_score < 1))
        return tbml_error(TBML_E_ARG, "base_score: %g must be in (0, 1) for binary:logistic",
                          p->base_score);
    if (!isfinite(p->base_score)) return tbml_error(TBML_E_ARG, "base_score: not a finite number");
    return TBML_OK;
}

static tbml_status parse_double(const char *name, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno || !isfinite(d))
        return tbml_error(TBML_E_ARG, "%s: '%s' is not a number", name, v);
    *out = d;
    return TBML_OK;
}

static tbml_status parse_int(const char *name, const char *v, long long lo, long long hi,
                             long long *out)
{
    char *end;
    errno = 0;
    long long d = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno)
        return tbml_error(TBML_E_ARG, "%s: '%s' is not an integer", name, v);
    if (d < lo || d > hi)
        return tbml_error(TBML_E_ARG, "%s: %lld is not in [%lld, %lld]", name, d, lo, hi);
    *out = d;
    return TBML_OK;
}

tbml_status tbml_gbdt_param_set(tbml_gbdt_params *p, const char *name, const char *value)
{
    tbml_status st;
    double d;
    long long i;
    tbml_gbdt_params q = *p;
#define IS(s) (strcasecmp(name, s) == 0)
#define DBL(field)                                                                                 \
    do {                                                                                           \
        if ((st = parse_double(name, value, &d))) return st;                                       \
        q.field = d;                                                                               \
    } while (0)
#define INT(field, lo, hi)                                                                         \
    do {                                                                                           \
        if ((st = parse_int(name, value, lo, hi, &i))) return st;                                  \
        q.field = (int)i;                                                                          \
    } while (0)
    if (IS("objective")) {
        if (strcmp(value, "reg:squarederror") == 0 || strcmp(value, "reg:linear") == 0)
            q.objective = TBML_GBDT_REG_SQUAREDERROR;
        else if (strcmp(value, "binary:logistic") == 0)
            q.objective = TBML_GBDT_BINARY_LOGISTIC;
        else
            return tbml_error(TBML_E_ARG,
                              "objective: '%s' is not reg:squarederror or binary:logistic", value);
    } else if (IS("num_round") || IS("n_estimators") || IS("num_boost_round")) {
        INT(num_round, 0, 1000000);
    } else if (IS("max_depth")) {
        INT(max_depth, 1, 30);
    } else if (IS("eta") || IS("learning_rate")) {
        DBL(eta);
    } else if (IS("min_child_weight")) {
        DBL(min_child_weight);
    } else if (IS("lambda") || IS("reg_lambda")) {
        DBL(lambda);
    } else if (IS("gamma") || IS("min_split_loss")) {
        DBL(gamma);
    } else if (IS("subsample")) {
        DBL(subsample);
    } else if (IS("colsample_bytree")) {
        DBL(colsample_bytree);
    } else if (IS("max_bin")) {
        INT(max_bin, 2, 65534);
    } else if (IS("nthread") || IS("n_jobs")) {
        INT(nthread, -1, 1024);
    } else if (IS("base_score")) {
        DBL(base_score);
    } else if (IS("seed") || IS("random_state")) {
        if ((st = parse_int(name, value, 0, INT64_MAX, &i))) return st;
        q.seed = (uint64_t)i;
    } else {
        return tbml_error(TBML_E_ARG, "unknown parameter '%s'", name);
    }
#undef IS
#undef DBL
#undef INT
    /* range-check the one value just set, with the rest as they are */
    tbml_gbdt_params chk = q;
    if (chk.objective == TBML_GBDT_BINARY_LOGISTIC && strcasecmp(name, "base_score") != 0 &&
        !(chk.base_score > 0 && chk.base_score < 1))
        chk.base_score = 0.5;
    if ((st = tbml_gbdt_params_check(&chk))) return st;
    *p = q;
    return TBML_OK;
}

double tbml_gbdt_rmse(const double *pred, const float *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (pred[i] - y[i]) * (pred[i] - y[i]);
    return n > 0 ? sqrt(s / (double)n) : 0.0;
}

double tbml_gbdt_accuracy(const double *prob, const float *y, int64_t n)
{
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++)
        ok += (prob[i] > 0.5) == (y[i] >= 0.5f); /* Spark: argmax, ties to class 0 */
    return n > 0 ? (double)ok / (double)n : 0.0;
}

struct scored {
    double s;
    float y;
};

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return (x > y) - (x < y);
}

double tbml_gbdt_auc(const double *score, const float *y, int64_t n)
{
    /* Mann-Whitney U: sum of the positives' ranks, tied scores sharing the mean rank */
    struct scored *v = tbml_malloc(sizeof(*v) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = (struct scored){score[i], y[i]};
    qsort(v, (size_t)n, sizeof(*v), cmp_scored);
    double rank_sum = 0, npos = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double mean_rank = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        for (int64_t k = i; k < j; k++)
            if (v[k].y >= 0.5f) rank_sum += mean_rank, npos++;
        i = j;
    }
    tbml_free(v);
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0) return NAN;
    return (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg);
}
