/* The thread pool: nth persistent threads that run one task (fn, arg) at a time, each with its
 * own ith, then meet at a barrier. The caller acts as thread 0, so a pool of 1 has no threads. */
#include "tbml/core.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

struct tbml_pool {
    int nth;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    uint64_t generation; /* bumped for each task; workers run when it changes */
    int pending;         /* workers still running the current task */
    int quit;
    tbml_pool_fn fn;
    void *arg;
};

struct worker_arg {
    tbml_pool_t *pool;
    int ith;
};

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    tbml_pool_t *pool = wa->pool;
    int ith = wa->ith;
    tbml_free(wa);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (pool->generation == seen && !pool->quit)
            pthread_cond_wait(&pool->start, &pool->mu);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        seen = pool->generation;
        tbml_pool_fn fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);

        fn(ith, pool->nth, arg);

        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0) pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->mu);
    }
}

int tbml_ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

tbml_status tbml_pool_create(int nthreads, tbml_pool_t **out)
{
    if (nthreads <= 0) nthreads = tbml_ncores();
    if (nthreads > 1024) return tbml_error(TBML_E_ARG, "thread count %d is too large", nthreads);
    tbml_pool_t *pool = tbml_calloc(1, sizeof(*pool));
    pool->nth = nthreads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->threads = tbml_calloc((size_t)nthreads, sizeof(pthread_t));
    for (int i = 1; i < nthreads; i++) {
        struct worker_arg *wa = tbml_malloc(sizeof(*wa));
        wa->pool = pool;
        wa->ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, wa) != 0) {
            tbml_free(wa);
            pool->nth = i; /* only threads 1..i-1 exist */
            tbml_pool_free(pool);
            return tbml_error(TBML_E_NOMEM, "cannot start thread %d of %d", i, nthreads);
        }
    }
    *out = pool;
    return TBML_OK;
}

void tbml_pool_free(tbml_pool_t *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->nth; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    tbml_free(pool->threads);
    tbml_free(pool);
}

int tbml_pool_size(const tbml_pool_t *pool) { return pool ? pool->nth : 1; }

void tbml_pool_run(tbml_pool_t *pool, tbml_pool_fn fn, void *arg)
{
    if (!pool || pool->nth == 1) {
        fn(0, 1, arg);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->pending = pool->nth - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mu);

    fn(0, pool->nth, arg);

    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

double tbml_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
