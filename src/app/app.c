/* The application runtime behind `tbml submit` (include/tbml/app.h, docs/submit.md): reads the
 * settings file submit handed over by descriptor, and builds the pool an application runs on.
 * The settings file is "key=value" lines; keys: master, name, verbose, log-level,
 * driver-memory, executor-memory, executor-cores (numbers in bytes / counts) and conf.K for
 * each --conf K=V. */
#include "tbml/app.h"
#include "tbml/io.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

tbml_status tbml_master_parse(const char *master, int *nthreads)
{
    if (strcmp(master, "local") == 0) {
        *nthreads = 1;
        return TBML_OK;
    }
    if (strcmp(master, "local[*]") == 0) {
        *nthreads = tbml_ncores();
        return TBML_OK;
    }
    if (strncmp(master, "local[", 6) == 0) {
        char *end;
        errno = 0;
        long n = strtol(master + 6, &end, 10);
        if (end != master + 6 && strcmp(end, "]") == 0 && errno == 0 && n >= 1 && n <= 1024) {
            *nthreads = (int)n;
            return TBML_OK;
        }
        return tbml_error(TBML_E_ARG,
                          "bad master '%s': use local, local[N] with 1 <= N <= 1024, or local[*]",
                          master);
    }
    if (strstr(master, "://") || strcmp(master, "yarn") == 0)
        return tbml_error(
            TBML_E_UNSUPPORTED,
            "master '%s' is not supported: tbml runs local[N] here (distributed runs use MPI)",
            master);
    return tbml_error(TBML_E_ARG, "bad master '%s': use local, local[N] or local[*]", master);
}

tbml_status tbml_memory_parse(const char *s, int64_t *size)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || !isdigit((unsigned char)s[0]))
        return tbml_error(TBML_E_ARG, "bad memory size '%s': use e.g. 512m or 4g", s);
    int64_t mul = 1 << 20;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1 << 10;
            break;
        case 'm':
            mul = 1 << 20;
            break;
        case 'g':
            mul = (int64_t)1 << 30;
            break;
        case 't':
            mul = (int64_t)1 << 40;
            break;
        case 'b':
            mul = 1;
            end--;
            break;
        default:
            return tbml_error(TBML_E_ARG, "bad memory size '%s': use e.g. 512m or 4g", s);
        }
        end++;
        if (*end == 'b' || *end == 'B') end++;
        if (*end) return tbml_error(TBML_E_ARG, "bad memory size '%s': use e.g. 512m or 4g", s);
    }
    if (v * (double)mul > 9.2e18) return tbml_error(TBML_E_ARG, "memory size '%s' is too large", s);
    *size = (int64_t)(v * (double)mul);
    return TBML_OK;
}

static void app_set(tbml_app_t *app, const char *key, const char *value, tbml_status *st, int line)
{
    if (*st) return;
    if (strcmp(key, "master") == 0) {
        tbml_free(app->master);
        app->master = tbml_strdup(value);
    } else if (strcmp(key, "name") == 0) {
        tbml_free(app->name);
        app->name = tbml_strdup(value);
    } else if (strcmp(key, "verbose") == 0) {
        app->verbose = atoi(value) != 0;
    } else if (strcmp(key, "log-level") == 0) {
        tbml_log_level lvl;
        *st = tbml_log_level_parse(value, &lvl);
        if (!*st) tbml_log_set_level(lvl);
    } else if (strcmp(key, "driver-memory") == 0) {
        app->driver_memory_size = strtoll(value, NULL, 10);
    } else if (strcmp(key, "executor-memory") == 0) {
        app->executor_memory_size = strtoll(value, NULL, 10);
    } else if (strcmp(key, "executor-cores") == 0) {
        app->executor_cores = atoi(value);
    } else if (strncmp(key, "conf.", 5) == 0) {
        app->conf = tbml_realloc(app->conf, (size_t)(app->nconf + 1) * sizeof(tbml_conf_entry));
        app->conf[app->nconf].key = tbml_strdup(key + 5);
        app->conf[app->nconf].value = tbml_strdup(value);
        app->nconf++;
    } else {
        *st = tbml_error(TBML_E_FORMAT, "submit settings line %d: unknown key '%s'", line, key);
    }
}

static tbml_status read_settings(tbml_app_t *app, int fd)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return tbml_error(TBML_E_IO, "submit settings fd %d: %s", fd, strerror(errno));
    tbml_status st = tbml_read_all(fd, "submit settings", 16 << 20, &buf, &size);
    if (st) return st;
    char *text = tbml_malloc(size + 1);
    memcpy(text, buf, size);
    text[size] = '\0';
    tbml_free(buf);
    int line = 0;
    for (char *p = text; *p && !st;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        if (*p) {
            char *eq = strchr(p, '=');
            if (!eq)
                st = tbml_error(TBML_E_FORMAT, "submit settings line %d: no '='", line);
            else {
                *eq = '\0';
                app_set(app, p, eq + 1, &st, line);
            }
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    tbml_free(text);
    return st;
}

tbml_status tbml_app_init(int *argc, char ***argv, tbml_app_t **out)
{
    tbml_status ret = TBML_OK;
    tbml_app_t *app = tbml_calloc(1, sizeof(*app));
    char **av = *argv;
    const char *base = *argc > 0 && av[0] ? strrchr(av[0], '/') : NULL;
    app->name = tbml_strdup(base ? base + 1 : (*argc > 0 && av[0] ? av[0] : "tbml-app"));
    app->master = tbml_strdup("local[*]");
    const char *fdvar = getenv(TBML_APP_FD_ENV);
    if (fdvar) {
        char *end;
        long fd = strtol(fdvar, &end, 10);
        if (*fdvar == '\0' || *end || fd < 0 || fd > 65535) {
            ret = tbml_error(TBML_E_ARG, "bad %s value '%s'", TBML_APP_FD_ENV, fdvar);
            goto out;
        }
        unsetenv(TBML_APP_FD_ENV);
        ret = read_settings(app, (int)fd);
        close((int)fd);
        if (ret) goto out;
    }
    const char *filevar = fdvar ? NULL : getenv(TBML_APP_FILE_ENV);
    if (filevar && *filevar) {
        int fd = open(filevar, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ret = tbml_error(TBML_E_IO, "%s: %s", filevar, strerror(errno));
            goto out;
        }
        ret = read_settings(app, fd);
        close(fd);
        if (ret) goto out;
    }
    ret = tbml_master_parse(app->master, &app->nthreads);
    if (ret) goto out;
    ret = tbml_pool_create(app->nthreads, &app->pool);
    if (ret) goto out;
    const char *progress = tbml_app_conf(app, "spark.ui.showConsoleProgress");
    tbml_input_set_progress(!(progress && strcasecmp(progress, "false") == 0));
out:
    if (ret) {
        tbml_app_free(app);
        return ret;
    }
    *out = app;
    return TBML_OK;
}

const char *tbml_app_conf(const tbml_app_t *app, const char *key)
{
    for (int i = app->nconf - 1; i >= 0; i--)
        if (strcmp(app->conf[i].key, key) == 0) return app->conf[i].value;
    return NULL;
}

void tbml_app_free(tbml_app_t *app)
{
    if (!app) return;
    tbml_pool_free(app->pool);
    for (int i = 0; i < app->nconf; i++) {
        tbml_free(app->conf[i].key);
        tbml_free(app->conf[i].value);
    }
    tbml_free(app->conf);
    tbml_free(app->name);
    tbml_free(app->master);
    tbml_free(app);
}
