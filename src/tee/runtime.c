/* Backend work around the job: simulated-enclave notices, keys from the key service for sealed
 * inputs (unsealed into anonymous memory the job reads through /dev/fd/N), gramine export and
 * delegation, and the result receipt at the end. */
#include "runtime.h"

#include "evidence.h"
#include "kms/client.h"

#include "tbml/crypto.h"
#include "tbml/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNSEAL_CHUNK (1u << 20)

/* Copies the sealed file at path into anonymous memory while hashing it, so the bytes checked
 * against the manifest are the bytes decrypted (the host cannot swap the file in between). */
static tbml_status copy_checked(const char *path, const char *want_hex, int *out_fd)
{
    tbml_status st;
    tbml_sha256_ctx_t *c = NULL;
    uint8_t *buf = tbml_malloc(UNSEAL_CHUNK), h[32];
    char hex[65];
    int in = open(path, O_RDONLY | O_CLOEXEC), mfd = memfd_create("tbml-sealed-copy", MFD_CLOEXEC);
    if (in < 0 || mfd < 0) {
        st = tbml_error(TBML_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if ((st = tbml_sha256_begin(&c))) goto out;
    for (;;) {
        size_t n;
        if ((st = tbml_read_some(in, buf, UNSEAL_CHUNK, path, &n))) goto out;
        if (n == 0) break;
        if ((st = tbml_sha256_update(c, buf, n))) goto out;
        if ((st = tbml_write_all(mfd, buf, n, "sealed input copy"))) goto out;
    }
    st = tbml_sha256_end(c, h);
    c = NULL;
    if (st) goto out;
    tbml_hex(h, 32, hex);
    if (strcmp(hex, want_hex) != 0) {
        st = tbml_error(TBML_E_POLICY,
                        "sealed input %s changed: sha256 %s, manifest expects %s: restore it, or "
                        "rebuild and re-sign the manifest",
                        path, hex, want_hex);
        goto out;
    }
    if (lseek(mfd, 0, SEEK_SET) != 0) st = tbml_error(TBML_E_IO, "memfd: %s", strerror(errno));
out:
    tbml_sha256_abort(c);
    tbml_free(buf);
    if (in >= 0) close(in);
    if (st) {
        if (mfd >= 0) close(mfd);
        return st;
    }
    *out_fd = mfd;
    return TBML_OK;
}

/* Decrypts the sealed file at path (after checking it against want_hex) with key into a fresh
 * memfd; the job reads the plaintext through that descriptor only (it never touches the disk). */
static tbml_status unseal_to_memfd(const char *path, const char *want_hex, const tbml_key_t *key,
                                   int *out_fd)
{
    tbml_status st;
    tbml_sealed_reader_t *r = NULL;
    uint8_t *buf = NULL;
    int in = -1, mfd = -1;
    if ((st = copy_checked(path, want_hex, &in))) return st;
    mfd = memfd_create("tbml-sealed-input", MFD_CLOEXEC);
    if (mfd < 0) {
        st = tbml_error(TBML_E_IO, "memfd_create: %s", strerror(errno));
        goto out;
    }
    if ((st = tbml_sealed_reader_open(in, path, key, &r))) goto out;
    buf = tbml_secure_alloc(UNSEAL_CHUNK);
    for (;;) {
        size_t got;
        if ((st = tbml_sealed_reader_read(r, buf, UNSEAL_CHUNK, &got))) goto out;
        if (got == 0) break;
        if ((st = tbml_write_all(mfd, buf, got, "sealed input memory"))) goto out;
    }
    if (lseek(mfd, 0, SEEK_SET) != 0) {
        st = tbml_error(TBML_E_IO, "memfd: %s", strerror(errno));
        goto out;
    }
out:
    tbml_secure_free(buf, UNSEAL_CHUNK);
    tbml_sealed_reader_free(r);
    close(in);
    if (st) {
        if (mfd >= 0) close(mfd);
        return st;
    }
    *out_fd = mfd;
    return TBML_OK;
}

static tbml_status open_sealed_inputs(const tbml_manifest_t *m, const tbml_run_options *ropt,
                                      const uint8_t meas[32], const uint8_t signer[32],
                                      tee_runtime *rt)
{
    json_t *r = tee_manifest_json(m);
    json_t *si = json_object_get(r, "sealed_inputs");
    if (json_array_size(si) == 0) return TBML_OK;
    const char *url = ropt && ropt->kms_url ? ropt->kms_url : tbml_manifest_conf(m, "tbml.kms.url");
    const char *ca = tbml_manifest_conf(m, "tbml.kms.ca");
    const char *app = tbml_manifest_conf(m, "tbml.kms.app");
    if (!url || !ca)
        return tbml_error(TBML_E_ARG,
                          "the manifest has sealed inputs: give the key service with --conf "
                          "tbml.kms.url=https://HOST:PORT, and its CA with --conf tbml.kms.ca=FILE "
                          "when building the manifest");
    const tbml_evidence_backend *be = tbml_evidence_backend_find(tbml_manifest_backend(m));
    if (!be || !be->get_quote)
        return tbml_error(TBML_E_POLICY,
                          "backend '%s' produces no evidence, so the key service will not release "
                          "keys: build the manifest with --tee-backend sim (testing) or gramine",
                          tbml_manifest_backend(m));
    tbml_report_t ident;
    tee_report_ident(m, meas, signer, &ident);
    tbml_kms_client_t *kc = NULL;
    /* tbml.kms.pin (curl's "sha256//BASE64" of the service's public key) narrows trust further. */
    tbml_status st = tbml_kms_client_open(url, ca, tbml_manifest_conf(m, "tbml.kms.pin"), &kc);
    if (st) return st;
    rt->argc = json_array_size(json_object_get(r, "argv"));
    rt->argv_override = tbml_calloc(rt->argc + 1, sizeof(char *));
    for (size_t i = 0; i < json_array_size(si) && !st; i++) {
        json_t *e = json_array_get(si, i);
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *keyname = json_string_value(json_object_get(e, "key"));
        tbml_key_t *key = NULL;
        int fd = -1;
        st = tbml_kms_client_release(kc, app ? app : tbml_manifest_name(m), keyname, be, &ident,
                                     &key);
        if (!st)
            st = unseal_to_memfd(path, json_string_value(json_object_get(e, "sha256")), key, &fd);
        tbml_key_free(key);
        if (st) break;
        /* The job inherits the descriptor (no close-on-exec) and finds it at the argv index. */
        int flags = fcntl(fd, F_GETFD);
        fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        rt->fds = tbml_realloc(rt->fds, (rt->nfds + 1) * sizeof(int));
        rt->fds[rt->nfds++] = fd;
        json_int_t idx = json_integer_value(json_object_get(e, "argv_index"));
        if (idx >= 0 && (size_t)idx < rt->argc) {
            char name[32];
            snprintf(name, sizeof(name), "/dev/fd/%d", fd);
            tbml_free(rt->argv_override[idx]);
            rt->argv_override[idx] = tbml_strdup(name);
        }
        TBML_LOG_I("%ssealed input %s opened with key '%s' released by the key service",
                   strcmp(tbml_manifest_backend(m), "sim") == 0 ? "SIMULATED enclave: " : "", path,
                   keyname);
    }
    tbml_kms_client_free(kc);
    return st;
}

tbml_status tee_runtime_start(const tbml_manifest_t *m, const tbml_run_options *ropt,
                              const uint8_t meas[32], const uint8_t signer[32], tee_runtime *rt)
{
    const char *backend = tbml_manifest_backend(m);
    if (strcmp(backend, "sim") == 0) {
        tbml_log(TBML_LOG_WARN,
                 "SIMULATED enclave: no hardware protects this job; evidence it produces is "
                 "SIMULATED and a strict key service refuses it");
    } else if (strcmp(backend, "gramine") == 0) {
        const char *dir = ropt && ropt->gramine_dir ? ropt->gramine_dir : NULL;
        char tmpl[] = "/tmp/tbml-gramine-XXXXXX";
        if (!dir) {
            if (!mkdtemp(tmpl))
                return tbml_error(TBML_E_IO, "cannot make a folder for the Gramine manifest: %s",
                                  strerror(errno));
            dir = tmpl;
        }
        tbml_status st = tee_gramine_export(m, dir);
        if (st) return st;
        if (access("/usr/bin/gramine-sgx", X_OK) != 0)
            return tbml_error(
                TBML_E_UNSUPPORTED,
                "gramine-sgx is not installed: the Gramine manifest is in %s; "
                "install Gramine and sign it with gramine-sgx-sign, or use --tee-backend sim",
                dir);
        char sgx[4096];
        snprintf(sgx, sizeof(sgx), "%s/tbml-job.manifest.sgx", dir);
        if (access(sgx, R_OK) != 0)
            return tbml_error(
                TBML_E_POLICY,
                "%s is missing: run gramine-manifest and gramine-sgx-sign with the enclave "
                "key in %s first (see its README)",
                sgx, dir);
        pid_t pid = fork();
        if (pid == 0) {
            if (chdir(dir) == 0)
                execl("/usr/bin/gramine-sgx", "gramine-sgx", "tbml-job", (char *)NULL);
            _exit(127);
        }
        int wst;
        if (pid < 0 || waitpid(pid, &wst, 0) < 0)
            return tbml_error(TBML_E_IO, "gramine-sgx: %s", strerror(errno));
        rt->delegated = 1;
        rt->exit_code = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
        return TBML_OK;
    }
    return open_sealed_inputs(m, ropt, meas, signer, rt);
}

tbml_status tee_runtime_finish(const tbml_manifest_t *m, tee_runtime *rt, const uint8_t meas[32],
                               const uint8_t signer[32], int exit_code)
{
    const char *receipt = json_string_value(json_object_get(tee_manifest_json(m), "receipt"));
    if (!receipt || !receipt[0]) return TBML_OK;
    return tee_receipt_write(m, meas, signer, exit_code, receipt);
}

void tee_runtime_free(tee_runtime *rt)
{
    for (size_t i = 0; i < rt->argc && rt->argv_override; i++)
        tbml_free(rt->argv_override[i]);
    tbml_free(rt->argv_override);
    for (size_t i = 0; i < rt->nfds; i++)
        close(rt->fds[i]);
    tbml_free(rt->fds);
    json_decref(rt->inputs);
    memset(rt, 0, sizeof(*rt));
}
