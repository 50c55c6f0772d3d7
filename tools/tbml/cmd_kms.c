/* tbml kms: the key service (placeholder until the server lands). */
#include "cli.h"

int cmd_kms(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("not built yet");
}
