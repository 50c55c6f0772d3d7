/* Sealed files: round trips at every size edge, pipes both ways, inspect without a key, random
 * access and parallel unsealing equal to the plaintext, parallel sealing, key mismatches, and
 * error messages that name the file. Tampering is in test_sealed_tamper.c. */
#include "seal_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static tbml_key_t *g_key;

/* Checks one sealed memfd against data by every read path. */
static void check_all_paths(int fd, const uint8_t *data, size_t size, uint32_t seg)
{
    tbml_sealed_reader_t *r = NULL;
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_OK(tbml_sealed_reader_open(fd, "mem.sealed", g_key, &r));
    if (!r) return;
    const tbml_sealed_info *info = tbml_sealed_reader_info(r);
    CHECK(info->length == size);
    CHECK(info->segment_size == seg);
    CHECK(info->nsegments == (size == 0 ? 1 : (size + seg - 1) / seg));
    CHECK(strcmp(info->key_name, tbml_key_name(g_key)) == 0);

    /* sequential, in chunks that straddle segment edges */
    static const size_t chunks[] = {1, 7, 64, 1000, 1 << 20};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        if (chunks[c] == 1 && size > 5000) continue;
        tbml_sealed_reader_t *r2;
        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        CHECK_OK(tbml_sealed_reader_open(fd, "mem.sealed", g_key, &r2));
        uint8_t *out;
        size_t n;
        int wiped;
        CHECK_OK(unseal_all(r2, chunks[c], &out, &n, &wiped));
        CHECK(n == size && memcmp(out, data, size) == 0);
        /* the end stays the end */
        size_t got = 99;
        uint8_t one;
        CHECK_OK(tbml_sealed_reader_read(r2, &one, 1, &got));
        CHECK(got == 0);
        tbml_free(out);
        tbml_sealed_reader_free(r2);
    }

    /* each segment by itself */
    uint8_t *segbuf = tbml_malloc(seg);
    for (uint64_t i = 0; i < info->nsegments; i++) {
        size_t got = 0;
        CHECK_OK(tbml_sealed_reader_segment(r, i, segbuf, &got));
        size_t want = i + 1 < info->nsegments ? seg : size - i * seg;
        CHECK(got == want && memcmp(segbuf, data + i * seg, got) == 0);
    }
    size_t got;
    CHECK_ST(tbml_sealed_reader_segment(r, info->nsegments, segbuf, &got), TBML_E_ARG);
    tbml_free(segbuf);

    /* pread of assorted ranges, clipped at the end */
    uint8_t *buf = tbml_malloc(size + 100);
    uint64_t offs[] = {0, 1, seg - 1, seg, seg + 1, size / 2, size ? size - 1 : 0, size, size + 5};
    size_t lens[] = {0, 1, 3, seg - 1, seg, seg + 1, 2 * seg + 3, size + 100};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
            got = 12345;
            CHECK_OK(tbml_sealed_reader_pread(r, buf, lens[j], offs[i], &got));
            size_t want =
                offs[i] >= size ? 0 : (size - offs[i] < lens[j] ? size - offs[i] : lens[j]);
            CHECK(got == want);
            if (got == want && want) CHECK(memcmp(buf, data + offs[i], want) == 0);
        }
    }
    tbml_free(buf);
    tbml_sealed_reader_free(r);
}

static void test_round_trips(void)
{
    static const uint32_t segs[] = {16, 64, 4096};
    for (size_t s = 0; s < 3; s++) {
        uint32_t seg = segs[s];
        size_t sizes[] = {0, 1, seg - 1, seg, seg + 1, 2 * seg, 5 * seg + 7, 37 * seg};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t size = sizes[i];
            uint8_t *data = tbml_malloc(size + 1);
            fill_pattern(data, size, size * 31 + seg);
            /* feeding the writer all at once, byte by byte, or in odd chunks gives the same file
             * layout and the same plaintext back */
            static const size_t wchunks[] = {0, 1, 13};
            for (size_t c = 0; c < 3; c++) {
                if (wchunks[c] == 1 && size > 5000) continue;
                int fd = -1;
                CHECK_OK(seal_to_mem(g_key, seg, data, size, wchunks[c], &fd));
                if (fd < 0) continue;
                size_t fsize;
                uint8_t *bytes = mem_file_bytes(fd, &fsize);
                uint64_t nseg = size == 0 ? 1 : (size + seg - 1) / seg;
                CHECK(fsize == 116 + strlen(tbml_key_name(g_key)) + size + 16 * nseg);
                CHECK(tbml_sealed_probe(bytes, fsize));
                /* the plaintext does not appear in the file */
                if (size >= 16) CHECK(memmem(bytes, fsize, data, 16) == NULL);
                tbml_free(bytes);
                check_all_paths(fd, data, size, seg);
                close(fd);
            }
            tbml_free(data);
        }
    }
}

