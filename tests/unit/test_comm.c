/* The communicator on the local backend: collectives against a plain reference for many sizes and
 * rank counts, and the secure channel against a hostile network (the world's hook flips bits,
 * replays, reorders, redirects), wrong job secrets, and dead or hung ranks; a key shared from
 * rank 0. */
#include "check.h"

#include "tbml/comm.h"

#include <pthread.h>
#include <unistd.h>

static tbml_key_t *g_key;

static tbml_comm_options opts_with(size_t chunk, int threads, double timeout)
{
    tbml_comm_options o = {0};
    o.job_key = g_key;
    o.chunk_size = chunk;
    o.crypto_threads = threads;
    o.timeout_s = timeout;
    return o;
}

/* Runs fn on n ranks; returns the number of ranks that failed and keeps statuses/messages. */
typedef struct {
    tbml_status st[8];
    char msg[8][256];
} results;

static int run(int n, const tbml_comm_options *o, int per_rank, tbml_local_main fn, void *arg,
               tbml_local_hook hook, void *hook_arg, results *res)
{
    tbml_local_world_t *w;
    memset(res, 0, sizeof(*res));
    if (tbml_local_world_create(n, &w)) return -1;
    if (hook) tbml_local_world_set_hook(w, hook, hook_arg);
    if (tbml_local_run(w, o, per_rank, fn, arg, res->st, res->msg)) {
        tbml_local_world_free(w);
        return -1;
    }
    tbml_local_world_free(w);
    int failed = 0;
    for (int r = 0; r < n; r++)
        failed += res->st[r] != TBML_OK;
    return failed;
}

/* ---- allreduce against a plain reference -------------------------------------------------- */

typedef struct {
    size_t count;
    tbml_comm_dtype dt;
    int bad[8]; /* per rank: elements that differ from the reference */
} ar_arg;

/* Small integers, so every summation order gives the exact same float. */
static double value(int rank, size_t i)
{
    return (double)((int)((i * 7 + (size_t)rank * 13) % 61) - 30);
}

static tbml_status ar_main(tbml_comm_t *c, void *p)
{
    ar_arg *a = p;
    int me = tbml_comm_rank(c), n = tbml_comm_size(c);
    size_t es = a->dt == TBML_DT_F32 ? 4 : 8;
    uint8_t *buf = tbml_malloc(a->count * es + 1);
    for (size_t i = 0; i < a->count; i++) {
        double v = value(me, i);
        if (a->dt == TBML_DT_F32) ((float *)buf)[i] = (float)v;
        if (a->dt == TBML_DT_F64) ((double *)buf)[i] = v;
        if (a->dt == TBML_DT_I64) ((int64_t *)buf)[i] = (int64_t)v;
    }
    tbml_status st = tbml_comm_allreduce_sum(c, buf, a->count, a->dt);
    if (!st) {
        int bad = 0;
        for (size_t i = 0; i < a->count; i++) {
            double want = 0;
            for (int r = 0; r < n; r++)
                want += value(r, i);
            double got = a->dt == TBML_DT_F32   ? ((float *)buf)[i]
                         : a->dt == TBML_DT_F64 ? ((double *)buf)[i]
                                                : (double)((int64_t *)buf)[i];
            bad += got != want;
        }
        a->bad[me] = bad;
    }
    tbml_free(buf);
    return st;
}

static void test_allreduce(void)
{
    static const size_t counts[] = {0, 1, 2, 3, 5, 17, 1000, 22278, 100003};
    for (int n = 1; n <= 5; n++) {
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            for (int dt = TBML_DT_F32; dt <= TBML_DT_I64; dt++) {
                if (dt != TBML_DT_F32 && counts[k] > 1000) continue;
                /* small chunks make multi-chunk, windowed messages out of small buffers; chunks of
                 * whole elements are added as they open, others (1022 bytes) after the message */
                size_t chunk = (k % 2) ? (k % 4 == 3 ? 1022 : 1024) : 0;
                tbml_comm_options o = opts_with(chunk, (k % 3 == 0) ? -1 : 2, 20);
                ar_arg a = {counts[k], (tbml_comm_dtype)dt, {0}};
                results res;
                int failed = run(n, &o, 0, ar_main, &a, NULL, NULL, &res);
                CHECK(failed == 0);
                int bad = 0;
                for (int r = 0; r < n; r++)
                    bad += a.bad[r];
                if (failed || bad)
                    fprintf(stderr, "allreduce n=%d count=%zu dt=%d: failed=%d bad=%d (%s)\n", n,
                            counts[k], dt, failed, bad, res.msg[0]);
                CHECK(bad == 0);
            }
        }
    }
}

