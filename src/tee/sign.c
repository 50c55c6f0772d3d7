/* Signing a manifest with the enclave key (RSA-3072, e = 3, PKCS#1 v1.5 / SHA-256, as SGX's
 * SIGSTRUCT is signed) and checking that signature at launch. The signature member carries the
 * modulus little-endian, as SIGSTRUCT does, so MRSIGNER can be recomputed from the manifest alone.
 */
#include "tee_internal.h"

#include "tbml/crypto.h"
#include "tbml/pki.h"

#include <string.h>

#define SIG_SCHEME "rsa3072-e3-pkcs1v15-sha256"

/* The bytes the enclave key signs over: the prefix line and the measurement. */
static void sigstruct(const uint8_t meas[32], uint8_t *out, size_t *size)
{
    size_t n = strlen(TBML_SIGSTRUCT_PREFIX);
    memcpy(out, TBML_SIGSTRUCT_PREFIX, n);
    memcpy(out + n, meas, 32);
    *size = n + 32;
}

tbml_status tbml_manifest_sign(tbml_manifest_t *m, const char *key_pem_path)
{
    tbml_status st;
    tbml_rsa_t *key = NULL;
    uint8_t meas[32], msg[64], sig[TBML_RSA3072_SIZE], mod[TBML_RSA3072_SIZE], mrsigner[32];
    char mod_hex[2 * TBML_RSA3072_SIZE + 1], sig_hex[2 * TBML_RSA3072_SIZE + 1], signer_hex[65];
    size_t msg_size;
    if ((st = tbml_rsa_read_pem(key_pem_path, &key))) return st;
    if (!tbml_rsa_is_private(key)) {
        st = tbml_error(TBML_E_KEY, "%s: a public key cannot sign: give the enclave private key",
                        key_pem_path);
        goto out;
    }
    if (tbml_rsa_size(key) != TBML_RSA3072_SIZE ||
        tbml_rsa_exponent(key) != TBML_RSA_SGX_EXPONENT) {
        st = tbml_error(TBML_E_KEY,
                        "%s: the enclave key must be RSA-3072 with exponent 3 (make one with "
                        "'tbml keygen enclave --out FILE.pem')",
                        key_pem_path);
        goto out;
    }
    if ((st = tbml_manifest_measure(m, meas))) goto out;
    sigstruct(meas, msg, &msg_size);
    if ((st = tbml_rsa_sign(key, msg, msg_size, sig, sizeof(sig)))) goto out;
    if ((st = tbml_rsa_modulus_le(key, mod, sizeof(mod)))) goto out;
    if ((st = tbml_rsa_mrsigner(key, mrsigner))) goto out;
    tbml_hex(mod, sizeof(mod), mod_hex);
    tbml_hex(sig, sizeof(sig), sig_hex);
    tbml_hex(mrsigner, 32, signer_hex);
    json_object_set_new(tee_manifest_json(m), "signature",
                        json_pack("{s:s, s:s, s:i, s:s, s:s}", "scheme", SIG_SCHEME, "modulus",
                                  mod_hex, "exponent", TBML_RSA_SGX_EXPONENT, "mrsigner",
                                  signer_hex, "signature", sig_hex));
out:
    tbml_rsa_free(key);
    return st;
}

tbml_status tbml_manifest_verify(const tbml_manifest_t *m,
                                 uint8_t measurement[TBML_MEASUREMENT_SIZE],
                                 uint8_t mrsigner[TBML_MEASUREMENT_SIZE])
{
    tbml_status st;
    tbml_rsa_t *key = NULL;
    uint8_t meas[32], msg[64], sig[TBML_RSA3072_SIZE], mod[TBML_RSA3072_SIZE], signer[32],
        claimed[32];
    size_t msg_size;
    json_t *s = json_object_get(tee_manifest_json(m), "signature");
    if (!s)
        return tbml_error(TBML_E_POLICY,
                          "the manifest is not signed: run 'tbml sign --key enclave-key.pem FILE'");
    const char *scheme = json_string_value(json_object_get(s, "scheme"));
    if (!scheme || strcmp(scheme, SIG_SCHEME) != 0)
        return tbml_error(TBML_E_POLICY, "signature scheme '%s' is not %s: sign the manifest again",
                          scheme ? scheme : "?", SIG_SCHEME);
    json_t *e = json_object_get(s, "exponent");
    if (!json_is_integer(e) || json_integer_value(e) != TBML_RSA_SGX_EXPONENT)
        return tbml_error(TBML_E_POLICY,
                          "the signing key's exponent is not 3, as SGX requires: sign with an "
                          "RSA-3072 e=3 key ('tbml keygen enclave')");
    if (tee_unhex(json_string_value(json_object_get(s, "modulus")), mod, sizeof(mod)) ||
        tee_unhex(json_string_value(json_object_get(s, "signature")), sig, sizeof(sig)) ||
        tee_unhex(json_string_value(json_object_get(s, "mrsigner")), claimed, 32))
        return tbml_error(
            TBML_E_POLICY,
            "the signature is not an RSA-3072 signature in hex: sign the manifest again");
    if ((st = tbml_rsa_from_modulus_le(mod, sizeof(mod), TBML_RSA_SGX_EXPONENT, &key))) return st;
    if ((st = tbml_rsa_mrsigner(key, signer))) goto out;
    if (!tbml_ct_equal(signer, claimed, 32)) {
        st = tbml_error(TBML_E_POLICY,
                        "signature.mrsigner does not match the modulus: sign the manifest again");
        goto out;
    }
    if ((st = tbml_manifest_measure(m, meas))) goto out;
    sigstruct(meas, msg, &msg_size);
    st = tbml_rsa_verify(key, msg, msg_size, sig, sizeof(sig));
    if (st) {
        st = tbml_error(TBML_E_POLICY,
                        "the signature does not match the manifest (changed after signing?): "
                        "check what changed, then sign it again with the enclave key");
        goto out;
    }
    if (measurement) memcpy(measurement, meas, 32);
    if (mrsigner) memcpy(mrsigner, signer, 32);
out:
    tbml_rsa_free(key);
    return st;
}
