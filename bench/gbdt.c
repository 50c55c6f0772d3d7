/* The tbml side of bench/gbdt.sh: trains on the first NTRAIN rows of a bench_gen_higgs_like file
 * and reports training time and RMSE on the remaining rows, as one parseable line.
 *
 * usage: bench_gbdt FILE NTRAIN ROUNDS DEPTH NTHREAD */
#include "tbml/gbdt.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s FILE NTRAIN ROUNDS DEPTH NTHREAD\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long long n = ftell(f) / (29 * 4);
    fseek(f, 0, SEEK_SET);
    float *raw = tbml_malloc((size_t)n * 29 * 4);
    if ((long long)fread(raw, 29 * 4, (size_t)n, f) != n) {
        fprintf(stderr, "%s: short read\n", argv[1]);
        return 1;
    }
    fclose(f);
    long long ntrain = atoll(argv[2]);
    if (ntrain <= 0 || ntrain >= n) {
        fprintf(stderr, "NTRAIN must be in (0, %lld)\n", n);
        return 2;
    }
    tbml_gbdt_matrix m = {n,    28,  tbml_malloc((size_t)n * 28 * 4), tbml_malloc((size_t)n * 4),
                          NULL, NULL};
    for (long long r = 0; r < n; r++) {
        for (int j = 0; j < 28; j++)
            m.x[r * 28 + j] = raw[r * 29 + j];
        m.y[r] = raw[r * 29 + 28];
    }
    tbml_free(raw);
    tbml_gbdt_matrix train = m;
    train.nrows = ntrain;
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.num_round = atoi(argv[3]);
    p.max_depth = atoi(argv[4]);
    p.nthread = atoi(argv[5]);
    p.max_bin = 256;
    tbml_pool_t *pool;
    if (tbml_pool_create(p.nthread, &pool)) return 1;
    tbml_gbdt_train_opts opts = {.pool = pool};
    tbml_gbdt_model_t *model;
    double t0 = tbml_now();
    if (tbml_gbdt_train(&p, &train, &opts, &model)) {
        fprintf(stderr, "train: %s\n", tbml_errmsg());
        return 1;
    }
    double train_s = tbml_now() - t0;
    long long ntest = n - ntrain;
    double *pred = tbml_malloc((size_t)ntest * sizeof(double));
    t0 = tbml_now();
    if (tbml_gbdt_predict(model, m.x + ntrain * 28, ntest, 28, 0, pred)) return 1;
    double pred_s = tbml_now() - t0;
    printf("tbml train_s=%.3f predict_s=%.3f rmse=%.6f\n", train_s, pred_s,
           tbml_gbdt_rmse(pred, m.y + ntrain, ntest));
    tbml_free(pred);
    tbml_gbdt_free(model);
    tbml_pool_free(pool);
    tbml_free(m.x);
    tbml_free(m.y);
    return 0;
}
