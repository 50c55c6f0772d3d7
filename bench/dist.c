/* Distributed mode under mpirun: the sealed collectives against MPI's own on the same buffers
 * (bench/dist.sh runs it), and the correctness and failure checks the mpi-labelled tests run.
 *
 *   bench_dist --bench [--aes-speed BYTES_PER_S] [--cores N] [--sizes LIST] [--reps N]
 *                      [--sealed-only] [--op allreduce|alltoall]     rank 0 prints one line per
 * case
 *     --cores: the machine's cores (default: this one's); the crypto limit counts
 *     min(cores, ranks x sealing threads per rank), the threads the communicator really runs
 *   bench_dist --check [--out FILE] [--die R | --hang R]          collectives vs a reference
 *   bench_dist --keygen --out DIR     a job secret DIR/bench.key + DIR/pw (where no tbml tool is)
 *
 * The job secret comes from TBML_DIST_KEYFILE and TBML_DIST_PASSWORD_FILE (paths). */
#include "tbml/comm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tbml_comm_t *g_c;

static void fail(tbml_status st)
{
    tbml_comm_abort(g_c, st);
    exit(1);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        tbml_status st_ = (x);                                                                     \
        if (st_) fail(st_);                                                                        \
    } while (0)

/* ---- check --------------------------------------------------------------------------------- */

static double value(int rank, size_t i)
{
    return (double)((int)((i * 7 + (size_t)rank * 13) % 61) - 30);
}
static uint8_t pattern(int src, int dst, size_t i)
{
    return (uint8_t)(src * 31 + dst * 17 + i * 7 + (i >> 8));
}

static int check(const char *out, int die, int hang)
{
    int me = tbml_comm_rank(g_c), n = tbml_comm_size(g_c);
    long bad = 0;
    static const size_t counts[] = {0, 1, 7, 22278, 300001};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t cnt = counts[k];
        float *v = tbml_malloc(cnt * sizeof(float) + 4);
        for (size_t i = 0; i < cnt; i++)
            v[i] = (float)value(me, i);
        TRY(tbml_comm_allreduce_f32(g_c, v, cnt));
        for (size_t i = 0; i < cnt; i++) {
            double want = 0;
            for (int r = 0; r < n; r++)
                want += value(r, i);
            bad += v[i] != (float)want;
        }
        tbml_free(v);
        if (k == 2 && me == die) raise(SIGKILL); /* killed mid-job */
        if (k == 2 && me == hang) {
            fprintf(stderr, "rank %d: hanging (test)\n", me);
            sleep(100000);
        }
    }
    /* all-to-all of uneven sizes */
    uint8_t **send = tbml_calloc((size_t)n, sizeof(uint8_t *)),
            **recv = tbml_calloc((size_t)n, sizeof(uint8_t *));
    size_t *ssz = tbml_calloc((size_t)n, sizeof(size_t)),
           *rsz = tbml_calloc((size_t)n, sizeof(size_t));
    for (int d = 0; d < n; d++) {
        ssz[d] = (size_t)((me * 5 + d * 3) % 7) * 100003;
        send[d] = tbml_malloc(ssz[d] + 1);
        for (size_t i = 0; i < ssz[d]; i++)
            send[d][i] = pattern(me, d, i);
    }
    TRY(tbml_comm_alltoallv(g_c, (const void *const *)send, ssz, recv, rsz));
    for (int s = 0; s < n; s++) {
        size_t want = (size_t)((s * 5 + me * 3) % 7) * 100003;
        bad += rsz[s] != want;
        for (size_t i = 0; rsz[s] == want && i < want; i++)
            bad += recv[s][i] != pattern(s, me, i);
        tbml_free(send[s]);
        tbml_free(recv[s]);
    }
    /* broadcast from the last rank, gather to rank 0 */
    uint8_t b[4096];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = me == n - 1 ? pattern(n - 1, 0, i) : 0;
    TRY(tbml_comm_bcast(g_c, n - 1, b, sizeof(b)));
    for (size_t i = 0; i < sizeof(b); i++)
        bad += b[i] != pattern(n - 1, 0, i);
    int64_t mybad = bad;
    TRY(tbml_comm_gather(g_c, 0, &mybad, sizeof(mybad), recv, rsz));
    int64_t total = 0;
    if (me == 0) {
        for (int s = 0; s < n; s++) {
            int64_t x = 1;
            if (rsz[s] == sizeof(x)) memcpy(&x, recv[s], sizeof(x));
            total += x;
            tbml_free(recv[s]);
        }
    }
    tbml_free(send);
    tbml_free(recv);
    tbml_free(ssz);
    tbml_free(rsz);
    TRY(tbml_comm_barrier(g_c));
    if (me == 0) {
        printf("check: %d ranks (%s), %lld mismatches\n", n, tbml_comm_backend(g_c),
               (long long)total);
        if (out && total == 0) {
            tbml_outfile_t *f;
            char line[64];
            int len = snprintf(line, sizeof(line), "ok %d\n", n);
            TRY(tbml_outfile_open(out, &f));
            TRY(tbml_outfile_write(f, line, (size_t)len));
            TRY(tbml_outfile_commit(f));
        }
    }
    return total == 0 ? 0 : 1;
}

