/* Job manifests: building one from APP ARGS and the submit options, strict parsing, canonical
 * bytes and the measurement, and re-hashing the trusted files (docs/formats/manifest.md). */
#include "tee_internal.h"

#include "tbml/crypto.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX_SIZE (16u << 20)
#define HASH_CHUNK (1u << 20)

struct tbml_manifest {
    json_t *root;
};

json_t *tee_manifest_json(const tbml_manifest_t *m)
{
    return m->root;
}

/* ---- small helpers ---------------------------------------------------------------------- */

int tee_unhex(const char *hex, uint8_t *out, size_t size)
{
    if (!hex || strlen(hex) != 2 * size) return -1;
    for (size_t i = 0; i < 2 * size; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return -1; /* lower case only: one spelling per hash keeps the bytes canonical */
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

tbml_status tee_hash_fd(int fd, const char *path, uint8_t out[32])
{
    tbml_sha256_ctx_t *c = NULL;
    uint8_t *buf = NULL;
    tbml_status ret = tbml_sha256_begin(&c);
    if (ret) return ret;
    buf = tbml_malloc(HASH_CHUNK);
    for (;;) {
        size_t n;
        if ((ret = tbml_read_some(fd, buf, HASH_CHUNK, path, &n))) goto out;
        if (n == 0) break;
        ret = tbml_sha256_update(c, buf, n);
        if (ret) goto out;
    }
    ret = tbml_sha256_end(c, out);
    c = NULL;
out:
    tbml_sha256_abort(c);
    tbml_free(buf);
    return ret;
}

tbml_status tee_hash_file(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tbml_error(TBML_E_ARG, "%s: not a regular file", path);
    }
    tbml_status ret = tee_hash_fd(fd, path, out);
    close(fd);
    return ret;
}

void tee_buf_add(tee_buf *b, const void *p, size_t n)
{
    if (b->size + n + 1 > b->cap) {
        b->cap = (b->size + n + 1) * 2;
        b->data = tbml_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
    b->data[b->size] = '\0';
}

void tee_buf_str(tee_buf *b, const char *s)
{
    tee_buf_add(b, s, strlen(s));
}

/* ---- RFC 8785 canonical JSON ---------------------------------------------------------------- */

static void canon_string(tee_buf *b, const char *s, size_t n)
{
    tee_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", c);
                esc = tmp;
            }
        }
        if (esc)
            tee_buf_str(b, esc);
        else
            tee_buf_add(b, &s[i], 1);
    }
    tee_buf_add(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

tbml_status tee_canonical_json(const json_t *v, tee_buf *b)
{
    char tmp[32];
    switch (json_typeof(v)) {
    case JSON_NULL:
        tee_buf_str(b, "null");
        return TBML_OK;
    case JSON_TRUE:
        tee_buf_str(b, "true");
        return TBML_OK;
    case JSON_FALSE:
        tee_buf_str(b, "false");
        return TBML_OK;
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        tee_buf_str(b, tmp);
        return TBML_OK;
    case JSON_REAL:
        return tbml_error(TBML_E_FORMAT, "manifest: numbers must be integers");
    case JSON_STRING:
        canon_string(b, json_string_value(v), json_string_length(v));
        return TBML_OK;
    case JSON_ARRAY: {
        tee_buf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) tee_buf_add(b, ",", 1);
            tbml_status st = tee_canonical_json(json_array_get(v, i), b);
            if (st) return st;
        }
        tee_buf_add(b, "]", 1);
        return TBML_OK;
    }
    case JSON_OBJECT: {
        /* Keys are checked to be ASCII, where RFC 8785's UTF-16 order equals byte order. */
        size_t n = json_object_size(v), k = 0;
        const char **keys = tbml_malloc((n + 1) * sizeof(*keys));
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof(*keys), key_cmp);
        tee_buf_add(b, "{", 1);
        tbml_status st = TBML_OK;
        for (size_t i = 0; i < n && !st; i++) {
            for (const char *p = keys[i]; *p; p++)
                if ((unsigned char)*p >= 0x80)
                    st = tbml_error(TBML_E_FORMAT, "manifest: member name '%s' is not ASCII",
                                    keys[i]);
            if (st) break;
            if (i) tee_buf_add(b, ",", 1);
            canon_string(b, keys[i], strlen(keys[i]));
            tee_buf_add(b, ":", 1);
            st = tee_canonical_json(json_object_get(v, keys[i]), b);
        }
        tbml_free(keys);
        if (st) return st;
        tee_buf_add(b, "}", 1);
        return TBML_OK;
    }
    }
    return tbml_error(TBML_E_INTERNAL, "manifest: unknown JSON type");
}

