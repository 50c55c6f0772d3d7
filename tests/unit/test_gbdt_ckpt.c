/* GBDT checkpoints: a training resumed from the model of an earlier round (as `tbml train
 * --model gbdt --checkpoint` keeps it) ends with the same model file, byte for byte, and the
 * same training margins as a training never interrupted, with row and column sampling on,
 * for both objectives; a checkpoint of other parameters is refused. */
#include "check.h"

#include "tbml/gbdt.h"

#include <math.h>
#include <string.h>

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static double urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

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

/* The checkpoint callback: keeps the serialised model of the given round. */
typedef struct {
    int want_trees;
    uint8_t *bytes;
    size_t size;
    int calls;
} keeper;

static tbml_status keep(const tbml_gbdt_model_t *model, void *arg)
{
    keeper *k = arg;
    k->calls++;
    if (tbml_gbdt_ntrees(model) != k->want_trees) return TBML_OK;
    tbml_free(k->bytes);
    return tbml_gbdt_serialize(model, &k->bytes, &k->size);
}

static void test_resume(tbml_gbdt_objective obj)
{
    tbml_gbdt_matrix *m = random_matrix(3000, 6);
    if (obj == TBML_GBDT_BINARY_LOGISTIC)
        for (int64_t r = 0; r < m->nrows; r++)
            m->y[r] = m->y[r] > 1.0f ? 1.0f : 0.0f;
    tbml_gbdt_params p;
    tbml_gbdt_params_default(&p);
    p.objective = obj;
    p.num_round = 12;
    p.subsample = 0.8;
    p.colsample_bytree = 0.7;
    p.seed = 7;
    p.nthread = 2;
    double *ref_margin = tbml_malloc(sizeof(double) * (size_t)m->nrows);
    double *res_margin = tbml_malloc(sizeof(double) * (size_t)m->nrows);
    keeper k = {5, NULL, 0, 0};
    tbml_gbdt_train_opts opts = {.train_margin_out = ref_margin,
                                 .checkpoint = keep,
                                 .checkpoint_arg = &k,
                                 .checkpoint_every = 5};
    tbml_gbdt_model_t *ref = NULL, *part = NULL, *res = NULL;
    CHECK_OK(tbml_gbdt_train(&p, m, &opts, &ref));
    CHECK(k.calls == 2); /* after rounds 5 and 10, not after the last */
    CHECK(k.bytes != NULL);
    CHECK_OK(tbml_gbdt_parse(k.bytes, k.size, "checkpoint", &part));
    if (!ref || !part) goto out;
    CHECK(tbml_gbdt_ntrees(part) == 5);

    tbml_gbdt_train_opts ro = {.train_margin_out = res_margin, .resume_from = part};
    CHECK_OK(tbml_gbdt_train(&p, m, &ro, &res));
    if (!res) goto out;
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK_OK(tbml_gbdt_serialize(ref, &a, &na));
    CHECK_OK(tbml_gbdt_serialize(res, &b, &nb));
    CHECK(na == nb && memcmp(a, b, na) == 0);
    CHECK(memcmp(ref_margin, res_margin, sizeof(double) * (size_t)m->nrows) == 0);
    tbml_free(a);
    tbml_free(b);

    /* other parameters: refused, not silently mixed */
    tbml_gbdt_model_t *bad = NULL;
    p.eta = 0.1;
    CHECK(tbml_gbdt_train(&p, m, &ro, &bad) == TBML_E_ARG);
    CHECK(bad == NULL);
out:
    tbml_free(k.bytes);
    tbml_free(ref_margin);
    tbml_free(res_margin);
    tbml_gbdt_free(ref);
    tbml_gbdt_free(part);
    tbml_gbdt_free(res);
    tbml_gbdt_matrix_free(m);
}

int main(void)
{
    test_resume(TBML_GBDT_REG_SQUAREDERROR);
    test_resume(TBML_GBDT_BINARY_LOGISTIC);
    return check_done();
}