/* ---- bench --------------------------------------------------------------------------------- */

/* Seconds per call of op, the best of reps after one warm-up (all ranks in step): wall time of
 * the slowest rank, and CPU time (all threads) summed over the ranks, each the best over reps. */
typedef tbml_status (*op_fn)(void *arg);

typedef struct {
    double wall, cpu;
} op_time;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static op_time time_op(op_fn fn, void *arg, int reps)
{
    op_time best = {1e30, 1e30};
    TRY(fn(arg));
    for (int r = 0; r < reps; r++) {
        TRY(tbml_comm_barrier(g_c));
        double t0 = tbml_now(), c0 = cpu_now();
        TRY(fn(arg));
        double mine[2] = {tbml_now() - t0, cpu_now() - c0};
        /* the slowest rank sets the time; CPU time adds up */
        double t[2] = {mine[0], 0};
        uint8_t *rb[64] = {0};
        size_t rs[64] = {0};
        int n = tbml_comm_size(g_c);
        TRY(tbml_comm_gather(g_c, 0, mine, sizeof(mine), rb, rs));
        if (tbml_comm_rank(g_c) == 0) {
            for (int i = 0; i < n && i < 64; i++) {
                double all[2];
                memcpy(all, rb[i], sizeof(all));
                if (all[0] > t[0]) t[0] = all[0];
                t[1] += all[1];
                tbml_free(rb[i]);
            }
        }
        TRY(tbml_comm_bcast(g_c, 0, t, sizeof(t)));
        if (t[0] < best.wall) best.wall = t[0];
        if (t[1] < best.cpu) best.cpu = t[1];
    }
    return best;
}

typedef struct {
    float *f;
    size_t count;
    uint8_t *s, *r;
    size_t block;
} bench_arg;

static tbml_status op_sealed_ar(void *p)
{
    bench_arg *a = p;
    return tbml_comm_allreduce_f32(g_c, a->f, a->count);
}
static tbml_status op_plain_ar(void *p)
{
    bench_arg *a = p;
    return tbml_comm_bench_plain_allreduce_f32(g_c, a->f, a->count);
}
static tbml_status op_sealed_a2a(void *p)
{
    bench_arg *a = p;
    return tbml_comm_alltoall(g_c, a->s, a->r, a->block);
}
static tbml_status op_plain_a2a(void *p)
{
    bench_arg *a = p;
    return tbml_comm_bench_plain_alltoall(g_c, a->s, a->r, a->block);
}

static int g_sealed_only;     /* --sealed-only: skip MPI's own collectives (for profiling) */
static const char *g_only_op; /* --op allreduce|alltoall: only that one */

/* One result line: times, throughput, the ratio to MPI, and two views of the crypto limit. */
static void report(const char *op, size_t bytes, op_time plain, op_time sealed, double crypto_bytes,
                   double aes_speed, int cores)
{
    /* crypto%: the time the op would take if the cores used did nothing but AES-GCM, over the
     * sealed time; cpu_eff%: the CPU seconds that AES-GCM needs, over the CPU seconds the sealed
     * op spent (all ranks and threads), so less sensitive to other load on the machine */
    double limit = crypto_bytes / (aes_speed * cores), aes_cpu = crypto_bytes / aes_speed;
    printf("%-10s %-10zu %10.3f %10.3f %10.2f %10.2f %7.2f %8.0f%% %10.3f %8.0f%%\n", op, bytes,
           plain.wall * 1e3, sealed.wall * 1e3, (double)bytes / plain.wall / 1e9,
           (double)bytes / sealed.wall / 1e9, sealed.wall / plain.wall, 100 * limit / sealed.wall,
           sealed.cpu * 1e3, 100 * aes_cpu / sealed.cpu);
}

/* cores: the machine's cores (every rank on one machine). The cores used are those the sealing
 * threads can occupy: min(cores, ranks x crypto threads per rank). */
