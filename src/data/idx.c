/* The IDX reader and writer: raw bytes come from a plain file or a sealed one, are inflated when
 * they start with gzip's magic, and are parsed against the header, whose sizes are checked
 * before anything is trusted. Messages name the file and the byte offset. */
#include "tbml/idx.h"
#include "data/file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAX_SIZE ((size_t)16 << 30) /* refuse tensors above 16 GiB */

static size_t elem_size_of(int type)
{
    switch (type) {
    case TBML_IDX_U8:
    case TBML_IDX_I8:
        return 1;
    case TBML_IDX_I16:
        return 2;
    case TBML_IDX_I32:
    case TBML_IDX_F32:
        return 4;
    case TBML_IDX_F64:
        return 8;
    default:
        return 0;
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses buf; when *own is not NULL (== buf, from tbml_malloc) the elements are moved to its
 * front and the buffer becomes the tensor's, so a 47 MB image file is not held twice. *own is
 * set to NULL when taken. */
static tbml_status parse(uint8_t *buf, size_t size, const char *name, uint8_t **own,
                         tbml_idx_t **out)
{
    if (size < 4)
        return tbml_error(TBML_E_FORMAT, "%s: truncated at byte %zu: an IDX header needs 4 bytes",
                          name, size);
    uint32_t magic = be32(buf);
    int type = buf[2], ndim = buf[3];
    size_t es = elem_size_of(type);
    if (buf[0] != 0 || buf[1] != 0 || !es || ndim < 1 || ndim > TBML_IDX_MAX_DIMS)
        return tbml_error(TBML_E_FORMAT,
                          "%s: not an IDX file: magic number 0x%08x at byte 0 (expected "
                          "0x00000801 for labels, 0x00000803 for images)",
                          name, (unsigned)magic);
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (size < hdr)
        return tbml_error(TBML_E_FORMAT,
                          "%s: truncated at byte %zu: the header of %d dimensions needs %zu bytes",
                          name, size, ndim, hdr);
    tbml_idx_t t;
    memset(&t, 0, sizeof(t));
    t.type = type;
    t.ndim = ndim;
    t.elem_size = es;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        t.dims[i] = be32(buf + 4 + 4 * i);
        if (t.dims[i] && count > IDX_MAX_SIZE / es / t.dims[i])
            return tbml_error(TBML_E_FORMAT, "%s: dimensions too large (over 16 GiB)", name);
        count *= t.dims[i];
    }
    t.count = count;
    size_t want = hdr + count * es;
    if (size < want) {
        char shape[128] = "";
        size_t used = 0;
        for (int i = 0; i < ndim && used < sizeof(shape); i++)
            used += (size_t)snprintf(shape + used, sizeof(shape) - used, "%s%u", i ? "x" : "",
                                     (unsigned)t.dims[i]);
        return tbml_error(TBML_E_FORMAT,
                          "%s: truncated at byte %zu: the header says %s elements of %zu bytes "
                          "(%zu bytes in all)",
                          name, size, shape, es, want);
    }
    if (size > want)
        return tbml_error(TBML_E_FORMAT, "%s: %zu unexpected bytes after the data at byte %zu",
                          name, size - want, want);
    const uint8_t *p = buf + hdr;
    if (own && *own && count) {
        /* in place: big-endian elements are reversed as they move */
        uint8_t *d = buf;
        if (es == 1) {
            memmove(d, p, count);
        } else {
            for (size_t i = 0; i < count; i++) {
                uint8_t tmp[8];
                for (size_t b = 0; b < es; b++)
                    tmp[b] = p[i * es + (es - 1 - b)];
                memcpy(d + i * es, tmp, es);
            }
        }
        t.data = tbml_realloc(buf, count * es);
        *own = NULL;
    } else if (es == 1) {
        t.data = tbml_malloc(count * es);
        memcpy(t.data, p, count);
    } else {
        t.data = tbml_malloc(count * es);
        /* big-endian on disk */
        uint8_t *d = t.data;
        for (size_t i = 0; i < count; i++)
            for (size_t b = 0; b < es; b++)
                d[i * es + b] = p[i * es + (es - 1 - b)];
    }
    tbml_idx_t *res = tbml_malloc(sizeof(*res));
    *res = t;
    *out = res;
    return TBML_OK;
}

tbml_status tbml_idx_parse(const uint8_t *buf, size_t size, const char *name, tbml_idx_t **out)
{
    return parse((uint8_t *)buf, size, name, NULL, out);
}

void tbml_idx_free(tbml_idx_t *t)
{
    if (!t) return;
    tbml_free(t->data);
    tbml_free(t);
}

/* Inflates a gzip stream (one or more members) from memory. */
static tbml_status gunzip(const uint8_t *in, size_t in_size, const char *name, uint8_t **out,
                          size_t *out_size)
{
    tbml_status ret = TBML_OK;
    size_t cap = in_size * 2 + 1024, used = 0;
    /* ISIZE, the last 4 bytes, is the uncompressed size mod 2^32: a good first guess */
    if (in_size >= 18) {
        size_t isize = (size_t)in[in_size - 4] | (size_t)in[in_size - 3] << 8 |
                       (size_t)in[in_size - 2] << 16 | (size_t)in[in_size - 1] << 24;
        if (isize + 1 > cap && isize < IDX_MAX_SIZE) cap = isize + 1;
    }
    uint8_t *buf = tbml_malloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        tbml_free(buf);
        return tbml_error(TBML_E_INTERNAL, "%s: zlib init failed", name);
    }
    zs.next_in = (Bytef *)in;
    size_t in_left = in_size;
    for (;;) {
        if (used == cap) {
            if (cap >= IDX_MAX_SIZE) {
                ret = tbml_error(TBML_E_FORMAT, "%s: decompresses to more than 16 GiB", name);
                goto out;
            }
            cap *= 2;
            buf = tbml_realloc(buf, cap);
        }
        unsigned chunk_in = in_left > UINT_MAX ? UINT_MAX : (unsigned)in_left;
        size_t room = cap - used;
        unsigned chunk_out = room > UINT_MAX ? UINT_MAX : (unsigned)room;
        zs.avail_in = chunk_in;
        zs.next_out = buf + used;
        zs.avail_out = chunk_out;
        int z = inflate(&zs, Z_NO_FLUSH);
        in_left -= chunk_in - zs.avail_in;
        used += chunk_out - zs.avail_out;
        if (z == Z_STREAM_END) {
            if (in_left == 0) break;
            inflateReset(&zs); /* another gzip member follows */
            continue;
        }
        if (z == Z_BUF_ERROR && in_left == 0) {
            ret = tbml_error(TBML_E_FORMAT,
                             "%s: truncated gzip stream: it ends after %zu compressed bytes "
                             "(%zu bytes decompressed)",
                             name, in_size, used);
            goto out;
        }
        if (z != Z_OK && z != Z_BUF_ERROR) {
            ret = tbml_error(TBML_E_FORMAT, "%s: damaged gzip stream near compressed byte %zu: %s",
                             name, in_size - in_left, zs.msg ? zs.msg : "inflate failed");
            goto out;
        }
        if (z == Z_BUF_ERROR && zs.avail_out != 0 && in_left == 0) break;
    }
    *out = buf;
    *out_size = used;
    buf = NULL;
out:
    inflateEnd(&zs);
    tbml_free(buf);
    return ret;
}

