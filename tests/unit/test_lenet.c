/* The LeNet job end to end on a slice of Debian's Fashion-MNIST (dataset-fashion-mnist, installed
 * by scripts/setup.sh): a short training reaches a stated accuracy, a fixed seed and thread
 * count reproduce the trained model bit for bit, the summary CSV has one row per iteration and
 * epoch, and a saved model evaluates to the same accuracy the job reported. */
#include "check.h"
#include "fmnist_slice.h"

#include "tbml/idx.h"
#include "tbml/lenet.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256], g_slice[300];

static tbml_lenet_options slice_options(FILE *log)
{
    tbml_lenet_options o = tbml_lenet_defaults();
    o.data_path = g_slice;
    o.batch_size = 32;
    o.threads = 2;
    o.progress = 0;
    o.log = log;
    return o;
}

/* 2,000 training images, batch 32, 3 epochs, default SGD: measured 78.8% on 2,000 test images;
 * the bar leaves room for another libm or BLAS build, and a broken layer lands near 10%. */
static void test_short_training(void)
{
    char log_path[512], sum_path[512], model_path[512];
    snprintf(log_path, sizeof(log_path), "%s/log", g_dir);
    snprintf(sum_path, sizeof(sum_path), "%s/summary.csv", g_dir);
    snprintf(model_path, sizeof(model_path), "%s/m.tbml", g_dir);
    FILE *log = fopen(log_path, "w");
    tbml_lenet_options o = slice_options(log);
    o.max_epoch = 3;
    o.summary_path = sum_path;
    o.save_path = model_path;
    tbml_lenet_result r;
    CHECK_OK(tbml_lenet_run(&o, &r));
    fclose(log);
    printf("short training: accuracy %.4f after %ld iterations\n", r.accuracy, r.iterations);
    CHECK(r.iterations == 3 * 63);
    CHECK(r.count == 2000);
    CHECK(r.accuracy >= 0.72);
    /* Fashion-MNIST's own statistics, not MNIST's */
    CHECK(r.mean > 0.27 && r.mean < 0.30 && r.std > 0.34 && r.std < 0.37);

    size_t n;
    char *text = check_slurp(log_path, &n);
    CHECK(text && strstr(text, "[Epoch 1 2016/2000][Iteration 63][Wall Clock ") == text);
    CHECK(text && strstr(text, "[Epoch 3 2016/2000][Iteration 189][Wall Clock ") != NULL);
    char want[128];
    snprintf(want, sizeof(want),
             "Top1Accuracy is Accuracy(correct: %ld, count: 2000, accuracy: ", r.correct);
    CHECK(text && strstr(text, want) != NULL);
    free(text);

    char *csv = check_slurp(sum_path, &n);
    int iters = 0, epochs = 0;
    for (char *p = csv; p && (p = strchr(p, '\n')) != NULL; p++) {
        if (strncmp(p + 1, "iteration,", 10) == 0) iters++;
        if (strncmp(p + 1, "epoch,", 6) == 0) epochs++;
    }
    CHECK(csv && strncmp(csv, "kind,epoch,iteration,", 21) == 0);
    CHECK(iters == 189 && epochs == 3);
    free(csv);

    /* the saved model, evaluated on its own, gives the job's last accuracy */
    tbml_nn_t *nn = NULL;
    tbml_idx_labeled_t test;
    CHECK_OK(tbml_nn_load(model_path, NULL, &nn));
    char tim[512], tlb[512];
    snprintf(tim, sizeof(tim), "%s/t10k-images-idx3-ubyte", g_slice);
    snprintf(tlb, sizeof(tlb), "%s/t10k-labels-idx1-ubyte", g_slice);
    CHECK_OK(tbml_idx_read_labeled(tim, tlb, NULL, &test));
    if (nn && test.n) {
        float *x = tbml_malloc(sizeof(float) * 2000 * 784);
        tbml_lenet_normalize(test.images, 2000 * 784, r.mean, r.std, x);
        long correct = 0;
        double loss = 0;
        CHECK_OK(tbml_nn_evaluate(nn, NULL, TBML_LOSS_CLASSNLL, x, test.labels, 2000, NULL, NULL,
                                  &correct, &loss));
        CHECK(correct == r.correct);
        CHECK(loss > 0 && loss < 1.5);
        tbml_free(x);
    }
    tbml_idx_labeled_free(&test);
    tbml_nn_free(nn);
}

static uint8_t *train_once(int threads, const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *log = fopen("/dev/null", "w");
    tbml_lenet_options o = slice_options(log);
    o.train_limit = 1000;
    o.test_limit = 200;
    o.max_epoch = 1;
    o.threads = threads;
    o.save_path = path;
    CHECK_OK(tbml_lenet_run(&o, NULL));
    fclose(log);
    return (uint8_t *)check_slurp(path, n);
}

static void test_reproducible(void)
{
    size_t na = 0, nb = 0, nc = 0;
    uint8_t *a = train_once(2, "a.tbml", &na), *b = train_once(2, "b.tbml", &nb);
    uint8_t *c = train_once(1, "c.tbml", &nc);
    CHECK(a && b && na == nb && na > 0 && memcmp(a, b, na) == 0);
    /* one thread sums the gradient in another order: a different model, a valid one */
    CHECK(c && nc == na && memcmp(a, c, na) != 0);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    if (access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("SKIP: %s not installed (scripts/setup.sh installs dataset-fashion-mnist)\n",
               FMNIST);
        return 0;
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/tbml-test-lenet-XXXXXX");
    if (!mkdtemp(g_dir)) return 2;
    snprintf(g_slice, sizeof(g_slice), "%s/slice", g_dir);
    if (mkdir(g_slice, 0700) || fmnist_write_slice(g_slice, "train", 2000) ||
        fmnist_write_slice(g_slice, "t10k", 2000)) {
        fprintf(stderr, "test_lenet: cannot write the data slice: %s\n", tbml_errmsg());
        return 2;
    }
    test_short_training();
    test_reproducible();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_done();
}
