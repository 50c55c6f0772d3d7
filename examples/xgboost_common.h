/* What the XGBoost examples share: their options (the seed's -f/--file-path and --master, plus
 * XGBoost's parameters), the seeded 80/20 split, training and the prediction table. Each example
 * sets the objective and prints its own metrics. A header, not a .c file, because every
 * examples/NAME.c becomes an example program of its own. */
#ifndef TBML_EXAMPLES_XGBOOST_COMMON_H
#define TBML_EXAMPLES_XGBOOST_COMMON_H

#include "tbml/app.h"
#include "tbml/gbdt.h"
#include "tbml/show.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

typedef struct {
    const char *name; /* the example, for messages */
    const char *file_path;
    const char *label;
    const char *split_out;
    const char *key_file, *password_file;
    tbml_app_t *app; /* submit's settings: the pool from --master */
    int threads;     /* --master given to the example itself: -1 when not */
    uint64_t split_seed;
    int show_rows;
    tbml_gbdt_params params;
    /* results */
    tbml_gbdt_matrix *test;
    tbml_gbdt_model_t *model;
    double *pred; /* test predictions (probabilities for binary:logistic) */
} xgb_example;

static void xgb_usage(const xgb_example *e, FILE *f)
{
    fprintf(
        f,
        "usage: %s -f|--file-path CSV [--key K --password-file F] [--master local[N]]\n"
        "       [--label COL] [--seed N] [--num-round N] [--max-depth N] [--eta X]\n"
        "       [--PARAM VALUE ...] [--show N] [--split-out FILE]\n\n"
        "Trains XGBoost-style gradient-boosted trees (%s) on 80%% of the rows of CSV (a header\n"
        "line, numbers only; the label is the last column unless --label), chosen by a seeded\n"
        "shuffle, and shows predictions for the other 20%% as Spark's show() does.\n"
        "  --key K            CSV is sealed under key file K, whose password is the first line\n"
        "                     of --password-file F\n"
        "  --master local[N]  threads (local[*]: all cores; default: run-example's --master)\n"
        "  --seed N           the split's seed (default 42); XGBoost's own is --seed-xgb\n"
        "  --PARAM VALUE      any XGBoost parameter: num_round (default 10), max_depth, eta,\n"
        "                     min_child_weight, lambda, gamma, subsample, colsample_bytree,\n"
        "                     max_bin, base_score ('-' and '_' are the same)\n"
        "  --show N           rows of the prediction table (default 20)\n"
        "  --split-out FILE   write the training row numbers, then the test row numbers (0-based,\n"
        "                     one line each) to compare with another library on the same split\n",
        e->name, tbml_gbdt_objective_name(e->params.objective));
}

static int xgb_fail(const xgb_example *e, const char *what)
{
    fprintf(stderr, "%s: %s%s%s\n", e->name, what ? what : "", what ? ": " : "", tbml_errmsg());
    return 1;
}

/* Returns -1 to go on, else the exit code. */
static int xgb_parse_args(xgb_example *e, int argc, char **argv)
{
    tbml_status st = tbml_app_init(&argc, &argv, &e->app);
    if (st) return example_fail(e->name, st);
    e->threads = -1;
    if (example_key_options(&argc, argv, &e->key_file, &e->password_file)) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            xgb_usage(e, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 && strcmp(a, "-f") != 0 && strcmp(a, "-m") != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", e->name, a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", e->name, a);
            return 2;
        }
        i++;
        if (strcmp(a, "-f") == 0 || strcmp(a, "--file-path") == 0) {
            e->file_path = v;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--master") == 0) {
            if (tbml_master_parse(v, &e->threads)) {
                fprintf(stderr, "%s: --master: %s\n", e->name, tbml_errmsg());
                return 2;
            }
        } else if (strcmp(a, "--label") == 0) {
            e->label = v;
        } else if (strcmp(a, "--split-out") == 0) {
            e->split_out = v;
        } else if (strcmp(a, "--seed") == 0) {
            e->split_seed = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--show") == 0) {
            e->show_rows = atoi(v);
        } else {
            char name[64];
            snprintf(name, sizeof(name), "%s", strcmp(a, "--seed-xgb") == 0 ? "--seed" : a);
            for (char *p = name; *p; p++)
                if (*p == '-') *p = '_';
            if (tbml_gbdt_param_set(&e->params, name + 2, v)) {
                fprintf(stderr, "%s: %s (see --help)\n", e->name, tbml_errmsg());
                return 2;
            }
        }
    }
    if (!e->file_path) {
        fprintf(stderr, "%s: give the data with -f/--file-path CSV (see --help)\n", e->name);
        return 2;
    }
    return -1;
}

