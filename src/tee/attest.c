/* The running job's own evidence (docs/protocols/evidence.md, "The job's own evidence"): the
 * job-side handle (quote over report data it chooses, check a peer's evidence against itself)
 * and the runtime-side server that answers quote requests for a job started by `tbml run` with
 * the sim backend. Gramine's /dev/attestation is the model: inside Gramine-SGX the handle uses it
 * directly; under the sim backend the trusted launcher, which measured and verified the job,
 * plays the quoting enclave over an inherited socket. */
#include "tee_internal.h"

#include "tbml/crypto.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Channel messages (one SOCK_SEQPACKET packet each, little-endian):
 *   request  72: "TBAR" | u32 version (1) | report data (64)
 *   response  8 + n: "TBAA" | u32 status (0: n bytes of evidence follow; else n bytes of a
 *                    message saying why) */
#define REQ_MAGIC "TBAR"
#define RESP_MAGIC "TBAA"
#define ATTEST_VERSION 1
#define REQ_SIZE (8 + TBML_REPORT_DATA_SIZE)
static_assert(REQ_SIZE == 72, "attestation channel request layout (docs/protocols/evidence.md)");
#define RESP_MAX (1u << 16)
#define PEERS_MAX 16
#define ANSWER_TIMEOUT_MS 30000

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the job's side ------------------------------------------------------------------------ */

struct tbml_tee_self {
    int fd; /* the runtime's channel (never closed here: the process's), or -1: Gramine */
    int simulated;
    int have_own; /* own identity known (from a verified quote of our own) */
    tbml_report_t own;
    uint8_t peers[PEERS_MAX][32]; /* other measurements the manifest allows for peers */
    int npeers;
};

static tbml_status read_peers(tbml_tee_self_t *s)
{
    const char *v = getenv(TBML_TEE_PEERS_ENV);
    while (v && *v) {
        const char *end = strchr(v, ',');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        char hex[65];
        if (n != 64 || s->npeers == PEERS_MAX)
            return tbml_error(
                TBML_E_POLICY,
                "%s: expected up to %d measurements of 64 hex digits, comma-separated",
                TBML_TEE_PEERS_ENV, PEERS_MAX);
        memcpy(hex, v, 64);
        hex[64] = '\0';
        if (tee_unhex(hex, s->peers[s->npeers], 32) != 0)
            return tbml_error(TBML_E_POLICY, "%s: '%s' is not 64 lower-case hex digits",
                              TBML_TEE_PEERS_ENV, hex);
        s->npeers++;
        v = end ? end + 1 : NULL;
    }
    return TBML_OK;
}

static tbml_status self_new(int fd, int simulated, tbml_tee_self_t **out)
{
    tbml_tee_self_t *s = tbml_calloc(1, sizeof(*s));
    s->fd = fd;
    s->simulated = simulated;
    tbml_status st = read_peers(s);
    if (st) {
        tbml_tee_self_free(s);
        return st;
    }
    *out = s;
    return TBML_OK;
}

tbml_status tbml_tee_self_open_fd(int fd, tbml_tee_self_t **out)
{
    int type = 0;
    socklen_t len = sizeof(type);
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
        return tbml_error(TBML_E_POLICY,
                          "descriptor %d is not the trusted runtime's attestation channel", fd);
    return self_new(fd, 1, out);
}

tbml_status tbml_tee_self_open(tbml_tee_self_t **out)
{
    const char *v = getenv(TBML_TEE_ATTEST_FD_ENV);
    if (v && *v) {
        char *end;
        long fd = strtol(v, &end, 10);
        if (*end || fd < 0 || fd > 1 << 20)
            return tbml_error(TBML_E_POLICY, "%s='%s' is not a descriptor number",
                              TBML_TEE_ATTEST_FD_ENV, v);
        tbml_status st = tbml_tee_self_open_fd((int)fd, out);
        if (st)
            return tbml_error_prefix(st,
                                     "%s is set (this job claims to run under the trusted "
                                     "runtime) but: ",
                                     TBML_TEE_ATTEST_FD_ENV);
        return TBML_OK;
    }
    if (access("/dev/attestation/user_report_data", F_OK) == 0)
        return self_new(-1, 0, out); /* inside a Gramine-SGX enclave */
    *out = NULL;
    return TBML_OK;
}

void tbml_tee_self_free(tbml_tee_self_t *s)
{
    if (!s) return;
    tbml_free(s);
}

int tbml_tee_self_simulated(const tbml_tee_self_t *s)
{
    return s->simulated;
}

/* Handles on one channel may live on several threads (local-backend ranks in one process): a
 * request and its answer must not interleave with another's. */
static pthread_mutex_t g_channel_mu = PTHREAD_MUTEX_INITIALIZER;