tbml_status tbml_manifest_canonical(const tbml_manifest_t *m, char **out, size_t *out_size)
{
    json_t *copy = json_copy(m->root); /* shallow: only the top-level member list is new */
    if (!copy) return tbml_error(TBML_E_NOMEM, "manifest: out of memory");
    json_object_del(copy, "signature");
    tee_buf b = {0};
    tee_buf_str(&b, TBML_MEASUREMENT_PREFIX);
    tbml_status st = tee_canonical_json(copy, &b);
    json_decref(copy);
    if (st) {
        tbml_free(b.data);
        return st;
    }
    *out = b.data;
    *out_size = b.size;
    return TBML_OK;
}

tbml_status tee_json_sha256(const void *prefix, size_t prefix_size, const json_t *v,
                            uint8_t out[32])
{
    tee_buf b = {0};
    if (prefix_size) tee_buf_add(&b, prefix, prefix_size);
    tbml_status st = tee_canonical_json(v, &b);
    if (!st) st = tbml_sha256(b.data, b.size, out);
    tbml_free(b.data);
    return st;
}

tbml_status tbml_manifest_measure(const tbml_manifest_t *m, uint8_t out[TBML_MEASUREMENT_SIZE])
{
    char *bytes;
    size_t size;
    tbml_status st = tbml_manifest_canonical(m, &bytes, &size);
    if (st) return st;
    st = tbml_sha256(bytes, size, out);
    tbml_free(bytes);
    return st;
}

/* ---- strict validation ------------------------------------------------------------------------
 */

static tbml_status bad(const char *name, const char *member, const char *why)
{
    return tbml_error(TBML_E_FORMAT, "%s: manifest member '%s' %s", name, member, why);
}

/* Every member of obj must be in allowed (NULL-terminated). */
static tbml_status only_members(const json_t *obj, const char *const *allowed, const char *name,
                                const char *where)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return tbml_error(TBML_E_FORMAT,
                              "%s: unknown manifest member '%s%s%s' (this is manifest v%d)", name,
                              where, where[0] ? "." : "", key, TBML_MANIFEST_VERSION);
    }
    return TBML_OK;
}

static int is_abs_string(const json_t *v)
{
    return json_is_string(v) && json_string_value(v)[0] == '/';
}

static int is_hash(const json_t *v)
{
    uint8_t h[32];
    return json_is_string(v) && tee_unhex(json_string_value(v), h, 32) == 0;
}

static int is_int_range(const json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int is_string_map(const json_t *v)
{
    if (!json_is_object(v)) return 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        if (!json_is_string(val) || key[0] == '\0') return 0;
        for (const char *p = key; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '=') return 0;
    }
    return 1;
}

