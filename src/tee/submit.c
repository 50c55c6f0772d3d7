/* `tbml submit --sgx-enabled true --enclave-key K ...`: manifest, sign and run in one call, for
 * tools/tbml/cmd_submit.c. The manifest goes to a file first so the exact signed bytes that ran
 * can be kept next to the receipt. */
#include "tee_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tbml_status tbml_tee_submit(const tbml_manifest_options *opt, const char *enclave_key_path,
                            const char *manifest_out, const tbml_run_options *ropt, int argc,
                            char *const *argv, int *exit_code)
{
    tbml_status st;
    tbml_manifest_t *m = NULL, *signed_m = NULL;
    char tmp[] = "/tmp/tbml-manifest-XXXXXX";
    const char *path = manifest_out;
    if (!enclave_key_path)
        return tbml_error(TBML_E_ARG,
                          "--sgx-enabled true needs --enclave-key enclave-key.pem (RSA-3072, e=3)");
    if (!path) {
        int fd = mkstemp(tmp);
        if (fd < 0)
            return tbml_error(TBML_E_IO, "cannot create a temporary manifest: %s", strerror(errno));
        close(fd);
        unlink(tmp); /* tbml_manifest_write creates it again atomically */
        path = tmp;
    }
    if ((st = tbml_manifest_build(opt, argc, argv, &m))) goto out;
    if ((st = tbml_manifest_sign(m, enclave_key_path))) goto out;
    if ((st = tbml_manifest_write(m, path))) goto out;
    /* Run what is on disk, re-read and re-verified, exactly as `tbml run FILE` would. */
    if ((st = tbml_manifest_load(path, &signed_m))) goto out;
    st = tbml_tee_run(signed_m, ropt, exit_code);
out:
    if (!manifest_out) unlink(tmp);
    tbml_manifest_free(m);
    tbml_manifest_free(signed_m);
    return st;
}
