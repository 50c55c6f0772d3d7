/* `tbml submit --master mpi --num-executors N --sgx-enabled true --enclave-key K APP ARGS`: one
 * signed manifest for APP ARGS (with --conf tbml.dist=mpi, so `tbml run` hands the MPI launcher's
 * variables to the job), then mpirun starts `tbml run MANIFEST` as every rank. Each rank's runtime
 * verifies the manifest and its files and gives its job evidence; the jobs authenticate each other
 * with it (and the job secret) at the handshake (docs/deploy.md, "Under the trusted runtime"). */
#include "tee_submit.h"

#include "cli.h"
#include "submit_mpi.h"

#include "tbml/tee.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int cli_tee_submit_mpi(tbml_manifest_options *mo, const submit_mpi_opts *mpi,
                       const char *enclave_key, const char *manifest_out, int verbose, int argc,
                       char **argv)
{
    tbml_status st;
    tbml_manifest_t *m = NULL;
    char tmp[] = "/tmp/tbml-manifest-XXXXXX", self[PATH_MAX];
    const char *path = manifest_out;
    int code = 1, fd = -1;
    /* measured: the job joins an MPI world (the runtime passes the launcher's variables) */
    mo->conf = tbml_realloc(mo->conf, (mo->nconf + 1) * sizeof(char *));
    mo->conf[mo->nconf++] = "tbml.dist=mpi";
    if (mo->threads == 0) mo->threads = submit_mpi_threads(mpi, 0);
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        st = tbml_error(TBML_E_IO, "cannot find this program: %s", strerror(errno));
        goto out;
    }
    self[n] = '\0';
    if (!path) {
        int t = mkstemp(tmp);
        if (t < 0) {
            st = tbml_error(TBML_E_IO, "cannot create a temporary manifest: %s", strerror(errno));
            goto out;
        }
        close(t);
        unlink(tmp); /* tbml_manifest_write creates it again atomically */
        path = tmp;
    }
    if ((st = tbml_manifest_build(mo, argc, argv, &m))) goto out;
    if ((st = tbml_manifest_sign(m, enclave_key))) goto out;
    if ((st = tbml_manifest_write(m, path))) goto out;
    /* the ranks' settings come from the manifest; submit's settings file only names the master */
    fd = memfd_create("tbml-submit-settings", 0);
    char settings[64];
    int len = snprintf(settings, sizeof(settings), "master=local[%d]\n", mo->threads);
    if (fd < 0 || write(fd, settings, (size_t)len) != len) {
        st = tbml_error(TBML_E_IO, "cannot write the settings: %s", strerror(errno));
        goto out;
    }
    char *rank_argv[2] = {"run", (char *)path};
    code = submit_mpi_run(mpi, fd, mo->threads, verbose, self, 2, rank_argv);
    fd = -1; /* closed by submit_mpi_run */
out:
    if (fd >= 0) close(fd);
    if (!manifest_out) unlink(tmp);
    tbml_manifest_free(m);
    return st ? cli_fail(st) : code;
}
