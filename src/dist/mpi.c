/* The MPI transport: MPI as an untrusted byte mover. It only ever carries sealed chunks and the
 * handshake's public values; tbml's collectives run on top (collectives.c), so MPI's reductions
 * never see data. Receives poll with MPI_Iprobe so every wait has a deadline (comm.c), and sends
 * are MPI_Isend polled with MPI_Test. The only file besides mpi_bench.c that includes mpi.h. */
#include "dist_internal.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    dist_transport base;
    MPI_Comm comm;
    int we_initialised; /* finalise only what we started */
} mpi_transport;

static tbml_status mpi_fail(const mpi_transport *m, int rc, const char *what, int peer)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof(s), "error %d", rc);
    return tbml_error(TBML_E_NET, "rank %d: MPI %s (peer rank %d) failed: %s", m->base.rank, what,
                      peer, s);
}

static tbml_status mpi_isend(dist_transport *t, int dst, int tag, const void *buf, size_t size,
                             void **req)
{
    mpi_transport *m = (mpi_transport *)t;
    MPI_Request *r = tbml_malloc(sizeof(*r));
    int rc = MPI_Isend(buf, (int)size, MPI_BYTE, dst, tag, m->comm, r);
    if (rc != MPI_SUCCESS) {
        tbml_free(r);
        return mpi_fail(m, rc, "send", dst);
    }
    *req = r;
    return TBML_OK;
}

static tbml_status mpi_test(dist_transport *t, void *req, int *done)
{
    mpi_transport *m = (mpi_transport *)t;
    MPI_Request *r = req;
    int flag = 0;
    int rc = MPI_Test(r, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(m, rc, "test", -1);
    if (flag) tbml_free(r);
    *done = flag;
    return TBML_OK;
}

static tbml_status mpi_probe(dist_transport *t, int src, int tag, int *found, size_t *size)
{
    mpi_transport *m = (mpi_transport *)t;
    MPI_Status s;
    int flag = 0, count = 0;
    int rc = MPI_Iprobe(src, tag, m->comm, &flag, &s);
    if (rc != MPI_SUCCESS) return mpi_fail(m, rc, "probe", src);
    if (flag) {
        rc = MPI_Get_count(&s, MPI_BYTE, &count);
        if (rc != MPI_SUCCESS) return mpi_fail(m, rc, "get_count", src);
        *size = (size_t)count;
    }
    *found = flag;
    return TBML_OK;
}

static tbml_status mpi_recv(dist_transport *t, int src, int tag, void *buf, size_t size)
{
    mpi_transport *m = (mpi_transport *)t;
    /* the message was probed, so this completes without waiting on the peer */
    int rc = MPI_Recv(buf, (int)size, MPI_BYTE, src, tag, m->comm, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(m, rc, "receive", src);
    return TBML_OK;
}

static void mpi_abort_job(dist_transport *t, int rank, const char *msg)
{
    (void)t, (void)rank, (void)msg; /* already printed by tbml_comm_abort */
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void mpi_free(dist_transport *t)
{
    mpi_transport *m = (mpi_transport *)t;
    MPI_Comm_free(&m->comm);
    int fin = 0;
    MPI_Finalized(&fin);
    if (m->we_initialised && !fin) MPI_Finalize();
    tbml_free(m);
}

static const dist_transport_ops g_mpi_ops = {mpi_isend,     mpi_test, mpi_probe, mpi_recv,
                                             mpi_abort_job, mpi_free, "mpi"};

tbml_status dist_mpi_transport(dist_transport **out)
{
    int inited = 0, provided = 0, rc;
    mpi_transport *m = tbml_calloc(1, sizeof(*m));
    MPI_Initialized(&inited);
    if (!inited) {
        /* only the calling thread talks to MPI; the crypto workers never do */
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            tbml_free(m);
            return tbml_error(TBML_E_NET, "MPI_Init_thread failed (%d)", rc);
        }
        m->we_initialised = 1;
    }
    /* a private communicator: tbml's tags never meet the application's own MPI traffic */
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(m->comm, &m->base.rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(m->comm, &m->base.size);
    int *ub = NULL, has = 0;
    if (rc == MPI_SUCCESS) rc = MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &has);
    if (rc != MPI_SUCCESS) {
        tbml_free(m);
        return tbml_error(TBML_E_NET, "MPI setup failed (%d)", rc);
    }
    if (has && ub && *ub < DIST_TAG_LIMIT) {
        tbml_status st =
            tbml_error(TBML_E_UNSUPPORTED, "this MPI allows tags up to %d; tbml needs %d", *ub,
                       (int)DIST_TAG_LIMIT);
        mpi_free(&m->base);
        return st;
    }
    m->base.ops = &g_mpi_ops;
    *out = &m->base;
    return TBML_OK;
}

MPI_Comm dist_mpi_comm(dist_transport *t);
MPI_Comm dist_mpi_comm(dist_transport *t)
{
    return ((mpi_transport *)t)->comm;
}
