/* GBDT: hand-checked trees on tiny data (split, threshold, default direction, leaf weights,
 * gamma and min_child_weight as XGBoost defines them), the histogram kernel against a plain
 * reference, determinism for a thread count, save/load, and table conversion errors. */
#include "check.h"
#include "ml/gbdt/gbdt_internal.h"
#include "tbml/gbdt.h"

#include <math.h>
#include <unistd.h>

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

static tbml_gbdt_matrix mat(float *x, float *y, int64_t n, int nf)
{
    tbml_gbdt_matrix m = {n, nf, x, y, NULL, NULL};
    return m;
}

static tbml_gbdt_params small_params(void)
{
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = 1;
    p.max_depth = 1;
    p.eta = 0.5;
    p.nthread = 1;
    return p;
}

/* x = [1, 2, 3, 4], y = [1, 1, 3, 3], base_score 0.5, lambda 1, eta 0.5.
 * g = pred - y = [-0.5, -0.5, -2.5, -2.5], h = 1: G = -6, H = 4, parent gain G^2/(H+l) = 7.2.
 * Cuts are the distinct values but the first, plus one above the max: [2, 3, 4, 8.00001].
 *   x < 2: GL=-0.5 HL=1 -> 0.125; GR=-5.5 HR=3 -> 7.5625; loss change 0.4875
 *   x < 3: GL=-1   HL=2 -> 1/3;   GR=-5   HR=2 -> 25/3;   loss change 22/15 = 1.4667 (best)
 *   x < 4: GL=-3.5 HL=3 -> 3.0625; GR=-2.5 HR=1 -> 3.125; loss change -1.0125
 * Leaves: left -(-1)/(2+1) * 0.5 = 1/6, right 5/3 * 0.5 = 5/6.
 * With min_child_weight 3 no split has 3 on both sides: one leaf, 6/5 * 0.5 = 0.6. */
static void test_hand_regression(void)
{
    float x[] = {1, 2, 3, 4}, y[] = {1, 1, 3, 3};
    tbml_gbdt_matrix m = mat(x, y, 4, 1);
    tbml_gbdt_params p = small_params();
    tbml_gbdt_model_t *model = NULL;
    CHECK_OK(tbml_gbdt_train(&p, &m, NULL, &model));
    if (!model) return;
    CHECK(tbml_gbdt_ntrees(model) == 1 && tbml_gbdt_tree_nodes(model, 0) == 3);
    tbml_gbdt_node root, l, r;
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 0, &root));
    CHECK(root.feature == 0 && root.threshold == 3.0f && root.left == 1 && root.right == 2);
    CHECK(NEAR(root.gain, 22.0 / 15.0));
    CHECK(NEAR(root.cover, 4));
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 1, &l));
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 2, &r));
    CHECK(NEAR(l.value, 1.0 / 6.0) && NEAR(r.value, 5.0 / 6.0));
    double pred[4];
    CHECK_OK(tbml_gbdt_predict(model, x, 4, 1, 0, pred));
    CHECK(NEAR(pred[0], 0.5 + 1.0 / 6) && NEAR(pred[1], 0.5 + 1.0 / 6));
    CHECK(NEAR(pred[2], 0.5 + 5.0 / 6) && NEAR(pred[3], 0.5 + 5.0 / 6));
    double imp[1];
    CHECK_OK(tbml_gbdt_importance(model, "weight", imp));
    CHECK(imp[0] == 1.0);
    CHECK_OK(tbml_gbdt_importance(model, "gain", imp));
    CHECK(NEAR(imp[0], 22.0 / 15.0));
    CHECK_ST(tbml_gbdt_importance(model, "loud", imp), TBML_E_ARG);
    CHECK_ST(tbml_gbdt_predict(model, x, 2, 2, 0, pred), TBML_E_ARG);
    tbml_gbdt_free(model);

    p.min_child_weight = 3;
    CHECK_OK(tbml_gbdt_train(&p, &m, NULL, &model));
    if (!model) return;
    CHECK(tbml_gbdt_tree_nodes(model, 0) == 1);
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 0, &root));
    CHECK(root.left == -1 && NEAR(root.value, 0.6));
    tbml_gbdt_free(model);
}

