/* Trusted runtime unit tests: the measurement of a fixed manifest against a value computed
 * independently (Python's json + hashlib over the documented byte string), strict parsing,
 * signing with e = 3 enforced, ELF dependency resolution against ldd as an oracle, simulated
 * evidence round trips and tampering, X25519 wrapping. */
#include "check.h"

#include "tbml/ecc.h"
#include "tbml/pki.h"
#include "tbml/tee.h"
#include "tee/evidence.h"
#include "tee/tee_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/* sha256(b"tbml-measurement-v1\n" + json.dumps(m, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False).encode()) for tests/data/tee/fixed-manifest.json, computed with Python. */
#define FIXED_MEASUREMENT "4a82f7fae4c6459679dc22b01f6e26dc12303c6ccf0db46326b6786ee0b0903c"

static char g_fixed[PATH_MAX];

static void test_fixed_measurement(void)
{
    tbml_manifest_t *m = NULL;
    uint8_t meas[32];
    char hex[65];
    CHECK_OK(tbml_manifest_load(g_fixed, &m));
    if (!m) return;
    CHECK_OK(tbml_manifest_measure(m, meas));
    tbml_hex(meas, 32, hex);
    CHECK(strcmp(hex, FIXED_MEASUREMENT) == 0);
    /* The canonical bytes start with the documented prefix and have sorted keys. */
    char *bytes;
    size_t size;
    CHECK_OK(tbml_manifest_canonical(m, &bytes, &size));
    CHECK(strncmp(bytes, "tbml-measurement-v1\n{\"argv\":", 28) == 0);
    tbml_free(bytes);
    tbml_manifest_free(m);
}

static void test_strict_parse(void)
{
    tbml_manifest_t *m = NULL;
    static const char extra[] = "{\"tbml_manifest\":1,\"allow_all_but_log\":true}";
    CHECK_ST(tbml_manifest_parse(extra, sizeof(extra) - 1, "x", &m), TBML_E_FORMAT);
    CHECK(strstr(tbml_errmsg(), "allow_all_but_log") != NULL);
    static const char v2[] = "{\"tbml_manifest\":2}";
    CHECK_ST(tbml_manifest_parse(v2, sizeof(v2) - 1, "x", &m), TBML_E_UNSUPPORTED);
    static const char dup[] = "{\"tbml_manifest\":1,\"tbml_manifest\":1}";
    CHECK_ST(tbml_manifest_parse(dup, sizeof(dup) - 1, "x", &m), TBML_E_FORMAT);
    CHECK(m == NULL);
}

