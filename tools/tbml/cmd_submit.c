/* tbml submit and tbml run-example (docs/submit.md): spark-submit's options for local runs, then
 * exec of the application with its settings in a memfd whose number is in TBML_SUBMIT_FD (see
 * include/tbml/app.h). run-example finds tbml-example-NAME next to this tool or in ../examples. */
#include "cli.h"

#include "submit_mpi.h"
#include "tbml/app.h"
#include "tee_submit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const g_submit_options[] = {
    "--master",          "--name",           "--conf",    "--properties-file", "--driver-memory",
    "--executor-memory", "--executor-cores", "--verbose", "--sgx-enabled",     "--help",
    "--num-executors",   "--deploy-mode",    "--dist-key", "--dist-password-file",
};

typedef struct {
    const char *master;
    const char *name;
    const char *driver_memory, *executor_memory, *executor_cores;
    const char *properties_file;
    int verbose;
    submit_mpi_opts mpi; /* --master mpi (submit_mpi.c) */
    int nconf;
    const char **conf; /* "k=v" */
    /* from the properties file (owned) */
    char **props;
    int nprops;
} submit_opts;

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *prev = tbml_malloc((lb + 1) * sizeof(size_t)),
           *cur = tbml_malloc((lb + 1) * sizeof(size_t));
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    tbml_free(prev);
    tbml_free(cur);
    return d;
}

/* The known option nearest to arg (before any '='), or NULL when none is close. */
static const char *nearest_option(const char *arg)
{
    char name[128];
    snprintf(name, sizeof(name), "%s", arg);
    char *eq = strchr(name, '=');
    if (eq) *eq = '\0';
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < sizeof(g_submit_options) / sizeof(g_submit_options[0]); i++) {
        size_t d = edit_distance(name, g_submit_options[i]);
        if (d < bestd) {
            bestd = d;
            best = g_submit_options[i];
        }
    }
    return bestd <= 4 ? best : NULL;
}

static void submit_usage(FILE *f, int example)
{
    fprintf(
        f,
        "usage: tbml %s [options] %s [ARGS]\n\n"
        "%s\n\n"
        "options (spark-submit's, for local runs):\n"
        "  --master local[N]|local[*]|local  worker threads (default local[*]: all cores)\n"
        "  --name NAME                       application name\n"
        "  --conf KEY=VALUE                  a setting for the application (repeatable)\n"
        "  --properties-file FILE            settings as spark-defaults.conf lines (KEY VALUE)\n"
        "  --driver-memory MEM               e.g. 2g (recorded; the driver is this process)\n"
        "  --executor-memory MEM             memory operators may use before spilling (e.g. 4g)\n"
        "  --executor-cores N                recorded for the application\n"
        "  --verbose                         print the parsed settings\n"
        "  --sgx-enabled true|false          true: run APP in the trusted runtime (see "
        "docs/submit.md)\n"
        SUBMIT_MPI_USAGE,
        example ? "run-example" : "submit", example ? "NAME" : "APP",
        example ? "Runs a bundled example (tbml-example-NAME), as Spark's bin/run-example does."
                : "Runs APP, a program built against libtbml, with the given settings "
                  "(docs/submit.md).");
}

#define TEE_HANDOVER (-2) /* parse_options: the run is for the trusted runtime */

/* 1 if the command line asks for a TEE anywhere before "--": --sgx-enabled true or --tee-backend
 * other than none. */
static int tee_requested(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *v = NULL;
        if (strncmp(a, "--sgx-enabled=", 14) == 0)
            v = a + 14;
        else if (strcmp(a, "--sgx-enabled") == 0 && i + 1 < argc)
            v = argv[i + 1];
        if (v && strcmp(v, "true") == 0) return 1;
        if (strncmp(a, "--tee-backend=", 14) == 0)
            v = a + 14;
        else if (strcmp(a, "--tee-backend") == 0 && i + 1 < argc)
            v = argv[i + 1];
        else
            continue;
        if (strcmp(v, "none") != 0) return 1;
    }
    return 0;
}

/* Parses options up to the first non-option; *i is left at it. Returns -1 on success,
 * TEE_HANDOVER for --sgx-enabled true, else an exit code. */