/* Reads and authenticates a whole sealed file. */
static tbml_status read_sealed(int fd, const char *path, const tbml_key_t *key, size_t max_size,
                               uint8_t **out, size_t *out_size)
{
    if (!key) return tbml_error(TBML_E_KEY, "%s: is a sealed file: give the key to open it", path);
    tbml_sealed_reader_t *r = NULL;
    tbml_status ret = tbml_sealed_reader_open(fd, path, key, &r);
    if (ret) return ret;
    size_t cap = 1 << 20, used = 0;
    uint8_t *buf = tbml_malloc(cap);
    for (;;) {
        if (cap - used < (1 << 16)) {
            if (cap >= max_size) {
                ret = tbml_error(TBML_E_FORMAT, "%s: larger than %zu bytes", path, max_size);
                goto out;
            }
            cap *= 2;
            buf = tbml_realloc(buf, cap);
        }
        size_t got = 0;
        ret = tbml_sealed_reader_read(r, buf + used, cap - used, &got);
        if (ret) goto out;
        if (got == 0) break;
        used += got;
    }
    *out = buf;
    *out_size = used;
    buf = NULL;
out:
    if (buf) {
        memset(buf, 0, cap); /* plaintext, possibly unauthenticated tail: do not leave it */
        tbml_free(buf);
    }
    tbml_sealed_reader_free(r);
    return ret;
}

tbml_status data_read_file(const char *path, const tbml_key_t *key, size_t max_size, uint8_t **out,
                           size_t *out_size, int *sealed)
{
    tbml_status ret;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: %s", path,
                          strerror(errno));
    uint8_t head[8];
    ssize_t h = pread(fd, head, sizeof(head), 0);
    *sealed = h == (ssize_t)sizeof(head) && memcmp(head, TBML_SEAL_MAGIC, 8) == 0;
    if (*sealed)
        ret = read_sealed(fd, path, key, max_size, out, out_size);
    else
        ret = tbml_read_all(fd, path, max_size, out, out_size);
    close(fd);
    return ret;
}

tbml_status tbml_idx_read(const char *path, const tbml_key_t *key, tbml_idx_t **out)
{
    tbml_status ret;
    uint8_t *raw = NULL, *plain = NULL;
    size_t raw_size = 0, plain_size = 0;
    int sealed = 0;
    ret = data_read_file(path, key, IDX_MAX_SIZE, &raw, &raw_size, &sealed);
    if (ret) goto out;
    if (raw_size >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        ret = gunzip(raw, raw_size, path, &plain, &plain_size);
        if (ret) goto out;
        if (sealed) memset(raw, 0, raw_size);
        tbml_free(raw); /* the compressed bytes are not needed any more */
        raw = NULL;
        ret = parse(plain, plain_size, path, &plain, out);
    } else {
        ret = parse(raw, raw_size, path, &raw, out);
    }
out:
    if (sealed && raw) memset(raw, 0, raw_size);
    if (sealed && plain) memset(plain, 0, plain_size);
    tbml_free(raw);
    tbml_free(plain);
    return ret;
}

