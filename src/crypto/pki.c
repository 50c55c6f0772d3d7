/* RSA keys for enclave signing (3072 bits, e = 3, as SGX requires), PKCS#1 v1.5 / SHA-256
 * signatures and MRSIGNER as SGX computes them, and self-signed TLS credentials (X.509 +
 * PKCS#12) for service endpoints, on OpenSSL 3's EVP and X509 APIs (see include/tbml/pki.h). */
#include "tbml/pki.h"
#include "tbml/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEM_MAX_SIZE (1u << 20) /* far above any RSA-16384 PEM */

struct tbml_rsa {
    EVP_PKEY *pkey;
};

/* The innermost OpenSSL reason, for messages ("bad decrypt"); "" when the queue is empty.
 * Clears the queue so later calls start clean. */
static const char *ossl_reason(char *buf, size_t size)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    buf[0] = '\0';
    if (last) {
        const char *r = ERR_reason_error_string(last);
        snprintf(buf, size, ": %s", r ? r : "unknown OpenSSL error");
    }
    return buf;
}

static tbml_status ossl_error(tbml_status st, const char *what)
{
    char reason[256];
    return tbml_error(st, "%s%s", what, ossl_reason(reason, sizeof(reason)));
}

static tbml_status rsa_wrap(EVP_PKEY *pkey, tbml_rsa_t **out)
{
    tbml_rsa_t *k = tbml_calloc(1, sizeof(*k));
    k->pkey = pkey;
    *out = k;
    return TBML_OK;
}

tbml_status tbml_rsa_generate(unsigned bits, unsigned e, tbml_rsa_t **out)
{
    tbml_status ret = TBML_OK;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_e = NULL;

    if (bits < 2048 || bits > 16384)
        return tbml_error(TBML_E_ARG, "RSA key size %u is out of range (2048..16384 bits)", bits);
    if (e < 3 || (e & 1) == 0)
        return tbml_error(TBML_E_ARG, "RSA public exponent %u must be odd and at least 3", e);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    bn_e = BN_new();
    if (!ctx || !bn_e || !BN_set_word(bn_e, e) || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn_e) != 1 || EVP_PKEY_generate(ctx, &pkey) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "RSA key generation failed");
        goto out;
    }
    ret = rsa_wrap(pkey, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn_e);
    return ret;
}

/* Refuses encrypted PEM instead of letting OpenSSL prompt on the terminal. */
static int no_passphrase(char *pass, size_t size, size_t *len, const OSSL_PARAM params[], void *arg)
{
    (void)pass, (void)size, (void)len, (void)params, (void)arg;
    return 0;
}

tbml_status tbml_rsa_parse_pem(const void *buf, size_t size, const char *name, tbml_rsa_t **out)
{
    tbml_status ret = TBML_OK;
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = NULL;
    const unsigned char *p = buf;
    size_t left = size;

    if (size < 11 || memmem(buf, size, "-----BEGIN ", 11) == NULL) {
        ret = tbml_error(TBML_E_FORMAT, "%s: not a PEM file (no '-----BEGIN ' line)", name);
        goto out;
    }
    /* PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY" or legacy "Proc-Type: 4,ENCRYPTED" */
    if (memmem(buf, size, "-----BEGIN ENCRYPTED", 20) != NULL ||
        memmem(buf, size, "4,ENCRYPTED", 11) != NULL) {
        ret = tbml_error(TBML_E_KEY, "%s: the PEM key is encrypted; tbml reads only plain PEM keys",
                         name);
        goto out;
    }
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA", 0, NULL, NULL);
    if (!dctx || OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot set up a PEM decoder");
        goto out;
    }
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || !pkey) {
        char reason[256];
        ret = tbml_error(TBML_E_KEY, "%s: not an RSA key in PEM%s", name,
                         ossl_reason(reason, sizeof(reason)));
        goto out;
    }
    ret = rsa_wrap(pkey, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    OSSL_DECODER_CTX_free(dctx);
    return ret;
}