static int parse_options(int argc, char **argv, int *i, submit_opts *o, int example)
{
    for (; *i < argc; (*i)++) {
        const char *a = argv[*i];
        if (a[0] != '-') break;
        if (strcmp(a, "--") == 0) {
            (*i)++;
            break;
        }
        if (cli_is_help(a)) {
            submit_usage(stdout, example);
            return 0;
        }
        if (strncmp(a, "--tee-backend", 13) == 0 && (a[13] == '\0' || a[13] == '='))
            return TEE_HANDOVER;
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = 1;
            continue;
        }
        const char *names[8 + SUBMIT_MPI_NOPTS] = {"--master",          "--name",          "--conf",
                               "--properties-file", "--driver-memory", "--executor-memory",
                               "--executor-cores",  "--sgx-enabled"};
        int which = -1;
        const char *v = NULL;
        for (int k = 0; k < 8 + SUBMIT_MPI_NOPTS && which < 0; k++) {
            if (k >= 8) names[k] = g_submit_options[10 + (k - 8)];
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                which = k;
                if (a[n] == '=')
                    v = a + n + 1;
                else if (*i + 1 < argc)
                    v = argv[++*i];
                else
                    return cli_usage_error("%s needs a value", names[k]);
            }
        }
        if (which < 0) {
            /* an option of the trusted runtime's submit (--enclave-key, --manifest-out, manifest
             * options) before --sgx-enabled true: cli_tee_submit_wanted stops at the first value */
            if (tee_requested(argc, argv)) return TEE_HANDOVER;
            const char *hint = nearest_option(a);
            if (hint) return cli_usage_error("unknown option '%s' (did you mean %s?)", a, hint);
            return cli_usage_error("unknown option '%s'", a);
        }
        if (strchr(v, '\n'))
            return cli_usage_error("%s: the value may not contain a newline", names[which]);
        if (which >= 8) {
            int code = submit_mpi_option(&o->mpi, which - 8, v);
            if (code >= 0) return code;
            continue;
        }
        switch (which) {
        case 0:
            o->master = v;
            break;
        case 1:
            o->name = v;
            break;
        case 2:
            if (!strchr(v, '=') || v[0] == '=')
                return cli_usage_error("--conf needs KEY=VALUE, not '%s'", v);
            o->conf = tbml_realloc(o->conf, (size_t)(o->nconf + 1) * sizeof(char *));
            o->conf[o->nconf++] = v;
            break;
        case 3:
            o->properties_file = v;
            break;
        case 4:
            o->driver_memory = v;
            break;
        case 5:
            o->executor_memory = v;
            break;
        case 6:
            o->executor_cores = v;
            break;
        case 7:
            if (strcmp(v, "false") == 0) break;
            if (strcmp(v, "true") == 0) return TEE_HANDOVER;
            return cli_usage_error("--sgx-enabled takes true or false, not '%s'", v);
        }
    }
    return -1;
}

/* spark-defaults.conf: "key value" or "key=value" lines, '#' comments. Known spark.* keys fill the
 * options not given on the command line; every line also becomes a --conf entry. */
static int read_properties(submit_opts *o)
{
    FILE *f = fopen(o->properties_file, "r");
    if (!f) {
        tbml_error(TBML_E_IO, "%s: cannot open: %s", o->properties_file, strerror(errno));
        return cli_fail(TBML_E_IO);
    }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#' || *p == '!') continue;
        char *sep = p + strcspn(p, " \t=:");
        if (!*sep) {
            fclose(f);
            tbml_error(TBML_E_FORMAT, "%s:%d:1: expected 'key value'", o->properties_file, lineno);
            return cli_fail(TBML_E_FORMAT);
        }
        *sep++ = '\0';
        while (*sep == ' ' || *sep == '\t' || *sep == '=' || *sep == ':')
            sep++;
        size_t kl = strlen(p), vl = strlen(sep);
        char *kv = tbml_malloc(kl + vl + 2);
        sprintf(kv, "%s=%s", p, sep);
        o->props = tbml_realloc(o->props, (size_t)(o->nprops + 1) * sizeof(char *));
        o->props[o->nprops++] = kv;
    }
    fclose(f);
    return -1;
}

static const char *prop(const submit_opts *o, const char *key)
{
    size_t n = strlen(key);
    for (int i = o->nprops - 1; i >= 0; i--)
        if (strncmp(o->props[i], key, n) == 0 && o->props[i][n] == '=') return o->props[i] + n + 1;
    return NULL;
}

