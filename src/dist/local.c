/* The local backend: ranks as threads of one process exchanging messages through per-rank
 * mailboxes, with a hook that lets tests see, change, drop, redirect and inject messages (the
 * in-process mock of an untrusted network). Also the one-rank "self" transport and
 * tbml_comm_open, which picks MPI or self from how the process was started. */
#include "dist_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lmsg {
    int src, tag;
    uint8_t *data;
    size_t size;
    struct lmsg *next;
} lmsg;

typedef struct {
    lmsg *head, *tail;
} mailbox;

struct tbml_local_world {
    int n;
    pthread_mutex_t mu; /* guards everything below: the mailboxes are small and tests are short */
    mailbox *box;
    tbml_local_hook hook;
    void *hook_arg;
    uint64_t sent;
    int failed;
    int failed_rank;
    char failed_msg[512];
};

typedef struct {
    dist_transport base;
    tbml_local_world_t *w;
} local_transport;

tbml_status tbml_local_world_create(int nranks, tbml_local_world_t **out)
{
    if (nranks < 1 || nranks > 4096) return tbml_error(TBML_E_ARG, "local world: %d ranks", nranks);
    tbml_local_world_t *w = tbml_calloc(1, sizeof(*w));
    w->n = nranks;
    w->box = tbml_calloc((size_t)nranks, sizeof(mailbox));
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return TBML_OK;
}

void tbml_local_world_free(tbml_local_world_t *w)
{
    if (!w) return;
    for (int r = 0; r < w->n; r++) {
        for (lmsg *m = w->box[r].head, *next; m; m = next) {
            next = m->next;
            tbml_free(m->data);
            tbml_free(m);
        }
    }
    tbml_free(w->box);
    pthread_mutex_destroy(&w->mu);
    tbml_free(w);
}

void tbml_local_world_set_hook(tbml_local_world_t *w, tbml_local_hook hook, void *arg)
{
    pthread_mutex_lock(&w->mu);
    w->hook = hook;
    w->hook_arg = arg;
    pthread_mutex_unlock(&w->mu);
}

/* Appends a copy; the caller holds w->mu. */
static void deliver(tbml_local_world_t *w, int src, int dst, int tag, const uint8_t *data,
                    size_t size)
{
    if (dst < 0 || dst >= w->n) return; /* redirected off the world: lost */
    lmsg *m = tbml_calloc(1, sizeof(*m));
    m->src = src;
    m->tag = tag;
    m->size = size;
    m->data = size ? tbml_malloc(size) : NULL;
    if (size) memcpy(m->data, data, size);
    mailbox *b = &w->box[dst];
    if (b->tail)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
}

void tbml_local_world_inject(tbml_local_world_t *w, const tbml_local_msg *m)
{
    /* called from a hook, with w->mu held */
    deliver(w, m->src, m->dst, (int)m->tag, m->data, m->size);
}

static tbml_status local_isend(dist_transport *t, int dst, int tag, const void *buf, size_t size,
                               void **req)
{
    tbml_local_world_t *w = ((local_transport *)t)->w;
    *req = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->hook) {
        tbml_local_msg m = {t->rank, dst,    (uint32_t)tag, tbml_malloc(size ? size : 1),
                            size,    w->sent};
        if (size) memcpy(m.data, buf, size);
        w->sent++;
        int action = w->hook(w, &m, w->hook_arg);
        if (action == TBML_LOCAL_DELIVER) deliver(w, m.src, m.dst, (int)m.tag, m.data, m.size);
        tbml_free(m.data);
    } else {
        w->sent++;
        deliver(w, t->rank, dst, tag, buf, size);
    }
    pthread_mutex_unlock(&w->mu);
    return TBML_OK;
}

static tbml_status local_test(dist_transport *t, void *req, int *done)
{
    (void)t;
    (void)req;
    *done = 1;
    return TBML_OK;
}

static tbml_status failed_error(tbml_local_world_t *w, int me)
{
    return tbml_error(TBML_E_NET, "rank %d: job aborted by rank %d: %s", me, w->failed_rank,
                      w->failed_msg);
}

static lmsg *find(mailbox *b, int src, int tag, lmsg **prev)
{
    *prev = NULL;
    for (lmsg *m = b->head; m; *prev = m, m = m->next)
        if (m->src == src && m->tag == tag) return m;
    return NULL;
}

