/* Shared pieces of the tool: one-line failures, usage errors, passwords and key loading. */
#include "cli.h"

#include "tbml/comm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

int cli_fail(tbml_status st)
{
    const char *msg = tbml_errmsg();
    fprintf(stderr, "tbml %s: %s\n", g_cli_command, msg[0] ? msg : tbml_strerror(st));
    return st == TBML_E_ARG ? 2 : 1;
}

int cli_usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "tbml %s: %s (see 'tbml %s --help')\n", g_cli_command, msg,
            strcmp(g_cli_command, "tbml") == 0 ? "" : g_cli_command);
    return 2;
}

int cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cli_password_option(int argc, char **argv, int *i, cli_password_source *src)
{
    const char *a = argv[*i], *v = NULL;
    int is_file;
    if (strcmp(a, "--password-file") == 0 || strncmp(a, "--password-file=", 16) == 0)
        is_file = 1;
    else if (strcmp(a, "--password-fd") == 0 || strncmp(a, "--password-fd=", 14) == 0)
        is_file = 0;
    else
        return 0;
    const char *eq = strchr(a, '=');
    if (eq) {
        v = eq + 1;
    } else if (*i + 1 < argc) {
        v = argv[++*i];
    } else {
        cli_usage_error("%s needs a value", a);
        return -1;
    }
    if (is_file) {
        src->file = v;
    } else {
        char *end;
        long fd = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || fd < 0 || fd > 65535) {
            cli_usage_error("--password-fd needs a file descriptor number, not '%s'", v);
            return -1;
        }
        src->fd = (int)fd;
    }
    (*i)++;
    return 1;
}

/* Reads one line (up to PASSWORD_MAX) from fd into pw; drops a trailing "\n" or "\r\n". */
static tbml_status read_line(int fd, const char *what, char *pw, size_t *len)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return tbml_error(TBML_E_IO, "%s: cannot read password: %s", what, strerror(errno));
        if (r == 0 || c == '\n') break;
        if (n == PASSWORD_MAX) return tbml_error(TBML_E_ARG, "%s: password longer than %d bytes", what, PASSWORD_MAX);
        pw[n++] = c;
    }
    if (n > 0 && pw[n - 1] == '\r') n--;
    pw[n] = '\0';
    *len = n;
    return TBML_OK;
}

static tbml_status prompt_tty(const char *prompt, char *pw, size_t *len)
{
    tbml_status ret;
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (tty < 0)
        return tbml_error(TBML_E_ARG, "no password given: use --password-file F or --password-fd N, "
                                      "or run on a terminal");
    struct termios old, quiet;
    int have_termios = tcgetattr(tty, &old) == 0;
    if (have_termios) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(tty, TCSAFLUSH, &quiet);
    }
    if (write(tty, prompt, strlen(prompt)) < 0) { /* best effort */ }
    ret = read_line(tty, "terminal", pw, len);
    if (have_termios) tcsetattr(tty, TCSAFLUSH, &old);
    close(tty);
    return ret;
}

tbml_status cli_password_read(const cli_password_source *src, const char *prompt, int confirm,
                              char **out, size_t *out_size)
{
    tbml_status ret = TBML_OK;
    char *pw = tbml_secure_alloc(PASSWORD_MAX + 1), *again = NULL;
    size_t len = 0, len2 = 0;
    if (src && src->file) {
        int fd = open(src->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ret = tbml_error(TBML_E_IO, "%s: cannot open password file: %s", src->file, strerror(errno));
            goto out;
        }
        ret = read_line(fd, src->file, pw, &len);
        close(fd);
    } else if (src && src->fd >= 0) {
        char what[32];
        snprintf(what, sizeof(what), "password fd %d", src->fd);
        ret = read_line(src->fd, what, pw, &len);
    } else {
        ret = prompt_tty(prompt, pw, &len);
        if (!ret && confirm) {
            again = tbml_secure_alloc(PASSWORD_MAX + 1);
            ret = prompt_tty("Repeat password: ", again, &len2);
            if (!ret && (len != len2 || !tbml_ct_equal(pw, again, len)))
                ret = tbml_error(TBML_E_PASSWORD, "the two passwords differ");
        }
    }
    if (!ret && len == 0) ret = tbml_error(TBML_E_PASSWORD, "empty password");
out:
    tbml_secure_free(again, PASSWORD_MAX + 1);
    if (ret) {
        tbml_secure_free(pw, PASSWORD_MAX + 1);
        return ret;
    }
    *out = pw;
    *out_size = len;
    return TBML_OK;
}

void cli_password_free(char *pw, size_t size)
{
    (void)size;
    tbml_secure_free(pw, PASSWORD_MAX + 1);
}

tbml_status cli_load_key(const char *path, const cli_password_source *src, tbml_key_t **out)
{
    char *pw;
    size_t len;
    char prompt[512];
    snprintf(prompt, sizeof(prompt), "Password for %s: ", path);
    tbml_status st = cli_password_read(src, prompt, 0, &pw, &len);
    if (st) return st;
    st = tbml_keyfile_read(path, pw, len, out);
    cli_password_free(pw, len);
    return st;
}

typedef struct {
    const char *path;
    const cli_password_source *src;
} key_source;

static tbml_status load_key(void *arg, tbml_key_t **out)
{
    const key_source *k = arg;
    return cli_load_key(k->path, k->src, out);
}

tbml_status cli_load_key_shared(tbml_comm_t *comm, const char *path, const cli_password_source *src,
                                tbml_key_t **out)
{
    key_source k = {path, src};
    return tbml_comm_share_key(comm, load_key, &k, out);
}
