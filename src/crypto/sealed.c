/* Sealed files v1 (docs/formats/sealed-file.md): a header naming the primary key and carrying
 * a fresh data key wrapped under it, then AES-256-GCM segments whose index and last-segment
 * flag are bound into nonce and AAD along with a hash of the whole header.
 *
 * How it fails: anything that does not parse as a header is TBML_E_FORMAT (an unknown version
 * TBML_E_UNSUPPORTED); a key with another name is TBML_E_KEY; every other kind of damage
 * (altered header or segment, truncation anywhere in the body, reordering, segments from another
 * file, appended bytes) is TBML_E_AUTH, and the output buffer is wiped. Readers hand out only
 * bytes of segments whose tag has been checked.
 *
 * Random access is thread-safe: each call borrows an AEAD context (and a scratch segment) from a
 * small per-reader free list and reads with pread(2), so no file position is shared. */
#include "sealed_format.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- byte order and small helpers ------------------------------------------------------------ */

static void put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

int tbml_sealed_probe(const void *head, size_t size)
{
    return head && size >= 8 && memcmp(head, SEALED_MAGIC, 8) == 0;
}

/* Nonce and AAD of segment idx: the index and the last flag in both, so a segment only opens
 * at its own place, and only the true final segment opens as final; the header hash in the AAD
 * ties every segment to this file's header (and so to its file id). */
static void segment_nonce_aad(const uint8_t hhash[32], uint64_t idx, int last, uint8_t nonce[12],
                              uint8_t aad[SEALED_AAD_SIZE])
{
    put_u64be(nonce, idx);
    nonce[8] = nonce[9] = nonce[10] = 0;
    nonce[11] = last ? 1 : 0;
    memcpy(aad, hhash, 32);
    put_u64be(aad + 32, idx);
    aad[40] = last ? 1 : 0;
}

/* Reads up to n bytes at offset off (pread when seekable, else read from the current
 * position), stopping early only at end of file. */
static tbml_status read_upto(int fd, int seekable, uint64_t off, void *buf, size_t n, size_t *got,
                             const char *path)
{
    size_t have = 0;
    while (have < n) {
        ssize_t k = seekable ? pread(fd, (uint8_t *)buf + have, n - have, (off_t)(off + have))
                             : read(fd, (uint8_t *)buf + have, n - have);
        if (k < 0) {
            if (errno == EINTR) continue;
            return tbml_error(TBML_E_IO, "%s: read at offset %" PRIu64 " failed: %s", path,
                              off + have, strerror(errno));
        }
        if (k == 0) break;
        have += (size_t)k;
    }
    *got = have;
    return TBML_OK;
}

/* ---- the header ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t bytes[SEALED_HEADER_MAX];
    uint32_t size; /* header_size */
    uint16_t version;
    uint32_t segment_size;
    size_t name_size;
    char key_name[TBML_KEY_NAME_MAX + 1];
} header_t;

/* Checks the fixed part (the first 56 bytes of h->bytes); sets size and segment_size. */
static tbml_status header_parse_fixed(header_t *h, const char *path)
{
    const uint8_t *b = h->bytes;
    if (memcmp(b, SEALED_MAGIC, 8) != 0)
        return tbml_error(TBML_E_FORMAT, "%s: not a sealed file (no TBMLSEAL magic at offset 0)",
                          path);
    h->version = get_u16le(b + offsetof(sealed_fixed, version));
    if (h->version != SEALED_VERSION)
        return tbml_error(
            TBML_E_UNSUPPORTED,
            "%s: sealed file version %u (offset 8) is not supported; this build reads "
            "version %d",
            path, h->version, SEALED_VERSION);
    uint32_t flags = get_u32le(b + offsetof(sealed_fixed, flags));
    if (flags != 0)
        return tbml_error(TBML_E_FORMAT, "%s: unknown header flags 0x%x at offset 12", path, flags);
    h->segment_size = get_u32le(b + offsetof(sealed_fixed, segment_size));
    if (h->segment_size < TBML_SEAL_SEGMENT_MIN || h->segment_size > TBML_SEAL_SEGMENT_MAX)
        return tbml_error(TBML_E_FORMAT,
                          "%s: segment size %u at offset 16 is out of range (%u..%u)", path,
                          h->segment_size, TBML_SEAL_SEGMENT_MIN, TBML_SEAL_SEGMENT_MAX);
    h->name_size = b[offsetof(sealed_fixed, key_name_size)];
    if (h->name_size < 1 || h->name_size > TBML_KEY_NAME_MAX)
        return tbml_error(TBML_E_FORMAT,
                          "%s: key name size %zu at offset 20 is out of range (1..64)", path,
                          h->name_size);
    const uint8_t *rsv = b + offsetof(sealed_fixed, reserved);
    if (rsv[0] | rsv[1] | rsv[2])
        return tbml_error(TBML_E_FORMAT, "%s: reserved header bytes at offset 21..23 are not zero",
                          path);
    h->size = get_u16le(b + offsetof(sealed_fixed, header_size));
    if (h->size != SEALED_HEADER_SIZE(h->name_size))
        return tbml_error(TBML_E_FORMAT,
                          "%s: header size %u at offset 10 does not match a %zu-byte key name "
                          "(expected %zu)",
                          path, h->size, h->name_size, SEALED_HEADER_SIZE(h->name_size));
    return TBML_OK;
}

