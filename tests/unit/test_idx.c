/* The IDX reader (plain, gzip, bad inputs: each failure with its own clear message), model files
 * (round trip, damage), and the small formatting pieces of the LeNet job (Java's Float.toString,
 * --master local[N]). */
#include "check.h"

#include "tbml/idx.h"
#include "tbml/lenet.h"
#include "tbml/nn.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[256];

static const char *path_of(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) exit(2);
    fclose(f);
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, b, (unsigned)n) != (int)n) exit(2);
    gzclose(g);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) exit(2);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) exit(2);
    fclose(f);
    return b;
}

/* A 5-image 3x4 set and its labels, as IDX bytes. */
static size_t make_images(uint8_t *buf, uint32_t n)
{
    uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(buf, hdr, 16);
    for (uint32_t i = 0; i < n * 12; i++)
        buf[16 + i] = (uint8_t)(i * 7);
    return 16 + n * 12;
}
static size_t make_labels(uint8_t *buf, uint32_t n)
{
    uint8_t hdr[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
    memcpy(buf, hdr, 8);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i % 3);
    return 8 + n;
}

static void test_read_plain_and_gzip(void)
{
    uint8_t im[256], lb[64];
    size_t ni = make_images(im, 5), nl = make_labels(lb, 5);
    write_bytes(path_of("im"), im, ni);
    write_gz(path_of("im.gz"), im, ni);
    write_bytes(path_of("lb"), lb, nl);
    for (int gz = 0; gz < 2; gz++) {
        tbml_idx_t *t = NULL;
        CHECK_OK(tbml_idx_read(path_of(gz ? "im.gz" : "im"), NULL, &t));
        if (!t) continue;
        CHECK(t->type == TBML_IDX_U8 && t->ndim == 3 && t->dims[0] == 5 && t->dims[1] == 3 &&
              t->dims[2] == 4 && t->count == 60);
        CHECK(memcmp(t->data, im + 16, 60) == 0);
        tbml_idx_free(t);
    }
    tbml_idx_labeled_t d;
    CHECK_OK(tbml_idx_read_labeled(path_of("im.gz"), path_of("lb"), NULL, &d));
    CHECK(d.n == 5 && d.rows == 3 && d.cols == 4 && d.classes == 3 && d.labels[4] == 1);
    tbml_idx_labeled_free(&d);

    /* wider types are big-endian on disk, host order in memory; write + read round trip */
    int32_t vals[6] = {1, -2, 300000, 4, 5, -6};
    tbml_idx_t w = {TBML_IDX_I32, 2, {2, 3}, 6, 4, vals};
    CHECK_OK(tbml_idx_write(path_of("i32"), &w));
    size_t n;
    uint8_t *raw = read_bytes(path_of("i32"), &n);
    CHECK(n == 4 + 8 + 24 && raw[2] == 0x0C && raw[3] == 2 && raw[12 + 7] == 0xFE);
    free(raw);
    tbml_idx_t *r = NULL;
    CHECK_OK(tbml_idx_read(path_of("i32"), NULL, &r));
    CHECK(r && r->count == 6 && memcmp(r->data, vals, sizeof(vals)) == 0);
    tbml_idx_free(r);
}

static void test_bad_inputs(void)
{
    uint8_t im[256], lb[64];
    size_t ni = make_images(im, 5), nl = make_labels(lb, 4);
    tbml_idx_t *t = NULL;
    tbml_idx_labeled_t d;

    /* wrong magic number */
    uint8_t bad[256];
    memcpy(bad, im, ni);
    bad[2] = 0x42;
    write_bytes(path_of("badmagic"), bad, ni);
    CHECK_ST(tbml_idx_read(path_of("badmagic"), NULL, &t), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "magic number 0x00004203") != NULL);
    CHECK(strstr(tbml_errmsg(), "badmagic") != NULL);

    /* truncated: the file and the byte offset where it ends */
    write_bytes(path_of("short"), im, ni - 7);
    CHECK_ST(tbml_idx_read(path_of("short"), NULL, &t), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "short: truncated at byte 69") != NULL);
    write_bytes(path_of("short2"), im, 10);
    CHECK_ST(tbml_idx_read(path_of("short2"), NULL, &t), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "truncated at byte 10") != NULL);

    /* a truncated gzip stream */
    write_gz(path_of("full.gz"), im, ni);
    size_t gn;
    uint8_t *gz = read_bytes(path_of("full.gz"), &gn);
    write_bytes(path_of("cut.gz"), gz, gn - 12);
    free(gz);
    CHECK_ST(tbml_idx_read(path_of("cut.gz"), NULL, &t), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "cut.gz") != NULL);

    /* trailing bytes */
    memcpy(bad, im, ni);
    write_bytes(path_of("long"), bad, ni + 3);
    CHECK_ST(tbml_idx_read(path_of("long"), NULL, &t), TBML_E_FORMAT);

    /* image and label counts that differ */
    write_bytes(path_of("im5"), im, ni);
    write_bytes(path_of("lb4"), lb, nl);
    CHECK_ST(tbml_idx_read_labeled(path_of("im5"), path_of("lb4"), NULL, &d), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "image and label counts differ") != NULL);
    CHECK(strstr(tbml_errmsg(), "5 images") != NULL && strstr(tbml_errmsg(), "4 labels") != NULL);

    /* labels given as images */
    CHECK_ST(tbml_idx_read_labeled(path_of("lb4"), path_of("lb4"), NULL, &d), TBML_E_FORMAT);

    /* missing file */
    CHECK_ST(tbml_idx_read(path_of("nope"), NULL, &t), TBML_E_NOTFOUND);

    /* a sealed file without a key is refused before anything is read */
    uint8_t sealed[64] = "TBMLSEAL";
    write_bytes(path_of("sealed"), sealed, sizeof(sealed));
    tbml_status st = tbml_idx_read(path_of("sealed"), NULL, &t);
    CHECK(st == TBML_E_KEY || st == TBML_E_UNSUPPORTED);
    CHECK(strstr(tbml_errmsg(), "sealed") != NULL);

    /* the parser on every prefix of a valid file: never a crash, always a clean error */
    int ok = 1;
    for (size_t k = 0; k < ni; k++) {
        if (tbml_idx_parse(im, k, "prefix", &t) != TBML_E_FORMAT) ok = 0;
    }
    CHECK(ok);
}

