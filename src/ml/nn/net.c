/* Sequential networks and their trainer: layer bookkeeping, seeded initialisation, the
 * data-parallel SGD step (each pool thread back-propagates its slice of the batch into its own
 * gradient buffer; the buffers are summed in thread order and SGD applied, split by parameter
 * range) and batched evaluation. All step memory is carved from one arena at creation. */
#include "nn_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- arena ----------------------------------------------------------------------------- */

/* A bump allocator over one block: sized by a dry run (base == NULL), then carved for real. */
typedef struct {
    char *base;
    size_t used;
} arena;

static float *arena_floats(arena *a, size_t count)
{
    size_t off = (a->used + 63) & ~(size_t)63;
    a->used = off + count * sizeof(float);
    return a->base ? (float *)(a->base + off) : NULL;
}

static char *align64(char *p)
{
    return (char *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* ---- building -------------------------------------------------------------------------- */

tbml_status tbml_nn_create(int c, int h, int w, tbml_nn_t **out)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return tbml_error(TBML_E_ARG, "nn: input shape %dx%dx%d is not positive", c, h, w);
    tbml_nn_t *nn = tbml_calloc(1, sizeof(*nn));
    nn->in_c = c;
    nn->in_h = h;
    nn->in_w = w;
    nn->in_scale = 1.0;
    nn->in_offset = 0.0;
    *out = nn;
    return TBML_OK;
}

void tbml_nn_free(tbml_nn_t *nn)
{
    if (!nn) return;
    tbml_free(nn->layers);
    tbml_free(nn->params);
    tbml_free(nn);
}

static void last_shape(const tbml_nn_t *nn, int *c, int *h, int *w)
{
    if (nn->nlayers == 0) {
        *c = nn->in_c;
        *h = nn->in_h;
        *w = nn->in_w;
    } else {
        const nn_layer *L = &nn->layers[nn->nlayers - 1];
        *c = L->out_c;
        *h = L->out_h;
        *w = L->out_w;
    }
}

/* Appends L (shapes filled in) and grows the parameter vector by its weights and biases. */
static tbml_status push(tbml_nn_t *nn, nn_layer L, size_t w_count, size_t b_count)
{
    if (L.out_c <= 0 || L.out_h <= 0 || L.out_w <= 0)
        return tbml_error(TBML_E_ARG, "nn: layer %d would have an empty output (%dx%dx%d)",
                          nn->nlayers + 1, L.out_c, L.out_h, L.out_w);
    if ((double)L.out_c * L.out_h * L.out_w > 1e9)
        return tbml_error(TBML_E_ARG, "nn: layer %d output is too large", nn->nlayers + 1);
    if (nn->nlayers == nn->cap) {
        nn->cap = nn->cap ? 2 * nn->cap : 8;
        nn->layers = tbml_realloc(nn->layers, sizeof(nn_layer) * nn->cap);
    }
    L.in_size = L.in_c * L.in_h * L.in_w;
    L.out_size = L.out_c * L.out_h * L.out_w;
    L.w_off = nn->nparams;
    L.w_count = w_count;
    L.b_off = nn->nparams + w_count;
    L.b_count = b_count;
    if (w_count + b_count) {
        nn->nparams += w_count + b_count;
        nn->params = tbml_realloc(nn->params, sizeof(float) * nn->nparams);
        memset(nn->params + L.w_off, 0, sizeof(float) * (w_count + b_count));
    }
    nn->layers[nn->nlayers++] = L;
    return TBML_OK;
}

static nn_layer blank(const tbml_nn_t *nn, tbml_layer_kind kind)
{
    nn_layer L;
    memset(&L, 0, sizeof(L));
    L.kind = kind;
    last_shape(nn, &L.in_c, &L.in_h, &L.in_w);
    L.out_c = L.in_c;
    L.out_h = L.in_h;
    L.out_w = L.in_w;
    return L;
}

tbml_status tbml_nn_add_conv2d(tbml_nn_t *nn, int out_c, int kh, int kw, int stride, int pad)
{
    nn_layer L = blank(nn, TBML_LAYER_CONV2D);
    if (out_c <= 0 || kh <= 0 || kw <= 0 || stride <= 0 || pad < 0)
        return tbml_error(TBML_E_ARG, "nn: conv2d (layer %d): bad arguments", nn->nlayers + 1);
    if (L.in_h + 2 * pad < kh || L.in_w + 2 * pad < kw)
        return tbml_error(TBML_E_ARG, "nn: conv2d (layer %d): kernel %dx%d larger than input %dx%d",
                          nn->nlayers + 1, kh, kw, L.in_h, L.in_w);
    L.a = out_c;
    L.b = kh;
    L.c = kw;
    L.d = stride;
    L.e = pad;
    L.out_c = out_c;
    L.out_h = (L.in_h + 2 * pad - kh) / stride + 1;
    L.out_w = (L.in_w + 2 * pad - kw) / stride + 1;
    L.fan_in = L.in_c * kh * kw;
    return push(nn, L, (size_t)out_c * L.fan_in, (size_t)out_c);
}

tbml_status tbml_nn_add_maxpool2d(tbml_nn_t *nn, int kh, int kw, int sh, int sw)
{
    nn_layer L = blank(nn, TBML_LAYER_MAXPOOL2D);
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || kh > L.in_h || kw > L.in_w)
        return tbml_error(TBML_E_ARG, "nn: maxpool2d (layer %d): bad window for %dx%d input",
                          nn->nlayers + 1, L.in_h, L.in_w);
    L.a = kh;
    L.b = kw;
    L.c = sh;
    L.d = sw;
    L.out_h = (L.in_h - kh) / sh + 1;
    L.out_w = (L.in_w - kw) / sw + 1;
    return push(nn, L, 0, 0);
}