/* Checks the key name (all h->size bytes are in h->bytes). */
static tbml_status header_parse_name(header_t *h, const char *path)
{
    memcpy(h->key_name, h->bytes + sizeof(sealed_fixed), h->name_size);
    h->key_name[h->name_size] = '\0';
    if (memchr(h->key_name, '\0', h->name_size) || !tbml_key_name_valid(h->key_name))
        return tbml_error(TBML_E_FORMAT, "%s: invalid key name at offset %zu", path,
                          sizeof(sealed_fixed));
    return TBML_OK;
}

/* Reads and parses a header from fd at base (seekable) or the current position. */
static tbml_status header_read(int fd, int seekable, uint64_t base, const char *path, header_t *h)
{
    size_t got;
    tbml_status st = read_upto(fd, seekable, base, h->bytes, sizeof(sealed_fixed), &got, path);
    if (st) return st;
    if (got < 8 || memcmp(h->bytes, SEALED_MAGIC, 8) != 0)
        return tbml_error(TBML_E_FORMAT, "%s: not a sealed file (no TBMLSEAL magic at offset 0)",
                          path);
    if (got < sizeof(sealed_fixed))
        return tbml_error(TBML_E_FORMAT,
                          "%s: truncated header: file ends at offset %zu, inside the "
                          "56-byte fixed header",
                          path, got);
    if ((st = header_parse_fixed(h, path))) return st;
    size_t rest = h->size - sizeof(sealed_fixed);
    st = read_upto(fd, seekable, base + sizeof(sealed_fixed), h->bytes + sizeof(sealed_fixed), rest,
                   &got, path);
    if (st) return st;
    if (got < rest)
        return tbml_error(TBML_E_FORMAT,
                          "%s: truncated header: file ends at offset %zu of a %u-byte "
                          "header",
                          path, sizeof(sealed_fixed) + got, h->size);
    return header_parse_name(h, path);
}

/* The wrapping key: HKDF-SHA256(primary key, salt = file id). Fresh per file, so the random
 * wrap nonce never meets another message under the same key. */
static tbml_status wrap_key(const tbml_key_t *key, const uint8_t *file_id, uint8_t kek[32])
{
    return tbml_hkdf_sha256(tbml_key_bytes(key), TBML_KEY_SIZE, file_id, SEALED_FILE_ID_SIZE,
                            SEALED_WRAP_INFO, strlen(SEALED_WRAP_INFO), kek, 32);
}

/* ---- segment geometry ------------------------------------------------------------------------ */

typedef struct {
    uint64_t nsegments;
    uint32_t last_size; /* plaintext bytes of the final segment */
    uint64_t length;
} geometry;

/* Splits a body of body bytes into segments. The final segment holds 1..segment_size bytes (0
 * when it is the only one), so the split is unique; a body that ends inside a tag is damaged. */
static tbml_status geometry_of(uint64_t body, uint32_t seg, uint32_t header_size, const char *path,
                               tbml_status bad, geometry *g)
{
    uint64_t ct = (uint64_t)seg + SEALED_TAG_SIZE;
    uint64_t q = body / ct, rem = body % ct;
    if (body < SEALED_TAG_SIZE)
        return tbml_error(bad, "%s: truncated: no final segment (file ends at offset %" PRIu64 ")",
                          path, header_size + body);
    if (rem > 0 && rem < SEALED_TAG_SIZE)
        return tbml_error(bad,
                          "%s: truncated: segment %" PRIu64 " at offset %" PRIu64 " ends inside "
                          "its 16-byte tag",
                          path, q, header_size + q * ct);
    if (rem == 0) {
        g->nsegments = q;
        g->last_size = seg;
    } else {
        g->nsegments = q + 1;
        g->last_size = (uint32_t)(rem - SEALED_TAG_SIZE);
    }
    g->length = (g->nsegments - 1) * (uint64_t)seg + g->last_size;
    return TBML_OK;
}

/* ---- AEAD contexts shared by threads ----------------------------------------------------------
 */

/* A context and a scratch segment lent to one call at a time. scratch caches the plaintext of
 * segment cached_idx (authenticated), so small sequential reads do not reopen a segment. */
typedef struct slot {
    struct slot *next;
    tbml_aead_t *aead;
    uint8_t *scratch; /* segment_size + 16 bytes, allocated on first use */
    uint64_t cached_idx;
    int cached;
} slot_t;