/* ---- all-to-all(v), broadcast, gather, barrier, point to point ---------------------------- */

static uint8_t pattern(int src, int dst, size_t i)
{
    return (uint8_t)(src * 31 + dst * 17 + i * 7 + (i >> 8));
}
static size_t a2a_size(int src, int dst, int variant)
{
    return (size_t)((src * 5 + dst * 3 + variant * 11) % 7) * (size_t)(variant * 997 + 1);
}

typedef struct {
    int variant;
    int bad[8];
} a2a_arg;

static tbml_status a2a_main(tbml_comm_t *c, void *p)
{
    a2a_arg *a = p;
    int me = tbml_comm_rank(c), n = tbml_comm_size(c);
    uint8_t *send[8] = {0}, *recv[8] = {0};
    size_t ssz[8], rsz[8];
    for (int d = 0; d < n; d++) {
        ssz[d] = a2a_size(me, d, a->variant);
        send[d] = tbml_malloc(ssz[d] + 1);
        for (size_t i = 0; i < ssz[d]; i++)
            send[d][i] = pattern(me, d, i);
    }
    tbml_status st = tbml_comm_alltoallv(c, (const void *const *)send, ssz, recv, rsz);
    if (!st) {
        int bad = 0;
        for (int s = 0; s < n; s++) {
            size_t want = a2a_size(s, me, a->variant);
            if (rsz[s] != want) {
                bad++;
                continue;
            }
            for (size_t i = 0; i < want; i++)
                bad += recv[s][i] != pattern(s, me, i);
        }
        a->bad[me] = bad;
    }
    /* fixed-size all-to-all on the same pattern (variant 4: a block of several side-copy pieces) */
    size_t block = a->variant == 4 ? ((size_t)600 << 10) + 5 : (size_t)a->variant * 301 + 3;
    uint8_t *sb = tbml_malloc(block * (size_t)n), *rb = tbml_calloc((size_t)n, block);
    for (int d = 0; d < n; d++)
        for (size_t i = 0; i < block; i++)
            sb[(size_t)d * block + i] = pattern(me, d, i);
    if (!st) st = tbml_comm_alltoall(c, sb, rb, block);
    if (!st)
        for (int s = 0; s < n; s++)
            for (size_t i = 0; i < block; i++)
                a->bad[me] += rb[(size_t)s * block + i] != pattern(s, me, i);
    for (int d = 0; d < n; d++) {
        tbml_free(send[d]);
        if (!st) tbml_free(recv[d]);
    }
    tbml_free(sb);
    tbml_free(rb);
    return st;
}

static void test_alltoall(void)
{
    for (int n = 1; n <= 5; n++) {
        for (int variant = 0; variant < 5; variant++) {
            tbml_comm_options o = opts_with(variant % 2 ? 512 : 0, variant == 3 ? -1 : 2, 20);
            a2a_arg a = {variant, {0}};
            results res;
            CHECK(run(n, &o, 0, a2a_main, &a, NULL, NULL, &res) == 0);
            int bad = 0;
            for (int r = 0; r < n; r++)
                bad += a.bad[r];
            if (bad) fprintf(stderr, "alltoall n=%d variant=%d: %d bad\n", n, variant, bad);
            CHECK(bad == 0);
        }
    }
}

typedef struct {
    int bad[8];
} misc_arg;

