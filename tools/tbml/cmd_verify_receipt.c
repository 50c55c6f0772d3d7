/* tbml verify-receipt: checks a job's result receipt against its evidence and, optionally, the
 * manifest the data owner expects, the signer, and the output files. */
#include "cli.h"

#include "tbml/tee.h"

#include <string.h>

static int unhex32(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int cmd_verify_receipt(int argc, char **argv)
{
    const char *file = NULL, *manifest = NULL;
    uint8_t meas[32], signer[32];
    tbml_receipt_check chk;
    memset(&chk, 0, sizeof(chk));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf("usage: tbml verify-receipt [--manifest FILE] [--measurement HEX] [--mrsigner "
                   "HEX]\n"
                   "                           [--check-outputs] RECEIPT\n\n"
                   "Verifies the receipt's evidence, that the evidence binds the receipt, and what "
                   "you\n"
                   "expect: the measurement of --manifest (recomputed here) or --measurement, the "
                   "enclave\n"
                   "signer, and the output files' current hashes.\n");
            return 0;
        } else if (strcmp(a, "--manifest") == 0 && i + 1 < argc) {
            manifest = argv[++i];
        } else if (strcmp(a, "--measurement") == 0 && i + 1 < argc) {
            if (unhex32(argv[++i], meas))
                return cli_usage_error("--measurement needs 64 hex digits");
            chk.measurement = meas;
        } else if (strcmp(a, "--mrsigner") == 0 && i + 1 < argc) {
            if (unhex32(argv[++i], signer))
                return cli_usage_error("--mrsigner needs 64 hex digits");
            chk.mrsigner = signer;
        } else if (strcmp(a, "--check-outputs") == 0) {
            chk.check_outputs = 1;
        } else if (a[0] == '-') {
            return cli_usage_error("unknown option '%s'", a);
        } else {
            file = a;
        }
    }
    if (!file) return cli_usage_error("no RECEIPT given");
    if (manifest) {
        tbml_manifest_t *m = NULL;
        tbml_status st = tbml_manifest_load(manifest, &m);
        if (!st) st = tbml_manifest_measure(m, meas);
        tbml_manifest_free(m);
        if (st) return cli_fail(st);
        chk.measurement = meas;
    }
    tbml_receipt_info info;
    tbml_status st = tbml_receipt_verify(file, &chk, &info);
    if (st) return cli_fail(st);
    char mh[65], sh[65];
    tbml_hex(info.measurement, 32, mh);
    tbml_hex(info.mrsigner, 32, sh);
    printf("receipt ok%s: measurement %s mrsigner %s exit %d, %zu inputs, %zu outputs%s\n",
           info.simulated ? " (SIMULATED evidence: proves nothing about hardware)" : "", mh, sh,
           info.exit_code, info.ninputs, info.noutputs, info.debug ? ", DEBUG enclave" : "");
    return 0;
}
