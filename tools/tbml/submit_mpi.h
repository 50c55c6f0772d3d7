/* `tbml submit --master mpi`: the options it adds to submit and the run through mpirun
 * (submit_mpi.c; the launcher itself is src/dist/launch.c). */
#ifndef TBML_SUBMIT_MPI_H
#define TBML_SUBMIT_MPI_H

typedef struct {
    int num_executors;              /* --num-executors N (default 2) */
    const char *deploy_mode;        /* --deploy-mode client|cluster */
    const char *dist_key;           /* --dist-key FILE: the job secret (a primary key file) */
    const char *dist_password_file; /* --dist-password-file F: its password */
} submit_mpi_opts;

/* The options' names follow submit's own in g_submit_options, in this order. */
#define SUBMIT_MPI_NOPTS 4
#define SUBMIT_MPI_USAGE                                                                           \
    "\noptions for distributed runs (docs/deploy.md):\n"                                           \
    "  --master mpi                      run N ranks under mpirun (also when started by mpirun/srun)\n" \
    "  --num-executors N                 ranks (default 2); rank 0 is the driver\n"               \
    "  --executor-cores C                threads per rank (default: cores / N)\n"                  \
    "  --deploy-mode client|cluster      client: rank 0 on this machine (default)\n"              \
    "  --dist-key FILE                   the job secret ranks authenticate with (default: a new\n" \
    "                                    one per job, for ranks on this machine)\n"                \
    "  --dist-password-file F            the password of --dist-key\n"

/* Takes option number k's value; returns -1, or an exit code after a usage error. */
int submit_mpi_option(submit_mpi_opts *m, int k, const char *v);
/* 1 when master asks for MPI ("mpi", "mpi://..."). */
int submit_mpi_master(const char *master);
/* Threads per rank: executor_cores, else the machine's cores / ranks (at least 1). */
int submit_mpi_threads(const submit_mpi_opts *m, int executor_cores);
/* Runs app argv under mpirun with the settings in settings_fd (a memfd, closed here) handed to
 * each rank as a private file. Returns the exit code. */
int submit_mpi_run(const submit_mpi_opts *m, int settings_fd, int executor_cores, int verbose,
                   const char *app, int argc, char **argv);

#endif
