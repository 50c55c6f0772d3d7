/* The dist module's insides: the untrusted transport interface the backends (local, mpi)
 * implement, and how comm.c gets a communicator on top of one. Nothing here sees plaintext
 * except comm.c, which seals before anything reaches a transport. */
#ifndef TBML_DIST_INTERNAL_H
#define TBML_DIST_INTERNAL_H

#include "tbml/comm.h"

#define DIST_HIDDEN __attribute__((visibility("hidden")))

/* Transport tags: user tags below TBML_COMM_TAG_MAX, then the collectives', then the handshake. */
enum {
    DIST_TAG_BARRIER = TBML_COMM_TAG_MAX + 1,
    DIST_TAG_ALLREDUCE,
    DIST_TAG_ALLTOALL,
    DIST_TAG_BCAST,
    DIST_TAG_GATHER,
    DIST_TAG_FREE,
    DIST_TAG_HELLO,
    DIST_TAG_CONFIRM,
    DIST_TAG_NOTICE,   /* "rank i is waiting for rank j": diagnostics for timeouts, never trusted */
    DIST_TAG_EVIDENCE, /* the handshake's evidence round (evidence.c) */
    DIST_TAG_LIMIT,    /* the transport must accept tags below this */
};

typedef struct dist_transport dist_transport;

/* A byte mover between ranks. Messages between one (src, dst, tag) arrive in the order sent
 * (MPI's non-overtaking rule). One thread calls it at a time. */
typedef struct {
    /* Starts sending; buf stays untouched and alive until test reports done. *req may be NULL
     * when the send completed at once. */
    tbml_status (*isend)(dist_transport *t, int dst, int tag, const void *buf, size_t size,
                         void **req);
    /* *done = 1 once req completed (req is then released). */
    tbml_status (*test)(dist_transport *t, void *req, int *done);
    /* Is a message from src with tag waiting? Its size in *size. Never blocks. Fails when the
     * job was aborted. */
    tbml_status (*probe)(dist_transport *t, int src, int tag, int *found, size_t *size);
    /* Receives the message probe just found (size bytes) into buf. */
    tbml_status (*recv)(dist_transport *t, int src, int tag, void *buf, size_t size);
    /* Ends the job everywhere (MPI_Abort) or marks the world failed (local). */
    void (*abort)(dist_transport *t, int rank, const char *msg);
    void (*free)(dist_transport *t);
    const char *name;
} dist_transport_ops;

struct dist_transport {
    const dist_transport_ops *ops;
    int rank, size;
};

/* Builds a communicator on t (taking ownership of it) and runs the handshake. */
DIST_HIDDEN tbml_status dist_comm_create(dist_transport *t, const tbml_comm_options *opt,
                                         tbml_comm_t **out);

/* On rank 0: takes the submitter's stdout when it lent it (driver_stdout.c); else nothing. */
DIST_HIDDEN void dist_driver_take_stdout(void);

/* Registers a private file (is_dir 0) or folder (1) for removal at exit or on a fatal signal;
 * dist_cleanup_remove removes it now and forgets it. */
DIST_HIDDEN tbml_status dist_cleanup_add(const char *path, int is_dir);
DIST_HIDDEN void dist_cleanup_remove(const char *path);

/* Marks c failed without a message to anyone (a rank that vanishes in tests). */
DIST_HIDDEN void dist_comm_mark_broken(tbml_comm_t *c);

/* A buffer of at least size bytes owned by c (reused across calls; wiped at free). */
DIST_HIDDEN uint8_t *dist_comm_scratch(tbml_comm_t *c, size_t size);

/* The transport under c (for the MPI bench peer). */
DIST_HIDDEN dist_transport *dist_comm_transport(tbml_comm_t *c);

/* The MPI transport (src/dist/mpi.c, only when TBML_HAVE_MPI). */
DIST_HIDDEN tbml_status dist_mpi_transport(dist_transport **out);

