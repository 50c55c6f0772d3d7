/* Measured launch (the pal_loader role): check the signature and every trusted file, then start
 * the job with the manifest's argv, environment, folder and limits only, wait for it, and write
 * the result receipt. Nothing the host passes reaches the job except where the key service is.
 *
 * With the native backends (none, sim) the checks happen before exec: the entrypoint is hashed
 * through the descriptor that is then executed (fexecve), so it cannot be swapped in between;
 * libraries are opened again by the dynamic loader, so a host that can write them between the
 * check and the load is outside this backend's threat model (docs/security-model.md); gramine
 * re-checks every open inside the enclave. */
#include "tee_internal.h"

#include "runtime.h"

#include "tbml/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Opens the entrypoint and checks its hash through that descriptor. */
static tbml_status open_entrypoint(const tbml_manifest_t *m, int *out_fd)
{
    json_t *r = tee_manifest_json(m);
    const char *path = json_string_value(json_object_get(r, "entrypoint"));
    const char *want = NULL;
    json_t *tf = json_object_get(r, "trusted_files");
    for (size_t i = 0; i < json_array_size(tf) && !want; i++) {
        json_t *e = json_array_get(tf, i);
        if (strcmp(json_string_value(json_object_get(e, "path")), path) == 0)
            want = json_string_value(json_object_get(e, "sha256"));
    }
    if (!want)
        return tbml_error(TBML_E_POLICY,
                          "entrypoint %s is not among the trusted files: rebuild the manifest",
                          path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tbml_error(TBML_E_POLICY, "entrypoint %s cannot be opened: %s", path,
                          strerror(errno));
    uint8_t h[32];
    char hex[65];
    tbml_status st = tee_hash_fd(fd, path, h);
    if (!st) {
        tbml_hex(h, 32, hex);
        if (strcmp(hex, want) != 0)
            st = tbml_error(TBML_E_POLICY,
                            "trusted file (entrypoint) %s changed: sha256 %s, manifest expects %s: "
                            "restore it, or rebuild and re-sign the manifest",
                            path, hex, want);
    }
    if (st) {
        close(fd);
        return st;
    }
    *out_fd = fd;
    return TBML_OK;
}

/* Launcher variables a distributed job needs to join its MPI world (Open MPI, MPICH's hydra,
 * PMI/PMIx as Slurm sets them) and the paths of its job secret. They come from the host and are
 * treated as such: MPI is an untrusted byte mover, peers are authenticated by evidence and the
 * job secret at the handshake (docs/protocols/dist-channel.md). */
static int dist_passthrough(const char *kv)
{
    static const char *const prefixes[] = {"OMPI_", "PMIX_", "PMI_", NULL};
    static const char *const names[] = {"MPI_LOCALNRANKS",   "MPI_LOCALRANKID",
                                        "TBML_DIST_KEYFILE", "TBML_DIST_PASSWORD_FILE",
                                        "TBML_DIST_TIMEOUT", NULL};
    for (size_t i = 0; prefixes[i]; i++)
        if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    for (size_t i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(kv, names[i], n) == 0 && kv[n] == '=') return 1;
    }
    return 0;
}

/* Variables only the runtime sets: a manifest's --env cannot fake them. */
static int runtime_only(const char *name)
{
    return strcmp(name, TBML_TEE_ATTEST_FD_ENV) == 0 || strcmp(name, TBML_TEE_PEERS_ENV) == 0;
}

static void env_add(char ***envp, size_t *n, const char *k, const char *v)
{
    size_t len = strlen(k) + strlen(v) + 2;
    *envp = tbml_realloc(*envp, (*n + 2) * sizeof(char *));
    (*envp)[*n] = tbml_malloc(len);
    snprintf((*envp)[(*n)++], len, "%s=%s", k, v);
    (*envp)[*n] = NULL;
}

/* The job's environment: the manifest's; the attestation channel's descriptor and the peers'
 * allowed measurements (runtime-set); and for a manifest with --conf tbml.dist=mpi, the MPI
 * launcher's variables. */
static char **job_env(const tbml_manifest_t *m, int attest_fd)
{
    json_t *env = json_object_get(tee_manifest_json(m), "env");
    char **envp = tbml_calloc(1, sizeof(char *));
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(env, key, val)
    {
        if (!runtime_only(key)) env_add(&envp, &k, key, json_string_value(val));
    }
    if (attest_fd >= 0) {
        char num[16];
        snprintf(num, sizeof(num), "%d", attest_fd);
        env_add(&envp, &k, TBML_TEE_ATTEST_FD_ENV, num);
        const char *peers = tbml_manifest_conf(m, "tbml.dist.peer_measurements");
        if (peers) env_add(&envp, &k, TBML_TEE_PEERS_ENV, peers);
    }
    const char *dist = tbml_manifest_conf(m, "tbml.dist");
    if (dist && strcmp(dist, "mpi") == 0) {
        for (char **e = environ; *e; e++) {
            const char *eq = strchr(*e, '=');
            if (!eq || !dist_passthrough(*e)) continue;
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
            if (json_object_get(env, name)) continue; /* the manifest's value wins */
            env_add(&envp, &k, name, eq + 1);
        }
    }
    return envp;
}

/* In the child: everything the job gets comes from the manifest (and the runtime's attestation
 * channel, attest_fd, or -1). Never returns. */