/* Missing values learn a direction. x = [1, 2, NaN, NaN], y = [4, 0, 4, 4]:
 * g = [-3.5, 0.5, -3.5, -3.5], G = -10, H = 4, parent gain 100/5 = 20. Cuts [2, 4.00001].
 * Forward (missing right): x<2: 6.125 + 10.5625 - 20 < 0; x<4.00001: 3 + 16.33 - 20 < 0.
 * Backward (missing left): right = {x=2}: GR=0.5 HR=1 -> 0.125; left GL=-10.5 HL=3 -> 27.5625;
 * loss change 7.6875 at threshold 2, default left. Leaves: left 10.5/4 * 0.5 = 1.3125,
 * right -0.5/2 * 0.5 = -0.125. gamma 8 > 7.6875 forbids the split: one leaf 10/5 * 0.5 = 1. */
static void test_hand_missing_and_gamma(void)
{
    float x[] = {1, 2, NAN, NAN}, y[] = {4, 0, 4, 4};
    tbml_gbdt_matrix m = mat(x, y, 4, 1);
    tbml_gbdt_params p = small_params();
    tbml_gbdt_model_t *model = NULL;
    p.gamma = 7.5;
    CHECK_OK(tbml_gbdt_train(&p, &m, NULL, &model));
    if (!model) return;
    tbml_gbdt_node root, l, r;
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 0, &root));
    CHECK(root.threshold == 2.0f && root.default_left == 1 && NEAR(root.gain, 7.6875));
    CHECK_OK(tbml_gbdt_tree_node(model, 0, root.left, &l));
    CHECK_OK(tbml_gbdt_tree_node(model, 0, root.right, &r));
    CHECK(NEAR(l.value, 1.3125) && NEAR(r.value, -0.125));
    float q[] = {NAN, 1.5f, 2.0f, 100.0f};
    double pred[4];
    CHECK_OK(tbml_gbdt_predict(model, q, 4, 1, 0, pred));
    CHECK(NEAR(pred[0], 1.8125) && NEAR(pred[1], 1.8125) && NEAR(pred[2], 0.375) &&
          NEAR(pred[3], 0.375));
    tbml_gbdt_free(model);

    p.gamma = 8;
    CHECK_OK(tbml_gbdt_train(&p, &m, NULL, &model));
    if (!model) return;
    CHECK(tbml_gbdt_tree_nodes(model, 0) == 1);
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 0, &root));
    CHECK(NEAR(root.value, 1.0));
    tbml_gbdt_free(model);
}

/* binary:logistic, x = [1, 2], y = [0, 1], base_score 0.5 (margin 0), eta 1, min_child_weight 0.
 * p = 0.5: g = p - y = [0.5, -0.5], h = p(1-p) = 0.25. Split x < 2: each side G^2/(H+1) = 0.2,
 * loss change 0.4; leaves -0.5/1.25 = -0.4 and +0.4; probabilities sigmoid(-+0.4).
 * Labels outside [0, 1] are refused. */
static void test_hand_logistic(void)
{
    float x[] = {1, 2}, y[] = {0, 1};
    tbml_gbdt_matrix m = mat(x, y, 2, 1);
    tbml_gbdt_params p = small_params();
    p.objective = TBML_GBDT_BINARY_LOGISTIC;
    p.eta = 1;
    p.min_child_weight = 0;
    tbml_gbdt_model_t *model = NULL;
    CHECK_OK(tbml_gbdt_train(&p, &m, NULL, &model));
    if (!model) return;
    tbml_gbdt_node root;
    CHECK_OK(tbml_gbdt_tree_node(model, 0, 0, &root));
    CHECK(NEAR(root.gain, 0.4) && root.threshold == 2.0f);
    double prob[2], margin[2];
    CHECK_OK(tbml_gbdt_predict(model, x, 2, 1, 0, prob));
    CHECK_OK(tbml_gbdt_predict(model, x, 2, 1, 1, margin));
    CHECK(NEAR(margin[0], -0.4) && NEAR(margin[1], 0.4));
    CHECK(NEAR(prob[0], 1 / (1 + exp(0.4))) && NEAR(prob[1], 1 / (1 + exp(-0.4))));
    tbml_gbdt_free(model);

    float bad[] = {0, 2};
    m.y = bad;
    CHECK_ST(tbml_gbdt_train(&p, &m, NULL, &model), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "row 2") != NULL);
}

static uint64_t g_rng = 42;
static double urand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