static void test_sign_verify(void)
{
    char dir[] = "/tmp/tbml-test-tee-XXXXXX", k3[PATH_MAX], k65537[PATH_MAX];
    tbml_rsa_t *key = NULL;
    tbml_manifest_t *m = NULL;
    uint8_t meas[32], signer[32], want_signer[32];
    if (!mkdtemp(dir)) return;
    snprintf(k3, sizeof(k3), "%s/e3.pem", dir);
    snprintf(k65537, sizeof(k65537), "%s/e65537.pem", dir);
    CHECK_OK(tbml_rsa_generate(3072, 3, &key));
    CHECK_OK(tbml_rsa_write_pem(key, k3));
    CHECK_OK(tbml_rsa_mrsigner(key, want_signer));
    tbml_rsa_free(key);
    key = NULL;
    CHECK_OK(tbml_rsa_generate(3072, 65537, &key));
    CHECK_OK(tbml_rsa_write_pem(key, k65537));
    tbml_rsa_free(key);

    CHECK_OK(tbml_manifest_load(g_fixed, &m));
    if (!m) return;
    CHECK_ST(tbml_manifest_verify(m, meas, signer), TBML_E_POLICY); /* unsigned */
    CHECK_ST(tbml_manifest_sign(m, k65537), TBML_E_KEY);            /* e != 3 refused */
    CHECK_OK(tbml_manifest_sign(m, k3));
    CHECK_OK(tbml_manifest_verify(m, meas, signer));
    CHECK(memcmp(signer, want_signer, 32) == 0);

    /* A signature made by an e=65537 key, smuggled in with exponent 3 claimed, fails. */
    json_t *root = tee_manifest_json(m);
    json_t *sig = json_object_get(root, "signature");
    json_object_set_new(sig, "exponent", json_integer(65537));
    CHECK_ST(tbml_manifest_verify(m, NULL, NULL), TBML_E_POLICY);
    json_object_set_new(sig, "exponent", json_integer(3));
    CHECK_OK(tbml_manifest_verify(m, NULL, NULL));

    /* Changing argv after signing changes the measurement: the signature no longer verifies. */
    json_array_append_new(json_object_get(root, "argv"), json_string("--evil"));
    CHECK_ST(tbml_manifest_verify(m, NULL, NULL), TBML_E_POLICY);
    json_array_remove(json_object_get(root, "argv"),
                      json_array_size(json_object_get(root, "argv")) - 1);
    CHECK_OK(tbml_manifest_verify(m, NULL, NULL));

    /* One flipped hex digit of the signature. */
    char *s = tbml_strdup(json_string_value(json_object_get(sig, "signature")));
    s[10] = s[10] == '0' ? '1' : '0';
    json_object_set_new(sig, "signature", json_string(s));
    CHECK_ST(tbml_manifest_verify(m, NULL, NULL), TBML_E_POLICY);
    tbml_free(s);
    tbml_manifest_free(m);
    unlink(k3);
    unlink(k65537);
    rmdir(dir);
}

/* ldd is the oracle here only: the runtime itself never runs it. */
static void test_elf_deps_match_ldd(const char *prog)
{
    tee_strlist deps = {0}, want = {0};
    char cmd[PATH_MAX + 64], line[PATH_MAX * 2], real[PATH_MAX];
    CHECK_OK(tee_elf_deps(prog, &deps));
    snprintf(cmd, sizeof(cmd), "ldd %s", prog);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    while (fgets(line, sizeof(line), p)) {
        char *path = strstr(line, "=> /");
        path = path ? path + 3 : (line[0] == '\t' && line[1] == '/' ? line + 1 : NULL);
        if (!path) continue; /* linux-vdso has no file */
        path[strcspn(path, " \n")] = '\0';
        if (realpath(path, real)) tee_strlist_add(&want, real);
    }
    pclose(p);
    CHECK(want.count > 0);
    CHECK(deps.count == want.count);
    for (size_t i = 0; i < deps.count; i++) {
        if (!realpath(deps.items[i], real)) real[0] = '\0';
        int found = tee_strlist_has(&want, real);
        if (!found) fprintf(stderr, "%s: %s not in ldd's list\n", prog, deps.items[i]);
        CHECK(found);
    }
    tee_strlist_free(&deps);
    tee_strlist_free(&want);
}

