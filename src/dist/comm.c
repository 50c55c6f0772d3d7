/* The secure channel under every communicator: the handshake that gives each direction of each
 * pair of ranks its own AES-256-GCM key, sealed chunked messages with AAD that binds job, tag,
 * sender, receiver, sequence number and chunk, and the pipelined exchange engine that keeps the
 * crypto workers busy while chunks are on the wire (docs/protocols/dist-channel.md). */
#include "dist_internal.h"

#include "tbml/crypto.h"
#include "tbml/ecc.h"
#include "tbml/tee.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- wire format --------------------------------------------------------------------------- */

#define CHUNK_MAGIC "TBMC"
#define CHUNK_VERSION 1
#define HDR_SIZE 40
#define TAG_SIZE TBML_AEAD_TAG_SIZE
#define AAD_SIZE (16 + HDR_SIZE)
#define WINDOW 4        /* chunks in flight per stream */
#define WAIT_NS 1000000 /* longest sleep waiting for a busy worker (it wakes us when done) */
#define POOL_MAX 32     /* window slots kept for the next exchange (32 x 256 KiB by default) */
#define SEQ_MAX ((uint64_t)1 << 40)
#define CHUNKS_MAX ((uint64_t)1 << 24)

/* One chunk's header, sent in the clear and authenticated as AAD (the receiver rebuilds it from
 * what it expects, so only an exact match opens). */
typedef struct {
    uint8_t last;
    uint32_t tag, sender, receiver, chunk;
    uint64_t seq, total;
} chunk_hdr;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void hdr_write(const chunk_hdr *h, uint8_t out[HDR_SIZE])
{
    memcpy(out, CHUNK_MAGIC, 4);
    out[4] = CHUNK_VERSION;
    out[5] = h->last;
    out[6] = out[7] = 0;
    put32(out + 8, h->tag);
    put32(out + 12, h->sender);
    put32(out + 16, h->receiver);
    put32(out + 20, h->chunk);
    put64(out + 24, h->seq);
    put64(out + 32, h->total);
}

static int hdr_read(const uint8_t in[HDR_SIZE], chunk_hdr *h)
{
    if (memcmp(in, CHUNK_MAGIC, 4) != 0 || in[4] != CHUNK_VERSION) return -1;
    h->last = in[5];
    h->tag = get32(in + 8);
    h->sender = get32(in + 12);
    h->receiver = get32(in + 16);
    h->chunk = get32(in + 20);
    h->seq = get64(in + 24);
    h->total = get64(in + 32);
    return 0;
}

/* Unique per directional key: tag (32 bits) || sequence (40 bits) || chunk (24 bits). */
static void make_nonce(const chunk_hdr *h, uint8_t nonce[12])
{
    put32(nonce, h->tag);
    for (int i = 0; i < 5; i++)
        nonce[4 + i] = (uint8_t)(h->seq >> (8 * i));
    for (int i = 0; i < 3; i++)
        nonce[9 + i] = (uint8_t)(h->chunk >> (8 * i));
}

/* ---- crypto workers ------------------------------------------------------------------------ */

enum { OP_SEAL = 1, OP_OPEN = 2 };

typedef struct task {
    int op;
    int reduce; /* OP_OPEN: 0, or a tbml_comm_dtype: add the plaintext into acc */
    uint8_t *acc;
    const uint8_t *key; /* points into the comm's key table: stable, so workers cache contexts */
    uint8_t nonce[12];
    uint8_t aad[AAD_SIZE];
    const uint8_t *in;
    uint8_t *out;
    size_t size;
    uint8_t *tag;
    tbml_status st;
    atomic_int done;
    struct task *next;
} task;

/* A worker's AES-GCM contexts, one per key it has used (a handful of peers), and the buffer it
 * opens chunks into before adding them to a reduction (one chunk: stays in the core's cache). */
#define CACHE_SIZE 16
typedef struct {
    const uint8_t *key[CACHE_SIZE];
    tbml_aead_t *ctx[CACHE_SIZE];
    int next;
    uint8_t *plain;
    size_t plain_cap;
} ctx_cache;

static tbml_status cache_get(ctx_cache *cc, const uint8_t *key, tbml_aead_t **out)
{
    for (int i = 0; i < CACHE_SIZE; i++) {
        if (cc->key[i] == key && cc->ctx[i]) {
            *out = cc->ctx[i];
            return TBML_OK;
        }
    }
    int slot = cc->next++ % CACHE_SIZE;
    tbml_aead_free(cc->ctx[slot]);
    cc->ctx[slot] = NULL;
    cc->key[slot] = NULL;
    tbml_status st = tbml_aead_create(key, &cc->ctx[slot]);
    if (st) return st;
    cc->key[slot] = key;
    *out = cc->ctx[slot];
    return TBML_OK;
}

static void cache_clear(ctx_cache *cc)
{
    for (int i = 0; i < CACHE_SIZE; i++)
        tbml_aead_free(cc->ctx[i]);
    if (cc->plain) tbml_wipe(cc->plain, cc->plain_cap); /* the last chunk's plaintext */
    tbml_free(cc->plain);
    memset(cc, 0, sizeof(*cc));
}

static size_t dtype_size(int dt)
{
    return dt == TBML_DT_F32 ? 4 : dt == TBML_DT_F64 || dt == TBML_DT_I64 ? 8 : 0;
}

static void task_run(task *tk, ctx_cache *cc, int plain)
{
    tbml_aead_t *a;
    tbml_status st = TBML_OK;
    if (plain) {
        /* the bench's insecure mode: same framing and pipeline, no cipher */
        if (tk->reduce)
            dist_reduce_sum(tk->acc, tk->in, tk->size / dtype_size(tk->reduce),
                            (tbml_comm_dtype)tk->reduce);
        else if (tk->size)
            memcpy(tk->out, tk->in, tk->size);
        if (tk->op == OP_SEAL) memset(tk->tag, 0, TAG_SIZE);
    } else {
        st = cache_get(cc, tk->key, &a);
        if (!st && tk->op == OP_SEAL) {
            st = tbml_aead_seal_with(a, tk->nonce, tk->aad, AAD_SIZE, tk->in, tk->size, tk->out,
                                     tk->tag);
        } else if (!st && tk->reduce) {
            /* open into this thread's buffer, add only what authenticated (a failed open wipes
             * the buffer and leaves acc alone) */
            if (cc->plain_cap < tk->size) {
                tbml_free(cc->plain);
                cc->plain = tbml_malloc(tk->size);
                cc->plain_cap = tk->size;
            }
            st = tbml_aead_open_with(a, tk->nonce, tk->aad, AAD_SIZE, tk->in, tk->size, tk->tag,
                                     cc->plain);
            if (!st)
                dist_reduce_sum(tk->acc, cc->plain, tk->size / dtype_size(tk->reduce),
                                (tbml_comm_dtype)tk->reduce);
        } else if (!st) {
            st = tbml_aead_open_with(a, tk->nonce, tk->aad, AAD_SIZE, tk->in, tk->size, tk->tag,
                                     tk->out);
        }
    }
    tk->st = st;
    atomic_store_explicit(&tk->done, 1, memory_order_release);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued */
    pthread_cond_t done_cv; /* a task finished */
    int inflight;           /* dispatched and not finished */
    task *head, *tail;
    int stop;
    int plain;
    int nthreads;
    pthread_t *threads;
} workers;