/* A random regression problem with missing values and some low-cardinality features. */
static tbml_gbdt_matrix *random_matrix(int64_t n, int nf)
{
    tbml_gbdt_matrix *m = tbml_calloc(1, sizeof(*m));
    m->nrows = n;
    m->nfeatures = nf;
    m->x = tbml_malloc(sizeof(float) * (size_t)(n * nf));
    m->y = tbml_malloc(sizeof(float) * (size_t)n);
    for (int64_t r = 0; r < n; r++) {
        double s = 0;
        for (int f = 0; f < nf; f++) {
            double v = f % 3 == 2 ? floor(urand() * 5) : urand() * 10 - 5;
            s += (f % 2 ? 1 : -0.5) * v * (f + 1) / nf;
            m->x[r * nf + f] = urand() < 0.05 ? NAN : (float)v;
        }
        m->y[r] = (float)(s + (s > 0 ? 2 : 0) + urand());
    }
    return m;
}

/* The threaded kernel (with its thread-order reduce) against one-thread, row-by-row sums; with
 * one-byte row-major bins (max_bin 32) and two-byte ones (max_bin 300). */
static void test_hist_kernel(int max_bin)
{
    tbml_gbdt_matrix *m = random_matrix(3000, 7);
    tbml_pool_t *pool1;
    CHECK_OK(tbml_pool_create(1, &pool1));
    gbdt_cuts cuts;
    gbdt_binned b;
    CHECK_OK(gbdt_cuts_build(m, max_bin, pool1, &cuts));
    gbdt_binned_build(m, &cuts, pool1, &b);
    CHECK(max_bin <= 255 ? b.rows8 != NULL : b.rows16 != NULL);
    /* binning agrees with thresholds: v < cuts[bin] and (bin == 0 or v >= cuts[bin-1]) */
    int bins_ok = 1;
    for (int64_t r = 0; r < m->nrows; r++)
        for (int f = 0; f < m->nfeatures; f++) {
            float v = m->x[r * m->nfeatures + f];
            uint32_t bin = gbdt_bin(&b, r, f), nb = cuts.cut_ptr[f + 1] - cuts.cut_ptr[f];
            uint32_t rowbin =
                b.rows8 ? b.rows8[r * m->nfeatures + f] : b.rows16[r * m->nfeatures + f];
            bins_ok &= rowbin == bin;
            const float *c = cuts.cuts + cuts.cut_ptr[f];
            if (isnan(v))
                bins_ok &= bin == nb;
            else
                bins_ok &=
                    bin < nb && v < c[bin] && (bin == 0 || v >= c[bin - 1]) && v > cuts.mins[f];
        }
    CHECK(bins_ok);
    CHECK(cuts.cut_ptr[m->nfeatures] - cuts.cut_ptr[m->nfeatures - 1] <= (uint32_t)max_bin);
    CHECK(cuts.cut_ptr[3] - cuts.cut_ptr[2] == 5); /* a 5-valued feature: a bin per value */

    uint32_t *rows = tbml_malloc(sizeof(uint32_t) * (size_t)m->nrows);
    gbdt_gpair *gp = tbml_malloc(sizeof(gbdt_gpair) * (size_t)m->nrows);
    int64_t k = 0;
    for (int64_t r = 0; r < m->nrows; r++) {
        if (urand() < 0.7) rows[k++] = (uint32_t)r;
        gp[r].g = (float)(urand() * 2 - 1);
        gp[r].h = (float)urand();
    }
    gbdt_hist_job ranges[3] = {{0, k / 3, NULL}, {k / 3, k / 3 + 1, NULL}, {k / 2, k, NULL}};
    gbdt_hslot *ref = tbml_malloc(sizeof(gbdt_hslot) * b.nslots * 3);
    for (int j = 0; j < 3; j++)
        gbdt_hist_build_ref(&b, rows, gp, ranges[j].begin, ranges[j].end,
                            ref + (size_t)j * b.nslots);
    for (int nth = 1; nth <= 4; nth++) {
        tbml_pool_t *pool;
        CHECK_OK(tbml_pool_create(nth, &pool));
        gbdt_hist_scratch scratch = {0};
        gbdt_hslot *out = tbml_malloc(sizeof(gbdt_hslot) * b.nslots * 3);
        gbdt_hist_job jobs[3];
        for (int j = 0; j < 3; j++) {
            jobs[j] = ranges[j];
            jobs[j].hist = out + (size_t)j * b.nslots;
        }
        CHECK(gbdt_hist_build(&b, rows, gp, jobs, 3, pool, &scratch, NULL, NULL) == 0);
        double err = 0;
        for (size_t i = 0; i < b.nslots * 3; i++)
            err = fmax(err, fmax(fabs(out[i].g - ref[i].g), fabs(out[i].h - ref[i].h)));
        CHECK(err < 1e-9);
        gbdt_hist_scratch_clear(&scratch);
        tbml_free(out);
        tbml_pool_free(pool);
    }
    tbml_free(ref);
    tbml_free(rows);
    tbml_free(gp);
    gbdt_binned_clear(&b);
    gbdt_cuts_clear(&cuts);
    tbml_pool_free(pool1);
    tbml_gbdt_matrix_free(m);
}

