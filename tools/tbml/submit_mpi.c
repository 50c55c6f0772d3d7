/* `tbml submit --master mpi`: turns spark-submit's executor options into an mpirun command
 * (src/dist/launch.c), gives every rank the settings and the job secret as private files (paths in
 * exported variables, never values: TBML_SUBMIT_FILE, TBML_DIST_KEYFILE, TBML_DIST_PASSWORD_FILE),
 * runs it and removes the files, failure included. When the job fails, says which rank and why. */
#include "submit_mpi.h"
#include "cli.h"

#include "tbml/app.h"
#include "tbml/launch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int submit_mpi_option(submit_mpi_opts *m, int k, const char *v)
{
    switch (k) {
    case 0: {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 65536)
            return cli_usage_error("--num-executors needs a count, not '%s'", v);
        m->num_executors = (int)n;
        return -1;
    }
    case 1:
        if (strcmp(v, "client") != 0 && strcmp(v, "cluster") != 0)
            return cli_usage_error("--deploy-mode takes client or cluster, not '%s'", v);
        m->deploy_mode = v;
        return -1;
    case 2:
        m->dist_key = v;
        return -1;
    case 3:
        m->dist_password_file = v;
        return -1;
    }
    return cli_usage_error("internal: option %d", k);
}

int submit_mpi_master(const char *master)
{
    return master && (strcmp(master, "mpi") == 0 || strncmp(master, "mpi://", 6) == 0);
}

static int nexec(const submit_mpi_opts *m)
{
    return m->num_executors ? m->num_executors : 2;
}

int submit_mpi_threads(const submit_mpi_opts *m, int executor_cores)
{
    if (executor_cores > 0) return executor_cores;
    int t = tbml_ncores() / nexec(m);
    return t > 0 ? t : 1;
}

int submit_mpi_run(const submit_mpi_opts *m, int settings_fd, int executor_cores, int verbose,
                   const char *app, int argc, char **argv)
{
    tbml_status st;
    tbml_launch_secret_t *sec = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    char **mv = NULL, **av = NULL, *settings = NULL;
    int mc = 0, code = 1, listener = -1;
    if (m->dist_key && !m->dist_password_file)
        return cli_usage_error(
            "--dist-key needs --dist-password-file (every rank reads the password from it)");
    if (lseek(settings_fd, 0, SEEK_SET) != 0) {
        close(settings_fd);
        tbml_error(TBML_E_IO, "settings: cannot rewind");
        return cli_fail(TBML_E_IO);
    }
    st = tbml_read_all(settings_fd, "settings", 1 << 24, &text, &len);
    close(settings_fd);
    if (!st) st = tbml_launch_secret_create(&sec);
    if (!st) st = tbml_launch_secret_file(sec, "settings", text, len, &settings);
    if (st) goto out;
    /* the job secret: the user's key file, or the one made for this job */
    if (m->dist_key) {
        setenv("TBML_DIST_KEYFILE", m->dist_key, 1);
        setenv("TBML_DIST_PASSWORD_FILE", m->dist_password_file, 1);
    } else {
        setenv("TBML_DIST_KEYFILE", tbml_launch_secret_keyfile(sec), 1);
        setenv("TBML_DIST_PASSWORD_FILE", tbml_launch_secret_password_file(sec), 1);
    }
    setenv(TBML_APP_FILE_ENV, settings, 1);
    const char *env[7] = {"TBML_DIST_KEYFILE", "TBML_DIST_PASSWORD_FILE", TBML_APP_FILE_ENV};
    size_t nenv = 3;
    /* our stdout for the driver, past mpirun's forwarding; without the socket, it still works */
    char *sock;
    if (!tbml_launch_secret_path(sec, "stdout.sock", &sock) &&
        !tbml_launch_stdout_listen(sock, &listener)) {
        setenv(TBML_DRIVER_STDOUT_ENV, sock, 1);
        env[nenv++] = TBML_DRIVER_STDOUT_ENV;
    }
    /* the channel's settings, when set here, reach every rank */
    static const char *const tuning[] = {"TBML_DIST_TIMEOUT", "TBML_DIST_WORKERS",
                                         "TBML_DIST_CHUNK"};
    for (size_t i = 0; i < sizeof(tuning) / sizeof(tuning[0]); i++)
        if (getenv(tuning[i])) env[nenv++] = tuning[i];
    av = tbml_calloc((size_t)argc + 2, sizeof(char *));
    av[0] = (char *)app;
    for (int i = 0; i < argc; i++)
        av[1 + i] = argv[i];
    tbml_launch_options lo = {0};
    lo.num_executors = nexec(m);
    lo.executor_cores = executor_cores;
    lo.deploy_mode = m->deploy_mode;
    lo.hostfile = getenv("TBML_MPI_HOSTFILE");
    /* Every rank on this machine: hwloc need not read each PCI device's configuration space for
     * a network the job does not use, a quarter of Open MPI's start-up here (0.20 -> 0.14 s for
     * a bare 2-rank MPI_Init + MPI_Finalize). mpirun and the ranks it forks inherit this. */
    if (!lo.hostfile) setenv("HWLOC_COMPONENTS", "-pci,-linuxio", 0);
    lo.as_root = -1;
    lo.env = env;
    lo.nenv = nenv;
    st = tbml_launch_argv(&lo, argc + 1, av, &mv, &mc);
    if (st) goto out;
    if (verbose) {
        fprintf(stderr, "Launching:");
        for (int i = 0; i < mc; i++)
            fprintf(stderr, " %s", mv[i]);
        fprintf(stderr, "\n");
    }
    char why[700];
    /* --verbose shows the launcher's own failure banners too */
    tbml_launch_run_options ro = {listener, verbose};
    st = tbml_launch_run_watched(mv, &ro, &code, why, sizeof(why));
    /* the launcher's own report of a dead rank is many lines, or none when a rank was killed:
     * end with one line of ours that names the rank and the cause */
    if (!st && code != 0) fprintf(stderr, "tbml %s: job failed: %s\n", g_cli_command, why);
out:
    if (listener >= 0) close(listener);
    if (text) tbml_wipe(text, len);
    tbml_free(text);
    tbml_launch_argv_free(mv);
    tbml_free(av);
    tbml_launch_secret_free(sec);
    if (st) return cli_fail(st);
    return code;
}
