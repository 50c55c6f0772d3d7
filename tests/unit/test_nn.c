/* nn kernels and training: each layer's backward against finite differences, the GEMM-based
 * kernels against plain loops, tanh against libm, LeNet-5's parameter count, BigDL's SGD update
 * rule, and bit-for-bit reproducibility for a fixed seed and thread count. */
#include "check.h"
#include "ml/nn/nn_internal.h"

#include <math.h>

static uint64_t g_rng = 12345;
static float frand(float lo, float hi)
{
    return (float)nn_rand_uniform(&g_rng, lo, hi);
}
static void fill(float *v, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
}

/* A plain GEMM, C (m x n) = A (m x k) * B (k x n), row-major: the reference for the kernels. */
static void ref_gemm(int m, int n, int k, const float *a, const float *b, float *c)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int q = 0; q < k; q++)
                s += (double)a[i * k + q] * b[q * n + j];
            c[i * n + j] = (float)s;
        }
}

static int close_rel(double a, double b, double rtol, double atol)
{
    return fabs(a - b) <= atol + rtol * fabs(b);
}

/* ---- tanh ------------------------------------------------------------------------------ */

static void test_tanh(void)
{
    enum { N = 200001 };
    float *x = tbml_malloc(sizeof(float) * N), *y = tbml_malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++)
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    nn_tanh(x, y, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double e = fabs((double)y[i] - tanh((double)x[i]));
        if (e > worst) worst = e;
    }
    printf("tanh: max abs error %.3g over [-12, 12]\n", worst);
    CHECK(worst < 2e-6);
    CHECK(y[0] >= -1.0f && y[N - 1] <= 1.0f);
    tbml_free(x);
    tbml_free(y);
}

/* ---- kernels against plain loops ------------------------------------------------------- */

static void test_conv_reference(int C, int H, int W, int OC, int K, int S, int P, int n)
{
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_create(C, H, W, &nn));
    CHECK_OK(tbml_nn_add_conv2d(nn, OC, K, K, S, P));
    tbml_nn_init(nn, 7);
    const nn_layer *L = &nn->layers[0];
    float *x = tbml_malloc(sizeof(float) * n * L->in_size);
    float *y = tbml_malloc(sizeof(float) * n * L->out_size);
    float *scratch = tbml_malloc(sizeof(float) * (nn_layer_scratch_count(L, n) + 1));
    fill(x, (size_t)n * L->in_size, -1, 1);
    nn_layer_forward(L, nn->params, x, y, n, scratch);
    /* the reference: a direct convolution, written with a plain GEMM over one output pixel */
    int OH = L->out_h, OW = L->out_w, CKK = C * K * K;
    float *patch = tbml_malloc(sizeof(float) * CKK), *o = tbml_malloc(sizeof(float) * OC);
    double worst = 0;
    for (int img = 0; img < n; img++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                for (int c = 0; c < C; c++)
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            int iy = oy * S - P + ky, ix = ox * S - P + kx;
                            patch[(c * K + ky) * K + kx] =
                                (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                    ? x[((size_t)img * C + c) * H * W + iy * W + ix]
                                    : 0.0f;
                        }
                ref_gemm(OC, 1, CKK, nn->params + L->w_off, patch, o);
                for (int oc = 0; oc < OC; oc++) {
                    float want = o[oc] + nn->params[L->b_off + oc];
                    float got = y[(size_t)img * L->out_size + (size_t)oc * OH * OW + oy * OW + ox];
                    double e = fabs(got - want);
                    if (e > worst) worst = e;
                }
            }
    CHECK(worst < 1e-4);
    tbml_free(patch);
    tbml_free(o);
    tbml_free(x);
    tbml_free(y);
    tbml_free(scratch);
    tbml_nn_free(nn);
}

