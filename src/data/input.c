/* Plain-or-sealed inputs and outputs (include/tbml/io.h), and the parallel line scanner that
 * every line-oriented reader (text, CSV, JSON lines, wordcount) is built on.
 *
 * How it fails: open errors name the path; a worker's failure is carried back to the calling
 * thread with its message (error messages are per thread), and the failure of the earliest chunk
 * wins so that FAILFAST reports the first bad line of the file, not the first one found. */
#include "tbml/io.h"

#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tbml_input {
    char *path;
    int fd;
    tbml_sealed_reader_t *sealed; /* NULL for a plain file */
    uint64_t size;
    uint64_t block;
    const char *mem; /* tbml_input_from_memory's bytes, else NULL */
};

tbml_status tbml_input_open(const char *path, const tbml_key_t *key, tbml_input_t **out)
{
    tbml_status ret = TBML_OK;
    tbml_input_t *in = tbml_calloc(1, sizeof(*in));
    in->fd = -1;
    in->path = tbml_strdup(path);
    in->block = 1;
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
        ret = tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: cannot open: %s", path,
                         strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = tbml_error(TBML_E_IO, "%s: not a regular file", path);
        goto out;
    }
    uint8_t head[8];
    ssize_t n = pread(in->fd, head, sizeof(head), 0);
    if (n < 0) {
        ret = tbml_error(TBML_E_IO, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if ((size_t)n == sizeof(head) && tbml_sealed_probe(head, sizeof(head))) {
        if (!key) {
            ret = tbml_error(TBML_E_KEY, "%s: the file is sealed and no key was given", path);
            goto out;
        }
        ret = tbml_sealed_reader_open(in->fd, path, key, &in->sealed);
        if (ret) goto out;
        const tbml_sealed_info *info = tbml_sealed_reader_info(in->sealed);
        in->size = info->length;
        in->block = info->segment_size;
    } else {
        in->size = (uint64_t)st.st_size;
    }
out:
    if (ret) {
        tbml_input_close(in);
        return ret;
    }
    *out = in;
    return TBML_OK;
}

tbml_status tbml_input_from_memory(const void *data, size_t size, const char *name,
                                   tbml_input_t **out)
{
    tbml_input_t *in = tbml_calloc(1, sizeof(*in));
    in->fd = -1;
    in->path = tbml_strdup(name);
    in->block = 1;
    in->mem = data;
    in->size = size;
    *out = in;
    return TBML_OK;
}

void tbml_input_close(tbml_input_t *in)
{
    if (!in) return;
    tbml_sealed_reader_free(in->sealed);
    if (in->fd >= 0) close(in->fd);
    tbml_free(in->path);
    tbml_free(in);
}

const char *tbml_input_path(const tbml_input_t *in)
{
    return in->path;
}
int tbml_input_is_sealed(const tbml_input_t *in)
{
    return in->sealed != NULL;
}
uint64_t tbml_input_size(const tbml_input_t *in)
{
    return in->size;
}
uint64_t tbml_input_block_size(const tbml_input_t *in)
{
    return in->block;
}

tbml_status tbml_input_pread(tbml_input_t *in, void *buf, size_t size, uint64_t offset, size_t *got)
{
    if (offset >= in->size) {
        *got = 0;
        return TBML_OK;
    }
    if (size > in->size - offset) size = (size_t)(in->size - offset);
    if (in->sealed) return tbml_sealed_reader_pread(in->sealed, buf, size, offset, got);
    if (in->mem) {
        memcpy(buf, in->mem + offset, size);
        *got = size;
        return TBML_OK;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(in->fd, (char *)buf + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return tbml_error(TBML_E_IO, "%s: read failed: %s", in->path, strerror(errno));
        if (n == 0) break; /* the file shrank under us: return what there is */
        done += (size_t)n;
    }
    *got = done;
    return TBML_OK;
}

tbml_status tbml_input_read_all(tbml_input_t *in, char **out, size_t *out_size)
{
    if (in->size > (uint64_t)SIZE_MAX - 1)
        return tbml_error(TBML_E_NOMEM, "%s: too large to load", in->path);
    size_t size = (size_t)in->size, got = 0;
    char *buf = tbml_malloc(size + 1);
    tbml_status st = size ? tbml_input_pread(in, buf, size, 0, &got) : TBML_OK;
    if (st) {
        tbml_free(buf);
        return st;
    }
    buf[got] = '\0';
    *out = buf;
    *out_size = got;
    return TBML_OK;
}

/* ---- parallel line scanning ---- */

#define CHUNK_DEFAULT ((size_t)4 << 20)

static int g_progress; /* set once at start-up (tbml_input_set_progress) */

void tbml_input_set_progress(int on) { g_progress = on; }
#define PROBE_STEP ((size_t)64 << 10)

static uint64_t chunk_span(const tbml_input_t *in, size_t chunk_size)
{
    uint64_t c = chunk_size ? chunk_size : CHUNK_DEFAULT;
    uint64_t b = in->block ? in->block : 1;
    c = (c + b - 1) / b * b;
    return c ? c : b;
}

int64_t tbml_input_chunk_count(const tbml_input_t *in, size_t chunk_size)
{
    uint64_t c = chunk_span(in, chunk_size);
    return (int64_t)((in->size + c - 1) / c);
}

typedef struct {
    tbml_input_t *in;
    uint64_t span;
    int64_t first, stride, nchunks; /* chunks first, first + stride, ... below nchunks */
    tbml_chunk_fn fn;
    void *arg;
    atomic_llong next;
    atomic_llong fail_at; /* lowest failing chunk index, or nchunks */
    atomic_llong done_size; /* bytes of finished chunks, for the progress line */
    atomic_llong read_size; /* bytes of the chunks' lines, as read */
    int progress;           /* draw the progress line (thread 0 only) */
    double start, last_draw;
    pthread_mutex_t mu;
    tbml_status fail_st;
    char fail_msg[1024];
} scan_state;

static void scan_fail(scan_state *s, int64_t idx, tbml_status st)
{
    pthread_mutex_lock(&s->mu);
    if (idx < atomic_load(&s->fail_at)) {
        atomic_store(&s->fail_at, idx);
        s->fail_st = st;
        snprintf(s->fail_msg, sizeof(s->fail_msg), "%s", tbml_errmsg());
    }
    pthread_mutex_unlock(&s->mu);
}

/* The file offset where the first line starting at or after pos begins: pos itself when the byte
 * before it is a newline, else one past the next newline (or the end of the file). */
static tbml_status line_start_at(tbml_input_t *in, uint64_t pos, char *tmp, uint64_t *out)
{
    if (pos == 0 || pos >= in->size) {
        *out = pos < in->size ? pos : in->size;
        return TBML_OK;
    }
    uint64_t at = pos - 1;
    for (;;) {
        size_t got;
        tbml_status st = tbml_input_pread(in, tmp, PROBE_STEP, at, &got);
        if (st) return st;
        if (got == 0) {
            *out = in->size;
            return TBML_OK;
        }
        const char *nl = memchr(tmp, '\n', got);
        if (nl) {
            *out = at + (uint64_t)(nl - tmp) + 1;
            return TBML_OK;
        }
        at += got;
    }
}

static void scan_worker(int ith, int nth, void *p)
{
    (void)nth;
    scan_state *s = p;
    char *tmp = tbml_malloc(PROBE_STEP);
    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        int64_t k = s->first + atomic_fetch_add(&s->next, 1) * s->stride;
        if (k >= s->nchunks) break;
        if (k > atomic_load(&s->fail_at)) continue; /* an earlier chunk failed: the scan is over */
        uint64_t a, b;
        tbml_status st = line_start_at(s->in, (uint64_t)k * s->span, tmp, &a);
        if (!st) st = line_start_at(s->in, (uint64_t)(k + 1) * s->span, tmp, &b);
        size_t size = 0;
        if (!st && b > a) {
            if (b - a + 1 > cap) {
                cap = (size_t)(b - a + 1);
                tbml_free(buf);
                buf = tbml_malloc(cap);
            }
            st = tbml_input_pread(s->in, buf, (size_t)(b - a), a, &size);
        }
        if (!st) {
            atomic_fetch_add(&s->read_size, (long long)size);
            if (!buf) buf = tbml_malloc(cap = 1);
            buf[size] = '\0';
            tbml_chunk c = {.index = k, .offset = a, .data = buf, .size = size};
            st = s->fn(ith, &c, s->arg);
        }
        if (st) scan_fail(s, k, st);
        atomic_fetch_add(&s->done_size, (long long)s->span);
        if (ith == 0 && s->progress) {
            double now = tbml_now();
            if (now - s->start > 1.0 && now - s->last_draw > 0.25) {
                double total = (double)s->in->size, done = (double)atomic_load(&s->done_size);
                if (done > total) done = total;
                fprintf(stderr, "\r[scan %s] %.1f / %.1f MB (%.0f%%)\033[K", s->in->path, done / 1e6, total / 1e6,
                        total > 0 ? 100.0 * done / total : 100.0);
                s->last_draw = now;
            }
        }
    }
    tbml_free(tmp);
    tbml_free(buf);
}

tbml_status tbml_input_scan_lines(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size,
                                  tbml_chunk_fn fn, void *arg)
{
    return tbml_input_scan_lines_part(in, pool, chunk_size, 0, 1, fn, arg);
}

/* Scans chunks first, first + stride, ... below end; *read gets the bytes read (may be NULL). */
static tbml_status scan_run(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size, int64_t first,
                            int64_t stride, int64_t end, tbml_chunk_fn fn, void *arg,
                            uint64_t *read)
{
    scan_state *s = tbml_calloc(1, sizeof(*s));
    s->in = in;
    s->span = chunk_span(in, chunk_size);
    s->first = first;
    s->stride = stride;
    s->nchunks = end;
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->next, 0);
    atomic_init(&s->fail_at, s->nchunks);
    atomic_init(&s->done_size, 0);
    atomic_init(&s->read_size, 0);
    s->progress = g_progress && isatty(STDERR_FILENO);
    s->start = tbml_now();
    pthread_mutex_init(&s->mu, NULL);
    tbml_pool_run(pool, scan_worker, s);
    if (s->last_draw > 0) fprintf(stderr, "\r\033[K"); /* erase the progress line */
    tbml_status ret = TBML_OK;
    if (atomic_load(&s->fail_at) < s->nchunks) ret = tbml_error(s->fail_st, "%s", s->fail_msg);
    if (read) *read = (uint64_t)atomic_load(&s->read_size);
    pthread_mutex_destroy(&s->mu);
    tbml_free(s);
    return ret;
}