static tbml_status misc_main(tbml_comm_t *c, void *p)
{
    misc_arg *a = p;
    int me = tbml_comm_rank(c), n = tbml_comm_size(c);
    tbml_status st = TBML_OK;
    for (int root = 0; root < n && !st; root++) {
        size_t size = 5000 + (size_t)root;
        uint8_t *b = tbml_malloc(size);
        for (size_t i = 0; i < size; i++)
            b[i] = me == root ? pattern(root, 99, i) : 0;
        st = tbml_comm_bcast(c, root, b, size);
        for (size_t i = 0; !st && i < size; i++)
            a->bad[me] += b[i] != pattern(root, 99, i);
        tbml_free(b);
        /* bcast of a size only the root knows */
        uint8_t *ab = NULL;
        size_t asz = 0;
        if (me == root) {
            asz = 777 * (size_t)root;
            ab = tbml_malloc(asz + 1);
            for (size_t i = 0; i < asz; i++)
                ab[i] = pattern(root, 98, i);
        }
        if (!st) st = tbml_comm_bcast_alloc(c, root, &ab, &asz);
        if (!st) {
            a->bad[me] += asz != 777 * (size_t)root;
            for (size_t i = 0; i < asz; i++)
                a->bad[me] += ab[i] != pattern(root, 98, i);
        }
        tbml_free(ab);
        /* gather */
        uint8_t mine[300];
        size_t msz = (size_t)(me * 50 + 7);
        for (size_t i = 0; i < msz; i++)
            mine[i] = pattern(me, root, i);
        uint8_t *rb[8] = {0};
        size_t rs[8] = {0};
        if (!st) st = tbml_comm_gather(c, root, mine, msz, rb, rs);
        if (!st && me == root) {
            for (int s = 0; s < n; s++) {
                a->bad[me] += rs[s] != (size_t)(s * 50 + 7);
                for (size_t i = 0; i < rs[s] && rs[s] == (size_t)(s * 50 + 7); i++)
                    a->bad[me] += rb[s][i] != pattern(s, root, i);
                tbml_free(rb[s]);
            }
        }
        if (!st) st = tbml_comm_barrier(c);
    }
    /* point to point around the ring, and a size the receiver did not expect */
    if (!st && n > 1) {
        int right = (me + 1) % n, left = (me + n - 1) % n;
        uint32_t out = (uint32_t)me * 1000, in = 0;
        st = tbml_comm_sendrecv(c, right, 7, &out, 4, left, 7, &in, 4);
        if (!st) a->bad[me] += in != (uint32_t)left * 1000;
    }
    return st;
}

static void test_misc(void)
{
    for (int n = 1; n <= 5; n++) {
        tbml_comm_options o = opts_with(n % 2 ? 1000 : 0, 2, 20);
        misc_arg a = {{0}};
        results res;
        int failed = run(n, &o, 0, misc_main, &a, NULL, NULL, &res);
        if (failed) fprintf(stderr, "misc n=%d: %s\n", n, res.msg[0]);
        CHECK(failed == 0);
        int bad = 0;
        for (int r = 0; r < n; r++)
            bad += a.bad[r];
        CHECK(bad == 0);
    }
}

/* ---- one key for every rank, unwrapped once --------------------------------------------- */

typedef struct {
    int fail;  /* rank 0's load fails */
    int loads; /* calls of load, by any rank */
    pthread_mutex_t lock;
    tbml_status st[8];
    char msg[8][256];
    uint8_t bytes[8][TBML_KEY_SIZE];
    char name[8][80];
} share_arg;

static tbml_status share_load(void *p, tbml_key_t **out)
{
    share_arg *a = p;
    pthread_mutex_lock(&a->lock);
    a->loads++;
    pthread_mutex_unlock(&a->lock);
    if (a->fail) return tbml_error(TBML_E_PASSWORD, "data.key: wrong password for key 'data'");
    uint8_t k[TBML_KEY_SIZE];
    for (int i = 0; i < TBML_KEY_SIZE; i++)
        k[i] = (uint8_t)(i * 37 + 5);
    return tbml_key_from_bytes("data", k, out);
}

