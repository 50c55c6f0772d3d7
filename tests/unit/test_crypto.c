/* Crypto primitives against published known answers (GCM, HKDF, HMAC, SHA-256, Argon2id), and key
 * files: round trip, wrong password, and every single-byte edit rejected. */
#include "check.h"

#include <argon2.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_gcm(void)
{
    /* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV,
     * 20 bytes of AAD, 60 bytes of plaintext). */
    uint8_t key[32], iv[12], aad[20], pt[60], ct_want[60], tag_want[16];
    check_unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    check_unhex("cafebabefacedbaddecaf888", iv, 12);
    check_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    check_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                pt, 60);
    check_unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                ct_want, 60);
    check_unhex("76fc6ece0f4e1768cddf8853bb2d551b", tag_want, 16);

    uint8_t ct[60], tag[16], back[60];
    CHECK_OK(tbml_aead_seal(key, iv, aad, 20, pt, 60, ct, tag));
    CHECK(memcmp(ct, ct_want, 60) == 0);
    CHECK(memcmp(tag, tag_want, 16) == 0);
    CHECK_OK(tbml_aead_open(key, iv, aad, 20, ct, 60, tag, back));
    CHECK(memcmp(back, pt, 60) == 0);

    /* the reusable context gives the same answer, twice in a row, and in place */
    tbml_aead_t *a;
    CHECK_OK(tbml_aead_create(key, &a));
    for (int round = 0; round < 2; round++) {
        uint8_t buf[60];
        memcpy(buf, pt, 60);
        CHECK_OK(tbml_aead_seal_with(a, iv, aad, 20, buf, 60, buf, tag));
        CHECK(memcmp(buf, ct_want, 60) == 0 && memcmp(tag, tag_want, 16) == 0);
        CHECK_OK(tbml_aead_open_with(a, iv, aad, 20, buf, 60, tag, buf));
        CHECK(memcmp(buf, pt, 60) == 0);
    }

    /* a wrong tag, AAD or ciphertext fails with AUTH and wipes the output */
    uint8_t bad[16];
    memcpy(bad, tag_want, 16);
    bad[15] ^= 1;
    memset(back, 0x55, sizeof(back));
    CHECK_ST(tbml_aead_open_with(a, iv, aad, 20, ct_want, 60, bad, back), TBML_E_AUTH);
    int zero = 1;
    for (int i = 0; i < 60; i++)
        zero &= back[i] == 0;
    CHECK(zero);
    CHECK_ST(tbml_aead_open_with(a, iv, aad, 19, ct_want, 60, tag_want, back), TBML_E_AUTH);
    uint8_t ct2[60];
    memcpy(ct2, ct_want, 60);
    ct2[30] ^= 0x80;
    CHECK_ST(tbml_aead_open_with(a, iv, aad, 20, ct2, 60, tag_want, back), TBML_E_AUTH);
    /* and after a failure the context still works */
    CHECK_OK(tbml_aead_open_with(a, iv, aad, 20, ct_want, 60, tag_want, back));
    CHECK(memcmp(back, pt, 60) == 0);

    /* McGrew & Viega test case 13: AES-256, all-zero key and IV, empty message: the tag alone */
    uint8_t zkey[32] = {0}, ziv[12] = {0}, ztag_want[16];
    check_unhex("530f8afbc74536b9a963b4f1c4cb738b", ztag_want, 16);
    CHECK_OK(tbml_aead_seal(zkey, ziv, NULL, 0, NULL, 0, NULL, tag));
    CHECK(memcmp(tag, ztag_want, 16) == 0);
    CHECK_OK(tbml_aead_open(zkey, ziv, NULL, 0, NULL, 0, ztag_want, NULL));
    tbml_aead_free(a);
}