/* One request and its answer over the runtime's channel. */
static tbml_status channel_quote_locked(tbml_tee_self_t *s, const uint8_t rd[64], uint8_t **out,
                                        size_t *out_size)
{
    uint8_t req[REQ_SIZE];
    memcpy(req, REQ_MAGIC, 4);
    put32(req + 4, ATTEST_VERSION);
    memcpy(req + 8, rd, 64);
    ssize_t k;
    do
        k = send(s->fd, req, sizeof(req), MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)sizeof(req))
        return tbml_error(TBML_E_POLICY, "the trusted runtime's attestation channel: %s",
                          k < 0 ? strerror(errno) : "short write");
    /* the runtime answers at once; a stopped one must not hang the job (and its peers) */
    struct pollfd p = {s->fd, POLLIN, 0};
    int ready;
    do
        ready = poll(&p, 1, ANSWER_TIMEOUT_MS);
    while (ready < 0 && errno == EINTR);
    if (ready == 0)
        return tbml_error(TBML_E_POLICY,
                          "the trusted runtime's attestation channel: no answer in "
                          "%d s",
                          ANSWER_TIMEOUT_MS / 1000);
    uint8_t *resp = tbml_malloc(RESP_MAX);
    do
        k = recv(s->fd, resp, RESP_MAX, MSG_TRUNC | MSG_DONTWAIT);
    while (k < 0 && errno == EINTR);
    tbml_status st = TBML_OK;
    if (k <= 8 || k > (ssize_t)RESP_MAX || memcmp(resp, RESP_MAGIC, 4) != 0) {
        st = tbml_error(TBML_E_POLICY, "the trusted runtime's attestation channel: %s",
                        k < 0    ? strerror(errno)
                        : k == 0 ? "closed (the runtime is gone)"
                                 : "not an answer of this protocol");
    } else if (get32(resp + 4) != 0) {
        st = tbml_error(TBML_E_POLICY, "the trusted runtime refused a quote: %.*s", (int)(k - 8),
                        (const char *)resp + 8);
    }
    if (st) {
        tbml_free(resp);
        return st;
    }
    size_t n = (size_t)k - 8;
    uint8_t *ev = tbml_malloc(n);
    memcpy(ev, resp + 8, n);
    tbml_free(resp);
    *out = ev;
    *out_size = n;
    return TBML_OK;
}

static tbml_status channel_quote(tbml_tee_self_t *s, const uint8_t rd[64], uint8_t **out,
                                 size_t *out_size)
{
    pthread_mutex_lock(&g_channel_mu);
    tbml_status st = channel_quote_locked(s, rd, out, out_size);
    pthread_mutex_unlock(&g_channel_mu);
    return st;
}

tbml_status tbml_tee_self_quote(tbml_tee_self_t *s, const uint8_t report_data[64], uint8_t **out,
                                size_t *out_size)
{
    uint8_t *ev = NULL;
    size_t n = 0;
    tbml_status st;
    if (s->fd < 0) {
        tbml_report_t r;
        memset(&r, 0, sizeof(r));
        memcpy(r.report_data, report_data, 64);
        st = tbml_evidence_backend_find("gramine")->get_quote(&r, &ev, &n);
        if (st) return st;
        *out = ev;
        *out_size = n;
        return TBML_OK; /* SGX quotes need DCAP to verify: the identity stays unknown here */
    }
    if ((st = channel_quote(s, report_data, &ev, &n))) return st;
    /* The runtime is trusted, but a quote that does not verify or covers other report data
     * would only fail later at every peer, far from the cause. */
    tbml_report_t r;
    st = tbml_evidence_verify(ev, n, &r);
    if (!st && (!r.simulated || !tbml_ct_equal(r.report_data, report_data, 64)))
        st = tbml_error(TBML_E_POLICY,
                        "the trusted runtime returned evidence that is not a simulated quote over "
                        "the report data asked for");
    if (st) {
        tbml_free(ev);
        return tbml_error_prefix(st, "own evidence: ");
    }
    s->own = r;
    s->have_own = 1;
    *out = ev;
    *out_size = n;
    return TBML_OK;
}

static void short_hex(const uint8_t m[32], char out[17])
{
    tbml_hex(m, 8, out);
}