static tbml_status share_main(tbml_comm_t *c, void *p)
{
    share_arg *a = p;
    int me = tbml_comm_rank(c);
    tbml_key_t *key = NULL;
    /* outcomes are kept, not returned: a failing rank would abort the others mid-broadcast */
    a->st[me] = tbml_comm_share_key(c, share_load, a, &key);
    if (a->st[me]) {
        snprintf(a->msg[me], sizeof(a->msg[me]), "%s", tbml_errmsg());
        return TBML_OK;
    }
    memcpy(a->bytes[me], tbml_key_bytes(key), TBML_KEY_SIZE);
    snprintf(a->name[me], sizeof(a->name[me]), "%s", tbml_key_name(key));
    tbml_key_free(key);
    return tbml_comm_barrier(c);
}

static void test_share_key(void)
{
    uint8_t want[TBML_KEY_SIZE];
    for (int i = 0; i < TBML_KEY_SIZE; i++)
        want[i] = (uint8_t)(i * 37 + 5);
    for (int n = 1; n <= 4; n++)
        for (int fail = 0; fail <= 1; fail++) {
            tbml_comm_options o = opts_with(0, 1, 20);
            share_arg a;
            memset(&a, 0, sizeof(a));
            a.fail = fail;
            pthread_mutex_init(&a.lock, NULL);
            results res;
            CHECK(run(n, &o, 0, share_main, &a, NULL, NULL, &res) == 0);
            CHECK(a.loads == 1); /* rank 0 alone unwraps */
            for (int r = 0; r < n; r++) {
                if (fail) {
                    CHECK(a.st[r] == TBML_E_PASSWORD);
                    CHECK(strstr(a.msg[r], "wrong password for key 'data'") != NULL);
                } else {
                    CHECK(a.st[r] == TBML_OK);
                    CHECK(memcmp(a.bytes[r], want, TBML_KEY_SIZE) == 0);
                    CHECK(strcmp(a.name[r], "data") == 0);
                }
            }
            pthread_mutex_destroy(&a.lock);
        }
    /* no communicator: the plain load */
    share_arg a;
    memset(&a, 0, sizeof(a));
    pthread_mutex_init(&a.lock, NULL);
    tbml_key_t *key = NULL;
    CHECK_OK(tbml_comm_share_key(NULL, share_load, &a, &key));
    CHECK(a.loads == 1 && key && memcmp(tbml_key_bytes(key), want, TBML_KEY_SIZE) == 0);
    tbml_key_free(key);
    pthread_mutex_destroy(&a.lock);
}

static tbml_status size_mismatch_main(tbml_comm_t *c, void *p)
{
    (void)p;
    uint8_t b[16] = {0};
    if (tbml_comm_rank(c) == 0) return tbml_comm_send(c, 1, 3, b, 12);
    return tbml_comm_recv(c, 0, 3, b, 16);
}

static void test_size_mismatch(void)
{
    tbml_comm_options o = opts_with(0, -1, 5);
    results res;
    run(2, &o, 0, size_mismatch_main, NULL, NULL, NULL, &res);
    CHECK_ST(res.st[1], TBML_E_FORMAT);
    CHECK(strstr(res.msg[1], "rank 0 sent 12 bytes") != NULL);
}

/* ---- a hostile network --------------------------------------------------------------------- */

/* The hook acts on the k-th sealed chunk (tag >= match_tag_min) from src to dst. */
typedef struct {
    const char *action; /* "flip", "replay", "reorder", "redirect", "drop" */
    int src, dst, redirect_to;
    int seen;
    int target; /* act on this occurrence */
    size_t flip_at;
    int held;
    tbml_local_msg hold;
    uint8_t hold_buf[4096];
    int acted;
    uint32_t only_tag; /* 0: any */
} fault;

