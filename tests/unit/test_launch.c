/* The mpirun command line `tbml submit --master mpi` builds: counts, root, oversubscription,
 * hostfile and deploy modes, exported variables, both MPI flavours, and refused options. */
#include "check.h"

#include "tbml/launch.h"
#include "tbml/seal.h"

#include <unistd.h>

/* The argv joined with spaces. */
static void joined(const tbml_launch_options *o, int argc, char **app, char *out, size_t size)
{
    char **v = NULL;
    int n = 0;
    out[0] = '\0';
    if (tbml_launch_argv(o, argc, app, &v, &n) != TBML_OK) {
        snprintf(out, size, "ERROR %s", tbml_errmsg());
        return;
    }
    for (int i = 0; i < n; i++) {
        strncat(out, v[i], size - strlen(out) - 2);
        if (i + 1 < n) strncat(out, " ", size - strlen(out) - 1);
    }
    CHECK(v[n] == NULL);
    tbml_launch_argv_free(v);
}

/* What tbml_launch_watch makes of a launcher's stderr, fed whole and one byte at a time. */
static void explained(const char *text, int code, const char *want)
{
    char got[2][700];
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        tbml_launch_watch w;
        tbml_launch_watch_init(&w);
        if (bytewise)
            for (size_t i = 0; text[i]; i++)
                tbml_launch_watch_feed(&w, text + i, 1);
        else
            tbml_launch_watch_feed(&w, text, strlen(text));
        tbml_launch_watch_explain(&w, code, got[bytewise], sizeof(got[bytewise]));
    }
    CHECK(strcmp(got[0], want) == 0);
    CHECK(strcmp(got[1], want) == 0);
    if (strcmp(got[0], want) != 0 || strcmp(got[1], want) != 0)
        fprintf(stderr, "launch watch: want '%s', got '%s' / '%s'\n", want, got[0], got[1]);
}

static void test_watch(void)
{
    /* Open MPI 4, a rank killed with SIGKILL (the ranks print nothing) */
    explained("--------------------------------------------------------------------------\n"
              "Primary job  terminated normally, but 1 process returned\n"
              "a non-zero exit code. Per user-direction, the job has been aborted.\n"
              "--------------------------------------------------------------------------\n"
              "mpirun noticed that process rank 2 with PID 0 on node vm exited on signal 9 "
              "(Killed).\n",
              137, "rank 2 was killed by signal 9 (Killed)");
    /* a killed rank is the cause even when a survivor timed out on it first */
    explained("tbml: rank 0: no message from rank 1 (tag 5) in 3 s: rank 1 died, hung or was "
              "killed; aborting the job\r\n"
              "prterun noticed that process rank 1 with PID 42 on node n2 exited on signal 11 "
              "(Segmentation fault).\n",
              139, "rank 1 was killed by signal 11 (Segmentation fault)");
    /* a hung rank: the survivor's timeout names it */
    explained("rank 1: hanging (test)\n"
              "tbml: rank 0: rank 1 took no message (tag 9) in 3 s: it died, hung or was killed; "
              "aborting the job\n"
              "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD\n"
              "tbml: rank 2: no message from rank 1 (tag 9) in 3 s: rank 1 died, hung or was "
              "killed; aborting the job\n",
              1,
              "rank 0: rank 1 took no message (tag 9) in 3 s: it died, hung or was killed; "
              "aborting the job");
    /* Open MPI's exit-code report, with and without the tool's own error line */
    const char *exit3 = "mpirun detected that one or more processes exited with non-zero status, "
                        "thus causing\nthe job to be terminated. The first process to do so "
                        "was:\n\n  Process name: [[13284,1],3]\n  Exit code:    3\n";
    explained(exit3, 3, "rank 3 exited with code 3");
    char both[1024];
    snprintf(both, sizeof(both), "tbml sql: line 1:8: cannot resolve column 'nope'\n%s", exit3);
    explained(both, 3, "rank 3 exited with code 3: sql: line 1:8: cannot resolve column 'nope'");
    /* MPICH hydra */
    explained("=========================================================================\n"
              "=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n"
              "=   RANK 3 PID 2211 RUNNING AT node7\n"
              "=   KILLED BY SIGNAL: 9 (Killed)\n"
              "=========================================================================\n",
              9, "rank 3 was killed by signal 9 (Killed)");
    explained("=   RANK 0 PID 17 RUNNING AT a\n=   EXIT CODE: 4\n", 4, "rank 0 exited with code 4");
    /* nothing that names a rank; log lines and other programs' errors are not causes */
    explained("[WARN] tbml: slow disk\nbench_dist: oops\ntbmlx: no\n", 2,
              "the launcher exited with code 2");
    explained("", 130, "the launcher was killed by signal 2");
    /* a line longer than the buffer is cut, and the next one still read */
    char lng[3000];
    memset(lng, 'x', sizeof(lng));
    snprintf(lng + 2000, sizeof(lng) - 2000,
             "\nmpirun noticed that process rank 5 with PID 1 on "
             "node a exited on signal 6 (Aborted).\n");
    explained(lng, 134, "rank 5 was killed by signal 6 (Aborted)");
    /* the launcher run through the watch: its stderr is read, its exit code kept */
    char *sh[] = {"/bin/sh", "-c",
                  "echo 'mpirun noticed that process rank 4 with PID 9 on node z exited on signal "
                  "15 (Terminated).' >&2; exit 143",
                  NULL};
    int code = 0;
    char why[256];
    CHECK_OK(tbml_launch_run_watched(sh, NULL, &code, why, sizeof(why)));
    CHECK(code == 143);
    CHECK(strcmp(why, "rank 4 was killed by signal 15 (Terminated)") == 0);
    char *ok[] = {"/bin/sh", "-c", "echo 'tbml: rank 1: not a failure' >&2; exit 0", NULL};
    CHECK_OK(tbml_launch_run_watched(ok, NULL, &code, why, sizeof(why)));
    CHECK(code == 0 && why[0] == '\0');
    char *missing[] = {"/nonexistent/mpirun", NULL};
    CHECK_ST(tbml_launch_run_watched(missing, NULL, &code, why, sizeof(why)), TBML_E_NOTFOUND);
}

