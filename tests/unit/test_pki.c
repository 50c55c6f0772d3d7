/* pki: RSA-3072 e = 3 keys, PKCS#1 v1.5 / SHA-256 sign and verify (refusing e != 3 and any
 * damage), MRSIGNER against the openssl tool's modulus, SIGSTRUCT q1/q2 against their
 * definition, PEM round trips, and TLS credentials checked with the openssl tool. */
#include "check.h"
#include "tbml/pki.h"

#include <openssl/bn.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", g_dir, name);
}

/* Runs cmd with popen and returns its first output line (newline dropped) in out. */
static int run_line(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    out[0] = '\0';
    if (!fgets(out, (int)size, p)) out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return pclose(p);
}

static int unhex_any(const char *hex, uint8_t *out, size_t max)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

/* MRSIGNER computed without tbml_rsa_*: `openssl rsa -modulus` prints the big-endian modulus
 * in hex; SGX hashes its little-endian bytes. */
static void check_mrsigner(const tbml_rsa_t *key, const char *pem_path)
{
    char cmd[512], line[2048];
    uint8_t mod_be[512], mod_le[512], want[32], got[32];
    snprintf(cmd, sizeof(cmd), "openssl rsa -in '%s' -noout -modulus 2>/dev/null", pem_path);
    CHECK(run_line(cmd, line, sizeof(line)) == 0);
    CHECK(strncmp(line, "Modulus=", 8) == 0);
    int n = unhex_any(line + 8, mod_be, sizeof(mod_be));
    CHECK(n == TBML_RSA3072_SIZE);
    if (n != TBML_RSA3072_SIZE) return;
    for (int i = 0; i < n; i++)
        mod_le[i] = mod_be[n - 1 - i];
    CHECK_OK(tbml_sha256(mod_le, (size_t)n, want));
    CHECK_OK(tbml_rsa_mrsigner(key, got));
    CHECK(memcmp(got, want, 32) == 0);
    /* and not the hash of the big-endian bytes */
    CHECK_OK(tbml_sha256(mod_be, (size_t)n, want));
    CHECK(memcmp(got, want, 32) != 0);

    uint8_t le[TBML_RSA3072_SIZE];
    CHECK_OK(tbml_rsa_modulus_le(key, le, sizeof(le)));
    CHECK(memcmp(le, mod_le, sizeof(le)) == 0);
    CHECK_ST(tbml_rsa_modulus_le(key, le, sizeof(le) - 1), TBML_E_ARG);
}

/* Verifies sig with the openssl tool, so tbml_rsa_sign is not only checked by its own twin. */
static void check_openssl_verifies(const char *pub_path, const uint8_t *msg, size_t size,
                                   const uint8_t *sig, size_t sig_size)
{
    char mpath[512], spath[512], cmd[2048], line[256];
    path_in(mpath, sizeof(mpath), "msg.bin");
    path_in(spath, sizeof(spath), "sig.bin");
    FILE *f = fopen(mpath, "wb");
    fwrite(msg, 1, size, f);
    fclose(f);
    f = fopen(spath, "wb");
    fwrite(sig, 1, sig_size, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -verify '%s' -signature '%s' '%s' 2>&1",
             pub_path, spath, mpath);
    CHECK(run_line(cmd, line, sizeof(line)) == 0);
    CHECK(strcmp(line, "Verified OK") == 0);
}