static double *predict_all(const tbml_gbdt_model_t *model, const tbml_gbdt_matrix *m)
{
    double *p = tbml_malloc(sizeof(double) * (size_t)m->nrows);
    CHECK_OK(tbml_gbdt_predict(model, m->x, m->nrows, m->nfeatures, 0, p));
    return p;
}

/* Same data, parameters and thread count: the same model, bit for bit. Other thread counts only
 * change the order of floating-point sums, so predictions stay within rounding. Sampling
 * (subsample, colsample_bytree) depends on the seed only. Training fits: RMSE drops well below
 * the label's spread. */
static void test_determinism(void)
{
    tbml_gbdt_matrix *m = random_matrix(5000, 6);
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = 20;
    p.subsample = 0.8;
    p.colsample_bytree = 0.7;
    p.seed = 7;
    double *base = NULL;
    for (int nth = 1; nth <= 3; nth++) {
        double *run[2];
        for (int rep = 0; rep < 2; rep++) {
            tbml_gbdt_model_t *model = NULL;
            p.nthread = nth;
            CHECK_OK(tbml_gbdt_train(&p, m, NULL, &model));
            if (!model) return;
            run[rep] = predict_all(model, m);
            tbml_gbdt_free(model);
        }
        CHECK(memcmp(run[0], run[1], sizeof(double) * (size_t)m->nrows) == 0);
        if (!base) {
            base = run[0];
            double mean = 0, var = 0;
            for (int64_t r = 0; r < m->nrows; r++)
                mean += m->y[r];
            mean /= (double)m->nrows;
            for (int64_t r = 0; r < m->nrows; r++)
                var += (m->y[r] - mean) * (m->y[r] - mean);
            double sd = sqrt(var / (double)m->nrows);
            CHECK(tbml_gbdt_rmse(base, m->y, m->nrows) < 0.5 * sd);
        } else {
            double d = 0;
            for (int64_t r = 0; r < m->nrows; r++)
                d = fmax(d, fabs(run[0][r] - base[r]));
            CHECK(d < 1e-3);
            tbml_free(run[0]);
        }
        tbml_free(run[1]);
    }
    /* another seed samples other rows and features */
    p.seed = 8;
    p.nthread = 1;
    tbml_gbdt_model_t *model = NULL;
    CHECK_OK(tbml_gbdt_train(&p, m, NULL, &model));
    if (model) {
        double *other = predict_all(model, m);
        CHECK(memcmp(other, base, sizeof(double) * (size_t)m->nrows) != 0);
        tbml_free(other);
        tbml_gbdt_free(model);
    }
    tbml_free(base);
    tbml_gbdt_matrix_free(m);
}

/* The margins the trainer tracks (leaf row ranges for sampled rows, a walk of the bins for rows
 * left out by subsample) agree with predict's walk of float thresholds on the same rows: the
 * bins and the thresholds route every row alike. */
static void test_train_margins(void)
{
    tbml_gbdt_matrix *m = random_matrix(4000, 6);
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = 12;
    p.subsample = 0.6;
    p.colsample_bytree = 0.5;
    p.seed = 3;
    p.nthread = 2;
    double *tracked = tbml_malloc(sizeof(double) * (size_t)m->nrows);
    double *pred = tbml_malloc(sizeof(double) * (size_t)m->nrows);
    tbml_gbdt_train_opts opts = {.train_margin_out = tracked};
    tbml_gbdt_model_t *model = NULL;
    for (int obj = 0; obj < 2; obj++) {
        if (obj == 1) {
            p.objective = TBML_GBDT_BINARY_LOGISTIC;
            for (int64_t r = 0; r < m->nrows; r++)
                m->y[r] = m->y[r] > 1.0f ? 1.0f : 0.0f;
        }
        CHECK_OK(tbml_gbdt_train(&p, m, &opts, &model));
        if (!model) break;
        CHECK_OK(tbml_gbdt_predict(model, m->x, m->nrows, m->nfeatures, 1, pred));
        double d = 0;
        for (int64_t r = 0; r < m->nrows; r++)
            d = fmax(d, fabs(pred[r] - tracked[r]));
        CHECK(d < 1e-4);
        tbml_gbdt_free(model);
        model = NULL;
    }
    tbml_free(tracked);
    tbml_free(pred);
    tbml_gbdt_matrix_free(m);
}

