/* The mpirun command line for `tbml submit --master mpi`, running it (and reading its stderr to
 * say which rank failed and how), and the private job-secret files a launch makes when the user
 * gave none (see include/tbml/launch.h, docs/deploy.md). */
#include "dist_internal.h"

#include "tbml/launch.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

tbml_mpi_flavor tbml_launch_flavor(const char *mpirun)
{
    int fds[2];
    if (pipe(fds) != 0) return TBML_MPI_UNKNOWN;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return TBML_MPI_UNKNOWN;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execlp(mpirun, mpirun, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (strstr(buf, "Open MPI") || strstr(buf, "OpenRTE")) return TBML_MPI_OPENMPI;
    if (strstr(buf, "HYDRA") || strstr(buf, "MPICH") || strstr(buf, "Intel(R) MPI"))
        return TBML_MPI_MPICH;
    return TBML_MPI_UNKNOWN;
}

typedef struct {
    char **v;
    int n, cap;
} argv_builder;

static void push(argv_builder *b, const char *s)
{
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 32;
        b->v = tbml_realloc(b->v, (size_t)b->cap * sizeof(char *));
    }
    b->v[b->n++] = tbml_strdup(s);
    b->v[b->n] = NULL;
}

static void pushf(argv_builder *b, const char *fmt, int v)
{
    char s[32];
    snprintf(s, sizeof(s), fmt, v);
    push(b, s);
}

/* One app context: -np N [-H host] [env] APP ARGS */
static void push_context(argv_builder *b, const tbml_launch_options *o, tbml_mpi_flavor fl, int np,
                         const char *host, int app_argc, char *const *app_argv)
{
    push(b, "-np");
    pushf(b, "%d", np);
    if (host) {
        push(b, fl == TBML_MPI_MPICH ? "-hosts" : "-H");
        push(b, host);
    }
    for (size_t i = 0; fl != TBML_MPI_MPICH && i < o->nenv; i++) {
        push(b, "-x");
        push(b, o->env[i]);
    }
    for (int i = 0; i < app_argc; i++)
        push(b, app_argv[i]);
}

tbml_status tbml_launch_argv(const tbml_launch_options *o, int app_argc, char *const *app_argv,
                             char ***out_argv, int *out_argc)
{
    if (o->num_executors < 1 || o->num_executors > 1 << 20)
        return tbml_error(TBML_E_ARG, "--num-executors needs a count from 1, not %d",
                          o->num_executors);
    if (app_argc < 1) return tbml_error(TBML_E_ARG, "no application to launch");
    const char *mode = o->deploy_mode ? o->deploy_mode : "client";
    int cluster = strcmp(mode, "cluster") == 0;
    if (!cluster && strcmp(mode, "client") != 0)
        return tbml_error(TBML_E_ARG, "--deploy-mode takes client or cluster, not '%s'", mode);
    const char *mpirun = o->mpirun ? o->mpirun : getenv("TBML_MPIRUN");
    if (!mpirun || !*mpirun) mpirun = "mpirun";
    tbml_mpi_flavor fl = o->flavor ? o->flavor : tbml_launch_flavor(mpirun);
    int cores = o->cores > 0 ? o->cores : tbml_ncores();
    int per = o->executor_cores > 0 ? o->executor_cores
                                    : (cores / o->num_executors > 0 ? cores / o->num_executors : 1);
    int root = o->as_root < 0 ? geteuid() == 0 : o->as_root;
    argv_builder b = {0};
    push(&b, mpirun);
    if (fl != TBML_MPI_MPICH) {
        /* Open MPI's rules, which MPICH's hydra does not have */
        if (root) push(&b, "--allow-run-as-root");
        if (!o->hostfile && (long)o->num_executors * per > cores) push(&b, "--oversubscribe");
        push(&b, "--bind-to");
        push(&b, "none");
        /* All ranks on this machine: ob1 over shared memory. Left to itself Open MPI first probes
         * UCX and OFI for a network the job does not use, a quarter second of every job's start
         * here (0.41 -> 0.15 s for a bare 2-rank MPI_Init). The user's own choice wins. */
        const char *pml = getenv("OMPI_MCA_pml");
        if (!o->hostfile && (!pml || !*pml)) {
            push(&b, "--mca");
            push(&b, "pml");
            push(&b, "ob1");
        }
    }
    if (o->hostfile) {
        push(&b, fl == TBML_MPI_MPICH ? "-f" : "--hostfile");
        push(&b, o->hostfile);
    }
    if (fl == TBML_MPI_MPICH && o->nenv) {
        /* hydra takes one global, comma-separated list */
        size_t len = 1;
        for (size_t i = 0; i < o->nenv; i++)
            len += strlen(o->env[i]) + 1;
        char *list = tbml_calloc(1, len);
        for (size_t i = 0; i < o->nenv; i++) {
            if (i) strcat(list, ",");
            strcat(list, o->env[i]);
        }
        push(&b, "-genvlist");
        push(&b, list);
        tbml_free(list);
    }
    if (!cluster && o->hostfile) {
        /* client mode: the driver (rank 0) here, the executors where the hostfile says */
        push_context(&b, o, fl, 1, "localhost", app_argc, app_argv);
        if (o->num_executors > 1) {
            push(&b, ":");
            push_context(&b, o, fl, o->num_executors - 1, NULL, app_argc, app_argv);
        }
    } else {
        push_context(&b, o, fl, o->num_executors, NULL, app_argc, app_argv);
    }
    *out_argv = b.v;
    *out_argc = b.n;
    return TBML_OK;
}

