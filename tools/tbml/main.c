/* tbml: the command-line tool. Dispatches to one subcommand per file (commands.def) after the
 * global options that every command shares. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char *g_cli_command = "tbml";

static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} g_commands[] = {
    {"help", cmd_help, "describe the commands"},
#define TBML_COMMAND(name, fn, summary) {name, fn, summary},
#include "commands.def"
#undef TBML_COMMAND
};

static void usage(FILE *f);

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tbml [--log-level LEVEL] COMMAND [ARGS]\n\n"
               "tbml runs analytics and ML on data that stays sealed outside the trusted process.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(g_commands) / sizeof(g_commands[0]); i++)
        fprintf(f, "  %-12s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f, "\noptions:\n"
               "  --log-level LEVEL   error, warn (default), info or debug\n"
               "  --version           print the version\n"
               "\n'tbml COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("tbml 0.1.0\n");
            return 0;
        } else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
            const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : NULL);
            tbml_log_level lvl;
            if (!v) return cli_usage_error("--log-level needs a value");
            if (tbml_log_level_parse(v, &lvl)) return cli_fail(TBML_E_ARG);
            tbml_log_set_level(lvl);
        } else {
            return cli_usage_error("unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof(g_commands) / sizeof(g_commands[0]); c++) {
        if (strcmp(argv[i], g_commands[c].name) == 0) {
            g_cli_command = g_commands[c].name;
            char prog[64];
            snprintf(prog, sizeof(prog), "tbml %s", g_cli_command);
            return tbml_stdout_finish(prog, g_commands[c].fn(argc - i, argv + i));
        }
    }
    fprintf(stderr, "tbml: unknown command '%s' (see 'tbml --help')\n", argv[i]);
    return 2;
}