/* Writes the settings file into a memfd the application inherits; returns the fd or -1. */
static int write_settings(const submit_opts *o, const char *name)
{
    int fd = memfd_create("tbml-submit-settings", 0); /* no CLOEXEC: the application reads it */
    if (fd < 0) {
        tbml_error(TBML_E_IO, "cannot create the settings file: %s", strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    const char *master = o->master ? o->master : prop(o, "spark.master");
    const char *dm = o->driver_memory ? o->driver_memory : prop(o, "spark.driver.memory");
    const char *em = o->executor_memory ? o->executor_memory : prop(o, "spark.executor.memory");
    const char *ec = o->executor_cores ? o->executor_cores : prop(o, "spark.executor.cores");
    fprintf(m, "master=%s\nname=%s\nverbose=%d\nlog-level=%s\n", master ? master : "local[*]", name,
            o->verbose,
            tbml_log_get_level() == TBML_LOG_ERROR  ? "error"
            : tbml_log_get_level() == TBML_LOG_WARN ? "warn"
            : tbml_log_get_level() == TBML_LOG_INFO ? "info"
                                                    : "debug");
    int64_t size;
    if (dm && !tbml_memory_parse(dm, &size)) fprintf(m, "driver-memory=%lld\n", (long long)size);
    if (em && !tbml_memory_parse(em, &size)) fprintf(m, "executor-memory=%lld\n", (long long)size);
    if (ec) fprintf(m, "executor-cores=%d\n", atoi(ec));
    for (int i = 0; i < o->nprops; i++)
        fprintf(m, "conf.%s\n", o->props[i]);
    for (int i = 0; i < o->nconf; i++)
        fprintf(m, "conf.%s\n", o->conf[i]);
    fclose(m);
    tbml_status st = tbml_write_all(fd, text, len, "settings");
    free(text);
    if (st) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Checks the values that can be checked before starting the application. */
static int validate(const submit_opts *o)
{
    int n;
    int64_t size;
    const char *master = o->master ? o->master : prop(o, "spark.master");
    if (master && tbml_master_parse(master, &n)) return cli_fail(TBML_E_ARG);
    const char *dm = o->driver_memory ? o->driver_memory : prop(o, "spark.driver.memory");
    const char *em = o->executor_memory ? o->executor_memory : prop(o, "spark.executor.memory");
    const char *ec = o->executor_cores ? o->executor_cores : prop(o, "spark.executor.cores");
    if (dm && tbml_memory_parse(dm, &size))
        return cli_usage_error("--driver-memory: %s", tbml_errmsg());
    if (em && tbml_memory_parse(em, &size))
        return cli_usage_error("--executor-memory: %s", tbml_errmsg());
    if (ec) {
        char *end;
        long c = strtol(ec, &end, 10);
        if (*end || c < 1 || c > 1024)
            return cli_usage_error("--executor-cores needs a count, not '%s'", ec);
    }
    return -1;
}

static int run_app(submit_opts *o, const char *app, int argc, char **argv, const char *name)
{
    const char *mmaster = o->master ? o->master : prop(o, "spark.master");
    if (submit_mpi_master(mmaster)) {
        /* each rank is a local process with --executor-cores threads (docs/deploy.md) */
        const char *ec = o->executor_cores ? o->executor_cores : prop(o, "spark.executor.cores");
        char local[32];
        snprintf(local, sizeof(local), "local[%d]", submit_mpi_threads(&o->mpi, ec ? atoi(ec) : 0));
        o->master = local;
        int code = validate(o);
        if (code >= 0) return code;
        int fd = write_settings(o, name);
        if (fd < 0) return cli_fail(TBML_E_IO);
        return submit_mpi_run(&o->mpi, fd, ec ? atoi(ec) : 0, o->verbose, app, argc, argv);
    }
    if (o->mpi.num_executors || o->mpi.deploy_mode || o->mpi.dist_key)
        return cli_usage_error("--num-executors, --deploy-mode and --dist-key need --master mpi");
    int code = validate(o);
    if (code >= 0) return code;
    if (o->verbose) {
        fprintf(
            stderr,
            "Parsed arguments:\n  master          %s\n  name            %s\n  primaryResource %s\n",
            o->master ? o->master
                      : (prop(o, "spark.master") ? prop(o, "spark.master") : "local[*]"),
            name, app);
        fprintf(stderr, "  driverMemory    %s\n  executorMemory  %s\n  executorCores   %s\n",
                o->driver_memory ? o->driver_memory : "(default)",
                o->executor_memory ? o->executor_memory : "(default)",
                o->executor_cores ? o->executor_cores : "(default)");
        for (int i = 0; i < o->nconf; i++) {
            /* print keys only: values may be secrets */
            const char *eq = strchr(o->conf[i], '=');
            fprintf(stderr, "  conf            %.*s=***\n", (int)(eq - o->conf[i]), o->conf[i]);
        }
    }
    int fd = write_settings(o, name);
    if (fd < 0) return cli_fail(TBML_E_IO);
    char num[16];
    snprintf(num, sizeof(num), "%d", fd);
    if (setenv(TBML_APP_FD_ENV, num, 1) != 0) {
        close(fd);
        tbml_error(TBML_E_NOMEM, "cannot set %s", TBML_APP_FD_ENV);
        return cli_fail(TBML_E_NOMEM);
    }
    char **av = tbml_calloc((size_t)argc + 2, sizeof(char *));
    av[0] = (char *)app;
    for (int i = 0; i < argc; i++)
        av[1 + i] = argv[i];
    fflush(stdout);
    fflush(stderr);
    if (strchr(app, '/'))
        execv(app, av);
    else
        execvp(app, av);
    int err = errno;
    close(fd);
    tbml_free(av);
    tbml_error(err == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "cannot run %s: %s", app,
               strerror(err));
    return cli_fail(err == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO);
}

static void opts_free(submit_opts *o)
{
    for (int i = 0; i < o->nprops; i++)
        tbml_free(o->props[i]);
    tbml_free(o->props);
    tbml_free(o->conf);
}

/* Finds tbml-example-NAME next to this tool (the build tree) or in ../examples (an install).
 * With list, a failure names the examples there. */
static tbml_status find_example(const char *name, char path[PATH_MAX], int list)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return tbml_error(TBML_E_IO, "cannot find this program's folder: %s", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    if (strchr(name, '/') || !name[0]) return tbml_error(TBML_E_ARG, "bad example name '%s'", name);
    const char *dirs[] = {"", "/../examples"};
    for (int d = 0; d < 2; d++) {
        snprintf(path, PATH_MAX, "%s%s/tbml-example-%s", self, dirs[d], name);
        if (access(path, X_OK) == 0) return TBML_OK;
    }
    if (!list) return TBML_E_NOTFOUND;
    char names[1024] = "";
    DIR *dir = opendir(self);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "tbml-example-", 13) == 0 &&
            strlen(names) + strlen(e->d_name) < 900) {
            strcat(names, names[0] ? ", " : "");
            strcat(names, e->d_name + 13);
        }
    }
    if (dir) closedir(dir);
    return tbml_error(TBML_E_NOTFOUND, "no example named '%s' (available: %s)", name,
                      names[0] ? names : "none");
}