void tbml_launch_argv_free(char **argv)
{
    if (!argv) return;
    for (char **p = argv; *p; p++)
        tbml_free(*p);
    tbml_free(argv);
}

/* ---- reading the launcher's stderr --------------------------------------------------------- */

void tbml_launch_watch_init(tbml_launch_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->rank = w->report_rank = w->hydra_rank = w->ompi_exit_rank = -1;
    w->exit_code = -1;
}

/* The number after `key` in line (skipping spaces), or -1. */
static int int_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    if (!p) return -1;
    p += strlen(key);
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9') return -1;
    long v = strtol(p, NULL, 10);
    return v > 1 << 24 ? -1 : (int)v;
}

/* "(NAME)" after `from` into out, if there. */
static void paren_name(const char *from, char *out, size_t size)
{
    const char *o = from ? strchr(from, '(') : NULL, *c = o ? strchr(o, ')') : NULL;
    if (o && c && c > o + 1) snprintf(out, size, "%.*s", (int)(c - o - 1), o + 1);
}

static void watch_signal(tbml_launch_watch *w, int rank, int sig, const char *name_from)
{
    if (rank < 0 || sig <= 0 || w->signal > 0) return; /* the first death is the cause */
    w->rank = rank;
    w->signal = sig;
    w->exit_code = -1;
    w->signame[0] = '\0';
    paren_name(name_from, w->signame, sizeof(w->signame));
}

static void watch_line(tbml_launch_watch *w, const char *line)
{
    const char *p;
    /* Open MPI (mpirun 4, prterun 5): "... noticed that process rank 1 with PID 7 on node n
     * exited on signal 9 (Killed)." */
    if ((p = strstr(line, "exited on signal")) != NULL) {
        watch_signal(w, int_after(line, "process rank"), int_after(line, "exited on signal"), p);
        return;
    }
    /* Open MPI: "  Process name: [[13284,1],1]" then "  Exit code:    1" */
    if ((p = strstr(line, "Process name: [[")) != NULL) {
        const char *q = strstr(p, "],");
        w->ompi_exit_rank = q ? int_after(q, "],") : -1;
        return;
    }
    if (w->ompi_exit_rank >= 0 && strstr(line, "Exit code:")) {
        if (w->rank < 0) {
            w->rank = w->ompi_exit_rank;
            w->exit_code = int_after(line, "Exit code:");
        }
        w->ompi_exit_rank = -1;
        return;
    }
    /* MPICH hydra: "=   RANK 1 PID 123 RUNNING AT host" then "=   KILLED BY SIGNAL: 9 (Killed)"
     * or "=   EXIT CODE: 9" */
    if (strstr(line, "RANK ") && strstr(line, " PID ")) {
        w->hydra_rank = int_after(line, "RANK ");
        return;
    }
    if ((p = strstr(line, "KILLED BY SIGNAL:")) != NULL) {
        watch_signal(w, w->hydra_rank, int_after(line, "KILLED BY SIGNAL:"), p);
        return;
    }
    if (w->hydra_rank >= 0 && strstr(line, "EXIT CODE:")) {
        if (w->rank < 0) {
            w->rank = w->hydra_rank;
            w->exit_code = int_after(line, "EXIT CODE:");
        }
        return;
    }
    /* a rank's own error: "tbml: rank 0: ..." (tbml_comm_abort) or "tbml CMD: ..." (the tool) */
    if (w->report[0] || strncmp(line, "tbml", 4) != 0) return;
    if (strncmp(line, "tbml: ", 6) == 0) {
        snprintf(w->report, sizeof(w->report), "%s", line + 6);
    } else if (line[4] == ' ') {
        const char *colon = strstr(line + 5, ": ");
        const char *space = strchr(line + 5, ' ');
        if (!colon || (space && space < colon)) return; /* not "tbml CMD: " */
        snprintf(w->report, sizeof(w->report), "%s", line + 5);
    }
    if (w->report[0] && strncmp(w->report, "rank ", 5) == 0)
        w->report_rank = int_after(w->report, "rank ");
}

