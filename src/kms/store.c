/* The key service's state at rest: state.json holds applications, policies and keys; every key
 * is AES-256-GCM-wrapped under a key-encryption key derived from the root key (AAD names the
 * application and key, so wrapped keys cannot be moved between entries), and the whole file
 * carries an HMAC-SHA256 under a second derived key, so policies cannot be edited on disk. */
#include "kms/service.h"

#include "tee/tee_internal.h"

#include "tbml/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAX_SIZE (64u << 20)

static tbml_status state_mac(kms_store *s, json_t *root, char hex[65])
{
    json_t *copy = json_copy(root);
    json_object_del(copy, "mac");
    tee_buf b = {0};
    tee_buf_str(&b, "tbml-kms-state-v1\n");
    tbml_status st = tee_canonical_json(copy, &b);
    uint8_t mac[32];
    if (!st) st = tbml_hmac_sha256(s->mac_key, 32, b.data, b.size, mac);
    if (!st) tbml_hex(mac, 32, hex);
    tbml_free(b.data);
    json_decref(copy);
    return st;
}

tbml_status kms_store_open(kms_store *s, const char *dir, const tbml_key_t *root_key)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t size;
    memset(s, 0, sizeof(*s));
    pthread_rwlock_init(&s->lock, NULL);
    s->dir = tbml_strdup(dir);
    tbml_status st = tbml_hkdf_sha256(tbml_key_bytes(root_key), TBML_KEY_SIZE, NULL, 0,
                                      "tbml-kms-kek-v1", 15, s->kek, 32);
    if (!st)
        st = tbml_hkdf_sha256(tbml_key_bytes(root_key), TBML_KEY_SIZE, NULL, 0,
                              "tbml-kms-state-mac-v1", 21, s->mac_key, 32);
    if (st) return st;
    snprintf(path, sizeof(path), "%s/%s", dir, KMS_STATE_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(TBML_E_IO, "%s: %s (run 'tbml kms init' first)", path, strerror(errno));
    st = tbml_read_all(fd, path, STATE_MAX_SIZE, &buf, &size);
    close(fd);
    if (st) return st;
    json_error_t jerr;
    s->root = json_loadb((const char *)buf, size, JSON_REJECT_DUPLICATES, &jerr);
    tbml_free(buf);
    if (!s->root)
        return tbml_error(TBML_E_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    if (json_integer_value(json_object_get(s->root, "tbml_kms_state")) != TBML_KMS_STATE_VERSION ||
        !json_is_object(json_object_get(s->root, "apps")))
        return tbml_error(TBML_E_FORMAT, "%s: not a tbml key service state v%d", path,
                          TBML_KMS_STATE_VERSION);
    char want[65];
    const char *got = json_string_value(json_object_get(s->root, "mac"));
    if ((st = state_mac(s, s->root, want))) return st;
    if (!got || strlen(got) != 64 || !tbml_ct_equal(got, want, 64))
        return tbml_error(
            TBML_E_AUTH,
            "%s: the state's MAC does not verify: it was edited outside the key service "
            "(or belongs to another root key); restore it from a backup",
            path);
    return TBML_OK;
}

tbml_status kms_store_save(kms_store *s)
{
    char path[4096], mac[65];
    tbml_status st = state_mac(s, s->root, mac);
    if (st) return st;
    json_object_set_new(s->root, "mac", json_string(mac));
    snprintf(path, sizeof(path), "%s/%s", s->dir, KMS_STATE_FILE);
    char *text = json_dumps(s->root, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!text) return tbml_error(TBML_E_NOMEM, "%s: cannot format the key service state", path);
    st = tbml_write_file(path, text, strlen(text), NULL);
    free(text);
    return st;
}

void kms_store_close(kms_store *s)
{
    tbml_wipe(s->kek, sizeof(s->kek));
    tbml_wipe(s->mac_key, sizeof(s->mac_key));
    json_decref(s->root);
    tbml_free(s->dir);
    pthread_rwlock_destroy(&s->lock);
    memset(s, 0, sizeof(*s));
}

static void key_aad(const char *app, const char *key, char *out, size_t size)
{
    snprintf(out, size, "tbml-kms-key-v1\n%s\n%s", app, key);
}

tbml_status kms_store_wrap(kms_store *s, const char *app, const char *key, const uint8_t bytes[32],
                           json_t **out)
{
    uint8_t nonce[12], ct[48];
    char aad[300], nh[25], ch[97];
    key_aad(app, key, aad, sizeof(aad));
    tbml_status st = tbml_random(nonce, sizeof(nonce));
    if (!st) st = tbml_aead_seal(s->kek, nonce, aad, strlen(aad), bytes, 32, ct, ct + 32);
    if (st) return st;
    tbml_hex(nonce, 12, nh);
    tbml_hex(ct, 48, ch);
    *out = json_pack("{s:s, s:s}", "nonce", nh, "wrapped", ch);
    return TBML_OK;
}

tbml_status kms_store_unwrap(kms_store *s, const char *app, const char *key, const json_t *w,
                             uint8_t bytes[32])
{
    uint8_t nonce[12], ct[48];
    char aad[300];
    if (tee_unhex(json_string_value(json_object_get(w, "nonce")), nonce, 12) ||
        tee_unhex(json_string_value(json_object_get(w, "wrapped")), ct, 48))
        return tbml_error(TBML_E_FORMAT, "state: key %s/%s is damaged", app, key);
    key_aad(app, key, aad, sizeof(aad));
    tbml_status st = tbml_aead_open(s->kek, nonce, aad, strlen(aad), ct, 32, ct + 32, bytes);
    if (st) return tbml_error(TBML_E_AUTH, "state: key %s/%s does not unwrap", app, key);
    return TBML_OK;
}