typedef struct {
    pthread_mutex_t mu;
    slot_t *free_list;
    const uint8_t *key;  /* the data key, owned by the reader or writer */
    size_t scratch_size; /* segment_size + 16 */
} slot_pool;

static void slot_pool_init(slot_pool *p, const uint8_t *key, size_t scratch_size)
{
    pthread_mutex_init(&p->mu, NULL);
    p->free_list = NULL;
    p->key = key;
    p->scratch_size = scratch_size;
}

static void slot_free(slot_t *s, size_t scratch_size)
{
    if (!s) return;
    tbml_aead_free(s->aead);
    if (s->scratch) {
        tbml_wipe(s->scratch, scratch_size); /* it held plaintext */
        tbml_free(s->scratch);
    }
    tbml_free(s);
}

static tbml_status slot_get(slot_pool *p, slot_t **out)
{
    pthread_mutex_lock(&p->mu);
    slot_t *s = p->free_list;
    if (s) p->free_list = s->next;
    pthread_mutex_unlock(&p->mu);
    if (!s) {
        s = tbml_calloc(1, sizeof(*s));
        tbml_status st = tbml_aead_create(p->key, &s->aead);
        if (st) {
            tbml_free(s);
            return st;
        }
    }
    *out = s;
    return TBML_OK;
}

static uint8_t *slot_scratch(slot_pool *p, slot_t *s)
{
    if (!s->scratch) s->scratch = tbml_malloc(p->scratch_size);
    return s->scratch;
}

static void slot_put(slot_pool *p, slot_t *s)
{
    pthread_mutex_lock(&p->mu);
    s->next = p->free_list;
    p->free_list = s;
    pthread_mutex_unlock(&p->mu);
}

static void slot_pool_destroy(slot_pool *p)
{
    while (p->free_list) {
        slot_t *s = p->free_list;
        p->free_list = s->next;
        slot_free(s, p->scratch_size);
    }
    pthread_mutex_destroy(&p->mu);
}

/* ---- inspect --------------------------------------------------------------------------------- */

