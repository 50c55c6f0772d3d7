/* Checkpoint files (docs/formats/checkpoint.md): the envelope around a trainer's payload, the
 * numbered files of a checkpoint folder, and the newest-that-authenticates rule that lets a
 * resumed job survive a damaged or half-tampered last checkpoint. */
#include "tbml/checkpoint.h"
#include "data/file_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_MAGIC "TBMLCKPT"
#define CKPT_VERSION 1u
#define CKPT_HEADER 32 /* magic, version, kind, step (u64), payload size (u64) */
#define CKPT_MAX_SIZE ((size_t)1 << 34)
#define CKPT_NAME_LEN 22 /* "ckpt-" + 12 digits + ".tbck" */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The step of a checkpoint file name, or -1 for any other name (temporary files included). */
static long name_step(const char *name)
{
    if (strlen(name) != CKPT_NAME_LEN || strncmp(name, "ckpt-", 5) != 0 ||
        strcmp(name + 17, ".tbck") != 0)
        return -1;
    long s = 0;
    for (int i = 5; i < 17; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        s = s * 10 + (name[i] - '0');
    }
    return s;
}

static int cmp_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The steps of dir's checkpoints, newest first (tbml_free *steps). */
static tbml_status list_steps(const char *dir, long **steps, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: %s", dir,
                          strerror(errno));
    size_t cap = 16, k = 0;
    long *s = tbml_malloc(cap * sizeof(long));
    struct dirent *e;
    while ((e = readdir(d))) {
        long st = name_step(e->d_name);
        if (st < 0) continue;
        if (k == cap) s = tbml_realloc(s, (cap *= 2) * sizeof(long));
        s[k++] = st;
    }
    closedir(d);
    qsort(s, k, sizeof(long), cmp_desc);
    *steps = s;
    *n = k;
    return TBML_OK;
}

/* Removes temporary files of killed writers and all but the newest TBML_CKPT_KEEP checkpoints.
 * Failures only warn: the new checkpoint is already safe. */
static void prune(const char *dir)
{
    char path[4096];
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "ckpt-", 5) != 0 || !strstr(e->d_name, ".tbck.tmp.")) continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) != 0) TBML_LOG_W("%s: cannot remove: %s", path, strerror(errno));
        }
        closedir(d);
    }
    long *steps = NULL;
    size_t n = 0;
    if (list_steps(dir, &steps, &n)) return;
    for (size_t i = TBML_CKPT_KEEP; i < n; i++) {
        snprintf(path, sizeof(path), "%s/ckpt-%012ld.tbck", dir, steps[i]);
        if (unlink(path) != 0) TBML_LOG_W("%s: cannot remove: %s", path, strerror(errno));
    }
    tbml_free(steps);
}

tbml_status tbml_ckpt_save(const char *dir, uint32_t kind, long step, const tbml_key_t *key,
                           const uint8_t *payload, size_t size)
{
    tbml_status ret;
    tbml_outfile_t *f = NULL;
    tbml_sealed_writer_t *w = NULL;
    uint8_t head[CKPT_HEADER], crcb[4];
    char path[4096];
    if (step < 0 || step > 999999999999L)
        return tbml_error(TBML_E_ARG, "%s: checkpoint step %ld out of range", dir, step);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tbml_error(TBML_E_IO, "%s: cannot create the checkpoint folder: %s", dir,
                          strerror(errno));
    snprintf(path, sizeof(path), "%s/ckpt-%012ld.tbck", dir, step);
    memcpy(head, CKPT_MAGIC, 8);
    put32(head + 8, CKPT_VERSION);
    put32(head + 12, kind);
    put64(head + 16, (uint64_t)step);
    put64(head + 24, (uint64_t)size);
    uLong crc = crc32(0L, head, CKPT_HEADER);
    /* crc32 takes uInt lengths: feed a large payload in pieces */
    for (size_t off = 0; off < size;) {
        size_t len = size - off > (1u << 30) ? (1u << 30) : size - off;
        crc = crc32(crc, payload + off, (uInt)len);
        off += len;
    }
    put32(crcb, (uint32_t)crc);
    if ((ret = tbml_outfile_open(path, &f))) goto out;
    if (key) {
        if ((ret = tbml_sealed_writer_open(tbml_outfile_fd(f), path, key, TBML_SEAL_SEGMENT_DEFAULT,
                                           &w)) ||
            (ret = tbml_sealed_writer_write(w, head, CKPT_HEADER)) ||
            (ret = tbml_sealed_writer_write(w, payload, size)) ||
            (ret = tbml_sealed_writer_write(w, crcb, 4)) || (ret = tbml_sealed_writer_finish(w)))
            goto out;
    } else if ((ret = tbml_outfile_write(f, head, CKPT_HEADER)) ||
               (ret = tbml_outfile_write(f, payload, size)) ||
               (ret = tbml_outfile_write(f, crcb, 4))) {
        goto out;
    }
    ret = tbml_outfile_commit(f);
    f = NULL;
    if (!ret) prune(dir);
out:
    if (w) tbml_sealed_writer_free(w);
    tbml_outfile_abort(f);
    return ret;
}