static void *worker_main(void *arg)
{
    workers *w = arg;
    ctx_cache cc = {0};
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head) break;
        task *tk = w->head;
        w->head = tk->next;
        if (!w->head) w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        task_run(tk, &cc, w->plain);
        pthread_mutex_lock(&w->mu);
        w->inflight--;
        pthread_cond_broadcast(&w->done_cv);
    }
    pthread_mutex_unlock(&w->mu);
    cache_clear(&cc);
    return NULL;
}

/* ---- the communicator ---------------------------------------------------------------------- */

typedef struct {
    uint32_t tag;
    uint64_t send_seq, recv_seq;
} seq_entry;

typedef struct {
    seq_entry *e;
    size_t n, cap;
} seq_table;

struct tbml_comm {
    dist_transport *t;
    int rank, size;
    uint8_t job_id[16];
    uint8_t *keys; /* secure memory: [peer][2][32], 0 = to peer, 1 = from peer */
    size_t keys_size;
    seq_table *seq; /* per peer */
    double timeout;
    size_t chunk;
    int plain;
    workers w;
    ctx_cache cc;       /* the calling thread's contexts when there are no workers */
    uint8_t notice[8];  /* the last "waiting for" notice sent (its sends may still be in flight) */
    void **notice_reqs; /* per peer */
    uint8_t *scratch;   /* grow-only buffer for collectives (the allreduce's incoming segment) */
    size_t scratch_size;
    /* free full-size window slots (ciphertext only), reused across calls */
    uint8_t *pool[POOL_MAX];
    int npool;
    int broken;
    tbml_status broken_st;
    char broken_msg[512];
};

static seq_entry *seq_find(tbml_comm_t *c, int peer, uint32_t tag)
{
    seq_table *t = &c->seq[peer];
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].tag == tag) return &t->e[i];
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 8;
        t->e = tbml_realloc(t->e, t->cap * sizeof(*t->e));
    }
    t->e[t->n] = (seq_entry){tag, 0, 0};
    return &t->e[t->n++];
}

static const uint8_t *key_to(const tbml_comm_t *c, int peer)
{
    return c->keys + (size_t)peer * 64;
}
static const uint8_t *key_from(const tbml_comm_t *c, int peer)
{
    return c->keys + (size_t)peer * 64 + 32;
}

/* Marks c broken with the current error message, so every later call fails the same way. */
static tbml_status comm_break(tbml_comm_t *c, tbml_status st)
{
    if (!c->broken) {
        c->broken = 1;
        c->broken_st = st;
        snprintf(c->broken_msg, sizeof(c->broken_msg), "%s", tbml_errmsg());
    }
    return st;
}

static tbml_status comm_check(tbml_comm_t *c)
{
    if (c->broken)
        return tbml_error(c->broken_st, "%s (the communicator failed earlier)", c->broken_msg);
    return TBML_OK;
}

static void dispatch(tbml_comm_t *c, task *tk)
{
    atomic_store_explicit(&tk->done, 0, memory_order_relaxed);
    tk->next = NULL;
    /* small chunks cost less to seal here than to hand to another thread */
    if (c->w.nthreads == 0 || tk->size < 32768) {
        task_run(tk, &c->cc, c->plain);
        return;
    }
    pthread_mutex_lock(&c->w.mu);
    if (c->w.tail)
        c->w.tail->next = tk;
    else
        c->w.head = tk;
    c->w.tail = tk;
    c->w.inflight++;
    pthread_cond_signal(&c->w.cv);
    pthread_mutex_unlock(&c->w.mu);
}

/* Called when the exchange made no progress: rather than spin (and take a core from the crypto
 * workers, which matters when ranks share a machine), run a queued task here, else sleep until a
 * worker finishes one, else back off while the transport has nothing (may_wait 0: only run a
 * queued task). Returns 1 if it did work. */