/* A saved and loaded model predicts exactly as the original; damaged files are refused. */
static void test_save_load(void)
{
    tbml_gbdt_matrix *m = random_matrix(2000, 5);
    char *names[5] = {"a", "b", "c", "d", "e"};
    m->feature_names = tbml_calloc(5, sizeof(char *));
    for (int f = 0; f < 5; f++)
        m->feature_names[f] = tbml_strdup(names[f]);
    m->label_name = tbml_strdup("y");
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = 15;
    p.nthread = 2;
    tbml_gbdt_model_t *model = NULL, *back = NULL;
    CHECK_OK(tbml_gbdt_train(&p, m, NULL, &model));
    if (!model) return;
    char path[] = "/tmp/tbml-gbdt-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(tbml_gbdt_save(model, path, NULL));
    CHECK_OK(tbml_gbdt_load(path, NULL, &back));
    if (back) {
        double *a = predict_all(model, m), *b = predict_all(back, m);
        CHECK(memcmp(a, b, sizeof(double) * (size_t)m->nrows) == 0);
        CHECK(strcmp(tbml_gbdt_feature_name(back, 2), "c") == 0);
        CHECK(tbml_gbdt_ntrees(back) == 15);
        tbml_free(a);
        tbml_free(b);
        tbml_gbdt_free(back);
        back = NULL;
    }
    /* damage: a flipped byte, a truncation, a wrong magic */
    FILE *f = fopen(path, "rb");
    uint8_t *buf = tbml_malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    CHECK(n > 200);
    buf[150] ^= 1;
    CHECK_ST(tbml_gbdt_parse(buf, n, "m.gbdt", &back), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "m.gbdt") != NULL);
    buf[150] ^= 1;
    CHECK_ST(tbml_gbdt_parse(buf, n - 9, "m.gbdt", &back), TBML_E_FORMAT);
    CHECK_ST(tbml_gbdt_parse(buf, 7, "m.gbdt", &back), TBML_E_FORMAT);
    CHECK_OK(tbml_gbdt_parse(buf, n, "m.gbdt", &back));
    tbml_gbdt_free(back);
    tbml_free(buf);
    CHECK_ST(tbml_gbdt_load("/nonexistent/model", NULL, &back), TBML_E_NOTFOUND);

    /* sealed: the same predictions with the key; no key, a key of another name, or another
     * key under the same name are refused */
    tbml_key_t *key = NULL, *other = NULL, *impostor = NULL;
    CHECK_OK(tbml_key_generate("modelkey", &key));
    CHECK_OK(tbml_key_generate("otherkey", &other));
    CHECK_OK(tbml_key_generate("modelkey", &impostor));
    CHECK_OK(tbml_gbdt_save(model, path, key));
    CHECK_OK(tbml_gbdt_load(path, key, &back));
    if (back) {
        double *a = predict_all(model, m), *b = predict_all(back, m);
        CHECK(memcmp(a, b, sizeof(double) * (size_t)m->nrows) == 0);
        tbml_free(a);
        tbml_free(b);
        tbml_gbdt_free(back);
        back = NULL;
    }
    CHECK_ST(tbml_gbdt_load(path, NULL, &back), TBML_E_KEY);
    CHECK_ST(tbml_gbdt_load(path, other, &back), TBML_E_KEY);
    CHECK_ST(tbml_gbdt_load(path, impostor, &back), TBML_E_AUTH);
    CHECK(back == NULL);
    tbml_key_free(key);
    tbml_key_free(other);
    tbml_key_free(impostor);
    unlink(path);
    tbml_gbdt_free(model);
    tbml_gbdt_matrix_free(m);
}

