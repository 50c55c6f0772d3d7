/* `tbml train`: trains a model on the user's own data. `--model lenet|gbdt` picks the trainer
 * (train.h); the remaining options belong to it. */
#include "cli.h"
#include "train.h"

#include "tbml/comm.h"
#include "tbml/lenet.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: tbml train --model lenet|gbdt [OPTIONS]\n\n"
               "  --model lenet   LeNet-5 on IDX images ('tbml train --model lenet --help')\n"
               "  --model gbdt    gradient-boosted trees ('tbml train --model gbdt --help')\n");
}

int cmd_train_lenet(int argc, char **argv)
{
    /* the key options are ours; everything else is the lenet job's */
    const char *key_path = NULL;
    cli_password_source pw = {NULL, -1};
    char **rest = tbml_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        int took = cli_password_option(argc, argv, &i, &pw);
        if (took < 0) {
            tbml_free(rest);
            return 2;
        }
        if (took) {
            i--; /* it leaves i on the next argument; the loop steps there */
            continue;
        }
        if (strcmp(argv[i], "--key") == 0 || strncmp(argv[i], "--key=", 6) == 0) {
            if (argv[i][5] == '=') {
                key_path = argv[i] + 6;
            } else if (i + 1 < argc) {
                key_path = argv[++i];
            } else {
                tbml_free(rest);
                return cli_usage_error("--key needs a key file");
            }
            continue;
        }
        rest[nrest++] = argv[i];
    }
    tbml_lenet_options o = tbml_lenet_defaults();
    int help = 0;
    tbml_status st = tbml_lenet_parse_args(nrest, rest, &o, &help);
    tbml_key_t *key = NULL;
    if (help) {
        tbml_lenet_usage(stdout, "tbml train --model lenet");
        printf(
            "      --key FILE              key file: opens sealed inputs, seals the saved model\n"
            "                              and the checkpoints\n"
            "      --password-file F | --password-fd N   the key file's password\n");
        rc = 0;
    } else if (st) {
        rc = cli_usage_error("%s", tbml_errmsg());
    } else {
        /* under mpirun (tbml submit --master mpi): data-parallel over the ranks */
        tbml_comm_t *comm = NULL;
        st = tbml_comm_launched(NULL) ? tbml_comm_open(NULL, &comm) : TBML_OK;
        if (!st && key_path) st = cli_load_key_shared(comm, key_path, &pw, &key);
        if (!st) {
            o.key = key;
            o.comm = comm;
            st = tbml_lenet_run(&o, NULL);
        }
        if (st && comm && tbml_comm_size(comm) > 1) tbml_comm_abort(comm, st);
        tbml_comm_free(comm);
        rc = st ? cli_fail(st) : 0;
    }
    tbml_key_free(key);
    tbml_free(rest);
    return rc;
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