void tbml_launch_watch_feed(tbml_launch_watch *w, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch != '\n' && w->len + 1 < sizeof(w->line)) {
            if (ch != '\r') w->line[w->len++] = ch;
            continue;
        }
        if (ch != '\n') continue; /* an overlong line: the rest of it is dropped */
        w->line[w->len] = '\0';
        watch_line(w, w->line);
        w->len = 0;
    }
}

void tbml_launch_watch_explain(const tbml_launch_watch *w, int launcher_code, char *out,
                               size_t size)
{
    if (w->signal > 0) {
        if (w->signame[0])
            snprintf(out, size, "rank %d was killed by signal %d (%s)", w->rank, w->signal,
                     w->signame);
        else
            snprintf(out, size, "rank %d was killed by signal %d", w->rank, w->signal);
    } else if (w->report[0] && (w->report_rank >= 0 || w->rank < 0)) {
        snprintf(out, size, "%s", w->report); /* names its rank, or nothing better is known */
    } else if (w->rank >= 0 && w->report[0]) {
        snprintf(out, size, "rank %d exited with code %d: %s", w->rank, w->exit_code, w->report);
    } else if (w->rank >= 0) {
        snprintf(out, size, "rank %d exited with code %d", w->rank, w->exit_code);
    } else if (launcher_code > 128) {
        snprintf(out, size, "the launcher was killed by signal %d", launcher_code - 128);
    } else {
        snprintf(out, size, "the launcher exited with code %d", launcher_code);
    }
}

/* ---- what of the launcher's stderr is shown ------------------------------------------------ */

void tbml_launch_filter_init(tbml_launch_filter *f)
{
    memset(f, 0, sizeof(*f));
}

/* A line of 20 or more dashes (and nothing else): Open MPI's banner fence. */
static int dash_line(const char *l, size_t n)
{
    while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
        n--;
    if (n < 20) return 0;
    for (size_t i = 0; i < n; i++)
        if (l[i] != '-') return 0;
    return 1;
}

static int contains(const char *text, size_t n, const char *what)
{
    return memmem(text, n, what, strlen(what)) != NULL;
}

/* Banners that the job's last line ("job failed: rank R ...") says again, in one line. */
static int failure_banner(const char *text, size_t n)
{
    return contains(text, n, "MPI_ABORT was invoked") ||
           contains(text, n, "Primary job  terminated normally") ||
           contains(text, n, "exited with non-zero status") ||
           contains(text, n, "mpirun noticed that process rank");
}

static void filter_line(tbml_launch_filter *f, const char *l, size_t n, tbml_launch_out_fn out,
                        void *arg)
{
    if (f->in_block) {
        if (f->nblock + n > sizeof(f->block)) { /* not a banner of the kind left out */
            out(arg, f->block, f->nblock);
            out(arg, l, n);
            f->in_block = 0;
            f->nblock = 0;
            return;
        }
        memcpy(f->block + f->nblock, l, n);
        f->nblock += n;
        if (!dash_line(l, n)) return;
        if (!failure_banner(f->block, f->nblock)) out(arg, f->block, f->nblock);
        f->in_block = 0;
        f->nblock = 0;
    } else if (dash_line(l, n)) {
        memcpy(f->block, l, n);
        f->nblock = n;
        f->in_block = 1;
    } else if (!contains(l, n, "sent help message") &&
               !contains(l, n, "Set MCA parameter \"orte_base_help_aggregate\"")) {
        out(arg, l, n);
    }
}

void tbml_launch_filter_feed(tbml_launch_filter *f, const char *text, size_t len,
                             tbml_launch_out_fn out, void *arg)
{
    size_t start = 0; /* of the part of text an overlong line passes as it comes */
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (f->overlong) {
            if (ch == '\n') {
                out(arg, text + start, i + 1 - start);
                f->overlong = 0;
            }
            continue;
        }
        if (f->nline == sizeof(f->line)) { /* too long for a banner line: show it as it is */
            if (f->in_block) out(arg, f->block, f->nblock);
            f->in_block = 0;
            f->nblock = 0;
            out(arg, f->line, f->nline);
            f->nline = 0;
            f->overlong = 1;
            start = i;
            i--;
            continue;
        }
        f->line[f->nline++] = ch;
        if (ch == '\n') {
            filter_line(f, f->line, f->nline, out, arg);
            f->nline = 0;
        }
    }
    if (f->overlong && start < len) out(arg, text + start, len - start);
}

