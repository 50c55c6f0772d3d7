/* `tbml train`: trains a model on the user's own data. `--model lenet|gbdt` picks the trainer
 * (train.h); the remaining options belong to it. */
#include "cli.h"
#include "train.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: tbml train --model lenet|gbdt [OPTIONS]\n\n"
               "  --model lenet   LeNet-5 on IDX images ('tbml train --model lenet --help')\n"
               "  --model gbdt    gradient-boosted trees ('tbml train --model gbdt --help')\n");
}

/* Stand-in until the gbdt module is linked in: its strong definition replaces this one. */
__attribute__((weak)) int cmd_train_gbdt(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tbml train: gbdt training is not built in this version\n");
    return 1;
}

/* Stand-in until the LeNet trainer lands in this file. */
__attribute__((weak)) int cmd_train_lenet(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tbml train: lenet training is not built in this version\n");
    return 1;
}

int cmd_train(int argc, char **argv)
{
    const char *model = NULL;
    int keep = 1; /* argv[0] stays "train" for the trainer */
    char **rest = tbml_calloc((size_t)argc + 1, sizeof(char *));
    rest[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!model && (strcmp(a, "--model") == 0 || strncmp(a, "--model=", 8) == 0)) {
            if (a[7] == '=') {
                model = a + 8;
            } else if (i + 1 < argc) {
                model = argv[++i];
            } else {
                tbml_free(rest);
                return cli_usage_error("--model needs a value (lenet or gbdt)");
            }
        } else {
            rest[keep++] = argv[i];
        }
    }
    int rc;
    if (!model) {
        int help = argc > 1 && cli_is_help(argv[1]);
        usage(help ? stdout : stderr);
        rc = help ? 0 : 2;
    } else if (strcmp(model, "lenet") == 0) {
        rc = cmd_train_lenet(keep, rest);
    } else if (strcmp(model, "gbdt") == 0) {
        rc = cmd_train_gbdt(keep, rest);
    } else {
        rc = cli_usage_error("unknown model '%s' (lenet or gbdt)", model);
    }
    tbml_free(rest);
    return rc;
}