static tbml_status validate(const json_t *r, const char *name)
{
    static const char *const top[] = {"tbml_manifest", "name",    "entrypoint",    "argv",
                                      "cwd",           "env",     "trusted_files", "sealed_inputs",
                                      "outputs",       "limits",  "log_level",     "tee",
                                      "conf",          "receipt", "signature",     NULL};
    static const char *const tf[] = {"path", "sha256", "role", NULL};
    static const char *const si[] = {"path", "sha256", "key", "argv_index", NULL};
    static const char *const lim[] = {"memory_size", "threads", NULL};
    static const char *const tee[] = {"backend", "product_id", "svn", "debug", NULL};
    static const char *const sig[] = {"scheme",   "modulus",   "exponent",
                                      "mrsigner", "signature", NULL};
    tbml_status st;
    if (!json_is_object(r))
        return tbml_error(TBML_E_FORMAT, "%s: a manifest is a JSON object", name);
    if ((st = only_members(r, top, name, ""))) return st;
    json_t *v = json_object_get(r, "tbml_manifest");
    if (!json_is_integer(v)) return bad(name, "tbml_manifest", "is missing: not a tbml manifest");
    if (json_integer_value(v) != TBML_MANIFEST_VERSION)
        return tbml_error(TBML_E_UNSUPPORTED,
                          "%s: manifest version %" JSON_INTEGER_FORMAT " (this tbml reads %d)",
                          name, json_integer_value(v), TBML_MANIFEST_VERSION);
    if (!json_is_string(json_object_get(r, "name"))) return bad(name, "name", "must be a string");
    if (!is_abs_string(json_object_get(r, "entrypoint")))
        return bad(name, "entrypoint", "must be an absolute path");
    if (!is_abs_string(json_object_get(r, "cwd")))
        return bad(name, "cwd", "must be an absolute path");
    v = json_object_get(r, "argv");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(name, "argv", "must be a non-empty array");
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i))) return bad(name, "argv", "must hold strings");
    if (!is_string_map(json_object_get(r, "env")))
        return bad(name, "env", "must map names to strings");
    if (!is_string_map(json_object_get(r, "conf")))
        return bad(name, "conf", "must map names to strings");
    if (!json_is_string(json_object_get(r, "log_level")))
        return bad(name, "log_level", "must be a string");
    tbml_log_level lvl;
    if (tbml_log_level_parse(json_string_value(json_object_get(r, "log_level")), &lvl))
        return bad(name, "log_level", "is not error, warn, info or debug");
    if (!json_is_string(json_object_get(r, "receipt")))
        return bad(name, "receipt", "must be a string (\"\" for none)");
    v = json_object_get(r, "trusted_files");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(name, "trusted_files", "must be a non-empty array");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_object(e)) return bad(name, "trusted_files", "must hold objects");
        if ((st = only_members(e, tf, name, "trusted_files[]"))) return st;
        if (!is_abs_string(json_object_get(e, "path")))
            return bad(name, "trusted_files[].path", "must be an absolute path");
        if (!is_hash(json_object_get(e, "sha256")))
            return bad(name, "trusted_files[].sha256", "must be 64 lower-case hex digits");
        if (!json_is_string(json_object_get(e, "role")))
            return bad(name, "trusted_files[].role", "must be a string");
    }
    v = json_object_get(r, "sealed_inputs");
    if (!json_is_array(v)) return bad(name, "sealed_inputs", "must be an array");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_object(e)) return bad(name, "sealed_inputs", "must hold objects");
        if ((st = only_members(e, si, name, "sealed_inputs[]"))) return st;
        if (!is_abs_string(json_object_get(e, "path")))
            return bad(name, "sealed_inputs[].path", "must be an absolute path");
        if (!is_hash(json_object_get(e, "sha256")))
            return bad(name, "sealed_inputs[].sha256", "must be 64 lower-case hex digits");
        json_t *k = json_object_get(e, "key");
        if (!json_is_string(k) || !tbml_key_name_valid(json_string_value(k)))
            return bad(name, "sealed_inputs[].key", "must be a key name");
        if (!is_int_range(json_object_get(e, "argv_index"), -1,
                          (json_int_t)json_array_size(json_object_get(r, "argv")) - 1))
            return bad(name, "sealed_inputs[].argv_index", "must be -1 or an index into argv");
    }
    v = json_object_get(r, "outputs");
    if (!json_is_array(v)) return bad(name, "outputs", "must be an array");
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!is_abs_string(json_array_get(v, i)))
            return bad(name, "outputs[]", "must be absolute paths");
    v = json_object_get(r, "limits");
    if (!json_is_object(v)) return bad(name, "limits", "must be an object");
    if ((st = only_members(v, lim, name, "limits"))) return st;
    if (!is_int_range(json_object_get(v, "memory_size"), 0, (json_int_t)1 << 53))
        return bad(name, "limits.memory_size", "must be bytes >= 0");
    if (!is_int_range(json_object_get(v, "threads"), 0, 4096))
        return bad(name, "limits.threads", "must be 0..4096");
    v = json_object_get(r, "tee");
    if (!json_is_object(v)) return bad(name, "tee", "must be an object");
    if ((st = only_members(v, tee, name, "tee"))) return st;
    json_t *be = json_object_get(v, "backend");
    if (!json_is_string(be) ||
        (strcmp(json_string_value(be), "none") && strcmp(json_string_value(be), "sim") &&
         strcmp(json_string_value(be), "gramine")))
        return bad(name, "tee.backend", "must be none, sim or gramine");
    if (!is_int_range(json_object_get(v, "product_id"), 0, 65535))
        return bad(name, "tee.product_id", "must be 0..65535");
    if (!is_int_range(json_object_get(v, "svn"), 0, 65535))
        return bad(name, "tee.svn", "must be 0..65535");
    if (!json_is_boolean(json_object_get(v, "debug")))
        return bad(name, "tee.debug", "must be true or false");
    v = json_object_get(r, "signature");
    if (v) {
        if (!json_is_object(v)) return bad(name, "signature", "must be an object");
        if ((st = only_members(v, sig, name, "signature"))) return st;
        for (size_t i = 0; sig[i]; i++) {
            json_t *f = json_object_get(v, sig[i]);
            int want_int = strcmp(sig[i], "exponent") == 0;
            if (!f || (want_int ? !json_is_integer(f) : !json_is_string(f)))
                return bad(name, "signature",
                           "is incomplete or malformed: sign the manifest again");
        }
    }
    return TBML_OK;
}

tbml_status tee_manifest_wrap(json_t *root, const char *name, tbml_manifest_t **out)
{
    tbml_status st = validate(root, name);
    if (st) return st;
    tbml_manifest_t *m = tbml_calloc(1, sizeof(*m));
    m->root = root;
    *out = m;
    return TBML_OK;
}

