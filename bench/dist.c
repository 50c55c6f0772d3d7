/* Distributed mode under mpirun: the sealed collectives against MPI's own on the same buffers
 * (bench/dist.sh runs it), and the correctness and failure checks the mpi-labelled tests run.
 *
 *   bench_dist --bench [--aes-speed BYTES_PER_S] [--sizes LIST]   rank 0 prints one line per case
 *   bench_dist --check [--out FILE] [--die R | --hang R]          collectives vs a reference
 *   bench_dist --keygen --out DIR     a job secret DIR/bench.key + DIR/pw (where no tbml tool is)
 *
 * The job secret comes from TBML_DIST_KEYFILE and TBML_DIST_PASSWORD_FILE (paths). */
#include "tbml/comm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static double value(int rank, size_t i) { return (double)((int)((i * 7 + (size_t)rank * 13) % 61) - 30); }
static uint8_t pattern(int src, int dst, size_t i) { return (uint8_t)(src * 31 + dst * 17 + i * 7 + (i >> 8)); }

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
    uint8_t **send = tbml_calloc((size_t)n, sizeof(uint8_t *)), **recv = tbml_calloc((size_t)n, sizeof(uint8_t *));
    size_t *ssz = tbml_calloc((size_t)n, sizeof(size_t)), *rsz = tbml_calloc((size_t)n, sizeof(size_t));
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
        printf("check: %d ranks (%s), %lld mismatches\n", n, tbml_comm_backend(g_c), (long long)total);
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

/* Seconds per call of op, the best of reps after one warm-up (all ranks in step). */
typedef tbml_status (*op_fn)(void *arg);

static double time_op(op_fn fn, void *arg, int reps)
{
    double best = 1e30;
    TRY(fn(arg));
    for (int r = 0; r < reps; r++) {
        TRY(tbml_comm_barrier(g_c));
        double t0 = tbml_now();
        TRY(fn(arg));
        double t = tbml_now() - t0;
        /* the slowest rank sets the time */
        double all[64] = {0};
        uint8_t *rb[64] = {0};
        size_t rs[64] = {0};
        int n = tbml_comm_size(g_c);
        TRY(tbml_comm_gather(g_c, 0, &t, sizeof(t), rb, rs));
        if (tbml_comm_rank(g_c) == 0) {
            for (int i = 0; i < n && i < 64; i++) {
                memcpy(&all[i], rb[i], sizeof(double));
                if (all[i] > t) t = all[i];
                tbml_free(rb[i]);
            }
        }
        TRY(tbml_comm_bcast(g_c, 0, &t, sizeof(t)));
        if (t < best) best = t;
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

static int bench(double aes_speed, int cores, const char *sizes)
{
    int me = tbml_comm_rank(g_c), n = tbml_comm_size(g_c);
    char *list = tbml_strdup(sizes), *save = NULL;
    if (me == 0) {
        printf("# %d ranks, %d cores; crypto limit = %.2f GB/s AES-256-GCM per core x %d cores\n", n, cores,
               aes_speed / 1e9, cores);
        printf("%-10s %-10s %12s %12s %12s %12s %8s %10s\n", "op", "bytes", "plain_ms", "sealed_ms", "plain_GB/s",
               "sealed_GB/s", "ratio", "crypto%");
    }
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t bytes = strtoull(tok, NULL, 10);
        size_t count = bytes / 4;
        int reps = bytes <= (1u << 20) ? 50 : bytes <= (32u << 20) ? 5 : 2;
        bench_arg a = {0};
        a.count = count;
        a.f = tbml_malloc(count * 4 + 4);
        for (size_t i = 0; i < count; i++)
            a.f[i] = (float)(i % 100) * 0.01f;
        double tp = time_op(op_plain_ar, &a, reps), ts = time_op(op_sealed_ar, &a, reps);
        /* per rank the ring seals and opens 2(n-1)/n of the buffer each: 4(n-1)/n * bytes of AES-GCM;
         * all ranks together 4(n-1) * bytes, shared by the cores */
        double crypto_bytes = 4.0 * (n - 1) * (double)(count * 4);
        double limit = crypto_bytes / (aes_speed * cores);
        if (me == 0)
            printf("%-10s %-10zu %12.3f %12.3f %12.2f %12.2f %8.2f %9.0f%%\n", "allreduce", count * 4, tp * 1e3,
                   ts * 1e3, count * 4 / tp / 1e9, count * 4 / ts / 1e9, ts / tp, 100 * limit / ts);
        tbml_free(a.f);
        /* all-to-all: every rank sends `bytes` in total, bytes/n to each */
        a.block = bytes / (size_t)n;
        a.s = tbml_malloc(a.block * (size_t)n + 1);
        a.r = tbml_malloc(a.block * (size_t)n + 1);
        memset(a.s, me + 1, a.block * (size_t)n);
        tp = time_op(op_plain_a2a, &a, reps);
        ts = time_op(op_sealed_a2a, &a, reps);
        crypto_bytes = 2.0 * (n - 1) * (double)a.block * n; /* seal + open of (n-1)/n of bytes, n ranks */
        limit = crypto_bytes / (aes_speed * cores);
        if (me == 0)
            printf("%-10s %-10zu %12.3f %12.3f %12.2f %12.2f %8.2f %9.0f%%\n", "alltoall", a.block * n, tp * 1e3,
                   ts * 1e3, a.block * n / tp / 1e9, a.block * n / ts / 1e9, ts / tp, 100 * limit / ts);
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
    int die = -1, hang = -1, cores = tbml_ncores();
    double aes_speed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0 || strcmp(argv[i], "--bench") == 0 || strcmp(argv[i], "--keygen") == 0)
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
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else {
            fprintf(stderr, "usage: bench_dist --check [--out F] [--die R|--hang R] | --bench [--aes-speed B/s] "
                            "[--cores N] [--sizes LIST]\n");
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
    int rc = strcmp(mode, "bench") == 0 ? bench(aes_speed > 0 ? aes_speed : 2.8e9, cores, sizes)
                                        : check(out, die, hang);
    tbml_comm_free(g_c);
    return rc;
}
