/* Launching a distributed job: the mpirun command line `tbml submit --master mpi` runs
 * (docs/deploy.md). Built here as a plain argv so it can be shown (--verbose), tested, and
 * executed without a shell. Secrets never go on it: the job secret travels as file paths in
 * exported environment variables (TBML_DIST_KEYFILE, TBML_DIST_PASSWORD_FILE). */
#ifndef TBML_LAUNCH_H
#define TBML_LAUNCH_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TBML_MPI_UNKNOWN = 0, TBML_MPI_OPENMPI = 1, TBML_MPI_MPICH = 2 } tbml_mpi_flavor;

typedef struct {
    int num_executors;       /* ranks; >= 1 */
    int executor_cores;      /* threads per rank; 0: the machine's cores / ranks, at least 1 */
    const char *deploy_mode; /* "client" (default): rank 0, the driver, runs on this machine;
                                "cluster": the launcher places rank 0 with the others */
    const char *mpirun;      /* NULL: $TBML_MPIRUN, else "mpirun" */
    const char *hostfile;    /* NULL: every rank on this machine */
    tbml_mpi_flavor flavor;  /* UNKNOWN: ask `mpirun --version` */
    int as_root;             /* -1: geteuid() == 0; Open MPI refuses root without a flag */
    int cores;               /* this machine's cores; 0: online cores (oversubscription test) */
    const char *const *env;  /* names of variables every rank gets (-x NAME / -genvlist) */
    size_t nenv;
} tbml_launch_options;

/* Which MPI's mpirun `mpirun --version` names. */
tbml_mpi_flavor tbml_launch_flavor(const char *mpirun);

/* Builds the mpirun argv (NULL-terminated, *out_argc entries) for app_argv (app_argc entries):
 * -np N, --oversubscribe when N x cores-per-rank exceeds the machine's cores (Open MPI),
 * --allow-run-as-root for root (Open MPI), --bind-to none so each rank's threads may use every
 * core it is given, the hostfile and deploy mode, and the exported variables. Fails with
 * TBML_E_ARG on a bad count or deploy mode. Free with tbml_launch_argv_free. */
TBML_NODISCARD tbml_status tbml_launch_argv(const tbml_launch_options *o, int app_argc,
                                            char *const *app_argv, char ***out_argv, int *out_argc);
void tbml_launch_argv_free(char **argv);

/* Runs argv (fork + execvp), waits, and returns its exit status in *exit_code (128 + signal when
 * killed). SIGINT and SIGTERM reach the launcher through the process group. TBML_E_NOTFOUND when
 * the launcher cannot be started. */
TBML_NODISCARD tbml_status tbml_launch_run(char *const *argv, int *exit_code);

/* Which rank made a job fail, and how, read from what the launcher prints on stderr: Open MPI's
 * "process rank R ... exited on signal S (NAME)" and "Process name: [[J,1],R] / Exit code: C",
 * MPICH hydra's "RANK R PID ..." with "KILLED BY SIGNAL: S" or "EXIT CODE: C", and the first
 * error line a tbml rank printed ("tbml: rank R: ..." from tbml_comm_abort, or "tbml CMD: ...").
 * Fed in pieces of any size. */
typedef struct {
    int rank;         /* the rank the launcher reported, -1: none */
    int signal;       /* > 0: it was killed by this signal */
    char signame[40]; /* the launcher's name for the signal ("Killed"), may be empty */
    int exit_code;    /* >= 0: it exited with this code */
    int report_rank;  /* the rank of the first tbml error line, -1: none or not named */
    char report[512]; /* that line without its "tbml: " prefix; empty: none */
    char line[1024];  /* internal: the unfinished line */
    size_t len;
    int hydra_rank;     /* internal: the rank of the hydra banner being read */
    int ompi_exit_rank; /* internal: "Process name" seen, "Exit code" next */
} tbml_launch_watch;

void tbml_launch_watch_init(tbml_launch_watch *w);
void tbml_launch_watch_feed(tbml_launch_watch *w, const char *text, size_t len);
/* One line (no newline) naming the failed rank and the cause, e.g. "rank 1 was killed by signal 9
 * (Killed)" or "rank 0: rank 2 took no message ... in 60 s: it died, hung or was killed"; when
 * nothing names a rank, "the launcher exited with code C". Meant for a job that failed. */
