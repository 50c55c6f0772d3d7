/* Ranks that authenticate each other with evidence from the trusted runtime (src/dist/evidence.c,
 * src/tee/attest.c), on the local backend: each rank has its own attestation channel served by
 * the runtime's real server code with an identity the test picks. Same code: the job runs and
 * computes exactly what the job-secret run computes. Other code, no evidence, replayed or damaged
 * evidence, a debug enclave, another signer: refused at the handshake, naming the rank and the
 * check. A lost hello or lost evidence: a timeout naming the silent rank. Also the channel itself
 * and tbml_tee_self_open's reading of the environment. */
#include "check.h"

#include "tbml/comm.h"
#include "tbml/tee.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAG_HELLO (TBML_COMM_TAG_MAX + 7)
#define TAG_EVIDENCE (TBML_COMM_TAG_MAX + 10)
#define NMAX 4

static tbml_key_t *g_key;

typedef struct {
    tbml_status st[8];
    char msg[8][256];
} results;

/* One rank's runtime: a channel and the server answering on it. */
typedef struct {
    tbml_tee_attest_server_t *srv;
    int job_fd;
    tbml_tee_self_t *self;
} rank_rt;

static tbml_tee_identity ident(uint8_t meas_byte)
{
    tbml_tee_identity id;
    memset(&id, 0, sizeof(id));
    memset(id.measurement, meas_byte, 32);
    memset(id.mrsigner, 0x5a, 32);
    id.product_id = 7;
    id.svn = 3;
    return id;
}

static int rt_start(rank_rt *r, const tbml_tee_identity *id)
{
    int sv[2];
    memset(r, 0, sizeof(*r));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    if (tbml_tee_attest_server_start(sv[0], id, &r->srv)) return -1;
    r->job_fd = sv[1];
    if (tbml_tee_self_open_fd(sv[1], &r->self)) return -1;
    return 0;
}

static void rt_stop(rank_rt *r)
{
    tbml_tee_self_free(r->self);
    if (r->job_fd > 0) close(r->job_fd);
    tbml_tee_attest_server_stop(r->srv);
    memset(r, 0, sizeof(*r));
}

#define COUNT 3000

typedef struct {
    float out[NMAX][COUNT];
} job_arg;

/* A small job: an allreduce whose result every rank keeps, then a barrier. */
static tbml_status job_main(tbml_comm_t *c, void *p)
{
    job_arg *a = p;
    int r = tbml_comm_rank(c);
    float *v = a->out[r];
    for (int i = 0; i < COUNT; i++)
        v[i] = (float)((i * 7 + r * 13) % 61) * 0.25f;
    tbml_status st = tbml_comm_allreduce_f32(c, v, COUNT);
    if (!st) st = tbml_comm_barrier(c);
    return st;
}

/* Runs job_main on n ranks; ids[r] NULL: rank r has no evidence; keys[r] its job secret. */
static int run_job(int n, const tbml_tee_identity *const *ids, tbml_key_t *const *keys,
                   tbml_local_hook hook, void *hook_arg, job_arg *a, results *res)
{
    rank_rt rt[NMAX];
    tbml_comm_options o[NMAX];
    tbml_local_world_t *w = NULL;
    int failed = -1;
    memset(res, 0, sizeof(*res));
    memset(rt, 0, sizeof(rt));
    for (int r = 0; r < n; r++) {
        memset(&o[r], 0, sizeof(o[r]));
        o[r].job_key = keys[r];
        o[r].crypto_threads = 1;
        o[r].timeout_s = 5;
        if (ids[r]) {
            if (rt_start(&rt[r], ids[r])) goto out;
            o[r].evidence = rt[r].self;
        }
    }
    if (tbml_local_world_create(n, &w)) goto out;
    if (hook) tbml_local_world_set_hook(w, hook, hook_arg);
    if (tbml_local_run(w, o, 1, job_main, a, res->st, res->msg)) goto out;
    failed = 0;
    for (int r = 0; r < n; r++)
        failed += res->st[r] != TBML_OK;
out:
    tbml_local_world_free(w);
    for (int r = 0; r < n; r++)
        rt_stop(&rt[r]);
    return failed;
}

static int has(const results *res, int r, const char *s)
{
    if (strstr(res->msg[r], s)) return 1;
    fprintf(stderr, "rank %d: message lacks '%s': %s\n", r, s, res->msg[r]);
    return 0;
}

/* The refusal r made itself, or (when the refused rank refused r too and aborted first) the one
 * relayed from there. */