/* the sealed file's bytes pass through a pipe to a reader that cannot seek */
static void test_pipes(void)
{
    static const uint32_t seg = 64;
    size_t sizes[] = {0, 1, 63, 64, 65, 640, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t size = sizes[i];
        uint8_t *data = tbml_malloc(size + 1);
        fill_pattern(data, size, 7 + size);

        /* writer into a pipe: a thread drains it into a memfd */
        int p[2];
        CHECK(pipe(p) == 0);
        tbml_sealed_writer_t *w = NULL;
        int sink = memfd_create("sink", MFD_CLOEXEC);
        pid_t pid = fork();
        if (pid == 0) { /* child: copy the pipe into the memfd */
            close(p[1]);
            uint8_t b[4096];
            ssize_t k;
            while ((k = read(p[0], b, sizeof(b))) > 0)
                if (write(sink, b, (size_t)k) != k) _exit(1);
            _exit(0);
        }
        close(p[0]);
        CHECK_OK(tbml_sealed_writer_open(p[1], "pipe-out", g_key, seg, &w));
        if (w) {
            for (size_t off = 0; off < size; off += 1000)
                CHECK_OK(
                    tbml_sealed_writer_write(w, data + off, size - off < 1000 ? size - off : 1000));
            CHECK_OK(tbml_sealed_writer_finish(w));
            /* segment writes need a seekable file */
            CHECK_ST(tbml_sealed_writer_segment(w, 0, 1, data, 0), TBML_E_ARG);
            tbml_sealed_writer_free(w);
        }
        close(p[1]);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* reader from a pipe, in several chunk sizes */
        size_t fsize;
        uint8_t *bytes = mem_file_bytes(sink, &fsize);
        static const size_t chunks[] = {1, 50, 64, 65536};
        for (size_t c = 0; c < 4; c++) {
            struct pipe_feed feed;
            int rfd = pipe_feed_start(&feed, bytes, fsize);
            tbml_sealed_reader_t *r = NULL;
            CHECK_OK(tbml_sealed_reader_open(rfd, "pipe-in", g_key, &r));
            if (r) {
                CHECK(tbml_sealed_reader_info(r)->length == UINT64_MAX);
                uint8_t *out;
                size_t n;
                int wiped;
                CHECK_OK(unseal_all(r, chunks[c], &out, &n, &wiped));
                CHECK(n == size && memcmp(out, data, size) == 0);
                tbml_free(out);
                uint8_t tmp[16];
                size_t got;
                CHECK_ST(tbml_sealed_reader_pread(r, tmp, 16, 0, &got), TBML_E_ARG);
                CHECK_ST(tbml_sealed_reader_segment(r, 0, tmp, &got), TBML_E_ARG);
                tbml_sealed_reader_free(r);
            }
            pipe_feed_join(&feed, rfd);
        }
        tbml_free(bytes);
        close(sink);
        tbml_free(data);
    }
}

/* ---- parallel ------------------------------------------------------------------------------- */

struct par_arg {
    tbml_sealed_reader_t *r;
    tbml_sealed_writer_t *w;
    const uint8_t *data;
    uint8_t *out;
    size_t size;
    uint32_t seg;
    tbml_status st[16];
};

/* each thread unseals its own byte range, with edges that do not fall on segment edges */
static void par_pread(int ith, int nth, void *p)
{
    struct par_arg *a = p;
    size_t lo = a->size * (size_t)ith / (size_t)nth, hi = a->size * (size_t)(ith + 1) / (size_t)nth;
    tbml_status st = TBML_OK;
    for (size_t off = lo; off < hi && !st;) {
        size_t want = hi - off < 3000 ? hi - off : 3000, got = 0;
        st = tbml_sealed_reader_pread(a->r, a->out + off, want, off, &got);
        if (!st && got != want) st = TBML_E_INTERNAL;
        off += got;
    }
    a->st[ith] = st;
}