/* ---- what of the launcher's stderr is shown ---------------------------------------------- */

typedef struct {
    char buf[32768];
    size_t len;
} sink;

static void to_sink(void *arg, const char *text, size_t len)
{
    sink *k = arg;
    CHECK(k->len + len < sizeof(k->buf));
    if (k->len + len >= sizeof(k->buf)) return;
    memcpy(k->buf + k->len, text, len);
    k->len += len;
    k->buf[k->len] = '\0';
}

/* Feeds text in pieces of `piece` bytes and returns what the filter shows. */
static const char *filtered(sink *k, const char *text, size_t piece)
{
    tbml_launch_filter f;
    tbml_launch_filter_init(&f);
    k->len = 0;
    k->buf[0] = '\0';
    for (size_t at = 0, n = strlen(text); at < n; at += piece)
        tbml_launch_filter_feed(&f, text + at, n - at < piece ? n - at : piece, to_sink, k);
    tbml_launch_filter_end(&f, to_sink, k);
    return k->buf;
}

/* Reports the difference when a string is not the one wanted. */
static int same_str(const char *got, const char *want)
{
    if (strcmp(got, want) == 0) return 1;
    fprintf(stderr, "got:\n%s\n--- wanted:\n%s\n---\n", got, want);
    return 0;
}
#define CHECK_STR(got, want) CHECK(same_str((got), (want)))

#define FENCE "--------------------------------------------------------------------------\n"

static void test_filter(void)
{
    static sink k;
    /* Open MPI's own words on a failed job (as it printed them here) go; ours and the rest stay */
    const char *in =
        "wordcount: keys/b.key: wrong password for key 'b'\n"
        "tbml: rank 0: keys/b.key: wrong password for key 'b'\n" FENCE
        "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD\n"
        "with errorcode 1.\n\n"
        "NOTE: invoking MPI_ABORT causes Open MPI to kill all MPI processes.\n" FENCE
        "[vm:25708] 1 more process has sent help message help-mpi-api.txt / mpi-abort\n"
        "[vm:25708] Set MCA parameter \"orte_base_help_aggregate\" to 0 to see all "
        "help / error messages\n" FENCE "Primary job  terminated normally, but 1 process returned\n"
        "a non-zero exit code. Per user-direction, the job has been aborted.\n" FENCE FENCE
        "mpirun noticed that process rank 0 with PID 0 on node vm exited on "
        "signal 13 (Broken pipe).\n" FENCE FENCE
        "mpirun detected that one or more processes exited with non-zero status, "
        "thus causing\nthe job to be terminated. The first process to do so was:\n\n"
        "  Process name: [[28517,1],0]\n  Exit code:    1\n" FENCE;
    const char *want = "wordcount: keys/b.key: wrong password for key 'b'\n"
                       "tbml: rank 0: keys/b.key: wrong password for key 'b'\n";
    static const size_t pieces[] = {1, 3, 7, 64, 100000};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
        CHECK_STR(filtered(&k, in, pieces[i]), want);
    /* any other banner, e.g. a launcher that cannot start, is shown whole */
    const char *other =
        FENCE "There are not enough slots available in the system to satisfy "
              "the 8\nslots that were requested by the application:\n" FENCE "after\n";
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
        CHECK_STR(filtered(&k, other, pieces[i]), other);
    /* an unfinished line and an unclosed fence are shown at the end */
    CHECK_STR(filtered(&k, "no newline", 3), "no newline");
    CHECK_STR(filtered(&k, FENCE "MPI_ABORT was invoked, cut off", 5),
              FENCE "MPI_ABORT was invoked, cut off");
    /* a line longer than the filter's line buffer passes whole, in order */
    static char lng[5000];
    memset(lng, 'y', sizeof(lng) - 2);
    lng[sizeof(lng) - 2] = '\n';
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
        CHECK_STR(filtered(&k, lng, pieces[i]), lng);
}

