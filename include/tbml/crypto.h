/* Crypto primitives on OpenSSL 3 libcrypto: AES-256-GCM, HKDF-SHA256, SHA-256, the CSPRNG,
 * constant-time compare, wiping, and the Argon2id password KDF (Debian's libargon2).
 * Only src/crypto/ calls OpenSSL's primitives; everything else goes through here.
 *
 * None of these allocate except tbml_secure_alloc. AEAD calls take caller buffers. */
#ifndef TBML_CRYPTO_H
#define TBML_CRYPTO_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_AEAD_KEY_SIZE 32
#define TBML_AEAD_NONCE_SIZE 12
#define TBML_AEAD_TAG_SIZE 16
#define TBML_SHA256_SIZE 32

/* Fills buf with size bytes from OpenSSL's CSPRNG. Fails only if the RNG is unusable. */
TBML_NODISCARD tbml_status tbml_random(void *buf, size_t size);

/* AES-256-GCM. ct may equal pt (in place). Writes size bytes of ct and a 16-byte tag. */
TBML_NODISCARD tbml_status tbml_aead_seal(const uint8_t key[TBML_AEAD_KEY_SIZE],
                                          const uint8_t nonce[TBML_AEAD_NONCE_SIZE],
                                          const void *aad, size_t aad_size, const void *pt,
                                          size_t size, void *ct, uint8_t tag[TBML_AEAD_TAG_SIZE]);

/* Opens a seal. On a tag mismatch returns TBML_E_AUTH and wipes pt (all size bytes), so no
 * unauthenticated plaintext is ever handed out. pt may equal ct. */
TBML_NODISCARD tbml_status tbml_aead_open(const uint8_t key[TBML_AEAD_KEY_SIZE],
                                          const uint8_t nonce[TBML_AEAD_NONCE_SIZE],
                                          const void *aad, size_t aad_size, const void *ct,
                                          size_t size, const uint8_t tag[TBML_AEAD_TAG_SIZE],
                                          void *pt);

/* A reusable AES-256-GCM context for many segments under one key: avoids re-expanding the key
 * schedule per call. One thread at a time. */
typedef struct tbml_aead tbml_aead_t;
TBML_NODISCARD tbml_status tbml_aead_create(const uint8_t key[TBML_AEAD_KEY_SIZE], tbml_aead_t **out);
void tbml_aead_free(tbml_aead_t *a);
TBML_NODISCARD tbml_status tbml_aead_seal_with(tbml_aead_t *a, const uint8_t nonce[12],
                                               const void *aad, size_t aad_size, const void *pt,
                                               size_t size, void *ct, uint8_t tag[16]);
TBML_NODISCARD tbml_status tbml_aead_open_with(tbml_aead_t *a, const uint8_t nonce[12],
                                               const void *aad, size_t aad_size, const void *ct,
                                               size_t size, const uint8_t tag[16], void *pt);

/* HKDF-SHA256 (RFC 5869): extract with salt (may be NULL/0), expand with info to out_size bytes. */
TBML_NODISCARD tbml_status tbml_hkdf_sha256(const void *ikm, size_t ikm_size, const void *salt,
                                            size_t salt_size, const void *info, size_t info_size,
                                            void *out, size_t out_size);

/* HMAC-SHA256 */
TBML_NODISCARD tbml_status tbml_hmac_sha256(const void *key, size_t key_size, const void *msg,
                                            size_t size, uint8_t out[TBML_SHA256_SIZE]);

/* SHA-256, one shot and incremental. */
TBML_NODISCARD tbml_status tbml_sha256(const void *msg, size_t size, uint8_t out[TBML_SHA256_SIZE]);
typedef struct tbml_sha256_ctx tbml_sha256_ctx_t;
TBML_NODISCARD tbml_status tbml_sha256_begin(tbml_sha256_ctx_t **out);
TBML_NODISCARD tbml_status tbml_sha256_update(tbml_sha256_ctx_t *c, const void *msg, size_t size);
/* Writes the digest and frees c. */
TBML_NODISCARD tbml_status tbml_sha256_end(tbml_sha256_ctx_t *c, uint8_t out[TBML_SHA256_SIZE]);
void tbml_sha256_abort(tbml_sha256_ctx_t *c);
/* Lower-case hex of size bytes into out (2*size+1 bytes). */
void tbml_hex(const void *bytes, size_t size, char *out);

/* Constant-time equality of two buffers of equal size: 1 if equal, else 0. */
int tbml_ct_equal(const void *a, const void *b, size_t size);

/* Wipes size bytes in a way the compiler cannot drop (OPENSSL_cleanse). */
void tbml_wipe(void *p, size_t size);

/* Secret memory: from OpenSSL's secure heap (locked, not swapped) when it is initialised, else
 * the normal heap. Zeroed on alloc and wiped on free. Never NULL (aborts on exhaustion). */
void *tbml_secure_alloc(size_t size);
void tbml_secure_free(void *p, size_t size);

/* Argon2id password hashing for key files. Parameters are stored in the key file so they can be
 * raised later without breaking old files. Defaults: t=3, m=64 MiB, p=1 (RFC 9106's second
 * recommended option). */
typedef struct {
    uint32_t t_cost;   /* iterations */
    uint32_t m_cost;   /* memory in KiB */
    uint32_t parallel; /* lanes */
} tbml_pwhash_params;

#define TBML_PWHASH_DEFAULT ((tbml_pwhash_params){3, 65536, 1})
#define TBML_PWHASH_SALT_SIZE 16

TBML_NODISCARD tbml_status tbml_pwhash(const char *password, size_t password_size,
                                       const uint8_t salt[TBML_PWHASH_SALT_SIZE],
                                       tbml_pwhash_params params, uint8_t *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
