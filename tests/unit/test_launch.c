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

int main(void)
{
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
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strcmp(s, "mpirun --bind-to none -np 4 -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE /bin/app --x 1") == 0);
    /* root and more threads than cores */
    o.as_root = 1;
    o.executor_cores = 4;
    joined(&o, 3, app, s, sizeof(s));
    CHECK(strncmp(s, "mpirun --allow-run-as-root --oversubscribe --bind-to none -np 4 ", 63) == 0);
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
    CHECK(strcmp(s, "mpirun --bind-to none --hostfile hosts -np 1 -H localhost -x TBML_DIST_KEYFILE -x "
                    "TBML_DIST_PASSWORD_FILE /bin/app : -np 2 -x TBML_DIST_KEYFILE -x TBML_DIST_PASSWORD_FILE "
                    "/bin/app") == 0);
    o.deploy_mode = "cluster";
    joined(&o, 1, app, s, sizeof(s));
    CHECK(strcmp(s, "mpirun --bind-to none --hostfile hosts -np 3 -x TBML_DIST_KEYFILE -x "
                    "TBML_DIST_PASSWORD_FILE /bin/app") == 0);
    /* MPICH's hydra */
    o.flavor = TBML_MPI_MPICH;
    o.as_root = 1;
    joined(&o, 1, app, s, sizeof(s));
    CHECK(strcmp(s, "mpirun -f hosts -genvlist TBML_DIST_KEYFILE,TBML_DIST_PASSWORD_FILE -np 3 /bin/app") == 0);
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