tbml_status tbml_rsa_read_pem(const char *path, tbml_rsa_t **out)
{
    uint8_t *buf;
    size_t size;
    tbml_status st = tbml_read_file(path, PEM_MAX_SIZE, &buf, &size);
    if (st) return st;
    st = tbml_rsa_parse_pem(buf, size, path, out);
    tbml_wipe(buf, size); /* a private key */
    tbml_free(buf);
    return st;
}

void tbml_rsa_free(tbml_rsa_t *key)
{
    if (!key) return;
    EVP_PKEY_free(key->pkey); /* clears private components */
    tbml_free(key);
}

size_t tbml_rsa_size(const tbml_rsa_t *key)
{
    return (size_t)EVP_PKEY_get_size(key->pkey);
}

int tbml_rsa_is_private(const tbml_rsa_t *key)
{
    BIGNUM *d = NULL;
    int ok = EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1 && d != NULL;
    BN_clear_free(d);
    ERR_clear_error();
    return ok;
}

uint32_t tbml_rsa_exponent(const tbml_rsa_t *key)
{
    BIGNUM *e = NULL;
    uint32_t v = 0;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && BN_num_bits(e) <= 32)
        v = (uint32_t)BN_get_word(e);
    BN_free(e);
    ERR_clear_error();
    return v;
}

tbml_status tbml_rsa_modulus_le(const tbml_rsa_t *key, uint8_t *out, size_t size)
{
    tbml_status ret = TBML_OK;
    BIGNUM *n = NULL;
    if (size != tbml_rsa_size(key))
        return tbml_error(TBML_E_ARG, "modulus buffer is %zu bytes, the key needs %zu", size,
                          tbml_rsa_size(key));
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        BN_bn2lebinpad(n, out, (int)size) != (int)size)
        ret = ossl_error(TBML_E_CRYPTO, "cannot read the RSA modulus");
    BN_free(n);
    return ret;
}

tbml_status tbml_rsa_from_modulus_le(const uint8_t *modulus_le, size_t size, uint32_t e,
                                     tbml_rsa_t **out)
{
    tbml_status ret = TBML_OK;
    BIGNUM *n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (size < 256 || size > 2048 || size > INT_MAX)
        return tbml_error(TBML_E_ARG, "RSA modulus of %zu bytes is out of range (256..2048)", size);
    n = BN_lebin2bn(modulus_le, (int)size, NULL);
    bn_e = BN_new();
    bld = OSSL_PARAM_BLD_new();
    if (!n || !bn_e || !bld || !BN_set_word(bn_e, e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        ret = ossl_error(TBML_E_KEY, "cannot make an RSA public key from the modulus");
        goto out;
    }
    ret = rsa_wrap(pkey, out);
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(bn_e);
    return ret;
}

tbml_status tbml_rsa_mrsigner(const tbml_rsa_t *key, uint8_t out[TBML_MRSIGNER_SIZE])
{
    size_t size = tbml_rsa_size(key);
    uint8_t *mod = tbml_malloc(size);
    uint8_t digest[TBML_SHA256_SIZE];
    tbml_status st = tbml_rsa_modulus_le(key, mod, size);
    if (!st) st = tbml_sha256(mod, size, digest);
    if (!st) memcpy(out, digest, sizeof(digest));
    tbml_free(mod);
    return st;
}

tbml_status tbml_rsa_sign(const tbml_rsa_t *key, const void *msg, size_t size, uint8_t *sig,
                          size_t sig_size)
{
    tbml_status ret = TBML_OK;
    EVP_MD_CTX *md = NULL;
    size_t len = sig_size;

    if (sig_size != tbml_rsa_size(key))
        return tbml_error(TBML_E_ARG, "signature buffer is %zu bytes, the key needs %zu", sig_size,
                          tbml_rsa_size(key));
    if (!tbml_rsa_is_private(key))
        return tbml_error(TBML_E_KEY, "cannot sign with a public RSA key");
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, NULL) != 1 ||
        EVP_DigestSign(md, sig, &len, msg, size) != 1 || len != sig_size) {
        ret = ossl_error(TBML_E_CRYPTO, "RSA signing failed");
        goto out;
    }