tbml_status tbml_nn_add_linear(tbml_nn_t *nn, int out_features)
{
    nn_layer L = blank(nn, TBML_LAYER_LINEAR);
    if (out_features <= 0)
        return tbml_error(TBML_E_ARG, "nn: linear (layer %d): %d outputs", nn->nlayers + 1,
                          out_features);
    if (L.in_h != 1 || L.in_w != 1)
        return tbml_error(TBML_E_ARG,
                          "nn: linear (layer %d) needs a flat input, got %dx%dx%d (add a reshape)",
                          nn->nlayers + 1, L.in_c, L.in_h, L.in_w);
    L.a = out_features;
    L.out_c = out_features;
    L.fan_in = L.in_c;
    return push(nn, L, (size_t)out_features * L.in_c, (size_t)out_features);
}

tbml_status tbml_nn_add_tanh(tbml_nn_t *nn)
{
    return push(nn, blank(nn, TBML_LAYER_TANH), 0, 0);
}
tbml_status tbml_nn_add_relu(tbml_nn_t *nn)
{
    return push(nn, blank(nn, TBML_LAYER_RELU), 0, 0);
}

tbml_status tbml_nn_add_logsoftmax(tbml_nn_t *nn)
{
    nn_layer L = blank(nn, TBML_LAYER_LOGSOFTMAX);
    if (L.in_h != 1 || L.in_w != 1)
        return tbml_error(TBML_E_ARG, "nn: logsoftmax (layer %d) needs a flat input",
                          nn->nlayers + 1);
    return push(nn, L, 0, 0);
}

tbml_status tbml_nn_add_reshape(tbml_nn_t *nn, int c, int h, int w)
{
    nn_layer L = blank(nn, TBML_LAYER_RESHAPE);
    if (c <= 0 || h <= 0 || w <= 0 || (long)c * h * w != (long)L.in_c * L.in_h * L.in_w)
        return tbml_error(TBML_E_ARG, "nn: reshape (layer %d): %dx%dx%d does not hold %dx%dx%d",
                          nn->nlayers + 1, c, h, w, L.in_c, L.in_h, L.in_w);
    L.a = c;
    L.b = h;
    L.c = w;
    L.out_c = c;
    L.out_h = h;
    L.out_w = w;
    return push(nn, L, 0, 0);
}

