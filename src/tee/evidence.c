/* Evidence backends: none, sim (simulated quotes, Ed25519 with a public seed), gramine (the
 * quote from Gramine's /dev/attestation pseudo-files) and the DCAP verification slot. */
#include "evidence.h"

#include "tbml/crypto.h"
#include "tbml/ecc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Simulated quote v1 layout (little-endian integers):
 *   0  8  magic "TBMLQUOT"       8  2  version (1)       10  2  kind (1 = sim)
 *  12  4  flags: bit 0 debug, bit 1 simulated (always set)
 *  16 32  measurement            48 32  mrsigner
 *  80  2  product id             82  2  svn               84  4  reserved (0)
 *  88 64  report data           152 64  Ed25519 signature over bytes 0..151 */
#define Q_SIGNED 152
static_assert(Q_SIGNED + 64 == TBML_SIM_QUOTE_SIZE, "sim quote layout");

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16));
}
static uint32_t get32(const uint8_t *p)
{
    return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static tbml_status sim_seed(uint8_t seed[32])
{
    return tbml_sha256(TBML_SIM_QE_SEED_STRING, strlen(TBML_SIM_QE_SEED_STRING), seed);
}

tbml_status tbml_evidence_sim_public(uint8_t pub[32])
{
    uint8_t seed[32];
    tbml_status st = sim_seed(seed);
    if (!st) st = tbml_ed25519_public(seed, pub);
    return st;
}

static tbml_status sim_quote(const tbml_report_t *r, uint8_t **out, size_t *out_size)
{
    uint8_t seed[32];
    uint8_t *q = tbml_calloc(1, TBML_SIM_QUOTE_SIZE);
    memcpy(q, TBML_SIM_QUOTE_MAGIC, 8);
    put16(q + 8, 1);
    put16(q + 10, TBML_EVIDENCE_SIM);
    put32(q + 12, (r->debug ? 1u : 0u) | 2u);
    memcpy(q + 16, r->measurement, 32);
    memcpy(q + 48, r->mrsigner, 32);
    put16(q + 80, r->product_id);
    put16(q + 82, r->svn);
    memcpy(q + 88, r->report_data, 64);
    tbml_status st = sim_seed(seed);
    if (!st) st = tbml_ed25519_sign(seed, q, Q_SIGNED, q + Q_SIGNED);
    if (st) {
        tbml_free(q);
        return st;
    }
    TBML_LOG_I("SIMULATED quote produced (no hardware protection)");
    *out = q;
    *out_size = TBML_SIM_QUOTE_SIZE;
    return TBML_OK;
}

static tbml_status sim_verify(const uint8_t *q, size_t size, tbml_report_t *out)
{
    uint8_t pub[32];
    if (size != TBML_SIM_QUOTE_SIZE || memcmp(q, TBML_SIM_QUOTE_MAGIC, 8) != 0)
        return tbml_error(TBML_E_FORMAT, "evidence: not a simulated quote");
    if (get16(q + 8) != 1)
        return tbml_error(TBML_E_UNSUPPORTED, "evidence: simulated quote version %u", get16(q + 8));
    uint32_t flags = get32(q + 12);
    if (get16(q + 10) != TBML_EVIDENCE_SIM || !(flags & 2u) || (flags & ~3u) || get32(q + 84) != 0)
        return tbml_error(TBML_E_FORMAT, "evidence: damaged simulated quote");
    tbml_status st = tbml_evidence_sim_public(pub);
    if (!st) st = tbml_ed25519_verify(pub, q, Q_SIGNED, q + Q_SIGNED);
    if (st)
        return tbml_error(
            TBML_E_AUTH,
            "evidence: the SIMULATED quote's signature does not verify (damaged or forged)");
    tbml_report_t r;
    memset(&r, 0, sizeof(r));
    r.kind = TBML_EVIDENCE_SIM;
    r.simulated = 1;
    r.debug = (int)(flags & 1u);
    memcpy(r.measurement, q + 16, 32);
    memcpy(r.mrsigner, q + 48, 32);
    r.product_id = get16(q + 80);
    r.svn = get16(q + 82);
    memcpy(r.report_data, q + 88, 64);
    *out = r;
    return TBML_OK;
}

/* Gramine: writing the report data to /dev/attestation/user_report_data and reading
 * /dev/attestation/quote gives a DCAP quote signed by the platform's quoting enclave. The
 * identity fields come from the hardware, not from r. */
static tbml_status gramine_quote(const tbml_report_t *r, uint8_t **out, size_t *out_size)
{
    int fd = open("/dev/attestation/user_report_data", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(TBML_E_UNSUPPORTED,
                          "gramine evidence: /dev/attestation is missing (not inside a "
                          "Gramine-SGX enclave): %s",
                          strerror(errno));
    tbml_status st = tbml_write_all(fd, r->report_data, 64, "/dev/attestation/user_report_data");
    close(fd);
    if (st) return st;
    fd = open("/dev/attestation/quote", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(TBML_E_IO, "gramine evidence: /dev/attestation/quote: %s",
                          strerror(errno));
    st = tbml_read_all(fd, "/dev/attestation/quote", 1u << 16, out, out_size);
    close(fd);
    return st;
}

static tbml_status dcap_verify(const uint8_t *ev, size_t size, tbml_report_t *out)
{
    (void)ev, (void)size, (void)out;
    return tbml_error(TBML_E_UNSUPPORTED,
                      "evidence: DCAP quotes need a quote verification provider, which this "
                      "build does not have");
}

static const tbml_evidence_backend g_backends[] = {
    {"none", NULL, NULL},
    {"sim", sim_quote, sim_verify},
    {"gramine", gramine_quote, dcap_verify},
    {"dcap", NULL, dcap_verify},
};

const tbml_evidence_backend *tbml_evidence_backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof(g_backends) / sizeof(g_backends[0]); i++)
        if (strcmp(g_backends[i].name, name) == 0) return &g_backends[i];
    return NULL;
}

tbml_status tbml_evidence_verify(const uint8_t *ev, size_t size, tbml_report_t *out)
{
    if (size >= 8 && memcmp(ev, TBML_SIM_QUOTE_MAGIC, 8) == 0) return sim_verify(ev, size, out);
    /* An SGX ECDSA quote starts with version 3 (or 4) and attestation key type 2. */
    if (size >= 4 && (get16(ev) == 3 || get16(ev) == 4) && get16(ev + 2) == 2)
        return dcap_verify(ev, size, out);
    return tbml_error(TBML_E_FORMAT, "evidence: neither a simulated quote nor an SGX quote");
}
