/* Helpers shared by the sealed-file tests: in-memory files (memfd), pipes fed by a thread, and
 * sealing/unsealing whole buffers. */
#ifndef TBML_TEST_SEAL_UTIL_H
#define TBML_TEST_SEAL_UTIL_H

#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

/* A seekable in-memory file holding size bytes, positioned at 0. */
static inline int mem_file(const void *bytes, size_t size)
{
    int fd = memfd_create("tbml-test", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        exit(2);
    }
    if (size && tbml_write_all(fd, bytes, size, "memfd")) exit(2);
    if (lseek(fd, 0, SEEK_SET) != 0) exit(2);
    return fd;
}

/* All bytes of fd from offset 0 (tbml_free them). */
static inline uint8_t *mem_file_bytes(int fd, size_t *size)
{
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t *b = tbml_malloc((size_t)end + 1);
    if (pread(fd, b, (size_t)end, 0) != end) exit(2);
    *size = (size_t)end;
    return b;
}

/* A thread that writes bytes into a pipe and closes it, so a reader on the other end sees a
 * stream of any length. */
struct pipe_feed {
    pthread_t thread;
    int fd;
    const uint8_t *bytes;
    size_t size;
};

static void *pipe_feed_main(void *p)
{
    struct pipe_feed *f = p;
    size_t off = 0;
    while (off < f->size) {
        ssize_t k = write(f->fd, f->bytes + off, f->size - off);
        if (k < 0) {
            if (errno == EINTR) continue;
            break; /* the reader went away (EPIPE): it has seen enough */
        }
        off += (size_t)k;
    }
    close(f->fd);
    return NULL;
}

/* Returns the read end of a pipe fed with bytes by a thread; join with pipe_feed_join. */
static inline int pipe_feed_start(struct pipe_feed *f, const void *bytes, size_t size)
{
    int p[2];
    if (pipe(p) != 0) exit(2);
    f->fd = p[1];
    f->bytes = bytes;
    f->size = size;
    if (pthread_create(&f->thread, NULL, pipe_feed_main, f) != 0) exit(2);
    return p[0];
}

static inline void pipe_feed_join(struct pipe_feed *f, int read_fd)
{
    close(read_fd); /* unblocks a writer stuck on a full pipe */
    pthread_join(f->thread, NULL);
}

/* Seals size bytes into a new memfd, feeding the writer in chunks of chunk bytes (0 = all). */
static inline tbml_status seal_to_mem(const tbml_key_t *key, uint32_t seg, const void *data,
                                      size_t size, size_t chunk, int *out_fd)
{
    int fd = memfd_create("tbml-sealed", MFD_CLOEXEC);
    tbml_sealed_writer_t *w;
    tbml_status st = tbml_sealed_writer_open(fd, "mem.sealed", key, seg, &w);
    if (st) {
        close(fd);
        return st;
    }
    if (chunk == 0) chunk = size ? size : 1;
    for (size_t off = 0; off < size && !st; off += chunk)
        st = tbml_sealed_writer_write(w, (const uint8_t *)data + off,
                                      size - off < chunk ? size - off : chunk);
    if (!st) st = tbml_sealed_writer_finish(w);
    tbml_sealed_writer_free(w);
    if (st) {
        close(fd);
        return st;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) exit(2);
    *out_fd = fd;
    return TBML_OK;
}

/* Sequentially reads everything from an open reader in chunks of chunk bytes into a new buffer
 * (tbml_free it). On failure *out_size is how much was handed out before the failure and the
 * buffer holds those bytes; the failing call's buffer must have been wiped (checked here). */
static inline tbml_status unseal_all(tbml_sealed_reader_t *r, size_t chunk, uint8_t **out,
                                     size_t *out_size, int *wiped)
{
    size_t cap = 1024, len = 0;
    uint8_t *buf = tbml_malloc(cap);
    uint8_t *tmp = tbml_malloc(chunk);
    tbml_status st;
    *wiped = 1;
    for (;;) {
        size_t got;
        memset(tmp, 0xA5, chunk);
        st = tbml_sealed_reader_read(r, tmp, chunk, &got);
        if (st) {
            for (size_t i = 0; i < chunk; i++)
                if (tmp[i] != 0) *wiped = 0;
            break;
        }
        if (got == 0) break;
        if (len + got > cap) {
            while (len + got > cap)
                cap *= 2;
            buf = tbml_realloc(buf, cap);
        }
        memcpy(buf + len, tmp, got);
        len += got;
    }
    tbml_free(tmp);
    *out = buf;
    *out_size = len;
    return st;
}

/* Deterministic test bytes. */
static inline void fill_pattern(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

#endif