tbml_status tbml_nn_lenet5(int classes, uint64_t seed, tbml_nn_t **out)
{
    tbml_nn_t *nn = NULL;
    tbml_status ret = tbml_nn_create(1, 28, 28, &nn);
    if (ret) return ret;
    if ((ret = tbml_nn_add_reshape(nn, 1, 28, 28)) ||
        (ret = tbml_nn_add_conv2d(nn, 6, 5, 5, 1, 0)) || (ret = tbml_nn_add_tanh(nn)) ||
        (ret = tbml_nn_add_maxpool2d(nn, 2, 2, 2, 2)) ||
        (ret = tbml_nn_add_conv2d(nn, 12, 5, 5, 1, 0)) || (ret = tbml_nn_add_tanh(nn)) ||
        (ret = tbml_nn_add_maxpool2d(nn, 2, 2, 2, 2)) ||
        (ret = tbml_nn_add_reshape(nn, 192, 1, 1)) || (ret = tbml_nn_add_linear(nn, 100)) ||
        (ret = tbml_nn_add_tanh(nn)) || (ret = tbml_nn_add_linear(nn, classes)) ||
        (ret = tbml_nn_add_logsoftmax(nn)))
        goto out;
    tbml_nn_init(nn, seed);
    *out = nn;
    nn = NULL;
out:
    tbml_nn_free(nn);
    return ret;
}

void tbml_nn_init(tbml_nn_t *nn, uint64_t seed)
{
    uint64_t st = seed;
    for (int l = 0; l < nn->nlayers; l++) {
        const nn_layer *L = &nn->layers[l];
        if (!L->w_count && !L->b_count) continue;
        double stdv = 1.0 / sqrt((double)L->fan_in);
        for (size_t i = 0; i < L->w_count + L->b_count; i++)
            nn->params[L->w_off + i] = (float)nn_rand_uniform(&st, -stdv, stdv);
    }
}

void tbml_nn_set_input_transform(tbml_nn_t *nn, double scale, double offset)
{
    nn->in_scale = scale;
    nn->in_offset = offset;
}

void tbml_nn_input_transform(const tbml_nn_t *nn, double *scale, double *offset)
{
    *scale = nn->in_scale;
    *offset = nn->in_offset;
}

size_t tbml_nn_param_count(const tbml_nn_t *nn)
{
    return nn->nparams;
}
float *tbml_nn_params(tbml_nn_t *nn)
{
    return nn->params;
}
int tbml_nn_layer_count(const tbml_nn_t *nn)
{
    return nn->nlayers;
}
int tbml_nn_input_size(const tbml_nn_t *nn)
{
    return nn->in_c * nn->in_h * nn->in_w;
}
int tbml_nn_output_size(const tbml_nn_t *nn)
{
    return nn->nlayers ? nn->layers[nn->nlayers - 1].out_size : tbml_nn_input_size(nn);
}