static tbml_status local_probe(dist_transport *t, int src, int tag, int *found, size_t *size)
{
    tbml_local_world_t *w = ((local_transport *)t)->w;
    tbml_status st = TBML_OK;
    lmsg *prev;
    pthread_mutex_lock(&w->mu);
    lmsg *m = find(&w->box[t->rank], src, tag, &prev);
    *found = m != NULL;
    if (m) *size = m->size;
    if (!m && w->failed) st = failed_error(w, t->rank);
    pthread_mutex_unlock(&w->mu);
    return st;
}

static tbml_status local_recv(dist_transport *t, int src, int tag, void *buf, size_t size)
{
    tbml_local_world_t *w = ((local_transport *)t)->w;
    lmsg *prev;
    pthread_mutex_lock(&w->mu);
    mailbox *b = &w->box[t->rank];
    lmsg *m = find(b, src, tag, &prev);
    TBML_ASSERT(m && m->size >= size);
    if (prev)
        prev->next = m->next;
    else
        b->head = m->next;
    if (b->tail == m) b->tail = prev;
    pthread_mutex_unlock(&w->mu);
    if (size) memcpy(buf, m->data, size);
    tbml_free(m->data);
    tbml_free(m);
    return TBML_OK;
}

static void local_abort(dist_transport *t, int rank, const char *msg)
{
    tbml_local_world_t *w = ((local_transport *)t)->w;
    pthread_mutex_lock(&w->mu);
    if (!w->failed) {
        w->failed = 1;
        w->failed_rank = rank;
        snprintf(w->failed_msg, sizeof(w->failed_msg), "%s", msg);
    }
    pthread_mutex_unlock(&w->mu);
}

static void local_free(dist_transport *t)
{
    tbml_free(t);
}

static const dist_transport_ops g_local_ops = {local_isend, local_test, local_probe, local_recv,
                                               local_abort, local_free, "local"};

tbml_status tbml_comm_open_local(tbml_local_world_t *w, int rank, const tbml_comm_options *opt,
                                 tbml_comm_t **out)
{
    if (rank < 0 || rank >= w->n) return tbml_error(TBML_E_ARG, "local world: no rank %d", rank);
    local_transport *t = tbml_calloc(1, sizeof(*t));
    t->base.ops = &g_local_ops;
    t->base.rank = rank;
    t->base.size = w->n;
    t->w = w;
    return dist_comm_create(&t->base, opt, out);
}

typedef struct {
    tbml_local_world_t *w;
    int rank;
    const tbml_comm_options *opt;
    tbml_local_main fn;
    void *arg;
    tbml_status st;
    char msg[256];
} run_arg;

static void *run_thread(void *p)
{
    run_arg *a = p;
    tbml_comm_t *c = NULL;
    a->st = tbml_comm_open_local(a->w, a->rank, a->opt, &c);
    if (!a->st) a->st = a->fn(c, a->arg);
    if (a->st == TBML_LOCAL_VANISH) {
        dist_comm_mark_broken(c); /* freed without the closing barrier: it never says goodbye */
        snprintf(a->msg, sizeof(a->msg), "vanished");
    } else if (a->st) {
        snprintf(a->msg, sizeof(a->msg), "%s", tbml_errmsg());
        /* as a real job would: one failing rank takes the others down at once */
        if (c)
            tbml_comm_abort(c, a->st);
        else
            local_abort(&(local_transport){.base = {.rank = a->rank}, .w = a->w}.base, a->rank,
                        a->msg);
    }
    tbml_comm_free(c);
    return NULL;
}