static void test_linear_reference(void)
{
    int n = 37, I = 53, O = 11;
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_create(I, 1, 1, &nn));
    CHECK_OK(tbml_nn_add_linear(nn, O));
    tbml_nn_init(nn, 3);
    const nn_layer *L = &nn->layers[0];
    float *x = tbml_malloc(sizeof(float) * n * I), *y = tbml_malloc(sizeof(float) * n * O);
    float *wt = tbml_malloc(sizeof(float) * I * O), *ref = tbml_malloc(sizeof(float) * n * O);
    fill(x, (size_t)n * I, -1, 1);
    nn_layer_forward(L, nn->params, x, y, n, NULL);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++)
            wt[i * O + o] = nn->params[L->w_off + (size_t)o * I + i];
    ref_gemm(n, O, I, x, wt, ref);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < O; o++) {
            double e = fabs(y[i * O + o] - (ref[i * O + o] + nn->params[L->b_off + o]));
            if (e > worst) worst = e;
        }
    CHECK(worst < 1e-5);
    tbml_free(x);
    tbml_free(y);
    tbml_free(wt);
    tbml_free(ref);
    tbml_nn_free(nn);
}

/* ---- gradient checks ------------------------------------------------------------------- */

/* L = sum(r .* layer(x)). Forward in float, summed in double. */
static double proj_loss(const nn_layer *L, const float *params, const float *x, const float *r,
                        float *y, int n, float *scratch)
{
    nn_layer_forward(L, params, x, y, n, scratch);
    double s = 0;
    for (size_t i = 0; i < (size_t)n * L->out_size; i++)
        s += (double)r[i] * y[i];
    return s;
}

/* Checks dL/dx and dL/dparams of the network's last layer against central differences. */
static void grad_check(tbml_nn_t *nn, int n, float xlo, float xhi, const char *what)
{
    const nn_layer *L = &nn->layers[nn->nlayers - 1];
    size_t xin = (size_t)n * L->in_size, yout = (size_t)n * L->out_size;
    float *x = tbml_malloc(sizeof(float) * xin), *dx = tbml_malloc(sizeof(float) * xin);
    float *y = tbml_malloc(sizeof(float) * yout), *r = tbml_malloc(sizeof(float) * yout);
    float *y2 = tbml_malloc(sizeof(float) * yout);
    float *dp = tbml_calloc(nn->nparams + 1, sizeof(float));
    float *scratch = tbml_malloc(sizeof(float) * (nn_layer_scratch_count(L, n) + 1));
    if (L->kind == TBML_LAYER_MAXPOOL2D) {
        /* distinct values, far apart compared with eps, so no window has a near tie */
        for (size_t i = 0; i < xin; i++)
            x[i] = (float)((i * 7919) % xin) * 0.01f - 1.0f;
    } else {
        fill(x, xin, xlo, xhi);
        if (L->kind == TBML_LAYER_RELU)
            for (size_t i = 0; i < xin; i++)
                x[i] += x[i] > 0 ? 0.1f : -0.1f;
    }
    fill(r, yout, -1, 1);
    nn_layer_forward(L, nn->params, x, y, n, scratch);
    nn_layer_backward(L, nn->params, x, y, r, dx, dp, n, scratch);
    const double eps = 1e-2;
    int bad = 0;
    for (size_t i = 0; i < xin; i += 1 + xin / 200) {
        float keep = x[i];
        x[i] = keep + (float)eps;
        double lp = proj_loss(L, nn->params, x, r, y2, n, scratch);
        x[i] = keep - (float)eps;
        double lm = proj_loss(L, nn->params, x, r, y2, n, scratch);
        x[i] = keep;
        double num = (lp - lm) / (2 * eps);
        if (!close_rel(dx[i], num, 2e-2, 2e-3)) {
            if (bad++ < 5) fprintf(stderr, "%s: dx[%zu] = %g, numeric %g\n", what, i, dx[i], num);
        }
    }
    for (size_t j = 0; j < nn->nparams; j += 1 + nn->nparams / 200) {
        float keep = nn->params[j];
        nn->params[j] = keep + (float)eps;
        double lp = proj_loss(L, nn->params, x, r, y2, n, scratch);
        nn->params[j] = keep - (float)eps;
        double lm = proj_loss(L, nn->params, x, r, y2, n, scratch);
        nn->params[j] = keep;
        double num = (lp - lm) / (2 * eps);
        if (!close_rel(dp[j], num, 2e-2, 2e-3)) {
            if (bad++ < 5)
                fprintf(stderr, "%s: dparam[%zu] = %g, numeric %g\n", what, j, dp[j], num);
        }
    }
    if (bad) fprintf(stderr, "%s: %d gradient mismatches\n", what, bad);
    CHECK(bad == 0);
    tbml_free(x);
    tbml_free(dx);
    tbml_free(y);
    tbml_free(y2);
    tbml_free(r);
    tbml_free(dp);
    tbml_free(scratch);
}

