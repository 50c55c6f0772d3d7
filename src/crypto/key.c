/* Named primary keys in secure memory, and password-sealed key files (docs/formats/key-file.md):
 * Argon2id stretches the password into a key-encryption key that seals the 256-bit primary key
 * with AES-256-GCM, the header as AAD, so any edit or a wrong password fails the tag. */
#include "key_format.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tbml_key {
    char name[TBML_KEY_NAME_MAX + 1];
    uint8_t bytes[TBML_KEY_SIZE];
};

int tbml_key_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > TBML_KEY_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static tbml_status key_new(const char *name, tbml_key_t **out)
{
    if (!tbml_key_name_valid(name))
        return tbml_error(TBML_E_ARG, "invalid key name '%.80s': use 1-64 of A-Z a-z 0-9 . _ -", name ? name : "");
    tbml_key_t *k = tbml_secure_alloc(sizeof(*k));
    strcpy(k->name, name);
    *out = k;
    return TBML_OK;
}

tbml_status tbml_key_generate(const char *name, tbml_key_t **out)
{
    tbml_key_t *k;
    tbml_status st = key_new(name, &k);
    if (st) return st;
    if ((st = tbml_random(k->bytes, TBML_KEY_SIZE))) {
        tbml_key_free(k);
        return st;
    }
    *out = k;
    return TBML_OK;
}

tbml_status tbml_key_from_bytes(const char *name, const uint8_t bytes[TBML_KEY_SIZE], tbml_key_t **out)
{
    tbml_key_t *k;
    tbml_status st = key_new(name, &k);
    if (st) return st;
    memcpy(k->bytes, bytes, TBML_KEY_SIZE);
    *out = k;
    return TBML_OK;
}

const char *tbml_key_name(const tbml_key_t *key) { return key->name; }
const uint8_t *tbml_key_bytes(const tbml_key_t *key) { return key->bytes; }
void tbml_key_free(tbml_key_t *key) { tbml_secure_free(key, sizeof(*key)); }

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Serialises the fixed part + name (the AAD) into buf; returns its size. */
static size_t put_header(uint8_t *buf, const char *name, tbml_pwhash_params params,
                         const uint8_t salt[16], const uint8_t nonce[12])
{
    size_t name_size = strlen(name);
    memcpy(buf, KEYFILE_MAGIC, 8);
    put_u16(buf + 8, KEYFILE_VERSION);
    buf[10] = (uint8_t)name_size;
    buf[11] = 0;
    put_u32(buf + 12, params.t_cost);
    put_u32(buf + 16, params.m_cost);
    put_u32(buf + 20, params.parallel);
    memcpy(buf + 24, salt, 16);
    memcpy(buf + 40, nonce, 12);
    memcpy(buf + sizeof(keyfile_fixed), name, name_size);
    return sizeof(keyfile_fixed) + name_size;
}

tbml_status tbml_keyfile_write(const char *path, const tbml_key_t *key, const char *password,
                               size_t password_size, tbml_pwhash_params params)
{
    tbml_status ret;
    uint8_t buf[sizeof(keyfile_fixed) + TBML_KEY_NAME_MAX + TBML_KEY_SIZE + 16];
    uint8_t salt[16], nonce[12];
    uint8_t *kek = tbml_secure_alloc(32);
    tbml_outfile_t *f = NULL;
    struct stat sb;

    if (lstat(path, &sb) == 0) {
        ret = tbml_error(TBML_E_ARG, "%s: already exists; refusing to overwrite a key file", path);
        goto out;
    }
    if ((ret = tbml_random(salt, sizeof(salt))) || (ret = tbml_random(nonce, sizeof(nonce))))
        goto out;
    size_t hsize = put_header(buf, key->name, params, salt, nonce);
    if ((ret = tbml_pwhash(password, password_size, salt, params, kek, 32))) goto out;
    if ((ret = tbml_aead_seal(kek, nonce, buf, hsize, key->bytes, TBML_KEY_SIZE, buf + hsize,
                              buf + hsize + TBML_KEY_SIZE)))
        goto out;
    if ((ret = tbml_outfile_open(path, &f))) goto out;
    if ((ret = tbml_outfile_write(f, buf, hsize + TBML_KEY_SIZE + 16))) goto out;
    ret = tbml_outfile_commit_new(f); /* mkstemp made it 0600; never replaces a key file */
    f = NULL;
out:
    tbml_outfile_abort(f);
    tbml_secure_free(kek, 32);
    return ret;
}

