/* `tbml submit --sgx-enabled true --enclave-key K ...`: the trusted runtime's half of submit.
 * cmd_submit.c (branch data) calls cli_tee_submit_wanted() first and, when it says yes, hands
 * over the whole command line to cli_tee_submit(). */
#ifndef TBML_CLI_TEE_SUBMIT_H
#define TBML_CLI_TEE_SUBMIT_H

/* 1 if argv (a submit command line) asks for a TEE: --sgx-enabled true or --tee-backend sim|gramine
 * before APP. */
int cli_tee_submit_wanted(int argc, char **argv);

/* Parses the submit options (tbml_manifest_option's, plus --enclave-key K and --manifest-out F),
 * builds the manifest for APP ARGS, signs it with K, verifies and runs it (tbml_tee_submit).
 * Returns the job's exit code, or cli_fail's. */
int cli_tee_submit(int argc, char **argv);

/* The --master mpi half of cli_tee_submit (tee_submit_mpi.c): builds and signs the manifest for
 * APP ARGS (argv) with --conf tbml.dist=mpi, writes it to manifest_out (NULL: a temporary file),
 * and runs `tbml run MANIFEST` as each of mpi's ranks under mpirun. Returns the exit code. */
#include "submit_mpi.h"
#include "tbml/tee.h"
int cli_tee_submit_mpi(tbml_manifest_options *mo, const submit_mpi_opts *mpi,
                       const char *enclave_key, const char *manifest_out, int verbose, int argc,
                       char **argv);

#endif