static void check_q1q2(const tbml_rsa_t *key, const uint8_t *sig)
{
    uint8_t q1[TBML_RSA3072_SIZE], q2[TBML_RSA3072_SIZE], mod[TBML_RSA3072_SIZE];
    CHECK_OK(tbml_rsa_sgx_q1q2(key, sig, TBML_RSA3072_SIZE, q1, q2));
    CHECK_OK(tbml_rsa_modulus_le(key, mod, sizeof(mod)));
    /* definition check: q1*n <= s^2 < (q1+1)*n and q2*n <= s^3 - q1*s*n < (q2+1)*n */
    BN_CTX *c = BN_CTX_new();
    BIGNUM *s = BN_bin2bn(sig, TBML_RSA3072_SIZE, NULL), *n = BN_lebin2bn(mod, sizeof(mod), NULL);
    BIGNUM *a = BN_lebin2bn(q1, sizeof(q1), NULL), *b = BN_lebin2bn(q2, sizeof(q2), NULL);
    BIGNUM *s2 = BN_new(), *s3 = BN_new(), *t = BN_new(), *r = BN_new();
    BN_sqr(s2, s, c);
    BN_mul(t, a, n, c);
    BN_sub(r, s2, t); /* s^2 - q1*n in [0, n) */
    CHECK(!BN_is_negative(r) && BN_cmp(r, n) < 0);
    BN_mul(s3, s2, s, c);
    BN_mul(t, a, s, c);
    BN_mul(t, t, n, c);
    BN_sub(s3, s3, t); /* s^3 - q1*s*n */
    BN_mul(t, b, n, c);
    BN_sub(r, s3, t);
    CHECK(!BN_is_negative(r) && BN_cmp(r, n) < 0);
    BN_free(s), BN_free(n), BN_free(a), BN_free(b), BN_free(s2), BN_free(s3), BN_free(t),
        BN_free(r);
    BN_CTX_free(c);
}

