/* The seed's LeNet-5 workload: `tbml run-example lenet --dataPath DIR --maxEpoch 2` (or this
 * program stand-alone) trains BigDL's LeNet-5 on MNIST-format IDX files and prints BigDL's
 * validation line after each epoch. */
#include "tbml/lenet.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *prog = "tbml run-example lenet";
    tbml_lenet_options o = tbml_lenet_defaults();
    int help = 0;
    tbml_status st = tbml_lenet_parse_args(argc, argv, &o, &help);
    if (help) {
        tbml_lenet_usage(stdout, prog);
        return 0;
    }
    if (st) {
        fprintf(stderr, "%s: %s (see --help)\n", prog, tbml_errmsg());
        return 2;
    }
    tbml_lenet_result r;
    st = tbml_lenet_run(&o, &r);
    if (st) {
        fprintf(stderr, "%s: %s\n", prog, tbml_errmsg());
        return 1;
    }
    return 0;
}
