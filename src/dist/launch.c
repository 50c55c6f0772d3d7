/* The mpirun command line for `tbml submit --master mpi`, running it, and the private job-secret
 * files a launch makes when the user gave none (see include/tbml/launch.h, docs/deploy.md). */
#include "dist_internal.h"

#include "tbml/launch.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
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
    if (strstr(buf, "HYDRA") || strstr(buf, "MPICH") || strstr(buf, "Intel(R) MPI")) return TBML_MPI_MPICH;
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

tbml_status tbml_launch_argv(const tbml_launch_options *o, int app_argc, char *const *app_argv, char ***out_argv,
                             int *out_argc)
{
    if (o->num_executors < 1 || o->num_executors > 1 << 20)
        return tbml_error(TBML_E_ARG, "--num-executors needs a count from 1, not %d", o->num_executors);
    if (app_argc < 1) return tbml_error(TBML_E_ARG, "no application to launch");
    const char *mode = o->deploy_mode ? o->deploy_mode : "client";
    int cluster = strcmp(mode, "cluster") == 0;
    if (!cluster && strcmp(mode, "client") != 0)
        return tbml_error(TBML_E_ARG, "--deploy-mode takes client or cluster, not '%s'", mode);
    const char *mpirun = o->mpirun ? o->mpirun : getenv("TBML_MPIRUN");
    if (!mpirun || !*mpirun) mpirun = "mpirun";
    tbml_mpi_flavor fl = o->flavor ? o->flavor : tbml_launch_flavor(mpirun);
    int cores = o->cores > 0 ? o->cores : tbml_ncores();
    int per = o->executor_cores > 0 ? o->executor_cores : (cores / o->num_executors > 0 ? cores / o->num_executors : 1);
    int root = o->as_root < 0 ? geteuid() == 0 : o->as_root;
    argv_builder b = {0};
    push(&b, mpirun);
    if (fl != TBML_MPI_MPICH) {
        /* Open MPI's rules, which MPICH's hydra does not have */
        if (root) push(&b, "--allow-run-as-root");
        if (!o->hostfile && (long)o->num_executors * per > cores) push(&b, "--oversubscribe");
        push(&b, "--bind-to");
        push(&b, "none");
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

tbml_status tbml_launch_run(char *const *argv, int *exit_code)
{
    fflush(stdout);
    fflush(stderr);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) return tbml_error(TBML_E_IO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(errpipe[0]);
        close(errpipe[1]);
        return tbml_error(TBML_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(errpipe[0]);
        execvp(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof(e)) < 0) _exit(127);
        _exit(127);
    }
    close(errpipe[1]);
    int e = 0;
    ssize_t got = read(errpipe[0], &e, sizeof(e));
    close(errpipe[0]);
    /* the launcher gets ^C through the process group and shuts the ranks down itself */
    struct sigaction ign, old_int, old_term;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, &ign, &old_term);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (got == (ssize_t)sizeof(e))
        return tbml_error(e == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "cannot run %s: %s%s", argv[0], strerror(e),
                          e == ENOENT ? " (install openmpi-bin, or set TBML_MPIRUN)" : "");
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

const char *tbml_launch_secret_keyfile(const tbml_launch_secret_t *s) { return s->keyfile; }
const char *tbml_launch_secret_password_file(const tbml_launch_secret_t *s) { return s->pwfile; }

tbml_status tbml_launch_secret_file(tbml_launch_secret_t *s, const char *name, const void *data, size_t size,
                                    char **out_path)
{
    if (s->nextra == 8 || strchr(name, '/')) return tbml_error(TBML_E_ARG, "bad private file name '%s'", name);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    tbml_status st = dist_cleanup_add(path, 0);
    if (!st) st = write_private(path, data, size);
    if (st) return st;
    s->extra[s->nextra++] = tbml_strdup(path);
    *out_path = s->extra[s->nextra - 1];
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
