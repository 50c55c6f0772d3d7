/* The key service's audit log: one JSON object per line, each carrying the previous entry's
 * hash ("prev") and its own ("hash" = SHA-256 of prev's 32 bytes || the RFC 8785 canonical JSON
 * of the entry without "hash"), so editing, removing or reordering any entry breaks the chain
 * from there on (docs/protocols/kms.md#audit-log). */
#include "kms/service.h"

#include "tee/tee_internal.h"

#include "tbml/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_MAX_SIZE (1u << 30)

static tbml_status entry_hash(const uint8_t prev[32], json_t *entry, uint8_t out[32])
{
    return tee_json_sha256(prev, 32, entry, out);
}

tbml_status kms_audit_open(kms_audit *a, const char *path, int sync)
{
    uint64_t n = 0;
    char head[65];
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    a->sync = sync;
    a->fd = -1;
    tbml_status st = tbml_kms_audit_verify(path, NULL, &n, head);
    if (st == TBML_E_NOTFOUND) {
        n = 0;
        memset(a->head, 0, 32);
    } else if (st) {
        return tbml_error_prefix(st, "refusing to append to a broken audit log: ");
    } else if (tee_unhex(head, a->head, 32)) {
        memset(a->head, 0, 32);
    }
    a->seq = n;
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0)
        return tbml_error(TBML_E_IO, "%s: cannot open the audit log: %s", path, strerror(errno));
    return TBML_OK;
}

void kms_audit_close(kms_audit *a)
{
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    pthread_mutex_destroy(&a->lock);
}

tbml_status kms_audit_append(kms_audit *a, json_t *entry)
{
    char when[40], prev_hex[65], hash_hex[65];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%06ldZ", ts.tv_nsec / 1000);
    pthread_mutex_lock(&a->lock);
    uint8_t h[32];
    tbml_hex(a->head, 32, prev_hex);
    json_object_set_new(entry, "seq", json_integer((json_int_t)a->seq + 1));
    json_object_set_new(entry, "time", json_string(when));
    json_object_set_new(entry, "prev", json_string(prev_hex));
    tbml_status st = entry_hash(a->head, entry, h);
    if (!st) {
        tbml_hex(h, 32, hash_hex);
        json_object_set_new(entry, "hash", json_string(hash_hex));
        /* json_dumps allocates with malloc: grow its buffer by the newline with realloc */
        char *line = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
        char *nl = line ? realloc(line, strlen(line) + 2) : NULL;
        if (!nl) {
            free(line);
            st = tbml_error(TBML_E_NOMEM, "audit log: cannot format the entry");
        } else {
            size_t n = strlen(nl);
            nl[n] = '\n';
            st = tbml_write_all(a->fd, nl, n + 1, "audit log");
            free(nl);
        }
        if (!st) {
            memcpy(a->head, h, 32);
            a->seq++;
        }
    }
    pthread_mutex_unlock(&a->lock);
    /* Outside the lock, so concurrent appends share one journal commit (group commit); the caller
     * answers only after its own entry is on disk. */
    if (!st && a->sync && fdatasync(a->fd) != 0)
        st = tbml_error(TBML_E_IO, "audit log: fdatasync: %s", strerror(errno));
    return st;
}

tbml_status tbml_kms_audit_verify(const char *path, const char *anchor, uint64_t *entries,
                                  char head_hex[65])
{
    uint8_t *buf = NULL, prev[32], h[32], anchor_hash[32];
    size_t size;
    unsigned long long anchor_seq = 0;
    char anchor_hex[65];
    int anchor_seen = 0;
    if (anchor && (sscanf(anchor, "%llu:%64s", &anchor_seq, anchor_hex) != 2 || anchor_seq == 0 ||
                   tee_unhex(anchor_hex, anchor_hash, 32)))
        return tbml_error(TBML_E_ARG, "anchor '%s' is not SEQ:HASH as 'tbml kms audit' prints it",
                          anchor);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: %s", path,
                          strerror(errno));
    tbml_status st = tbml_read_all(fd, path, AUDIT_MAX_SIZE, &buf, &size);
    close(fd);
    if (st) return st;
    memset(prev, 0, 32);
    uint64_t n = 0;
    size_t off = 0;
    while (off < size && !st) {
        uint8_t *nl = memchr(buf + off, '\n', size - off);
        if (!nl) {
            st = tbml_error(TBML_E_AUTH, "%s:%llu: last entry is cut off (no newline)", path,
                            (unsigned long long)n + 1);
            break;
        }
        json_error_t jerr;
        json_t *e = json_loadb((const char *)buf + off, (size_t)(nl - (buf + off)),
                               JSON_REJECT_DUPLICATES, &jerr);
        uint8_t claimed[32], claimed_prev[32];
        const char *hh = e ? json_string_value(json_object_get(e, "hash")) : NULL;
        const char *ph = e ? json_string_value(json_object_get(e, "prev")) : NULL;
        json_t *seq = e ? json_object_get(e, "seq") : NULL;
        if (!e || !hh || !ph || tee_unhex(hh, claimed, 32) || tee_unhex(ph, claimed_prev, 32) ||
            !json_is_integer(seq)) {
            st = tbml_error(TBML_E_AUTH, "%s:%llu: not an audit entry", path,
                            (unsigned long long)n + 1);
        } else if ((uint64_t)json_integer_value(seq) != n + 1) {
            st = tbml_error(
                TBML_E_AUTH,
                "%s:%llu: sequence number %lld, expected %llu (entries removed or reordered)", path,
                (unsigned long long)n + 1, (long long)json_integer_value(seq),
                (unsigned long long)n + 1);
        } else if (!tbml_ct_equal(claimed_prev, prev, 32)) {
            st = tbml_error(TBML_E_AUTH,
                            "%s:%llu: 'prev' is not the hash of entry %llu (chain broken)", path,
                            (unsigned long long)n + 1, (unsigned long long)n);
        } else {
            json_object_del(e, "hash");
            st = entry_hash(prev, e, h);
            if (!st && !tbml_ct_equal(h, claimed, 32))
                st =
                    tbml_error(TBML_E_AUTH, "%s:%llu: entry was modified (its hash does not match)",
                               path, (unsigned long long)n + 1);
            if (!st) memcpy(prev, h, 32);
            if (!st && anchor && n + 1 == anchor_seq) {
                anchor_seen = 1;
                if (!tbml_ct_equal(h, anchor_hash, 32))
                    st = tbml_error(
                        TBML_E_AUTH,
                        "%s:%llu: entry %llu is not the anchored one (the log was rewritten)", path,
                        anchor_seq, anchor_seq);
            }
        }
        json_decref(e);
        n++;
        off = (size_t)(nl - buf) + 1;
    }
    tbml_free(buf);
    if (!st && anchor && !anchor_seen)
        st = tbml_error(TBML_E_AUTH,
                        "%s: %llu entries, but the anchor names entry %llu: the log was cut back",
                        path, (unsigned long long)n, anchor_seq);
    if (st) return st;
    *entries = n;
    tbml_hex(prev, 32, head_hex);
    return TBML_OK;
}
