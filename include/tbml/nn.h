/* tbml neural networks: sequential float32 networks on NCHW tensors, trained with BigDL's SGD,
 * data-parallel over the batch on tbml's thread pool.
 *
 * A network (tbml_nn_t) holds its layer list and one flat parameter vector. A trainer
 * (tbml_trainer_t) holds everything a training step needs (per-thread activations, gradients,
 * im2col buffers, the optimizer state), carved once from one arena, so a step allocates nothing.
 * Each thread computes the gradient of its contiguous slice of the batch into its own buffer;
 * the buffers are then summed in thread order, so a fixed seed and thread count reproduce a
 * training run bit for bit. GEMMs go through OpenBLAS, single-threaded inside each pool thread. */
#ifndef TBML_NN_H
#define TBML_NN_H

#include "tbml/core.h"
#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tensors are plain float32 arrays in NCHW order: a batch of n samples of shape (c, h, w) is
 * n * c * h * w floats, sample after sample; a flat sample (after a reshape) has h = w = 1. */

typedef enum {
    TBML_LAYER_CONV2D = 1, /* a = out channels, b = kernel h, c = kernel w, d = stride, e = pad */
    TBML_LAYER_MAXPOOL2D = 2, /* a = kernel h, b = kernel w, c = stride h, d = stride w */
    TBML_LAYER_LINEAR = 3,    /* a = out features */
    TBML_LAYER_TANH = 4,
    TBML_LAYER_RELU = 5,
    TBML_LAYER_RESHAPE = 6, /* a, b, c = new (c, h, w) per sample */
    TBML_LAYER_LOGSOFTMAX = 7,
} tbml_layer_kind;

typedef enum {
    TBML_LOSS_CLASSNLL = 1, /* input is log-probabilities (after LogSoftMax), BigDL's ClassNLL */
    TBML_LOSS_CROSSENTROPY = 2, /* input is raw scores: LogSoftMax + ClassNLL in one */
} tbml_loss_kind;

typedef struct tbml_nn tbml_nn_t;

/* An empty network taking samples of shape (c, h, w). Free with tbml_nn_free. */
TBML_NODISCARD tbml_status tbml_nn_create(int c, int h, int w, tbml_nn_t **out);
void tbml_nn_free(tbml_nn_t *nn);

/* Appends a layer; shapes are checked against the previous layer's output (TBML_E_ARG with a
 * message naming the layer). Parameters of a new layer are zero until tbml_nn_init. */
TBML_NODISCARD tbml_status tbml_nn_add_conv2d(tbml_nn_t *nn, int out_c, int kh, int kw, int stride,
                                              int pad);
TBML_NODISCARD tbml_status tbml_nn_add_maxpool2d(tbml_nn_t *nn, int kh, int kw, int sh, int sw);
TBML_NODISCARD tbml_status tbml_nn_add_linear(tbml_nn_t *nn, int out_features);
TBML_NODISCARD tbml_status tbml_nn_add_tanh(tbml_nn_t *nn);
TBML_NODISCARD tbml_status tbml_nn_add_relu(tbml_nn_t *nn);
TBML_NODISCARD tbml_status tbml_nn_add_reshape(tbml_nn_t *nn, int c, int h, int w);
TBML_NODISCARD tbml_status tbml_nn_add_logsoftmax(tbml_nn_t *nn);

/* BigDL's LeNet-5 (models/lenet/LeNet5.scala): Reshape(1,28,28), conv 6@5x5, tanh, maxpool 2,
 * conv 12@5x5, tanh, maxpool 2, Reshape(192), linear 100, tanh, linear classes, LogSoftMax.
 * 22,278 parameters for 10 classes. Initialised from seed. */
TBML_NODISCARD tbml_status tbml_nn_lenet5(int classes, uint64_t seed, tbml_nn_t **out);

/* Seeded initialisation as BigDL/Torch do it for these layers: weights and biases of a
 * convolution or linear layer uniform in +-1/sqrt(fan_in). */
void tbml_nn_init(tbml_nn_t *nn, uint64_t seed);

size_t tbml_nn_param_count(const tbml_nn_t *nn);
/* The flat parameter vector (layer order, weight then bias), owned by nn. */
float *tbml_nn_params(tbml_nn_t *nn);
int tbml_nn_layer_count(const tbml_nn_t *nn);
/* Output features per sample (classes for a classifier). */
int tbml_nn_output_size(const tbml_nn_t *nn);
/* Input features per sample (c*h*w). */
int tbml_nn_input_size(const tbml_nn_t *nn);
/* How raw input values (IDX bytes) become network inputs: v * scale + offset. Saved with the
 * model, so prediction normalises as training did. A new network has scale 1, offset 0. */
void tbml_nn_set_input_transform(tbml_nn_t *nn, double scale, double offset);
void tbml_nn_input_transform(const tbml_nn_t *nn, double *scale, double *offset);

/* One line per layer ("conv2d 1->6 5x5 ...") into buf (always NUL-terminated). */
void tbml_nn_describe(const tbml_nn_t *nn, char *buf, size_t size);

/* ---- training --------------------------------------------------------------------------- */

