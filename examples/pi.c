/* Monte Carlo Pi, as Spark's examples/src/main/python/pi.py: 100000 * partitions points in the
 * square [-1, 1]^2, the fraction inside the unit circle times 4. Each partition has its own
 * seeded generator (splitmix64 of the partition number), so the result is the same whatever the
 * thread count; partitions are shared out among the pool's threads.
 * Under mpirun (tbml submit --master mpi) the partitions are shared out among the ranks' threads
 * as well, and a sealed allreduce sums the per-partition counts, so the result is the same on
 * any number of ranks.
 *   tbml run-example [--master local[N]] pi [partitions]   (default 2, as pi.py) */
#include "tbml/app.h"
#include "tbml/comm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

typedef struct {
    int64_t partitions, n;
    int64_t *inside; /* per partition */
    int rank, nranks;
} pi_job;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A double in [0, 1) from the top 53 bits, as Python's random() makes one. */
static double uniform(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

static void pi_worker(int ith, int nth, void *arg)
{
    pi_job *job = arg;
    for (int64_t p = (int64_t)job->rank * nth + ith; p < job->partitions; p += (int64_t)nth * job->nranks) {
        /* parallelize(range(1, n + 1), partitions) gives partition p the slice [p*n/P, (p+1)*n/P)
         */
        int64_t lo = p * job->n / job->partitions, hi = (p + 1) * job->n / job->partitions,
                count = 0;
        uint64_t seed = 0x74626d6cULL ^ (uint64_t)p * 0x100000001B3ULL;
        for (int64_t i = lo; i < hi; i++) {
            double x = uniform(&seed) * 2 - 1, y = uniform(&seed) * 2 - 1;
            count += x * x + y * y <= 1;
        }
        job->inside[p] = count;
    }
}

int main(int argc, char **argv)
{
    tbml_app_t *app;
    tbml_status st = tbml_app_init(&argc, &argv, &app);
    if (st) return example_fail("pi", st);
    int64_t partitions = 2;
    if (argc > 2) {
        fprintf(stderr, "usage: pi [partitions]\n");
        tbml_app_free(app);
        return 2;
    }
    if (argc == 2) {
        char *end;
        partitions = strtoll(argv[1], &end, 10);
        if (*end || partitions < 1 || partitions > 1000000) {
            fprintf(stderr, "pi: partitions must be a number from 1 to 1000000, not '%s'\n",
                    argv[1]);
            tbml_app_free(app);
            return 2;
        }
    }
    tbml_comm_t *comm;
    st = tbml_comm_open(NULL, &comm);
    if (st) {
        tbml_app_free(app);
        return example_fail("pi", st);
    }
    pi_job job = {.partitions = partitions, .n = 100000 * partitions};
    job.rank = tbml_comm_rank(comm);
    job.nranks = tbml_comm_size(comm);
    job.inside = tbml_calloc((size_t)partitions, sizeof(int64_t));
    tbml_pool_run(app->pool, pi_worker, &job);
    st = tbml_comm_allreduce_sum(comm, job.inside, (size_t)partitions, TBML_DT_I64);
    if (st) {
        tbml_comm_abort(comm, st);
        tbml_comm_free(comm);
        tbml_free(job.inside);
        tbml_app_free(app);
        return 1;
    }
    int64_t count = 0;
    for (int64_t p = 0; p < partitions; p++)
        count += job.inside[p];
    if (job.rank == 0) printf("Pi is roughly %f\n", 4.0 * (double)count / (double)job.n);
    tbml_comm_free(comm);
    tbml_free(job.inside);
    tbml_app_free(app);
    return tbml_stdout_finish("pi", 0);
}