tbml_status tbml_idx_write(const char *path, const tbml_idx_t *t)
{
    if (t->ndim < 1 || t->ndim > TBML_IDX_MAX_DIMS || elem_size_of(t->type) != t->elem_size)
        return tbml_error(TBML_E_ARG, "%s: bad IDX tensor", path);
    uint8_t hdr[4 + 4 * TBML_IDX_MAX_DIMS];
    hdr[0] = hdr[1] = 0;
    hdr[2] = (uint8_t)t->type;
    hdr[3] = (uint8_t)t->ndim;
    for (int i = 0; i < t->ndim; i++) {
        uint32_t d = t->dims[i];
        hdr[4 + 4 * i] = (uint8_t)(d >> 24);
        hdr[5 + 4 * i] = (uint8_t)(d >> 16);
        hdr[6 + 4 * i] = (uint8_t)(d >> 8);
        hdr[7 + 4 * i] = (uint8_t)d;
    }
    tbml_outfile_t *f = NULL;
    tbml_status ret = tbml_outfile_open(path, &f);
    if (ret) return ret;
    ret = tbml_outfile_write(f, hdr, 4 + 4 * (size_t)t->ndim);
    if (!ret && t->elem_size == 1) {
        ret = tbml_outfile_write(f, t->data, t->count);
    } else if (!ret) {
        uint8_t tmp[4096];
        const uint8_t *s = t->data;
        size_t es = t->elem_size, per = sizeof(tmp) / es;
        for (size_t i0 = 0; !ret && i0 < t->count; i0 += per) {
            size_t m = t->count - i0 < per ? t->count - i0 : per;
            for (size_t i = 0; i < m; i++)
                for (size_t b = 0; b < es; b++)
                    tmp[i * es + b] = s[(i0 + i) * es + (es - 1 - b)];
            ret = tbml_outfile_write(f, tmp, m * es);
        }
    }
    if (ret) {
        tbml_outfile_abort(f);
        return ret;
    }
    return tbml_outfile_commit(f);
}

tbml_status tbml_idx_read_labeled(const char *images_path, const char *labels_path,
                                  const tbml_key_t *key, tbml_idx_labeled_t *out)
{
    tbml_idx_t *im = NULL, *lb = NULL;
    tbml_status ret = tbml_idx_read(images_path, key, &im);
    if (ret) goto out;
    ret = tbml_idx_read(labels_path, key, &lb);
    if (ret) goto out;
    if (im->type != TBML_IDX_U8 || im->ndim != 3) {
        ret = tbml_error(TBML_E_FORMAT,
                         "%s: expected unsigned-byte images of 3 dimensions (magic 0x00000803), "
                         "got type 0x%02x with %d dimensions",
                         images_path, im->type, im->ndim);
        goto out;
    }
    if (lb->type != TBML_IDX_U8 || lb->ndim != 1) {
        ret = tbml_error(TBML_E_FORMAT,
                         "%s: expected unsigned-byte labels of 1 dimension (magic 0x00000801), "
                         "got type 0x%02x with %d dimensions",
                         labels_path, lb->type, lb->ndim);
        goto out;
    }
    if (im->dims[0] != lb->dims[0]) {
        ret = tbml_error(TBML_E_FORMAT,
                         "image and label counts differ: %s has %u images, %s has %u labels",
                         images_path, (unsigned)im->dims[0], labels_path, (unsigned)lb->dims[0]);
        goto out;
    }
    if (im->dims[0] == 0 || im->dims[0] > INT_MAX || im->dims[1] == 0 || im->dims[2] == 0 ||
        im->dims[1] > 4096 || im->dims[2] > 4096) {
        ret = tbml_error(TBML_E_FORMAT, "%s: unusable image shape %ux%ux%u", images_path,
                         (unsigned)im->dims[0], (unsigned)im->dims[1], (unsigned)im->dims[2]);
        goto out;
    }
    tbml_idx_labeled_t d;
    d.n = (int)im->dims[0];
    d.rows = (int)im->dims[1];
    d.cols = (int)im->dims[2];
    d.images = im->data;
    im->data = NULL;
    d.labels = tbml_malloc(sizeof(int32_t) * (size_t)d.n);
    const uint8_t *l = lb->data;
    int mx = 0;
    for (int i = 0; i < d.n; i++) {
        d.labels[i] = l[i];
        if (l[i] > mx) mx = l[i];
    }
    d.classes = mx + 1;
    *out = d;
out:
    tbml_idx_free(im);
    tbml_idx_free(lb);
    return ret;
}

void tbml_idx_labeled_free(tbml_idx_labeled_t *d)
{
    if (!d) return;
    tbml_free(d->images);
    tbml_free(d->labels);
    memset(d, 0, sizeof(*d));
}