static int fault_hook(tbml_local_world_t *w, tbml_local_msg *m, void *arg)
{
    fault *f = arg;
    if (m->tag >= TBML_COMM_TAG_MAX + 6) return TBML_LOCAL_DELIVER; /* leave the handshake alone */
    if (m->src != f->src || m->dst != f->dst) return TBML_LOCAL_DELIVER;
    if (f->only_tag && m->tag != f->only_tag) return TBML_LOCAL_DELIVER;
    int k = f->seen++;
    if (f->held && k == f->target + 1) {
        /* reorder: the held message goes after this one */
        tbml_local_world_inject(w, m);
        tbml_local_world_inject(w, &f->hold);
        f->held = 0;
        return TBML_LOCAL_DROP;
    }
    if (k != f->target) return TBML_LOCAL_DELIVER;
    f->acted = 1;
    if (strcmp(f->action, "flip") == 0) {
        m->data[f->flip_at % m->size] ^= 0x10;
    } else if (strcmp(f->action, "replay") == 0) {
        tbml_local_world_inject(w, m);
        /* the original and then the same bytes again */
    } else if (strcmp(f->action, "reorder") == 0 && m->size <= sizeof(f->hold_buf)) {
        memcpy(f->hold_buf, m->data, m->size);
        f->hold = *m;
        f->hold.data = f->hold_buf;
        f->held = 1;
        return TBML_LOCAL_DROP;
    } else if (strcmp(f->action, "redirect") == 0) {
        m->dst = f->redirect_to;
    } else if (strcmp(f->action, "drop") == 0) {
        return TBML_LOCAL_DROP;
    }
    return TBML_LOCAL_DELIVER;
}

/* A job that writes its "result" only when every step succeeded. */
typedef struct {
    int wrote[8];
} job_arg;

static tbml_status job_main(tbml_comm_t *c, void *p)
{
    job_arg *a = p;
    int me = tbml_comm_rank(c), n = tbml_comm_size(c);
    tbml_status st = TBML_OK;
    for (int round = 0; round < 3 && !st; round++) {
        float v[600];
        for (int i = 0; i < 600; i++)
            v[i] = (float)(me + i + round);
        st = tbml_comm_allreduce_f32(c, v, 600);
        uint8_t *send[8], *recv[8] = {0};
        size_t ssz[8], rsz[8];
        for (int d = 0; d < n; d++) {
            ssz[d] = 200;
            send[d] = tbml_malloc(200);
            memset(send[d], me + d, 200);
        }
        if (!st) st = tbml_comm_alltoallv(c, (const void *const *)send, ssz, recv, rsz);
        for (int d = 0; d < n; d++) {
            tbml_free(send[d]);
            if (!st) tbml_free(recv[d]);
        }
    }
    /* results are committed only after a last collective, which no rank passes unless every rank
     * received everything intact */
    if (!st) st = tbml_comm_barrier(c);
    if (!st) a->wrote[me] = 1;
    return st;
}

static void check_fault(const char *action, int n, int src, int dst, int redirect_to, int target,
                        const char *expect_in_msg, uint32_t only_tag)
{
    fault f = {action, src, dst, redirect_to, 0, target, 0, 0, {0}, {0}, 0, only_tag};
    f.flip_at = 45 + (size_t)target * 13; /* inside the ciphertext */
    tbml_comm_options o = opts_with(256, target % 2 ? -1 : 2, 5);
    job_arg a = {{0}};
    results res;
    int failed = run(n, &o, 0, job_main, &a, fault_hook, &f, &res);
    CHECK(f.acted);
    CHECK(failed == n); /* every rank stops */
    if (!f.acted || failed != n)
        fprintf(stderr, "%s n=%d %d->%d target %d: acted=%d failed=%d\n", action, n, src, dst,
                target, f.acted, failed);
    int wrote = 0, auth = 0, named = 0;
    char who[32];
    snprintf(who, sizeof(who), "from rank %d", src);
    for (int r = 0; r < n; r++) {
        wrote += a.wrote[r];
        if (res.st[r] == TBML_E_AUTH) {
            auth++;
            named += strstr(res.msg[r], who) != NULL && strstr(res.msg[r], expect_in_msg) != NULL;
        }
    }
    if (!auth || !named)
        for (int r = 0; r < n; r++)
            fprintf(stderr, "%s: rank %d: %s: %s\n", action, r, tbml_strerror(res.st[r]),
                    res.msg[r]);
    CHECK(wrote == 0);
    CHECK(auth >= 1);
    CHECK(named >= 1);
}