static void test_layer_gradients(void)
{
    tbml_nn_t *nn;
    /* conv, plain and with stride and padding */
    CHECK_OK(tbml_nn_create(2, 9, 8, &nn));
    CHECK_OK(tbml_nn_add_conv2d(nn, 3, 3, 3, 1, 0));
    tbml_nn_init(nn, 1);
    grad_check(nn, 3, -1, 1, "conv2d");
    tbml_nn_free(nn);
    CHECK_OK(tbml_nn_create(3, 7, 7, &nn));
    CHECK_OK(tbml_nn_add_conv2d(nn, 4, 3, 3, 2, 1));
    tbml_nn_init(nn, 2);
    grad_check(nn, 2, -1, 1, "conv2d stride 2 pad 1");
    tbml_nn_free(nn);
    /* maxpool */
    CHECK_OK(tbml_nn_create(2, 6, 8, &nn));
    CHECK_OK(tbml_nn_add_maxpool2d(nn, 2, 2, 2, 2));
    grad_check(nn, 2, -1, 1, "maxpool2d");
    tbml_nn_free(nn);
    /* odd sizes: the last row and column belong to no window and get no gradient */
    CHECK_OK(tbml_nn_create(2, 7, 5, &nn));
    CHECK_OK(tbml_nn_add_maxpool2d(nn, 2, 2, 2, 2));
    grad_check(nn, 2, -1, 1, "maxpool2d odd");
    tbml_nn_free(nn);
    /* the general path: 3x3 windows, stride 2 (overlapping) */
    CHECK_OK(tbml_nn_create(1, 7, 7, &nn));
    CHECK_OK(tbml_nn_add_maxpool2d(nn, 3, 3, 2, 2));
    grad_check(nn, 2, -1, 1, "maxpool2d 3x3");
    tbml_nn_free(nn);
    /* linear */
    CHECK_OK(tbml_nn_create(17, 1, 1, &nn));
    CHECK_OK(tbml_nn_add_linear(nn, 5));
    tbml_nn_init(nn, 3);
    grad_check(nn, 4, -1, 1, "linear");
    tbml_nn_free(nn);
    /* elementwise and shape layers */
    CHECK_OK(tbml_nn_create(3, 4, 5, &nn));
    CHECK_OK(tbml_nn_add_tanh(nn));
    grad_check(nn, 2, -2, 2, "tanh");
    tbml_nn_free(nn);
    CHECK_OK(tbml_nn_create(3, 4, 5, &nn));
    CHECK_OK(tbml_nn_add_relu(nn));
    grad_check(nn, 2, -1, 1, "relu");
    tbml_nn_free(nn);
    CHECK_OK(tbml_nn_create(3, 4, 5, &nn));
    CHECK_OK(tbml_nn_add_reshape(nn, 60, 1, 1));
    grad_check(nn, 2, -1, 1, "reshape");
    tbml_nn_free(nn);
    CHECK_OK(tbml_nn_create(10, 1, 1, &nn));
    CHECK_OK(tbml_nn_add_logsoftmax(nn));
    grad_check(nn, 3, -3, 3, "logsoftmax");
    tbml_nn_free(nn);
}

