/* The bench's peer: the same collectives done by MPI itself on plaintext, on the communicator's
 * private MPI communicator. Never used by jobs (MPI must not see job data); bench/dist.c only. */
#include "dist_internal.h"

#include <mpi.h>
#include <string.h>

MPI_Comm dist_mpi_comm(dist_transport *t);

static tbml_status get(tbml_comm_t *c, MPI_Comm *out)
{
    if (strcmp(tbml_comm_backend(c), "mpi") != 0)
        return tbml_error(TBML_E_UNSUPPORTED, "plain MPI collectives need the MPI backend");
    *out = dist_mpi_comm(dist_comm_transport(c));
    return TBML_OK;
}

tbml_status tbml_comm_bench_plain_allreduce_f32(tbml_comm_t *c, float *buf, size_t count)
{
    MPI_Comm m;
    tbml_status st = get(c, &m);
    if (st) return st;
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, m) != MPI_SUCCESS)
        return tbml_error(TBML_E_NET, "MPI_Allreduce failed");
    return TBML_OK;
}

tbml_status tbml_comm_bench_plain_alltoall(tbml_comm_t *c, const void *sendbuf, void *recvbuf,
                                           size_t block)
{
    MPI_Comm m;
    tbml_status st = get(c, &m);
    if (st) return st;
    if (MPI_Alltoall(sendbuf, (int)block, MPI_BYTE, recvbuf, (int)block, MPI_BYTE, m) !=
        MPI_SUCCESS)
        return tbml_error(TBML_E_NET, "MPI_Alltoall failed");
    return TBML_OK;
}