static void test_hkdf_hmac_sha(void)
{
    /* RFC 5869, test case 1 */
    uint8_t ikm[22], salt[13], info[10], okm_want[42], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    check_unhex("000102030405060708090a0b0c", salt, 13);
    check_unhex("f0f1f2f3f4f5f6f7f8f9", info, 10);
    check_unhex(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        okm_want, 42);
    CHECK_OK(tbml_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42));
    CHECK(memcmp(okm, okm_want, 42) == 0);

    /* RFC 4231, test case 1 */
    uint8_t hkey[20], mac[32], mac_want[32];
    memset(hkey, 0x0b, sizeof(hkey));
    check_unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", mac_want, 32);
    CHECK_OK(tbml_hmac_sha256(hkey, 20, "Hi There", 8, mac));
    CHECK(memcmp(mac, mac_want, 32) == 0);

    /* FIPS 180-2 "abc", one shot and incremental */
    uint8_t d[32], d_want[32];
    check_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d_want, 32);
    CHECK_OK(tbml_sha256("abc", 3, d));
    CHECK(memcmp(d, d_want, 32) == 0);
    tbml_sha256_ctx_t *c;
    CHECK_OK(tbml_sha256_begin(&c));
    CHECK_OK(tbml_sha256_update(c, "a", 1));
    CHECK_OK(tbml_sha256_update(c, "bc", 2));
    CHECK_OK(tbml_sha256_end(c, d));
    CHECK(memcmp(d, d_want, 32) == 0);
    char hex[65];
    tbml_hex(d, 32, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

static void test_argon2(void)
{
    /* RFC 9106 section 5.3 (Argon2id, v=0x13, t=3, m=32 KiB, p=4, with secret and associated
     * data). tbml_pwhash has no secret/AD, so this checks the linked libargon2 itself through
     * argon2_ctx; the vectors below then tie tbml_pwhash to it. */
    uint8_t pwd[32], salt[16], secret[8], ad[12], tag[32], want[32];
    memset(pwd, 1, 32);
    memset(salt, 2, 16);
    memset(secret, 3, 8);
    memset(ad, 4, 12);
    check_unhex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659", want, 32);
    argon2_context ctx = {
        .out = tag,
        .outlen = 32,
        .pwd = pwd,
        .pwdlen = 32,
        .salt = salt,
        .saltlen = 16,
        .secret = secret,
        .secretlen = 8,
        .ad = ad,
        .adlen = 12,
        .t_cost = 3,
        .m_cost = 32,
        .lanes = 4,
        .threads = 4,
        .version = ARGON2_VERSION_13,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    CHECK(argon2_ctx(&ctx, Argon2_id) == ARGON2_OK);
    CHECK(memcmp(tag, want, 32) == 0);

    /* tbml_pwhash against the `argon2` CLI (Debian package argon2), computed with
     *   printf password | argon2 somesaltsomesalt -id -t 2 -k 64 -p 1 -l 32 -r */
    uint8_t out[32];
    check_unhex("1a98fba8e6394425c9bdc333a9c750aaf811df070f5fb4a5788e1cf4db5793a1", want, 32);
    CHECK_OK(tbml_pwhash("password", 8, (const uint8_t *)"somesaltsomesalt",
                         (tbml_pwhash_params){2, 64, 1}, out, 32));
    CHECK(memcmp(out, want, 32) == 0);

    /* and against argon2_ctx without secret/AD for the RFC's parameters (t, m, p in order) */
    argon2_context plain = ctx;
    plain.secret = NULL;
    plain.secretlen = 0;
    plain.ad = NULL;
    plain.adlen = 0;
    CHECK(argon2_ctx(&plain, Argon2_id) == ARGON2_OK);
    CHECK_OK(tbml_pwhash((const char *)pwd, 32, salt, (tbml_pwhash_params){3, 32, 4}, out, 32));
    CHECK(memcmp(out, tag, 32) == 0);

    /* hostile parameters are refused before any work */
    CHECK_ST(tbml_pwhash("x", 1, salt, (tbml_pwhash_params){0, 64, 1}, out, 32), TBML_E_FORMAT);
    CHECK_ST(tbml_pwhash("x", 1, salt, (tbml_pwhash_params){1, 8u << 20, 1}, out, 32),
             TBML_E_FORMAT);
    CHECK_ST(tbml_pwhash("x", 1, salt, (tbml_pwhash_params){1, 64, 0}, out, 32), TBML_E_FORMAT);
    CHECK_ST(tbml_pwhash("x", 1, salt, (tbml_pwhash_params){1, 64, 1u << 29}, out, 32),
             TBML_E_FORMAT);
}

static void test_keys(void)
{
    tbml_key_t *k;
    CHECK(tbml_key_name_valid("data-key_1.v2"));
    CHECK(!tbml_key_name_valid(""));
    CHECK(!tbml_key_name_valid(".hidden"));
    CHECK(!tbml_key_name_valid("a/b"));
    CHECK(!tbml_key_name_valid("a b"));
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    CHECK(!tbml_key_name_valid(long_name));
    long_name[64] = '\0';
    CHECK(tbml_key_name_valid(long_name));
    CHECK_ST(tbml_key_generate("bad name", &k), TBML_E_ARG);

    tbml_key_t *a, *b;
    CHECK_OK(tbml_key_generate("k1", &a));
    CHECK_OK(tbml_key_generate("k1", &b));
    CHECK(strcmp(tbml_key_name(a), "k1") == 0);
    CHECK(memcmp(tbml_key_bytes(a), tbml_key_bytes(b), 32) != 0); /* fresh randomness */
    tbml_key_free(a);
    tbml_key_free(b);
    tbml_key_free(NULL);
}

static void test_keyfile(void)
{
    char dir[] = "/tmp/tbml-test-keyfile-XXXXXX";
    if (!mkdtemp(dir)) exit(2);
    char path[256];
    snprintf(path, sizeof(path), "%s/datakey.key", dir);
    const tbml_pwhash_params fast = {1, 8, 1}; /* the test is about the format, not the KDF cost */

    tbml_key_t *key, *back = NULL;
    CHECK_OK(tbml_key_generate("datakey", &key));
    CHECK_OK(tbml_keyfile_write(path, key, "hunter2", 7, fast));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_ST(tbml_keyfile_write(path, key, "hunter2", 7, fast), TBML_E_ARG); /* no overwrite */

    CHECK_OK(tbml_keyfile_read(path, "hunter2", 7, &back));
    if (back) {
        CHECK(strcmp(tbml_key_name(back), "datakey") == 0);
        CHECK(memcmp(tbml_key_bytes(back), tbml_key_bytes(key), 32) == 0);
        tbml_key_free(back);
    }
    back = NULL;
    CHECK_ST(tbml_keyfile_read(path, "hunter3", 7, &back), TBML_E_PASSWORD);
    CHECK(back == NULL);
    CHECK(strstr(tbml_errmsg(), path) != NULL);
    CHECK_ST(tbml_keyfile_read(path, "hunter2", 6, &back), TBML_E_PASSWORD);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/none.key", dir);
    CHECK_ST(tbml_keyfile_read(missing, "hunter2", 7, &back), TBML_E_KEY);

    /* every single-byte edit (three different flips per byte), every truncation and an appended
     * byte are rejected, and no key comes out */
    FILE *f = fopen(path, "rb");
    uint8_t file[256];
    size_t size = f ? fread(file, 1, sizeof(file), f) : 0;
    if (f) fclose(f);
    CHECK(size == 52 + 7 + 32 + 16);
    int rejected = 0, tried = 0, leaked = 0, bad_status = 0;
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < size; i++) {
        for (size_t j = 0; j < sizeof(flips); j++) {
            uint8_t edited[256];
            memcpy(edited, file, size);
            edited[i] ^= flips[j];
            tbml_key_t *out = NULL;
            tbml_status st = tbml_keyfile_parse(edited, size, "edited.key", "hunter2", 7, &out);
            tried++;
            if (st != TBML_OK) rejected++;
            if (out) {
                leaked++;
                tbml_key_free(out);
            }
            if (st != TBML_E_FORMAT && st != TBML_E_PASSWORD && st != TBML_E_UNSUPPORTED) {
                bad_status++;
                fprintf(stderr, "byte %zu ^ 0x%02x: %s (%s)\n", i, flips[j], tbml_strerror(st),
                        tbml_errmsg());
            }
        }
    }
    CHECK(tried == rejected);
    CHECK(leaked == 0);
    CHECK(bad_status == 0);
    for (size_t n = 0; n < size; n++) {
        tbml_key_t *out = NULL;
        CHECK_ST(tbml_keyfile_parse(file, n, "cut.key", "hunter2", 7, &out), TBML_E_FORMAT);
        CHECK(out == NULL);
    }
    uint8_t longer[257];
    memcpy(longer, file, size);
    longer[size] = 0;
    tbml_key_t *out = NULL;
    CHECK_ST(tbml_keyfile_parse(longer, size + 1, "long.key", "hunter2", 7, &out), TBML_E_FORMAT);
    CHECK(out == NULL);

    /* a name size past 64 with a file long enough to match it (an overflow fuzz_keyfile found) */
    static uint8_t big[52 + 200 + 48];
    memcpy(big, file, 52);
    for (size_t n = 65; n <= 200; n += 45) {
        big[10] = (uint8_t)n;
        memset(big + 52, 'a', n);
        CHECK_ST(tbml_keyfile_parse(big, 52 + n + 48, "big.key", "hunter2", 7, &out), TBML_E_FORMAT);
        CHECK(out == NULL);
    }

    unlink(path);
    rmdir(dir);
    tbml_key_free(key);
}

int main(void)
{
    test_gcm();
    test_hkdf_hmac_sha();
    test_argon2();
    test_keys();
    test_keyfile();
    return check_done();
}