static void test_faults(void)
{
    for (int target = 0; target < 6; target++) {
        check_fault("flip", 2, 0, 1, 0, target, "tampered", 0);
        check_fault("flip", 3, 2, 0, 0, target, "integrity error", 0);
        check_fault("replay", 3, 1, 2, 0, target, "replayed", 0);
        check_fault("reorder", 2, 1, 0, 0, target, "out of order", 0);
    }
    /* all-to-all traffic on 3 ranks: a message for rank 1 delivered to rank 2 */
    for (int target = 0; target < 3; target++)
        check_fault("redirect", 3, 0, 1, 2, target, "misdirected", TBML_COMM_TAG_MAX + 3);
    /* a dropped message: the next one is out of order */
    for (int target = 0; target < 4; target++)
        check_fault("drop", 2, 0, 1, 0, target, "out of order", 0);
    /* a bit flipped in the header fields */
    for (size_t at = 0; at < 40; at += 3) {
        fault f = {"flip", 0, 1, 0, 0, 2, at, 0, {0}, {0}, 0, 0};
        tbml_comm_options o = opts_with(256, 2, 5);
        job_arg a = {{0}};
        results res;
        int failed = run(2, &o, 0, job_main, &a, fault_hook, &f, &res);
        CHECK(f.acted);
        CHECK(failed == 2);
        CHECK(a.wrote[0] + a.wrote[1] == 0);
        CHECK(res.st[1] == TBML_E_AUTH || res.st[0] == TBML_E_AUTH);
        if (failed != 2 || res.st[1] != TBML_E_AUTH)
            fprintf(stderr, "header flip at %zu: %s / %s\n", at, res.msg[0], res.msg[1]);
    }
}

/* ---- the handshake ------------------------------------------------------------------------- */

static tbml_status noop_main(tbml_comm_t *c, void *p)
{
    (void)p;
    return tbml_comm_barrier(c);
}

static void test_handshake(void)
{
    tbml_key_t *other;
    CHECK_OK(tbml_key_generate("job", &other));
    /* rank 2 holds another secret (same name): refused by everyone */
    tbml_comm_options o[4];
    for (int r = 0; r < 4; r++)
        o[r] = opts_with(0, 1, 5);
    o[2].job_key = other;
    results res;
    CHECK(run(4, o, 1, noop_main, NULL, NULL, NULL, &res) == 4);
    /* Each rank refuses rank 2 itself, unless an abort reached it first: rank 2's own refusal of
     * a rank ("rank 2: handshake refused rank R"), or another rank's of rank 2, relayed. */
    int refused = 0;
    for (int r = 0; r < 4; r++) {
        const char *m = res.msg[r];
        int own = res.st[r] == TBML_E_AUTH &&
                  strstr(m, r == 2 ? "handshake refused rank" : "handshake refused rank 2");
        int relayed =
            res.st[r] == TBML_E_NET && strstr(m, "job aborted by rank") &&
            (strstr(m, "handshake refused rank 2") || strstr(m, "rank 2: handshake refused rank"));
        if (!own && !relayed) fprintf(stderr, "handshake, rank %d: %s\n", r, m);
        CHECK(own || relayed);
        refused += own;
    }
    CHECK(refused >= 1);
    /* no secret at all */
    o[2].job_key = NULL;
    setenv("TBML_DIST_KEYFILE", "", 1);
    CHECK(run(4, o, 1, noop_main, NULL, NULL, NULL, &res) == 4);
    CHECK_ST(res.st[2], TBML_E_KEY);
    for (int r = 0; r < 4; r++)
        o[r] = opts_with(0, 1, 5);
    /* every rank with the right secret: fine, and they agree on the job id */
    CHECK(run(4, o, 1, noop_main, NULL, NULL, NULL, &res) == 0);
    tbml_key_free(other);
}

static int hello_flip(tbml_local_world_t *w, tbml_local_msg *m, void *arg)
{
    (void)w;
    int *done = arg;
    if (m->tag == TBML_COMM_TAG_MAX + 7 && m->src == 1 && m->dst == 0 && !*done) {
        m->data[60] ^= 1; /* inside the X25519 public key */
        *done = 1;
    }
    return TBML_LOCAL_DELIVER;
}