out:
    EVP_MD_CTX_free(md);
    return ret;
}

tbml_status tbml_rsa_verify(const tbml_rsa_t *key, const void *msg, size_t size, const uint8_t *sig,
                            size_t sig_size)
{
    tbml_status ret = TBML_OK;
    EVP_MD_CTX *md = NULL;
    uint32_t e = tbml_rsa_exponent(key);

    /* SGX accepts only e = 3; a key with another exponent cannot be an enclave signer, and
     * refusing it here keeps a look-alike key from passing as one. */
    if (e != TBML_RSA_SGX_EXPONENT)
        return tbml_error(TBML_E_KEY, "RSA public exponent is %u; enclave signatures need e = 3",
                          e);
    if (sig_size != tbml_rsa_size(key))
        return tbml_error(TBML_E_AUTH, "signature is %zu bytes, expected %zu", sig_size,
                          tbml_rsa_size(key));
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, NULL) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot set up RSA verification");
        goto out;
    }
    if (EVP_DigestVerify(md, sig, sig_size, msg, size) != 1) {
        ERR_clear_error();
        ret = tbml_error(TBML_E_AUTH, "RSA signature does not verify");
        goto out;
    }
out:
    EVP_MD_CTX_free(md);
    return ret;
}

tbml_status tbml_rsa_sgx_q1q2(const tbml_rsa_t *key, const uint8_t *sig, size_t sig_size,
                              uint8_t *q1_le, uint8_t *q2_le)
{
    tbml_status ret = TBML_OK;
    size_t size = tbml_rsa_size(key);
    BN_CTX *bctx = BN_CTX_new();
    BIGNUM *n = NULL, *s = BN_new(), *t = BN_new(), *q1 = BN_new(), *r = BN_new(), *q2 = BN_new();

    if (sig_size != size) {
        ret = tbml_error(TBML_E_ARG, "signature is %zu bytes, expected %zu", sig_size, size);
        goto out;
    }
    /* s^3 - q1*s*n = s * (s^2 mod n), so q2 = floor(s * (s^2 mod n) / n); both are < n. */
    if (!bctx || !s || !t || !q1 || !r || !q2 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        !BN_bin2bn(sig, (int)sig_size, s) || !BN_sqr(t, s, bctx) || !BN_div(q1, r, t, n, bctx) ||
        !BN_mul(t, s, r, bctx) || !BN_div(q2, NULL, t, n, bctx) ||
        BN_bn2lebinpad(q1, q1_le, (int)size) != (int)size ||
        BN_bn2lebinpad(q2, q2_le, (int)size) != (int)size) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot compute SIGSTRUCT q1/q2");
        goto out;
    }
out:
    BN_free(n);
    BN_free(s);
    BN_free(t);
    BN_free(q1);
    BN_free(r);
    BN_free(q2);
    BN_CTX_free(bctx);
    return ret;
}

/* ---- writing PEM and friends ------------------------------------------------------------ */

/* Writes the contents of a memory BIO to path through an outfile with the given mode; the
 * outfile is left uncommitted in *pending so several files can be committed together. */
static tbml_status bio_to_outfile(BIO *bio, const char *path, mode_t mode, tbml_outfile_t **pending)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    tbml_outfile_t *f;
    tbml_status st = tbml_outfile_open(path, &f);
    if (st) return st;
    if (len < 0) len = 0;
    if ((st = tbml_outfile_write(f, data, (size_t)len))) goto fail;
    if (fchmod(tbml_outfile_fd(f), mode) != 0) {
        st = tbml_error(TBML_E_IO, "%s: chmod failed: %s", path, strerror(errno));
        goto fail;
    }
    *pending = f;
    return TBML_OK;
