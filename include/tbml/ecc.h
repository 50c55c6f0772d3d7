/* Elliptic-curve pieces on OpenSSL 3: X25519 key agreement with HKDF + AES-256-GCM wrapping (how
 * the key service hands a key to one attested client) and Ed25519 signatures (the simulated
 * quoting key). Only src/crypto/ calls OpenSSL; everything else goes through here.
 *
 * Wrapped format (TBML_WRAP_OVERHEAD = 48 bytes more than the plaintext):
 *   ephemeral X25519 public key (32) || AES-256-GCM ciphertext (size) || tag (16)
 * with key (32) || nonce (12) = HKDF-SHA256(ikm = X25519(eph, recipient), salt = eph_pub ||
 * recipient_pub, info = "tbml-x25519-wrap-v1"), and the caller's AAD authenticated. A fresh
 * ephemeral key per wrap makes the nonce single-use. */
#ifndef TBML_ECC_H
#define TBML_ECC_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_X25519_SIZE 32
#define TBML_ED25519_SEED_SIZE 32
#define TBML_ED25519_PUB_SIZE 32
#define TBML_ED25519_SIG_SIZE 64
#define TBML_WRAP_OVERHEAD 48
#define TBML_WRAP_INFO "tbml-x25519-wrap-v1"

/* A fresh X25519 key pair. priv is secret: wipe it after use. */
TBML_NODISCARD tbml_status tbml_x25519_keypair(uint8_t priv[TBML_X25519_SIZE],
                                               uint8_t pub[TBML_X25519_SIZE]);

/* Wraps size bytes of pt to recipient_pub; writes size + TBML_WRAP_OVERHEAD bytes to out.
 * A low-order recipient key (all-zero shared secret) fails with TBML_E_KEY. */
TBML_NODISCARD tbml_status tbml_x25519_wrap(const uint8_t recipient_pub[TBML_X25519_SIZE],
                                            const void *aad, size_t aad_size, const void *pt,
                                            size_t size, uint8_t *out);
/* Unwraps in (in_size >= TBML_WRAP_OVERHEAD) with the recipient's key pair into pt
 * (in_size - TBML_WRAP_OVERHEAD bytes). Any damage or a wrong key or AAD: TBML_E_AUTH, pt wiped. */
TBML_NODISCARD tbml_status tbml_x25519_unwrap(const uint8_t priv[TBML_X25519_SIZE],
                                              const uint8_t pub[TBML_X25519_SIZE], const void *aad,
                                              size_t aad_size, const uint8_t *in, size_t in_size,
                                              void *pt);

/* Ed25519 (RFC 8032) from a 32-byte seed. */
TBML_NODISCARD tbml_status tbml_ed25519_public(const uint8_t seed[TBML_ED25519_SEED_SIZE],
                                               uint8_t pub[TBML_ED25519_PUB_SIZE]);
TBML_NODISCARD tbml_status tbml_ed25519_sign(const uint8_t seed[TBML_ED25519_SEED_SIZE],
                                             const void *msg, size_t size,
                                             uint8_t sig[TBML_ED25519_SIG_SIZE]);
/* TBML_E_AUTH when the signature does not verify. */
TBML_NODISCARD tbml_status tbml_ed25519_verify(const uint8_t pub[TBML_ED25519_PUB_SIZE],
                                               const void *msg, size_t size,
                                               const uint8_t sig[TBML_ED25519_SIG_SIZE]);

/* Raw X25519 agreement (for protocols that run their own key schedule, e.g. src/dist's channel):
 * shared = X25519(priv, peer_pub). A low-order peer key (all-zero result) fails with TBML_E_KEY.
 * shared is secret: wipe it after use. */
TBML_NODISCARD tbml_status tbml_x25519_shared(const uint8_t priv[TBML_X25519_SIZE],
                                              const uint8_t peer_pub[TBML_X25519_SIZE],
                                              uint8_t shared[TBML_X25519_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