/* threads take segments round robin and open them in place */
static void par_segments(int ith, int nth, void *p)
{
    struct par_arg *a = p;
    uint64_t n = tbml_sealed_reader_info(a->r)->nsegments;
    tbml_status st = TBML_OK;
    for (uint64_t i = (uint64_t)ith; i < n && !st; i += (uint64_t)nth) {
        size_t got;
        st = tbml_sealed_reader_segment(a->r, i, a->out + i * a->seg, &got);
    }
    a->st[ith] = st;
}

/* threads seal contiguous runs of segments */
static void par_seal(int ith, int nth, void *p)
{
    struct par_arg *a = p;
    uint64_t n = (a->size + a->seg - 1) / a->seg;
    tbml_status st = TBML_OK;
    for (uint64_t i = n * (uint64_t)ith / (uint64_t)nth;
         i < n * (uint64_t)(ith + 1) / (uint64_t)nth && !st; i++) {
        size_t len = i + 1 < n ? a->seg : a->size - i * a->seg;
        st = tbml_sealed_writer_segment(a->w, i, i + 1 == n, a->data + i * a->seg, len);
    }
    a->st[ith] = st;
}

static void test_parallel(void)
{
    const uint32_t seg = 4096;
    const size_t size = 3 * 1000 * 1000 + 17;
    uint8_t *data = tbml_malloc(size);
    fill_pattern(data, size, 99);
    tbml_pool_t *pool;
    CHECK_OK(tbml_pool_create(4, &pool));
    struct par_arg a = {.data = data, .size = size, .seg = seg};
    a.out = tbml_malloc(size + seg);

    /* seal in parallel into a seekable file; the streaming reader sees the same bytes */
    int fd = memfd_create("par", MFD_CLOEXEC);
    CHECK_OK(tbml_sealed_writer_open(fd, "par.sealed", g_key, seg, &a.w));
    tbml_pool_run(pool, par_seal, &a);
    for (int i = 0; i < 4; i++)
        CHECK_OK(a.st[i]);
    CHECK_OK(tbml_sealed_writer_finish(a.w));
    CHECK_ST(tbml_sealed_writer_write(a.w, data, 1), TBML_E_ARG); /* finished */
    tbml_sealed_writer_free(a.w);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_OK(tbml_sealed_reader_open(fd, "par.sealed", g_key, &a.r));
    uint8_t *seq;
    size_t n;
    int wiped;
    CHECK_OK(unseal_all(a.r, 100000, &seq, &n, &wiped));
    CHECK(n == size && memcmp(seq, data, size) == 0);
    tbml_free(seq);

    /* unseal by ranges and by segments from four threads on one reader */
    memset(a.out, 0, size);
    tbml_pool_run(pool, par_pread, &a);
    for (int i = 0; i < 4; i++)
        CHECK_OK(a.st[i]);
    CHECK(memcmp(a.out, data, size) == 0);
    memset(a.out, 0, size);
    tbml_pool_run(pool, par_segments, &a);
    for (int i = 0; i < 4; i++)
        CHECK_OK(a.st[i]);
    CHECK(memcmp(a.out, data, size) == 0);
    tbml_sealed_reader_free(a.r);
    close(fd);

    /* a segment-mode writer checks sizes and completeness */
    fd = memfd_create("par2", MFD_CLOEXEC);
    tbml_sealed_writer_t *w;
    CHECK_OK(tbml_sealed_writer_open(fd, "par2.sealed", g_key, seg, &w));
    CHECK_ST(tbml_sealed_writer_segment(w, 0, 0, data, seg - 1), TBML_E_ARG); /* short, not last */
    CHECK_ST(tbml_sealed_writer_segment(w, 0, 1, data, seg + 1), TBML_E_ARG); /* too long */
    CHECK_OK(tbml_sealed_writer_segment(w, 1, 1, data, 10));
    CHECK_ST(tbml_sealed_writer_segment(w, 2, 1, data, 10), TBML_E_ARG); /* two last segments */
    CHECK_ST(tbml_sealed_writer_finish(w), TBML_E_ARG);                  /* segment 0 missing */
    CHECK_ST(tbml_sealed_writer_write(w, data, 10), TBML_E_ARG);         /* no mixing */
    CHECK_OK(tbml_sealed_writer_segment(w, 0, 0, data, seg));
    CHECK_OK(tbml_sealed_writer_finish(w));
    tbml_sealed_writer_free(w);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    tbml_sealed_reader_t *r;
    CHECK_OK(tbml_sealed_reader_open(fd, "par2.sealed", g_key, &r));
    if (r) {
        CHECK(tbml_sealed_reader_info(r)->length == seg + 10);
        tbml_sealed_reader_free(r);
    }
    close(fd);

    tbml_pool_free(pool);
    tbml_free(a.out);
    tbml_free(data);
}