static void test_evidence(void)
{
    const tbml_evidence_backend *sim = tbml_evidence_backend_find("sim");
    CHECK(sim && sim->get_quote);
    CHECK(tbml_evidence_backend_find("none") && !tbml_evidence_backend_find("none")->get_quote);
    tbml_report_t r, got;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 32; i++)
        r.measurement[i] = (uint8_t)i, r.mrsigner[i] = (uint8_t)(100 + i);
    for (int i = 0; i < 64; i++)
        r.report_data[i] = (uint8_t)(200 - i);
    r.product_id = 0x1234;
    r.svn = 0xbeef;
    r.debug = 1;
    uint8_t *q = NULL;
    size_t n = 0;
    CHECK_OK(sim->get_quote(&r, &q, &n));
    if (!q) return;
    CHECK(n == TBML_SIM_QUOTE_SIZE);
    CHECK_OK(tbml_evidence_verify(q, n, &got));
    CHECK(got.simulated == 1 && got.debug == 1 && got.kind == TBML_EVIDENCE_SIM);
    CHECK(got.product_id == 0x1234 && got.svn == 0xbeef);
    CHECK(memcmp(got.measurement, r.measurement, 32) == 0 &&
          memcmp(got.mrsigner, r.mrsigner, 32) == 0);
    CHECK(memcmp(got.report_data, r.report_data, 64) == 0);
    /* Every single-bit flip is rejected (format or signature). */
    int rejected = 0;
    for (size_t bit = 0; bit < n * 8; bit++) {
        q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (tbml_evidence_verify(q, n, &got) != TBML_OK) rejected++;
        q[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(rejected == (int)(n * 8));
    CHECK_ST(tbml_evidence_verify(q, n - 1, &got), TBML_E_FORMAT);
    tbml_free(q);
}

static void test_wrap(void)
{
    uint8_t priv[32], pub[32], priv2[32], pub2[32], key[32], out[32 + TBML_WRAP_OVERHEAD], back[32];
    CHECK_OK(tbml_x25519_keypair(priv, pub));
    CHECK_OK(tbml_x25519_keypair(priv2, pub2));
    CHECK_OK(tbml_random(key, sizeof(key)));
    CHECK_OK(tbml_x25519_wrap(pub, "ctx", 3, key, 32, out));
    CHECK_OK(tbml_x25519_unwrap(priv, pub, "ctx", 3, out, sizeof(out), back));
    CHECK(memcmp(back, key, 32) == 0);
    CHECK_ST(tbml_x25519_unwrap(priv, pub, "ctX", 3, out, sizeof(out), back), TBML_E_AUTH);
    CHECK_ST(tbml_x25519_unwrap(priv2, pub2, "ctx", 3, out, sizeof(out), back), TBML_E_AUTH);
    out[40] ^= 1;
    CHECK_ST(tbml_x25519_unwrap(priv, pub, "ctx", 3, out, sizeof(out), back), TBML_E_AUTH);
    static const uint8_t zero[32];
    CHECK_ST(tbml_x25519_wrap(zero, NULL, 0, key, 32, out), TBML_E_KEY); /* low-order point */
}

/* tbml_tee_submit: manifest, sign and run in one call, as `tbml submit --sgx-enabled true`. */
static void test_submit(void)
{
    char dir[] = "/tmp/tbml-test-submit-XXXXXX", key[PATH_MAX], out[PATH_MAX];
    if (!mkdtemp(dir)) return;
    snprintf(key, sizeof(key), "%s/enclave.pem", dir);
    snprintf(out, sizeof(out), "%s/job.json", dir);
    tbml_rsa_t *k = NULL;
    CHECK_OK(tbml_rsa_generate(3072, 3, &k));
    CHECK_OK(tbml_rsa_write_pem(k, key));
    tbml_rsa_free(k);
    tbml_manifest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.backend = "none";
    char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    int code = -1;
    tbml_run_options ro;
    memset(&ro, 0, sizeof(ro));
    CHECK_ST(tbml_tee_submit(&opt, NULL, out, &ro, 3, argv, &code), TBML_E_ARG);
    CHECK_OK(tbml_tee_submit(&opt, key, out, &ro, 3, argv, &code));
    CHECK(code == 3);
    tbml_manifest_t *m = NULL;
    CHECK_OK(tbml_manifest_load(out, &m));
    if (m) CHECK_OK(tbml_manifest_verify(m, NULL, NULL));
    tbml_manifest_free(m);
    unlink(out);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const char *src = getenv("TBML_SRC");
    snprintf(g_fixed, sizeof(g_fixed), "%s/tests/data/tee/fixed-manifest.json", src ? src : ".");
    test_fixed_measurement();
    test_strict_parse();
    test_sign_verify();
    test_elf_deps_match_ldd("/usr/bin/python3");
    test_elf_deps_match_ldd("/usr/bin/openssl");
    test_evidence();
    test_wrap();
    test_submit();
    return check_done();
}