void tbml_launch_filter_end(tbml_launch_filter *f, tbml_launch_out_fn out, void *arg)
{
    if (f->in_block) out(arg, f->block, f->nblock);
    if (f->nline) out(arg, f->line, f->nline);
    tbml_launch_filter_init(f);
}

/* ---- running the launcher ------------------------------------------------------------------ */

/* Passes the launcher's stderr (fd) through to ours and feeds it to w until the launcher (pid)
 * exits and the pipe has drained. A rank's process may keep a copy of the pipe open after the
 * launcher is gone, so the end is the launcher's exit, not the pipe's. Returns its status. */
/* Our stderr, written whole (a closed one is ignored: the launcher's output is still read). */
static void to_stderr(void *arg, const char *text, size_t len)
{
    (void)arg;
    for (size_t off = 0; off < len;) {
        ssize_t m = write(2, text + off, len - off);
        if (m <= 0 && errno != EINTR) return;
        if (m > 0) off += (size_t)m;
    }
}

static int pass_through(int fd, pid_t pid, tbml_launch_watch *w, int listener,
                        tbml_launch_filter *filter)
{
    char buf[4096];
    int status = 0, exited = 0;
    size_t after = 0; /* bytes read after the launcher exited: a stray writer must not keep us */
    for (;;) {
        if (!exited) {
            pid_t got = waitpid(pid, &status, WNOHANG);
            if (got == pid) exited = 1;
        }
        struct pollfd pfd[2] = {{fd, POLLIN, 0}, {listener, POLLIN, 0}};
        int r = poll(pfd, listener >= 0 ? 2 : 1, exited ? 0 : 200);
        if (r > 0 && listener >= 0 && pfd[1].revents) {
            if (tbml_launch_stdout_serve(listener)) listener = -1; /* lent once: the driver's */
            if (!pfd[0].revents) continue;
        }
        if (r > 0) {
            ssize_t k = read(fd, buf, sizeof(buf));
            if (k > 0) {
                tbml_launch_watch_feed(w, buf, (size_t)k);
                if (filter)
                    tbml_launch_filter_feed(filter, buf, (size_t)k, to_stderr, NULL);
                else
                    to_stderr(NULL, buf, (size_t)k);
                if (exited && (after += (size_t)k) > ((size_t)1 << 20)) break;
                continue;
            }
            if (k < 0 && errno == EINTR) continue;
            break; /* EOF or error */
        }
        if (r < 0 && errno == EINTR) continue;
        if (exited) break; /* drained */
    }
    if (filter) tbml_launch_filter_end(filter, to_stderr, NULL);
    if (!exited)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    return status;
}