void tbml_launch_watch_explain(const tbml_launch_watch *w, int launcher_code, char *out,
                               size_t size);

/* What the launcher's stderr shows through tbml_launch_run_watched: everything, whole lines,
 * except Open MPI's own banners about a failed rank ("MPI_ABORT was invoked ...", "mpirun noticed
 * that process rank R ...", "Primary job terminated normally, but ...", "mpirun detected that
 * one or more processes exited with non-zero status ...") and its "N more processes have sent
 * help message" notes: the job's last line says in one line which rank failed and why. Fed in
 * pieces of any size; out(arg, text, len) gets what is to be shown. */
typedef struct {
    char block[8192]; /* a banner block being read: from a line of dashes to the next */
    size_t nblock;
    int in_block;
    char line[1024]; /* the unfinished line */
    size_t nline;
    int overlong; /* the current line did not fit line[]: it passes as it comes */
} tbml_launch_filter;

typedef void (*tbml_launch_out_fn)(void *arg, const char *text, size_t len);
void tbml_launch_filter_init(tbml_launch_filter *f);
void tbml_launch_filter_feed(tbml_launch_filter *f, const char *text, size_t len,
                             tbml_launch_out_fn out, void *arg);
/* At the end of the stream: shows what is still held (an unfinished line or block). */
void tbml_launch_filter_end(tbml_launch_filter *f, tbml_launch_out_fn out, void *arg);

typedef struct {
    int stdout_listener; /* a socket from tbml_launch_stdout_listen, served while the launcher
                            runs; -1: none */
    int all_stderr;      /* 1: the launcher's stderr whole, banners included (submit --verbose) */
} tbml_launch_run_options;

/* tbml_launch_run, with the launcher's stderr read by a tbml_launch_watch and passed through to
 * ours as it comes (by a tbml_launch_filter unless ro->all_stderr); when the launcher exits
 * non-zero, *why (why_size bytes) gets the explanation (tbml_launch_watch_explain). ro NULL: no
 * stdout listener, filtered stderr. */
TBML_NODISCARD tbml_status tbml_launch_run_watched(char *const *argv,
                                                   const tbml_launch_run_options *ro,
                                                   int *exit_code, char *why, size_t why_size);

/* Lending our stdout to the driver (rank 0), so its results skip the launcher's forwarding: a
 * socket at path (in the job's private folder), named to the ranks by TBML_DRIVER_STDOUT. Rank 0
 * takes the descriptor in tbml_comm_open when it runs on this machine and keeps the forwarded
 * stdout otherwise. */
#define TBML_DRIVER_STDOUT_ENV "TBML_DRIVER_STDOUT"
TBML_NODISCARD tbml_status tbml_launch_stdout_listen(const char *path, int *out_fd);
/* Answers one waiting connection from a process of our user with our stdout (SCM_RIGHTS).
 * Returns 1 once it was lent (or the socket failed: stop serving), 0 while nothing was lent. */
int tbml_launch_stdout_serve(int listen_fd);

/* The job-secret files for a launch without --dist-key: a private folder (0700) holding a new
 * random primary key sealed under a random password (both 0600), for ranks on this machine or a
 * shared file system. Removed by tbml_launch_secret_free, and at exit or on a fatal signal. */
typedef struct tbml_launch_secret tbml_launch_secret_t;
TBML_NODISCARD tbml_status tbml_launch_secret_create(tbml_launch_secret_t **out);
const char *tbml_launch_secret_keyfile(const tbml_launch_secret_t *s);
const char *tbml_launch_secret_password_file(const tbml_launch_secret_t *s);
/* A private file in the same folder (for settings the ranks read); removed with it. */
TBML_NODISCARD tbml_status tbml_launch_secret_file(tbml_launch_secret_t *s, const char *name,
                                                   const void *data, size_t size, char **out_path);
/* A private path in the same folder, for something made there other than a file written at once
 * (the driver-stdout socket); removed with it. */
TBML_NODISCARD tbml_status tbml_launch_secret_path(tbml_launch_secret_t *s, const char *name,
                                                   char **out_path);
void tbml_launch_secret_free(tbml_launch_secret_t *s);

#ifdef __cplusplus
}
#endif
#endif
