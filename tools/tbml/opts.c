/* Option-parsing helpers for the commands (see opts.h). */
#include "opts.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
    } else if (a[n] != '\0') {
        return 0;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        cli_usage_error("%s needs a value", name);
        return -1;
    }
    (*i)++;
    return 1;
}

static int parse(const char *opt, const char *s, uint64_t max, int suffix, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p)) goto bad;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10) goto bad;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (suffix && (*p == 'k' || *p == 'K')) {
        v = v > UINT64_MAX >> 10 ? UINT64_MAX : v << 10;
        p++;
    } else if (suffix && (*p == 'm' || *p == 'M')) {
        v = v > UINT64_MAX >> 20 ? UINT64_MAX : v << 20;
        p++;
    }
    if (*p != '\0') goto bad;
    if (v > max) {
        cli_usage_error("%s %s is too large (at most %llu)", opt, s, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
bad:
    cli_usage_error("%s needs a number%s, not '%s'", opt, suffix ? " (optionally with K or M)" : "",
                    s);
    return -1;
}

int opt_size(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    return parse(opt, s, max, 1, out);
}

int opt_count(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    return parse(opt, s, max, 0, out);
}

const char *opt_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdin" : path;
}
const char *opt_output_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdout" : path;
}

int opt_crypt_parse(int argc, char **argv, const char *usage, const char *extra_name,
                    const char **extra_value, opt_crypt_args *a)
{
    const char *key_path = NULL, *pos[2] = {NULL, NULL};
    int npos = 0, only_pos = 0;
    cli_password_source pw = {NULL, -1};

    for (int i = 1; i < argc;) {
        int r;
        const char *s = argv[i];
        if (!only_pos && s[0] == '-' && s[1] != '\0') {
            if (cli_is_help(s)) {
                fputs(usage, stdout);
                return 0;
            }
            if (strcmp(s, "--") == 0) {
                only_pos = 1;
                i++;
                continue;
            }
            if ((r = opt_value(argc, argv, &i, "--key", &key_path)) ||
                (extra_name && (r = opt_value(argc, argv, &i, extra_name, extra_value))) ||
                (r = cli_password_option(argc, argv, &i, &pw))) {
                if (r < 0) return 2;
                continue;
            }
            return cli_usage_error("unknown option '%s'", s);
        }
        if (npos == 2) return cli_usage_error("unexpected argument '%s': give IN and OUT only", s);
        pos[npos++] = argv[i++];
    }
    if (!key_path) return cli_usage_error("--key DIR/NAME.key is required");
    if (npos != 2)
        return cli_usage_error("give an input and an output file (IN OUT; '-' for stdin/stdout)");
    a->key_path = key_path;
    a->in = pos[0];
    a->out = pos[1];
    a->pw = pw;
    return -1;
}

tbml_status opt_open_input(const char *path, int *out_fd)
{
    struct stat sb;
    if (strcmp(path, "-") == 0) {
        *out_fd = STDIN_FILENO;
        return TBML_OK;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return tbml_error(TBML_E_IO, "%s: is a folder, not a file", path);
    }
    *out_fd = fd;
    return TBML_OK;
}

void opt_close_input(int fd)
{
    if (fd > STDIN_FILENO) close(fd);
}

tbml_status opt_load_key(const char *path, const cli_password_source *src, tbml_key_t **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(errno == ENOENT ? TBML_E_KEY : TBML_E_IO, "%s: cannot open key file: %s",
                          path, strerror(errno));
    close(fd);
    tbml_status st = cli_load_key(path, src, out);
    return st ? opt_name_in_error(st, path, NULL, NULL) : TBML_OK;
}

tbml_status opt_name_in_error(tbml_status st, const char *name, const char *also1,
                              const char *also2)
{
    const char *msg = tbml_errmsg();
    if (!msg[0]) return tbml_error(st, "%s: %s", name, tbml_strerror(st));
    if (strstr(msg, name) || (also1 && strstr(msg, also1)) || (also2 && strstr(msg, also2)))
        return st;
    return tbml_error_prefix(st, "%s: ", name);
}
