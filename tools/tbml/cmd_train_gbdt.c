/* `tbml train --model gbdt`: gradient-boosted trees on the user's own CSV (plain or sealed),
 * with XGBoost's parameter names, written to a model file (sealed when a key is given). */
#include "cli.h"
#include "tbml/app.h"
#include "tbml/checkpoint.h"
#include "tbml/comm.h"
#include "tbml/gbdt.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: tbml train --model gbdt -f|--file-path CSV --model-out FILE [OPTIONS]\n\n"
        "Trains gradient-boosted trees as XGBoost's tree_method=hist does. CSV has a header line "
        "and\n"
        "numbers only (empty = missing); it may be sealed ('tbml encrypt'), then --key opens "
        "it.\n\n"
        "  --label COL               the label column (default: the last)\n"
        "  --objective OBJ           reg:squarederror (default) or binary:logistic (labels 0/1)\n"
        "  --num-round N             trees (default 10); and any XGBoost parameter as --NAME "
        "VALUE:\n"
        "                            max_depth 6, eta 0.3, min_child_weight 1, lambda 1, gamma 0,\n"
        "                            subsample 1, colsample_bytree 1, max_bin 256, base_score "
        "0.5,\n"
        "                            seed 0 ('-' and '_' are the same)\n"
        "  --model-out FILE          where the model goes (written atomically)\n"
        "  --key KEYFILE             open a sealed CSV and seal the model under this key; its\n"
        "                            password from --password-file F or --password-fd N, or the "
        "TTY\n"
        "  --master local[N]         threads (local[*] = all cores, the default)\n"
        "  --test-fraction F         hold out a seeded fraction F of rows and report test metrics\n"
        "  --split-seed N            the hold-out's seed (default 42)\n"
        "  --verbose                 the training metric after every round\n"
        "  --checkpoint DIR          write the model so far into DIR as a checkpoint (sealed with\n"
        "                            --key; docs/formats/checkpoint.md), the newest two kept\n"
        "  --checkpoint-every N      rounds between checkpoints (default 10)\n"
        "  --resume                  continue from the newest good checkpoint in DIR\n");
}

static void report(const char *what, const tbml_gbdt_model_t *model, const tbml_gbdt_matrix *m)
{
    double *p = tbml_malloc(sizeof(double) * (size_t)(m->nrows + 1));
    if (tbml_gbdt_predict(model, m->x, m->nrows, m->nfeatures, 0, p) == TBML_OK) {
        if (tbml_gbdt_model_objective(model) == TBML_GBDT_BINARY_LOGISTIC)
            printf("%s: %lld rows, accuracy %.6f, AUC %.6f\n", what, (long long)m->nrows,
                   tbml_gbdt_accuracy(p, m->y, m->nrows), tbml_gbdt_auc(p, m->y, m->nrows));
        else
            printf("%s: %lld rows, RMSE %.6f\n", what, (long long)m->nrows,
                   tbml_gbdt_rmse(p, m->y, m->nrows));
    }
    tbml_free(p);
}

/* Checkpoints: a fingerprint of the training rows (so a resume on other data is refused) and the
 * model file's bytes, as a TBML_CKPT_GBDT payload; only rank 0 writes. */
typedef struct {
    const char *dir;
    const tbml_key_t *key;
    uint32_t data_crc;
    int rank;
} gbdt_ckpt;