/* The handshake's evidence round (evidence.c): gets this rank's evidence from self over report
 * data binding transcript, the rank and its X25519 public key (pubs + rank * pub_stride), sends it
 * to every peer and checks theirs. A peer that fails a check: TBML_E_AUTH "rank R: handshake
 * refused rank P: evidence ...". */
struct tbml_tee_self;
DIST_HIDDEN tbml_status dist_evidence_round(dist_transport *t, double timeout,
                                            struct tbml_tee_self *self,
                                            const uint8_t transcript[32], const uint8_t *pubs,
                                            size_t pub_stride);

/* Backoff for polling loops: spins, then yields, then sleeps up to 200 us. */
DIST_HIDDEN void dist_backoff(unsigned *round);

/* The handshake's plain transport waits (comm.c's handshake and evidence.c), before any channel
 * exists; what names the round in the timeout messages ("handshake", "evidence").
 * dist_raw_probe waits up to timeout s for a message from src with tag and gives its size in
 * *size (receive it with t->ops->recv). Timeout: TBML_E_NET "rank R: no WHAT from rank S in T s:
 * rank S died, hung or is not part of this job"; a failed probe (job aborted) its own error. */
DIST_HIDDEN tbml_status dist_raw_probe(dist_transport *t, int src, int tag, double timeout,
                                       const char *what, size_t *size);
/* Waits up to timeout s for the sends in reqs (one per rank; NULL: none) to complete, NULLing
 * each. Stops at a failed test or at the timeout, TBML_E_NET "rank R: rank P took no WHAT in
 * T s", leaving the rest pending: callers then tear the communicator down. */
DIST_HIDDEN tbml_status dist_raw_wait_all(dist_transport *t, void **reqs, double timeout,
                                          const char *what);

/* Reduces count elements of dt: acc += in. */
DIST_HIDDEN void dist_reduce_sum(void *acc, const void *in, size_t count, tbml_comm_dtype dt);

/* Internal pieces of comm.c for collectives.c. */
typedef struct {
    int peer;
    uint32_t tag;
    const void *buf; /* send: the data; */
    size_t size;
} dist_send_spec;

typedef struct {
    int peer;
    uint32_t tag;
    void *buf;      /* recv into buf of exactly size bytes, or when NULL a new buffer */
    size_t size;    /* expected size (buf != NULL) or the size received (buf == NULL) */
    uint8_t *alloc; /* buf == NULL: the new buffer (tbml_free it) */
} dist_recv_spec;

/* Whether c's chunks hold whole elements of dt, so a receive can reduce chunk by chunk. */
DIST_HIDDEN int dist_comm_can_reduce(const tbml_comm_t *c, tbml_comm_dtype dt);

/* Runs the sends and receives at once, chunks pipelined through the crypto workers. */
DIST_HIDDEN tbml_status dist_exchange(tbml_comm_t *c, dist_send_spec *sends, int nsend,
                                      dist_recv_spec *recvs, int nrecv);
/* What dist_exchange_ex does besides the messages. */
typedef struct {
    /* 0, or a tbml_comm_dtype: every receive (into its buf) adds the message to buf element-wise,
     * each chunk as it opens on a crypto worker, instead of storing it. Needs
     * dist_comm_can_reduce(c, reduce) and sizes in whole elements. On failure the receive
     * buffers are wiped like any receive buffer. */
    tbml_comm_dtype reduce;
    /* copy_size bytes from copy_src to copy_dst (a rank's own all-to-all block), done piecewise
     * while the exchange would otherwise wait, the rest at the end; done when it succeeds. */
    void *copy_dst;
    const void *copy_src;
    size_t copy_size;
} dist_exchange_extra;

DIST_HIDDEN tbml_status dist_exchange_ex(tbml_comm_t *c, dist_send_spec *sends, int nsend,
                                         dist_recv_spec *recvs, int nrecv,
                                         const dist_exchange_extra *x);

#endif