tbml_status tbml_input_scan_lines_part(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size,
                                       int part, int nparts, tbml_chunk_fn fn, void *arg)
{
    if (nparts < 1 || part < 0 || part >= nparts)
        return tbml_error(TBML_E_ARG, "scan: part %d of %d", part, nparts);
    int64_t all = tbml_input_chunk_count(in, chunk_size);
    /* this part's chunks: a contiguous run, so a rank reads (and decrypts) only its segments */
    return scan_run(in, pool, chunk_size, all * part / nparts, 1, all * (part + 1) / nparts, fn,
                    arg, NULL);
}

tbml_status reader_scan_share(tbml_input_t *in, tbml_pool_t *pool, size_t chunk_size, int64_t first,
                              int64_t stride, tbml_chunk_fn fn, void *arg, uint64_t *read)
{
    TBML_ASSERT(stride >= 1 && first >= 0);
    return scan_run(in, pool, chunk_size, first, stride, tbml_input_chunk_count(in, chunk_size), fn,
                    arg, read);
}

/* ---- outputs ---- */

#define OUT_BUF ((size_t)256 << 10)

struct tbml_output {
    tbml_outfile_t *file;
    tbml_sealed_writer_t *sealed;
    char *buf;
    size_t used;
};

tbml_status tbml_output_open(const char *path, const tbml_key_t *key, tbml_output_t **out)
{
    tbml_output_t *o = tbml_calloc(1, sizeof(*o));
    tbml_status ret = tbml_outfile_open(path, &o->file);
    if (ret) goto out;
    if (key) {
        ret = tbml_sealed_writer_open(tbml_outfile_fd(o->file), path, key,
                                      TBML_SEAL_SEGMENT_DEFAULT, &o->sealed);
        if (ret) goto out;
    } else {
        o->buf = tbml_malloc(OUT_BUF);
    }
out:
    if (ret) {
        tbml_output_abort(o);
        return ret;
    }
    *out = o;
    return TBML_OK;
}