/* Hands a TEE run (--sgx-enabled true, --tee-backend) to the trusted runtime's submit
 * (tee_submit.h). For run-example, the first argument that names an example becomes its path. */
static int tee_handover(int argc, char **argv, int example)
{
    if (!example) return cli_tee_submit(argc, argv);
    char path[PATH_MAX];
    char **av = tbml_calloc((size_t)argc + 1, sizeof(char *));
    int found = 0;
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
        if (!found && i > 0 && argv[i][0] != '-' && find_example(argv[i], path, 0) == TBML_OK) {
            av[i] = path;
            found = 1;
        }
    }
    int code = found ? cli_tee_submit(argc, av) : cli_usage_error("missing the example NAME");
    tbml_free(av);
    return code;
}

static int submit_main(int argc, char **argv, int example)
{
    submit_opts o = {0};
    int i = 1, code;
    /* the trusted runtime takes options of its own (--enclave-key, --tee-backend): ask it first */
    if (cli_tee_submit_wanted(argc, argv)) return tee_handover(argc, argv, example);
    code = parse_options(argc, argv, &i, &o, example);
    if (code == TEE_HANDOVER) {
        opts_free(&o);
        return tee_handover(argc, argv, example);
    }
    if (code < 0 && o.properties_file) code = read_properties(&o);
    if (code >= 0) goto out;
    if (i >= argc) {
        code = cli_usage_error("missing %s", example ? "the example NAME" : "the application APP");
        goto out;
    }
    const char *target = argv[i];
    char path[PATH_MAX];
    if (example) {
        tbml_status st = find_example(target, path, 1);
        if (st) {
            code = st == TBML_E_ARG ? cli_usage_error("%s", tbml_errmsg()) : cli_fail(st);
            goto out;
        }
        target = path;
    }
    const char *name = o.name ? o.name : prop(&o, "spark.app.name");
    if (!name) {
        const char *base = strrchr(argv[i], '/');
        name = base ? base + 1 : argv[i];
    }
    code = run_app(&o, target, argc - i - 1, argv + i + 1, name);
out:
    opts_free(&o);
    return code;
}

int cmd_submit(int argc, char **argv)
{
    return submit_main(argc, argv, 0);
}
int cmd_run_example(int argc, char **argv)
{
    return submit_main(argc, argv, 1);
}
