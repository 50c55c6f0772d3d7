/* The seed's LeNet-5 workload: `tbml run-example lenet --dataPath DIR --maxEpoch 2` (or this
 * program stand-alone) trains BigDL's LeNet-5 on MNIST-format IDX files (plain, gzip'd, or sealed
 * with --key FILE --password-file F) and prints BigDL's validation line after each epoch. */
#include "tbml/lenet.h"
#include "example_util.h"
#include "tbml/app.h"

int main(int argc, char **argv)
{
    const char *prog = "lenet";
    tbml_app_t *app = NULL;
    tbml_key_t *key = NULL;
    const char *key_file = NULL, *password_file = NULL;
    int rc = 0, help = 0;
    tbml_status st = tbml_app_init(&argc, &argv, &app);
    if (st) return example_fail(prog, st);
    if (example_key_options(&argc, argv, &key_file, &password_file)) {
        tbml_app_free(app);
        return 2;
    }
    tbml_lenet_options o = tbml_lenet_defaults();
    o.threads = app->nthreads; /* submit's --master; a --master option here overrides it */
    st = tbml_lenet_parse_args(argc, argv, &o, &help);
    if (help) {
        tbml_lenet_usage(stdout, "tbml run-example lenet");
        printf("      --key FILE --password-file F   open sealed inputs, seal the saved model\n");
    } else if (st) {
        fprintf(stderr, "%s: %s (see --help)\n", prog, tbml_errmsg());
        rc = 2;
    } else if (key_file && (st = example_load_key(key_file, password_file, &key))) {
        rc = example_fail(prog, st);
    } else {
        if (o.threads == app->nthreads) o.pool = app->pool;
        o.key = key;
        st = tbml_lenet_run(&o, NULL);
        if (st) rc = example_fail(prog, st);
    }
    tbml_key_free(key);
    tbml_app_free(app);
    return tbml_stdout_finish(prog, rc);
}
