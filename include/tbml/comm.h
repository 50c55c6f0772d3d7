/* The communicator: ranks, sealed point-to-point messages, and collectives built on them
 * (docs/protocols/dist-channel.md).
 *
 * MPI (or the in-process local backend used by tests) is treated as an untrusted byte mover.
 * At open every pair of ranks runs a handshake: ephemeral X25519 keys, authenticated by a job
 * secret (a tbml primary key that every rank loads), giving each direction of each pair its own
 * AES-256-GCM key from HKDF. Every message is sealed with AAD binding the job id, tag (stage),
 * sender, receiver and a sequence number, so a flipped bit, a replayed, reordered, dropped or
 * misdirected message fails with TBML_E_AUTH naming the peer rank. Collectives (allreduce,
 * all-to-all, broadcast, gather, barrier) run in tbml over sealed point-to-point messages; MPI's
 * own reductions never see data. Large messages are cut into chunks sealed and opened on worker
 * threads while earlier chunks are on the wire.
 *
 * Every blocking call gives up after the timeout (default 60 s) without progress from the peer
 * it waits for and fails with TBML_E_NET naming that rank, so a dead or hung rank never hangs
 * the job. After any failure the communicator is broken: every later call fails at once. The
 * usual reaction is tbml_comm_abort, which ends every rank of the job.
 *
 * A communicator is used by one thread at a time. */
#ifndef TBML_COMM_H
#define TBML_COMM_H

#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tbml_comm tbml_comm_t;

#define TBML_COMM_TIMEOUT_DEFAULT 60.0
#define TBML_COMM_CHUNK_DEFAULT (256u << 10)
/* User tags are 0 .. TBML_COMM_TAG_MAX - 1; tags above are the collectives'. */
#define TBML_COMM_TAG_MAX (1u << 20)

typedef struct {
    /* The job secret every rank must hold (not copied: keep it alive until open returns).
     * NULL: take it from the environment (TBML_DIST_KEYFILE + TBML_DIST_PASSWORD_FILE, paths
     * only, never the secret itself); with neither, a job of more than one rank is refused. */
    const tbml_key_t *job_key;
    /* Seconds a blocking call waits without progress before failing; <= 0: the environment's
     * TBML_DIST_TIMEOUT, else TBML_COMM_TIMEOUT_DEFAULT. */
    double timeout_s;
    /* Worker threads that seal and open chunks; 0: this machine's cores divided by the ranks on
     * it (OMPI_COMM_WORLD_LOCAL_SIZE / MPI_LOCALNRANKS), 1 to 4; -1: none (the calling thread
     * does all crypto). */
    int crypto_threads;
    /* Plaintext bytes per sealed chunk; 0: TBML_COMM_CHUNK_DEFAULT. Must match on all ranks. */
    size_t chunk_size;
    /* Test and bench only: send in the clear through the same code paths (the bench's peer
     * run). Every rank must agree; never set by the tool. */
    int insecure_plain;
    /* Evidence from the trusted runtime (include/tbml/tee.h; not taken over: keep it alive until
     * open returns). NULL: the runtime's when this process runs under it (tbml_tee_self_open),
     * else none. With evidence every rank must have it, and ranks authenticate each other by it
     * (plus the job secret, which simulated evidence still requires). */
    struct tbml_tee_self *evidence;
} tbml_comm_options;

/* ---- opening ------------------------------------------------------------------------------- */

/* 1 when this build has the MPI backend. */
int tbml_comm_have_mpi(void);

/* 1 when this process was started by mpirun, srun or another PMI launcher (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE, PMIX_RANK, ... in the environment), and how many ranks the launcher started
 * (*size may be NULL; 0 if unknown). */
int tbml_comm_launched(int *size);

/* Opens the job's communicator: the MPI backend when launched by an MPI launcher (fails with
 * TBML_E_UNSUPPORTED when this build has no MPI), else a one-rank communicator. Runs the
 * handshake with every peer: a peer without the job secret is refused with TBML_E_AUTH naming
 * it. opt may be NULL (all defaults). Free with tbml_comm_free, which is collective. */
TBML_NODISCARD tbml_status tbml_comm_open(const tbml_comm_options *opt, tbml_comm_t **out);

/* Collective: waits for every rank (so no rank tears the transport down under a peer), then
 * frees c. NULL is fine. A broken communicator is freed without waiting. */
