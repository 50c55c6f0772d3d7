/* Slow: a multi-GB generated stream sealed into a pipe by one thread and unsealed from the other
 * end by another, in bounded memory: peak RSS must stay far below the stream's size (the writer
 * and the reader each hold one segment). TBML_SLOW_GB sets the size (default 4). */
#include "seal_util.h"

#include <signal.h>
#include <sys/resource.h>

#define CHUNK (1u << 20)

/* byte i of the stream, computed 8 bytes at a time so generation is not the bottleneck */
static void gen(uint8_t *p, uint64_t off, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = ((off + i) / 8 + 1) * 0x9E3779B97F4A7C15ull;
        memcpy(p + i, &w, 8);
    }
}

struct producer {
    int fd;
    tbml_key_t *key;
    uint64_t size;
    tbml_status st;
    char msg[256];
};

static void *produce(void *p)
{
    struct producer *a = p;
    tbml_sealed_writer_t *w = NULL;
    uint8_t *buf = tbml_malloc(CHUNK);
    a->st = tbml_sealed_writer_open(a->fd, "slow-pipe", a->key, 0, &w);
    for (uint64_t off = 0; !a->st && off < a->size; off += CHUNK) {
        size_t n = a->size - off < CHUNK ? (size_t)(a->size - off) : CHUNK;
        gen(buf, off, (n + 7) & ~(size_t)7);
        a->st = tbml_sealed_writer_write(w, buf, n);
    }
    if (!a->st) a->st = tbml_sealed_writer_finish(w);
    if (a->st) snprintf(a->msg, sizeof(a->msg), "%s", tbml_errmsg());
    tbml_sealed_writer_free(w);
    close(a->fd);
    tbml_free(buf);
    return NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *env = getenv("TBML_SLOW_GB");
    double gb = env ? atof(env) : 4.0;
    /* an odd size, so the last segment is partial */
    uint64_t size = (uint64_t)(gb * (double)(1ull << 30)) + 12345;

    uint8_t kb[32];
    fill_pattern(kb, 32, 42);
    tbml_key_t *key;
    if (tbml_key_from_bytes("slow", kb, &key)) return 2;

    int p[2];
    CHECK(pipe(p) == 0);
    struct producer a = {.fd = p[1], .key = key, .size = size};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, produce, &a) == 0);

    double t0 = tbml_now();
    tbml_sealed_reader_t *r = NULL;
    CHECK_OK(tbml_sealed_reader_open(p[0], "slow-pipe", key, &r));
    uint8_t *buf = tbml_malloc(CHUNK + 8), *want = tbml_malloc(CHUNK + 8);
    uint64_t total = 0;
    int mismatch = 0;
    for (;;) {
        size_t got = 0;
        tbml_status st = tbml_sealed_reader_read(r, buf, CHUNK, &got);
        if (st) {
            CHECK_OK(st);
            break;
        }
        if (got == 0) break;
        /* reads may end anywhere; compare against the generator at the same offset */
        uint64_t base = total & ~(uint64_t)7;
        size_t skew = (size_t)(total - base);
        gen(want, base, (got + skew + 7) & ~(size_t)7);
        if (memcmp(buf, want + skew, got) != 0) mismatch++;
        total += got;
    }
    double secs = tbml_now() - t0;
    pthread_join(t, NULL);
    CHECK_OK(a.st);
    if (a.st) fprintf(stderr, "writer: %s\n", a.msg);
    CHECK(total == size);
    CHECK(mismatch == 0);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long limit_kib = 64 * 1024;
#if defined(__SANITIZE_ADDRESS__)
    limit_kib = 512 * 1024; /* ASan's shadow and quarantine */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    limit_kib = 512 * 1024;
#endif
#endif
    printf("%.2f GiB sealed and unsealed through a pipe in %.1f s (%.0f MB/s); peak RSS %ld KiB\n",
           (double)size / (double)(1ull << 30), secs, (double)size / secs / 1e6, ru.ru_maxrss);
    CHECK(ru.ru_maxrss < limit_kib);

    tbml_sealed_reader_free(r);
    close(p[0]);
    tbml_free(buf);
    tbml_free(want);
    tbml_key_free(key);
    return check_done();
}
