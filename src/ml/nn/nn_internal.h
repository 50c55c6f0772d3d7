/* Inside the nn module: the layer record, the network struct, and the per-layer kernels that
 * net.c strings together. Kernels never allocate: the caller passes a scratch buffer of
 * nn_layer_scratch_count() floats. Tests call the kernels directly for gradient checks. */
#ifndef TBML_NN_INTERNAL_H
#define TBML_NN_INTERNAL_H

#include "tbml/nn.h"

#include <stddef.h>
#include <stdint.h>

#define NN_HIDDEN __attribute__((visibility("hidden")))

/* Images per im2col + GEMM chunk: small enough that the column matrix stays in L2. */
#define NN_CONV_CHUNK_FLOATS (48 * 1024)

typedef struct {
    tbml_layer_kind kind;
    int a, b, c, d, e;       /* the arguments of tbml_nn_add_* (see tbml_layer_kind) */
    int in_c, in_h, in_w;    /* per-sample input shape */
    int out_c, out_h, out_w; /* per-sample output shape */
    int in_size, out_size;   /* floats per sample */
    size_t w_off, w_count;   /* weights in the flat parameter vector */
    size_t b_off, b_count;   /* biases */
    int fan_in;              /* for initialisation */
} nn_layer;

struct tbml_nn {
    int in_c, in_h, in_w;
    int nlayers, cap;
    nn_layer *layers;
    size_t nparams;
    float *params;
    double in_scale, in_offset; /* raw input value v feeds the network as v * scale + offset */
};

/* Floats of scratch a forward or backward call over n samples needs. */
NN_HIDDEN size_t nn_layer_scratch_count(const nn_layer *L, int n);

/* y = layer(x) for n samples. x is (n, in_size), y is (n, out_size). */
NN_HIDDEN void nn_layer_forward(const nn_layer *L, const float *params, const float *x, float *y,
                                int n, float *scratch);

/* Given x, y = forward(x) and dy = dLoss/dy: adds dLoss/dparams into dparams (indexed like
 * params) and, when dx is not NULL, writes dLoss/dx. */
NN_HIDDEN void nn_layer_backward(const nn_layer *L, const float *params, const float *x,
                                 const float *y, const float *dy, float *dx, float *dparams, int n,
                                 float *scratch);

/* Loss over n rows of k values. Returns the SUM of per-sample losses (callers divide) and, when
 * dx is not NULL, writes dLoss/dx scaled by `scale` (1/N for the batch mean). */
NN_HIDDEN double nn_loss(tbml_loss_kind kind, const float *x, const int32_t *labels, int n, int k,
                         float scale, float *dx);
/* The loss of one sample (for evaluation). */
NN_HIDDEN double nn_loss_one(tbml_loss_kind kind, const float *x, int32_t label, int k);

/* Elementwise tanh, fast and accurate to a few float ulps (a rational approximation that the
 * compiler vectorises; libm's tanhf is the test's reference). */
NN_HIDDEN void nn_tanh(const float *x, float *y, size_t count);

/* Deterministic random numbers (splitmix64), the same everywhere. */
NN_HIDDEN uint64_t nn_rand_next(uint64_t *state);
/* Uniform in [lo, hi). */
NN_HIDDEN double nn_rand_uniform(uint64_t *state, double lo, double hi);

#endif
