/* X25519 + HKDF + AES-256-GCM key wrapping and Ed25519 signatures on OpenSSL 3 (see tbml/ecc.h). */
#include "tbml/ecc.h"

#include "tbml/crypto.h"

#include <openssl/evp.h>
#include <string.h>

tbml_status tbml_x25519_keypair(uint8_t priv[TBML_X25519_SIZE], uint8_t pub[TBML_X25519_SIZE])
{
    tbml_status st = tbml_random(priv, TBML_X25519_SIZE);
    if (st) return st;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, TBML_X25519_SIZE);
    size_t n = TBML_X25519_SIZE;
    if (!k || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != TBML_X25519_SIZE)
        st = tbml_error(TBML_E_CRYPTO, "X25519 key generation failed");
    EVP_PKEY_free(k);
    return st;
}

/* X25519(priv, peer) into shared; an all-zero result (low-order peer point) is refused. */
static tbml_status x25519(const uint8_t priv[32], const uint8_t peer[32], uint8_t shared[32])
{
    tbml_status st = TBML_OK;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
    EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
    size_t n = 32;
    static const uint8_t zero[32];
    if (!k || !p || !c || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, p) != 1 ||
        EVP_PKEY_derive(c, shared, &n) != 1 || n != 32)
        st = tbml_error(TBML_E_KEY, "X25519 key agreement failed (bad public key?)");
    else if (tbml_ct_equal(shared, zero, 32))
        st = tbml_error(TBML_E_KEY, "X25519: the peer's public key is a low-order point");
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
    return st;
}

static tbml_status wrap_keys(const uint8_t shared[32], const uint8_t eph_pub[32],
                             const uint8_t rcpt_pub[32], uint8_t okm[44])
{
    uint8_t salt[64];
    memcpy(salt, eph_pub, 32);
    memcpy(salt + 32, rcpt_pub, 32);
    return tbml_hkdf_sha256(shared, 32, salt, sizeof(salt), TBML_WRAP_INFO, strlen(TBML_WRAP_INFO),
                            okm, 44);
}

tbml_status tbml_x25519_wrap(const uint8_t recipient_pub[32], const void *aad, size_t aad_size,
                             const void *pt, size_t size, uint8_t *out)
{
    uint8_t eph[32], eph_pub[32], shared[32], okm[44];
    tbml_status st = tbml_x25519_keypair(eph, eph_pub);
    if (!st) st = x25519(eph, recipient_pub, shared);
    if (!st) st = wrap_keys(shared, eph_pub, recipient_pub, okm);
    if (!st) st = tbml_aead_seal(okm, okm + 32, aad, aad_size, pt, size, out + 32, out + 32 + size);
    if (!st) memcpy(out, eph_pub, 32);
    tbml_wipe(eph, sizeof(eph));
    tbml_wipe(shared, sizeof(shared));
    tbml_wipe(okm, sizeof(okm));
    return st;
}

tbml_status tbml_x25519_unwrap(const uint8_t priv[32], const uint8_t pub[32], const void *aad,
                               size_t aad_size, const uint8_t *in, size_t in_size, void *pt)
{
    uint8_t shared[32], okm[44];
    if (in_size < TBML_WRAP_OVERHEAD) return tbml_error(TBML_E_AUTH, "wrapped key is truncated");
    size_t size = in_size - TBML_WRAP_OVERHEAD;
    tbml_status st = x25519(priv, in, shared);
    if (st) st = tbml_error(TBML_E_AUTH, "wrapped key: bad ephemeral key");
    if (!st) st = wrap_keys(shared, in, pub, okm);
    if (!st) st = tbml_aead_open(okm, okm + 32, aad, aad_size, in + 32, size, in + 32 + size, pt);
    if (st == TBML_E_AUTH)
        st = tbml_error(TBML_E_AUTH, "wrapped key does not open with this key pair and context");
    tbml_wipe(shared, sizeof(shared));
    tbml_wipe(okm, sizeof(okm));
    return st;
}

tbml_status tbml_ed25519_public(const uint8_t seed[32], uint8_t pub[32])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t n = 32;
    tbml_status st = TBML_OK;
    if (!k || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != 32)
        st = tbml_error(TBML_E_CRYPTO, "Ed25519 key derivation failed");
    EVP_PKEY_free(k);
    return st;
}

tbml_status tbml_ed25519_sign(const uint8_t seed[32], const void *msg, size_t size, uint8_t sig[64])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = 64;
    tbml_status st = TBML_OK;
    if (!k || !c || EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(c, sig, &n, msg, size) != 1 || n != 64)
        st = tbml_error(TBML_E_CRYPTO, "Ed25519 signing failed");
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return st;
}

tbml_status tbml_ed25519_verify(const uint8_t pub[32], const void *msg, size_t size,
                                const uint8_t sig[64])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    tbml_status st = TBML_OK;
    if (!k || !c || EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) != 1)
        st = tbml_error(TBML_E_CRYPTO, "Ed25519 verification could not start");
    else if (EVP_DigestVerify(c, sig, 64, msg, size) != 1)
        st = tbml_error(TBML_E_AUTH, "Ed25519 signature does not verify");
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return st;
}

tbml_status tbml_x25519_shared(const uint8_t priv[32], const uint8_t peer_pub[32], uint8_t shared[32])
{
    return x25519(priv, peer_pub, shared);
}