static void test_params(void)
{
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    CHECK_OK(tbml_gbdt_param_set(&p, "max_depth", "4"));
    CHECK_OK(tbml_gbdt_param_set(&p, "learning_rate", "0.1"));
    CHECK_OK(tbml_gbdt_param_set(&p, "objective", "binary:logistic"));
    CHECK(p.max_depth == 4 && p.eta == 0.1 && p.objective == TBML_GBDT_BINARY_LOGISTIC);
    CHECK_ST(tbml_gbdt_param_set(&p, "eta", "2"), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "eta") != NULL);
    CHECK_ST(tbml_gbdt_param_set(&p, "max_depth", "four"), TBML_E_ARG);
    CHECK_ST(tbml_gbdt_param_set(&p, "colour", "1"), TBML_E_ARG);
    CHECK_ST(tbml_gbdt_param_set(&p, "objective", "multi:softmax"), TBML_E_ARG);
    CHECK(p.max_depth == 4 && p.eta == 0.1);

    double s[] = {0.1, 0.4, 0.35, 0.8};
    float y[] = {0, 0, 1, 1};
    CHECK(NEAR(tbml_gbdt_auc(s, y, 4), 0.75));
    CHECK(NEAR(tbml_gbdt_accuracy(s, y, 4), 0.75));
    double t[] = {0.5, 0.5, 0.5, 0.9};
    CHECK(NEAR(tbml_gbdt_auc(t, y, 4), 0.75)); /* ties count half: (0.5 + 0.5 + 1 + 1) / 4 */
}

/* Tables: numeric columns convert, NULL becomes NaN; a string feature or an absent label is
 * refused naming source and column. */
static void test_table(void)
{
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "a", TBML_TYPE_DOUBLE, 1);
    tbml_schema_add(&s, "n", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "y", TBML_TYPE_DOUBLE, 1);
    tbml_table *t = tbml_table_new(&s);
    tbml_batch *b = tbml_batch_new(&s, 2);
    tbml_column_append_f64(&b->cols[0], 1.5);
    tbml_column_append_null(&b->cols[0]);
    tbml_column_append_i64(&b->cols[1], 7);
    tbml_column_append_i64(&b->cols[1], 8);
    tbml_column_append_f64(&b->cols[2], 0);
    tbml_column_append_f64(&b->cols[2], 1);
    tbml_batch_seal(b);
    tbml_table_append(t, b);
    tbml_gbdt_matrix *m = NULL;
    CHECK_OK(tbml_gbdt_matrix_from_table(t, "y", "t.csv", &m));
    if (m) {
        CHECK(m->nrows == 2 && m->nfeatures == 2 && m->x[0] == 1.5f && isnan(m->x[2]) &&
              m->x[3] == 8.0f);
        CHECK(m->y[1] == 1.0f && strcmp(m->feature_names[1], "n") == 0);
        tbml_gbdt_matrix_free(m);
    }
    CHECK_ST(tbml_gbdt_matrix_from_table(t, "label", "t.csv", &m), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), "t.csv") && strstr(tbml_errmsg(), "label"));
    tbml_table_free(t);
    tbml_schema_clear(&s);

    tbml_schema_init(&s);
    tbml_schema_add(&s, "city", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "y", TBML_TYPE_DOUBLE, 1);
    t = tbml_table_new(&s);
    CHECK_ST(tbml_gbdt_matrix_from_table(t, "y", "t.csv", &m), TBML_E_TYPE);
    CHECK(strstr(tbml_errmsg(), "city") != NULL);
    tbml_table_free(t);
    tbml_schema_clear(&s);
}

/* A fake allreduce over two identical workers: doubles every sum. */
static int g_allreduce_calls;
static int twice(void *ctx, double *buf, size_t count)
{
    (void)ctx;
    g_allreduce_calls++;
    for (size_t i = 0; i < count; i++)
        buf[i] *= 2;
    return 0;
}
static int broken(void *ctx, double *buf, size_t count)
{
    (void)ctx, (void)buf, (void)count;
    return -1;
}

/* The distributed hook: training on D with an allreduce that sums two copies of every histogram
 * (and of the root sums) must grow the model that training on D twice over grows. */