/* The losses: dx against central differences of the mean loss. */
static void test_loss_gradients(void)
{
    enum { N = 4, K = 6 };
    float x[N * K], dx[N * K];
    int32_t lab[N] = {0, 5, 2, 2};
    for (int kind = TBML_LOSS_CLASSNLL; kind <= TBML_LOSS_CROSSENTROPY; kind++) {
        fill(x, N * K, -2, 0);
        nn_loss((tbml_loss_kind)kind, x, lab, N, K, 1.0f / N, dx);
        int bad = 0;
        for (int i = 0; i < N * K; i++) {
            float keep = x[i];
            double eps = 1e-2;
            x[i] = keep + (float)eps;
            double lp = nn_loss((tbml_loss_kind)kind, x, lab, N, K, 0, NULL) / N;
            x[i] = keep - (float)eps;
            double lm = nn_loss((tbml_loss_kind)kind, x, lab, N, K, 0, NULL) / N;
            x[i] = keep;
            if (!close_rel(dx[i], (lp - lm) / (2 * eps), 1e-2, 1e-4)) bad++;
        }
        CHECK(bad == 0);
    }
    /* cross-entropy on scores = ClassNLL on their log-softmax */
    float ls[K];
    fill(x, K, -3, 3);
    tbml_nn_t *nn;
    CHECK_OK(tbml_nn_create(K, 1, 1, &nn));
    CHECK_OK(tbml_nn_add_logsoftmax(nn));
    nn_layer_forward(&nn->layers[0], NULL, x, ls, 1, NULL);
    CHECK(close_rel(nn_loss_one(TBML_LOSS_CROSSENTROPY, x, 3, K),
                    nn_loss_one(TBML_LOSS_CLASSNLL, ls, 3, K), 1e-5, 1e-6));
    tbml_nn_free(nn);
}

/* ---- whole network --------------------------------------------------------------------- */

static void test_lenet_shape(void)
{
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_lenet5(10, 1, &nn));
    CHECK(tbml_nn_param_count(nn) == 22278);
    CHECK(tbml_nn_output_size(nn) == 10);
    CHECK(tbml_nn_input_size(nn) == 784);
    /* BigDL/Torch initialisation: every weight of conv1 (fan-in 25) within +-1/5, and not all
     * of them tiny */
    float mx = 0;
    for (int i = 0; i < 156; i++)
        mx = fabsf(nn->params[i]) > mx ? fabsf(nn->params[i]) : mx;
    CHECK(mx <= 0.2f && mx > 0.15f);
    char desc[2048];
    tbml_nn_describe(nn, desc, sizeof(desc));
    CHECK(strstr(desc, "conv2d 6->12 5x5") != NULL);
    tbml_nn_free(nn);

    tbml_nn_t *bad = NULL;
    CHECK_OK(tbml_nn_create(1, 28, 28, &bad));
    CHECK_ST(tbml_nn_add_linear(bad, 10), TBML_E_ARG); /* needs a reshape first */
    CHECK_ST(tbml_nn_add_reshape(bad, 100, 1, 1), TBML_E_ARG);
    CHECK_ST(tbml_nn_add_conv2d(bad, 4, 29, 29, 1, 0), TBML_E_ARG);
    tbml_nn_free(bad);
}

/* The whole network's gradient (forward through every layer, loss, backward, the sum over
 * threads) against finite differences of the batch loss, with 1 and 3 threads. */
