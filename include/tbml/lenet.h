/* The LeNet-5 training job as BigDL's lenet example runs it: options named as the seed's
 * (--dataPath, --maxEpoch, --batchSize, --learningRate, --learningRateDecay, --momentum,
 * --master local[N]), MNIST-format IDX files in one folder, a shuffled pass per epoch, and
 * BigDL's validation line after each epoch:
 *   [Epoch 1 60032/60000][Iteration 469][Wall Clock 5.123456s] Top1Accuracy is Accuracy(correct:
 *   9488, count: 10000, accuracy: 0.9488)
 * Used by examples/lenet.c and `tbml train --model lenet`. */
#ifndef TBML_LENET_H
#define TBML_LENET_H

#include "tbml/core.h"
#include "tbml/nn.h"
#include "tbml/seal.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data_path;    /* folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] */
    int max_epoch;            /* default 2 (the seed's run; BigDL's own default is 20) */
    int batch_size;           /* default 128 */
    tbml_sgd_config sgd;      /* default lr 0.05, decay 0.0002, momentum 0.9, dampening 0 */
    int threads;              /* from --master local[N]; default all cores */
    tbml_pool_t *pool;        /* borrowed (e.g. tbml_app_t's); NULL: a pool of `threads` */
    uint64_t seed;            /* initialisation and shuffling; default 1 */
    double mean, std;         /* normalisation; < 0: computed from the training images */
    int train_limit;          /* use only the first N training images (0: all) */
    int test_limit;           /* use only the first N test images (0: all) */
    const char *summary_path; /* --summary: per-iteration and per-epoch metrics as CSV */
    const char *save_path;    /* --save: the trained model (docs/formats/model.md) */
    const char *init_path;    /* --init: start from this model instead of a fresh one */
    int progress;             /* live line on stderr: -1 when stderr is a TTY, 0 off, 1 on */
    const tbml_key_t *key;    /* opens sealed inputs and seals the saved model; borrowed */
    FILE *log;                /* where the epoch lines go; NULL = stdout */
    /* Distributed data-parallel SGD (include/tbml/comm.h; borrowed, NULL = one process): each
     * rank computes the gradient of its share of every global batch of batch_size samples, a
     * sealed allreduce sums them, every rank applies the same update; rank 0 validates, prints
     * and writes the outputs. */
    struct tbml_comm *comm;
    /* Checkpoints (docs/formats/checkpoint.md): every checkpoint_every iterations (0: at the
     * end of each epoch) rank 0 writes the whole training state into checkpoint_dir, sealed
     * under key when given, keeping the newest TBML_CKPT_KEEP. With resume, every rank starts
     * from the newest checkpoint that authenticates and the run continues bit for bit as if
     * never interrupted (given the same seed, thread count and ranks). */
    const char *checkpoint_dir;
    long checkpoint_every;
    int resume;
    /* Stops (returning TBML_OK, writing no model or summary) once this many iterations have
     * run in all, as a job killed there would: tests interrupt a run with it. 0: never. */
    long stop_after;
} tbml_lenet_options;

typedef struct {
    long iterations;
    long correct, count; /* last validation */
    double accuracy;     /* correct / count */
    double test_loss;
    double train_seconds; /* training only, validation excluded */
    double images_per_second;
    double mean, std; /* the normalisation used */
} tbml_lenet_result;

tbml_lenet_options tbml_lenet_defaults(void);

/* Parses the lenet options from argv[1..] (argv[0] is the program name). Returns TBML_OK,
 * TBML_E_ARG with a message naming the option on a bad one. Sets *help when -h/--help was
 * given (then nothing else is checked). --master accepts local, local[N] and local[*]. */
TBML_NODISCARD tbml_status tbml_lenet_parse_args(int argc, char **argv, tbml_lenet_options *o,
                                                 int *help);
/* Writes the option list for --help. */
void tbml_lenet_usage(FILE *f, const char *prog);

/* Parses a Spark master string ("local", "local[4]", "local[*]") into a thread count. */
TBML_NODISCARD tbml_status tbml_parse_master(const char *s, int *threads);

/* Runs the job. res may be NULL. Fails with a message naming the file for bad inputs. */
TBML_NODISCARD tbml_status tbml_lenet_run(const tbml_lenet_options *o, tbml_lenet_result *res);

/* Formats v as Java's Float.toString does (shortest digits that read back to v, at least one
 * digit after the point: 0.9488, 1.0, 9.0E-4), as BigDL's Accuracy line prints it. */
void tbml_format_java_float(float v, char *buf, size_t size);

/* The normalised images of a labelled set, as the trainer sees them: out gets n * rows * cols
 * floats (x / 255 - mean) / std. */
void tbml_lenet_normalize(const uint8_t *images, size_t count, double mean, double std, float *out);

#ifdef __cplusplus
}
#endif
#endif