static tbml_status output_flush(tbml_output_t *o)
{
    tbml_status st = o->used ? tbml_outfile_write(o->file, o->buf, o->used) : TBML_OK;
    o->used = 0;
    return st;
}

tbml_status tbml_output_write(tbml_output_t *o, const void *buf, size_t size)
{
    if (o->sealed) return tbml_sealed_writer_write(o->sealed, buf, size);
    if (o->used + size > OUT_BUF) {
        tbml_status st = output_flush(o);
        if (st) return st;
        if (size > OUT_BUF) return tbml_outfile_write(o->file, buf, size);
    }
    memcpy(o->buf + o->used, buf, size);
    o->used += size;
    return TBML_OK;
}

tbml_status tbml_output_commit(tbml_output_t *o)
{
    tbml_status st = o->sealed ? tbml_sealed_writer_finish(o->sealed) : output_flush(o);
    if (st) {
        tbml_output_abort(o);
        return st;
    }
    st = tbml_outfile_commit(o->file);
    o->file = NULL;
    tbml_output_abort(o);
    return st;
}

void tbml_output_abort(tbml_output_t *o)
{
    if (!o) return;
    tbml_sealed_writer_free(o->sealed);
    tbml_outfile_abort(o->file);
    tbml_free(o->buf);
    tbml_free(o);
}
