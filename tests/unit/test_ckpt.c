/* LeNet checkpoints: a run stopped after K iterations and resumed from its checkpoint ends
 * with bit-identical weights and the same summary rows as a run never interrupted (mid-epoch
 * and at an epoch's end, plain and sealed); only the newest two checkpoints are kept; a
 * damaged or plaintext-in-a-sealed-job newest checkpoint falls back to the previous one, and
 * with none left the resume fails clearly. Data: a slice of Debian's Fashion-MNIST. */
#include "check.h"
#include "fmnist_slice.h"

#include "tbml/checkpoint.h"
#include "tbml/idx.h"
#include "tbml/lenet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256], g_slice[300];

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", g_dir, name);
}

static int exists(const char *dir, long step)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/ckpt-%012ld.tbck", dir, step);
    return access(p, F_OK) == 0;
}

static void flip_bit(const char *dir, long step, long at)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/ckpt-%012ld.tbck", dir, step);
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long off = at < 0 ? size + at : at;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

/* 320 images, batch 32: 10 iterations an epoch, 2 epochs; momentum on (the defaults), so the
 * momentum buffer and the lr decay counter must both survive a resume. */
static tbml_lenet_options options(const char *name, FILE *log)
{
    static char save[8][600], sum[8][600];
    static int k;
    k = (k + 1) % 8;
    tbml_lenet_options o = tbml_lenet_defaults();
    o.data_path = g_slice;
    o.batch_size = 32;
    o.max_epoch = 2;
    o.threads = 2;
    o.progress = 0;
    o.log = log;
    snprintf(save[k], sizeof(save[k]), "%s/%s.tbml", g_dir, name);
    snprintf(sum[k], sizeof(sum[k]), "%s/%s.csv", g_dir, name);
    o.save_path = save[k];
    o.summary_path = sum[k];
    return o;
}

/* The model parameters of path (opened with key), or NULL. */
static float *params_of(const char *path, const tbml_key_t *key, size_t *n)
{
    tbml_nn_t *nn = NULL;
    if (tbml_nn_load(path, key, &nn)) return NULL;
    *n = tbml_nn_param_count(nn);
    float *p = malloc(sizeof(float) * *n);
    memcpy(p, tbml_nn_params(nn), sizeof(float) * *n);
    tbml_nn_free(nn);
    return p;
}

/* The summary without its timing columns (images_per_second, wall_seconds), which differ. */
static char *summary_sans_timing(const char *path)
{
    size_t n;
    char *s = check_slurp(path, &n);
    if (!s) return NULL;
    char *out = malloc(n + 1), *o = out;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        int col = 0;
        for (char *c = line; *c; c++) {
            if (*c == ',') col++;
            if (col != 6 && col != 9) *o++ = *c;
        }
        *o++ = '\n';
    }
    *o = 0;
    free(s);
    return out;
}

static float *g_ref;
static size_t g_nref;
static char *g_ref_summary;

static void same_as_reference(const char *name, const tbml_key_t *key)
{
    char p[600];
    path_in(p, sizeof(p), name);
    strcat(p, ".tbml");
    size_t n = 0;
    float *w = params_of(p, key, &n);
    CHECK(w != NULL);
    CHECK(n == g_nref);
    if (w && n == g_nref) CHECK(memcmp(w, g_ref, sizeof(float) * n) == 0);
    free(w);
    path_in(p, sizeof(p), name);
    strcat(p, ".csv");
    char *s = summary_sans_timing(p);
    CHECK(s != NULL);
    if (s) CHECK(strcmp(s, g_ref_summary) == 0);
    free(s);
}

static void test_reference(FILE *log)
{
    tbml_lenet_options o = options("ref", log);
    tbml_lenet_result r;
    CHECK_OK(tbml_lenet_run(&o, &r));
    CHECK(r.iterations == 20);
    char p[600];
    path_in(p, sizeof(p), "ref.tbml");
    g_ref = params_of(p, NULL, &g_nref);
    path_in(p, sizeof(p), "ref.csv");
    g_ref_summary = summary_sans_timing(p);
    CHECK(g_ref && g_ref_summary);
}

/* Stopped at 14, checkpoints every 3: resumes from 12 (mid-epoch 2), redoing 13 and 14. */
static void test_resume_mid_epoch(FILE *log)
{
    char ck[600];
    path_in(ck, sizeof(ck), "ck-mid");
    tbml_lenet_options o = options("mid", log);
    o.checkpoint_dir = ck;
    o.checkpoint_every = 3;
    o.stop_after = 14;
    tbml_lenet_result r;
    CHECK_OK(tbml_lenet_run(&o, &r));
    CHECK(r.iterations == 14);
    /* only the newest two are kept; a stopped run writes no model */
    CHECK(exists(ck, 12) && exists(ck, 9) && !exists(ck, 6) && !exists(ck, 3));
    CHECK(access(o.save_path, F_OK) != 0);
    o.stop_after = 0;
    o.resume = 1;
    CHECK_OK(tbml_lenet_run(&o, &r));
    CHECK(r.iterations == 20);
    same_as_reference("mid", NULL);
}