tbml_status tbml_keyfile_parse(const uint8_t *buf, size_t size, const char *name,
                               const char *password, size_t password_size, tbml_key_t **out)
{
    tbml_status ret;
    uint8_t *kek = NULL;
    tbml_key_t *k = NULL;
    char key_name[TBML_KEY_NAME_MAX + 1];

    if (size < 8 || memcmp(buf, KEYFILE_MAGIC, 8) != 0)
        return tbml_error(TBML_E_FORMAT, "%s: not a tbml key file (bad magic at offset 0)", name);
    if (size < sizeof(keyfile_fixed))
        return tbml_error(TBML_E_FORMAT, "%s: truncated key file (%zu bytes)", name, size);
    uint16_t version = get_u16(buf + 8);
    if (version != KEYFILE_VERSION)
        return tbml_error(TBML_E_UNSUPPORTED, "%s: key file version %u is not supported (expected %d)",
                          name, version, KEYFILE_VERSION);
    size_t name_size = buf[10];
    /* checked before the name is copied into its 65-byte buffer (found by fuzz_keyfile) */
    if (name_size < 1 || name_size > TBML_KEY_NAME_MAX)
        return tbml_error(TBML_E_FORMAT, "%s: key name size %zu at offset 10 is out of range (1..%d)",
                          name, name_size, TBML_KEY_NAME_MAX);
    if (size != sizeof(keyfile_fixed) + name_size + TBML_KEY_SIZE + 16)
        return tbml_error(TBML_E_FORMAT, "%s: key file has %zu bytes, expected %zu", name, size,
                          sizeof(keyfile_fixed) + name_size + TBML_KEY_SIZE + 16);
    if (buf[11] != 0) return tbml_error(TBML_E_FORMAT, "%s: reserved byte at offset 11 is not 0", name);
    memcpy(key_name, buf + sizeof(keyfile_fixed), name_size);
    key_name[name_size] = '\0';
    /* An embedded NUL would make the name look shorter than the bytes the tag covers. */
    if (memchr(key_name, '\0', name_size) || !tbml_key_name_valid(key_name))
        return tbml_error(TBML_E_FORMAT, "%s: invalid key name at offset %zu", name, sizeof(keyfile_fixed));
    tbml_pwhash_params params = {get_u32(buf + 12), get_u32(buf + 16), get_u32(buf + 20)};
    size_t hsize = sizeof(keyfile_fixed) + name_size;

    kek = tbml_secure_alloc(32);
    if ((ret = tbml_pwhash(password, password_size, buf + 24, params, kek, 32))) {
        tbml_error_prefix(ret, "%s: ", name);
        goto out;
    }
    if ((ret = key_new(key_name, &k))) goto out;
    ret = tbml_aead_open(kek, buf + 40, buf, hsize, buf + hsize, TBML_KEY_SIZE,
                         buf + hsize + TBML_KEY_SIZE, k->bytes);
    if (ret == TBML_E_AUTH) {
        ret = tbml_error(TBML_E_PASSWORD, "%s: wrong password for key '%s' (or the key file was altered)",
                         name, key_name);
        goto out;
    }
    if (ret) goto out;
    *out = k;
    k = NULL;
out:
    tbml_key_free(k);
    tbml_secure_free(kek, 32);
    return ret;
}

tbml_status tbml_keyfile_read(const char *path, const char *password, size_t password_size,
                              tbml_key_t **out)
{
    uint8_t *buf;
    size_t size;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_KEY : TBML_E_IO, "%s: cannot open key file: %s",
                          path, strerror(errno));
    tbml_status st = tbml_read_all(fd, path, 4096, &buf, &size);
    close(fd);
    if (st) return st;
    st = tbml_keyfile_parse(buf, size, path, password, password_size, out);
    tbml_free(buf);
    return st;
}