static void test_rsa(void)
{
    tbml_rsa_t *key = NULL, *e65537 = NULL, *pub = NULL, *reread = NULL, *from_mod = NULL;
    char pem[512], pubpem[512], pem65537[512];
    uint8_t sig[TBML_RSA3072_SIZE], sig2[TBML_RSA3072_SIZE], mod[TBML_RSA3072_SIZE];
    const char msg[] = "SIGSTRUCT header and body stand-in";

    CHECK_OK(tbml_rsa_generate(3072, 3, &key));
    if (!key) return;
    CHECK(tbml_rsa_size(key) == TBML_RSA3072_SIZE);
    CHECK(tbml_rsa_exponent(key) == 3);
    CHECK(tbml_rsa_is_private(key));

    path_in(pem, sizeof(pem), "enclave.pem");
    path_in(pubpem, sizeof(pubpem), "enclave.pub.pem");
    CHECK_OK(tbml_rsa_write_pem(key, pem));
    CHECK_OK(tbml_rsa_write_public_pem(key, pubpem));
    struct stat sb;
    CHECK(stat(pem, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_ST(tbml_rsa_write_pem(key, pem), TBML_E_ARG); /* no overwrite */
    CHECK(strstr(tbml_errmsg(), pem) != NULL);

    /* the openssl tool reads it as an RSA key with e = 3 */
    char cmd[1024], line[512];
    snprintf(cmd, sizeof(cmd),
             "openssl rsa -in '%s' -noout -text 2>/dev/null | grep -i '^publicExponent'", pem);
    CHECK(run_line(cmd, line, sizeof(line)) == 0);
    CHECK(strstr(line, "3 (0x3)") != NULL);
    snprintf(cmd, sizeof(cmd), "openssl rsa -in '%s' -noout -text 2>/dev/null | head -1", pem);
    CHECK(run_line(cmd, line, sizeof(line)) == 0);
    CHECK(strstr(line, "3072 bit") != NULL);

    check_mrsigner(key, pem);

    CHECK_OK(tbml_rsa_sign(key, msg, sizeof(msg), sig, sizeof(sig)));
    CHECK_OK(tbml_rsa_verify(key, msg, sizeof(msg), sig, sizeof(sig)));
    check_openssl_verifies(pubpem, (const uint8_t *)msg, sizeof(msg), sig, sizeof(sig));
    check_q1q2(key, sig);
    /* PKCS#1 v1.5 is deterministic: same message, same signature */
    CHECK_OK(tbml_rsa_sign(key, msg, sizeof(msg), sig2, sizeof(sig2)));
    CHECK(memcmp(sig, sig2, sizeof(sig)) == 0);

    /* a public key read back from PEM, and one rebuilt from the SIGSTRUCT-style modulus,
     * both verify, cannot sign, and give the same MRSIGNER */
    uint8_t m1[32], m2[32], m3[32];
    CHECK_OK(tbml_rsa_read_pem(pubpem, &pub));
    CHECK_OK(tbml_rsa_modulus_le(key, mod, sizeof(mod)));
    CHECK_OK(tbml_rsa_from_modulus_le(mod, sizeof(mod), 3, &from_mod));
    if (pub && from_mod) {
        CHECK(!tbml_rsa_is_private(pub));
        CHECK(!tbml_rsa_is_private(from_mod));
        CHECK_OK(tbml_rsa_verify(pub, msg, sizeof(msg), sig, sizeof(sig)));
        CHECK_OK(tbml_rsa_verify(from_mod, msg, sizeof(msg), sig, sizeof(sig)));
        CHECK_ST(tbml_rsa_sign(pub, msg, sizeof(msg), sig2, sizeof(sig2)), TBML_E_KEY);
        CHECK_OK(tbml_rsa_mrsigner(key, m1));
        CHECK_OK(tbml_rsa_mrsigner(pub, m2));
        CHECK_OK(tbml_rsa_mrsigner(from_mod, m3));
        CHECK(memcmp(m1, m2, 32) == 0 && memcmp(m1, m3, 32) == 0);
    }
    CHECK_OK(tbml_rsa_read_pem(pem, &reread));
    if (reread) {
        CHECK(tbml_rsa_is_private(reread));
        CHECK_OK(tbml_rsa_sign(reread, msg, sizeof(msg), sig2, sizeof(sig2)));
        CHECK(memcmp(sig, sig2, sizeof(sig)) == 0);
    }

    /* tampering: every flipped message byte, a flipped signature bit, a short signature */
    char bad[sizeof(msg)];
    int all_refused = 1;
    for (size_t i = 0; i < sizeof(msg); i++) {
        memcpy(bad, msg, sizeof(msg));
        bad[i] ^= 0x01;
        if (tbml_rsa_verify(key, bad, sizeof(bad), sig, sizeof(sig)) != TBML_E_AUTH)
            all_refused = 0;
    }
    CHECK(all_refused);
    CHECK_ST(tbml_rsa_verify(key, msg, sizeof(msg) - 1, sig, sizeof(sig)), TBML_E_AUTH);
    memcpy(sig2, sig, sizeof(sig));
    sig2[100] ^= 0x80;
    CHECK_ST(tbml_rsa_verify(key, msg, sizeof(msg), sig2, sizeof(sig2)), TBML_E_AUTH);
    CHECK_ST(tbml_rsa_verify(key, msg, sizeof(msg), sig, sizeof(sig) - 1), TBML_E_AUTH);

    /* e = 65537: signs fine (standard PKCS#1), but verify refuses the key itself */
    CHECK_OK(tbml_rsa_generate(3072, 65537, &e65537));
    if (e65537) {
        CHECK(tbml_rsa_exponent(e65537) == 65537);
        CHECK_OK(tbml_rsa_sign(e65537, msg, sizeof(msg), sig2, sizeof(sig2)));
        CHECK_ST(tbml_rsa_verify(e65537, msg, sizeof(msg), sig2, sizeof(sig2)), TBML_E_KEY);
        CHECK(strstr(tbml_errmsg(), "65537") != NULL);
        /* an e = 65537 key from the openssl tool is refused too */
        path_in(pem65537, sizeof(pem65537), "e65537.pem");
        snprintf(
            cmd, sizeof(cmd),
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' 2>/dev/null",
            pem65537);
        CHECK(system(cmd) == 0);
        tbml_rsa_t *ext = NULL;
        CHECK_OK(tbml_rsa_read_pem(pem65537, &ext));
        if (ext) {
            uint8_t s3[256];
            CHECK_OK(tbml_rsa_sign(ext, msg, sizeof(msg), s3, sizeof(s3)));
            CHECK_ST(tbml_rsa_verify(ext, msg, sizeof(msg), s3, sizeof(s3)), TBML_E_KEY);
        }
        tbml_rsa_free(ext);
        /* the same modulus relabelled e = 3 does not verify e = 65537 signatures */
        uint8_t m[TBML_RSA3072_SIZE];
        tbml_rsa_t *relabel = NULL;
        CHECK_OK(tbml_rsa_modulus_le(e65537, m, sizeof(m)));
        CHECK_OK(tbml_rsa_from_modulus_le(m, sizeof(m), 3, &relabel));
        if (relabel)
            CHECK_ST(tbml_rsa_verify(relabel, msg, sizeof(msg), sig2, sizeof(sig2)), TBML_E_AUTH);
        tbml_rsa_free(relabel);
        /* a signature by another e = 3 key does not verify */
        CHECK_ST(tbml_rsa_verify(key, msg, sizeof(msg), sig2, sizeof(sig2)), TBML_E_AUTH);
    }

    /* bad inputs */
    tbml_rsa_t *none = NULL;
    CHECK_ST(tbml_rsa_generate(1024, 3, &none), TBML_E_ARG);
    CHECK_ST(tbml_rsa_generate(3072, 4, &none), TBML_E_ARG);
    CHECK(none == NULL);
    char missing[512];
    path_in(missing, sizeof(missing), "missing.pem");
    CHECK_ST(tbml_rsa_read_pem(missing, &none), TBML_E_NOTFOUND);
    CHECK(strstr(tbml_errmsg(), missing) != NULL);
    CHECK_ST(tbml_rsa_parse_pem("hello", 5, "junk", &none), TBML_E_FORMAT);
    const char ec[] = "-----BEGIN PRIVATE KEY-----\n"
                      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYcX3UqF1x7q9oQ1z\n"
                      "-----END PRIVATE KEY-----\n";
    CHECK_ST(tbml_rsa_parse_pem(ec, sizeof(ec) - 1, "broken.pem", &none), TBML_E_KEY);
    CHECK(strstr(tbml_errmsg(), "broken.pem") != NULL);
    const char enc[] =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    CHECK_ST(tbml_rsa_parse_pem(enc, sizeof(enc) - 1, "enc.pem", &none), TBML_E_KEY);
    CHECK(none == NULL);
    /* real encrypted keys from the openssl tool, PKCS#8 and the legacy PEM form, are refused
     * without any passphrase prompt */
    char encpem[512], tradpem[512];
    path_in(encpem, sizeof(encpem), "enc.pem");
    path_in(tradpem, sizeof(tradpem), "trad.pem");
    snprintf(
        cmd, sizeof(cmd),
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 "
        "-aes256 -pass pass:x -out '%s' 2>/dev/null && openssl rsa -in '%s' -passin pass:x "
        "-traditional -aes256 -passout pass:x -out '%s' 2>/dev/null",
        encpem, encpem, tradpem);
    CHECK(system(cmd) == 0);
    CHECK_ST(tbml_rsa_read_pem(encpem, &none), TBML_E_KEY);
    CHECK(strstr(tbml_errmsg(), "encrypted") != NULL);
    CHECK_ST(tbml_rsa_read_pem(tradpem, &none), TBML_E_KEY);
    CHECK(none == NULL);

    tbml_rsa_free(key);
    tbml_rsa_free(e65537);
    tbml_rsa_free(pub);
    tbml_rsa_free(reread);
    tbml_rsa_free(from_mod);
    tbml_rsa_free(NULL);
}

static void test_tls(void)
{
    char sub[512], cmd[2048], line[1024], pwfile[512];
    const char pw[] = "p12 pass phrase";
    for (int type = 0; type < 2; type++) {
        snprintf(sub, sizeof(sub), "%s/tls%d", g_dir, type);
        CHECK(mkdir(sub, 0700) == 0);
        tbml_tls_params p = {.key_type = type ? TBML_TLS_KEY_RSA3072 : TBML_TLS_KEY_EC_P256,
                             .common_name = "svc.example",
                             .days = 30};
        CHECK_OK(tbml_tls_create(sub, &p, pw, strlen(pw)));
        /* certificate: subject, SANs, validity, and the key in key.pem matches it */
        snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/cert.pem' -noout -subject", sub);
        CHECK(run_line(cmd, line, sizeof(line)) == 0);
        CHECK(strstr(line, "CN = svc.example") != NULL);
        snprintf(cmd, sizeof(cmd),
                 "openssl x509 -in '%s/cert.pem' -noout -ext subjectAltName | tail -1", sub);
        CHECK(run_line(cmd, line, sizeof(line)) == 0);
        CHECK(strstr(line, "DNS:localhost") && strstr(line, "IP Address:127.0.0.1"));
        snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/cert.pem' -noout -checkend %d >/dev/null",
                 sub, 29 * 86400);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/cert.pem' -noout -checkend %d >/dev/null",
                 sub, 31 * 86400);
        CHECK(system(cmd) != 0);
        snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s/cert.pem' '%s/cert.pem' 2>&1", sub,
                 sub);
        CHECK(run_line(cmd, line, sizeof(line)) == 0);
        snprintf(
            cmd, sizeof(cmd),
            "a=$(openssl x509 -in '%s/cert.pem' -noout -pubkey | openssl sha256); "
            "b=$(openssl pkey -in '%s/key.pem' -pubout | openssl sha256); test \"$a\" = \"$b\"",
            sub, sub);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/cert.pem' -noout -text | grep -c '%s'",
                 sub, type ? "rsaEncryption" : "id-ecPublicKey");
        CHECK(run_line(cmd, line, sizeof(line)) == 0);
        /* PKCS#12 opens with the password and not with another */
        snprintf(pwfile, sizeof(pwfile), "%s/p12pw", sub);
        FILE *f = fopen(pwfile, "w");
        fprintf(f, "%s\n", pw);
        fclose(f);
        snprintf(cmd, sizeof(cmd),
                 "openssl pkcs12 -in '%s/bundle.p12' -passin 'file:%s' -nodes 2>/dev/null | grep "
                 "-c 'BEGIN'",
                 sub, pwfile);
        CHECK(run_line(cmd, line, sizeof(line)) == 0);
        CHECK(strcmp(line, "2") == 0);
        snprintf(cmd, sizeof(cmd),
                 "openssl pkcs12 -in '%s/bundle.p12' -passin pass:wrong -nodes >/dev/null 2>&1",
                 sub);
        CHECK(system(cmd) != 0);
        struct stat sb;
        snprintf(line, sizeof(line), "%s/key.pem", sub);
        CHECK(stat(line, &sb) == 0 && (sb.st_mode & 0777) == 0600);
        snprintf(line, sizeof(line), "%s/bundle.p12", sub);
        CHECK(stat(line, &sb) == 0 && (sb.st_mode & 0777) == 0600);
        /* refuses to overwrite and leaves the existing files alone */
        snprintf(cmd, sizeof(cmd), "sha256sum '%s'/* > '%s/../sums%d'", sub, sub, type);
        CHECK(system(cmd) == 0);
        CHECK_ST(tbml_tls_create(sub, &p, pw, strlen(pw)), TBML_E_ARG);
        snprintf(cmd, sizeof(cmd), "sha256sum -c --quiet '%s/../sums%d'", sub, type);
        CHECK(system(cmd) == 0);
    }
    /* custom SANs; an empty password and a bad SAN are refused with nothing written */
    snprintf(sub, sizeof(sub), "%s/tls-san", g_dir);
    CHECK(mkdir(sub, 0700) == 0);
    const char *san[] = {"DNS:kms.internal", "IP:10.0.0.7"};
    tbml_tls_params p = {.san = san, .san_count = 2};
    CHECK_ST(tbml_tls_create(sub, &p, "", 0), TBML_E_ARG);
    const char *bad_san[] = {"NOPE:x"};
    tbml_tls_params pb = {.san = bad_san, .san_count = 1};
    CHECK(tbml_tls_create(sub, &pb, pw, strlen(pw)) != TBML_OK);
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", sub);
    CHECK(system(cmd) == 0);
    CHECK_OK(tbml_tls_create(sub, &p, pw, strlen(pw)));
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s/cert.pem' -noout -ext subjectAltName | tail -1", sub);
    CHECK(run_line(cmd, line, sizeof(line)) == 0);
    CHECK(strstr(line, "DNS:kms.internal") && strstr(line, "IP Address:10.0.0.7") &&
          !strstr(line, "localhost"));
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/tbml-test-pki-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_rsa();
    test_tls();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_done();
}