void tbml_nn_describe(const tbml_nn_t *nn, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l < nn->nlayers && used < size; l++) {
        const nn_layer *L = &nn->layers[l];
        char what[96];
        switch (L->kind) {
        case TBML_LAYER_CONV2D:
            snprintf(what, sizeof(what), "conv2d %d->%d %dx%d stride %d pad %d", L->in_c, L->out_c,
                     L->b, L->c, L->d, L->e);
            break;
        case TBML_LAYER_MAXPOOL2D:
            snprintf(what, sizeof(what), "maxpool2d %dx%d stride %dx%d", L->a, L->b, L->c, L->d);
            break;
        case TBML_LAYER_LINEAR:
            snprintf(what, sizeof(what), "linear %d->%d", L->in_size, L->out_size);
            break;
        case TBML_LAYER_TANH:
            snprintf(what, sizeof(what), "tanh");
            break;
        case TBML_LAYER_RELU:
            snprintf(what, sizeof(what), "relu");
            break;
        case TBML_LAYER_RESHAPE:
            snprintf(what, sizeof(what), "reshape");
            break;
        case TBML_LAYER_LOGSOFTMAX:
            snprintf(what, sizeof(what), "logsoftmax");
            break;
        }
        int k = snprintf(buf + used, size - used, "%2d %-36s -> %dx%dx%d  params %zu\n", l + 1,
                         what, L->out_c, L->out_h, L->out_w, L->w_count + L->b_count);
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* ---- per-thread workspace -------------------------------------------------------------- */

typedef struct {
    float **acts;           /* acts[l]: output of layer l for this thread's slice */
    float **own;            /* the buffers behind acts (a reshape\'s acts[l] aliases its input) */
    float *grad_a, *grad_b; /* ping-pong dLoss/d(activation) */
    float *scratch;
    float *dparams; /* this thread's gradient */
    double loss;    /* this thread's summed loss */
} nn_work;

/* Carves one thread's workspace for up to n samples; with a->base == NULL only measures. */
static void work_carve(arena *a, const tbml_nn_t *nn, int n, int need_grad, nn_work *w)
{
    size_t max_act = (size_t)tbml_nn_input_size(nn), max_scratch = 0;
    for (int l = 0; l < nn->nlayers; l++) {
        const nn_layer *L = &nn->layers[l];
        w->own[l] = L->kind == TBML_LAYER_RESHAPE ? NULL : arena_floats(a, (size_t)n * L->out_size);
        if ((size_t)L->out_size > max_act) max_act = L->out_size;
        size_t s = nn_layer_scratch_count(L, n);
        if (s > max_scratch) max_scratch = s;
    }
    w->scratch = arena_floats(a, max_scratch);
    if (need_grad) {
        w->grad_a = arena_floats(a, (size_t)n * max_act);
        w->grad_b = arena_floats(a, (size_t)n * max_act);
        w->dparams = arena_floats(a, nn->nparams);
    }
}

/* A reshape moves no data in NCHW: its output is its input, so acts[l] points there. */
static void forward_all(const tbml_nn_t *nn, nn_work *w, const float *x, int n)
{
    const float *in = x;
    for (int l = 0; l < nn->nlayers; l++) {
        if (nn->layers[l].kind == TBML_LAYER_RESHAPE) {
            w->acts[l] = (float *)in;
        } else {
            w->acts[l] = w->own[l];
            nn_layer_forward(&nn->layers[l], nn->params, in, w->acts[l], n, w->scratch);
        }
        in = w->acts[l];
    }
}

/* ---- trainer --------------------------------------------------------------------------- */

struct tbml_trainer {
    tbml_nn_t *nn;
    tbml_loss_kind loss;
    int max_batch, nth;
    tbml_pool_t *pool;
    tbml_sgd_config cfg;
    long nevals;
    int have_momentum_buf;
    char *block; /* the arena */
    nn_work *work;
    float *momentum_buf;
    /* the current step */
    const float *x;
    const int32_t *labels;
    int n;
    int update;
    double clr;
    /* distributed training: turns the local gradient into the global one (tbml_trainer_set_reduce)
     */
    tbml_grad_reduce_fn reduce_fn;
    void *reduce_arg;
    int sum_only;
};

tbml_sgd_config tbml_sgd_defaults(void)
{
    tbml_sgd_config c = {0.01, 0.0002, 0.0, 0.0, -1.0, 0};
    return c;
}

static int slice_size(int n, int nth)
{
    return (n + nth - 1) / nth;
}

tbml_status tbml_trainer_create(tbml_nn_t *nn, tbml_loss_kind loss, int max_batch,
                                tbml_pool_t *pool, const tbml_sgd_config *cfg, tbml_trainer_t **out)
{
    if (max_batch <= 0) return tbml_error(TBML_E_ARG, "trainer: batch size %d", max_batch);
    if (nn->nlayers == 0) return tbml_error(TBML_E_ARG, "trainer: the network has no layers");
    if (loss != TBML_LOSS_CLASSNLL && loss != TBML_LOSS_CROSSENTROPY)
        return tbml_error(TBML_E_ARG, "trainer: unknown loss %d", (int)loss);
    if (cfg->learning_rate <= 0 || cfg->learning_rate_decay < 0 || cfg->momentum < 0 ||
        cfg->weight_decay < 0)
        return tbml_error(TBML_E_ARG, "trainer: learning rate must be > 0 and decay, momentum "
                                      "and weight decay >= 0");
    double damp = cfg->dampening < 0 ? cfg->momentum : cfg->dampening;
    if (cfg->nesterov && (cfg->momentum <= 0 || damp != 0))
        return tbml_error(TBML_E_ARG, "trainer: Nesterov momentum requires a momentum and zero "
                                      "dampening");
    /* BLAS runs single-threaded inside each of our threads; its own threads would oversubscribe. */
    openblas_set_num_threads(1);

    tbml_trainer_t *tr = tbml_calloc(1, sizeof(*tr));
    tr->nn = nn;
    tr->loss = loss;
    tr->max_batch = max_batch;
    tr->pool = pool;
    tr->nth = pool ? tbml_pool_size(pool) : 1;
    tr->cfg = *cfg;
    tr->cfg.dampening = damp;
    tr->work = tbml_calloc((size_t)tr->nth, sizeof(nn_work));
    for (int t = 0; t < tr->nth; t++) {
        tr->work[t].acts = tbml_calloc((size_t)nn->nlayers, sizeof(float *));
        tr->work[t].own = tbml_calloc((size_t)nn->nlayers, sizeof(float *));
    }

    int per = slice_size(max_batch, tr->nth);
    for (int pass = 0; pass < 2; pass++) {
        arena a = {pass ? align64(tr->block) : NULL, 0};
        for (int t = 0; t < tr->nth; t++)
            work_carve(&a, nn, per, 1, &tr->work[t]);
        tr->momentum_buf = cfg->momentum != 0 ? arena_floats(&a, nn->nparams) : NULL;
        if (pass == 0) tr->block = tbml_malloc(a.used + 64);
    }
    *out = tr;
    return TBML_OK;
}

void tbml_trainer_free(tbml_trainer_t *tr)
{
    if (!tr) return;
    for (int t = 0; t < tr->nth; t++) {
        tbml_free(tr->work[t].acts);
        tbml_free(tr->work[t].own);
    }
    tbml_free(tr->work);
    tbml_free(tr->block);
    tbml_free(tr);
}

void tbml_trainer_set_reduce(tbml_trainer_t *tr, tbml_grad_reduce_fn fn, void *arg)
{
    tr->reduce_fn = fn;
    tr->reduce_arg = arg;
}

const float *tbml_trainer_momentum(const tbml_trainer_t *tr)
{
    return tr->have_momentum_buf ? tr->momentum_buf : NULL;
}

tbml_status tbml_trainer_restore(tbml_trainer_t *tr, long steps, const float *momentum,
                                 size_t count)
{
    if (steps < 0) return tbml_error(TBML_E_ARG, "trainer: %ld steps", steps);
    if (momentum && (!tr->momentum_buf || count != tr->nn->nparams))
        return tbml_error(TBML_E_ARG,
                          "trainer: a momentum buffer of %zu floats, this trainer %s %zu", count,
                          tr->momentum_buf ? "has" : "has no momentum, needs",
                          tr->momentum_buf ? tr->nn->nparams : (size_t)0);
    tr->nevals = steps;
    /* no buffer yet (no momentum, or saved before the first step): the next step starts one */
    tr->have_momentum_buf = momentum != NULL;
    if (momentum) memcpy(tr->momentum_buf, momentum, sizeof(float) * count);
    return TBML_OK;
}

long tbml_trainer_steps(const tbml_trainer_t *tr)
{
    return tr->nevals;
}
double tbml_trainer_current_lr(const tbml_trainer_t *tr)
{
    return tr->cfg.learning_rate / (1.0 + (double)tr->nevals * tr->cfg.learning_rate_decay);
}

/* Phase 1: forward and backward of this thread's slice into its own gradient buffer. */
static void step_slice(int ith, int nth, void *arg)
{
    tbml_trainer_t *tr = arg;
    const tbml_nn_t *nn = tr->nn;
    nn_work *w = &tr->work[ith];
    int per = slice_size(tr->n, nth);
    int s0 = ith * per, s1 = s0 + per < tr->n ? s0 + per : tr->n;
    memset(w->dparams, 0, sizeof(float) * nn->nparams);
    w->loss = 0;
    if (s1 <= s0) return;
    int m = s1 - s0, in_size = tbml_nn_input_size(nn), k = tbml_nn_output_size(nn);
    const float *x = tr->x + (size_t)s0 * in_size;
    forward_all(nn, w, x, m);
    int last = nn->nlayers - 1;
    float *dy = w->grad_a, *dx = w->grad_b;
    w->loss = nn_loss(tr->loss, w->acts[last], tr->labels + s0, m, k, 1.0f / (float)tr->n, dy);
    for (int l = last; l >= 0; l--) {
        if (nn->layers[l].kind == TBML_LAYER_RESHAPE) continue; /* dx = dy: nothing to move */
        const float *in = l ? w->acts[l - 1] : x;
        nn_layer_backward(&nn->layers[l], nn->params, in, w->acts[l], dy, l ? dx : NULL, w->dparams,
                          m, w->scratch);
        float *t = dy;
        dy = dx;
        dx = t;
    }
}

static void step_apply(int ith, int nth, void *arg);

/* Phase 2: sum the thread gradients in thread order over this thread's parameter range, then
 * apply BigDL's SGD to that range. */
static void step_reduce(int ith, int nth, void *arg)
{
    tbml_trainer_t *tr = arg;
    size_t P = tr->nn->nparams, per = (P + (size_t)nth - 1) / (size_t)nth;
    size_t p0 = (size_t)ith * per, p1 = p0 + per < P ? p0 + per : P;
    if (p1 <= p0) return;
    float *g = tr->work[0].dparams;
    for (int t = 1; t < tr->nth; t++) {
        const float *gt = tr->work[t].dparams;
        for (size_t i = p0; i < p1; i++)
            g[i] += gt[i];
    }
    if (!tr->update || tr->sum_only) return;
    step_apply(ith, nth, arg);
}

/* Phase 3 (inside phase 2 when not distributed): BigDL's SGD on this thread's range. */
static void step_apply(int ith, int nth, void *arg)
{
    tbml_trainer_t *tr = arg;
    size_t P = tr->nn->nparams, per = (P + (size_t)nth - 1) / (size_t)nth;
    size_t p0 = (size_t)ith * per, p1 = p0 + per < P ? p0 + per : P;
    if (p1 <= p0) return;
    float *g = tr->work[0].dparams;
    const tbml_sgd_config *c = &tr->cfg;
    float *x = tr->nn->params;
    float wd = (float)c->weight_decay, mom = (float)c->momentum, damp = (float)(1.0 - c->dampening);
    float clr = (float)tr->clr;
    for (size_t i = p0; i < p1; i++) {
        float d = g[i];
        if (wd != 0.0f) d += wd * x[i];
        if (mom != 0.0f) {
            float *b = tr->momentum_buf;
            b[i] = tr->have_momentum_buf ? mom * b[i] + damp * d : d;
            d = c->nesterov ? d + mom * b[i] : b[i];
        }
        x[i] += clr * d;
    }
}

static tbml_status run_step(tbml_trainer_t *tr, const float *x, const int32_t *labels, int n,
                            int update, float *loss)
{
    if (n <= 0 || n > tr->max_batch)
        return tbml_error(TBML_E_ARG, "trainer: batch of %d samples (1..%d)", n, tr->max_batch);
    int k = tbml_nn_output_size(tr->nn);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return tbml_error(TBML_E_ARG, "trainer: label %d of sample %d is outside 0..%d",
                              (int)labels[i], i, k - 1);
    tr->x = x;
    tr->labels = labels;
    tr->n = n;
    tr->update = update;
    tr->clr = -tbml_trainer_current_lr(tr);
    tr->sum_only = tr->reduce_fn != NULL;
    if (tr->pool) {
        tbml_pool_run(tr->pool, step_slice, tr);
        tbml_pool_run(tr->pool, step_reduce, tr);
    } else {
        step_slice(0, 1, tr);
        step_reduce(0, 1, tr);
    }
    double total = 0;
    for (int t = 0; t < tr->nth; t++)
        total += tr->work[t].loss;
    if (tr->reduce_fn) {
        /* the other ranks' gradients (a sealed allreduce), then the same update everywhere */
        tbml_status st =
            tr->reduce_fn(tr->work[0].dparams, tr->nn->nparams, &total, &n, tr->reduce_arg);
        if (st) return st;
        if (update) {
            if (tr->pool)
                tbml_pool_run(tr->pool, step_apply, tr);
            else
                step_apply(0, 1, tr);
        }
    }
    if (update) {
        tr->nevals++;
        if (tr->momentum_buf) tr->have_momentum_buf = 1;
    }
    *loss = (float)(total / n);
    return TBML_OK;
}

tbml_status tbml_trainer_step(tbml_trainer_t *tr, const float *x, const int32_t *labels, int n,
                              float *loss)
{
    return run_step(tr, x, labels, n, 1, loss);
}

tbml_status tbml_trainer_gradient(tbml_trainer_t *tr, const float *x, const int32_t *labels, int n,
                                  float *loss, const float **grad)
{
    tbml_status ret = run_step(tr, x, labels, n, 0, loss);
    if (ret) return ret;
    *grad = tr->work[0].dparams;
    return TBML_OK;
}

/* ---- evaluation ------------------------------------------------------------------------ */

#define EVAL_CHUNK 256

typedef struct {
    const tbml_nn_t *nn;
    tbml_loss_kind loss;
    const float *x;
    const int32_t *labels;
    int n;
    int32_t *pred;
    float *out;
    double *sample_loss;
    nn_work *work;
} eval_job;

/* Thread ith takes chunks ith, ith + nth, ...: each sample's results land at its own index, so
 * the outcome does not depend on the thread count. */
static void eval_thread(int ith, int nth, void *arg)
{
    eval_job *j = arg;
    const tbml_nn_t *nn = j->nn;
    nn_work *w = &j->work[ith];
    int in_size = tbml_nn_input_size(nn), k = tbml_nn_output_size(nn), last = nn->nlayers - 1;
    for (int c0 = ith * EVAL_CHUNK; c0 < j->n; c0 += nth * EVAL_CHUNK) {
        int m = j->n - c0 < EVAL_CHUNK ? j->n - c0 : EVAL_CHUNK;
        forward_all(nn, w, j->x + (size_t)c0 * in_size, m);
        const float *y = w->acts[last];
        for (int i = 0; i < m; i++) {
            const float *yi = y + (size_t)i * k;
            int best = 0;
            for (int q = 1; q < k; q++)
                if (yi[q] > yi[best]) best = q;
            if (j->pred) j->pred[c0 + i] = best;
            if (j->out) memcpy(j->out + (size_t)(c0 + i) * k, yi, sizeof(float) * k);
            if (j->labels) j->sample_loss[c0 + i] = nn_loss_one(j->loss, yi, j->labels[c0 + i], k);
        }
    }
}

tbml_status tbml_nn_evaluate(tbml_nn_t *nn, tbml_pool_t *pool, tbml_loss_kind loss, const float *x,
                             const int32_t *labels, int n, int32_t *pred, float *out, long *correct,
                             double *mean_loss)
{
    if (n < 0) return tbml_error(TBML_E_ARG, "evaluate: %d samples", n);
    if (nn->nlayers == 0) return tbml_error(TBML_E_ARG, "evaluate: the network has no layers");
    int k = tbml_nn_output_size(nn);
    if (labels)
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= k)
                return tbml_error(TBML_E_ARG, "evaluate: label %d of sample %d is outside 0..%d",
                                  (int)labels[i], i, k - 1);
    openblas_set_num_threads(1);
    int nth = pool ? tbml_pool_size(pool) : 1;
    eval_job j = {nn, loss, x, labels, n, pred, out, NULL, NULL};
    int32_t *own_pred = NULL;
    if (!pred && labels) j.pred = own_pred = tbml_malloc(sizeof(int32_t) * (n ? n : 1));
    if (labels) j.sample_loss = tbml_malloc(sizeof(double) * (n ? n : 1));
    j.work = tbml_calloc((size_t)nth, sizeof(nn_work));
    for (int t = 0; t < nth; t++) {
        j.work[t].acts = tbml_calloc((size_t)nn->nlayers, sizeof(float *));
        j.work[t].own = tbml_calloc((size_t)nn->nlayers, sizeof(float *));
    }
    arena a = {NULL, 0};
    for (int t = 0; t < nth; t++)
        work_carve(&a, nn, EVAL_CHUNK, 0, &j.work[t]);
    char *block = tbml_malloc(a.used + 64);
    a.base = align64(block);
    a.used = 0;
    for (int t = 0; t < nth; t++)
        work_carve(&a, nn, EVAL_CHUNK, 0, &j.work[t]);
    if (pool)
        tbml_pool_run(pool, eval_thread, &j);
    else
        eval_thread(0, 1, &j);
    if (labels) {
        long ok = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            ok += j.pred[i] == labels[i];
            sum += j.sample_loss[i];
        }
        if (correct) *correct = ok;
        if (mean_loss) *mean_loss = n ? sum / n : 0.0;
    }
    for (int t = 0; t < nth; t++) {
        tbml_free(j.work[t].acts);
        tbml_free(j.work[t].own);
    }
    tbml_free(j.work);
    tbml_free(block);
    tbml_free(j.sample_loss);
    tbml_free(own_pred);
    return TBML_OK;
}
