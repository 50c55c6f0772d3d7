/* tbml manifest: builds a job manifest for APP ARGS (docs/formats/manifest.md). */
#include "cli.h"

#include "tbml/tee.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: tbml manifest --out FILE [options] APP [ARGS]\n\n"
        "Writes an unsigned manifest that fixes APP's path, argv, environment and folder and\n"
        "lists every file it trusts with its SHA-256: APP, its ELF interpreter and shared\n"
        "libraries, a #! interpreter, each argument naming an existing file, and --trusted "
        "files.\n\n"
        "options (also taken by 'tbml submit'):\n"
        "  --name NAME                job name (default: APP's base name)\n"
        "  --tee-backend none|sim|gramine   (--sgx-enabled true = sim unless gramine chosen)\n"
        "  --sgx-enabled true|false   false = none\n"
        "  --sgx-driver-memory SIZE   memory limit / enclave size (also --driver-memory,\n"
        "                             --executor-memory, --sgx-executor-memory; the largest wins)\n"
        "  --master local[N]          threads (also --executor-cores N)\n"
        "  --log-level LEVEL          job log level (also --sgx-log-level)\n"
        "  --product-id N, --svn N    ISV product id and security version (0..65535)\n"
        "  --debug                    debug enclave (a strict key service refuses it)\n"
        "  --trusted PATH             another trusted file, or every file under a folder (e.g. "
        "the\n"
        "                             Python packages it imports), with their libraries\n"
        "  --input PATH[=SHA256]      an expected input and its hash\n"
        "  --sealed PATH              a sealed input; the key is fetched from the key service\n"
        "  --output PATH              a file the job writes; hashed into the receipt\n"
        "  --receipt PATH             where 'tbml run' writes the signed result receipt\n"
        "  --env NAME=VALUE           add to the fixed environment\n"
        "  --conf key=value           tbml.kms.url, tbml.kms.ca (measured), tbml.kms.app, ...\n");
}

int cmd_manifest(int argc, char **argv)
{
    tbml_manifest_options opt;
    memset(&opt, 0, sizeof(opt));
    const char *out = NULL;
    int i = 1, rc;
    tbml_manifest_t *m = NULL;
    while (i < argc && argv[i][0] == '-') {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            tbml_manifest_options_free(&opt);
            return 0;
        }
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        int took = tbml_manifest_option(argc, argv, &i, &opt);
        if (took < 0) {
            rc = cli_fail(took);
            goto done;
        }
        if (took == 0) {
            rc = cli_usage_error("unknown option '%s'", argv[i]);
            goto done;
        }
    }
    if (!out) {
        rc = cli_usage_error("--out FILE is required");
        goto done;
    }
    if (i >= argc) {
        rc = cli_usage_error("no APP given");
        goto done;
    }
    tbml_status st = tbml_manifest_build(&opt, argc - i, argv + i, &m);
    if (!st) st = tbml_manifest_write(m, out);
    uint8_t meas[32];
    if (!st) st = tbml_manifest_measure(m, meas);
    if (!st) {
        char hex[65];
        tbml_hex(meas, 32, hex);
        fprintf(stderr,
                "%s: manifest for '%s' (backend %s), measurement %s, unsigned: sign it with 'tbml "
                "sign --key "
                "enclave-key.pem %s'\n",
                out, tbml_manifest_name(m), tbml_manifest_backend(m), hex, out);
    }
    rc = st ? cli_fail(st) : 0;
done:
    tbml_manifest_free(m);
    tbml_manifest_options_free(&opt);
    return rc;
}
