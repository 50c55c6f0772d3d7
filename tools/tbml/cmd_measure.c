/* tbml measure: prints a manifest's measurement (recomputed here) and, when signed, the signer
 * after checking the signature. --canonical prints the exact bytes hashed. */
#include "cli.h"

#include "tbml/tee.h"

#include <string.h>
#include <unistd.h>

int cmd_measure(int argc, char **argv)
{
    const char *file = NULL;
    int canonical = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: tbml measure [--canonical] FILE\n\n"
                   "Prints 'measurement HEX' (SHA-256 of the canonical manifest, "
                   "docs/formats/manifest.md)\n"
                   "and, if the manifest is signed and the signature verifies, 'mrsigner HEX'.\n"
                   "--canonical writes the exact bytes that are hashed instead.\n");
            return 0;
        } else if (strcmp(argv[i], "--canonical") == 0) {
            canonical = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (!file) return cli_usage_error("no manifest FILE given");
    tbml_manifest_t *m = NULL;
    uint8_t meas[32], signer[32];
    char hex[65];
    tbml_status st = tbml_manifest_load(file, &m);
    if (!st && canonical) {
        char *bytes;
        size_t size;
        st = tbml_manifest_canonical(m, &bytes, &size);
        if (!st) {
            fwrite(bytes, 1, size, stdout);
            tbml_free(bytes);
        }
        tbml_manifest_free(m);
        return st ? cli_fail(st) : 0;
    }
    if (!st) st = tbml_manifest_measure(m, meas);
    if (st) {
        tbml_manifest_free(m);
        return cli_fail(st);
    }
    tbml_hex(meas, 32, hex);
    printf("measurement %s\n", hex);
    st = tbml_manifest_verify(m, NULL, signer);
    tbml_manifest_free(m);
    if (st == TBML_E_POLICY && strstr(tbml_errmsg(), "not signed")) {
        printf("mrsigner none (unsigned)\n");
        return 0;
    }
    if (st) return cli_fail(st);
    tbml_hex(signer, 32, hex);
    printf("mrsigner %s\n", hex);
    return 0;
}