void tbml_comm_free(tbml_comm_t *c);

/* Ends the whole job because of st: prints "tbml: rank R: <message>" on stderr and, on MPI,
 * calls MPI_Abort so every rank exits non-zero; on the local backend it breaks every rank's
 * communicator so they fail at once. On MPI this does not return. */
void tbml_comm_abort(tbml_comm_t *c, tbml_status st);

int tbml_comm_rank(const tbml_comm_t *c);
int tbml_comm_size(const tbml_comm_t *c);
/* "mpi", "local" or "self". */
const char *tbml_comm_backend(const tbml_comm_t *c);
/* The 16-byte job id every rank agreed on at the handshake. */
const uint8_t *tbml_comm_job_id(const tbml_comm_t *c);
/* Threads that run AES-GCM for c: its crypto workers plus the calling thread, which seals and
 * opens queued chunks while it waits (1 with no workers). The bench's crypto limit counts these. */
int tbml_comm_crypto_threads(const tbml_comm_t *c);

/* ---- point to point (sealed) -------------------------------------------------------------- */

/* Sends size bytes to dst with tag. Returns when buf may be reused. */
TBML_NODISCARD tbml_status tbml_comm_send(tbml_comm_t *c, int dst, uint32_t tag, const void *buf,
                                          size_t size);
/* Receives a message of exactly size bytes from src with tag (another size: TBML_E_FORMAT).
 * On failure buf is wiped. */
TBML_NODISCARD tbml_status tbml_comm_recv(tbml_comm_t *c, int src, uint32_t tag, void *buf,
                                          size_t size);
/* Receives a message of any size into a new buffer (tbml_free it). */
TBML_NODISCARD tbml_status tbml_comm_recv_alloc(tbml_comm_t *c, int src, uint32_t tag,
                                                uint8_t **out, size_t *out_size);
/* Sends to dst and receives from src at the same time (no deadlock in rings). */
TBML_NODISCARD tbml_status tbml_comm_sendrecv(tbml_comm_t *c, int dst, uint32_t stag,
                                              const void *sbuf, size_t ssize, int src,
                                              uint32_t rtag, void *rbuf, size_t rsize);

/* ---- collectives (every rank calls them in the same order) -------------------------------- */

TBML_NODISCARD tbml_status tbml_comm_barrier(tbml_comm_t *c);

typedef enum { TBML_DT_F32 = 1, TBML_DT_F64 = 2, TBML_DT_I64 = 3 } tbml_comm_dtype;

/* In-place sum over all ranks of count elements of type dt: a ring reduce-scatter then a ring
 * allgather, each step a sealed message to the next rank. Every rank ends with identical bits. */
TBML_NODISCARD tbml_status tbml_comm_allreduce_sum(tbml_comm_t *c, void *buf, size_t count,
                                                   tbml_comm_dtype dt);
static inline tbml_status tbml_comm_allreduce_f32(tbml_comm_t *c, float *buf, size_t count)
{
    return tbml_comm_allreduce_sum(c, buf, count, TBML_DT_F32);
}

/* All-to-all with per-destination sizes: sends sendbufs[r] (sendsizes[r] bytes) to rank r and
 * receives from every rank into new buffers recvbufs[r] (recvsizes[r] bytes; tbml_free each;
 * a 0-byte message gives NULL). The rank's own part is copied. Arrays have size() entries. */
TBML_NODISCARD tbml_status tbml_comm_alltoallv(tbml_comm_t *c, const void *const *sendbufs,
                                               const size_t *sendsizes, uint8_t **recvbufs,
                                               size_t *recvsizes);
/* Fixed-size all-to-all: block r of sendbuf (block_size bytes) goes to rank r; block s of
 * recvbuf comes from rank s. */
TBML_NODISCARD tbml_status tbml_comm_alltoall(tbml_comm_t *c, const void *sendbuf, void *recvbuf,
                                              size_t block_size);

/* Broadcast of size bytes from root (a binomial tree of sealed messages). */
TBML_NODISCARD tbml_status tbml_comm_bcast(tbml_comm_t *c, int root, void *buf, size_t size);
/* Broadcast of a buffer whose size only root knows: root passes *buf and *size; the others get a
 * new buffer (tbml_free it). */