static int help_or_wait(tbml_comm_t *c, unsigned *round, int may_wait)
{
    if (c->w.nthreads == 0) {
        if (may_wait) dist_backoff(round);
        return 0;
    }
    pthread_mutex_lock(&c->w.mu);
    task *tk = c->w.head;
    if (tk) {
        c->w.head = tk->next;
        if (!c->w.head) c->w.tail = NULL;
        pthread_mutex_unlock(&c->w.mu);
        task_run(tk, &c->cc, c->plain);
        pthread_mutex_lock(&c->w.mu);
        c->w.inflight--;
        pthread_cond_broadcast(&c->w.done_cv);
        pthread_mutex_unlock(&c->w.mu);
        return 1;
    }
    if (!may_wait) {
        pthread_mutex_unlock(&c->w.mu);
        return 0;
    }
    if (c->w.inflight > 0) {
        /* Wait for a worker to finish a chunk (it wakes us), at most WAIT_NS. Waking sooner
         * just to poll the transport would take the core from the worker when the rank's
         * threads share their cores, and any chunk that came meanwhile would queue behind the
         * busy workers anyway. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_NS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->w.done_cv, &c->w.mu, &ts);
        pthread_mutex_unlock(&c->w.mu);
        *round = 0;
        return 0;
    }
    pthread_mutex_unlock(&c->w.mu);
    dist_backoff(round);
    return 0;
}

static int task_done(task *tk)
{
    return atomic_load_explicit(&tk->done, memory_order_acquire);
}

void dist_backoff(unsigned *round)
{
    unsigned r = (*round)++;
    if (r < 64) return;
    if (r < 256) {
        sched_yield();
        return;
    }
    unsigned us = r < 512 ? 20 : r < 1024 ? 100 : 200;
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

/* ---- the exchange engine ------------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t cap;
    void *req;
    int busy; /* sealing, or posted and not yet complete */
    int sealed;
    task tk;
} slot;

typedef struct {
    int peer;
    uint32_t tag;
    uint64_t seq, total, nch;
    uint64_t next_seal, next_post, next_done;
    const uint8_t *data;
    slot s[WINDOW];
    double since; /* last progress, for the timeout */
} send_stream;

typedef struct {
    dist_recv_spec *spec;
    uint64_t seq, total, nch; /* total/nch known after the first chunk */
    int known;
    uint8_t *dest;
    uint64_t next_recv, next_done;
    slot s[WINDOW];
    uint8_t wire_hdr[WINDOW][HDR_SIZE];
    double since;
    int reduce; /* 0 or the tbml_comm_dtype each chunk is added as (dist_exchange_ex) */
} recv_stream;

static uint64_t nchunks(uint64_t total, size_t chunk)
{
    return total == 0 ? 1 : (total + chunk - 1) / chunk;
}

static size_t chunk_len(uint64_t total, size_t chunk, uint64_t idx)
{
    uint64_t off = idx * chunk;
    return (size_t)(total - off < chunk ? total - off : chunk);
}

/* Window slots hold ciphertext only. Full-size ones (a whole chunk) come from a pool kept across
 * calls: a fresh buffer per exchange would cost page faults and heap trimming every time. */
static size_t slot_full(const tbml_comm_t *c)
{
    return HDR_SIZE + c->chunk + TAG_SIZE;
}

static void slot_reserve(tbml_comm_t *c, slot *s, size_t need)
{
    if (s->cap >= need) return;
    tbml_free(s->buf);
    if (need <= slot_full(c) && c->npool > 0) {
        s->buf = c->pool[--c->npool];
        s->cap = slot_full(c);
        return;
    }
    /* anything up to a chunk gets a full slot, so that it can go back to the pool */
    s->cap = need <= slot_full(c) ? slot_full(c) : need;
    s->buf = tbml_malloc(s->cap);
}

static void slot_release(tbml_comm_t *c, slot *s)
{
    if (s->buf && s->cap == slot_full(c) && c->npool < POOL_MAX)
        c->pool[c->npool++] = s->buf;
    else
        tbml_free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

static void make_aad(const tbml_comm_t *c, const chunk_hdr *h, uint8_t aad[AAD_SIZE])
{
    memcpy(aad, c->job_id, 16);
    hdr_write(h, aad + 16);
}

/* Says what went wrong with a chunk from src that did not open: compares what came (wire) with
 * what was expected, so the message names replay, reordering, misdirection or tampering. */
static tbml_status diagnose(tbml_comm_t *c, int src, const chunk_hdr *want, const uint8_t *wire_hdr)
{
    chunk_hdr got;
    const char *what = "was tampered with (bad authentication tag)";
    char buf[160];
    if (hdr_read(wire_hdr, &got) != 0) {
        what = "has a damaged header";
    } else if ((int)got.receiver != c->rank) {
        snprintf(buf, sizeof(buf), "was misdirected (addressed to rank %u)", got.receiver);
        what = buf;
    } else if ((int)got.sender != src) {
        snprintf(buf, sizeof(buf), "claims to come from rank %u", got.sender);
        what = buf;
    } else if (got.tag != want->tag) {
        what = "has the wrong tag";
    } else if (got.seq < want->seq || (got.seq == want->seq && got.chunk < want->chunk)) {
        snprintf(buf, sizeof(buf), "was replayed (sequence %llu.%u, expected %llu.%u)",
                 (unsigned long long)got.seq, got.chunk, (unsigned long long)want->seq,
                 want->chunk);
        what = buf;
    } else if (got.seq != want->seq || got.chunk != want->chunk) {
        snprintf(buf, sizeof(buf),
                 "is out of order (sequence %llu.%u, expected %llu.%u): reordered or dropped",
                 (unsigned long long)got.seq, got.chunk, (unsigned long long)want->seq,
                 want->chunk);
        what = buf;
    } else {
        uint8_t w[HDR_SIZE];
        hdr_write(want, w);
        if (memcmp(w, wire_hdr, HDR_SIZE) != 0) what = "was tampered with (its header was changed)";
    }
    return tbml_error(
        TBML_E_AUTH,
        "rank %d: integrity error on a message from rank %d (tag %u): it %s; aborting the job",
        c->rank, src, want->tag, what);
}

static tbml_status recv_stream_poll(tbml_comm_t *c, recv_stream *r, int *progress)
{
    tbml_status st = TBML_OK;
    dist_recv_spec *sp = r->spec;
    /* open results, in order */
    while (r->next_done < r->next_recv) {
        slot *s = &r->s[r->next_done % WINDOW];
        if (!task_done(&s->tk)) break;
        s->busy = 0;
        if (s->tk.st) {
            chunk_hdr want;
            hdr_read(s->tk.aad + 16, &want);
            if (s->tk.st != TBML_E_AUTH) return s->tk.st;
            return diagnose(c, sp->peer, &want, r->wire_hdr[r->next_done % WINDOW]);
        }
        r->next_done++;
        *progress = 1;
    }
    /* new chunks, while a slot is free */
    while ((!r->known || r->next_recv < r->nch) && r->next_recv < r->next_done + WINDOW) {
        int found = 0;
        size_t size = 0;
        st = c->t->ops->probe(c->t, sp->peer, (int)sp->tag, &found, &size);
        if (st) return st;
        if (!found) break;
        size_t maxsize = HDR_SIZE + c->chunk + TAG_SIZE;
        slot *s = &r->s[r->next_recv % WINDOW];
        int bad = size < HDR_SIZE + TAG_SIZE || size > maxsize;
        slot_reserve(c, s, bad ? 1 : size);
        st = c->t->ops->recv(c->t, sp->peer, (int)sp->tag, s->buf, bad ? 0 : size);
        if (st) return st;
        if (bad)
            return tbml_error(
                TBML_E_AUTH,
                "rank %d: integrity error on a message from rank %d (tag %u): a chunk of "
                "%zu bytes cannot be a sealed chunk; aborting the job",
                c->rank, sp->peer, sp->tag, size);
        r->since = tbml_now();
        *progress = 1;
        chunk_hdr want = {0}, wire;
        want.tag = sp->tag;
        want.sender = (uint32_t)sp->peer;
        want.receiver = (uint32_t)c->rank;
        want.seq = r->seq;
        want.chunk = (uint32_t)r->next_recv;
        if (!r->known) {
            /* the first chunk tells the size; the AAD authenticates it */
            uint64_t total = hdr_read(s->buf, &wire) == 0 ? wire.total : 0;
            if (sp->buf && total != sp->size) {
                /* An authentic header with another size is the program's mistake, not an attack. */
                uint8_t aad[AAD_SIZE], nonce[12], *tmp = tbml_malloc(size);
                make_aad(c, &wire, aad);
                make_nonce(&wire, nonce);
                size_t n = size - HDR_SIZE - TAG_SIZE;
                int authentic = wire.seq == want.seq && wire.chunk == 0 && wire.tag == want.tag &&
                                wire.sender == want.sender && wire.receiver == want.receiver &&
                                (c->plain || tbml_aead_open(key_from(c, sp->peer), nonce, aad,
                                                            AAD_SIZE, s->buf + HDR_SIZE, n,
                                                            s->buf + HDR_SIZE + n, tmp) == TBML_OK);
                tbml_wipe(tmp, size);
                tbml_free(tmp);
                if (authentic)
                    return tbml_error(
                        TBML_E_FORMAT,
                        "rank %d: rank %d sent %llu bytes with tag %u where %zu were expected",
                        c->rank, sp->peer, (unsigned long long)total, sp->tag, sp->size);
                total = sp->size; /* then it fails to open below and is reported as tampering */
            }
            if (nchunks(total, c->chunk) > CHUNKS_MAX)
                return tbml_error(TBML_E_AUTH,
                                  "rank %d: integrity error on a message from rank %d (tag %u): "
                                  "implausible size; aborting the job",
                                  c->rank, sp->peer, sp->tag);
            r->total = total;
            r->nch = nchunks(total, c->chunk);
            r->known = 1;
            if (sp->buf) {
                r->dest = sp->buf;
            } else {
                sp->alloc = total ? tbml_malloc(total) : NULL;
                r->dest = sp->alloc;
            }
        }
        want.total = r->total;
        want.last = r->next_recv + 1 == r->nch;
        size_t n = chunk_len(r->total, c->chunk, r->next_recv);
        memcpy(r->wire_hdr[r->next_recv % WINDOW], s->buf, HDR_SIZE);
        /* The AAD is rebuilt from what this rank expects, so the header on the wire is only a
         * hint; still, any difference is tampering (or a replay, reorder, misdirection). */
        uint8_t want_hdr[HDR_SIZE];
        hdr_write(&want, want_hdr);
        if (size != HDR_SIZE + n + TAG_SIZE || memcmp(want_hdr, s->buf, HDR_SIZE) != 0)
            return diagnose(c, sp->peer, &want, s->buf);
        task *tk = &s->tk;
        tk->op = OP_OPEN;
        tk->key = key_from(c, sp->peer);
        make_nonce(&want, tk->nonce);
        make_aad(c, &want, tk->aad);
        tk->in = s->buf + HDR_SIZE;
        tk->out = r->dest + r->next_recv * c->chunk;
        tk->reduce = r->reduce;
        tk->acc = r->reduce ? tk->out : NULL;
        tk->size = n;
        tk->tag = s->buf + HDR_SIZE + n;
        s->busy = 1;
        r->next_recv++;
        dispatch(c, tk);
    }
    return TBML_OK;
}

static tbml_status send_stream_poll(tbml_comm_t *c, send_stream *w, int *progress)
{
    tbml_status st;
    /* completed sends free their slots, oldest first */
    while (w->next_done < w->next_post) {
        slot *s = &w->s[w->next_done % WINDOW];
        int done = 1;
        if (s->req) {
            st = c->t->ops->test(c->t, s->req, &done);
            if (st) return st;
            if (done) s->req = NULL;
        }
        if (!done) break;
        s->busy = 0;
        w->next_done++;
        w->since = tbml_now();
        *progress = 1;
    }
    for (;;) {
        /* post sealed chunks in order (an inline seal is done at once: post it before sealing
         * the next, so the peer can start on it) */
        while (w->next_post < w->next_seal) {
            slot *s = &w->s[w->next_post % WINDOW];
            if (!task_done(&s->tk)) break;
            if (s->tk.st) return s->tk.st;
            size_t n = s->tk.size;
            st = c->t->ops->isend(c->t, w->peer, (int)w->tag, s->buf, HDR_SIZE + n + TAG_SIZE,
                                  &s->req);
            if (st) return st;
            w->next_post++;
            *progress = 1;
        }
        /* seal the next chunk while a slot is free */
        if (w->next_seal >= w->nch || w->next_seal >= w->next_done + WINDOW) break;
        slot *s = &w->s[w->next_seal % WINDOW];
        size_t n = chunk_len(w->total, c->chunk, w->next_seal);
        slot_reserve(c, s, HDR_SIZE + n + TAG_SIZE);
        chunk_hdr h = {0};
        h.tag = w->tag;
        h.sender = (uint32_t)c->rank;
        h.receiver = (uint32_t)w->peer;
        h.seq = w->seq;
        h.chunk = (uint32_t)w->next_seal;
        h.total = w->total;
        h.last = w->next_seal + 1 == w->nch;
        hdr_write(&h, s->buf);
        task *tk = &s->tk;
        tk->op = OP_SEAL;
        tk->reduce = 0;
        tk->key = key_to(c, w->peer);
        make_nonce(&h, tk->nonce);
        make_aad(c, &h, tk->aad);
        tk->in = w->data + w->next_seal * c->chunk;
        tk->out = s->buf + HDR_SIZE;
        tk->size = n;
        tk->tag = s->buf + HDR_SIZE + n;
        s->busy = 1;
        w->next_seal++;
        dispatch(c, tk);
        *progress = 1;
    }
    return TBML_OK;
}

/* Tells every peer that this rank has waited long for rank `peer`, so that a rank timing out on
 * this one can say which rank the wait started from. Best effort, unsealed (it carries only two
 * rank numbers, which MPI sees in the traffic pattern anyway) and only used in error messages. */
static void send_notice(tbml_comm_t *c, int peer)
{
    if (!c->notice_reqs) c->notice_reqs = tbml_calloc((size_t)c->size, sizeof(void *));
    for (int p = 0; p < c->size; p++) {
        if (c->notice_reqs[p]) {
            int done = 0;
            if (c->t->ops->test(c->t, c->notice_reqs[p], &done) != TBML_OK || !done)
                return; /* still busy */
            c->notice_reqs[p] = NULL;
        }
    }
    put32(c->notice, (uint32_t)c->rank);
    put32(c->notice + 4, (uint32_t)peer);
    for (int p = 0; p < c->size; p++)
        if (p != c->rank &&
            c->t->ops->isend(c->t, p, DIST_TAG_NOTICE, c->notice, 8, &c->notice_reqs[p]) != TBML_OK)
            c->notice_reqs[p] = NULL;
}

/* After a timeout on `peer`: follows the peers' latest "waiting for" notices from it to the rank
 * the chain of waits ends at (the likely dead or hung one). Returns peer when nothing is known. */
static int blame(tbml_comm_t *c, int peer)
{
    int *waits = tbml_malloc((size_t)c->size * sizeof(int));
    for (int p = 0; p < c->size; p++) {
        waits[p] = -1;
        if (p == c->rank) continue;
        for (;;) {
            int found = 0;
            size_t size = 0;
            uint8_t buf[8];
            if (c->t->ops->probe(c->t, p, DIST_TAG_NOTICE, &found, &size) != TBML_OK || !found)
                break;
            if (size != 8) break;
            if (c->t->ops->recv(c->t, p, DIST_TAG_NOTICE, buf, 8) != TBML_OK) break;
            uint32_t who = get32(buf), on = get32(buf + 4);
            if (who == (uint32_t)p && on < (uint32_t)c->size) waits[p] = (int)on;
        }
    }
    int at = peer;
    for (int hops = 0; hops < c->size && waits[at] >= 0 && waits[at] != c->rank; hops++)
        at = waits[at];
    tbml_free(waits);
    return at;
}

tbml_status dist_exchange(tbml_comm_t *c, dist_send_spec *sends, int nsend, dist_recv_spec *recvs,
                          int nrecv)
{
    return dist_exchange_ex(c, sends, nsend, recvs, nrecv, NULL);
}

/* The piece of the side copy done per idle turn: small enough not to delay the transport. */
#define COPY_PIECE ((size_t)256 << 10)

tbml_status dist_exchange_ex(tbml_comm_t *c, dist_send_spec *sends, int nsend,
                             dist_recv_spec *recvs, int nrecv, const dist_exchange_extra *x)
{
    static const dist_exchange_extra none = {0};
    if (!x) x = &none;
    tbml_comm_dtype reduce = x->reduce;
    uint8_t *copy_dst = x->copy_dst;
    const uint8_t *copy_src = x->copy_src;
    size_t copy_left = x->copy_size;
    /* overlapping copies (which memmove allows) are done in one go at the end */
    int copy_pieces =
        copy_left && (copy_dst + copy_left <= copy_src || copy_src + copy_left <= copy_dst);
    tbml_status st = comm_check(c);
    if (st) return st;
    send_stream *ws = nsend ? tbml_calloc((size_t)nsend, sizeof(*ws)) : NULL;
    recv_stream *rs = nrecv ? tbml_calloc((size_t)nrecv, sizeof(*rs)) : NULL;
    double now = tbml_now();
    int leak = 0;
    for (int i = 0; i < nsend; i++) {
        dist_send_spec *sp = &sends[i];
        TBML_ASSERT(sp->peer >= 0 && sp->peer < c->size && sp->peer != c->rank);
        seq_entry *e = seq_find(c, sp->peer, sp->tag);
        if (e->send_seq >= SEQ_MAX || nchunks(sp->size, c->chunk) > CHUNKS_MAX) {
            st =
                tbml_error(TBML_E_ARG, "rank %d: message to rank %d too large or too many messages",
                           c->rank, sp->peer);
            goto out;
        }
        ws[i] = (send_stream){.peer = sp->peer,
                              .tag = sp->tag,
                              .seq = e->send_seq++,
                              .total = sp->size,
                              .nch = nchunks(sp->size, c->chunk),
                              .data = sp->buf,
                              .since = now};
    }
    for (int i = 0; i < nrecv; i++) {
        dist_recv_spec *sp = &recvs[i];
        TBML_ASSERT(sp->peer >= 0 && sp->peer < c->size && sp->peer != c->rank);
        /* a reduction adds whole elements per chunk (dist_comm_can_reduce) */
        TBML_ASSERT(!reduce || (sp->buf && dist_comm_can_reduce(c, reduce) &&
                                sp->size % dtype_size(reduce) == 0));
        sp->alloc = NULL;
        rs[i].spec = sp;
        rs[i].reduce = (int)reduce;
        rs[i].seq = seq_find(c, sp->peer, sp->tag)->recv_seq++;
        rs[i].since = now;
    }
    unsigned round = 0;
    int noticed = 0;
    double last_check = now;
    for (;;) {
        int progress = 0, pending = 0;
        for (int i = 0; i < nsend; i++) {
            send_stream *w = &ws[i];
            if (w->next_done == w->nch) continue;
            st = send_stream_poll(c, w, &progress);
            if (st) goto out;
            if (w->next_done < w->nch) pending = 1;
        }
        for (int i = 0; i < nrecv; i++) {
            recv_stream *r = &rs[i];
            if (r->known && r->next_done == r->nch) continue;
            st = recv_stream_poll(c, r, &progress);
            if (st) goto out;
            if (!r->known || r->next_done < r->nch) pending = 1;
        }
        if (!pending) break;
        if (progress) {
            round = 0;
            continue;
        }
        if (help_or_wait(c, &round, 0)) continue; /* a queued chunk first */
        if (copy_left && copy_pieces) {
            /* nothing to do but wait: do part of the side copy instead */
            size_t k = copy_left < COPY_PIECE ? copy_left : COPY_PIECE;
            memcpy(copy_dst, copy_src, k);
            copy_dst += k;
            copy_src += k;
            copy_left -= k;
            continue;
        }
        if (help_or_wait(c, &round, 1)) continue;
        now = tbml_now();
        if (now - last_check < 0.02) continue;
        last_check = now;
        for (int i = 0; i < nrecv; i++) {
            recv_stream *r = &rs[i];
            /* a chunk being opened is progress in hand, not a silent peer */
            int waiting = r->next_done == r->next_recv && (!r->known || r->next_recv < r->nch);
            if (waiting && !noticed && now - r->since > c->timeout / 2) {
                send_notice(c, r->spec->peer);
                noticed = 1;
            }
            if (waiting && now - r->since > c->timeout) {
                int culprit = blame(c, r->spec->peer);
                if (culprit != r->spec->peer)
                    st = tbml_error(TBML_E_NET,
                                    "rank %d: no message from rank %d (tag %u) in %.0f s: rank %d "
                                    "is waiting for "
                                    "rank %d, which died, hung or was killed; aborting the job",
                                    c->rank, r->spec->peer, r->spec->tag, c->timeout, r->spec->peer,
                                    culprit);
                else
                    st =
                        tbml_error(TBML_E_NET,
                                   "rank %d: no message from rank %d (tag %u) in %.0f s: rank %d "
                                   "died, hung or "
                                   "was killed; aborting the job",
                                   c->rank, r->spec->peer, r->spec->tag, c->timeout, r->spec->peer);
                goto out;
            }
        }
        for (int i = 0; i < nsend; i++) {
            send_stream *w = &ws[i];
            if (w->next_done < w->next_post && now - w->since > c->timeout) {
                st = tbml_error(
                    TBML_E_NET,
                    "rank %d: rank %d took no message (tag %u) in %.0f s: it died, hung or was "
                    "killed; aborting the job",
                    c->rank, w->peer, w->tag, c->timeout);
                goto out;
            }
        }
    }
    if (copy_left) memmove(copy_dst, copy_src, copy_left);
out:
    /* Workers may still hold tasks that point into the slots: wait for them. Sends the transport
     * has not finished must keep their buffers (the job is ending anyway). */
    for (int i = 0; i < nsend; i++)
        for (int k = 0; k < WINDOW; k++) {
            slot *s = &ws[i].s[k];
            if (s->busy && !s->req && s->buf)
                while (!task_done(&s->tk))
                    sched_yield();
            if (s->req) {
                leak = 1;
                continue;
            }
            slot_release(c, s);
        }
    for (int i = 0; i < nrecv; i++) {
        for (int k = 0; k < WINDOW; k++) {
            slot *s = &rs[i].s[k];
            if (s->busy)
                while (!task_done(&s->tk))
                    sched_yield();
            slot_release(c, s);
        }
        if (st) {
            dist_recv_spec *sp = rs[i].spec;
            if (sp->buf) tbml_wipe(sp->buf, sp->size);
            if (sp->alloc) {
                tbml_wipe(sp->alloc, rs[i].total);
                tbml_free(sp->alloc);
                sp->alloc = NULL;
            }
        } else if (!rs[i].spec->buf) {
            rs[i].spec->size = rs[i].total;
        }
    }
    (void)leak;
    tbml_free(ws);
    tbml_free(rs);
    if (st) comm_break(c, st);
    return st;
}

/* ---- point to point ------------------------------------------------------------------------ */

static tbml_status check_peer(tbml_comm_t *c, int peer, uint32_t tag, const char *what)
{
    tbml_status st = comm_check(c);
    if (st) return st;
    if (peer < 0 || peer >= c->size || peer == c->rank)
        return tbml_error(TBML_E_ARG, "rank %d: %s rank %d is not a peer (size %d)", c->rank, what,
                          peer, c->size);
    if (tag >= TBML_COMM_TAG_MAX)
        return tbml_error(TBML_E_ARG, "rank %d: tag %u is reserved", c->rank, tag);
    return TBML_OK;
}

tbml_status tbml_comm_send(tbml_comm_t *c, int dst, uint32_t tag, const void *buf, size_t size)
{
    tbml_status st = check_peer(c, dst, tag, "send to");
    if (st) return st;
    dist_send_spec s = {dst, tag, buf, size};
    return dist_exchange(c, &s, 1, NULL, 0);
}

tbml_status tbml_comm_recv(tbml_comm_t *c, int src, uint32_t tag, void *buf, size_t size)
{
    tbml_status st = check_peer(c, src, tag, "receive from");
    if (st) return st;
    static uint8_t empty[1];
    dist_recv_spec r = {src, tag, buf ? buf : empty, size, NULL};
    return dist_exchange(c, NULL, 0, &r, 1);
}

tbml_status tbml_comm_recv_alloc(tbml_comm_t *c, int src, uint32_t tag, uint8_t **out,
                                 size_t *out_size)
{
    tbml_status st = check_peer(c, src, tag, "receive from");
    if (st) return st;
    dist_recv_spec r = {src, tag, NULL, 0, NULL};
    st = dist_exchange(c, NULL, 0, &r, 1);
    if (st) return st;
    *out = r.alloc;
    *out_size = r.size;
    return TBML_OK;
}

tbml_status tbml_comm_sendrecv(tbml_comm_t *c, int dst, uint32_t stag, const void *sbuf,
                               size_t ssize, int src, uint32_t rtag, void *rbuf, size_t rsize)
{
    tbml_status st = check_peer(c, dst, stag, "send to");
    if (!st) st = check_peer(c, src, rtag, "receive from");
    if (st) return st;
    static uint8_t empty[1];
    dist_send_spec s = {dst, stag, sbuf, ssize};
    dist_recv_spec r = {src, rtag, rbuf ? rbuf : empty, rsize, NULL};
    return dist_exchange(c, &s, 1, &r, 1);
}

/* ---- handshake ----------------------------------------------------------------------------- */

#define HELLO_MAGIC "TBMH"
#define HELLO_VERSION 2
#define HELLO_PLAIN 1u    /* flags: the bench's plain mode */
#define HELLO_EVIDENCE 2u /* flags: this rank has evidence from the trusted runtime */
#define HELLO_SIZE                                                                                 \
    80 /* magic 4, version 4, rank 4, size 4, chunk 8, flags 4, pad 4, job id 16, pub 32 */
#define CONFIRM_SIZE 32

static void hello_write(uint8_t out[HELLO_SIZE], int rank, int size, uint64_t chunk, uint32_t flags,
                        const uint8_t job_id[16], const uint8_t pub[32])
{
    memset(out, 0, HELLO_SIZE);
    memcpy(out, HELLO_MAGIC, 4);
    put32(out + 4, HELLO_VERSION);
    put32(out + 8, (uint32_t)rank);
    put32(out + 12, (uint32_t)size);
    put64(out + 16, chunk);
    put32(out + 24, flags);
    memcpy(out + 32, job_id, 16);
    memcpy(out + 48, pub, 32);
}

tbml_status dist_raw_probe(dist_transport *t, int src, int tag, double timeout, const char *what,
                           size_t *size)
{
    unsigned round = 0;
    double start = tbml_now();
    for (;;) {
        int found = 0;
        size_t got = 0;
        tbml_status st = t->ops->probe(t, src, tag, &found, &got);
        if (st) return st;
        if (found) {
            *size = got;
            return TBML_OK;
        }
        dist_backoff(&round);
        if ((round & 63) == 0 && tbml_now() - start > timeout)
            return tbml_error(TBML_E_NET,
                              "rank %d: no %s from rank %d in %.0f s: rank %d died, hung or is not "
                              "part of this job",
                              t->rank, what, src, timeout, src);
    }
}

/* Plain transport receive of exactly size bytes within the timeout (handshake only). */
static tbml_status raw_recv(tbml_comm_t *c, int src, int tag, uint8_t *buf, size_t size)
{
    size_t got = 0;
    tbml_status st = dist_raw_probe(c->t, src, tag, c->timeout, "handshake", &got);
    if (st) return st;
    if (got != size) {
        uint8_t dummy[1];
        uint8_t *tmp = got ? tbml_malloc(got) : dummy;
        st = c->t->ops->recv(c->t, src, tag, tmp, got);
        if (got) tbml_free(tmp);
        if (st) return st;
        return tbml_error(TBML_E_AUTH,
                          "rank %d: handshake refused rank %d: a message of %zu bytes where %zu "
                          "were expected",
                          c->rank, src, got, size);
    }
    return c->t->ops->recv(c->t, src, tag, buf, size);
}

static tbml_status raw_send_all(tbml_comm_t *c, int tag, const uint8_t *bufs, size_t each,
                                int per_peer, void **reqs)
{
    for (int p = 0; p < c->size; p++) {
        reqs[p] = NULL;
        if (p == c->rank) continue;
        tbml_status st = c->t->ops->isend(c->t, p, tag, bufs + (per_peer ? (size_t)p * each : 0),
                                          each, &reqs[p]);
        if (st) return st;
    }
    return TBML_OK;
}

tbml_status dist_raw_wait_all(dist_transport *t, void **reqs, double timeout, const char *what)
{
    unsigned round = 0;
    double start = tbml_now();
    for (int p = 0; p < t->size; p++) {
        while (reqs[p]) {
            int done = 0;
            tbml_status st = t->ops->test(t, reqs[p], &done);
            if (st) return st;
            if (done) {
                reqs[p] = NULL;
                break;
            }
            dist_backoff(&round);
            if ((round & 63) == 0 && tbml_now() - start > timeout)
                return tbml_error(TBML_E_NET, "rank %d: rank %d took no %s in %.0f s", t->rank, p,
                                  what, timeout);
        }
    }
    return TBML_OK;
}

/* Every rank sends its hello to every other; all agree on rank 0's job id; the transcript hash
 * covers all hellos, so any substitution anywhere makes the confirmations fail. Under the trusted
 * runtime (self not NULL) every rank then proves with evidence that it runs this job's code and
 * holds its X25519 key for this transcript. Each pair then proves knowledge of the job secret
 * with an HMAC over the transcript and derives its two directional keys from X25519 and the job
 * secret. */
static tbml_status handshake(tbml_comm_t *c, const tbml_key_t *job_key, struct tbml_tee_self *self)
{
    tbml_status st = TBML_OK;
    int n = c->size, me = c->rank;
    uint8_t priv[32], pub[32], transcript[32], auth_key[32];
    uint8_t *hellos = tbml_calloc((size_t)n, HELLO_SIZE);
    uint8_t *confirms = tbml_calloc((size_t)n, CONFIRM_SIZE);
    void **reqs = tbml_calloc((size_t)n, sizeof(void *));
    uint8_t zero_id[16] = {0};
    tbml_sha256_ctx_t *h = NULL;

    st = tbml_x25519_keypair(priv, pub);
    if (st) goto out;
    if (me == 0) {
        st = tbml_random(c->job_id, 16);
        if (st) goto out;
    }
    uint32_t flags = (c->plain ? HELLO_PLAIN : 0) | (self && !c->plain ? HELLO_EVIDENCE : 0);
    hello_write(hellos + (size_t)me * HELLO_SIZE, me, n, c->chunk, flags,
                me == 0 ? c->job_id : zero_id, pub);
    st = raw_send_all(c, DIST_TAG_HELLO, hellos + (size_t)me * HELLO_SIZE, HELLO_SIZE, 0, reqs);
    for (int p = 0; !st && p < n; p++)
        if (p != me)
            st = raw_recv(c, p, DIST_TAG_HELLO, hellos + (size_t)p * HELLO_SIZE, HELLO_SIZE);
    if (!st) st = dist_raw_wait_all(c->t, reqs, c->timeout, "handshake");
    if (st) goto out;
    for (int p = 0; p < n; p++) {
        const uint8_t *hp = hellos + (size_t)p * HELLO_SIZE;
        if (memcmp(hp, HELLO_MAGIC, 4) != 0 || get32(hp + 4) != HELLO_VERSION ||
            get32(hp + 8) != (uint32_t)p || get32(hp + 12) != (uint32_t)n) {
            st = tbml_error(
                TBML_E_AUTH,
                "rank %d: handshake refused rank %d: not a tbml hello of this version for a job "
                "of %d ranks",
                me, p, n);
            goto out;
        }
        if (get64(hp + 16) != c->chunk ||
            (get32(hp + 24) & ~HELLO_EVIDENCE) != (flags & ~HELLO_EVIDENCE)) {
            st = tbml_error(TBML_E_ARG, "rank %d: rank %d uses another chunk size or security mode",
                            me, p);
            goto out;
        }
        if ((get32(hp + 24) & HELLO_EVIDENCE) != (flags & HELLO_EVIDENCE)) {
            st = self ? tbml_error(TBML_E_AUTH,
                                   "rank %d: handshake refused rank %d: evidence: it has none (it "
                                   "was not started by the trusted runtime)",
                                   me, p)
                      : tbml_error(TBML_E_AUTH,
                                   "rank %d: handshake refused rank %d: it runs under the trusted "
                                   "runtime and this rank does not (start every rank the same way)",
                                   me, p);
            goto out;
        }
    }
    if (me != 0) memcpy(c->job_id, hellos + 32, 16);
    st = tbml_sha256_begin(&h);
    if (!st) st = tbml_sha256_update(h, "tbml-dist-handshake-v1", 22);
    if (!st) st = tbml_sha256_update(h, hellos, (size_t)n * HELLO_SIZE);
    if (!st) {
        st = tbml_sha256_end(h, transcript);
        h = NULL;
    }
    if (st) goto out;
    if (c->plain) goto out; /* the bench's plain mode: no keys at all */
    if (self && !job_key && tbml_tee_self_simulated(self)) {
        st = tbml_error(TBML_E_KEY,
                        "rank %d: simulated evidence proves nothing, so a job of %d ranks under "
                        "the sim backend still needs a job secret (tbml submit makes one; or "
                        "TBML_DIST_KEYFILE and TBML_DIST_PASSWORD_FILE)",
                        me, n);
        goto out;
    }
    if (self) {
        st = dist_evidence_round(c->t, c->timeout, self, transcript, hellos + 48, HELLO_SIZE);
        if (st) goto out;
    }
    if (!job_key && !self) {
        st = tbml_error(TBML_E_KEY,
                        "rank %d: a job of %d ranks needs a job secret (tbml submit --dist-key, or "
                        "TBML_DIST_KEYFILE and TBML_DIST_PASSWORD_FILE)",
                        me, n);
        goto out;
    }
    /* hardware evidence alone authenticates ranks: without a job secret, A is derived from zeros */
    uint8_t no_secret[TBML_KEY_SIZE] = {0};
    st = tbml_hkdf_sha256(job_key ? tbml_key_bytes(job_key) : no_secret, TBML_KEY_SIZE, c->job_id,
                          16, "tbml-dist-auth-v1", 17, auth_key, 32);
    if (st) goto out;
    for (int p = 0; p < n; p++) {
        if (p == me) continue;
        uint8_t msg[22 + 32 + 8];
        memcpy(msg, "tbml-dist-confirm-v1\0\0", 22);
        memcpy(msg + 22, transcript, 32);
        put32(msg + 54, (uint32_t)me);
        put32(msg + 58, (uint32_t)p);
        st = tbml_hmac_sha256(auth_key, 32, msg, sizeof(msg), confirms + (size_t)p * CONFIRM_SIZE);
        if (st) goto out;
    }
    st = raw_send_all(c, DIST_TAG_CONFIRM, confirms, CONFIRM_SIZE, 1, reqs);
    for (int p = 0; !st && p < n; p++) {
        if (p == me) continue;
        uint8_t got[CONFIRM_SIZE], want[CONFIRM_SIZE], msg[22 + 32 + 8];
        st = raw_recv(c, p, DIST_TAG_CONFIRM, got, CONFIRM_SIZE);
        if (st) break;
        memcpy(msg, "tbml-dist-confirm-v1\0\0", 22);
        memcpy(msg + 22, transcript, 32);
        put32(msg + 54, (uint32_t)p);
        put32(msg + 58, (uint32_t)me);
        st = tbml_hmac_sha256(auth_key, 32, msg, sizeof(msg), want);
        if (!st && !tbml_ct_equal(got, want, CONFIRM_SIZE))
            st = tbml_error(
                TBML_E_AUTH,
                "rank %d: handshake refused rank %d: it does not hold this job's secret (or the "
                "handshake was tampered with)",
                me, p);
    }
    if (!st) st = dist_raw_wait_all(c->t, reqs, c->timeout, "handshake");
    if (st) goto out;
    for (int p = 0; p < n; p++) {
        if (p == me) continue;
        const uint8_t *ppub = hellos + (size_t)p * HELLO_SIZE + 48;
        uint8_t ikm[64], info[17 + 8], okm[64];
        st = tbml_x25519_shared(priv, ppub, ikm);
        if (st) goto out;
        memcpy(ikm + 32, auth_key, 32);
        int lo = me < p ? me : p, hi = me < p ? p : me;
        memcpy(info, "tbml-dist-keys-v1", 17);
        put32(info + 17, (uint32_t)lo);
        put32(info + 21, (uint32_t)hi);
        st = tbml_hkdf_sha256(ikm, sizeof(ikm), transcript, 32, info, sizeof(info), okm, 64);
        tbml_wipe(ikm, sizeof(ikm));
        if (st) goto out;
        /* okm = key lo->hi || key hi->lo */
        uint8_t *k = c->keys + (size_t)p * 64;
        memcpy(k, me == lo ? okm : okm + 32, 32);      /* to p */
        memcpy(k + 32, me == lo ? okm + 32 : okm, 32); /* from p */
        tbml_wipe(okm, sizeof(okm));
    }
out:
    tbml_sha256_abort(h);
    tbml_wipe(priv, sizeof(priv));
    tbml_wipe(auth_key, sizeof(auth_key));
    tbml_free(hellos);
    tbml_free(confirms);
    tbml_free(reqs);
    return st;
}

/* ---- open and close ------------------------------------------------------------------------ */

static double env_timeout(void)
{
    const char *v = getenv("TBML_DIST_TIMEOUT");
    if (v && *v) {
        char *end;
        double d = strtod(v, &end);
        if (*end == '\0' && d > 0) return d;
    }
    return TBML_COMM_TIMEOUT_DEFAULT;
}

/* A positive whole number from the environment, else dflt (-1 for "none" where allowed). */
static size_t env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    if (v && *v) {
        char *end;
        long long d = strtoll(v, &end, 10);
        if (*end == '\0' && (d > 0 || d == -1)) return (size_t)d;
    }
    return dflt;
}

/* The job secret from TBML_DIST_KEYFILE (a primary key file) and TBML_DIST_PASSWORD_FILE. */
static tbml_status env_job_key(int rank, tbml_key_t **out)
{
    const char *kf = getenv("TBML_DIST_KEYFILE"), *pf = getenv("TBML_DIST_PASSWORD_FILE");
    *out = NULL;
    if (!kf || !*kf) return TBML_OK;
    if (!pf || !*pf)
        return tbml_error(TBML_E_KEY,
                          "rank %d: TBML_DIST_KEYFILE is set but TBML_DIST_PASSWORD_FILE is not",
                          rank);
    int fd = open(pf, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "rank %d: %s: %s", rank, pf, strerror(errno));
    uint8_t *pw = NULL;
    size_t n = 0;
    tbml_status st = tbml_read_all(fd, pf, 4096, &pw, &n);
    close(fd);
    if (st) return st;
    size_t len = 0;
    while (len < n && pw[len] != '\n' && pw[len] != '\r')
        len++;
    st = tbml_keyfile_read(kf, (const char *)pw, len, out);
    tbml_wipe(pw, n);
    tbml_free(pw);
    if (st) return tbml_error_prefix(st, "rank %d: job secret: ", rank);
    return TBML_OK;
}

tbml_status dist_comm_create(dist_transport *t, const tbml_comm_options *opt, tbml_comm_t **out)
{
    static const tbml_comm_options defaults = {0};
    if (!opt) opt = &defaults;
    tbml_status st = TBML_OK;
    tbml_key_t *env_key = NULL;
    tbml_tee_self_t *env_self = NULL;
    tbml_comm_t *c = tbml_calloc(1, sizeof(*c));
    c->t = t;
    c->rank = t->rank;
    c->size = t->size;
    c->timeout = opt->timeout_s > 0 ? opt->timeout_s : env_timeout();
    c->chunk =
        opt->chunk_size ? opt->chunk_size : env_size("TBML_DIST_CHUNK", TBML_COMM_CHUNK_DEFAULT);
    c->plain = opt->insecure_plain != 0;
    c->seq = tbml_calloc((size_t)c->size, sizeof(seq_table));
    c->keys_size = (size_t)c->size * 64;
    c->keys = tbml_secure_alloc(c->keys_size);
    if (c->chunk < 16 || c->chunk > (64u << 20)) {
        st = tbml_error(TBML_E_ARG, "chunk size %zu outside 16 B .. 64 MiB", c->chunk);
        goto out;
    }
    size_t env_nw = env_size("TBML_DIST_WORKERS", 0);
    int nw = opt->crypto_threads    ? opt->crypto_threads
             : env_nw == (size_t)-1 ? -1
                                    : (int)(env_nw < 64 ? env_nw : 64);
    if (nw == 0) {
        /* the machine's cores shared among the ranks on it, less the calling thread, which
         * seals too: a worker on a rank with one core only time-slices with it (2 ranks on 2
         * cores here: 16 MB allreduce 66-90% of the crypto limit without, 61-82% with one) */
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        if (!ls) ls = getenv("MPI_LOCALNRANKS");
        int local = ls && atoi(ls) > 0                   ? atoi(ls)
                    : strcmp(t->ops->name, "local") == 0 ? c->size
                                                         : 1;
        nw = tbml_ncores() / local - 1;
        if (nw < 1) nw = -1; /* none */
        if (nw > 4) nw = 4;
    }
    if (nw < 0 || c->size == 1) nw = 0;
    pthread_mutex_init(&c->w.mu, NULL);
    pthread_cond_init(&c->w.cv, NULL);
    pthread_cond_init(&c->w.done_cv, NULL);
    c->w.plain = c->plain;
    if (nw > 0) {
        c->w.threads = tbml_calloc((size_t)nw, sizeof(pthread_t));
        for (int i = 0; i < nw; i++) {
            if (pthread_create(&c->w.threads[i], NULL, worker_main, &c->w) != 0) break;
            c->w.nthreads++;
        }
    }
    if (c->size > 1) {
        const tbml_key_t *key = opt->job_key;
        if (!key && !c->plain) {
            st = env_job_key(c->rank, &env_key);
            if (st) goto out;
            key = env_key;
        }
        struct tbml_tee_self *self = opt->evidence;
        if (!self && !c->plain) {
            st = tbml_tee_self_open(&env_self);
            if (st) {
                st = tbml_error_prefix(st, "rank %d: ", c->rank);
                goto out;
            }
            self = env_self;
        }
        st = handshake(c, key, self);
    } else {
        st = tbml_random(c->job_id, 16);
    }
out:
    tbml_key_free(env_key);
    tbml_tee_self_free(env_self);
    if (st) {
        c->broken = 1; /* no closing barrier: the peers may not be there */
        tbml_status keep = st;
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", tbml_errmsg());
        tbml_comm_free(c);
        return tbml_error(keep, "%s", msg);
    }
    *out = c;
    return TBML_OK;
}

void tbml_comm_free(tbml_comm_t *c)
{
    if (!c) return;
    if (!c->broken && c->size > 1) {
        /* so no rank tears down its transport while a peer still sends to it */
        uint8_t b = 0;
        if (tbml_comm_barrier(c) != TBML_OK) (void)b;
    }
    pthread_mutex_lock(&c->w.mu);
    c->w.stop = 1;
    pthread_cond_broadcast(&c->w.cv);
    pthread_mutex_unlock(&c->w.mu);
    for (int i = 0; i < c->w.nthreads; i++)
        pthread_join(c->w.threads[i], NULL);
    tbml_free(c->w.threads);
    pthread_mutex_destroy(&c->w.mu);
    pthread_cond_destroy(&c->w.cv);
    pthread_cond_destroy(&c->w.done_cv);
    cache_clear(&c->cc);
    for (int p = 0; c->notice_reqs && p < c->size; p++) {
        int done = 0;
        if (c->notice_reqs[p]) (void)c->t->ops->test(c->t, c->notice_reqs[p], &done);
    }
    tbml_free(c->notice_reqs);
    if (c->t) c->t->ops->free(c->t);
    for (int p = 0; p < c->size; p++)
        tbml_free(c->seq[p].e);
    tbml_free(c->seq);
    tbml_secure_free(c->keys, c->keys_size);
    if (c->scratch) tbml_wipe(c->scratch, c->scratch_size);
    tbml_free(c->scratch);
    for (int i = 0; i < c->npool; i++)
        tbml_free(c->pool[i]);
    tbml_free(c);
}

void tbml_comm_abort(tbml_comm_t *c, tbml_status st)
{
    char msg[1200];
    /* the communicator's own failure is the root cause; callers may have wrapped it since */
    const char *m = c && c->broken && c->broken_msg[0] ? c->broken_msg : tbml_errmsg();
    snprintf(msg, sizeof(msg), "%s", *m ? m : tbml_strerror(st));
    if (strncmp(msg, "rank ", 5) == 0)
        fprintf(stderr, "tbml: %s\n", msg); /* the message names the rank already */
    else
        fprintf(stderr, "tbml: rank %d: %s\n", c ? c->rank : 0, msg);
    fflush(stderr);
    if (c) {
        c->broken = 1;
        if (!c->broken_st) c->broken_st = st;
        c->t->ops->abort(c->t, c->rank, msg);
    }
}

int tbml_comm_rank(const tbml_comm_t *c)
{
    return c->rank;
}
int tbml_comm_size(const tbml_comm_t *c)
{
    return c->size;
}
const char *tbml_comm_backend(const tbml_comm_t *c)
{
    return c->t->ops->name;
}
const uint8_t *tbml_comm_job_id(const tbml_comm_t *c)
{
    return c->job_id;
}
int tbml_comm_crypto_threads(const tbml_comm_t *c)
{
    return c->w.nthreads + 1;
}
dist_transport *dist_comm_transport(tbml_comm_t *c)
{
    return c->t;
}
void dist_comm_mark_broken(tbml_comm_t *c)
{
    c->broken = 1;
}

int dist_comm_can_reduce(const tbml_comm_t *c, tbml_comm_dtype dt)
{
    return dtype_size(dt) && c->chunk % dtype_size(dt) == 0;
}

uint8_t *dist_comm_scratch(tbml_comm_t *c, size_t size)
{
    if (c->scratch_size < size) {
        if (c->scratch) tbml_wipe(c->scratch, c->scratch_size);
        tbml_free(c->scratch);
        c->scratch = tbml_malloc(size);
        c->scratch_size = size;
    }
    return c->scratch;
}
