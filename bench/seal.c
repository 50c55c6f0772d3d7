/* Sealed-file throughput against `openssl speed -evp aes-256-gcm -bytes 16384` measured in the
 * same run: sealing and unsealing on one core (streaming writer, sequential reader) and on all
 * cores (one file split into segment ranges, sealed with tbml_sealed_writer_segment and unsealed
 * with tbml_sealed_reader_pread, through tbml_pool). Files live in memory (memfd), so the numbers
 * include the kernel's copy to and from the page cache but no disk.
 *   bench_seal [MiB=256] [segment_size=65536] [openssl_seconds=3]
 * Each figure is the best of 3 runs. Two views: wall-clock MB/s (vs `openssl speed -elapsed`),
 * and MB per CPU-second of this process, user + system, all threads (vs plain `openssl speed`,
 * which divides by its user CPU time). On a shared machine the wall-clock ratio mostly measures
 * the neighbours; the CPU-time ratio is the per-core efficiency, and counts our kernel copies
 * against us. */
#include "tbml/tbml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* openssl speed divides by user CPU time unless -elapsed is given; we time by the wall clock,
 * so the ratios use the -elapsed figure (on an idle machine the two agree). */
static double openssl_mbps(int seconds, int elapsed)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "openssl speed %s-evp aes-256-gcm -bytes 16384 -seconds %d -mr 2>/dev/null",
             elapsed ? "-elapsed " : "", seconds);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[512];
    double bps = 0;
    while (fgets(line, sizeof(line), p)) {
        /* "+F:<n>:AES-256-GCM:<bytes per second>" */
        if (strncmp(line, "+F:", 3) == 0) {
            char *last = strrchr(line, ':');
            if (last) bps = atof(last + 1);
        }
    }
    pclose(p);
    return bps / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_seal: %s: %s\n", what, tbml_errmsg());
    exit(1);
}

struct par {
    tbml_sealed_writer_t *w;
    tbml_sealed_reader_t *r;
    const uint8_t *in;
    uint8_t *out;
    size_t size;
    uint32_t seg;
    tbml_status st[1024];
};

static void par_seal(int ith, int nth, void *p)
{
    struct par *a = p;
    uint64_t n = (a->size + a->seg - 1) / a->seg;
    tbml_status st = TBML_OK;
    for (uint64_t i = n * (uint64_t)ith / (uint64_t)nth;
         i < n * (uint64_t)(ith + 1) / (uint64_t)nth && !st; i++) {
        size_t len = i + 1 < n ? a->seg : a->size - i * a->seg;
        st = tbml_sealed_writer_segment(a->w, i, i + 1 == n, a->in + i * a->seg, len);
    }
    a->st[ith] = st;
}

static void par_unseal(int ith, int nth, void *p)
{
    struct par *a = p;
    uint64_t n = (a->size + a->seg - 1) / a->seg;
    uint64_t lo = n * (uint64_t)ith / (uint64_t)nth * a->seg;
    uint64_t hi = n * (uint64_t)(ith + 1) / (uint64_t)nth * a->seg;
    if (hi > a->size) hi = a->size;
    size_t got = 0;
    a->st[ith] = hi > lo ? tbml_sealed_reader_pread(a->r, a->out + lo, hi - lo, lo, &got) : TBML_OK;
}

/* a measurement: best wall-clock and best per-CPU-second rates over the runs */
typedef struct {
    const char *name;
    double wall, cpu; /* MB/s */
    double t0, c0;
} meas;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void meas_start(meas *m)
{
    m->t0 = tbml_now();
    m->c0 = cpu_now();
}

static void meas_stop(meas *m, size_t bytes)
{
    double wall = bytes / (tbml_now() - m->t0) / 1e6, cpu = bytes / (cpu_now() - m->c0) / 1e6;
    if (wall > m->wall) m->wall = wall;
    if (cpu > m->cpu) m->cpu = cpu;
}

/* One core, streaming writer: seals in (size bytes, fed in chunk pieces) to fd and times it,
 * writer set-up and finish included. */