TBML_NODISCARD tbml_status tbml_comm_bcast_alloc(tbml_comm_t *c, int root, uint8_t **buf,
                                                 size_t *size);

/* Gather to root: every rank sends size bytes; at root recvbufs[r]/recvsizes[r] get new buffers
 * (tbml_free each; the root's own part is copied); elsewhere recvbufs/recvsizes are unused (may be
 * NULL). */
TBML_NODISCARD tbml_status tbml_comm_gather(tbml_comm_t *c, int root, const void *buf, size_t size,
                                            uint8_t **recvbufs, size_t *recvsizes);

/* ---- keys ---------------------------------------------------------------------------------- */

typedef tbml_status (*tbml_key_load_fn)(void *arg, tbml_key_t **out);
/* Collective: the same primary key on every rank for one password derivation (Argon2id is slow
 * and memory-hard on purpose; N ranks on one machine would each pay it, contending). Rank 0 calls
 * load(arg) and sends the key to the others over the sealed channel; the others never call load.
 * When load fails on rank 0, every rank fails with its status and message. c NULL or one rank:
 * load(arg). */
TBML_NODISCARD tbml_status tbml_comm_share_key(tbml_comm_t *c, tbml_key_load_fn load, void *arg,
                                               tbml_key_t **out);

/* ---- bench only ---------------------------------------------------------------------------- */

/* The bench's peer: MPI's own MPI_Allreduce / MPI_Alltoall on plaintext over this communicator's
 * ranks. Never for job data. TBML_E_UNSUPPORTED unless the backend is "mpi". */
TBML_NODISCARD tbml_status tbml_comm_bench_plain_allreduce_f32(tbml_comm_t *c, float *buf,
                                                               size_t count);
TBML_NODISCARD tbml_status tbml_comm_bench_plain_alltoall(tbml_comm_t *c, const void *sendbuf,
                                                          void *recvbuf, size_t block_size);

/* ---- the local backend: ranks as threads of one process (tests, single-machine runs) -------- */

typedef struct tbml_local_world tbml_local_world_t;

/* What a test hook sees of one transport message (a sealed chunk or a handshake message) on
 * its way from src to dst. The hook may change bytes in place (size fixed) and dst. */
typedef struct {
    int src, dst;
    uint32_t tag;
    uint8_t *data;
    size_t size;
    uint64_t index; /* messages sent so far in this world, from 0 */
} tbml_local_msg;

/* Return values of a hook. */
enum { TBML_LOCAL_DELIVER = 0, TBML_LOCAL_DROP = 1 };
typedef int (*tbml_local_hook)(tbml_local_world_t *w, tbml_local_msg *m, void *arg);

TBML_NODISCARD tbml_status tbml_local_world_create(int nranks, tbml_local_world_t **out);
void tbml_local_world_free(tbml_local_world_t *w);
/* Calls hook on every message before delivery (under the world's lock: keep it short). */
void tbml_local_world_set_hook(tbml_local_world_t *w, tbml_local_hook hook, void *arg);
/* From a hook: delivers a copy of m (e.g. a replay or a held-back message) now. */
void tbml_local_world_inject(tbml_local_world_t *w, const tbml_local_msg *m);

/* Opens rank's communicator in w (collective over the world's ranks: call it on nranks threads). */
TBML_NODISCARD tbml_status tbml_comm_open_local(tbml_local_world_t *w, int rank,
                                                const tbml_comm_options *opt, tbml_comm_t **out);

/* Runs fn on nranks threads, each with its own communicator opened with opts[rank] (or opts[0]
 * for all when per_rank is 0), then frees them. A rank whose fn fails aborts the world, as
 * tbml_comm_abort would; a rank whose fn returns TBML_LOCAL_VANISH leaves without a word, as a
 * killed process would (for tests of failure detection). st[r] gets rank r's status (open or fn)
 * and msg[r] (each 256 bytes, may be NULL) its error message. Returns TBML_OK when all threads ran
 * (their results are in st). */
#define TBML_LOCAL_VANISH 1
typedef tbml_status (*tbml_local_main)(tbml_comm_t *c, void *arg);
TBML_NODISCARD tbml_status tbml_local_run(tbml_local_world_t *w, const tbml_comm_options *opts,
                                          int per_rank, tbml_local_main fn, void *arg,
                                          tbml_status *st, char (*msg)[256]);

#ifdef __cplusplus
}
#endif
#endif