static int has_either(const results *res, int r, const char *own, const char *relayed)
{
    if (strstr(res->msg[r], own) || strstr(res->msg[r], relayed)) return 1;
    fprintf(stderr, "rank %d: message lacks '%s' and '%s': %s\n", r, own, relayed, res->msg[r]);
    return 0;
}

/* ---- the channel and the environment ------------------------------------------------------- */

static void test_channel(void)
{
    tbml_tee_identity id = ident(0x11);
    rank_rt rt;
    CHECK(rt_start(&rt, &id) == 0);
    CHECK(tbml_tee_self_simulated(rt.self));
    uint8_t rd[64], *ev = NULL;
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(i * 3 + 1);
    CHECK_OK(tbml_tee_self_quote(rt.self, rd, &ev, &n));
    /* a peer of the same identity passes with the report data it was made for, not another */
    CHECK_OK(tbml_tee_self_check_peer(rt.self, ev, n, rd));
    rd[5] ^= 1;
    CHECK_ST(tbml_tee_self_check_peer(rt.self, ev, n, rd), TBML_E_AUTH);
    CHECK(strstr(tbml_errmsg(), "does not bind this handshake") != NULL);
    tbml_free(ev);
    /* the runtime gone: the next quote fails, naming the channel */
    tbml_tee_attest_server_stop(rt.srv);
    rt.srv = NULL;
    CHECK_ST(tbml_tee_self_quote(rt.self, rd, &ev, &n), TBML_E_POLICY);
    CHECK(strstr(tbml_errmsg(), "attestation channel") != NULL);
    rt_stop(&rt);

    /* the environment: unset means no evidence; a descriptor that is no channel is refused */
    tbml_tee_self_t *s = (tbml_tee_self_t *)1;
    unsetenv(TBML_TEE_ATTEST_FD_ENV);
    CHECK_OK(tbml_tee_self_open(&s));
    CHECK(s == NULL);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    setenv(TBML_TEE_ATTEST_FD_ENV, num, 1);
    CHECK_ST(tbml_tee_self_open(&s), TBML_E_POLICY);
    CHECK(strstr(tbml_errmsg(), TBML_TEE_ATTEST_FD_ENV) != NULL);
    setenv(TBML_TEE_ATTEST_FD_ENV, "7x", 1);
    CHECK_ST(tbml_tee_self_open(&s), TBML_E_POLICY);
    close(fd);
    /* a real channel through the environment (as `tbml run` hands it over) */
    CHECK(rt_start(&rt, &id) == 0);
    snprintf(num, sizeof(num), "%d", rt.job_fd);
    setenv(TBML_TEE_ATTEST_FD_ENV, num, 1);
    s = NULL;
    CHECK_OK(tbml_tee_self_open(&s));
    CHECK(s != NULL);
    if (s) {
        CHECK_OK(tbml_tee_self_quote(s, rd, &ev, &n));
        tbml_free(ev);
        tbml_tee_self_free(s);
        /* the descriptor is the process's: a second handle (a second communicator) works */
        CHECK_OK(tbml_tee_self_open(&s));
        CHECK_OK(tbml_tee_self_quote(s, rd, &ev, &n));
        tbml_free(ev);
        tbml_tee_self_free(s);
    }
    unsetenv(TBML_TEE_ATTEST_FD_ENV);
    rt_stop(&rt);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static void test_same_code(void)
{
    static job_arg a, plain;
    tbml_tee_identity id = ident(0x22);
    const tbml_tee_identity *ids[3] = {&id, &id, &id}, *none[3] = {NULL, NULL, NULL};
    tbml_key_t *keys[3] = {g_key, g_key, g_key};
    results res;
    CHECK(run_job(3, ids, keys, NULL, NULL, &a, &res) == 0);
    for (int r = 0; r < 3; r++)
        if (res.st[r]) fprintf(stderr, "same code: rank %d: %s\n", r, res.msg[r]);
    /* the job-secret path on the same job: the same bits on every rank */
    CHECK(run_job(3, none, keys, NULL, NULL, &plain, &res) == 0);
    CHECK(memcmp(&a, &plain, sizeof(a)) == 0);
    float want = 0;
    for (int r = 0; r < 3; r++)
        want += (float)((5 * 7 + r * 13) % 61) * 0.25f;
    CHECK(a.out[1][5] == want);
}

/* Ranks as threads of one process under `tbml run` share its one channel (from the environment). */
static void test_shared_channel(void)
{
    static job_arg a;
    tbml_tee_identity id = ident(0x66);
    rank_rt rt;
    CHECK(rt_start(&rt, &id) == 0);
    char num[16];
    snprintf(num, sizeof(num), "%d", rt.job_fd);
    setenv(TBML_TEE_ATTEST_FD_ENV, num, 1);
    const tbml_tee_identity *none[3] = {NULL, NULL, NULL};
    tbml_key_t *keys[3] = {g_key, g_key, g_key};
    results res;
    CHECK(run_job(3, none, keys, NULL, NULL, &a, &res) == 0);
    /* and the environment's evidence is really used: a rank with other code is refused */
    tbml_tee_identity other = ident(0x67);
    const tbml_tee_identity *odd[3] = {NULL, NULL, &other};
    CHECK(run_job(3, odd, keys, NULL, NULL, &a, &res) == 3);
    CHECK(has_either(
        &res, 0, "rank 0: handshake refused rank 2: evidence for other code",
        "job aborted by rank 2: rank 2: handshake refused rank 0: evidence for other code"));
    unsetenv(TBML_TEE_ATTEST_FD_ENV);
    rt_stop(&rt);
}

static void test_refused(void)
{
    static job_arg a;
    tbml_tee_identity id = ident(0x33), other = ident(0x34), dbg = ident(0x33),
                      signer = ident(0x33), old = ident(0x33);
    dbg.debug = 1;
    signer.mrsigner[0] ^= 1;
    old.svn = 2;
    tbml_key_t *keys[3] = {g_key, g_key, g_key};
    results res;
    struct {
        const tbml_tee_identity *odd;
        const char *check;
    } cases[] = {
        {&other, "evidence for other code: measurement 3434343434343434..."},
        {&dbg, "evidence from a debug enclave"},
        {&signer, "evidence signed by another enclave key"},
        {&old, "evidence for product 7 SVN 2"},
        {NULL, "evidence: it has none"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        /* rank 2 is the odd one out */
        const tbml_tee_identity *ids[3] = {&id, &id, cases[k].odd};
        CHECK(run_job(3, ids, keys, NULL, NULL, &a, &res) == 3);
        for (int r = 0; r < 2; r++) {
            /* Where rank 2 refuses this rank too (other code, another signer) its abort may
             * arrive first: then this rank reports rank 2's refusal, the check seen from there. */
            char want[300], relayed[300];
            snprintf(want, sizeof(want), "rank %d: handshake refused rank 2: %s", r,
                     cases[k].check);
            snprintf(relayed, sizeof(relayed),
                     "job aborted by rank 2: rank 2: handshake refused rank %d: evidence", r);
            CHECK(has_either(&res, r, want, relayed));
            CHECK(res.st[r] == TBML_E_AUTH || strstr(res.msg[r], relayed));
        }
    }
    /* a rank without the runtime says why it cannot join */
    const tbml_tee_identity *ids[3] = {&id, NULL, &id};
    CHECK(run_job(3, ids, keys, NULL, NULL, &a, &res) == 3);
    CHECK(has(&res, 1, "runs under the trusted runtime and this rank does not"));
    /* a peer measurement the manifest allows is accepted */
    char hex[65];
    tbml_hex(other.measurement, 32, hex);
    setenv(TBML_TEE_PEERS_ENV, hex, 1);
    const tbml_tee_identity *mixed[3] = {&id, &other, &id};
    int failed = run_job(3, mixed, keys, NULL, NULL, &a, &res);
    unsetenv(TBML_TEE_PEERS_ENV);
    /* rank 1 (other code) lists only itself and refuses its peers: allowed is one-way */
    CHECK(failed == 3);
    CHECK(has(&res, 1, "handshake refused rank 0: evidence for other code"));
    setenv(TBML_TEE_PEERS_ENV, hex, 1);
    tbml_hex(id.measurement, 32, hex);
    char both[140];
    snprintf(both, sizeof(both), "%s,%s", getenv(TBML_TEE_PEERS_ENV), hex);
    setenv(TBML_TEE_PEERS_ENV, both, 1);
    CHECK(run_job(3, mixed, keys, NULL, NULL, &a, &res) == 0);
    unsetenv(TBML_TEE_PEERS_ENV);
}

/* Simulated evidence proves nothing: without a job secret the job is refused; with another
 * job secret it is refused as before. */
static void test_secret_still_needed(void)
{
    static job_arg a;
    tbml_tee_identity id = ident(0x44);
    const tbml_tee_identity *ids[2] = {&id, &id};
    tbml_key_t *other;
    CHECK_OK(tbml_key_generate("job", &other));
    tbml_key_t *nokey[2] = {NULL, NULL}, *wrong[2] = {g_key, other};
    results res;
    setenv("TBML_DIST_KEYFILE", "", 1);
    CHECK(run_job(2, ids, nokey, NULL, NULL, &a, &res) == 2);
    CHECK_ST(res.st[0], TBML_E_KEY);
    CHECK(has(&res, 0, "simulated evidence proves nothing"));
    CHECK(run_job(2, ids, wrong, NULL, NULL, &a, &res) == 2);
    CHECK_ST(res.st[0], TBML_E_AUTH);
    CHECK(has(&res, 0, "handshake refused rank 1: it does not hold this job's secret"));
    tbml_key_free(other);
}

/* Captures rank 1's evidence to rank 0 in one job; in the next, puts it in place of the fresh one
 * (a replay from another transcript), or flips a bit in it. */
typedef struct {
    int mode; /* 0 capture, 1 replay, 2 flip */
    uint8_t saved[4096];
    size_t saved_size;
    int hits;
} ev_hook_arg;

static int ev_hook(tbml_local_world_t *w, tbml_local_msg *m, void *arg)
{
    (void)w;
    ev_hook_arg *h = arg;
    if (m->tag != TAG_EVIDENCE || m->src != 1 || m->dst != 0) return TBML_LOCAL_DELIVER;
    h->hits++;
    if (h->mode == 0 && m->size <= sizeof(h->saved)) {
        memcpy(h->saved, m->data, m->size);
        h->saved_size = m->size;
    } else if (h->mode == 1 && m->size == h->saved_size) {
        memcpy(m->data, h->saved, m->size);
    } else if (h->mode == 2) {
        m->data[m->size / 2] ^= 0x10;
    }
    return TBML_LOCAL_DELIVER;
}

static void test_replay_and_damage(void)
{
    static job_arg a;
    tbml_tee_identity id = ident(0x55);
    const tbml_tee_identity *ids[2] = {&id, &id};
    tbml_key_t *keys[2] = {g_key, g_key};
    results res;
    ev_hook_arg h;
    memset(&h, 0, sizeof(h));
    CHECK(run_job(2, ids, keys, ev_hook, &h, &a, &res) == 0);
    CHECK(h.hits == 1 && h.saved_size > 0);
    h.mode = 1;
    CHECK(run_job(2, ids, keys, ev_hook, &h, &a, &res) == 2);
    CHECK(h.hits == 2);
    CHECK_ST(res.st[0], TBML_E_AUTH);
    CHECK(has(&res, 0, "rank 0: handshake refused rank 1: evidence does not bind this handshake"));
    h.mode = 2;
    CHECK(run_job(2, ids, keys, ev_hook, &h, &a, &res) == 2);
    CHECK_ST(res.st[0], TBML_E_AUTH);
    CHECK(has(&res, 0, "rank 0: handshake refused rank 1: evidence does not verify"));
}

static int drop_hook(tbml_local_world_t *w, tbml_local_msg *m, void *arg)
{
    (void)w;
    const int *tag = arg;
    return m->tag == (uint32_t)*tag ? TBML_LOCAL_DROP : TBML_LOCAL_DELIVER;
}

/* Every rank's message with tag lost: each rank waits out its timeout and names its silent peer,
 * or reports the abort of the peer whose timeout came first, which names it. */
static void check_lost(int tag, const char *what)
{
    static job_arg a;
    tbml_tee_identity id = ident(0x77);
    const tbml_tee_identity *ids[2] = {&id, &id};
    tbml_key_t *keys[2] = {g_key, g_key};
    results res;
    CHECK(run_job(2, ids, keys, drop_hook, &tag, &a, &res) == 2);
    for (int r = 0; r < 2; r++) {
        char own[200], relayed[200];
        snprintf(
            own, sizeof(own),
            "rank %d: no %s from rank %d in 5 s: rank %d died, hung or is not part of this job", r,
            what, 1 - r, 1 - r);
        snprintf(relayed, sizeof(relayed),
                 "job aborted by rank %d: rank %d: no %s from rank %d in 5 s: rank %d died", 1 - r,
                 1 - r, what, r, r);
        CHECK_ST(res.st[r], TBML_E_NET);
        CHECK(has_either(&res, r, own, relayed));
    }
}

static void test_lost(void)
{
    check_lost(TAG_HELLO, "handshake");
    check_lost(TAG_EVIDENCE, "evidence");
}

int main(void)
{
    if (tbml_key_generate("job", &g_key)) return 1;
    test_channel();
    test_same_code();
    test_shared_channel();
    test_refused();
    test_secret_still_needed();
    test_replay_and_damage();
    test_lost();
    tbml_key_free(g_key);
    return check_done();
}