static void test_model_files(void)
{
    tbml_nn_t *a = NULL, *b = NULL;
    CHECK_OK(tbml_nn_lenet5(10, 3, &a));
    tbml_nn_set_input_transform(a, 0.0127, -0.42);
    CHECK_OK(tbml_nn_save(a, path_of("m.tbml"), NULL));
    CHECK_OK(tbml_nn_load(path_of("m.tbml"), NULL, &b));
    if (a && b) {
        CHECK(tbml_nn_param_count(b) == 22278 && tbml_nn_layer_count(b) == 12);
        CHECK(memcmp(tbml_nn_params(a), tbml_nn_params(b), 22278 * sizeof(float)) == 0);
        double sc, of;
        tbml_nn_input_transform(b, &sc, &of);
        CHECK(sc == 0.0127 && of == -0.42);
    }
    tbml_nn_free(b);
    b = NULL;
    size_t n;
    uint8_t *raw = read_bytes(path_of("m.tbml"), &n);
    CHECK(n == 48 + 12 * 24 + 8 + 4 * 22278 + 4 && memcmp(raw, "TBMLMODL", 8) == 0);
    /* one flipped bit anywhere: refused */
    raw[5000] ^= 1;
    write_bytes(path_of("m-bad.tbml"), raw, n);
    CHECK_ST(tbml_nn_load(path_of("m-bad.tbml"), NULL, &b), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "m-bad.tbml") != NULL);
    raw[5000] ^= 1;
    write_bytes(path_of("m-short.tbml"), raw, n - 100);
    CHECK_ST(tbml_nn_load(path_of("m-short.tbml"), NULL, &b), TBML_E_FORMAT);
    /* not a model */
    CHECK_ST(
        tbml_nn_deserialize((const uint8_t *)"hello world, not a model at all....", 35, "x", &b),
        TBML_E_FORMAT);
    /* every prefix fails cleanly */
    int ok = 1;
    for (size_t k = 0; k < 400; k++)
        if (tbml_nn_deserialize(raw, k, "prefix", &b) == TBML_OK) ok = 0;
    CHECK(ok);
    free(raw);
    tbml_nn_free(a);
}

static void test_formatting(void)
{
    char b[64];
    struct {
        float v;
        const char *want;
    } cases[] = {{0.9488f, "0.9488"}, {0.9696f, "0.9696"}, {1.0f, "1.0"},      {0.5f, "0.5"},
                 {0.1f, "0.1"},       {0.0f, "0.0"},       {9e-4f, "9.0E-4"},  {0.001f, "0.001"},
                 {123.25f, "123.25"}, {1e7f, "1.0E7"},     {0.8512f, "0.8512"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tbml_format_java_float(cases[i].v, b, sizeof(b));
        if (strcmp(b, cases[i].want) != 0)
            fprintf(stderr, "java float %g: got %s, want %s\n", (double)cases[i].v, b,
                    cases[i].want);
        CHECK(strcmp(b, cases[i].want) == 0);
    }
    int th = 0;
    CHECK_OK(tbml_parse_master("local[3]", &th));
    CHECK(th == 3);
    CHECK_OK(tbml_parse_master("local", &th));
    CHECK(th == 1);
    CHECK_OK(tbml_parse_master("local[*]", &th));
    CHECK(th == tbml_ncores());
    CHECK_ST(tbml_parse_master("local[0]", &th), TBML_E_ARG);
    CHECK_ST(tbml_parse_master("yarn", &th), TBML_E_UNSUPPORTED);
    CHECK_ST(tbml_parse_master("local[2", &th), TBML_E_ARG);

    tbml_lenet_options o = tbml_lenet_defaults();
    char *argv[] = {"lenet",      "--dataPath", "/d",       "-b",       "64", "--learningRate=0.05",
                    "--momentum", "0.9",        "--master", "local[2]", "-e", "3"};
    int help = 0;
    CHECK_OK(tbml_lenet_parse_args(12, argv, &o, &help));
    CHECK(o.batch_size == 64 && o.sgd.learning_rate == 0.05 && o.sgd.momentum == 0.9 &&
          o.threads == 2 && o.max_epoch == 3 && strcmp(o.data_path, "/d") == 0);
    CHECK(o.sgd.learning_rate_decay == 0.0002); /* BigDL's lenet5.py default */
    char *bad[] = {"lenet", "--dataPath", "/d", "--batchSize", "zero"};
    CHECK_ST(tbml_lenet_parse_args(5, bad, &o, &help), TBML_E_ARG);
    CHECK(strstr(tbml_errmsg(), "--batchSize") != NULL);
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/tbml-test-idx-XXXXXX");
    if (!mkdtemp(g_dir)) return 2;
    test_read_plain_and_gzip();
    test_bad_inputs();
    test_model_files();
    test_formatting();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_done();
}