fail:
    tbml_outfile_abort(f);
    return st;
}

static tbml_status write_key_pem(const tbml_rsa_t *key, const char *path, int private_half)
{
    tbml_status ret;
    BIO *bio = NULL;
    tbml_outfile_t *f = NULL;

    if ((ret = tbml_refuse_existing(path))) return ret;
    if (private_half && !tbml_rsa_is_private(key))
        return tbml_error(TBML_E_KEY, "%s: the key has no private half to write", path);
    bio = BIO_new(private_half ? BIO_s_secmem() : BIO_s_mem()); /* secmem wipes on free */
    if (!bio || (private_half ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
                              : PEM_write_bio_PUBKEY(bio, key->pkey)) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot encode the key as PEM");
        goto out;
    }
    if ((ret = bio_to_outfile(bio, path, private_half ? 0600 : 0644, &f))) goto out;
    ret = tbml_outfile_commit(f);
out:
    BIO_free(bio);
    return ret;
}

tbml_status tbml_rsa_write_pem(const tbml_rsa_t *key, const char *path)
{
    return write_key_pem(key, path, 1);
}

tbml_status tbml_rsa_write_public_pem(const tbml_rsa_t *key, const char *path)
{
    return write_key_pem(key, path, 0);
}

/* ---- TLS credentials ---------------------------------------------------------------------- */

static tbml_status add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    if (!ext || !X509_add_ext(x, ext, -1)) {
        X509_EXTENSION_free(ext);
        char what[256];
        snprintf(what, sizeof(what), "cannot add certificate extension %s = '%.100s'",
                 OBJ_nid2sn(nid), value);
        return ossl_error(TBML_E_ARG, what);
    }
    X509_EXTENSION_free(ext);
    return TBML_OK;
}

