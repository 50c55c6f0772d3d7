/* GBDT over the communicator: two ranks (the local backend's threads) each hold half of the
 * Boston rows and train with the histogram and root-sum allreduce wired to
 * tbml_comm_allreduce_sum and the same cuts. Both ranks must end with the same model, and it
 * must be the model one process grows on all the rows (to rounding: the sums are added in
 * another order). This is the shape the distributed trainer builds on. */
#include "check.h"
#include "tbml/comm.h"
#include "tbml/gbdt.h"

#include <math.h>

typedef struct {
    tbml_gbdt_matrix *all, *part[2];
    tbml_gbdt_params params;
    double *pred[2]; /* each rank's predictions on all rows */
} job;

static int allreduce_f64(void *ctx, double *buf, size_t count)
{
    return tbml_comm_allreduce_sum(ctx, buf, count, TBML_DT_F64) == TBML_OK ? 0 : -1;
}

static tbml_status rank_main(tbml_comm_t *c, void *arg)
{
    job *j = arg;
    int r = tbml_comm_rank(c);
    tbml_gbdt_train_opts opts = {
        .allreduce = allreduce_f64, .allreduce_ctx = c, .cuts_from = j->all};
    tbml_gbdt_model_t *m = NULL;
    tbml_status st = tbml_gbdt_train(&j->params, j->part[r], &opts, &m);
    if (st) return st;
    j->pred[r] = tbml_malloc(sizeof(double) * (size_t)j->all->nrows);
    st = tbml_gbdt_predict(m, j->all->x, j->all->nrows, j->all->nfeatures, 0, j->pred[r]);
    tbml_gbdt_free(m);
    return st;
}

int main(void)
{
    const char *dir = getenv("TBML_SHARED");
    char path[1024];
    snprintf(path, sizeof(path), "%s/datasets/BostonHousing.csv", dir ? dir : "../shared");
    job j = {0};
    CHECK_OK(tbml_gbdt_read_csv(path, NULL, NULL, NULL, &j.all));
    if (!j.all) return check_done();
    int64_t n = j.all->nrows, *idx = tbml_malloc(sizeof(int64_t) * (size_t)n), k[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        k[r] = 0;
        for (int64_t i = r; i < n; i += 2)
            idx[k[r]++] = i;
        j.part[r] = tbml_gbdt_matrix_take(j.all, idx, k[r]);
    }
    tbml_gbdt_params_default(&j.params);
    j.params.num_round = 20;
    j.params.nthread = 1;

    tbml_key_t *key = NULL;
    CHECK_OK(tbml_key_generate("gbdt-job", &key));
    tbml_local_world_t *w = NULL;
    CHECK_OK(tbml_local_world_create(2, &w));
    tbml_comm_options o = {.job_key = key, .crypto_threads = -1};
    tbml_status st[2];
    CHECK_OK(tbml_local_run(w, &o, 0, rank_main, &j, st, NULL));
    CHECK_OK(st[0]);
    CHECK_OK(st[1]);

    tbml_gbdt_model_t *single = NULL;
    tbml_gbdt_train_opts opts = {.cuts_from = j.all};
    CHECK_OK(tbml_gbdt_train(&j.params, j.all, &opts, &single));
    if (single && j.pred[0] && j.pred[1]) {
        double *p = tbml_malloc(sizeof(double) * (size_t)n);
        CHECK_OK(tbml_gbdt_predict(single, j.all->x, n, j.all->nfeatures, 0, p));
        CHECK(memcmp(j.pred[0], j.pred[1], sizeof(double) * (size_t)n) == 0);
        double d = 0;
        for (int64_t i = 0; i < n; i++)
            d = fmax(d, fabs(p[i] - j.pred[0][i]));
        printf("2 ranks vs 1 process: largest prediction difference %.3g\n", d);
        CHECK(d < 1e-3);
        tbml_free(p);
    }
    tbml_gbdt_free(single);
    tbml_local_world_free(w);
    tbml_key_free(key);
    for (int r = 0; r < 2; r++) {
        tbml_free(j.pred[r]);
        tbml_gbdt_matrix_free(j.part[r]);
    }
    tbml_gbdt_matrix_free(j.all);
    tbml_free(idx);
    return check_done();
}