static void test_network_gradient(void)
{
    enum { B = 7 };
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_create(1, 12, 12, &nn));
    CHECK_OK(tbml_nn_add_conv2d(nn, 3, 3, 3, 1, 0));
    CHECK_OK(tbml_nn_add_tanh(nn));
    CHECK_OK(tbml_nn_add_maxpool2d(nn, 2, 2, 2, 2));
    CHECK_OK(tbml_nn_add_reshape(nn, 75, 1, 1));
    CHECK_OK(tbml_nn_add_linear(nn, 8));
    CHECK_OK(tbml_nn_add_relu(nn));
    CHECK_OK(tbml_nn_add_linear(nn, 4));
    CHECK_OK(tbml_nn_add_logsoftmax(nn));
    tbml_nn_init(nn, 11);
    float x[B * 144];
    int32_t lab[B];
    fill(x, B * 144, -1, 1);
    for (int i = 0; i < B; i++)
        lab[i] = i % 4;
    tbml_sgd_config cfg = tbml_sgd_defaults();
    tbml_pool_t *pool = NULL;
    CHECK_OK(tbml_pool_create(3, &pool));
    tbml_trainer_t *t1 = NULL, *t3 = NULL;
    CHECK_OK(tbml_trainer_create(nn, TBML_LOSS_CLASSNLL, B, NULL, &cfg, &t1));
    CHECK_OK(tbml_trainer_create(nn, TBML_LOSS_CLASSNLL, B, pool, &cfg, &t3));
    size_t P = tbml_nn_param_count(nn);
    float *g1 = tbml_malloc(sizeof(float) * P), loss1, loss3, l;
    const float *g;
    CHECK_OK(tbml_trainer_gradient(t1, x, lab, B, &loss1, &g));
    memcpy(g1, g, sizeof(float) * P);
    CHECK_OK(tbml_trainer_gradient(t3, x, lab, B, &loss3, &g));
    CHECK(close_rel(loss1, loss3, 1e-5, 1e-6));
    int bad = 0;
    for (size_t j = 0; j < P; j++)
        if (!close_rel(g[j], g1[j], 1e-4, 1e-6)) bad++;
    CHECK(bad == 0);
    /* finite differences: forward only through evaluate, in double */
    bad = 0;
    for (size_t j = 0; j < P; j += 3) {
        float keep = nn->params[j];
        double lp, lm, eps = 1e-3;
        nn->params[j] = keep + (float)eps;
        CHECK_OK(tbml_nn_evaluate(nn, NULL, TBML_LOSS_CLASSNLL, x, lab, B, NULL, NULL, NULL, &lp));
        nn->params[j] = keep - (float)eps;
        CHECK_OK(tbml_nn_evaluate(nn, NULL, TBML_LOSS_CLASSNLL, x, lab, B, NULL, NULL, NULL, &lm));
        nn->params[j] = keep;
        if (!close_rel(g1[j], (lp - lm) / (2 * eps), 3e-2, 2e-3)) {
            if (bad++ < 5)
                fprintf(stderr, "network: grad[%zu] = %g, numeric %g\n", j, g1[j],
                        (lp - lm) / (2 * eps));
        }
    }
    CHECK(bad == 0);
    /* evaluate's loss agrees with the trainer's */
    double el;
    long correct = -1;
    CHECK_OK(tbml_nn_evaluate(nn, pool, TBML_LOSS_CLASSNLL, x, lab, B, NULL, NULL, &correct, &el));
    CHECK(close_rel(el, loss1, 1e-5, 1e-6));
    CHECK(correct >= 0 && correct <= B);
    /* bad labels are refused before anything changes */
    int32_t badlab[B];
    memcpy(badlab, lab, sizeof(lab));
    badlab[3] = 4;
    CHECK_ST(tbml_trainer_step(t1, x, badlab, B, &l), TBML_E_ARG);
    CHECK(tbml_trainer_steps(t1) == 0);
    CHECK_ST(tbml_trainer_step(t1, x, lab, B + 1, &l), TBML_E_ARG);
    tbml_trainer_free(t1);
    tbml_trainer_free(t3);
    tbml_pool_free(pool);
    tbml_free(g1);
    tbml_nn_free(nn);
}