static tbml_status make_cert(EVP_PKEY *pkey, const tbml_tls_params *p, X509 **out)
{
    tbml_status ret = TBML_OK;
    X509 *x = X509_new();
    BIGNUM *serial = NULL;
    uint8_t rnd[16];
    char san[1024];
    const char *cn = p->common_name ? p->common_name : "localhost";
    unsigned days = p->days ? p->days : 365;
    X509V3_CTX v3;

    if (!x) return ossl_error(TBML_E_NOMEM, "cannot allocate a certificate");
    /* a positive random 127-bit serial, as RFC 5280 recommends (unpredictable, <= 20 bytes) */
    if ((ret = tbml_random(rnd, sizeof(rnd)))) goto out;
    rnd[0] &= 0x7f;
    rnd[0] |= 0x40;
    san[0] = '\0';
    if (p->san && p->san_count > 0) {
        size_t used = 0;
        for (size_t i = 0; i < p->san_count; i++) {
            int n = snprintf(san + used, sizeof(san) - used, "%s%s", i ? "," : "", p->san[i]);
            if (n < 0 || (size_t)n >= sizeof(san) - used) {
                ret = tbml_error(TBML_E_ARG, "subject alternative names are longer than %zu bytes",
                                 sizeof(san));
                goto out;
            }
            used += (size_t)n;
        }
    } else {
        snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1");
    }
    X509_NAME *name = X509_get_subject_name(x);
    if (!(serial = BN_bin2bn(rnd, sizeof(rnd), NULL)) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        X509_set_version(x, X509_VERSION_3) != 1 || !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
        X509_set_pubkey(x, pkey) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot fill in the certificate");
        goto out;
    }
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1) {
        ret = ossl_error(TBML_E_ARG, "invalid certificate common name");
        goto out;
    }
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    int is_rsa = EVP_PKEY_is_a(pkey, "RSA");
    if ((ret = add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE")) ||
        (ret = add_ext(x, &v3, NID_key_usage,
                       is_rsa ? "critical,digitalSignature,keyEncipherment"
                              : "critical,digitalSignature")) ||
        (ret = add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth")) ||
        (ret = add_ext(x, &v3, NID_subject_key_identifier, "hash")) ||
        (ret = add_ext(x, &v3, NID_subject_alt_name, san)))
        goto out;
    if (X509_sign(x, pkey, EVP_sha256()) <= 0) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot sign the certificate");
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    BN_free(serial);
    return ret;
}

tbml_status tbml_tls_create(const char *dir, const tbml_tls_params *params,
                            const char *p12_password, size_t p12_password_size)
{
    enum { NFILES = 3 };
    static const char *const names[NFILES] = {TBML_TLS_KEY_FILE, TBML_TLS_CERT_FILE,
                                              TBML_TLS_P12_FILE};
    static const mode_t modes[NFILES] = {0600, 0644, 0600};
    tbml_status ret = TBML_OK;
    char paths[NFILES][4096];
    tbml_outfile_t *pending[NFILES] = {NULL};
    int committed = 0;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    PKCS12 *p12 = NULL;
    BIO *bio[NFILES] = {NULL};
    char *pw = NULL;
    tbml_tls_params defaults = {0};

    if (!params) params = &defaults;
    if (p12_password_size == 0)
        return tbml_error(TBML_E_ARG, "the PKCS#12 bundle needs a password");
    if (params->days > 100 * 366)
        return tbml_error(TBML_E_ARG, "certificate validity of %u days is too long (at most 36600)",
                          params->days);
    for (int i = 0; i < NFILES; i++) {
        int n = snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, names[i]);
        if (n < 0 || (size_t)n >= sizeof(paths[i]))
            return tbml_error(TBML_E_ARG, "%s: path too long", dir);
        if ((ret = tbml_refuse_existing(paths[i]))) return ret;
    }

    if (params->key_type == TBML_TLS_KEY_RSA3072)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    else
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey) {
        ret = ossl_error(TBML_E_CRYPTO, "TLS key generation failed");
        goto out;
    }
    if ((ret = make_cert(pkey, params, &cert))) goto out;

    /* PKCS12_create wants a C string; keep the copy in secure memory. OpenSSL 3's defaults
     * are AES-256-CBC with PBKDF2 for both bags and an HMAC-SHA256 MAC. */
    pw = tbml_secure_alloc(p12_password_size + 1);
    memcpy(pw, p12_password, p12_password_size);
    p12 = PKCS12_create(pw, "tbml", pkey, cert, NULL, NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0);
    if (!p12) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot build the PKCS#12 bundle");
        goto out;
    }
    bio[0] = BIO_new(BIO_s_secmem());
    bio[1] = BIO_new(BIO_s_mem());
    bio[2] = BIO_new(BIO_s_secmem());
    if (!bio[0] || !bio[1] || !bio[2] ||
        PEM_write_bio_PrivateKey(bio[0], pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(bio[1], cert) != 1 || i2d_PKCS12_bio(bio[2], p12) != 1) {
        ret = ossl_error(TBML_E_CRYPTO, "cannot encode the TLS credentials");
        goto out;
    }
    for (int i = 0; i < NFILES; i++)
        if ((ret = bio_to_outfile(bio[i], paths[i], modes[i], &pending[i]))) goto out;
    /* commit all three or none: a later failure removes the files already renamed */
    for (; committed < NFILES; committed++) {
        tbml_outfile_t *f = pending[committed];
        pending[committed] = NULL;
        if ((ret = tbml_outfile_commit(f))) goto out;
    }
out:
    if (ret)
        for (int i = 0; i < committed; i++)
            unlink(paths[i]);
    for (int i = 0; i < NFILES; i++) {
        tbml_outfile_abort(pending[i]);
        BIO_free(bio[i]);
    }
    if (pw) tbml_secure_free(pw, p12_password_size + 1);
    PKCS12_free(p12);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return ret;
}
