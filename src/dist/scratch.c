/* Sealed spill files under a per-job key that never leaves memory (include/tbml/scratch.h). */
#include "dist_internal.h"

#include "tbml/scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tbml_scratch {
    char dir[512];
    tbml_key_t *key;
};

struct tbml_spill {
    tbml_scratch_t *s;
    int fd;
    tbml_sealed_writer_t *w;
    tbml_sealed_reader_t *r;
    uint64_t size;
};

tbml_status tbml_scratch_create(const char *parent, tbml_scratch_t **out)
{
    tbml_status st;
    tbml_scratch_t *s = tbml_calloc(1, sizeof(*s));
    if (!parent) parent = getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    snprintf(s->dir, sizeof(s->dir), "%s/tbml-scratch-XXXXXX", parent);
    if (!mkdtemp(s->dir)) {
        st = tbml_error(TBML_E_IO, "%s: cannot make a scratch folder: %s", parent, strerror(errno));
        s->dir[0] = '\0';
        goto out;
    }
    st = dist_cleanup_add(s->dir, 1);
    if (st) {
        rmdir(s->dir);
        s->dir[0] = '\0';
        goto out;
    }
    st = tbml_key_generate("tbml-scratch", &s->key);
out:
    if (st) {
        tbml_scratch_free(s);
        return st;
    }
    *out = s;
    return TBML_OK;
}

void tbml_scratch_free(tbml_scratch_t *s)
{
    if (!s) return;
    if (s->dir[0]) dist_cleanup_remove(s->dir);
    tbml_key_free(s->key);
    tbml_free(s);
}

const char *tbml_scratch_dir(const tbml_scratch_t *s) { return s->dir; }

tbml_status tbml_spill_create(tbml_scratch_t *s, tbml_spill_t **out)
{
    int fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* a file system without O_TMPFILE: a named file, unlinked at once */
        char path[600];
        snprintf(path, sizeof(path), "%s/spill-XXXXXX", s->dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) unlink(path);
    }
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot make a spill file: %s", s->dir, strerror(errno));
    tbml_spill_t *f = tbml_calloc(1, sizeof(*f));
    f->s = s;
    f->fd = fd;
    tbml_status st = tbml_sealed_writer_open(fd, "spill file", s->key, 0, &f->w);
    if (st) {
        tbml_spill_free(f);
        return st;
    }
    *out = f;
    return TBML_OK;
}

tbml_status tbml_spill_write(tbml_spill_t *f, const void *buf, size_t size)
{
    if (!f->w) return tbml_error(TBML_E_ARG, "spill file: write after finish");
    tbml_status st = tbml_sealed_writer_write(f->w, buf, size);
    if (!st) f->size += size;
    return st;
}

tbml_status tbml_spill_finish(tbml_spill_t *f)
{
    if (!f->w) return tbml_error(TBML_E_ARG, "spill file: finished twice");
    tbml_status st = tbml_sealed_writer_finish(f->w);
    tbml_sealed_writer_free(f->w);
    f->w = NULL;
    if (st) return st;
    if (lseek(f->fd, 0, SEEK_SET) != 0) return tbml_error(TBML_E_IO, "spill file: %s", strerror(errno));
    return tbml_sealed_reader_open(f->fd, "spill file", f->s->key, &f->r);
}

uint64_t tbml_spill_size(const tbml_spill_t *f) { return f->size; }
int tbml_spill_fd(const tbml_spill_t *f) { return f->fd; }

tbml_status tbml_spill_pread(tbml_spill_t *f, void *buf, size_t size, uint64_t offset, size_t *got)
{
    if (!f->r) return tbml_error(TBML_E_ARG, "spill file: read before finish");
    return tbml_sealed_reader_pread(f->r, buf, size, offset, got);
}

void tbml_spill_free(tbml_spill_t *f)
{
    if (!f) return;
    tbml_sealed_writer_free(f->w);
    tbml_sealed_reader_free(f->r);
    if (f->fd >= 0) close(f->fd);
    tbml_free(f);
}