/* BigDL's SGD, step by step against the formula applied to the gradient the trainer reports. */
static void test_sgd_rule(double momentum, double damp, int nesterov, double wd)
{
    enum { B = 5 };
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_create(6, 1, 1, &nn));
    CHECK_OK(tbml_nn_add_linear(nn, 3));
    CHECK_OK(tbml_nn_add_logsoftmax(nn));
    tbml_nn_init(nn, 5);
    float x[B * 6];
    int32_t lab[B] = {0, 1, 2, 1, 0};
    fill(x, B * 6, -1, 1);
    tbml_sgd_config cfg = {0.1, 0.05, wd, momentum, damp, nesterov};
    tbml_trainer_t *tr = NULL;
    CHECK_OK(tbml_trainer_create(nn, TBML_LOSS_CLASSNLL, B, NULL, &cfg, &tr));
    size_t P = tbml_nn_param_count(nn);
    double buf[64] = {0}, want[64];
    double d_eff = damp < 0 ? momentum : damp;
    int bad = 0;
    for (int step = 0; step < 4; step++) {
        const float *g;
        float l;
        CHECK_OK(tbml_trainer_gradient(tr, x, lab, B, &l, &g));
        double clr = 0.1 / (1 + step * 0.05);
        CHECK(close_rel(tbml_trainer_current_lr(tr), clr, 1e-12, 0));
        for (size_t i = 0; i < P; i++) {
            double d = g[i] + wd * nn->params[i];
            if (momentum != 0) {
                buf[i] = step == 0 ? d : momentum * buf[i] + (1 - d_eff) * d;
                d = nesterov ? d + momentum * buf[i] : buf[i];
            }
            want[i] = nn->params[i] - clr * d;
        }
        CHECK_OK(tbml_trainer_step(tr, x, lab, B, &l));
        for (size_t i = 0; i < P; i++)
            if (!close_rel(nn->params[i], want[i], 1e-5, 1e-6)) bad++;
    }
    CHECK(bad == 0);
    CHECK(tbml_trainer_steps(tr) == 4);
    tbml_trainer_free(tr);
    tbml_nn_free(nn);
}

/* Same seed, same thread count, same batches: identical parameters, bit for bit. */
static void train_lenet(int threads, int steps, float *out_params)
{
    enum { B = 32 };
    tbml_nn_t *nn = NULL;
    CHECK_OK(tbml_nn_lenet5(10, 42, &nn));
    tbml_pool_t *pool = NULL;
    CHECK_OK(tbml_pool_create(threads, &pool));
    tbml_sgd_config cfg = tbml_sgd_defaults();
    cfg.momentum = 0.5;
    tbml_trainer_t *tr = NULL;
    CHECK_OK(tbml_trainer_create(nn, TBML_LOSS_CLASSNLL, B, pool, &cfg, &tr));
    float *x = tbml_malloc(sizeof(float) * B * 784);
    int32_t lab[B];
    uint64_t st = 99;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B * 784; i++)
            x[i] = (float)nn_rand_uniform(&st, -1, 1);
        for (int i = 0; i < B; i++)
            lab[i] = (int32_t)(nn_rand_next(&st) % 10);
        float l;
        CHECK_OK(tbml_trainer_step(tr, x, lab, s == steps - 1 ? B - 5 : B, &l));
    }
    memcpy(out_params, tbml_nn_params(nn), sizeof(float) * tbml_nn_param_count(nn));
    tbml_free(x);
    tbml_trainer_free(tr);
    tbml_pool_free(pool);
    tbml_nn_free(nn);
}

static void test_reproducible(void)
{
    float *a = tbml_malloc(sizeof(float) * 22278), *b = tbml_malloc(sizeof(float) * 22278);
    float *c = tbml_malloc(sizeof(float) * 22278);
    train_lenet(2, 6, a);
    train_lenet(2, 6, b);
    CHECK(memcmp(a, b, sizeof(float) * 22278) == 0);
    train_lenet(3, 6, c);
    /* another thread count sums in another order: close, not necessarily equal */
    int far = 0;
    for (int i = 0; i < 22278; i++)
        if (!close_rel(c[i], a[i], 1e-3, 1e-5)) far++;
    CHECK(far == 0);
    tbml_free(a);
    tbml_free(b);
    tbml_free(c);
}

int main(void)
{
    test_tanh();
    test_conv_reference(1, 28, 28, 6, 5, 1, 0, 5);
    test_conv_reference(6, 12, 12, 12, 5, 1, 0, 70); /* several chunks */
    test_conv_reference(3, 9, 7, 4, 3, 2, 1, 3);
    test_linear_reference();
    test_layer_gradients();
    test_loss_gradients();
    test_lenet_shape();
    test_network_gradient();
    test_sgd_rule(0, -1, 0, 0);
    test_sgd_rule(0.9, -1, 0, 0);
    test_sgd_rule(0.9, 0, 1, 1e-3);
    test_sgd_rule(0.5, 0.1, 0, 0.01);
    test_reproducible();
    return check_done();
}
