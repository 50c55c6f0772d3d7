/* The tamper suite: every single-bit flip across a small multi-segment sealed file, every
 * truncation point, appended bytes, segments swapped, duplicated or dropped within a file and
 * swapped between two files under the same primary key. Each damaged file goes through the
 * seekable reader (open, sequential read, pread, segment) and the pipe reader, and must be
 * rejected with the documented status; bytes handed out before the failure must be true
 * plaintext (from authenticated segments) and the failing call's buffer must be wiped. */
#include "seal_util.h"

#include <signal.h>

#define SEG 32u
#define NAME "tamper"
#define HSIZE (116u + 6u) /* header of a file sealed under NAME */

static tbml_key_t *g_key;
static uint8_t g_plain[200];
static int g_reported, g_quiet;

/* bit set of statuses a damaged file may give */
enum { S_AUTH = 1, S_FORMAT = 2, S_UNSUPPORTED = 4, S_KEY = 8 };

static int status_bit(tbml_status st)
{
    switch (st) {
    case TBML_E_AUTH:
        return S_AUTH;
    case TBML_E_FORMAT:
        return S_FORMAT;
    case TBML_E_UNSUPPORTED:
        return S_UNSUPPORTED;
    case TBML_E_KEY:
        return S_KEY;
    default:
        return 0;
    }
}

/* What damage at header offset off may give; body damage is always S_AUTH. */
static int allowed_at(size_t off)
{
    if (off < 8) return S_FORMAT;              /* magic */
    if (off < 10) return S_UNSUPPORTED;        /* version */
    if (off < 16) return S_FORMAT;             /* header size, flags */
    if (off < 20) return S_FORMAT | S_AUTH;    /* segment size: in range but wrong fails the tag */
    if (off < 24) return S_FORMAT;             /* name size, reserved */
    if (off < 56) return S_AUTH;               /* file id */
    if (off < 56 + 6) return S_KEY | S_FORMAT; /* key name: another name, or an invalid one */
    return S_AUTH;                             /* wrapped key, segments */
}

static int pipe_of(const uint8_t *bytes, size_t size)
{
    int p[2];
    if (pipe(p) != 0) exit(2);
    if (size && write(p[1], bytes, size) != (ssize_t)size) exit(2); /* small: fits the pipe */
    close(p[1]);
    return p[0];
}

static void report(const char *what, const char *path, tbml_status st)
{
    if (!g_quiet && g_reported++ < 20)
        fprintf(stderr, "%s via %s: got %s (%s)\n", what, path, tbml_strerror(st), tbml_errmsg());
}

/* Reads the damaged file every way; returns 1 if every way rejected it as allowed. */
static int rejected(const uint8_t *bytes, size_t size, size_t plain_size, int allowed,
                    const char *what)
{
    int ok = 1;
    for (int pipe_mode = 0; pipe_mode < 2; pipe_mode++) {
        const char *how = pipe_mode ? "pipe" : "file";
        int fd = pipe_mode ? pipe_of(bytes, size) : mem_file(bytes, size);
        tbml_sealed_reader_t *r = NULL;
        tbml_status st = tbml_sealed_reader_open(fd, "damaged.sealed", g_key, &r);
        if (st) {
            if (!(status_bit(st) & allowed)) {
                report(what, how, st);
                ok = 0;
            }
            if (r) ok = 0; /* [out] written on failure */
            close(fd);
            continue;
        }

        /* sequential: whatever comes out before the failure must be the true plaintext */
        uint8_t *out;
        size_t n;
        int wiped;
        st = unseal_all(r, 7, &out, &n, &wiped);
        if (!(status_bit(st) & allowed) || !wiped || n > plain_size ||
            memcmp(out, g_plain, n) != 0) {
            report(what, how, st);
            ok = 0;
        } else if (!strstr(tbml_errmsg(), "damaged.sealed")) {
            fprintf(stderr, "%s: message does not name the file: %s\n", what, tbml_errmsg());
            ok = 0;
        }
        tbml_free(out);

        if (!pipe_mode) {
            /* random access: the whole range fails and the buffer is wiped */
            uint8_t buf[sizeof(g_plain) + 64];
            size_t got;
            memset(buf, 0xA5, sizeof(buf));
            st = tbml_sealed_reader_pread(r, buf, sizeof(buf), 0, &got);
            int zero = 1;
            for (size_t i = 0; i < sizeof(buf); i++)
                zero &= buf[i] == 0;
            if (!(status_bit(st) & allowed) || !zero) {
                report(what, "pread", st);
                ok = 0;
            }
            /* and at least one segment fails on its own, wiping its buffer */
            int failed = 0;
            for (uint64_t i = 0; i < tbml_sealed_reader_info(r)->nsegments; i++) {
                memset(buf, 0xA5, SEG);
                st = tbml_sealed_reader_segment(r, i, buf, &got);
                if (st) {
                    failed++;
                    for (size_t j = 0; j < SEG; j++)
                        zero &= buf[j] == 0;
                    if (!(status_bit(st) & allowed)) ok = 0;
                } else if (memcmp(buf, g_plain + i * SEG, got) != 0) {
                    ok = 0; /* a segment that opens must be the true one */
                }
            }
            if (!failed || !zero) {
                report(what, "segment", st);
                ok = 0;
            }
        }
        tbml_sealed_reader_free(r);
        close(fd);
    }
    return ok;
}