static tbml_status launch(char *const *argv, int *exit_code, tbml_launch_watch *w, int listener,
                          tbml_launch_filter *filter)
{
    fflush(stdout);
    fflush(stderr);
    int errpipe[2], outpipe[2] = {-1, -1};
    if (pipe2(errpipe, O_CLOEXEC) != 0) return tbml_error(TBML_E_IO, "pipe: %s", strerror(errno));
    if (w && pipe2(outpipe, O_CLOEXEC) != 0) {
        close(errpipe[0]);
        close(errpipe[1]);
        return tbml_error(TBML_E_IO, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        if (w) {
            close(outpipe[0]);
            close(outpipe[1]);
        }
        return tbml_error(TBML_E_IO, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(errpipe[0]);
        if (w) dup2(outpipe[1], 2); /* dup2 clears close-on-exec on the copy */
        execvp(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof(e)) < 0) _exit(127);
        _exit(127);
    }
    close(errpipe[1]);
    if (w) close(outpipe[1]);
    int e = 0;
    ssize_t got = read(errpipe[0], &e, sizeof(e));
    close(errpipe[0]);
    /* the launcher gets ^C through the process group and shuts the ranks down itself; a closed
     * stderr of ours must not end us before it */
    struct sigaction ign, old_int, old_term, old_pipe;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, &ign, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe);
    int status = 0;
    if (w) {
        status = pass_through(outpipe[0], pid, w, listener, filter);
        close(outpipe[0]);
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (got == (ssize_t)sizeof(e))
        return tbml_error(e == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "cannot run %s: %s%s", argv[0],
                          strerror(e),
                          e == ENOENT ? " (install openmpi-bin, or set TBML_MPIRUN)" : "");
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return TBML_OK;
}

tbml_status tbml_launch_run(char *const *argv, int *exit_code)
{
    return launch(argv, exit_code, NULL, -1, NULL);
}

tbml_status tbml_launch_run_watched(char *const *argv, const tbml_launch_run_options *ro,
                                    int *exit_code, char *why, size_t why_size)
{
    tbml_launch_watch w;
    tbml_launch_watch_init(&w);
    tbml_launch_filter *filter = NULL;
    if (!ro || !ro->all_stderr) {
        filter = tbml_malloc(sizeof(*filter));
        tbml_launch_filter_init(filter);
    }
    int code = 0;
    tbml_status st = launch(argv, &code, &w, ro ? ro->stdout_listener : -1, filter);
    tbml_free(filter);
    if (st) return st;
    if (why_size) why[0] = '\0';
    if (code != 0 && why_size) tbml_launch_watch_explain(&w, code, why, why_size);
    *exit_code = code;
    return TBML_OK;
}

/* ---- job-secret files ---------------------------------------------------------------------- */

struct tbml_launch_secret {
    char dir[256];
    char keyfile[300];
    char pwfile[300];
    char *extra[8];
    int nextra;
};

static tbml_status write_private(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
    tbml_status st = tbml_write_all(fd, data, size, path);
    if (close(fd) != 0 && !st) st = tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
    return st;
}

tbml_status tbml_launch_secret_create(tbml_launch_secret_t **out)
{
    tbml_status st;
    tbml_launch_secret_t *s = tbml_calloc(1, sizeof(*s));
    tbml_key_t *key = NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/tbml-job-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        st = tbml_error(TBML_E_IO, "%s: %s", s->dir, strerror(errno));
        s->dir[0] = '\0';
        goto out;
    }
    st = dist_cleanup_add(s->dir, 1);
    if (st) goto out;
    snprintf(s->keyfile, sizeof(s->keyfile), "%s/job.key", s->dir);
    snprintf(s->pwfile, sizeof(s->pwfile), "%s/password", s->dir);
    /* register first, so an interrupted write leaves nothing behind */
    st = dist_cleanup_add(s->keyfile, 0);
    if (!st) st = dist_cleanup_add(s->pwfile, 0);
    if (st) goto out;
    uint8_t raw[32];
    char pw[65];
    st = tbml_random(raw, sizeof(raw));
    if (st) goto out;
    tbml_hex(raw, sizeof(raw), pw);
    tbml_wipe(raw, sizeof(raw));
    st = tbml_key_generate("tbml-job", &key);
    /* a full-entropy random password needs no costly stretching */
    if (!st) st = tbml_keyfile_write(s->keyfile, key, pw, 64, (tbml_pwhash_params){1, 1024, 1});
    if (!st) st = write_private(s->pwfile, pw, 64);
    tbml_wipe(pw, sizeof(pw));
out:
    tbml_key_free(key);
    if (st) {
        tbml_launch_secret_free(s);
        return st;
    }
    *out = s;
    return TBML_OK;
}

const char *tbml_launch_secret_keyfile(const tbml_launch_secret_t *s)
{
    return s->keyfile;
}
const char *tbml_launch_secret_password_file(const tbml_launch_secret_t *s)
{
    return s->pwfile;
}

tbml_status tbml_launch_secret_path(tbml_launch_secret_t *s, const char *name, char **out_path)
{
    if (s->nextra == 8 || strchr(name, '/'))
        return tbml_error(TBML_E_ARG, "bad private file name '%s'", name);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    tbml_status st = dist_cleanup_add(path, 0);
    if (st) return st;
    s->extra[s->nextra++] = tbml_strdup(path);
    *out_path = s->extra[s->nextra - 1];
    return TBML_OK;
}

tbml_status tbml_launch_secret_file(tbml_launch_secret_t *s, const char *name, const void *data,
                                    size_t size, char **out_path)
{
    char *path;
    tbml_status st = tbml_launch_secret_path(s, name, &path);
    if (!st) st = write_private(path, data, size);
    if (st) return st;
    *out_path = path;
    return TBML_OK;
}

void tbml_launch_secret_free(tbml_launch_secret_t *s)
{
    if (!s) return;
    for (int i = 0; i < s->nextra; i++) {
        dist_cleanup_remove(s->extra[i]);
        tbml_free(s->extra[i]);
    }
    if (s->keyfile[0]) dist_cleanup_remove(s->keyfile);
    if (s->pwfile[0]) dist_cleanup_remove(s->pwfile);
    if (s->dir[0]) dist_cleanup_remove(s->dir);
    tbml_free(s);
}