tbml_status tbml_sealed_inspect(const char *path, tbml_sealed_info *out)
{
    tbml_status ret;
    header_t h;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        ret = tbml_error(TBML_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    int seekable = S_ISREG(sb.st_mode);
    if ((ret = header_read(fd, seekable, 0, path, &h))) goto out;
    tbml_sealed_info info = {0};
    info.version = h.version;
    memcpy(info.key_name, h.key_name, h.name_size + 1);
    info.segment_size = h.segment_size;
    info.header_size = h.size;
    info.length = UINT64_MAX;
    if (seekable) {
        geometry g;
        if ((ret = geometry_of((uint64_t)sb.st_size - h.size, h.segment_size, h.size, path,
                               TBML_E_FORMAT, &g)))
            goto out;
        info.length = g.length;
        info.nsegments = g.nsegments;
    }
    *out = info;
out:
    close(fd);
    return ret;
}

/* ---- writer ---------------------------------------------------------------------------------- */

enum { MODE_NONE, MODE_STREAM, MODE_SEGMENTS };

struct tbml_sealed_writer {
    int fd;
    char *path;
    int64_t base; /* offset of the header in fd; -1 when fd is not seekable */
    uint32_t seg, header_size;
    uint8_t hhash[32];
    uint8_t *dkey; /* secure memory */
    slot_pool slots;

    /* streaming: the pending segment, sealed only once we know whether more data follows */
    tbml_aead_t *aead;
    uint8_t *buf; /* seg + 16 bytes */
    size_t have;
    uint64_t idx;     /* next segment to write */
    uint64_t written; /* bytes written to fd, for error offsets */

    /* segments mode, under slots.mu */
    int mode;
    uint64_t nwritten_segments;
    uint64_t last_idx;
    int last_seen;

    tbml_status failed; /* sticky: a writer that failed once stays failed */
    int finished;
};

tbml_status tbml_sealed_writer_open(int fd, const char *path_for_errors, const tbml_key_t *key,
                                    uint32_t segment_size, tbml_sealed_writer_t **out)
{
    tbml_status ret;
    const char *path = path_for_errors ? path_for_errors : "(sealed output)";
    uint8_t *kek = tbml_secure_alloc(32);
    if (segment_size == 0) segment_size = TBML_SEAL_SEGMENT_DEFAULT;
    tbml_sealed_writer_t *w = tbml_calloc(1, sizeof(*w));
    w->fd = fd;
    w->path = tbml_strdup(path);
    w->seg = segment_size;
    w->dkey = tbml_secure_alloc(32);
    slot_pool_init(&w->slots, w->dkey, (size_t)segment_size + SEALED_TAG_SIZE);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    struct stat sb;
    /* segment writes pwrite at computed offsets: not on pipes, nor with O_APPEND (where Linux
     * ignores pwrite's offset) */
    int fl = fcntl(fd, F_GETFL);
    w->base =
        (pos >= 0 && fl >= 0 && !(fl & O_APPEND) && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
            ? (int64_t)pos
            : -1;

    if (segment_size < TBML_SEAL_SEGMENT_MIN || segment_size > TBML_SEAL_SEGMENT_MAX) {
        ret = tbml_error(TBML_E_ARG, "%s: segment size %u is out of range (%u..%u)", path,
                         segment_size, TBML_SEAL_SEGMENT_MIN, TBML_SEAL_SEGMENT_MAX);
        goto out;
    }

    /* header: fixed part, key name, then the wrapped data key */
    const char *name = tbml_key_name(key);
    size_t name_size = strlen(name);
    uint8_t h[SEALED_HEADER_MAX];
    memset(h, 0, sizeof(h));
    memcpy(h, SEALED_MAGIC, 8);
    put_u16le(h + offsetof(sealed_fixed, version), SEALED_VERSION);
    w->header_size = (uint32_t)SEALED_HEADER_SIZE(name_size);
    put_u16le(h + offsetof(sealed_fixed, header_size), (uint16_t)w->header_size);
    put_u32le(h + offsetof(sealed_fixed, flags), 0);
    put_u32le(h + offsetof(sealed_fixed, segment_size), segment_size);
    h[offsetof(sealed_fixed, key_name_size)] = (uint8_t)name_size;
    uint8_t *file_id = h + offsetof(sealed_fixed, file_id);
    memcpy(h + sizeof(sealed_fixed), name, name_size);
    size_t aad_size = sizeof(sealed_fixed) + name_size;
    uint8_t *wrap = h + aad_size;
    if ((ret = tbml_random(file_id, SEALED_FILE_ID_SIZE)) || (ret = tbml_random(w->dkey, 32)) ||
        (ret = tbml_random(wrap + offsetof(sealed_wrap, nonce), 12)))
        goto out;
    if ((ret = wrap_key(key, file_id, kek))) goto out;
    if ((ret =
             tbml_aead_seal(kek, wrap + offsetof(sealed_wrap, nonce), h, aad_size, w->dkey, 32,
                            wrap + offsetof(sealed_wrap, key), wrap + offsetof(sealed_wrap, tag))))
        goto out;
    if ((ret = tbml_sha256(h, w->header_size, w->hhash))) goto out;
    if ((ret = tbml_aead_create(w->dkey, &w->aead))) goto out;
    if ((ret = tbml_write_all(fd, h, w->header_size, path))) goto out;
    w->written = w->header_size;
    w->buf = tbml_malloc((size_t)segment_size + SEALED_TAG_SIZE);
    *out = w;
    w = NULL;
out:
    tbml_secure_free(kek, 32);
    tbml_sealed_writer_free(w);
    return ret;
}

/* Seals size bytes of pt (may be w->buf) as segment w->idx into w->buf and writes it. */
static tbml_status writer_emit(tbml_sealed_writer_t *w, const uint8_t *pt, size_t size, int last)
{
    uint8_t nonce[12], aad[SEALED_AAD_SIZE];
    segment_nonce_aad(w->hhash, w->idx, last, nonce, aad);
    tbml_status st =
        tbml_aead_seal_with(w->aead, nonce, aad, sizeof(aad), pt, size, w->buf, w->buf + size);
    if (st) return st;
    const uint8_t *p = w->buf;
    size_t n = size + SEALED_TAG_SIZE;
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return tbml_error(TBML_E_IO,
                              "%s: writing segment %" PRIu64 " at offset %" PRIu64 " failed: %s",
                              w->path, w->idx, w->written, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
        w->written += (uint64_t)k;
    }
    w->idx++;
    return TBML_OK;
}

static tbml_status writer_check(tbml_sealed_writer_t *w, int mode)
{
    if (w->failed)
        return tbml_error(w->failed, "%s: the sealed writer failed earlier; the output is unusable",
                          w->path);
    if (w->finished)
        return tbml_error(TBML_E_ARG, "%s: the sealed writer is already finished", w->path);
    if (w->mode != MODE_NONE && w->mode != mode)
        return tbml_error(TBML_E_ARG, "%s: cannot mix streaming writes and segment writes",
                          w->path);
    return TBML_OK;
}

tbml_status tbml_sealed_writer_write(tbml_sealed_writer_t *w, const void *buf, size_t size)
{
    tbml_status st = writer_check(w, MODE_STREAM);
    if (st) return st;
    w->mode = MODE_STREAM;
    const uint8_t *p = buf;
    while (size > 0) {
        if (w->have == w->seg) { /* a full segment and more data: it is not the last */
            if ((st = writer_emit(w, w->buf, w->seg, 0))) goto fail;
            w->have = 0;
        }
        if (w->have == 0 && size > w->seg) { /* seal straight from the caller: no copy */
            if ((st = writer_emit(w, p, w->seg, 0))) goto fail;
            p += w->seg;
            size -= w->seg;
            continue;
        }
        size_t take = w->seg - w->have < size ? w->seg - w->have : size;
        memcpy(w->buf + w->have, p, take);
        w->have += take;
        p += take;
        size -= take;
    }
    return TBML_OK;
fail:
    w->failed = st;
    return st;
}

tbml_status tbml_sealed_writer_segment(tbml_sealed_writer_t *w, uint64_t idx, int last,
                                       const void *pt, size_t size)
{
    tbml_status ret;
    slot_t *s = NULL;
    pthread_mutex_lock(&w->slots.mu);
    ret = writer_check(w, MODE_SEGMENTS);
    if (!ret && w->base < 0)
        ret = tbml_error(TBML_E_ARG, "%s: segment writes need a seekable file", w->path);
    if (!ret && (size > w->seg || (!last && size != w->seg) || (last && size == 0 && idx > 0)))
        ret = tbml_error(TBML_E_ARG,
                         "%s: segment %" PRIu64 " has %zu bytes; segments hold %u, the "
                         "last 1..%u",
                         w->path, idx, size, w->seg, w->seg);
    if (!ret && last && w->last_seen && w->last_idx != idx)
        ret = tbml_error(TBML_E_ARG, "%s: two last segments (%" PRIu64 " and %" PRIu64 ")", w->path,
                         w->last_idx, idx);
    if (!ret) {
        w->mode = MODE_SEGMENTS;
        if (last) {
            w->last_seen = 1;
            w->last_idx = idx;
        }
    }
    pthread_mutex_unlock(&w->slots.mu);
    if (ret) return ret;

    if ((ret = slot_get(&w->slots, &s))) goto out;
    uint8_t *ct = slot_scratch(&w->slots, s);
    uint8_t nonce[12], aad[SEALED_AAD_SIZE];
    segment_nonce_aad(w->hhash, idx, last, nonce, aad);
    if ((ret = tbml_aead_seal_with(s->aead, nonce, aad, sizeof(aad), pt, size, ct, ct + size)))
        goto out;
    uint64_t off = (uint64_t)w->base + w->header_size + idx * ((uint64_t)w->seg + SEALED_TAG_SIZE);
    size_t n = size + SEALED_TAG_SIZE, done = 0;
    while (done < n) {
        ssize_t k = pwrite(w->fd, ct + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR) continue;
            ret = tbml_error(TBML_E_IO,
                             "%s: writing segment %" PRIu64 " at offset %" PRIu64 " failed: %s",
                             w->path, idx, off + done, strerror(errno));
            goto out;
        }
        done += (size_t)k;
    }
out:
    if (s) slot_put(&w->slots, s);
    pthread_mutex_lock(&w->slots.mu);
    if (ret && !w->failed) w->failed = ret;
    if (!ret) w->nwritten_segments++;
    pthread_mutex_unlock(&w->slots.mu);
    return ret;
}

tbml_status tbml_sealed_writer_finish(tbml_sealed_writer_t *w)
{
    tbml_status st = writer_check(w, w->mode == MODE_NONE ? MODE_STREAM : w->mode);
    if (st) return st;
    if (w->mode == MODE_SEGMENTS) {
        if (!w->last_seen || w->nwritten_segments != w->last_idx + 1)
            return tbml_error(TBML_E_ARG,
                              "%s: %" PRIu64 " segments written, but the last segment "
                              "is %s",
                              w->path, w->nwritten_segments,
                              w->last_seen ? "at another index" : "missing");
    } else {
        /* the final segment: whatever is pending, possibly nothing (an empty file) */
        if ((st = writer_emit(w, w->buf, w->have, 1))) {
            w->failed = st;
            return st;
        }
        w->have = 0;
    }
    w->finished = 1;
    return TBML_OK;
}

void tbml_sealed_writer_free(tbml_sealed_writer_t *w)
{
    if (!w) return;
    tbml_aead_free(w->aead);
    slot_pool_destroy(&w->slots);
    if (w->buf) {
        tbml_wipe(w->buf, (size_t)w->seg + SEALED_TAG_SIZE);
        tbml_free(w->buf);
    }
    tbml_secure_free(w->dkey, 32);
    tbml_free(w->path);
    tbml_free(w);
}

/* ---- reader ---------------------------------------------------------------------------------- */

struct tbml_sealed_reader {
    int fd;
    char *path;
    int seekable;
    uint64_t base; /* offset of the header in fd (seekable only) */
    tbml_sealed_info info;
    uint32_t seg, last_size;
    uint8_t hhash[32];
    uint8_t *dkey; /* secure memory */
    slot_pool slots;

    /* sequential reads on a seekable fd */
    slot_t *seq;
    uint64_t pos;

    /* sequential reads on a pipe: sbuf holds one segment's ciphertext + tag, plus one byte of
     * lookahead that tells whether another segment follows */
    uint8_t *sbuf;
    size_t out_off, out_size; /* plaintext of the current segment not yet handed out */
    int carry;                /* sbuf[seg + 16] holds the next segment's first byte */
    uint64_t next_idx;
    int at_end;
    tbml_status failed;
};

static size_t segment_pt_size(const tbml_sealed_reader_t *r, uint64_t idx)
{
    return idx + 1 == r->info.nsegments ? r->last_size : r->seg;
}

static uint64_t segment_offset(const tbml_sealed_reader_t *r, uint64_t idx)
{
    return r->base + r->info.header_size + idx * ((uint64_t)r->seg + SEALED_TAG_SIZE);
}

static tbml_status segment_auth_error(const tbml_sealed_reader_t *r, uint64_t idx, uint64_t off)
{
    return tbml_error(TBML_E_AUTH,
                      "%s: segment %" PRIu64 " at offset %" PRIu64 " failed "
                      "authentication: the file was altered, truncated, extended or reordered",
                      r->path, idx, off);
}

/* Reads segment idx of a seekable file into out (its plaintext size of room) and opens it in
 * place. On failure out is wiped. */
static tbml_status open_segment(tbml_sealed_reader_t *r, tbml_aead_t *aead, uint64_t idx,
                                uint8_t *out)
{
    size_t pt_size = segment_pt_size(r, idx);
    uint64_t off = segment_offset(r, idx);
    uint8_t tag[SEALED_TAG_SIZE];
    size_t want = pt_size + SEALED_TAG_SIZE, have = 0;
    while (have < want) {
        struct iovec iov[2];
        int n = 0;
        if (have < pt_size) iov[n++] = (struct iovec){out + have, pt_size - have};
        size_t toff = have > pt_size ? have - pt_size : 0;
        iov[n++] = (struct iovec){tag + toff, SEALED_TAG_SIZE - toff};
        ssize_t k = preadv(r->fd, iov, n, (off_t)(off + have));
        if (k < 0) {
            if (errno == EINTR) continue;
            tbml_wipe(out, pt_size);
            return tbml_error(TBML_E_IO,
                              "%s: reading segment %" PRIu64 " at offset %" PRIu64 " failed: %s",
                              r->path, idx, off + have, strerror(errno));
        }
        if (k == 0) { /* the file shrank since it was opened */
            tbml_wipe(out, pt_size);
            return tbml_error(TBML_E_AUTH,
                              "%s: truncated: segment %" PRIu64 " at offset %" PRIu64 " ends early",
                              r->path, idx, off);
        }
        have += (size_t)k;
    }
    uint8_t nonce[12], aad[SEALED_AAD_SIZE];
    segment_nonce_aad(r->hhash, idx, idx + 1 == r->info.nsegments, nonce, aad);
    tbml_status st = tbml_aead_open_with(aead, nonce, aad, sizeof(aad), out, pt_size, tag, out);
    if (st == TBML_E_AUTH) return segment_auth_error(r, idx, off);
    return st;
}

/* pread with a given slot. On failure all size bytes of buf are wiped. */
static tbml_status pread_with(tbml_sealed_reader_t *r, slot_t *s, uint8_t *buf, size_t size,
                              uint64_t offset, size_t *got)
{
    tbml_status st = TBML_OK;
    if (offset >= r->info.length || size == 0) {
        *got = 0;
        return TBML_OK;
    }
    size_t n = r->info.length - offset < size ? (size_t)(r->info.length - offset) : size;
    size_t done = 0;
    while (done < n) {
        uint64_t p = offset + done;
        uint64_t idx = p / r->seg;
        size_t within = (size_t)(p % r->seg);
        size_t pt_size = segment_pt_size(r, idx);
        size_t take = pt_size - within < n - done ? pt_size - within : n - done;
        if (within == 0 && take == pt_size && !(s->cached && s->cached_idx == idx)) {
            if ((st = open_segment(r, s->aead, idx, buf + done))) goto fail; /* zero copy */
        } else {
            if (!(s->cached && s->cached_idx == idx)) {
                s->cached = 0;
                if ((st = open_segment(r, s->aead, idx, slot_scratch(&r->slots, s)))) goto fail;
                s->cached = 1;
                s->cached_idx = idx;
            }
            memcpy(buf + done, s->scratch + within, take);
        }
        done += take;
    }
    *got = n;
    return TBML_OK;
fail:
    tbml_wipe(buf, size);
    return st;
}

tbml_status tbml_sealed_reader_open(int fd, const char *path_for_errors, const tbml_key_t *key,
                                    tbml_sealed_reader_t **out)
{
    tbml_status ret;
    const char *path = path_for_errors ? path_for_errors : "(sealed input)";
    uint8_t *kek = tbml_secure_alloc(32);
    header_t h;
    struct stat sb;
    tbml_sealed_reader_t *r = tbml_calloc(1, sizeof(*r));
    r->fd = fd;
    r->path = tbml_strdup(path);
    r->dkey = tbml_secure_alloc(32);
    slot_pool_init(&r->slots, r->dkey, 0);

    if (fstat(fd, &sb) != 0) {
        ret = tbml_error(TBML_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    off_t pos = S_ISREG(sb.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
    r->seekable = pos >= 0;
    r->base = r->seekable ? (uint64_t)pos : 0;
    if ((ret = header_read(fd, r->seekable, r->base, path, &h))) goto out;
    if (strcmp(h.key_name, tbml_key_name(key)) != 0) {
        ret = tbml_error(TBML_E_KEY, "%s: sealed under key '%s', but the key given is '%s'", path,
                         h.key_name, tbml_key_name(key));
        goto out;
    }
    r->seg = h.segment_size;
    r->slots.scratch_size = (size_t)r->seg + SEALED_TAG_SIZE;
    r->info.version = h.version;
    memcpy(r->info.key_name, h.key_name, h.name_size + 1);
    r->info.segment_size = h.segment_size;
    r->info.header_size = h.size;
    r->info.length = UINT64_MAX;

    /* unwrap the data key: authenticates every header byte */
    size_t aad_size = sizeof(sealed_fixed) + h.name_size;
    const uint8_t *wrap = h.bytes + aad_size;
    if ((ret = wrap_key(key, h.bytes + offsetof(sealed_fixed, file_id), kek))) goto out;
    ret = tbml_aead_open(kek, wrap + offsetof(sealed_wrap, nonce), h.bytes, aad_size,
                         wrap + offsetof(sealed_wrap, key), 32, wrap + offsetof(sealed_wrap, tag),
                         r->dkey);
    if (ret == TBML_E_AUTH) {
        ret = tbml_error(TBML_E_AUTH,
                         "%s: header (offsets 0..%u) failed authentication under key "
                         "'%s': the key bytes differ from the sealing key's, or the header was "
                         "altered",
                         path, h.size, h.key_name);
        goto out;
    }
    if (ret) goto out;
    if ((ret = tbml_sha256(h.bytes, h.size, r->hhash))) goto out;

    if (r->seekable) {
        geometry g;
        if ((uint64_t)sb.st_size < r->base + h.size) { /* header_read saw it; the file shrank */
            ret = tbml_error(TBML_E_FORMAT, "%s: truncated header", path);
            goto out;
        }
        if ((ret = geometry_of((uint64_t)sb.st_size - r->base - h.size, r->seg, h.size, path,
                               TBML_E_AUTH, &g)))
            goto out;
        r->info.length = g.length;
        r->info.nsegments = g.nsegments;
        r->last_size = g.last_size;
        /* no segment is longer than the file: a tiny file claiming 64 MiB segments gets a tiny
         * scratch buffer */
        if (g.length < r->seg) r->slots.scratch_size = (size_t)g.length + SEALED_TAG_SIZE;
        /* Open the final segment now: it authenticates the length (a file cut at a segment
         * boundary fails here, not after the caller has consumed most of it). */
        if ((ret = slot_get(&r->slots, &r->seq))) goto out;
        if ((ret = open_segment(r, r->seq->aead, g.nsegments - 1, slot_scratch(&r->slots, r->seq))))
            goto out;
        r->seq->cached = 1;
        r->seq->cached_idx = g.nsegments - 1;
    } else {
        if ((ret = slot_get(&r->slots, &r->seq))) goto out;
        r->sbuf = tbml_malloc((size_t)r->seg + SEALED_TAG_SIZE + 1);
    }
    *out = r;
    r = NULL;
out:
    tbml_secure_free(kek, 32);
    tbml_sealed_reader_free(r);
    return ret;
}

const tbml_sealed_info *tbml_sealed_reader_info(const tbml_sealed_reader_t *r)
{
    return &r->info;
}

/* Reads and opens the next segment of a pipe into sbuf. */
static tbml_status stream_next(tbml_sealed_reader_t *r)
{
    size_t ct_full = (size_t)r->seg + SEALED_TAG_SIZE, have = 0, got;
    uint64_t idx = r->next_idx;
    uint64_t off = r->info.header_size + idx * (uint64_t)ct_full;
    if (r->carry) {
        r->sbuf[0] = r->sbuf[ct_full];
        have = 1;
        r->carry = 0;
    }
    tbml_status st =
        read_upto(r->fd, 0, off + have, r->sbuf + have, ct_full + 1 - have, &got, r->path);
    if (st) return st;
    have += got;
    int last = have <= ct_full;
    size_t ct_size = last ? have : ct_full;
    if (ct_size < SEALED_TAG_SIZE)
        return tbml_error(TBML_E_AUTH,
                          "%s: truncated: %s at offset %" PRIu64 " ends inside its "
                          "16-byte tag",
                          r->path, idx == 0 ? "the first segment" : "a segment", off);
    size_t pt_size = ct_size - SEALED_TAG_SIZE;
    uint8_t nonce[12], aad[SEALED_AAD_SIZE];
    segment_nonce_aad(r->hhash, idx, last, nonce, aad);
    st = tbml_aead_open_with(r->seq->aead, nonce, aad, sizeof(aad), r->sbuf, pt_size,
                             r->sbuf + pt_size, r->sbuf);
    if (st == TBML_E_AUTH) return segment_auth_error(r, idx, off);
    if (st) return st;
    r->carry = !last;
    r->out_off = 0;
    r->out_size = pt_size;
    r->next_idx++;
    r->at_end = last;
    return TBML_OK;
}

tbml_status tbml_sealed_reader_read(tbml_sealed_reader_t *r, void *buf, size_t size, size_t *got)
{
    tbml_status st;
    if (r->failed)
        return tbml_error(r->failed, "%s: the sealed reader failed earlier; nothing more is read",
                          r->path);
    if (r->seekable) {
        size_t n;
        if ((st = pread_with(r, r->seq, buf, size, r->pos, &n))) goto fail;
        r->pos += n;
        *got = n;
        return TBML_OK;
    }
    size_t done = 0;
    while (done < size) {
        if (r->out_off == r->out_size) {
            if (r->at_end) break;
            if ((st = stream_next(r))) goto fail;
            continue;
        }
        size_t take =
            r->out_size - r->out_off < size - done ? r->out_size - r->out_off : size - done;
        memcpy((uint8_t *)buf + done, r->sbuf + r->out_off, take);
        r->out_off += take;
        done += take;
    }
    /* *got = 0 must mean the authenticated end: make sure the final segment has been opened
     * before saying so (an empty file is one empty segment). */
    if (done == 0 && size > 0 && !r->at_end) {
        st = tbml_error(TBML_E_INTERNAL, "%s: sealed reader stopped before the end", r->path);
        goto fail;
    }
    *got = done;
    return TBML_OK;
fail:
    tbml_wipe(buf, size);
    r->seq->cached = 0;
    if (r->seq->scratch) tbml_wipe(r->seq->scratch, r->slots.scratch_size);
    if (r->sbuf) tbml_wipe(r->sbuf, (size_t)r->seg + SEALED_TAG_SIZE + 1);
    r->out_off = r->out_size = 0;
    r->failed = st;
    return st;
}

tbml_status tbml_sealed_reader_segment(tbml_sealed_reader_t *r, uint64_t idx, void *out,
                                       size_t *out_size)
{
    tbml_status st;
    slot_t *s;
    if (!r->seekable)
        return tbml_error(TBML_E_ARG, "%s: random access needs a seekable file, not a pipe",
                          r->path);
    if (idx >= r->info.nsegments)
        return tbml_error(TBML_E_ARG, "%s: segment %" PRIu64 " is past the last (%" PRIu64 ")",
                          r->path, idx, r->info.nsegments - 1);
    if ((st = slot_get(&r->slots, &s))) return st;
    st = open_segment(r, s->aead, idx, out);
    slot_put(&r->slots, s);
    if (st) {
        tbml_wipe(out, r->seg);
        return st;
    }
    *out_size = segment_pt_size(r, idx);
    return TBML_OK;
}

tbml_status tbml_sealed_reader_pread(tbml_sealed_reader_t *r, void *buf, size_t size,
                                     uint64_t offset, size_t *got)
{
    tbml_status st;
    slot_t *s;
    if (!r->seekable)
        return tbml_error(TBML_E_ARG, "%s: random access needs a seekable file, not a pipe",
                          r->path);
    if ((st = slot_get(&r->slots, &s))) return st;
    st = pread_with(r, s, buf, size, offset, got);
    if (st) {
        s->cached = 0;
        if (s->scratch) tbml_wipe(s->scratch, r->slots.scratch_size);
    }
    slot_put(&r->slots, s);
    return st;
}

void tbml_sealed_reader_free(tbml_sealed_reader_t *r)
{
    if (!r) return;
    slot_free(r->seq, r->slots.scratch_size);
    slot_pool_destroy(&r->slots);
    if (r->sbuf) {
        tbml_wipe(r->sbuf, (size_t)r->seg + SEALED_TAG_SIZE + 1);
        tbml_free(r->sbuf);
    }
    tbml_secure_free(r->dkey, 32);
    tbml_free(r->path);
    tbml_free(r);
}
