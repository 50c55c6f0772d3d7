/* tbml sign: signs a manifest in place with the RSA-3072 e=3 enclave key. */
#include "cli.h"

#include "tbml/tee.h"

#include <string.h>

int cmd_sign(int argc, char **argv)
{
    const char *key = NULL, *file = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf(
                "usage: tbml sign --key enclave-key.pem [--out SIGNED] FILE\n\n"
                "Signs the manifest's measurement with an RSA-3072 key whose public exponent is 3\n"
                "(make one with 'tbml keygen enclave --out enclave-key.pem'). Writes FILE in "
                "place\n"
                "unless --out is given; prints the measurement and MRSIGNER.\n");
            return 0;
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage_error("one manifest at a time");
        }
    }
    if (!key || !file) return cli_usage_error("need --key enclave-key.pem and a manifest FILE");
    tbml_manifest_t *m = NULL;
    uint8_t meas[32], signer[32];
    char mh[65], sh[65];
    tbml_status st = tbml_manifest_load(file, &m);
    if (!st) st = tbml_manifest_sign(m, key);
    if (!st) st = tbml_manifest_verify(m, meas, signer);
    if (!st) st = tbml_manifest_write(m, out ? out : file);
    tbml_manifest_free(m);
    if (st) return cli_fail(st);
    tbml_hex(meas, 32, mh);
    tbml_hex(signer, 32, sh);
    printf("measurement %s\nmrsigner %s\n", mh, sh);
    return 0;
}
