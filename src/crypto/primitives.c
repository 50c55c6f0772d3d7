/* AES-256-GCM, HKDF-SHA256, HMAC/SHA-256, CSPRNG, wiping and Argon2id: thin, checked wrappers
 * over OpenSSL 3 libcrypto and libargon2. The only file that touches EVP for symmetric crypto. */
#include "tbml/crypto.h"

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

tbml_status tbml_random(void *buf, size_t size)
{
    while (size > 0) {
        int n = size > INT_MAX ? INT_MAX : (int)size;
        if (RAND_bytes(buf, n) != 1) return tbml_error(TBML_E_CRYPTO, "the random generator failed");
        buf = (uint8_t *)buf + n;
        size -= (size_t)n;
    }
    return TBML_OK;
}

void tbml_wipe(void *p, size_t size)
{
    if (p && size) OPENSSL_cleanse(p, size);
}

int tbml_ct_equal(const void *a, const void *b, size_t size)
{
    return CRYPTO_memcmp(a, b, size) == 0;
}

void *tbml_secure_alloc(size_t size)
{
    void *p = CRYPTO_secure_malloc_initialized() ? OPENSSL_secure_zalloc(size) : NULL;
    if (!p) p = tbml_calloc(1, size);
    return p;
}

void tbml_secure_free(void *p, size_t size)
{
    if (!p) return;
    if (CRYPTO_secure_allocated(p)) {
        OPENSSL_secure_clear_free(p, size);
    } else {
        OPENSSL_cleanse(p, size);
        tbml_free(p);
    }
}

void tbml_hex(const void *bytes, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = bytes;
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * size] = '\0';
}

/* ---- AES-256-GCM ---------------------------------------------------------------------------- */

struct tbml_aead {
    EVP_CIPHER_CTX *enc, *dec;
};

static EVP_CIPHER *g_aes_gcm; /* fetched once; read-only afterwards */
static pthread_once_t g_aes_gcm_once = PTHREAD_ONCE_INIT;

static void aes_gcm_fetch(void) { g_aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }

static const EVP_CIPHER *aes_gcm(void)
{
    /* Sealed files create contexts from many threads at once; an unsynchronised lazy init
     * would be a data race (and TSan reports it), so fetch exactly once. */
    pthread_once(&g_aes_gcm_once, aes_gcm_fetch);
    return g_aes_gcm;
}

tbml_status tbml_aead_create(const uint8_t key[TBML_AEAD_KEY_SIZE], tbml_aead_t **out)
{
    const EVP_CIPHER *cipher = aes_gcm();
    if (!cipher) return tbml_error(TBML_E_CRYPTO, "AES-256-GCM is not available");
    tbml_aead_t *a = tbml_calloc(1, sizeof(*a));
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    if (!a->enc || !a->dec || EVP_EncryptInit_ex2(a->enc, cipher, key, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(a->dec, cipher, key, NULL, NULL) != 1) {
        tbml_aead_free(a);
        return tbml_error(TBML_E_CRYPTO, "cannot set up AES-256-GCM");
    }
    *out = a;
    return TBML_OK;
}

void tbml_aead_free(tbml_aead_t *a)
{
    if (!a) return;
    EVP_CIPHER_CTX_free(a->enc); /* frees wipe the key schedule */
    EVP_CIPHER_CTX_free(a->dec);
    tbml_free(a);
}

/* EVP takes int lengths: feed large buffers in pieces. */
#define EVP_CHUNK ((size_t)1 << 30)

/* Feeds size bytes of in to a GCM context in EVP_CHUNK pieces: as AAD when out is NULL, else
 * into out. The context's Init (encrypt or decrypt) decides the direction, so sealing and
 * opening share this loop. Returns 0 on any EVP failure. */
static int gcm_update(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t size)
{
    int n;
    for (size_t off = 0; off < size; off += EVP_CHUNK) {
        size_t k = size - off < EVP_CHUNK ? size - off : EVP_CHUNK;
        if (EVP_CipherUpdate(c, out ? out + off : NULL, &n, in + off, (int)k) != 1) return 0;
    }
    return 1;
}

tbml_status tbml_aead_seal_with(tbml_aead_t *a, const uint8_t nonce[12], const void *aad,
                                size_t aad_size, const void *pt, size_t size, void *ct,
                                uint8_t tag[16])
{
    int n;
    if (EVP_EncryptInit_ex2(a->enc, NULL, NULL, nonce, NULL) != 1 ||
        !gcm_update(a->enc, NULL, aad, aad_size) || !gcm_update(a->enc, ct, pt, size))
        goto fail;
    /* GCM's final writes no bytes; avoid NULL + 0 (UB) when an empty message has no buffer. */
    uint8_t dummy[1];
    if (EVP_EncryptFinal_ex(a->enc, ct ? (uint8_t *)ct + size : dummy, &n) != 1) goto fail;
    if (EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) goto fail;
    return TBML_OK;
fail:
    return tbml_error(TBML_E_CRYPTO, "AES-256-GCM encryption failed");
}

tbml_status tbml_aead_open_with(tbml_aead_t *a, const uint8_t nonce[12], const void *aad,
                                size_t aad_size, const void *ct, size_t size, const uint8_t tag[16],
                                void *pt)
{
    int n;
    uint8_t tagcopy[16];
    memcpy(tagcopy, tag, 16);
    if (EVP_DecryptInit_ex2(a->dec, NULL, NULL, nonce, NULL) != 1 ||
        !gcm_update(a->dec, NULL, aad, aad_size) || !gcm_update(a->dec, pt, ct, size))
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, 16, tagcopy) != 1) goto fail;
    if (EVP_DecryptFinal_ex(a->dec, pt ? (uint8_t *)pt + size : tagcopy, &n) != 1) {
        tbml_wipe(pt, size); /* never release unauthenticated plaintext */
        return tbml_error(TBML_E_AUTH, "authentication tag mismatch");
    }
    return TBML_OK;