tbml_status tbml_manifest_parse(const void *buf, size_t size, const char *name,
                                tbml_manifest_t **out)
{
    json_error_t err;
    json_t *r = json_loadb(buf, size, JSON_REJECT_DUPLICATES, &err);
    if (!r) return tbml_error(TBML_E_FORMAT, "%s:%d:%d: %s", name, err.line, err.column, err.text);
    tbml_status st = validate(r, name);
    if (st) {
        json_decref(r);
        return st;
    }
    tbml_manifest_t *m = tbml_calloc(1, sizeof(*m));
    m->root = r;
    *out = m;
    return TBML_OK;
}

tbml_status tbml_manifest_load(const char *path, tbml_manifest_t **out)
{
    uint8_t *buf;
    size_t size;
    tbml_status st = tbml_read_file(path, MANIFEST_MAX_SIZE, &buf, &size);
    if (st) return st;
    st = tbml_manifest_parse(buf, size, path, out);
    tbml_free(buf);
    return st;
}

tbml_status tbml_manifest_write(const tbml_manifest_t *m, const char *path)
{
    char *text = json_dumps(m->root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) return tbml_error(TBML_E_NOMEM, "%s: cannot format the manifest", path);
    tbml_status st = tbml_write_file(path, text, strlen(text), "\n");
    free(text);
    return st;
}

void tbml_manifest_free(tbml_manifest_t *m)
{
    if (!m) return;
    json_decref(m->root);
    tbml_free(m);
}

const char *tbml_manifest_name(const tbml_manifest_t *m)
{
    return json_string_value(json_object_get(m->root, "name"));
}
const char *tbml_manifest_backend(const tbml_manifest_t *m)
{
    return json_string_value(json_object_get(json_object_get(m->root, "tee"), "backend"));
}
int tbml_manifest_product_id(const tbml_manifest_t *m)
{
    return (int)json_integer_value(json_object_get(json_object_get(m->root, "tee"), "product_id"));
}
int tbml_manifest_svn(const tbml_manifest_t *m)
{
    return (int)json_integer_value(json_object_get(json_object_get(m->root, "tee"), "svn"));
}
int tbml_manifest_debug(const tbml_manifest_t *m)
{
    return json_is_true(json_object_get(json_object_get(m->root, "tee"), "debug"));
}
void tee_report_ident(const tbml_manifest_t *m, const uint8_t meas[32], const uint8_t signer[32],
                      tbml_report_t *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->measurement, meas, 32);
    memcpy(out->mrsigner, signer, 32);
    out->product_id = (uint16_t)tbml_manifest_product_id(m);
    out->svn = (uint16_t)tbml_manifest_svn(m);
    out->debug = tbml_manifest_debug(m);
}
const char *tbml_manifest_conf(const tbml_manifest_t *m, const char *key)
{
    return json_string_value(json_object_get(json_object_get(m->root, "conf"), key));
}

/* ---- checking trusted files -------------------------------------------------------------------
 */

static tbml_status check_one(const char *path, const char *want_hex, const char *what)
{
    uint8_t got[32];
    char got_hex[65];
    tbml_status st = tee_hash_file(path, got);
    if (st)
        return tbml_error(TBML_E_POLICY,
                          "%s %s cannot be measured (%s): restore it or rebuild the manifest", what,
                          path, tbml_errmsg());
    tbml_hex(got, 32, got_hex);
    if (strcmp(got_hex, want_hex) != 0)
        return tbml_error(
            TBML_E_POLICY,
            "%s %s changed: sha256 %s, manifest expects %s: restore the file, or rebuild "
            "and re-sign the manifest (the measurement will change)",
            what, path, got_hex, want_hex);
    return TBML_OK;
}

tbml_status tbml_manifest_check_files(const tbml_manifest_t *m)
{
    json_t *tf = json_object_get(m->root, "trusted_files");
    for (size_t i = 0; i < json_array_size(tf); i++) {
        json_t *e = json_array_get(tf, i);
        char what[64];
        snprintf(what, sizeof(what), "trusted file (%s)",
                 json_string_value(json_object_get(e, "role")));
        tbml_status st = check_one(json_string_value(json_object_get(e, "path")),
                                   json_string_value(json_object_get(e, "sha256")), what);
        if (st) return st;
    }
    json_t *si = json_object_get(m->root, "sealed_inputs");
    for (size_t i = 0; i < json_array_size(si); i++) {
        json_t *e = json_array_get(si, i);
        tbml_status st = check_one(json_string_value(json_object_get(e, "path")),
                                   json_string_value(json_object_get(e, "sha256")), "sealed input");
        if (st) return st;
    }
    return TBML_OK;
}