tbml_status tbml_tee_self_check_peer(tbml_tee_self_t *s, const uint8_t *ev, size_t size,
                                     const uint8_t report_data[64])
{
    tbml_status st;
    if (!s->have_own) {
        if (s->fd < 0)
            return tbml_error(TBML_E_UNSUPPORTED,
                              "evidence: SGX quotes need a DCAP quote verification provider, "
                              "which this build does not have");
        uint8_t zero[64] = {0}, *mine = NULL;
        size_t n;
        if ((st = tbml_tee_self_quote(s, zero, &mine, &n))) return st;
        tbml_free(mine);
    }
    tbml_report_t r;
    st = tbml_evidence_verify(ev, size, &r);
    if (st == TBML_E_UNSUPPORTED) return st;
    if (st)
        return tbml_error(TBML_E_AUTH, "evidence does not verify (damaged or forged): %s",
                          tbml_errmsg());
    const tbml_report_t *o = &s->own;
    char a[17], b[17];
    if (r.kind != o->kind || r.simulated != o->simulated)
        return tbml_error(TBML_E_AUTH, "evidence of another kind (%s, this job's is %s)",
                          r.simulated ? "simulated" : "SGX", o->simulated ? "simulated" : "SGX");
    int known = tbml_ct_equal(r.measurement, o->measurement, 32);
    for (int i = 0; i < s->npeers && !known; i++)
        known = tbml_ct_equal(r.measurement, s->peers[i], 32);
    if (!known) {
        short_hex(r.measurement, a);
        short_hex(o->measurement, b);
        return tbml_error(TBML_E_AUTH,
                          "evidence for other code: measurement %s..., this job's is %s... "
                          "(another program or manifest)",
                          a, b);
    }
    if (!tbml_ct_equal(r.mrsigner, o->mrsigner, 32)) {
        short_hex(r.mrsigner, a);
        short_hex(o->mrsigner, b);
        return tbml_error(TBML_E_AUTH,
                          "evidence signed by another enclave key: MRSIGNER %s..., this job's is "
                          "%s...",
                          a, b);
    }
    if (r.product_id != o->product_id || r.svn < o->svn)
        return tbml_error(TBML_E_AUTH,
                          "evidence for product %u SVN %u, this job is product %u SVN %u",
                          r.product_id, r.svn, o->product_id, o->svn);
    if (r.debug && !o->debug)
        return tbml_error(TBML_E_AUTH,
                          "evidence from a debug enclave (the host can read its memory)");
    if (!tbml_ct_equal(r.report_data, report_data, 64))
        return tbml_error(TBML_E_AUTH,
                          "evidence does not bind this handshake (its report data differs: "
                          "replayed, or made for another transcript)");
    return TBML_OK;
}

/* ---- the runtime's side -------------------------------------------------------------------- */

struct tbml_tee_attest_server {
    int fd;
    tbml_report_t ident;
    atomic_int stop;
    pthread_t thread;
};

static void answer(tbml_tee_attest_server_t *s, const uint8_t *req, ssize_t n)
{
    uint8_t *q = NULL;
    size_t qn = 0;
    uint8_t *resp;
    size_t rn;
    const char *why = NULL;
    if (n != REQ_SIZE || memcmp(req, REQ_MAGIC, 4) != 0)
        why = "not a quote request of this protocol";
    else if (get32(req + 4) != ATTEST_VERSION)
        why = "unsupported attestation channel version";
    if (!why) {
        tbml_report_t r = s->ident;
        memcpy(r.report_data, req + 8, 64);
        if (tbml_evidence_backend_find("sim")->get_quote(&r, &q, &qn)) why = "quoting failed";
    }
    if (why) {
        rn = 8 + strlen(why);
        resp = tbml_malloc(rn);
        memcpy(resp + 8, why, rn - 8);
    } else {
        rn = 8 + qn;
        resp = tbml_malloc(rn);
        memcpy(resp + 8, q, qn);
    }
    memcpy(resp, RESP_MAGIC, 4);
    put32(resp + 4, why ? 1u : 0u);
    ssize_t k;
    do
        k = send(s->fd, resp, rn, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    tbml_free(resp);
    tbml_free(q);
}

static void *serve(void *arg)
{
    tbml_tee_attest_server_t *s = arg;
    uint8_t req[REQ_SIZE + 1];
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int k = poll(&p, 1, 200);
        if (k < 0 && errno != EINTR) break;
        if (k <= 0) continue;
        ssize_t n = recv(s->fd, req, sizeof(req), MSG_DONTWAIT);
        if (n == 0) break; /* every holder of the job's end is gone */
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            break;
        }
        answer(s, req, n);
    }
    return NULL;
}

tbml_status tbml_tee_attest_server_start(int fd, const tbml_tee_identity *id,
                                         tbml_tee_attest_server_t **out)
{
    tbml_tee_attest_server_t *s = tbml_calloc(1, sizeof(*s));
    s->fd = fd;
    s->ident.kind = TBML_EVIDENCE_SIM;
    s->ident.simulated = 1;
    s->ident.debug = id->debug;
    memcpy(s->ident.measurement, id->measurement, 32);
    memcpy(s->ident.mrsigner, id->mrsigner, 32);
    s->ident.product_id = id->product_id;
    s->ident.svn = id->svn;
    atomic_init(&s->stop, 0);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        close(fd);
        tbml_free(s);
        return tbml_error(TBML_E_IO, "cannot start the attestation channel's thread");
    }
    *out = s;
    return TBML_OK;
}

void tbml_tee_attest_server_stop(tbml_tee_attest_server_t *s)
{
    if (!s) return;
    atomic_store(&s->stop, 1);
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
    tbml_free(s);
}
