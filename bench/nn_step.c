/* LeNet-5 training steps on random data: images/s of the trainer alone (no data loading), for
 * profiling the kernels. usage: bench_nn_step [threads] [steps] [batch] */
#include "tbml/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 200;
    int batch = argc > 3 ? atoi(argv[3]) : 128;
    tbml_nn_t *nn = NULL;
    tbml_pool_t *pool = NULL;
    tbml_trainer_t *tr = NULL;
    tbml_sgd_config cfg = tbml_sgd_defaults();
    if (tbml_nn_lenet5(10, 1, &nn) || tbml_pool_create(threads, &pool) ||
        tbml_trainer_create(nn, TBML_LOSS_CLASSNLL, batch, pool, &cfg, &tr)) {
        fprintf(stderr, "bench_nn_step: %s\n", tbml_errmsg());
        return 1;
    }
    float *x = tbml_malloc(sizeof(float) * (size_t)batch * 784);
    int32_t *y = tbml_malloc(sizeof(int32_t) * (size_t)batch);
    for (int i = 0; i < batch * 784; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1;
    for (int i = 0; i < batch; i++)
        y[i] = i % 10;
    float loss = 0;
    double t0 = tbml_now(), c0 = cpu_now();
    for (int s = 0; s < steps; s++)
        if (tbml_trainer_step(tr, x, y, batch, &loss)) return 1;
    double dt = tbml_now() - t0, dc = cpu_now() - c0;
    /* per CPU-second too: on a shared machine the wall clock mostly measures the neighbours */
    printf("threads %d batch %d: %.0f images/s, %.0f images per CPU-second (loss %.4f)\n", threads,
           batch, (double)steps * batch / dt, (double)steps * batch / dc, loss);
    tbml_free(x);
    tbml_free(y);
    tbml_trainer_free(tr);
    tbml_pool_free(pool);
    tbml_nn_free(nn);
    return 0;
}
