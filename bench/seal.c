/* Sealed-file throughput against `openssl speed -evp aes-256-gcm -bytes 16384` measured in the
 * same run: sealing and unsealing on one core (streaming writer, sequential reader) and on all
 * cores (one file split into segment ranges, sealed with tbml_sealed_writer_segment and unsealed
 * with tbml_sealed_reader_pread, through tbml_pool). Files live in memory (memfd), so the numbers
 * include the kernel's copy to and from the page cache but no disk.
 *   bench_seal [MiB=256] [segment_size=65536] [openssl_seconds=3]
 * Each figure is the best of 3 runs (the machine may be shared). */
#include "tbml/tbml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static double openssl_mbps(int seconds)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "openssl speed -evp aes-256-gcm -bytes 16384 -seconds %d -mr 2>/dev/null", seconds);
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

    double best_seal_null = 0, best_seal = 0, best_unseal = 0, best_pseal = 0, best_punseal = 0;
    for (int rep = 0; rep < 3; rep++) {
        /* one core, streaming writer to /dev/null: the crypto and the format, no copy out */
        FILE *devnull = fopen("/dev/null", "w");
        tbml_sealed_writer_t *w;
        double t0 = tbml_now();
        if (tbml_sealed_writer_open(fileno(devnull), "/dev/null", key, seg, &w)) die("open");
        for (size_t off = 0; off < size; off += chunk)
            if (tbml_sealed_writer_write(w, in + off, size - off < chunk ? size - off : chunk))
                die("write");
        if (tbml_sealed_writer_finish(w)) die("finish");
        double t = tbml_now() - t0;
        tbml_sealed_writer_free(w);
        fclose(devnull);
        if (size / t / 1e6 > best_seal_null) best_seal_null = size / t / 1e6;

        /* one core, streaming writer into an in-memory file */
        int fd = memfd_create("bench", MFD_CLOEXEC);
        t0 = tbml_now();
        if (tbml_sealed_writer_open(fd, "memfd", key, seg, &w)) die("open");
        for (size_t off = 0; off < size; off += chunk)
            if (tbml_sealed_writer_write(w, in + off, size - off < chunk ? size - off : chunk))
                die("write");
        if (tbml_sealed_writer_finish(w)) die("finish");
        t = tbml_now() - t0;
        tbml_sealed_writer_free(w);
        if (size / t / 1e6 > best_seal) best_seal = size / t / 1e6;

        /* one core, sequential reader */
        lseek(fd, 0, SEEK_SET);
        tbml_sealed_reader_t *r;
        t0 = tbml_now();
        if (tbml_sealed_reader_open(fd, "memfd", key, &r)) die("reader open");
        size_t total = 0, got;
        do {
            if (tbml_sealed_reader_read(r, out + total, size - total < chunk ? size - total : chunk, &got))
                die("read");
            total += got;
        } while (got > 0);
        t = tbml_now() - t0;
        tbml_sealed_reader_free(r);
        if (total != size || memcmp(in, out, size) != 0) die("unsealed bytes differ");
        if (size / t / 1e6 > best_unseal) best_unseal = size / t / 1e6;
        close(fd);

        /* all cores: one file, split into segment ranges */
        fd = memfd_create("bench-par", MFD_CLOEXEC);
        uint64_t nseg = (size + seg - 1) / seg;
        if (ftruncate(fd, (off_t)(116 + 5 + size + 16 * nseg)) != 0) die("ftruncate");
        struct par a = {.in = in, .out = out, .size = size, .seg = seg};
        t0 = tbml_now();
        if (tbml_sealed_writer_open(fd, "memfd", key, seg, &a.w)) die("open");
        tbml_pool_run(pool, par_seal, &a);
        for (int i = 0; i < ncores; i++)
            if (a.st[i]) die("parallel seal");
        if (tbml_sealed_writer_finish(a.w)) die("finish");
        t = tbml_now() - t0;
        tbml_sealed_writer_free(a.w);
        if (size / t / 1e6 > best_pseal) best_pseal = size / t / 1e6;

        memset(out, 0, size);
        lseek(fd, 0, SEEK_SET);
        t0 = tbml_now();
        if (tbml_sealed_reader_open(fd, "memfd", key, &a.r)) die("reader open");
        tbml_pool_run(pool, par_unseal, &a);
        for (int i = 0; i < ncores; i++)
            if (a.st[i]) die("parallel unseal");
        t = tbml_now() - t0;
        tbml_sealed_reader_free(a.r);
        if (memcmp(in, out, size) != 0) die("parallel unsealed bytes differ");
        if (size / t / 1e6 > best_punseal) best_punseal = size / t / 1e6;
        close(fd);
    }

    double osl = openssl_mbps(osl_secs);
    printf("sealed files: %zu MiB, %u-byte segments, %d cores; best of 3 runs\n", mib, seg, ncores);
    printf("openssl speed -evp aes-256-gcm -bytes 16384 (1 core): %8.0f MB/s\n", osl);
    printf("%-44s %8s %10s\n", "", "MB/s", "vs openssl");
    printf("%-44s %8.0f %9.2fx\n", "seal, 1 core, to /dev/null", best_seal_null, best_seal_null / osl);
    printf("%-44s %8.0f %9.2fx\n", "seal, 1 core, to a memfd", best_seal, best_seal / osl);
    printf("%-44s %8.0f %9.2fx\n", "unseal, 1 core, sequential from a memfd", best_unseal, best_unseal / osl);
    printf("%-44s %8.0f %9.2fx per core\n", "seal, all cores, segment ranges", best_pseal,
           best_pseal / ncores / osl);
    printf("%-44s %8.0f %9.2fx per core\n", "unseal, all cores, segment ranges", best_punseal,
           best_punseal / ncores / osl);

    tbml_pool_free(pool);
    tbml_key_free(key);
    tbml_free(in);
    tbml_free(out);
    return 0;
}