/* BigDL's SGD: clr = lr / (1 + nevals * lr_decay); dfdx += weight_decay * x; with momentum,
 * buf = dfdx on the first step, then buf = momentum * buf + (1 - dampening) * dfdx, and the step
 * uses buf (or dfdx + momentum * buf with nesterov); x -= clr * step. dampening < 0 means
 * "same as momentum" (BigDL's default). */
typedef struct {
    double learning_rate;
    double learning_rate_decay;
    double weight_decay;
    double momentum;
    double dampening;
    int nesterov;
} tbml_sgd_config;

/* BigDL's defaults for the lenet example: lr 0.01, decay 0.0002, no momentum or weight decay. */
tbml_sgd_config tbml_sgd_defaults(void);

typedef struct tbml_trainer tbml_trainer_t;

/* A trainer for nn (borrowed; must outlive the trainer) with batches of up to max_batch samples,
 * run on pool (borrowed; NULL = single-threaded). Allocates all step memory now. */
TBML_NODISCARD tbml_status tbml_trainer_create(tbml_nn_t *nn, tbml_loss_kind loss, int max_batch,
                                               tbml_pool_t *pool, const tbml_sgd_config *cfg,
                                               tbml_trainer_t **out);
void tbml_trainer_free(tbml_trainer_t *tr);

/* One SGD step on x (n samples, input_size floats each) with labels in [0, classes). Writes
 * the batch's mean loss to *loss. Labels out of range: TBML_E_ARG, parameters untouched. */
TBML_NODISCARD tbml_status tbml_trainer_step(tbml_trainer_t *tr, const float *x,
                                             const int32_t *labels, int n, float *loss);
/* Computes the mean loss and gradient of the batch without updating (gradient checks, tests).
 * The gradient (param_count floats) is valid until the next call. */
TBML_NODISCARD tbml_status tbml_trainer_gradient(tbml_trainer_t *tr, const float *x,
                                                 const int32_t *labels, int n, float *loss,
                                                 const float **grad);
/* Distributed data-parallel training: after each step's local gradient (the mean over this
 * process's n samples) and loss sum are computed, fn turns them into the global ones in place
 * (mean gradient over all processes' samples, summed loss, total sample count), e.g. with a
 * sealed allreduce (src/ml/nn/lenet.c); then every process applies the same update. A failing
 * fn fails the step before any parameter changes. fn NULL: one process. */
typedef tbml_status (*tbml_grad_reduce_fn)(float *grad, size_t count, double *loss_sum, int *n,
                                           void *arg);
void tbml_trainer_set_reduce(tbml_trainer_t *tr, tbml_grad_reduce_fn fn, void *arg);

/* SGD steps taken so far (BigDL's evalCounter). */
long tbml_trainer_steps(const tbml_trainer_t *tr);
/* The optimizer state a checkpoint keeps besides the parameters: the momentum buffer
 * (param_count floats, owned by tr), or NULL while there is none (no momentum configured, or
 * before the first step). */
const float *tbml_trainer_momentum(const tbml_trainer_t *tr);
/* Puts the optimizer back where a checkpoint left it: `steps` SGD steps taken (the lr decay
 * counter) and the momentum buffer (count = param_count floats; NULL: none yet). */
TBML_NODISCARD tbml_status tbml_trainer_restore(tbml_trainer_t *tr, long steps,
                                                const float *momentum, size_t count);
/* The learning rate the next step will use. */
double tbml_trainer_current_lr(const tbml_trainer_t *tr);

/* Forward pass over n samples in batches on pool (NULL = one thread). For each sample, writes
 * the predicted class (argmax) to pred (may be NULL) and, when out is not NULL, the network's
 * output_size values. When labels is given, *correct and *loss get the top-1 count and the mean
 * loss under `loss` (either may be NULL). */
TBML_NODISCARD tbml_status tbml_nn_evaluate(tbml_nn_t *nn, tbml_pool_t *pool, tbml_loss_kind loss,
                                            const float *x, const int32_t *labels, int n,
                                            int32_t *pred, float *out, long *correct,
                                            double *mean_loss);

/* ---- model files (docs/formats/model.md) ------------------------------------------------ */

/* Writes nn to path through a temporary file and rename; sealed under key when key != NULL. */
TBML_NODISCARD tbml_status tbml_nn_save(const tbml_nn_t *nn, const char *path,
                                        const tbml_key_t *key);
/* Serialises into a new buffer (tbml_free it). */
TBML_NODISCARD tbml_status tbml_nn_serialize(const tbml_nn_t *nn, uint8_t **out, size_t *out_size);
/* Reads a model file, plain or sealed (a sealed one needs key, else TBML_E_KEY). Damage:
 * TBML_E_FORMAT naming the path (plain) or TBML_E_AUTH (sealed). */
TBML_NODISCARD tbml_status tbml_nn_load(const char *path, const tbml_key_t *key, tbml_nn_t **out);
TBML_NODISCARD tbml_status tbml_nn_deserialize(const uint8_t *buf, size_t size, const char *name,
                                               tbml_nn_t **out);

#ifdef __cplusplus
}
#endif
#endif