static void test_hello_tamper(void)
{
    int done = 0;
    tbml_comm_options o = opts_with(0, 1, 5);
    results res;
    CHECK(run(2, &o, 0, noop_main, NULL, hello_flip, &done, &res) == 2);
    CHECK(done);
    /* the two ranks hashed different transcripts, so each refuses the other, unless the other's
     * abort reached it first */
    int refused = 0;
    for (int r = 0; r < 2; r++) {
        char own[64], relayed[96];
        snprintf(own, sizeof(own), "handshake refused rank %d", 1 - r);
        snprintf(relayed, sizeof(relayed),
                 "job aborted by rank %d: rank %d: handshake refused rank %d", 1 - r, 1 - r, r);
        int mine = res.st[r] == TBML_E_AUTH && strstr(res.msg[r], own);
        if (!mine && !strstr(res.msg[r], relayed))
            fprintf(stderr, "hello tamper, rank %d: %s\n", r, res.msg[r]);
        CHECK(mine || strstr(res.msg[r], relayed));
        refused += mine;
    }
    CHECK(refused >= 1);
}

/* ---- dead and hung ranks ------------------------------------------------------------------- */

typedef struct {
    int victim;
    int hang_s; /* 0: the victim leaves at once, as a dead rank would */
} dead_arg;

static tbml_status dead_main(tbml_comm_t *c, void *p)
{
    dead_arg *a = p;
    if (tbml_comm_rank(c) == a->victim) {
        if (a->hang_s) sleep((unsigned)a->hang_s);
        /* silently gone: no abort, no messages */
        return TBML_E_INTERNAL;
    }
    float v[5000] = {0};
    for (int i = 0; i < 20; i++) {
        tbml_status st = tbml_comm_allreduce_f32(c, v, 5000);
        if (st) return st;
    }
    return TBML_OK;
}

/* the victim's thread must not announce its death: the others have to notice by themselves */
static tbml_status dead_main_silent(tbml_comm_t *c, void *p)
{
    dead_arg *a = p;
    if (tbml_comm_rank(c) == a->victim) {
        if (a->hang_s) sleep((unsigned)a->hang_s);
        return TBML_LOCAL_VANISH; /* as if killed: no result, no abort, no goodbye */
    }
    return dead_main(c, p);
}

static void test_dead_rank(void)
{
    /* On 3 and 4 ranks a survivor may time out on another survivor that waits on the victim: the
     * notices still lead every message to the victim. */
    for (int n = 2; n <= 4; n++)
        for (int hang = 0; hang <= 3; hang += 3) {
            /* 2 s, not less: the "waiting for" notices go out at half the timeout, and on a loaded
             * 2-core machine a 0.5 s notice could lose the race with a survivor's own timeout */
            dead_arg a = {1, hang};
            tbml_comm_options o = opts_with(0, 1, 2.0);
            results res;
            double t0 = tbml_now();
            int failed = run(n, &o, 0, dead_main_silent, &a, NULL, NULL, &res);
            double dt = tbml_now() - t0;
            (void)failed;
            int net = 0, named = 0;
            for (int r = 0; r < n; r++) {
                if (r == 1) continue;
                net += res.st[r] == TBML_E_NET;
                named += strstr(res.msg[r], "rank 1") != NULL;
            }
            if (net != n - 1)
                for (int r = 0; r < n; r++)
                    fprintf(stderr, "dead: rank %d: %s\n", r, res.msg[r]);
            CHECK(net == n - 1);
            /* each survivor names rank 1: directly, through the "waiting for" notices, or in the
             * abort message of the rank that timed out first */
            CHECK(named == n - 1);
            /* a liveness bound, not a speed check: far above the 2 s timeout */
            CHECK(dt < 30);
        }
}

int main(void)
{
    if (tbml_key_generate("job", &g_key)) return 1;
    test_allreduce();
    test_alltoall();
    test_misc();
    test_share_key();
    test_size_mismatch();
    test_faults();
    test_handshake();
    test_hello_tamper();
    test_dead_rank();
    tbml_key_free(g_key);
    return check_done();
}