static int xgb_write_split(const xgb_example *e, const int64_t *perm, int64_t ntrain, int64_t n)
{
    FILE *f = fopen(e->split_out, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s\n", e->name, e->split_out);
        return 1;
    }
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%lld%c", (long long)perm[i], i + 1 == ntrain || i + 1 == n ? '\n' : ' ');
    return fclose(f) == 0 ? 0 : 1;
}

/* Reads, splits, trains, predicts and shows. Returns -1 to go on to the metrics, else the
 * exit code. */
static int xgb_run(xgb_example *e)
{
    tbml_pool_t *own_pool = NULL, *pool = e->app->pool;
    tbml_key_t *key = NULL;
    tbml_gbdt_matrix *all = NULL, *train = NULL;
    tbml_table *table = NULL;
    int64_t *perm = NULL, ntrain;
    int rc = 1;
    if (e->threads >= 0) {
        if (tbml_pool_create(e->threads, &own_pool)) return xgb_fail(e, NULL);
        pool = own_pool;
    }
    e->params.nthread = tbml_pool_size(pool);
    if (e->key_file && example_load_key(e->key_file, e->password_file, &key)) goto out_fail;
    if (tbml_gbdt_read_csv(e->file_path, key, e->label, pool, &all)) goto out_fail;
    perm = malloc(sizeof(int64_t) * (size_t)(all->nrows + 1));
    tbml_gbdt_split(all->nrows, 0.8, e->split_seed, perm, &ntrain);
    if (e->split_out && xgb_write_split(e, perm, ntrain, all->nrows)) goto out;
    train = tbml_gbdt_matrix_take(all, perm, ntrain);
    e->test = tbml_gbdt_matrix_take(all, perm + ntrain, all->nrows - ntrain);
    printf("%s: %lld rows of %d features and label '%s' from %s; %lld to train, %lld to test (seed "
           "%llu)\n",
           e->name, (long long)all->nrows, all->nfeatures, all->label_name, e->file_path,
           (long long)train->nrows, (long long)e->test->nrows, (unsigned long long)e->split_seed);
    tbml_gbdt_train_opts opts = {.pool = pool};
    double t0 = tbml_now();
    if (tbml_gbdt_train(&e->params, train, &opts, &e->model)) goto out_fail;
    printf("%s: trained %d trees (max_depth %d, eta %g) on %d threads in %.3f s\n", e->name,
           e->params.num_round, e->params.max_depth, e->params.eta, tbml_pool_size(pool),
           tbml_now() - t0);
    e->pred = malloc(sizeof(double) * (size_t)(e->test->nrows + 1));
    if (tbml_gbdt_predict(e->model, e->test->x, e->test->nrows, e->test->nfeatures, 0, e->pred))
        goto out_fail;
    if (tbml_gbdt_transform(e->model, e->test, &table)) goto out_fail;
    tbml_show(table, e->show_rows, 20, stdout);
    tbml_table_free(table);
    if (tbml_gbdt_importance_table(e->model, &table)) goto out_fail;
    printf("feature importance:\n");
    tbml_show(table, 100, 20, stdout);
    rc = -1;
    goto out;
out_fail:
    rc = xgb_fail(e, NULL);
out:
    tbml_table_free(table);
    tbml_gbdt_matrix_free(all);
    tbml_gbdt_matrix_free(train);
    free(perm);
    tbml_key_free(key);
    tbml_pool_free(own_pool);
    return rc;
}

static void xgb_done(xgb_example *e)
{
    tbml_gbdt_matrix_free(e->test);
    tbml_gbdt_free(e->model);
    free(e->pred);
    tbml_app_free(e->app);
}

#endif
