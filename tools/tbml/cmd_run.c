/* tbml run: the measured launch (pal_loader role). The host chooses only the manifest and where
 * the key service is; argv, environment, folder and files come from the signed manifest. */
#include "cli.h"

#include "tbml/tee.h"

#include <string.h>

int cmd_run(int argc, char **argv)
{
    const char *file = NULL;
    tbml_run_options ro;
    memset(&ro, 0, sizeof(ro));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf(
                "usage: tbml run [--conf tbml.kms.url=URL] [--gramine-dir DIR] [--dry-run] FILE\n\n"
                "Verifies FILE's signature (RSA-3072, e=3) and the SHA-256 of every trusted file, "
                "then\n"
                "starts the job with the manifest's argv, environment and folder only. Sealed "
                "inputs\n"
                "are opened with keys the key service releases against the job's evidence. Any\n"
                "extra arguments are refused: the manifest fixes them.\n");
            return 0;
        } else if (strcmp(a, "--conf") == 0 && i + 1 < argc) {
            const char *kv = argv[++i];
            if (strncmp(kv, "tbml.kms.url=", 13) != 0)
                return cli_usage_error(
                    "only --conf tbml.kms.url=URL may be given at run time; '%s' belongs in "
                    "the manifest",
                    kv);
            ro.kms_url = kv + 13;
        } else if (strcmp(a, "--gramine-dir") == 0 && i + 1 < argc) {
            ro.gramine_dir = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0) {
            ro.dry_run = 1;
        } else if (a[0] == '-') {
            return cli_usage_error("unknown option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return cli_usage_error(
                "extra argument '%s': argv is fixed by the manifest; rebuild it instead", a);
        }
    }
    if (!file) return cli_usage_error("no manifest FILE given");
    tbml_manifest_t *m = NULL;
    int code = 0;
    tbml_status st = tbml_manifest_load(file, &m);
    if (!st) st = tbml_tee_run(m, &ro, &code);
    tbml_manifest_free(m);
    if (st) return cli_fail(st);
    return code;
}