static uint32_t data_crc(const tbml_gbdt_matrix *m)
{
    /* FNV-1a over the rows' bytes: a fingerprint against resuming on other data, not a MAC (a
     * sealed checkpoint is authenticated as a whole) */
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)m->nfeatures;
    const uint8_t *parts[2] = {(const uint8_t *)m->x, (const uint8_t *)m->y};
    size_t sizes[2] = {sizeof(float) * (size_t)m->nrows * (size_t)m->nfeatures,
                       sizeof(float) * (size_t)m->nrows};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sizes[k]; i++)
            h = (h ^ parts[k][i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static tbml_status write_checkpoint(const tbml_gbdt_model_t *model, void *arg)
{
    gbdt_ckpt *c = arg;
    if (c->rank != 0) return TBML_OK;
    uint8_t *bytes = NULL;
    size_t size = 0;
    tbml_status st = tbml_gbdt_serialize(model, &bytes, &size);
    if (st) return st;
    uint8_t *payload = tbml_malloc(size + 4);
    for (int i = 0; i < 4; i++)
        payload[i] = (uint8_t)(c->data_crc >> (8 * i));
    memcpy(payload + 4, bytes, size);
    st = tbml_ckpt_save(c->dir, TBML_CKPT_GBDT, tbml_gbdt_ntrees(model), c->key, payload, size + 4);
    memset(payload, 0, size + 4);
    memset(bytes, 0, size);
    tbml_free(payload);
    tbml_free(bytes);
    return st;
}

/* The model of the newest good checkpoint in c->dir. */
static tbml_status read_checkpoint(const gbdt_ckpt *c, tbml_gbdt_model_t **out)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    long step = 0;
    char path[4096];
    tbml_status st = tbml_ckpt_load_latest(c->dir, TBML_CKPT_GBDT, c->key, &buf, &size, &step, path,
                                           sizeof(path));
    if (st) return st;
    uint32_t crc = size >= 4 ? (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                                   (uint32_t)buf[3] << 24
                             : 0;
    if (size < 4 || crc != c->data_crc)
        st = tbml_error(TBML_E_ARG,
                        "%s: written by a run on other training rows; resume on the same data",
                        path);
    else if (!(st = tbml_gbdt_parse(buf + 4, size - 4, path, out)) && c->rank == 0)
        printf("Resuming from %s (%d trees)\n", path, tbml_gbdt_ntrees(*out));
    memset(buf, 0, size);
    tbml_free(buf);
    return st;
}

/* The histogram and gradient-sum allreduce of a distributed run: sealed, in tbml (MPI only moves
 * ciphertext). */
static int sealed_allreduce(void *ctx, double *buf, size_t count)
{
    return tbml_comm_allreduce_sum(ctx, buf, count, TBML_DT_F64) == TBML_OK ? 0 : -1;
}

int cmd_train_gbdt(int argc, char **argv)
{
    const char *file = NULL, *label = NULL, *model_out = NULL, *key_path = NULL;
    cli_password_source pw = {NULL, -1};
    double test_fraction = 0;
    uint64_t split_seed = 42;
    int threads = 0, verbose = 0, rc = 1, resume = 0, every = 10;
    const char *ckpt_dir = NULL;
    tbml_gbdt_params params;
    tbml_gbdt_params_default(&params);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        int r = cli_password_option(argc, argv, &i, &pw);
        if (r < 0) return 2;
        if (r > 0) {
            i--; /* cli_password_option leaves i past its value */
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(a, "--resume") == 0) {
            resume = 1;
            continue;
        }
        char opt[64];
        const char *v;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq) {
            snprintf(opt, sizeof(opt), "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else if (strncmp(a, "--", 2) == 0 || strcmp(a, "-f") == 0) {
            snprintf(opt, sizeof(opt), "%s", a);
            if (i + 1 >= argc) return cli_usage_error("%s needs a value", a);
            v = argv[++i];
        } else {
            return cli_usage_error("unexpected argument '%s'", a);
        }
        if (strcmp(opt, "-f") == 0 || strcmp(opt, "--file-path") == 0) {
            file = v;
        } else if (strcmp(opt, "--label") == 0) {
            label = v;
        } else if (strcmp(opt, "--model-out") == 0) {
            model_out = v;
        } else if (strcmp(opt, "--key") == 0) {
            key_path = v;
        } else if (strcmp(opt, "--master") == 0) {
            if (tbml_master_parse(v, &threads)) return cli_fail(TBML_E_ARG);
        } else if (strcmp(opt, "--test-fraction") == 0) {
            char *end;
            test_fraction = strtod(v, &end);
            if (*end || !(test_fraction > 0 && test_fraction < 1))
                return cli_usage_error("--test-fraction: '%s' is not a number in (0, 1)", v);
        } else if (strcmp(opt, "--checkpoint") == 0) {
            ckpt_dir = v;
        } else if (strcmp(opt, "--checkpoint-every") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 1 || n > 1000000)
                return cli_usage_error("--checkpoint-every: '%s' is not a round count >= 1", v);
            every = (int)n;
        } else if (strcmp(opt, "--split-seed") == 0) {
            split_seed = strtoull(v, NULL, 10);
        } else {
            for (char *p = opt; *p; p++)
                if (*p == '-') *p = '_';
            if (tbml_gbdt_param_set(&params, opt + 2, v)) {
                if (strncmp(tbml_errmsg(), "unknown parameter", 17) == 0)
                    return cli_usage_error("unknown option '%s'", a);
                return cli_fail(TBML_E_ARG);
            }
        }
    }
    if (!file) return cli_usage_error("give the training data with --file-path CSV");
    if (!model_out) return cli_usage_error("give the model's path with --model-out FILE");
    if (resume && !ckpt_dir) return cli_usage_error("--resume needs --checkpoint DIR");
    params.nthread = threads;

    tbml_key_t *key = NULL;
    tbml_pool_t *pool = NULL;
    tbml_gbdt_matrix *all = NULL, *train = NULL, *test = NULL;
    tbml_gbdt_model_t *model = NULL, *resumed = NULL;
    int64_t *perm = NULL;
    tbml_comm_t *comm = NULL;
    int rank = 0, nranks = 1;
    tbml_status st;
    /* under mpirun: each rank trains on its share of the rows (docs/deploy.md) */
    if (tbml_comm_launched(NULL)) {
        if ((st = tbml_comm_open(NULL, &comm))) goto fail;
        rank = tbml_comm_rank(comm);
        nranks = tbml_comm_size(comm);
    }
    if (key_path && (st = cli_load_key_shared(comm, key_path, &pw, &key))) goto fail;
    if ((st = tbml_pool_create(threads, &pool))) goto fail;
    if ((st = tbml_gbdt_read_csv(file, key, label, pool, &all))) goto fail;
    if (test_fraction > 0) {
        int64_t ntrain;
        perm = tbml_malloc(sizeof(int64_t) * (size_t)(all->nrows + 1));
        tbml_gbdt_split(all->nrows, 1.0 - test_fraction, split_seed, perm, &ntrain);
        train = tbml_gbdt_matrix_take(all, perm, ntrain);
        test = tbml_gbdt_matrix_take(all, perm + ntrain, all->nrows - ntrain);
    }
    const tbml_gbdt_matrix *tm = train ? train : all;
    if (rank == 0)
    printf("gbdt: %s, %lld rows x %d features, label '%s', %s, %d rounds, max_depth %d, eta %g, %d "
           "threads\n",
           file, (long long)tm->nrows, tm->nfeatures, all->label_name,
           tbml_gbdt_objective_name(params.objective), params.num_round, params.max_depth,
           params.eta, tbml_pool_size(pool));
    tbml_gbdt_train_opts opts = {.pool = pool, .verbose = verbose};
    tbml_gbdt_matrix mine = *tm;
    if (nranks > 1) {
        int64_t lo = tm->nrows * rank / nranks, hi = tm->nrows * (rank + 1) / nranks;
        mine.nrows = hi - lo;
        mine.x = tm->x + lo * tm->nfeatures;
        mine.y = tm->y + lo;
        opts.cuts_from = tm;
        opts.allreduce = sealed_allreduce;
        opts.allreduce_ctx = comm;
    }
    gbdt_ckpt ck = {ckpt_dir, key, 0, rank};
    if (ckpt_dir) {
        /* every rank holds all training rows (tm), so they agree on the CRC */
        ck.data_crc = data_crc(tm);
        opts.checkpoint = write_checkpoint;
        opts.checkpoint_arg = &ck;
        opts.checkpoint_every = every;
        if (resume) {
            if ((st = read_checkpoint(&ck, &resumed))) goto fail;
            opts.resume_from = resumed;
        }
    }
    if (verbose && tbml_log_get_level() < TBML_LOG_INFO) tbml_log_set_level(TBML_LOG_INFO);
    double t0 = tbml_now();
    if ((st = tbml_gbdt_train(&params, &mine, &opts, &model))) goto fail;
    if (rank != 0) { /* every rank holds the same model; rank 0 reports and writes it */
        rc = 0;
        goto out;
    }
    printf("trained in %.3f s\n", tbml_now() - t0);
    report("train", model, tm);
    if (test) report("test", model, test);
    if ((st = tbml_gbdt_save(model, model_out, key))) goto fail;
    if (key)
        printf("model written to %s (sealed with key '%s')\n", model_out, tbml_key_name(key));
    else
        printf("model written to %s\n", model_out);
    rc = 0;
    goto out;
fail:
    rc = cli_fail(st);
    if (comm && nranks > 1) tbml_comm_abort(comm, st);
out:
    tbml_comm_free(comm);
    tbml_gbdt_free(model);
    tbml_gbdt_free(resumed);
    tbml_gbdt_matrix_free(all);
    tbml_gbdt_matrix_free(train);
    tbml_gbdt_matrix_free(test);
    tbml_free(perm);
    tbml_pool_free(pool);
    tbml_key_free(key);
    return rc;
}