static void test_allreduce_hook(void)
{
    tbml_gbdt_matrix *m = random_matrix(1500, 4);
    int64_t *idx = tbml_malloc(sizeof(int64_t) * 3000);
    for (int64_t i = 0; i < 3000; i++)
        idx[i] = i % 1500;
    tbml_gbdt_matrix *m2 = tbml_gbdt_matrix_take(m, idx, 3000);
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = 8;
    p.nthread = 2;
    p.min_child_weight = 30; /* binds: hessian sums double with the data */
    tbml_gbdt_model_t *a = NULL, *b = NULL;
    tbml_gbdt_train_opts opts = {.allreduce = twice, .cuts_from = m};
    CHECK_OK(tbml_gbdt_train(&p, m, &opts, &a));
    CHECK(g_allreduce_calls >= 2 * p.num_round); /* root sums and histograms of every round */
    CHECK_OK(tbml_gbdt_train(&p, m2, NULL, &b));
    if (a && b) {
        double *pa = predict_all(a, m), *pb = predict_all(b, m), d = 0;
        for (int64_t r = 0; r < m->nrows; r++)
            d = fmax(d, fabs(pa[r] - pb[r]));
        CHECK(d < 1e-4);
        CHECK(tbml_gbdt_tree_nodes(a, 3) == tbml_gbdt_tree_nodes(b, 3));
        tbml_free(pa);
        tbml_free(pb);
    }
    tbml_gbdt_free(a);
    tbml_gbdt_free(b);
    opts.allreduce = broken;
    a = NULL;
    CHECK_ST(tbml_gbdt_train(&p, m, &opts, &a), TBML_E_NET);
    CHECK(a == NULL);
    tbml_free(idx);
    tbml_gbdt_matrix_free(m);
    tbml_gbdt_matrix_free(m2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* CSV inputs: numbers convert, the label defaults to the last column; a non-numeric feature
 * fails naming file, line, column; a missing label column names the file and the label. */
static void test_csv(void)
{
    char dir[] = "/tmp/tbml-gbdt-csv-XXXXXX";
    if (!mkdtemp(dir)) return;
    char good[256], bad[256], nolabel[256];
    snprintf(good, sizeof(good), "%s/good.csv", dir);
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    snprintf(nolabel, sizeof(nolabel), "%s/nolabel.csv", dir);
    write_file(good, "a,b,target\n1,2.5,0\n3,,1\n");
    write_file(bad, "a,b,target\n1,2,0\n2,3,1\n4,abc,0\n");
    write_file(nolabel, "a,b\n1,2\n");
    tbml_gbdt_matrix *m = NULL;
    CHECK_OK(tbml_gbdt_read_csv(good, NULL, NULL, NULL, &m));
    if (m) {
        CHECK(m->nrows == 2 && m->nfeatures == 2 && strcmp(m->label_name, "target") == 0);
        CHECK(m->x[1] == 2.5f && isnan(m->x[3]) && m->y[1] == 1.0f);
        tbml_gbdt_matrix_free(m);
        m = NULL;
    }
    CHECK_OK(tbml_gbdt_read_csv(good, NULL, "a", NULL, &m));
    if (m) {
        CHECK(m->y[1] == 3.0f && strcmp(m->feature_names[1], "target") == 0);
        tbml_gbdt_matrix_free(m);
        m = NULL;
    }
    CHECK_ST(tbml_gbdt_read_csv(bad, NULL, NULL, NULL, &m), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "bad.csv:4:3") != NULL && strstr(tbml_errmsg(), "(b)") != NULL);
    CHECK(strstr(tbml_errmsg(), "abc") == NULL); /* values never reach messages */
    CHECK_ST(tbml_gbdt_read_csv(nolabel, NULL, "target", NULL, &m), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), "nolabel.csv") && strstr(tbml_errmsg(), "'target'"));
    CHECK(m == NULL);
    unlink(good);
    unlink(bad);
    unlink(nolabel);
    rmdir(dir);

    /* the split: a permutation, the same for the same seed */
    int64_t p1[100], p2[100], k;
    tbml_gbdt_split(100, 0.8, 42, p1, &k);
    CHECK(k == 80);
    tbml_gbdt_split(100, 0.8, 42, p2, &k);
    CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++)
        seen[p1[i]]++, moved += p1[i] != i;
    int perm_ok = 1;
    for (int i = 0; i < 100; i++)
        perm_ok &= seen[i] == 1;
    CHECK(perm_ok && moved > 50);
}

int main(void)
{
    test_hand_regression();
    test_hand_missing_and_gamma();
    test_hand_logistic();
    test_hist_kernel(32);
    test_hist_kernel(300);
    test_determinism();
    test_save_load();
    test_params();
    test_table();
    test_csv();
    test_allreduce_hook();
    test_train_margins();
    return check_done();
}