/* Reads and checks one checkpoint file; on success the payload is moved to the front of *buf. */
static tbml_status read_one(const char *path, uint32_t kind, long step, const tbml_key_t *key,
                            uint8_t **out, size_t *out_size)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    int sealed = 0;
    tbml_status ret = data_read_file(path, key, CKPT_MAX_SIZE, &buf, &size, &sealed);
    if (ret) return ret;
    if (key && !sealed) {
        ret = tbml_error(TBML_E_AUTH,
                         "%s: a plaintext checkpoint in a sealed job (anyone could have written "
                         "it); refused",
                         path);
        goto out;
    }
    if (size < CKPT_HEADER + 4 || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        ret = tbml_error(TBML_E_FORMAT, "%s: not a tbml checkpoint (no TBMLCKPT magic at byte 0)",
                         path);
        goto out;
    }
    if (get32(buf + 8) != CKPT_VERSION) {
        ret = tbml_error(TBML_E_UNSUPPORTED, "%s: checkpoint version %u (this tbml reads 1)", path,
                         (unsigned)get32(buf + 8));
        goto out;
    }
    uLong crc = 0;
    for (size_t off = 0; off < size - 4;) {
        size_t len = size - 4 - off > (1u << 30) ? (1u << 30) : size - 4 - off;
        crc = crc32(crc, buf + off, (uInt)len);
        off += len;
    }
    if ((uint32_t)crc != get32(buf + size - 4) || get64(buf + 24) != size - CKPT_HEADER - 4) {
        ret = tbml_error(TBML_E_FORMAT, "%s: checksum mismatch: the checkpoint is damaged", path);
        goto out;
    }
    if (get32(buf + 12) != kind || get64(buf + 16) != (uint64_t)step) {
        ret = tbml_error(TBML_E_FORMAT,
                         "%s: holds a kind %u checkpoint of step %llu, expected kind %u step %ld",
                         path, (unsigned)get32(buf + 12), (unsigned long long)get64(buf + 16),
                         (unsigned)kind, step);
        goto out;
    }
    *out_size = size - CKPT_HEADER - 4;
    memmove(buf, buf + CKPT_HEADER, *out_size);
    memset(buf + *out_size, 0, size - *out_size);
    *out = buf;
    return TBML_OK;
out:
    memset(buf, 0, size);
    tbml_free(buf);
    return ret;
}

tbml_status tbml_ckpt_load_latest(const char *dir, uint32_t kind, const tbml_key_t *key,
                                  uint8_t **payload, size_t *size, long *step, char *path,
                                  size_t path_size)
{
    long *steps = NULL;
    size_t n = 0;
    tbml_status ret = list_steps(dir, &steps, &n);
    if (ret) return ret;
    if (n == 0) {
        tbml_free(steps);
        return tbml_error(TBML_E_NOTFOUND, "%s: no checkpoint to resume from", dir);
    }
    char p[4096];
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/ckpt-%012ld.tbck", dir, steps[i]);
        ret = read_one(p, kind, steps[i], key, payload, size);
        if (!ret) {
            *step = steps[i];
            snprintf(path, path_size, "%s", p);
            break;
        }
        /* a missing or wrong key fails every checkpoint alike: say so about the newest */
        if (ret == TBML_E_KEY) break;
        if (i + 1 < n) TBML_LOG_W("%s; falling back to an older checkpoint", tbml_errmsg());
    }
    tbml_free(steps);
    return ret;
}