fail:
    tbml_wipe(pt, size);
    return tbml_error(TBML_E_CRYPTO, "AES-256-GCM decryption failed");
}

tbml_status tbml_aead_seal(const uint8_t key[32], const uint8_t nonce[12], const void *aad,
                           size_t aad_size, const void *pt, size_t size, void *ct, uint8_t tag[16])
{
    tbml_aead_t *a;
    tbml_status st = tbml_aead_create(key, &a);
    if (st) return st;
    st = tbml_aead_seal_with(a, nonce, aad, aad_size, pt, size, ct, tag);
    tbml_aead_free(a);
    return st;
}

tbml_status tbml_aead_open(const uint8_t key[32], const uint8_t nonce[12], const void *aad,
                           size_t aad_size, const void *ct, size_t size, const uint8_t tag[16],
                           void *pt)
{
    tbml_aead_t *a;
    tbml_status st = tbml_aead_create(key, &a);
    if (st) {
        tbml_wipe(pt, size);
        return st;
    }
    st = tbml_aead_open_with(a, nonce, aad, aad_size, ct, size, tag, pt);
    tbml_aead_free(a);
    return st;
}

/* ---- HKDF, HMAC, SHA-256 --------------------------------------------------------------------- */

tbml_status tbml_hkdf_sha256(const void *ikm, size_t ikm_size, const void *salt, size_t salt_size,
                             const void *info, size_t info_size, void *out, size_t out_size)
{
    tbml_status ret = TBML_OK;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_size);
    if (salt_size) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_size);
    if (info_size) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_size);
    *p = OSSL_PARAM_construct_end();
    if (!ctx || EVP_KDF_derive(ctx, out, out_size, params) != 1)
        ret = tbml_error(TBML_E_CRYPTO, "HKDF-SHA256 failed");
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ret;
}

tbml_status tbml_hmac_sha256(const void *key, size_t key_size, const void *msg, size_t size,
                             uint8_t out[32])
{
    unsigned int n = 32;
    if (!HMAC(EVP_sha256(), key, (int)key_size, msg, size, out, &n))
        return tbml_error(TBML_E_CRYPTO, "HMAC-SHA256 failed");
    return TBML_OK;
}

tbml_status tbml_sha256(const void *msg, size_t size, uint8_t out[32])
{
    if (EVP_Digest(msg, size, out, NULL, EVP_sha256(), NULL) != 1)
        return tbml_error(TBML_E_CRYPTO, "SHA-256 failed");
    return TBML_OK;
}

struct tbml_sha256_ctx {
    EVP_MD_CTX *md;
};

tbml_status tbml_sha256_begin(tbml_sha256_ctx_t **out)
{
    tbml_sha256_ctx_t *c = tbml_calloc(1, sizeof(*c));
    c->md = EVP_MD_CTX_new();
    if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
        tbml_sha256_abort(c);
        return tbml_error(TBML_E_CRYPTO, "SHA-256 failed");
    }
    *out = c;
    return TBML_OK;
}

tbml_status tbml_sha256_update(tbml_sha256_ctx_t *c, const void *msg, size_t size)
{
    if (EVP_DigestUpdate(c->md, msg, size) != 1) return tbml_error(TBML_E_CRYPTO, "SHA-256 failed");
    return TBML_OK;
}

tbml_status tbml_sha256_end(tbml_sha256_ctx_t *c, uint8_t out[32])
{
    int ok = EVP_DigestFinal_ex(c->md, out, NULL) == 1;
    tbml_sha256_abort(c);
    return ok ? TBML_OK : tbml_error(TBML_E_CRYPTO, "SHA-256 failed");
}

void tbml_sha256_abort(tbml_sha256_ctx_t *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->md);
    tbml_free(c);
}

/* ---- Argon2id ------------------------------------------------------------------------------- */

tbml_status tbml_pwhash(const char *password, size_t password_size, const uint8_t salt[16],
                        tbml_pwhash_params params, uint8_t *out, size_t out_size)
{
    /* Bounds keep a hostile key file from asking for absurd work or memory. */
    if (params.t_cost < 1 || params.t_cost > 64 || params.m_cost < 8 * params.parallel ||
        params.m_cost > (4u << 20) || params.parallel < 1 || params.parallel > 16)
        return tbml_error(TBML_E_FORMAT, "Argon2id parameters out of range (t=%u m=%u KiB p=%u)",
                          params.t_cost, params.m_cost, params.parallel);
    int rc = argon2id_hash_raw(params.t_cost, params.m_cost, params.parallel, password,
                               password_size, salt, TBML_PWHASH_SALT_SIZE, out, out_size);
    if (rc != ARGON2_OK)
        return tbml_error(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? TBML_E_NOMEM : TBML_E_CRYPTO,
                          "Argon2id failed: %s", argon2_error_message(rc));
    return TBML_OK;
}