static void exec_job(const tbml_manifest_t *m, int entry_fd, char **argv_override, int attest_fd)
{
    json_t *r = tee_manifest_json(m);
    const char *cwd = json_string_value(json_object_get(r, "cwd"));
    const char *entry = json_string_value(json_object_get(r, "entrypoint"));
    json_t *lim = json_object_get(r, "limits");
    json_int_t mem = json_integer_value(json_object_get(lim, "memory_size"));
    if (chdir(cwd) != 0) {
        fprintf(stderr, "tbml run: %s: cannot enter the manifest's folder: %s\n", cwd,
                strerror(errno));
        _exit(126);
    }
    if (mem > 0) {
        struct rlimit rl = {(rlim_t)mem, (rlim_t)mem};
        if (setrlimit(RLIMIT_AS, &rl) != 0) {
            fprintf(stderr, "tbml run: cannot set the memory limit: %s\n", strerror(errno));
            _exit(126);
        }
    }
    /* the job inherits its end of the channel (and nothing else of the runtime's) */
    if (attest_fd >= 0 && fcntl(attest_fd, F_SETFD, 0) != 0) {
        fprintf(stderr, "tbml run: cannot hand the attestation channel over: %s\n",
                strerror(errno));
        _exit(126);
    }
    char **envp = job_env(m, attest_fd);
    json_t *av = json_object_get(r, "argv");
    size_t na = json_array_size(av);
    char **argv = tbml_calloc(na + 1, sizeof(*argv));
    for (size_t i = 0; i < na; i++)
        argv[i] = argv_override && argv_override[i]
                      ? argv_override[i]
                      : (char *)json_string_value(json_array_get(av, i));
    fexecve(entry_fd, argv, envp);
    /* A #! script cannot run from a close-on-exec descriptor (the kernel reopens it by name). */
    if (errno == ENOENT) execve(entry, argv, envp);
    fprintf(stderr, "tbml run: cannot start %s: %s\n", entry, strerror(errno));
    _exit(127);
}

tbml_status tbml_tee_run(const tbml_manifest_t *m, const tbml_run_options *ropt, int *exit_code)
{
    tbml_status st;
    uint8_t meas[32], signer[32];
    char meas_hex[65], signer_hex[65];
    int entry_fd = -1, attest[2] = {-1, -1};
    tbml_tee_attest_server_t *attest_srv = NULL;
    tee_runtime rt;
    memset(&rt, 0, sizeof(rt));
    if ((st = tbml_manifest_verify(m, meas, signer))) return st;
    tbml_hex(meas, 32, meas_hex);
    tbml_hex(signer, 32, signer_hex);
    if ((st = tbml_manifest_check_files(m))) return st;
    if ((st = open_entrypoint(m, &entry_fd))) return st;
    const char *backend = tbml_manifest_backend(m);
    TBML_LOG_I("%smeasured launch of '%s': measurement %s signer %s backend %s",
               strcmp(backend, "sim") == 0 ? "SIMULATED " : "", tbml_manifest_name(m), meas_hex,
               signer_hex, backend);
    if (ropt && ropt->dry_run) { /* no key requests, no side effects */
        printf("verified %s: measurement %s signer %s backend %s\n", tbml_manifest_name(m),
               meas_hex, signer_hex, backend);
        *exit_code = 0;
        goto out;
    }
    const char *dist = tbml_manifest_conf(m, "tbml.dist");
    if ((!dist || strcmp(dist, "mpi") != 0) &&
        (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")))
        TBML_LOG_W("started by an MPI launcher, but the manifest has no --conf tbml.dist=mpi: the "
                   "job gets none of the launcher's variables and runs as a single process");
    if ((st = tee_runtime_start(m, ropt, meas, signer, &rt))) goto out;
    if (rt.delegated) { /* gramine: the enclave loader runs the job and re-checks every file */
        *exit_code = rt.exit_code;
        goto out;
    }
    /* sim: the runtime answers the job's quote requests (Gramine's /dev/attestation role) */
    if (strcmp(backend, "sim") == 0 &&
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, attest) != 0) {
        st = tbml_error(TBML_E_IO, "cannot make the attestation channel: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        st = tbml_error(TBML_E_IO, "cannot start the job: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        exec_job(m, entry_fd, rt.argv_override, attest[1]);
    }
    if (attest[1] >= 0) {
        close(attest[1]);
        attest[1] = -1;
        tbml_tee_identity id;
        tbml_report_t ident;
        tee_report_ident(m, meas, signer, &ident);
        memcpy(id.measurement, ident.measurement, 32);
        memcpy(id.mrsigner, ident.mrsigner, 32);
        id.product_id = ident.product_id;
        id.svn = ident.svn;
        id.debug = ident.debug;
        st = tbml_tee_attest_server_start(attest[0], &id, &attest_srv);
        attest[0] = -1; /* the server owns it, or closed it */
        /* without the server the job's first quote fails, naming the channel: keep waiting */
        if (st) TBML_LOG_W("%s", tbml_errmsg());
        st = TBML_OK;
    }
    int wst;
    while (waitpid(pid, &wst, 0) < 0) {
        if (errno != EINTR) {
            st = tbml_error(TBML_E_IO, "waiting for the job: %s", strerror(errno));
            goto out;
        }
    }
    int code = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
    st = tee_runtime_finish(m, &rt, meas, signer, code);
    if (!st) *exit_code = code;
out:
    tbml_tee_attest_server_stop(attest_srv);
    for (int i = 0; i < 2; i++)
        if (attest[i] >= 0) close(attest[i]);
    tee_runtime_free(&rt);
    if (entry_fd >= 0) close(entry_fd);
    return st;
}
