/* Whole-file helpers and atomic output files (temporary + fsync + rename), so a failed command
 * never leaves a half-written result where a good one is expected. */
#include "tbml/core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tbml_outfile {
    int fd;
    char *path; /* final name */
    char *tmp;  /* temporary name, NULL for stdout */
};

tbml_status tbml_write_all(int fd, const void *buf, size_t size, const char *path)
{
    const uint8_t *p = buf;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return tbml_error(TBML_E_IO, "%s: write failed: %s", path, strerror(errno));
        }
        p += n;
        size -= (size_t)n;
    }
    return TBML_OK;
}

tbml_status tbml_outfile_open(const char *path, tbml_outfile_t **out)
{
    tbml_outfile_t *f = tbml_calloc(1, sizeof(*f));
    f->path = tbml_strdup(path);
    if (strcmp(path, "-") == 0) {
        f->fd = STDOUT_FILENO;
        *out = f;
        return TBML_OK;
    }
    size_t n = strlen(path) + 32;
    f->tmp = tbml_malloc(n);
    snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        tbml_status st = tbml_error(TBML_E_IO, "%s: cannot create: %s", path, strerror(errno));
        tbml_free(f->tmp);
        tbml_free(f->path);
        tbml_free(f);
        return st;
    }
    *out = f;
    return TBML_OK;
}

int tbml_outfile_fd(const tbml_outfile_t *f) { return f->fd; }
const char *tbml_outfile_path(const tbml_outfile_t *f) { return f->path; }

tbml_status tbml_outfile_write(tbml_outfile_t *f, const void *buf, size_t size)
{
    return tbml_write_all(f->fd, buf, size, f->path);
}

static void outfile_release(tbml_outfile_t *f)
{
    tbml_free(f->tmp);
    tbml_free(f->path);
    tbml_free(f);
}

static tbml_status outfile_finish(tbml_outfile_t *f, int replace);

tbml_status tbml_outfile_commit(tbml_outfile_t *f) { return outfile_finish(f, 1); }
tbml_status tbml_outfile_commit_new(tbml_outfile_t *f) { return outfile_finish(f, 0); }

static tbml_status outfile_finish(tbml_outfile_t *f, int replace)
{
    tbml_status ret = TBML_OK;
    if (!f->tmp) { /* stdout */
        outfile_release(f);
        return TBML_OK;
    }
    if (fsync(f->fd) != 0) {
        ret = tbml_error(TBML_E_IO, "%s: fsync failed: %s", f->path, strerror(errno));
        goto out;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        ret = tbml_error(TBML_E_IO, "%s: close failed: %s", f->path, strerror(errno));
        goto out;
    }
    f->fd = -1;
    if (replace && rename(f->tmp, f->path) != 0) {
        ret = tbml_error(TBML_E_IO, "%s: rename failed: %s", f->path, strerror(errno));
        goto out;
    }
    if (!replace) {
        if (link(f->tmp, f->path) != 0) {
            ret = tbml_error(errno == EEXIST ? TBML_E_ARG : TBML_E_IO, "%s: %s", f->path,
                             errno == EEXIST ? "already exists; refusing to overwrite" : strerror(errno));
            goto out;
        }
        unlink(f->tmp);
    }
    /* make the rename itself durable */
    char *dir = tbml_strdup(f->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    tbml_free(dir);
    outfile_release(f);
    return TBML_OK;
out:
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    outfile_release(f);
    return ret;
}

void tbml_outfile_abort(tbml_outfile_t *f)
{
    if (!f) return;
    if (f->tmp) {
        if (f->fd >= 0) close(f->fd);
        unlink(f->tmp);
    }
    outfile_release(f);
}

tbml_status tbml_read_some(int fd, void *buf, size_t size, const char *path, size_t *got)
{
    for (;;) {
        ssize_t n = read(fd, buf, size);
        if (n >= 0) {
            *got = (size_t)n;
            return TBML_OK;
        }
        if (errno != EINTR)
            return tbml_error(TBML_E_IO, "%s: read failed: %s", path, strerror(errno));
    }
}

tbml_status tbml_read_all(int fd, const char *path, size_t max_size, uint8_t **out, size_t *out_size)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = tbml_malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= max_size) {
                tbml_free(buf);
                return tbml_error(TBML_E_FORMAT, "%s: larger than %zu bytes", path, max_size);
            }
            cap *= 2;
            buf = tbml_realloc(buf, cap);
        }
        size_t n;
        tbml_status st = tbml_read_some(fd, buf + len, cap - len, path, &n);
        if (st) {
            tbml_free(buf);
            return st;
        }
        if (n == 0) break;
        len += n;
    }
    if (len > max_size) {
        tbml_free(buf);
        return tbml_error(TBML_E_FORMAT, "%s: larger than %zu bytes", path, max_size);
    }
    *out = buf;
    *out_size = len;
    return TBML_OK;
}

tbml_status tbml_read_file(const char *path, size_t max_size, uint8_t **out, size_t *out_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    tbml_status st = tbml_read_all(fd, path, max_size, out, out_size);
    close(fd);
    return st;
}

tbml_status tbml_write_file(const char *path, const void *buf, size_t size, const char *tail)
{
    tbml_outfile_t *f;
    tbml_status st = tbml_outfile_open(path, &f);
    if (st) return st;
    st = tbml_outfile_write(f, buf, size);
    if (!st && tail) st = tbml_outfile_write(f, tail, strlen(tail));
    if (st) {
        tbml_outfile_abort(f);
        return st;
    }
    return tbml_outfile_commit(f);
}

tbml_status tbml_refuse_existing(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) == 0)
        return tbml_error(TBML_E_ARG, "%s: already exists; refusing to overwrite", path);
    return TBML_OK;
}

int tbml_stdout_finish(const char *prog, int rc)
{
    errno = 0;
    int bad = fflush(stdout) != 0;
    int e = errno;
    bad |= ferror(stdout) != 0;
    if (!bad) return rc;
    fprintf(stderr, "%s: stdout: write failed: %s\n", prog, e ? strerror(e) : "I/O error");
    return rc ? rc : 1;
}