/* ---- keys, inspect, messages ----------------------------------------------------------------- */

static void test_keys_and_inspect(void)
{
    char dir[] = "/tmp/tbml-test-sealed-XXXXXX";
    if (!mkdtemp(dir)) exit(2);
    char path[256], plain[256];
    snprintf(path, sizeof(path), "%s/x.sealed", dir);
    snprintf(plain, sizeof(plain), "%s/x.txt", dir);

    uint8_t data[1000];
    fill_pattern(data, sizeof(data), 3);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    tbml_sealed_writer_t *w;
    CHECK_OK(tbml_sealed_writer_open(fd, path, g_key, 256, &w));
    CHECK_OK(tbml_sealed_writer_write(w, data, sizeof(data)));
    CHECK_OK(tbml_sealed_writer_finish(w));
    tbml_sealed_writer_free(w);

    tbml_sealed_info info;
    CHECK_OK(tbml_sealed_inspect(path, &info));
    CHECK(info.version == 1 && info.segment_size == 256 && info.length == 1000);
    CHECK(info.nsegments == 4 && strcmp(info.key_name, "test-key") == 0);
    CHECK(info.header_size == 116 + 8);

    /* a key with another name: TBML_E_KEY naming both */
    tbml_key_t *other, *same_name;
    CHECK_OK(tbml_key_generate("other-key", &other));
    CHECK_OK(tbml_key_generate("test-key", &same_name));
    tbml_sealed_reader_t *r = NULL;
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_ST(tbml_sealed_reader_open(fd, path, other, &r), TBML_E_KEY);
    CHECK(strstr(tbml_errmsg(), "test-key") && strstr(tbml_errmsg(), "other-key"));
    CHECK(strstr(tbml_errmsg(), path) != NULL);
    /* the right name but other key bytes: the header does not authenticate */
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_ST(tbml_sealed_reader_open(fd, path, same_name, &r), TBML_E_AUTH);
    CHECK(strstr(tbml_errmsg(), path) != NULL);
    CHECK(r == NULL);
    tbml_key_free(other);
    tbml_key_free(same_name);

    /* damage in segment 2: the message names the file, the segment and its offset */
    uint8_t byte;
    off_t off2 = 124 + 2 * (256 + 16) + 5;
    CHECK(pread(fd, &byte, 1, off2) == 1);
    byte ^= 1;
    CHECK(pwrite(fd, &byte, 1, off2) == 1);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_OK(tbml_sealed_reader_open(fd, path, g_key, &r));
    if (r) {
        uint8_t out[1000];
        size_t got;
        CHECK_ST(tbml_sealed_reader_pread(r, out, sizeof(out), 0, &got), TBML_E_AUTH);
        char want[64];
        snprintf(want, sizeof(want), "segment 2 at offset %d", 124 + 2 * (256 + 16));
        CHECK(strstr(tbml_errmsg(), path) && strstr(tbml_errmsg(), want));
        /* the undamaged segments still open */
        CHECK_OK(tbml_sealed_reader_pread(r, out, 512, 0, &got));
        CHECK(got == 512 && memcmp(out, data, 512) == 0);
        tbml_sealed_reader_free(r);
    }
    close(fd);

    /* inspect: plain files, truncated files, missing files */
    FILE *f = fopen(plain, "w");
    fputs("id,name\n1,alice\n", f);
    fclose(f);
    CHECK_ST(tbml_sealed_inspect(plain, &info), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), plain) != NULL);
    CHECK(truncate(path, 124 + 10) == 0);
    CHECK_ST(tbml_sealed_inspect(path, &info), TBML_E_FORMAT);
    CHECK(truncate(path, 50) == 0);
    CHECK_ST(tbml_sealed_inspect(path, &info), TBML_E_FORMAT);
    unlink(path);
    CHECK_ST(tbml_sealed_inspect(path, &info), TBML_E_NOTFOUND);
    CHECK(!tbml_sealed_probe("TBMLSEA", 7));
    CHECK(!tbml_sealed_probe("id,name\n", 8));
    CHECK(tbml_sealed_probe("TBMLSEAL", 8));

    /* writer arguments */
    fd = memfd_create("w", MFD_CLOEXEC);
    CHECK_ST(tbml_sealed_writer_open(fd, "w", g_key, 15, &w), TBML_E_ARG);
    CHECK_ST(tbml_sealed_writer_open(fd, "w", g_key, TBML_SEAL_SEGMENT_MAX + 1, &w), TBML_E_ARG);
    CHECK_OK(tbml_sealed_writer_open(fd, "w", g_key, 0, &w)); /* 0 = the default */
    CHECK_OK(tbml_sealed_writer_finish(w));
    tbml_sealed_writer_free(w);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_OK(tbml_sealed_reader_open(fd, "w", g_key, &r));
    if (r) {
        CHECK(tbml_sealed_reader_info(r)->segment_size == TBML_SEAL_SEGMENT_DEFAULT);
        CHECK(tbml_sealed_reader_info(r)->length == 0);
        tbml_sealed_reader_free(r);
    }
    close(fd);

    /* a writer on a closed fd fails, names the file, and stays failed */
    fd = memfd_create("w2", MFD_CLOEXEC);
    CHECK_OK(tbml_sealed_writer_open(fd, "w2.sealed", g_key, 16, &w));
    close(fd);
    CHECK_ST(tbml_sealed_writer_write(w, data, 100), TBML_E_IO);
    CHECK(strstr(tbml_errmsg(), "w2.sealed") && strstr(tbml_errmsg(), "segment 0"));
    CHECK_ST(tbml_sealed_writer_finish(w), TBML_E_IO);
    tbml_sealed_writer_free(w);

    /* segment writes refuse an O_APPEND fd, where pwrite would ignore the offset */
    char apath[300];
    snprintf(apath, sizeof(apath), "%s/append.sealed", dir);
    fd = open(apath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    CHECK_OK(tbml_sealed_writer_open(fd, apath, g_key, 64, &w));
    CHECK_ST(tbml_sealed_writer_segment(w, 0, 1, data, 10), TBML_E_ARG);
    tbml_sealed_writer_free(w);
    close(fd);
    unlink(apath);

    /* the sealed file may start after other bytes in the fd */
    fd = memfd_create("w3", MFD_CLOEXEC);
    CHECK(write(fd, "prefix", 6) == 6);
    CHECK_OK(tbml_sealed_writer_open(fd, "w3", g_key, 64, &w));
    CHECK_OK(tbml_sealed_writer_write(w, data, 200));
    CHECK_OK(tbml_sealed_writer_finish(w));
    tbml_sealed_writer_free(w);
    CHECK(lseek(fd, 6, SEEK_SET) == 6);
    CHECK_OK(tbml_sealed_reader_open(fd, "w3", g_key, &r));
    if (r) {
        uint8_t out[200];
        size_t got;
        CHECK_OK(tbml_sealed_reader_pread(r, out, 200, 0, &got));
        CHECK(got == 200 && memcmp(out, data, 200) == 0);
        tbml_sealed_reader_free(r);
    }
    close(fd);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    uint8_t kb[32];
    fill_pattern(kb, 32, 1);
    if (tbml_key_from_bytes("test-key", kb, &g_key)) return 2;
    test_round_trips();
    test_pipes();
    test_parallel();
    test_keys_and_inspect();
    tbml_key_free(g_key);
    return check_done();
}