static void seal_stream(meas *m, int fd, const char *name, const tbml_key_t *key, uint32_t seg,
                        const uint8_t *in, size_t size, size_t chunk)
{
    tbml_sealed_writer_t *w;
    meas_start(m);
    if (tbml_sealed_writer_open(fd, name, key, seg, &w)) die("open");
    for (size_t off = 0; off < size; off += chunk)
        if (tbml_sealed_writer_write(w, in + off, size - off < chunk ? size - off : chunk))
            die("write");
    if (tbml_sealed_writer_finish(w)) die("finish");
    meas_stop(m, size);
    tbml_sealed_writer_free(w);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    uint32_t seg = argc > 2 ? (uint32_t)atol(argv[2]) : TBML_SEAL_SEGMENT_DEFAULT;
    int osl_secs = argc > 3 ? atoi(argv[3]) : 3;
    size_t size = mib << 20;
    const size_t chunk = 1 << 20;
    uint8_t *in = tbml_malloc(size), *out = tbml_malloc(size);
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull;
        memcpy(in + i, &v, size - i < 8 ? size - i : 8);
    }
    memset(out, 0, size); /* fault the pages in before timing */
    tbml_key_t *key;
    if (tbml_key_generate("bench", &key)) die("key");
    tbml_pool_t *pool;
    if (tbml_pool_create(0, &pool)) die("pool");
    int ncores = tbml_pool_size(pool);

    /* one memfd per mode, rewritten in place each run: the first run allocates its pages, later
     * runs measure the copy into the page cache, as rewriting a cached file would */
    int sfd = memfd_create("bench", MFD_CLOEXEC), pfd = memfd_create("bench-par", MFD_CLOEXEC);
    uint64_t nseg = (size + seg - 1) / seg;
    if (ftruncate(pfd, (off_t)(116 + 5 + size + 16 * nseg)) != 0) die("ftruncate");
    meas m_null = {.name = "seal, 1 core, to /dev/null"},
         m_seal = {.name = "seal, 1 core, to a memfd"},
         m_unseal = {.name = "unseal, 1 core, sequential from a memfd"},
         m_pseal = {.name = "seal, all cores, segment ranges"},
         m_punseal = {.name = "unseal, all cores, segment ranges"};
    for (int rep = 0; rep < 3; rep++) {
        /* one core, streaming writer to /dev/null: the crypto and the format, no copy out */
        FILE *devnull = fopen("/dev/null", "w");
        seal_stream(&m_null, fileno(devnull), "/dev/null", key, seg, in, size, chunk);
        fclose(devnull);

        /* one core, streaming writer into an in-memory file */
        lseek(sfd, 0, SEEK_SET);
        seal_stream(&m_seal, sfd, "memfd", key, seg, in, size, chunk);

        /* one core, sequential reader */
        lseek(sfd, 0, SEEK_SET);
        tbml_sealed_reader_t *r;
        meas_start(&m_unseal);
        if (tbml_sealed_reader_open(sfd, "memfd", key, &r)) die("reader open");
        size_t total = 0, got;
        do {
            if (tbml_sealed_reader_read(r, out + total, size - total < chunk ? size - total : chunk,
                                        &got))
                die("read");
            total += got;
        } while (got > 0);
        meas_stop(&m_unseal, size);
        tbml_sealed_reader_free(r);
        if (total != size || memcmp(in, out, size) != 0) die("unsealed bytes differ");

        /* all cores: one file, split into segment ranges */
        lseek(pfd, 0, SEEK_SET);
        struct par a = {.in = in, .out = out, .size = size, .seg = seg};
        meas_start(&m_pseal);
        if (tbml_sealed_writer_open(pfd, "memfd", key, seg, &a.w)) die("open");
        tbml_pool_run(pool, par_seal, &a);
        for (int i = 0; i < ncores; i++)
            if (a.st[i]) die("parallel seal");
        if (tbml_sealed_writer_finish(a.w)) die("finish");
        meas_stop(&m_pseal, size);
        tbml_sealed_writer_free(a.w);

        memset(out, 0, size);
        lseek(pfd, 0, SEEK_SET);
        meas_start(&m_punseal);
        if (tbml_sealed_reader_open(pfd, "memfd", key, &a.r)) die("reader open");
        tbml_pool_run(pool, par_unseal, &a);
        for (int i = 0; i < ncores; i++)
            if (a.st[i]) die("parallel unseal");
        meas_stop(&m_punseal, size);
        tbml_sealed_reader_free(a.r);
        if (memcmp(in, out, size) != 0) die("parallel unsealed bytes differ");
    }
    close(sfd);
    close(pfd);

    double osl_cpu = openssl_mbps(osl_secs, 0);
    double osl = openssl_mbps(osl_secs, 1);
    printf("sealed files: %zu MiB, %u-byte segments, %d cores; best of 3 runs\n", mib, seg, ncores);
    printf(
        "openssl speed -evp aes-256-gcm -bytes 16384 -seconds %d, 1 core: %.0f MB per CPU-second, "
        "%.0f MB/s wall clock (-elapsed)\n",
        osl_secs, osl_cpu, osl);
    printf("%-40s %9s %7s %12s %7s\n", "", "wall MB/s", "ratio", "MB/CPU-s", "ratio");
    meas *all[] = {&m_null, &m_seal, &m_unseal, &m_pseal, &m_punseal};
    for (int i = 0; i < 5; i++) {
        /* the all-cores wall figure is divided by the core count: a per-core ratio */
        double per = i >= 3 ? (double)ncores : 1.0;
        printf("%-40s %9.0f %6.2fx %12.0f %6.2fx%s\n", all[i]->name, all[i]->wall,
               all[i]->wall / per / osl, all[i]->cpu, all[i]->cpu / osl_cpu,
               i >= 3 ? "  (per core)" : "");
    }

    tbml_pool_free(pool);
    tbml_key_free(key);
    tbml_free(in);
    tbml_free(out);
    return 0;
}