static int bench(double aes_speed, int cores, const char *sizes, int reps_opt)
{
    int me = tbml_comm_rank(g_c), n = tbml_comm_size(g_c);
    int threads = tbml_comm_crypto_threads(g_c);
    int used = n * threads < cores ? n * threads : cores;
    char *list = tbml_strdup(sizes), *save = NULL;
    op_time none = {1, 1};
    if (me == 0) {
        printf("# %d ranks x %d sealing threads (%d worker%s + the calling thread) on %d cores: "
               "%d cores used\n",
               n, threads, threads - 1, threads == 2 ? "" : "s", cores, used);
        printf("# crypto limit = %.2f GB/s AES-256-GCM per core x %d cores used\n", aes_speed / 1e9,
               used);
        printf("%-10s %-10s %10s %10s %10s %10s %7s %9s %10s %9s\n", "op", "bytes", "plain_ms",
               "sealed_ms", "plain_GB/s", "seal_GB/s", "ratio", "crypto%", "sealed_cpu",
               "cpu_eff%");
    }
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t bytes = strtoull(tok, NULL, 10);
        size_t count = bytes / 4;
        int reps = reps_opt > 0           ? reps_opt
                   : bytes <= (1u << 20)  ? 50
                   : bytes <= (32u << 20) ? 5
                                          : 2;
        bench_arg a = {0};
        if (g_only_op && strcmp(g_only_op, "allreduce") != 0) count = 0;
        a.count = count;
        a.f = tbml_malloc(count * 4 + 4);
        for (size_t i = 0; i < count; i++)
            a.f[i] = (float)(i % 100) * 0.01f;
        op_time tp = g_sealed_only ? none : time_op(op_plain_ar, &a, reps);
        op_time ts = time_op(op_sealed_ar, &a, reps);
        /* per rank the ring seals and opens 2(n-1)/n of the buffer each: 4(n-1)/n * bytes of
         * AES-GCM; all ranks together 4(n-1) * bytes, shared by the cores */
        if (me == 0 && count)
            report("allreduce", count * 4, tp, ts, 4.0 * (n - 1) * (double)(count * 4), aes_speed,
                   used);
        tbml_free(a.f);
        /* all-to-all: every rank sends `bytes` in total, bytes/n to each */
        a.block = g_only_op && strcmp(g_only_op, "alltoall") != 0 ? 0 : bytes / (size_t)n;
        a.s = tbml_malloc(a.block * (size_t)n + 1);
        a.r = tbml_malloc(a.block * (size_t)n + 1);
        memset(a.s, me + 1, a.block * (size_t)n);
        memset(a.r, 0, a.block * (size_t)n);
        tp = g_sealed_only ? none : time_op(op_plain_a2a, &a, reps);
        ts = time_op(op_sealed_a2a, &a, reps);
        /* seal + open of (n-1)/n of bytes on each of n ranks */
        if (me == 0 && a.block)
            report("alltoall", a.block * n, tp, ts, 2.0 * (n - 1) * (double)a.block * n, aes_speed,
                   used);
        tbml_free(a.s);
        tbml_free(a.r);
    }
    tbml_free(list);
    fflush(stdout);
    return 0;
}

/* A job secret for the bench without the tbml tool: a random key under a random password. */
static int keygen(const char *dir)
{
    char kp[512], pp[512], pw[65];
    uint8_t raw[32];
    tbml_key_t *k = NULL;
    if (!dir) return 2;
    snprintf(kp, sizeof(kp), "%s/bench.key", dir);
    snprintf(pp, sizeof(pp), "%s/pw", dir);
    tbml_status st = tbml_random(raw, sizeof(raw));
    tbml_hex(raw, sizeof(raw), pw);
    if (!st) st = tbml_key_generate("bench", &k);
    if (!st) st = tbml_keyfile_write(kp, k, pw, 64, (tbml_pwhash_params){1, 1024, 1});
    tbml_key_free(k);
    FILE *f = st ? NULL : fopen(pp, "w");
    if (f) {
        fprintf(f, "%s\n", pw);
        fclose(f);
    }
    if (st || !f) {
        fprintf(stderr, "bench_dist: keygen: %s\n", tbml_errmsg());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *out = NULL, *sizes = "89112,16777216,268435456";
    int die = -1, hang = -1, cores = tbml_ncores(), reps = 0;
    double aes_speed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0 || strcmp(argv[i], "--bench") == 0 ||
            strcmp(argv[i], "--keygen") == 0)
            mode = argv[i] + 2;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--die") == 0 && i + 1 < argc)
            die = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hang") == 0 && i + 1 < argc)
            hang = atoi(argv[++i]);
        else if (strcmp(argv[i], "--aes-speed") == 0 && i + 1 < argc)
            aes_speed = atof(argv[++i]);
        else if (strcmp(argv[i], "--cores") == 0 && i + 1 < argc)
            cores = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--op") == 0 && i + 1 < argc)
            g_only_op = argv[++i];
        else if (strcmp(argv[i], "--sealed-only") == 0)
            g_sealed_only = 1;
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else {
            fprintf(stderr, "usage: bench_dist --check [--out F] [--die R|--hang R] | --bench "
                            "[--aes-speed B/s] "
                            "[--cores N] [--sizes LIST] [--reps N] [--sealed-only] [--op "
                            "allreduce|alltoall]\n");
            return 2;
        }
    }
    if (!mode) mode = "check";
    if (strcmp(mode, "keygen") == 0) return keygen(out);
    tbml_status st = tbml_comm_open(NULL, &g_c);
    if (st) {
        fprintf(stderr, "bench_dist: %s\n", tbml_errmsg());
        return 1;
    }
    int rc = strcmp(mode, "bench") == 0
                 ? bench(aes_speed > 0 ? aes_speed : 2.8e9, cores, sizes, reps)
                 : check(out, die, hang);
    tbml_comm_free(g_c);
    return rc;
}