static uint8_t *seal_bytes(size_t plain_size, size_t *size)
{
    int fd;
    if (seal_to_mem(g_key, SEG, g_plain, plain_size, 0, &fd)) {
        fprintf(stderr, "seal failed: %s\n", tbml_errmsg());
        exit(2);
    }
    uint8_t *b = mem_file_bytes(fd, size);
    close(fd);
    return b;
}

static size_t seg_off(size_t i)
{
    return HSIZE + i * (SEG + 16);
}

/* Returns a copy of file with segments a and b (both full) exchanged. */
static void swap_segments(uint8_t *file, size_t a, size_t b)
{
    uint8_t tmp[SEG + 16];
    memcpy(tmp, file + seg_off(a), SEG + 16);
    memcpy(file + seg_off(a), file + seg_off(b), SEG + 16);
    memcpy(file + seg_off(b), tmp, SEG + 16);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    uint8_t kb[32];
    fill_pattern(kb, 32, 5);
    fill_pattern(g_plain, sizeof(g_plain), 11);
    if (tbml_key_from_bytes(NAME, kb, &g_key)) return 2;

    /* 100 bytes in 32-byte segments: three full segments and a 4-byte last one */
    const size_t psize = 100;
    size_t size;
    uint8_t *file = seal_bytes(psize, &size);
    CHECK(size == HSIZE + 3 * (SEG + 16) + 4 + 16);
    g_quiet = 1; /* the harness can tell good files: they are not "rejected" */
    CHECK(rejected(file, size, psize, 0, "undamaged") == 0);
    g_quiet = 0;

    uint8_t *copy = tbml_malloc(size + 200);

    /* every single-bit flip */
    int flips_ok = 0, flips = 0;
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, file, size);
            copy[i] ^= (uint8_t)(1u << bit);
            char what[64];
            snprintf(what, sizeof(what), "bit %d of byte %zu", bit, i);
            flips++;
            flips_ok += rejected(copy, size, psize, i < HSIZE ? allowed_at(i) : S_AUTH, what);
        }
    }
    CHECK(flips == (int)size * 8);
    CHECK(flips_ok == flips);

    /* every truncation point, including each segment boundary */
    int cuts_ok = 0;
    for (size_t n = 0; n < size; n++) {
        char what[64];
        snprintf(what, sizeof(what), "truncated to %zu bytes", n);
        cuts_ok += rejected(file, n, psize, n < HSIZE ? S_FORMAT : S_AUTH, what);
    }
    CHECK(cuts_ok == (int)size);

    /* appended bytes: zeros, random bytes, and a copy of a real segment */
    int app_ok = 0, apps = 0;
    for (size_t k = 1; k <= 2 * (SEG + 16) + 1; k++) {
        memcpy(copy, file, size);
        fill_pattern(copy + size, k, k);
        apps++;
        app_ok += rejected(copy, size + k, psize, S_AUTH, "appended random bytes");
        memset(copy + size, 0, k);
        apps++;
        app_ok += rejected(copy, size + k, psize, S_AUTH, "appended zeros");
    }
    memcpy(copy, file, size);
    memcpy(copy + size, file + seg_off(1), SEG + 16);
    apps++;
    app_ok += rejected(copy, size + SEG + 16, psize, S_AUTH, "appended a copy of segment 1");
    CHECK(app_ok == apps);

    /* reordering within one file */
    static const size_t pairs[][2] = {{0, 1}, {1, 2}, {0, 2}};
    for (size_t p = 0; p < 3; p++) {
        memcpy(copy, file, size);
        swap_segments(copy, pairs[p][0], pairs[p][1]);
        CHECK(rejected(copy, size, psize, S_AUTH, "segments swapped"));
    }
    memcpy(copy, file, size); /* segment 0 duplicated over segment 1 */
    memcpy(copy + seg_off(1), file + seg_off(0), SEG + 16);
    CHECK(rejected(copy, size, psize, S_AUTH, "segment duplicated"));
    memcpy(copy, file, seg_off(1)); /* segment 1 dropped */
    memcpy(copy + seg_off(1), file + seg_off(2), size - seg_off(2));
    CHECK(rejected(copy, size - (SEG + 16), psize, S_AUTH, "segment dropped"));
    memcpy(copy, file, seg_off(3)); /* the last segment dropped: a clean cut at a boundary */
    CHECK(rejected(copy, seg_off(3), psize, S_AUTH, "last segment dropped"));

    /* 96 bytes: three full segments; the last one moved to the front and vice versa */
    size_t size96;
    uint8_t *file96 = seal_bytes(96, &size96);
    memcpy(copy, file96, size96);
    swap_segments(copy, 0, 2);
    CHECK(rejected(copy, size96, 96, S_AUTH, "first and last swapped"));

    /* between two files under the same primary key, same length, same plaintext */
    size_t size_b;
    uint8_t *file_b = seal_bytes(psize, &size_b);
    CHECK(size_b == size);
    CHECK(memcmp(file + HSIZE, file_b + HSIZE, size - HSIZE) != 0); /* fresh data key per file */
    g_quiet = 1;
    CHECK(rejected(file_b, size_b, psize, 0, "second file undamaged") == 0);
    g_quiet = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t len = i < 3 ? SEG + 16 : 4 + 16;
        memcpy(copy, file, size);
        memcpy(copy + seg_off(i), file_b + seg_off(i), len);
        CHECK(rejected(copy, size, psize, S_AUTH, "segment from another file"));
    }
    memcpy(copy, file_b, HSIZE); /* B's header on A's body */
    memcpy(copy + HSIZE, file + HSIZE, size - HSIZE);
    CHECK(rejected(copy, size, psize, S_AUTH, "header of another file"));
    /* B's wrapped key under A's header */
    memcpy(copy, file, size);
    memcpy(copy + HSIZE - 60, file_b + HSIZE - 60, 60);
    CHECK(rejected(copy, size, psize, S_AUTH, "wrapped key of another file"));

    /* a 0-byte file is one empty last segment: its tag, and nothing but its tag, is checked */
    size_t size0;
    uint8_t *file0 = seal_bytes(0, &size0);
    CHECK(size0 == HSIZE + 16);
    for (size_t i = HSIZE; i < size0; i++) {
        memcpy(copy, file0, size0);
        copy[i] ^= 0x10;
        CHECK(rejected(copy, size0, 0, S_AUTH, "empty file's tag"));
    }
    memcpy(copy, file0, HSIZE); /* an empty body (no final segment at all) */
    CHECK(rejected(copy, HSIZE, 0, S_AUTH, "empty file without its segment"));
    memcpy(copy + HSIZE, file + seg_off(3), 20); /* A's 4-byte last segment in its place */
    CHECK(rejected(copy, HSIZE + 20, 0, S_AUTH, "another file's last segment"));

    tbml_free(file0);
    tbml_free(file96);
    tbml_free(file_b);
    tbml_free(copy);
    tbml_free(file);
    tbml_key_free(g_key);
    return check_done();
}