tbml_status tbml_local_run(tbml_local_world_t *w, const tbml_comm_options *opts, int per_rank,
                           tbml_local_main fn, void *arg, tbml_status *st, char (*msg)[256])
{
    run_arg *a = tbml_calloc((size_t)w->n, sizeof(*a));
    pthread_t *th = tbml_calloc((size_t)w->n, sizeof(*th));
    int started = 0;
    tbml_status ret = TBML_OK;
    for (int r = 0; r < w->n; r++) {
        a[r] = (run_arg){w, r, per_rank ? &opts[r] : opts, fn, arg, TBML_OK, {0}};
        if (pthread_create(&th[r], NULL, run_thread, &a[r]) != 0) {
            ret = tbml_error(TBML_E_INTERNAL, "local world: cannot start thread %d", r);
            local_abort(&(local_transport){.base = {.rank = r}, .w = w}.base, r,
                        "thread start failed");
            break;
        }
        started++;
    }
    for (int r = 0; r < started; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < w->n; r++) {
        st[r] = r < started ? a[r].st : TBML_E_INTERNAL;
        if (msg) snprintf(msg[r], 256, "%s", a[r].msg);
    }
    tbml_free(a);
    tbml_free(th);
    return ret;
}

/* ---- self: a job of one rank --------------------------------------------------------------- */

static tbml_status self_isend(dist_transport *t, int dst, int tag, const void *buf, size_t size,
                              void **req)
{
    (void)dst, (void)tag, (void)buf, (void)size, (void)req;
    return tbml_error(TBML_E_INTERNAL, "rank %d: send in a one-rank job", t->rank);
}
static tbml_status self_probe(dist_transport *t, int src, int tag, int *found, size_t *size)
{
    (void)src, (void)tag, (void)found, (void)size;
    return tbml_error(TBML_E_INTERNAL, "rank %d: receive in a one-rank job", t->rank);
}
static tbml_status self_recv(dist_transport *t, int src, int tag, void *buf, size_t size)
{
    (void)src, (void)tag, (void)buf, (void)size;
    return tbml_error(TBML_E_INTERNAL, "rank %d: receive in a one-rank job", t->rank);
}
static void self_abort(dist_transport *t, int rank, const char *msg)
{
    (void)t, (void)rank, (void)msg;
}

static const dist_transport_ops g_self_ops = {self_isend, local_test, self_probe, self_recv,
                                              self_abort, local_free, "self"};

int tbml_comm_launched(int *size)
{
    static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE",     "PMIX_SIZE",
                                            "MPI_LOCALNRANKS",      "SLURM_NTASKS", NULL};
    /* PMIX_RANK alone (a PMIx launcher without size) also counts */
    int launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMI_RANK") ||
                   getenv("PMIX_RANK") || getenv("HYDRA_CONTROL_FD");
    if (size) {
        *size = 0;
        for (int i = 0; launched && size_vars[i]; i++) {
            const char *v = getenv(size_vars[i]);
            if (v && atoi(v) > 0) {
                *size = atoi(v);
                break;
            }
        }
    }
    return launched;
}

int tbml_comm_have_mpi(void)
{
#ifdef TBML_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

tbml_status tbml_comm_open(const tbml_comm_options *opt, tbml_comm_t **out)
{
    if (tbml_comm_launched(NULL)) {
#ifdef TBML_HAVE_MPI
        dist_transport *t;
        tbml_status st = dist_mpi_transport(&t);
        if (st) return st;
        if (t->rank == 0) dist_driver_take_stdout();
        return dist_comm_create(t, opt, out);
#else
        int n = 0;
        tbml_comm_launched(&n);
        if (n > 1)
            return tbml_error(
                TBML_E_UNSUPPORTED,
                "started by an MPI launcher with %d ranks, but this tbml was built without MPI "
                "(install libopenmpi-dev and rebuild)",
                n);
#endif
    }
    dist_transport *t = tbml_calloc(1, sizeof(*t));
    t->ops = &g_self_ops;
    t->rank = 0;
    t->size = 1;
    return dist_comm_create(t, opt, out);
}

#ifndef TBML_HAVE_MPI
tbml_status tbml_comm_bench_plain_allreduce_f32(tbml_comm_t *c, float *buf, size_t count)
{
    (void)c, (void)buf, (void)count;
    return tbml_error(TBML_E_UNSUPPORTED, "plain MPI collectives need the MPI backend");
}
tbml_status tbml_comm_bench_plain_alltoall(tbml_comm_t *c, const void *sendbuf, void *recvbuf,
                                           size_t block)
{
    (void)c, (void)sendbuf, (void)recvbuf, (void)block;
    return tbml_error(TBML_E_UNSUPPORTED, "plain MPI collectives need the MPI backend");
}
#endif