int main(void)
{
    test_watch();
    test_filter();
    char *app[] = {"/bin/app", "--x", "1"};
    const char *env[] = {"TBML_DIST_KEYFILE", "TBML_DIST_PASSWORD_FILE"};
    char s[2048];
    tbml_launch_options o = {0};
    o.num_executors = 4;
    o.executor_cores = 1;
    o.mpirun = "mpirun";
    o.flavor = TBML_MPI_OPENMPI;
    o.as_root = 0;
    o.cores = 8;
    o.env = env;
    o.nenv = 2;
    unsetenv("OMPI_MCA_pml");
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strcmp(s, "mpirun --bind-to none --mca pml ob1 -np 4 -x TBML_DIST_KEYFILE -x "
                    "TBML_DIST_PASSWORD_FILE /bin/app --x 1") == 0);
    /* the user's own transport choice wins over the one-machine default */
    setenv("OMPI_MCA_pml", "ucx", 1);
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strstr(s, "--mca pml") == NULL);
    unsetenv("OMPI_MCA_pml");
    /* root and more threads than cores */
    o.as_root = 1;
    o.executor_cores = 4;
    joined(&o, 3, app, s, sizeof(s));
    const char *want =
        "mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1 -np 4 ";
    CHECK(strncmp(s, want, strlen(want)) == 0);
    /* default cores per rank: the machine's cores / ranks */
    o.executor_cores = 0;
    o.as_root = 0;
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strstr(s, "--oversubscribe") == NULL);
    o.num_executors = 9;
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strstr(s, "--oversubscribe") != NULL);
    /* hostfile: client puts rank 0 here, cluster leaves placement to the launcher */
    o.num_executors = 3;
    o.hostfile = "hosts";
    joined(&o, 1, app, s, sizeof(s));
    CHECK(
        strcmp(s,
               "mpirun --bind-to none --hostfile hosts -np 1 -H localhost -x TBML_DIST_KEYFILE -x "
               "TBML_DIST_PASSWORD_FILE /bin/app : -np 2 -x TBML_DIST_KEYFILE -x "
               "TBML_DIST_PASSWORD_FILE "
               "/bin/app") == 0);
    o.deploy_mode = "cluster";
    joined(&o, 1, app, s, sizeof(s));
    CHECK(strcmp(s, "mpirun --bind-to none --hostfile hosts -np 3 -x TBML_DIST_KEYFILE -x "
                    "TBML_DIST_PASSWORD_FILE /bin/app") == 0);
    /* MPICH's hydra */
    o.flavor = TBML_MPI_MPICH;
    o.as_root = 1;
    joined(&o, 1, app, s, sizeof(s));
    CHECK(
        strcmp(
            s,
            "mpirun -f hosts -genvlist TBML_DIST_KEYFILE,TBML_DIST_PASSWORD_FILE -np 3 /bin/app") ==
        0);
    /* refused */
    o.deploy_mode = "moon";
    joined(&o, 1, app, s, sizeof(s));
    CHECK(strstr(s, "ERROR --deploy-mode takes client or cluster") != NULL);
    o.deploy_mode = NULL;
    o.num_executors = 0;
    joined(&o, 1, app, s, sizeof(s));
    CHECK(strstr(s, "ERROR --num-executors") != NULL);
    /* running a launcher that is not there */
    char *missing[] = {"/nonexistent/mpirun", NULL};
    int code = 0;
    CHECK_ST(tbml_launch_run(missing, &code), TBML_E_NOTFOUND);
    /* the detected flavour of this machine's mpirun, if any, is one of the known ones */
    tbml_mpi_flavor fl = tbml_launch_flavor("mpirun");
    CHECK(fl == TBML_MPI_UNKNOWN || fl == TBML_MPI_OPENMPI || fl == TBML_MPI_MPICH);
    /* the per-job secret files: private, and gone after free */
    tbml_launch_secret_t *sec;
    CHECK_OK(tbml_launch_secret_create(&sec));
    char kf[600];
    snprintf(kf, sizeof(kf), "%s", tbml_launch_secret_keyfile(sec));
    tbml_key_t *k = NULL;
    FILE *pf = fopen(tbml_launch_secret_password_file(sec), "r");
    char pw[128] = {0};
    CHECK(pf && fgets(pw, sizeof(pw), pf));
    if (pf) fclose(pf);
    CHECK_OK(tbml_keyfile_read(kf, pw, strlen(pw), &k));
    tbml_key_free(k);
    tbml_launch_secret_free(sec);
    CHECK(access(kf, F_OK) != 0);
    return check_done();
}
