/* The trusted-runtime path of `tbml submit`: manifest + sign + measured launch in one command,
 * with the seed's options (--sgx-enabled, --sgx-driver-memory, --master, ...) mapped into the
 * manifest (docs/formats/manifest.md). */
#include "tee_submit.h"

#include "cli.h"

#include "tbml/tee.h"

#include <string.h>

int cli_tee_submit_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = NULL;
        if (strncmp(a, "--sgx-enabled=", 14) == 0)
            v = a + 14;
        else if (strcmp(a, "--sgx-enabled") == 0 && i + 1 < argc)
            v = argv[i + 1];
        if (v && strcmp(v, "true") == 0) return 1;
        if (strncmp(a, "--tee-backend", 13) == 0) {
            v = a[13] == '=' ? a + 14 : i + 1 < argc ? argv[i + 1] : "";
            if (strcmp(v, "none") != 0) return 1;
        }
    }
    return 0;
}

int cli_tee_submit(int argc, char **argv)
{
    tbml_manifest_options mo;
    tbml_run_options ro;
    memset(&mo, 0, sizeof(mo));
    memset(&ro, 0, sizeof(ro));
    const char *key = NULL, *out = NULL;
    int i = 1, code = 0, rc, mpi_mode = 0, verbose = 0;
    submit_mpi_opts mpi;
    memset(&mpi, 0, sizeof(mpi));
    /* --master mpi's options, in submit_mpi_option's order */
    static const char *const mpi_opts[SUBMIT_MPI_NOPTS] = {"--num-executors", "--deploy-mode",
                                                           "--dist-key", "--dist-password-file"};
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (cli_is_help(argv[i])) {
            printf("usage: tbml submit --sgx-enabled true --enclave-key enclave-key.pem "
                   "[--manifest-out F]\n"
                   "                   [--master mpi --num-executors N [--deploy-mode M] "
                   "[--dist-key K --dist-password-file F]]\n"
                   "                   [manifest options] APP [ARGS]\n\n"
                   "Builds the manifest for APP ARGS (see 'tbml manifest --help' for the options), "
                   "signs it\n"
                   "with the RSA-3072 e=3 enclave key, and runs it as 'tbml run' does. "
                   "--sgx-enabled true\n"
                   "uses the simulated enclave unless --tee-backend gramine is given.\n"
                   "With --master mpi every rank runs 'tbml run' on that one manifest under "
                   "mpirun, and\n"
                   "the ranks authenticate each other with the runtime's evidence "
                   "(docs/deploy.md).\n");
            tbml_manifest_options_free(&mo);
            return 0;
        }
        if (strcmp(argv[i], "--enclave-key") == 0 && i + 1 < argc) {
            key = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--manifest-out") == 0 && i + 1 < argc) {
            out = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            i++;
            continue;
        }
        if (strcmp(argv[i], "--master") == 0 && i + 1 < argc && submit_mpi_master(argv[i + 1])) {
            mpi_mode = 1;
            i += 2;
            continue;
        }
        int k = 0;
        while (k < SUBMIT_MPI_NOPTS && strcmp(argv[i], mpi_opts[k]) != 0)
            k++;
        if (k < SUBMIT_MPI_NOPTS && i + 1 < argc) {
            int c = submit_mpi_option(&mpi, k, argv[i + 1]);
            if (c >= 0) {
                rc = c;
                goto done;
            }
            i += 2;
            continue;
        }
        int took = tbml_manifest_option(argc, argv, &i, &mo);
        if (took < 0) {
            rc = cli_fail(took);
            goto done;
        }
        if (took == 0) {
            rc = cli_usage_error("'%s' is not an option of the trusted runtime's submit", argv[i]);
            goto done;
        }
    }
    if (i >= argc) {
        rc = cli_usage_error("no APP given");
        goto done;
    }
    if (!key) {
        rc = cli_usage_error(
            "--sgx-enabled true needs --enclave-key enclave-key.pem (RSA-3072, e=3)");
        goto done;
    }
    if (mpi_mode) {
        rc = cli_tee_submit_mpi(&mo, &mpi, key, out, verbose, argc - i, argv + i);
        goto done;
    }
    if (mpi.num_executors || mpi.deploy_mode || mpi.dist_key) {
        rc = cli_usage_error("--num-executors, --deploy-mode and --dist-key need --master mpi");
        goto done;
    }
    tbml_status st = tbml_tee_submit(&mo, key, out, &ro, argc - i, argv + i, &code);
    rc = st ? cli_fail(st) : code;
done:
    tbml_manifest_options_free(&mo);
    return rc;
}