/* One checkpoint per epoch (the default), stopped at 15: resumes at the start of epoch 2. */
static void test_resume_epoch_end(FILE *log)
{
    char ck[600];
    path_in(ck, sizeof(ck), "ck-epoch");
    tbml_lenet_options o = options("epoch", log);
    o.checkpoint_dir = ck;
    o.stop_after = 15;
    CHECK_OK(tbml_lenet_run(&o, NULL));
    CHECK(exists(ck, 10) && !exists(ck, 15));
    o.stop_after = 0;
    o.resume = 1;
    tbml_lenet_result r;
    CHECK_OK(tbml_lenet_run(&o, &r));
    same_as_reference("epoch", NULL);
    /* the validation of epoch 1 came from the checkpoint, epoch 2's from this run */
    CHECK(r.count == 200 && r.iterations == 20);
}

/* A flipped bit in the newest checkpoint: the resume falls back to the previous one and still
 * ends bit for bit where the reference did; both damaged: a clear failure. */
static void test_tamper_plain(FILE *log)
{
    char ck[600];
    path_in(ck, sizeof(ck), "ck-tamper");
    tbml_lenet_options o = options("tamper", log);
    o.checkpoint_dir = ck;
    o.checkpoint_every = 4;
    o.stop_after = 13;
    CHECK_OK(tbml_lenet_run(&o, NULL));
    CHECK(exists(ck, 12) && exists(ck, 8));
    flip_bit(ck, 12, 5000); /* inside the weights */
    o.stop_after = 0;
    o.resume = 1;
    o.checkpoint_dir = ck;
    /* resume into another folder's worth of checkpoints would also do; here the resumed run
     * writes 16 and 20 over the damaged ones */
    CHECK_OK(tbml_lenet_run(&o, NULL));
    same_as_reference("tamper", NULL);
    CHECK(exists(ck, 20) && exists(ck, 16) && !exists(ck, 12));
    flip_bit(ck, 20, -2);
    flip_bit(ck, 16, 40);
    tbml_status st = tbml_lenet_run(&o, NULL);
    CHECK(st == TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "ckpt-000000000016.tbck") != NULL);
    /* no checkpoint at all */
    path_in(ck, sizeof(ck), "ck-none");
    o.checkpoint_dir = ck;
    CHECK(tbml_lenet_run(&o, NULL) == TBML_E_NOTFOUND);
}

/* Sealed checkpoints under the job's key: not plaintext, resumable bit for bit, refused
 * without the key, and a plaintext checkpoint slipped into the folder is refused. */
static void test_sealed(FILE *log)
{
    tbml_key_t *key = NULL;
    CHECK_OK(tbml_key_generate("ckpt-test", &key));
    if (!key) return;
    char ck[600], p[700];
    path_in(ck, sizeof(ck), "ck-sealed");
    tbml_lenet_options o = options("sealed", log);
    o.key = key;
    o.checkpoint_dir = ck;
    o.checkpoint_every = 5;
    o.stop_after = 17;
    CHECK_OK(tbml_lenet_run(&o, NULL));
    CHECK(exists(ck, 15) && exists(ck, 10));
    snprintf(p, sizeof(p), "%s/ckpt-%012d.tbck", ck, 15);
    size_t n = 0;
    char *bytes = check_slurp(p, &n);
    CHECK(bytes && n > 8 && memcmp(bytes, "TBMLCKPT", 8) != 0);
    free(bytes);
    /* a plaintext checkpoint as the newest: anyone could have written it */
    uint8_t junk[16] = {0};
    CHECK_OK(tbml_ckpt_save(ck, TBML_CKPT_LENET, 16, NULL, junk, sizeof(junk)));
    /* and without the key nothing opens */
    o.resume = 1;
    o.stop_after = 0;
    o.key = NULL;
    CHECK(tbml_lenet_run(&o, NULL) != TBML_OK);
    o.key = key;
    CHECK_OK(tbml_lenet_run(&o, NULL));
    same_as_reference("sealed", key);
    tbml_key_free(key);
}

/* Settings that would train another model are refused rather than resumed. */
static void test_other_settings(FILE *log)
{
    char ck[600];
    path_in(ck, sizeof(ck), "ck-mid");
    tbml_lenet_options o = options("other", log);
    o.checkpoint_dir = ck;
    o.resume = 1;
    o.batch_size = 16;
    CHECK(tbml_lenet_run(&o, NULL) == TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "other settings") != NULL);
}

int main(void)
{
    if (access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("SKIP: %s not installed (scripts/setup.sh installs dataset-fashion-mnist)\n",
               FMNIST);
        return 0;
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/tbml-test-ckpt-XXXXXX");
    if (!mkdtemp(g_dir)) return 2;
    snprintf(g_slice, sizeof(g_slice), "%s/slice", g_dir);
    if (mkdir(g_slice, 0700) || fmnist_write_slice(g_slice, "train", 320) ||
        fmnist_write_slice(g_slice, "t10k", 200)) {
        fprintf(stderr, "test_ckpt: cannot write the data slice: %s\n", tbml_errmsg());
        return 2;
    }
    char lp[600];
    path_in(lp, sizeof(lp), "log");
    FILE *log = fopen(lp, "w");
    test_reference(log);
    test_resume_mid_epoch(log);
    test_resume_epoch_end(log);
    test_tamper_plain(log);
    test_sealed(log);
    test_other_settings(log);
    fclose(log);
    free(g_ref);
    free(g_ref_summary);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_done();
}
