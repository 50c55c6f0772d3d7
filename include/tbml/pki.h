/* Public-key pieces on OpenSSL 3: RSA keys in the shape SGX wants for enclave signing
 * (3072 bits, public exponent 3), RSASSA-PKCS1-v1_5/SHA-256 signatures as SIGSTRUCT carries,
 * MRSIGNER, and self-signed X.509 certificates with PKCS#12 bundles for service endpoints.
 * Only src/crypto/ calls OpenSSL; the trusted runtime (src/tee) and the tool go through here.
 *
 * Byte order: OpenSSL and PKCS#1 use big-endian integers; SGX stores the modulus, signature
 * and the q1/q2 helper values little-endian. Each function below says which it takes. */
#ifndef TBML_PKI_H
#define TBML_PKI_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_RSA3072_SIZE 384 /* bytes in a 3072-bit modulus or signature */
#define TBML_RSA_SGX_EXPONENT 3u
#define TBML_MRSIGNER_SIZE 32

/* An RSA key, private (can sign) or public only. Opaque; free with tbml_rsa_free (NULL ok). */
typedef struct tbml_rsa tbml_rsa_t;

/* Generates a new private key of bits bits (2048..16384) and public exponent e (odd, >= 3).
 * The enclave signing key is tbml_rsa_generate(3072, 3, &k). Fails with TBML_E_CRYPTO. */
TBML_NODISCARD tbml_status tbml_rsa_generate(unsigned bits, unsigned e, tbml_rsa_t **out);

/* Reads a PEM key (PKCS#8 or PKCS#1 private key, or a SubjectPublicKeyInfo / PKCS#1 public
 * key) from path. Encrypted PEM is refused (TBML_E_KEY). Not RSA: TBML_E_KEY. Missing file:
 * TBML_E_NOTFOUND. Messages name the path. */
TBML_NODISCARD tbml_status tbml_rsa_read_pem(const char *path, tbml_rsa_t **out);
/* The same on bytes in memory; name is used in messages. */
TBML_NODISCARD tbml_status tbml_rsa_parse_pem(const void *buf, size_t size, const char *name,
                                              tbml_rsa_t **out);

/* Writes the private key as unencrypted PKCS#8 PEM, mode 0600, through a temporary file and
 * rename. Refuses to overwrite (TBML_E_ARG) and refuses a public-only key (TBML_E_KEY). */
TBML_NODISCARD tbml_status tbml_rsa_write_pem(const tbml_rsa_t *key, const char *path);
/* Writes the public key as SubjectPublicKeyInfo PEM (mode 0644), same rules. */
TBML_NODISCARD tbml_status tbml_rsa_write_public_pem(const tbml_rsa_t *key, const char *path);

/* A public key from a little-endian modulus (as in SIGSTRUCT) and an exponent. */
TBML_NODISCARD tbml_status tbml_rsa_from_modulus_le(const uint8_t *modulus_le, size_t size,
                                                    uint32_t e, tbml_rsa_t **out);

void tbml_rsa_free(tbml_rsa_t *key);

/* Modulus size in bytes (384 for RSA-3072). */
size_t tbml_rsa_size(const tbml_rsa_t *key);
/* 1 if the key holds the private half. */
int tbml_rsa_is_private(const tbml_rsa_t *key);
/* The public exponent, or 0 if it does not fit 32 bits. */
uint32_t tbml_rsa_exponent(const tbml_rsa_t *key);
/* Writes the modulus into out (exactly tbml_rsa_size(key) bytes), little-endian as SGX's
 * SIGSTRUCT.MODULUS holds it. Fails with TBML_E_ARG if size differs. */
TBML_NODISCARD tbml_status tbml_rsa_modulus_le(const tbml_rsa_t *key, uint8_t *out, size_t size);

/* MRSIGNER as SGX defines it: SHA-256 of the modulus in its little-endian byte order (the
 * SIGSTRUCT.MODULUS field, tbml_rsa_size(key) bytes). */
TBML_NODISCARD tbml_status tbml_rsa_mrsigner(const tbml_rsa_t *key,
                                             uint8_t out[TBML_MRSIGNER_SIZE]);

/* RSASSA-PKCS1-v1_5 with SHA-256 over msg (what SGX signs over the SIGSTRUCT header and body).
 * Writes sig_size == tbml_rsa_size(key) bytes, big-endian (PKCS#1); SIGSTRUCT.SIGNATURE holds
 * them reversed. Needs a private key (TBML_E_KEY otherwise). Any exponent is accepted for
 * signing so tests can make keys that verify must refuse. */
TBML_NODISCARD tbml_status tbml_rsa_sign(const tbml_rsa_t *key, const void *msg, size_t size,
                                         uint8_t *sig, size_t sig_size);

/* Verifies a big-endian RSASSA-PKCS1-v1_5/SHA-256 signature. Refuses any key whose public
 * exponent is not 3 (TBML_E_KEY), as SGX does. A wrong signature, message or key, or a
 * sig_size other than the modulus size, gives TBML_E_AUTH. */
TBML_NODISCARD tbml_status tbml_rsa_verify(const tbml_rsa_t *key, const void *msg, size_t size,
                                           const uint8_t *sig, size_t sig_size);

/* SIGSTRUCT's helper values for a big-endian signature sig of key's size:
 * q1 = floor(s^2 / n), q2 = floor((s^3 - q1 * s * n) / n), both written little-endian into
 * q1_le and q2_le (tbml_rsa_size(key) bytes each). */
TBML_NODISCARD tbml_status tbml_rsa_sgx_q1q2(const tbml_rsa_t *key, const uint8_t *sig,
                                             size_t sig_size, uint8_t *q1_le, uint8_t *q2_le);

/* ---- TLS endpoint credentials ------------------------------------------------------------- */

typedef enum {
    TBML_TLS_KEY_EC_P256 = 0, /* default: small and fast */
    TBML_TLS_KEY_RSA3072 = 1,
} tbml_tls_key_type;

typedef struct {
    tbml_tls_key_type key_type;
    const char *common_name; /* NULL: "localhost" */
    unsigned days;           /* validity from now; 0: 365 */
    /* Subject alternative names, "DNS:name" or "IP:addr" each; NULL: DNS:localhost and
     * IP:127.0.0.1. */
    const char *const *san;
    size_t san_count;
} tbml_tls_params;

/* The file names tbml_tls_create writes inside its folder. */
#define TBML_TLS_KEY_FILE "key.pem"    /* PKCS#8 private key, unencrypted, 0600 */
#define TBML_TLS_CERT_FILE "cert.pem"  /* self-signed X.509 v3 certificate, 0644 */
#define TBML_TLS_P12_FILE "bundle.p12" /* PKCS#12 of both, AES-256 + PBKDF2, 0600 */

/* Makes a key and a self-signed certificate (serial from the CSPRNG, SHA-256, basic
 * constraints CA:FALSE, key usage digitalSignature (+ keyEncipherment for RSA), extended key
 * usage serverAuth + clientAuth, the SANs) and writes the three files into dir, which must
 * exist. The PKCS#12 is sealed under p12_password (p12_password_size > 0). Refuses to
 * overwrite any of the three (TBML_E_ARG, nothing written); on failure no file is left. */
TBML_NODISCARD tbml_status tbml_tls_create(const char *dir, const tbml_tls_params *params,
                                           const char *p12_password, size_t p12_password_size);

#ifdef __cplusplus
}
#endif
#endif
